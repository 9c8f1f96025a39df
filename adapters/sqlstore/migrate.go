package sqlstore

import (
	"context"
	"embed"
	"fmt"
	"io/fs"

	"github.com/uptrace/bun/migrate"
)

//go:embed migrations/postgres/*.sql migrations/sqlite/*.sql
var migrationFiles embed.FS

// migrations returns the embedded migrations of the store's dialect.
func (s *Store) migrations() (*migrate.Migrations, error) {
	sub, err := fs.Sub(migrationFiles, "migrations/"+string(s.dialect))
	if err != nil {
		return nil, fmt.Errorf("sqlstore: migrations: %w", err)
	}
	ms := migrate.NewMigrations()
	if err := ms.Discover(sub); err != nil {
		return nil, fmt.Errorf("sqlstore: migrations: %w", err)
	}
	return ms, nil
}

func (s *Store) migrator(ctx context.Context) (*migrate.Migrator, error) {
	ms, err := s.migrations()
	if err != nil {
		return nil, err
	}
	m := migrate.NewMigrator(s.db, ms, migrate.WithMarkAppliedOnSuccess(true))
	if err := m.Init(ctx); err != nil {
		return nil, fmt.Errorf("sqlstore: init migrations: %w", err)
	}
	return m, nil
}

// migrationName is the name reported for a migration: "<id>_<comment>".
func migrationName(m migrate.Migration) string {
	if m.Comment == "" {
		return m.Name
	}
	return m.Name + "_" + m.Comment
}

// MigrateUp applies every pending migration, as one group, under the
// migration lock, and returns the names of those it applied.
func (s *Store) MigrateUp(ctx context.Context) (applied []string, err error) {
	err = s.underMigrationLock(ctx, "migrate up", func(m *migrate.Migrator) error {
		group, err := m.Migrate(ctx)
		if group != nil {
			for _, mig := range group.Migrations {
				applied = append(applied, migrationName(mig))
			}
		}
		return err
	})
	return applied, err
}

// MigrateDown rolls back the last applied group of migrations and returns
// the names of those it rolled back.
func (s *Store) MigrateDown(ctx context.Context) (rolledBack []string, err error) {
	err = s.underMigrationLock(ctx, "migrate down", func(m *migrate.Migrator) error {
		group, err := m.Rollback(ctx)
		if group != nil {
			for i := len(group.Migrations) - 1; i >= 0; i-- {
				rolledBack = append(rolledBack, migrationName(group.Migrations[i]))
			}
		}
		return err
	})
	return rolledBack, err
}

// underMigrationLock runs fn with the migrator while holding bun's migration
// lock, so that replicas starting together do not migrate twice.
func (s *Store) underMigrationLock(ctx context.Context, what string, fn func(*migrate.Migrator) error) (err error) {
	m, err := s.migrator(ctx)
	if err != nil {
		return err
	}
	if err := m.Lock(ctx); err != nil {
		return fmt.Errorf("sqlstore: %w", err)
	}
	defer func() {
		if uerr := m.Unlock(ctx); uerr != nil && err == nil {
			err = fmt.Errorf("sqlstore: unlock migrations: %w", uerr)
		}
	}()
	if err := fn(m); err != nil {
		return fmt.Errorf("sqlstore: %s: %w", what, err)
	}
	return nil
}

// MigrationStatus returns the names of the applied and the pending
// migrations, oldest first. A schema is current when pending is empty.
func (s *Store) MigrationStatus(ctx context.Context) (applied, pending []string, err error) {
	m, err := s.migrator(ctx)
	if err != nil {
		return nil, nil, err
	}
	ms, err := m.MigrationsWithStatus(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("sqlstore: migration status: %w", err)
	}
	applied, pending = []string{}, []string{}
	for _, mig := range ms {
		if mig.IsApplied() {
			applied = append(applied, migrationName(mig))
		} else {
			pending = append(pending, migrationName(mig))
		}
	}
	return applied, pending, nil
}
