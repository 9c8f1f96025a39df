package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
)

// The service can connect as a PostgreSQL role that does not own the tables
// (ORGSTACK_DATABASE_URL), while migrations run as the owner
// (ORGSTACK_MIGRATE_DATABASE_URL): row-level security then holds for the
// service even if FORCE were ever dropped, and the service cannot change the
// schema, switch row-level security off or alter the policies. A migration
// cannot know that role's name, so the owner grants it after migrating:
// GrantRuntime, which `orgstack migrate up` and serve's auto-migration call
// when ORGSTACK_RUNTIME_DB_ROLE names the role.

// DefaultRuntimePrivileges is what the runtime role gets on every table of
// the schema unless RuntimePrivileges says otherwise.
const DefaultRuntimePrivileges = "SELECT, INSERT, UPDATE, DELETE"

// RuntimePrivileges narrows the runtime role's privileges on some tables.
// An append-only table (audit events, say) is listed here with
// "SELECT, INSERT", so that the service can neither rewrite nor delete its
// rows, whatever a bug or an injected statement tries.
var RuntimePrivileges = map[string]string{
	// serve reads the migration status at start (a schema behind refuses
	// to serve); a leftover bun lock row is cleared under the advisory lock.
	"bun_migrations":      "SELECT",
	"bun_migration_locks": "SELECT, DELETE",
	// append-only: events are pruned by the owner (orgstack audit prune)
	"audit_events": "SELECT, INSERT",
}

// GrantRuntime grants role, a PostgreSQL role that should not own the
// tables, what the service needs: USAGE on the schema, the privileges of
// RuntimePrivileges (DefaultRuntimePrivileges otherwise) on every table of
// the current schema, revoking any other privilege it had on them (so a
// table narrowed later is narrowed on the next migration), and USAGE and
// SELECT on its sequences. It does nothing on SQLite. Run it as the owner,
// after MigrateUp.
func (s *Store) GrantRuntime(ctx context.Context, role string) error {
	if s.dialect != Postgres {
		return nil
	}
	role = strings.TrimSpace(role)
	if role == "" {
		return errors.New("sqlstore: grant: no role named")
	}
	who := pgx.Identifier{role}.Sanitize()
	return unavailable(s.repos(s.db).c.inTx(ctx, func(ctx context.Context, c conn) error {
		var schema string
		if err := c.db.NewRaw(`SELECT current_schema()`).Scan(ctx, &schema); err != nil {
			return fmt.Errorf("sqlstore: grant: %w", err)
		}
		var tables []string
		if err := c.db.NewRaw(`SELECT c.relname FROM pg_class AS c JOIN pg_namespace AS n ON n.oid = c.relnamespace
WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') ORDER BY 1`).Scan(ctx, &tables); err != nil {
			return fmt.Errorf("sqlstore: grant: %w", err)
		}
		var superuser, bypass bool
		if err := c.db.NewRaw(`SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = ?`, role).Scan(ctx, &superuser, &bypass); err != nil {
			return fmt.Errorf("sqlstore: grant: role %q: %w", role, err)
		}
		if superuser || bypass {
			return fmt.Errorf("sqlstore: grant: role %q bypasses row-level security (SUPERUSER or BYPASSRLS): the service must not connect as it", role)
		}
		sch := pgx.Identifier{schema}.Sanitize()
		stmts := []string{"GRANT USAGE ON SCHEMA " + sch + " TO " + who}
		for _, t := range tables {
			privs, ok := RuntimePrivileges[t]
			if !ok {
				privs = DefaultRuntimePrivileges
			}
			tb := sch + "." + pgx.Identifier{t}.Sanitize()
			stmts = append(stmts, "REVOKE ALL ON "+tb+" FROM "+who, "GRANT "+privs+" ON "+tb+" TO "+who)
		}
		stmts = append(stmts, "GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA "+sch+" TO "+who)
		for _, q := range stmts {
			if _, err := c.db.ExecContext(ctx, q); err != nil {
				return fmt.Errorf("sqlstore: grant: %s: %w", q, err)
			}
		}
		return nil
	}))
}
