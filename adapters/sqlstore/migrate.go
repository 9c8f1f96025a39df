package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"sync"
	"time"

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
	if s.dialect == Postgres {
		// Init creates the bookkeeping tables if missing, which needs the
		// CREATE privilege on the schema even when they exist: a service
		// connecting as a role that does not own the schema (see
		// GrantRuntime) reads the status without it.
		var have bool
		err := s.db.NewRaw("SELECT to_regclass('bun_migrations') IS NOT NULL AND to_regclass('bun_migration_locks') IS NOT NULL").Scan(ctx, &have)
		if err != nil {
			return nil, fmt.Errorf("sqlstore: init migrations: %w", unavailable(err))
		}
		if have {
			return m, nil
		}
	}
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
// migration lock (see underMigrationLock), and returns the names of those it
// applied: none when another instance applied them meanwhile.
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
	{Migration: "20261215000001", Resources: []string{"audit"}},
	{Migration: "20261218000001", Resources: []string{"webhooks"}},
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
			err := s.repos(s.db).c.crossTenant(ctx, func(ctx context.Context, c conn) error {
				return c.db.NewRaw(`SELECT o.slug AS slug, 'permission ' || p."key" AS what
FROM permissions AS p JOIN organizations AS o ON o.id = p.org_id
WHERE substr(p."key", 1, ?) = ?
UNION ALL
SELECT o.slug AS slug, 'role ' || g.role_key || ' grants ' || g.grant_value AS what
FROM role_grants AS g JOIN organizations AS o ON o.id = g.org_id
WHERE substr(g.grant_value, 1, ?) = ?
ORDER BY slug, what`, len(res)+1, res+":", len(res)+1, res+":").Scan(ctx, &rows)
			})
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

// MigrationLockKey is the key of the PostgreSQL advisory lock that every
// migration command holds (pg_advisory_lock(MigrationLockKey), session
// level): "orgstack" in ASCII, read as a big-endian int64. Operators may
// look for it in pg_locks (classid 1869768563 with objid 1952539499 is the
// same key split in two halves); other software sharing the database must
// not use it.
const MigrationLockKey int64 = 0x6f7267737461636b

// migrationLockPoll is how often a waiting instance asks for the advisory
// lock again. pg_try_advisory_lock in a loop, rather than a blocking
// pg_advisory_lock, keeps the wait outside statement_timeout (10 s by
// default, shorter than a long migration) and ends it with ctx.
const migrationLockPoll = 100 * time.Millisecond

// sqliteMigrations serializes migration commands of one process on SQLite:
// an SQLite database belongs to one process (see underMigrationLock).
var sqliteMigrations sync.Mutex

// underMigrationLock runs fn with the migrator while no other migration
// command runs. Everything that touches the migration tables runs under it,
// the status check included, because bun's Init (CREATE TABLE IF NOT EXISTS)
// itself races on an empty PostgreSQL database.
//
// PostgreSQL: a session-level advisory lock (MigrationLockKey) taken on a
// connection held for the whole call and released on it. Several instances
// starting at once on an empty database therefore migrate one after
// another: the first applies everything, the others then find nothing
// pending. If the process dies, its session ends and PostgreSQL releases
// the lock; nothing is left behind. bun's own lock (a row in
// bun_migration_locks, taken with Migrator.Lock) is not used: a row
// survives a crash and would block every later start until someone deleted
// it by hand, and Lock does not wait, it fails. Rows that versions before
// this one left there are deleted under the advisory lock: while it is held
// no migration of this version runs, so such a row is a leftover.
// PgBouncer in transaction mode cannot hold a session lock: run migrations
// against PostgreSQL directly (see README, "Scaling").
//
// SQLite: a database file is used by one process (`orgstack serve` or
// `orgstack migrate`, not both at once), so a process-wide mutex is enough.
func (s *Store) underMigrationLock(ctx context.Context, what string, fn func(*migrate.Migrator) error) (err error) {
	if s.dialect == Postgres {
		unlock, err := s.advisoryLock(ctx)
		if err != nil {
			return fmt.Errorf("sqlstore: %s: %w", what, err)
		}
		defer func() {
			if uerr := unlock(); uerr != nil && err == nil {
				err = fmt.Errorf("sqlstore: %s: %w", what, uerr)
			}
		}()
	} else {
		sqliteMigrations.Lock()
		defer sqliteMigrations.Unlock()
	}
	m, err := s.migrator(ctx)
	if err != nil {
		return err
	}
	if s.dialect == Postgres {
		if _, err := s.db.NewDelete().Table("bun_migration_locks").Where("TRUE").Exec(ctx); err != nil {
			return fmt.Errorf("sqlstore: %s: clear stale bun migration lock: %w", what, unavailable(err))
		}
	}
	if err := fn(m); err != nil {
		return fmt.Errorf("sqlstore: %s: %w", what, err)
	}
	return nil
}

// advisoryLock takes the migration advisory lock on a connection of its own
// and returns the function that releases it and gives the connection back.
func (s *Store) advisoryLock(ctx context.Context) (unlock func() error, err error) {
	conn, err := s.sqldb.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("connection for the migration lock: %w", unavailable(err))
	}
	for {
		var got bool
		if err := conn.QueryRowContext(ctx, "SELECT pg_try_advisory_lock($1)", MigrationLockKey).Scan(&got); err != nil {
			_ = conn.Close()
			return nil, fmt.Errorf("take the migration lock: %w", unavailable(err))
		}
		if got {
			break
		}
		select {
		case <-ctx.Done():
			_ = conn.Close()
			return nil, fmt.Errorf("wait for the migration lock (held by another instance): %w", unavailable(ctx.Err()))
		case <-time.After(migrationLockPoll):
		}
	}
	return func() error {
		// Not the caller's context: a cancelled caller must still release
		// the lock, or the pooled session would keep it.
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		var released bool
		err := conn.QueryRowContext(uctx, "SELECT pg_advisory_unlock($1)", MigrationLockKey).Scan(&released)
		if err != nil || !released {
			// Never hand a session that may still hold the lock back to
			// the pool: discard it (its end releases the lock).
			_ = conn.Raw(func(any) error { return driver.ErrBadConn })
			_ = conn.Close()
			if err == nil {
				err = errors.New("the migration lock was not held")
			}
			return fmt.Errorf("release the migration lock: %w", err)
		}
		return conn.Close()
	}, nil
}

// MigrationStatus returns the names of the applied and the pending
// migrations, oldest first, read under the migration lock. A schema is
// current when pending is empty.
func (s *Store) MigrationStatus(ctx context.Context) (applied, pending []string, err error) {
	err = s.underMigrationLock(ctx, "migration status", func(m *migrate.Migrator) error {
		ms, err := m.MigrationsWithStatus(ctx)
		if err != nil {
			return err
		}
		applied, pending = []string{}, []string{}
		for _, mig := range ms {
			if mig.IsApplied() {
				applied = append(applied, migrationName(mig))
			} else {
				pending = append(pending, migrationName(mig))
			}
		}
		return nil
	})
	return applied, pending, err
}
