// Package sqlstore is OrgStack's storage adapter: it implements ports.Store
// (every repository, the transaction runner, the access and check readers)
// with github.com/uptrace/bun, on PostgreSQL (pgdialect over
// github.com/jackc/pgx/v5/stdlib) and on SQLite (sqlitedialect over the pure
// Go modernc driver, through bun's sqliteshim), with the same code wherever
// the dialects allow.
//
// # What it stores
//
//   - organizations (id, slug, name, status, metadata as JSON text,
//     created_at, updated_at, version) and organization_slugs (slug primary
//     key, org_id unique): the registry, written with the organization in
//     one transaction, keeps slugs unique across organizations;
//   - users (id, unique (issuer, subject), email, name, times) — global, not
//     tenant-owned;
//   - memberships (org_id, user_id, status, joined_at, updated_at) and
//     membership_roles (org_id, user_id, role_key), both cascading from the
//     organization; a membership's roles come back sorted;
//   - roles (primary key (org_id, id), unique (org_id, key), name,
//     description, times) and
//     role_grants (org_id, role_key, position, grant_value); grants come back
//     in the order they were given (position);
//   - permissions (primary key (org_id, id), unique (org_id, key),
//     description, times);
//   - identity providers (identity_providers per organization; the global
//     identity_provider_audiences, identity_provider_changes and
//     identity_provider_counter).
//
// Every tenant-owned table carries org_id, every query on it filters on
// org_id, and deleting an organization cascades (foreign keys) to
// everything it owns. Every primary key, unique constraint and foreign key
// of a tenant table includes org_id (organizations: id), so the schema can
// be distributed by organization; the few global tables are listed, with
// their reasons, in catalog_test.go (ARCHITECTURE.md, "Scaling out"). Built-in roles and system permissions are not stored.
// Models are private structs with bun tags, mapped to and from domain types
// with the domain's Unmarshal…FromDatabase constructors.
//
// # Errors
//
// Database errors are translated by code, never by message text: no rows →
// domain.ErrNotFound; a unique violation (SQLSTATE 23505;
// SQLITE_CONSTRAINT_UNIQUE or _PRIMARYKEY) → the conflict the method
// documents (ErrSlugTaken, ErrUserExists, ErrAlreadyMember, ErrRoleExists,
// ErrPermissionExists); a foreign key violation (23503;
// SQLITE_CONSTRAINT_FOREIGNKEY), i.e. a missing organization or user →
// domain.ErrNotFound. Anything else is an internal error.
//
// # Both stores give the same answers
//
// Text filters are lower(col) LIKE lower(pattern) ESCAPE '!' with %, _ and !
// escaped, on both dialects (SQLite's lower() folds ASCII only, so
// non-ASCII letters match case-sensitively there). Sorts use whitelisted
// fields only; text sorts compare lower(col) byte-wise (COLLATE "C" on
// PostgreSQL), put empty values last in both directions, and the ID is the
// final tie-break. Lists return their total in the same statement
// (an uncorrelated count subquery, evaluated once), so the page itself can
// stop after OFFSET+LIMIT rows of an index. Times are stored in UTC with microsecond precision:
// timestamptz on PostgreSQL, fixed-width RFC 3339 text on SQLite (so text
// order is time order).
//
// # Dialect differences
//
//   - Locking: GetForUpdate uses FOR UPDATE on PostgreSQL; LockActiveOwners
//     locks the organization row (FOR NO KEY UPDATE) and then the owner
//     memberships (FOR UPDATE), so concurrent last-owner checks serialize.
//     Users().GetForUpdate locks the user row (status changes, erasure, the
//     caller's own metadata); a token's claims refresh never writes to an
//     erased user (WHERE status <> 'erased'), so an erasure is never undone.
//     SQLite connections use _txlock=immediate: every transaction takes the
//     database's write lock when it begins, which serializes writers, and
//     busy_timeout(5000) makes the others wait instead of failing.
//   - SQLite connections always set foreign_keys(1) and, for files,
//     journal_mode(WAL). sqlite::memory: uses exactly one connection (each
//     connection to :memory: is a separate database).
//   - PostgreSQL connections default to pgx's exec query mode because bun
//     interpolates arguments into the SQL text itself, as standard '…'
//     literals (quotes doubled, NUL refused). Those are data only under
//     standard_conforming_strings=on, so every connection sets it as a
//     startup parameter and Open refuses a server whose sessions still use
//     off. The hot paths and the user statements of first use (insert,
//     update, read by identity) use bound parameters instead.
//   - Locking for the "in use" rules: GetManyForShare and ExistingForShare
//     read roles and permissions FOR SHARE; Roles().GetForUpdate and
//     Permissions().GetForUpdate lock the row FOR UPDATE before a delete
//     counts its users.
//   - The hot paths, LoadAccess and CheckFacts, are one hand-written
//     statement each, run through database/sql with real placeholders; on
//     PostgreSQL with pgx.QueryExecModeCacheStatement as the first argument,
//     so each connection prepares them once and reuses the plan, unless the
//     URL sets default_query_exec_mode (behind PgBouncer in transaction
//     mode), which then holds for every statement.
//
// # Migrations
//
// Migrations are SQL files embedded from migrations/postgres and
// migrations/sqlite and run by bun/migrate (MigrateUp applies every pending
// one as a group; MigrateDown rolls back the last group; MigrationStatus
// lists applied and pending ones), each under a PostgreSQL advisory lock
// (MigrationLockKey; a process mutex on SQLite), never bun's lock table. To add a migration, add
// the same-numbered pair of files to both directories:
//
//	migrations/postgres/20260301000000_add_widgets.tx.up.sql
//	migrations/postgres/20260301000000_add_widgets.tx.down.sql
//	migrations/sqlite/20260301000000_add_widgets.tx.up.sql
//	migrations/sqlite/20260301000000_add_widgets.tx.down.sql
//
// The number (a timestamp) orders migrations and must be unique; ".tx."
// runs the file in one transaction; separate statements with a line
// containing only "--bun:split". Never edit a released migration; write a
// new one. Do not use "?" in migration SQL (bun reads it as a placeholder).
// The contract suite (ports/storetest) must pass on both dialects.
package sqlstore
