package sqlstore

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"strings"

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
		if err := s.checkReservedResources(ctx, m); err != nil {
			return err
		}
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

// reservedResources lists, for each migration that makes a permission
// resource a system resource, the resources it reserves. Organizations may
// have defined custom permissions, or granted patterns, in such a resource
// before it was reserved; after it, a grant of "identity_provider:*" would
// silently give the new system permissions, and a custom permission would
// clash with them. MigrateUp refuses to apply such a migration while any
// organization uses one of its resources, and lists every use.
//
// The rule for every system resource added later: add its migration here
// (TestEverySystemResourceIsReserved fails until it is).
var reservedResources = []struct {
	Migration string // the migration's ID (file name prefix)
	Resources []string
}{
	{Migration: "20261205000001", Resources: []string{"identity_provider"}},
}

// InitialSystemResources are the system resources of the first schema,
// which no migration had to reserve.
var InitialSystemResources = []string{"organization", "members", "roles", "permissions", "authz"}

// ReservedResources returns every resource some migration reserves.
func ReservedResources() []string {
	var out []string
	for _, r := range reservedResources {
		out = append(out, r.Resources...)
	}
	return out
}

// ReservedResourceError lists the custom permissions and grants that keep a
// migration from reserving a resource.
type ReservedResourceError struct {
	Migration string
	Uses      []string // "organization <slug>: permission <key>" or "...: role <key> grants <grant>"
}

func (e *ReservedResourceError) Error() string {
	return fmt.Sprintf("migration %s reserves a permission resource that organizations already use; rename or delete these first: %s",
		e.Migration, strings.Join(e.Uses, "; "))
}

// checkReservedResources refuses pending migrations of reservedResources
// while an organization has a custom permission or a role grant in a
// resource they reserve. On an empty schema (the first migration pending)
// there is nothing to check.
func (s *Store) checkReservedResources(ctx context.Context, m *migrate.Migrator) error {
	ms, err := m.MigrationsWithStatus(ctx)
	if err != nil {
		return fmt.Errorf("migration status: %w", err)
	}
	pending := map[string]bool{}
	for _, mig := range ms {
		if !mig.IsApplied() {
			pending[mig.Name] = true
		}
	}
	if len(ms) == 0 || pending[ms[0].Name] {
		return nil
	}
	for _, r := range reservedResources {
		if !pending[r.Migration] {
			continue
		}
		var uses []string
		for _, res := range r.Resources {
			var rows []struct {
				Slug string `bun:"slug"`
				What string `bun:"what"`
			}
			err := s.db.NewRaw(`SELECT o.slug AS slug, 'permission ' || p."key" AS what
FROM permissions AS p JOIN organizations AS o ON o.id = p.org_id
WHERE substr(p."key", 1, ?) = ?
UNION ALL
SELECT o.slug AS slug, 'role ' || g.role_key || ' grants ' || g.grant_value AS what
FROM role_grants AS g JOIN organizations AS o ON o.id = g.org_id
WHERE substr(g.grant_value, 1, ?) = ?
ORDER BY slug, what`, len(res)+1, res+":", len(res)+1, res+":").Scan(ctx, &rows)
			if err != nil && !errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("check reserved resource %s: %w", res, err)
			}
			for _, row := range rows {
				uses = append(uses, "organization "+row.Slug+": "+row.What)
			}
		}
		if len(uses) > 0 {
			return &ReservedResourceError{Migration: r.Migration, Uses: uses}
		}
	}
	return nil
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
