package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"
	"github.com/uptrace/bun/dialect/sqlitedialect"
	"github.com/uptrace/bun/driver/sqliteshim"
	"go.opentelemetry.io/otel/trace"

	"github.com/orgstack/orgstack/ports"
)

// Dialect names the database a Store talks to.
type Dialect string

// The supported dialects.
const (
	Postgres Dialect = "postgres"
	SQLite   Dialect = "sqlite"
)

// Store is the SQL storage adapter: every repository, the transaction
// runner and the hot-path readers over one connection pool. It is safe for
// concurrent use.
type Store struct {
	db      *bun.DB
	sqldb   *sql.DB
	dialect Dialect
	hot     hotQueries
	// prepared is how PostgreSQL runs the statements the store would have
	// prepared (the hot paths and the raw list queries): pgCached, unless
	// the URL names a default_query_exec_mode, which then holds for every
	// statement (see Open).
	prepared pgx.QueryExecMode
}

var (
	_ ports.Store            = (*Store)(nil)
	_ ports.Repositories     = repositories{}
	_ ports.Migrator         = (*Store)(nil)
	_ ports.IdempotencyStore = (*Store)(nil)
)

// Open connects to the database named by rawURL and returns a Store. It does
// not apply migrations (see MigrateUp). Accepted URLs:
//
//   - postgres://… or postgresql://… (any libpq/pgx connection string
//     parameter, e.g. sslmode, search_path);
//   - sqlite:<path>[?params] (e.g. sqlite:orgstack.db,
//     sqlite:/var/lib/orgstack.db?_pragma=cache_size(-20000));
//   - sqlite::memory: (a private in-memory database, one connection).
//
// SQLite connections always get foreign_keys(1), busy_timeout(5000),
// journal_mode(WAL) for files and _txlock=immediate, so that transactions
// take the write lock when they begin. PostgreSQL connections default to
// pgx's exec query mode (bun interpolates arguments itself) and always set
// standard_conforming_strings=on; Open fails when the server's sessions do
// not use it even so. The hot-path statements are prepared once per
// connection and cached (pgx's cache_statement mode), which needs a session
// of its own: behind PgBouncer in transaction mode (before 1.21, or without
// max_prepared_statements) set default_query_exec_mode in the URL
// (cache_describe, one round trip and no named statements, or exec or
// simple_protocol), and every statement, the hot paths included, runs in
// that mode.
func Open(ctx context.Context, rawURL string) (*Store, error) {
	return OpenWith(ctx, rawURL, Options{})
}

// Options adjust OpenWith.
type Options struct {
	// TracerProvider, when set, records a client span for every PostgreSQL
	// statement run inside a sampled trace (see tracing.go); SQLite is not
	// traced.
	TracerProvider trace.TracerProvider
}

// OpenWith is Open with options.
func OpenWith(ctx context.Context, rawURL string, o Options) (*Store, error) {
	scheme, rest, _ := strings.Cut(rawURL, ":")
	open, ok := openers[strings.ToLower(scheme)]
	if !ok {
		return nil, errors.New("sqlstore: unsupported database URL: want postgres://, postgresql:// or sqlite:")
	}
	return open(ctx, rawURL, rest, o)
}

// openers maps each URL scheme the adapter serves to the dialect that opens
// it; Schemes publishes the keys, so that bootstrap chooses a store by
// scheme in one place.
var openers = map[string]func(ctx context.Context, rawURL, rest string, o Options) (*Store, error){
	"postgres": func(ctx context.Context, rawURL, _ string, o Options) (*Store, error) {
		return openPostgres(ctx, rawURL, o)
	},
	"postgresql": func(ctx context.Context, rawURL, _ string, o Options) (*Store, error) {
		return openPostgres(ctx, rawURL, o)
	},
	"sqlite": func(ctx context.Context, _, rest string, _ Options) (*Store, error) { return openSQLite(ctx, rest) },
}

// Schemes returns the database URL schemes Open accepts, sorted.
func Schemes() []string { return slices.Sorted(maps.Keys(openers)) }

// DefaultMaxConns is the PostgreSQL pool size unless SetMaxConns changes it:
// four connections per CPU the Go runtime uses.
func DefaultMaxConns() int { return 4 * runtime.GOMAXPROCS(0) }

// SetMaxConns bounds the PostgreSQL connection pool to n open (and idle)
// connections. It does nothing on SQLite, whose pool size is fixed by its
// locking rules, or when n < 1.
func (s *Store) SetMaxConns(n int) {
	if s.Dialect() != Postgres || n < 1 {
		return
	}
	s.sqldb.SetMaxOpenConns(n)
	s.sqldb.SetMaxIdleConns(n)
}

// Bounds on PostgreSQL waits, unless the URL sets them: connecting (TCP,
// TLS and startup, in seconds as libpq's connect_timeout) and each statement
// on the server (statement_timeout, a startup parameter). A pooled
// connection is waited for, and an answer awaited, only until the caller's
// context deadline (the HTTP adapter gives every request one). Migrations
// longer than the statement timeout need statement_timeout=0 in the URL.
const (
	DefaultConnectTimeout   = "5"
	DefaultStatementTimeout = "10s"
)

func openPostgres(ctx context.Context, rawURL string, o Options) (*Store, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, errors.New("sqlstore: invalid PostgreSQL URL")
	}
	q := u.Query()
	explicitMode := q.Get("default_query_exec_mode") != ""
	if !explicitMode {
		q.Set("default_query_exec_mode", "exec")
	}
	// A startup parameter, so every connection of the pool has it before its
	// first statement, whatever the server, database or role default says:
	// bun writes arguments into the SQL text as standard '...' literals.
	q.Set("standard_conforming_strings", "on")
	// Bound every wait on the server (see DefaultConnectTimeout); pgx sends
	// parameters it does not know itself, such as statement_timeout, as
	// startup parameters of each connection. The URL may override both.
	if !q.Has("connect_timeout") {
		q.Set("connect_timeout", DefaultConnectTimeout)
	}
	if !q.Has("statement_timeout") {
		q.Set("statement_timeout", DefaultStatementTimeout)
	}
	u.RawQuery = q.Encode()
	cfg, err := pgx.ParseConfig(u.String())
	if err != nil {
		return nil, errors.New("sqlstore: invalid PostgreSQL URL parameters (default_query_exec_mode?)")
	}
	prepared := pgCached
	if explicitMode {
		prepared = cfg.DefaultQueryExecMode
	}
	if o.TracerProvider != nil {
		cfg.Tracer = newQueryTracer(o.TracerProvider)
	}
	sqldb := stdlib.OpenDB(*cfg)
	// A bounded pool whose connections stay open: a new connection costs a
	// PostgreSQL backend start and re-plans the cached hot statements, so
	// churn under load (database/sql keeps only 2 idle connections by
	// default) costs more than waiting for a free connection.
	n := DefaultMaxConns()
	sqldb.SetMaxOpenConns(n)
	sqldb.SetMaxIdleConns(n)
	sqldb.SetConnMaxIdleTime(5 * time.Minute)
	s, err := newStore(ctx, sqldb, bun.NewDB(sqldb, pgdialect.New()), Postgres)
	if err != nil {
		return nil, err
	}
	s.prepared, s.hot.mode = prepared, prepared
	if err := checkStandardStrings(ctx, sqldb); err != nil {
		_ = s.Close()
		return nil, err
	}
	return s, nil
}

// checkStandardStrings refuses a PostgreSQL server whose sessions do not
// use standard_conforming_strings=on even when the connection asks for it
// (a connection pooler that drops startup parameters, say): there a
// backslash in a literal is an escape, and text written into SQL could
// end its literal early.
func checkStandardStrings(ctx context.Context, db interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}) error {
	var v string
	if err := db.QueryRowContext(ctx, "SHOW standard_conforming_strings").Scan(&v); err != nil {
		return fmt.Errorf("sqlstore: read standard_conforming_strings: %w", err)
	}
	if v != "on" {
		return fmt.Errorf("sqlstore: PostgreSQL sessions use standard_conforming_strings=%s although the connection sets it on "+
			"(a pooler dropping startup parameters?); OrgStack requires on", v)
	}
	return nil
}

// sqliteDSN turns the part of a sqlite: URL after the scheme into a driver
// DSN with the adapter's defaults, and reports whether it names the
// in-memory database.
func sqliteDSN(rest string) (dsn string, memory bool, err error) {
	rest = strings.TrimPrefix(rest, "//")
	path, rawQuery, _ := strings.Cut(rest, "?")
	if path == "" {
		return "", false, errors.New("sqlstore: sqlite URL needs a path or :memory:")
	}
	user, err := url.ParseQuery(rawQuery)
	if err != nil {
		return "", false, errors.New("sqlstore: invalid sqlite URL parameters")
	}
	memory = path == ":memory:"
	q := url.Values{}
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "busy_timeout(5000)")
	if !memory {
		q.Add("_pragma", "journal_mode(WAL)")
	}
	q.Set("_txlock", "immediate")
	for k, vs := range user {
		if k == "_pragma" {
			q[k] = append(q[k], vs...) // later pragmas win
			continue
		}
		q[k] = vs
	}
	return "file:" + path + "?" + q.Encode(), memory, nil
}

func openSQLite(ctx context.Context, rest string) (*Store, error) {
	dsn, memory, err := sqliteDSN(rest)
	if err != nil {
		return nil, err
	}
	sqldb, err := sql.Open(sqliteshim.ShimName, dsn)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: open SQLite: %w", err)
	}
	if memory {
		// Each connection to :memory: is its own database: keep exactly one.
		sqldb.SetMaxOpenConns(1)
		sqldb.SetMaxIdleConns(1)
		sqldb.SetConnMaxLifetime(0)
		sqldb.SetConnMaxIdleTime(0)
	}
	return newStore(ctx, sqldb, bun.NewDB(sqldb, sqlitedialect.New()), SQLite)
}

func newStore(ctx context.Context, sqldb *sql.DB, db *bun.DB, d Dialect) (*Store, error) {
	if err := sqldb.PingContext(ctx); err != nil {
		_ = sqldb.Close()
		return nil, fmt.Errorf("sqlstore: connect to %s: %w", d, err)
	}
	return &Store{db: db, sqldb: sqldb, dialect: d, hot: newHotQueries(d), prepared: pgCached}, nil
}

// Dialect returns the database the store talks to.
func (s *Store) Dialect() Dialect { return s.dialect }

// DB returns the underlying bun database, for tests and tooling.
func (s *Store) DB() *bun.DB { return s.db }

// Stats reports the connection pool (for the pool metrics).
func (s *Store) Stats() sql.DBStats { return s.sqldb.Stats() }

// Close closes the connection pool.
func (s *Store) Close() error { return s.db.Close() }

// Ping checks that the database answers, for readiness probes.
func (s *Store) Ping(ctx context.Context) error { return unavailable(s.sqldb.PingContext(ctx)) }

// RunInTx runs fn in one transaction with repositories bound to it; it
// commits when fn returns nil and rolls back otherwise. On SQLite the
// transaction begins IMMEDIATE, so writers are serialized from the start; on
// PostgreSQL it runs at READ COMMITTED and rules that read then write lock
// rows through the ...ForUpdate and Lock... methods.
//
// A request with an idempotency key in ctx binds its first transaction to
// the key (see ports.TxRunner and idempotency.go).
func (s *Store) RunInTx(ctx context.Context, fn func(ctx context.Context, r ports.Repositories) error) error {
	if req := ports.IdempotentRequestFrom(ctx); req != nil {
		if p, ok := req.Pending().(*pendingChange); ok && p.store == s {
			// A later transaction of the request: inside the change's, as
			// a savepoint, on the connection the request already holds.
			return unavailable(p.tx.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
				return fn(ctx, s.repos(tx))
			}))
		}
		if req.Claim() {
			return s.runChange(ctx, req, fn)
		}
	}
	return unavailable(s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		r := s.repos(tx)
		r.c.scope = &txScope{}
		return fn(ctx, r)
	}))
}

func (s *Store) repos(db bun.IDB) repositories {
	return repositories{conn{db: db, pg: s.dialect == Postgres, mode: s.prepared}}
}

// Organizations returns the organization repository outside any transaction.
func (s *Store) Organizations() ports.OrganizationRepository { return s.repos(s.db).Organizations() }

// Users returns the user repository outside any transaction.
func (s *Store) Users() ports.UserRepository { return s.repos(s.db).Users() }

// Memberships returns the membership repository outside any transaction.
func (s *Store) Memberships() ports.MembershipRepository { return s.repos(s.db).Memberships() }

// Roles returns the role repository outside any transaction.
func (s *Store) Roles() ports.RoleRepository { return s.repos(s.db).Roles() }

// Permissions returns the permission repository outside any transaction.
func (s *Store) Permissions() ports.PermissionRepository { return s.repos(s.db).Permissions() }

// IdentityProviders returns the identity provider repository outside any
// transaction.
func (s *Store) IdentityProviders() ports.IdentityProviderRepository {
	return s.repos(s.db).IdentityProviders()
}

// AuditEvents returns the audit event repository outside any transaction
// (for reading; changes append their events inside RunInTx).
func (s *Store) AuditEvents() ports.AuditEventRepository { return s.repos(s.db).AuditEvents() }

// Webhooks returns the webhook repository outside any transaction.
func (s *Store) Webhooks() ports.WebhookRepository { return s.repos(s.db).Webhooks() }

// Outbox returns the webhook outbox outside any transaction.
func (s *Store) Outbox() ports.Outbox { return s.repos(s.db).Outbox() }

// conn is what every repository holds: a bun.IDB (the pool or a
// transaction) and the dialect.
type conn struct {
	db   bun.IDB
	pg   bool
	mode pgx.QueryExecMode // for the raw statements on PostgreSQL: Store.prepared
	// scope is the row-level security settings of the transaction db is
	// (see tenancy.go); nil on the pool.
	scope *txScope
}

// forUpdate appends a row-lock clause on PostgreSQL; SQLite needs none
// because its transactions begin IMMEDIATE and hold the write lock.
func (c conn) forUpdate(q *bun.SelectQuery, of string) *bun.SelectQuery {
	if !c.pg {
		return q
	}
	if of != "" {
		return q.For("UPDATE OF " + of)
	}
	return q.For("UPDATE")
}

// forShare appends a shared row-lock clause on PostgreSQL (FOR SHARE OF
// of): the rows cannot be deleted or locked FOR UPDATE by another
// transaction until this one ends. SQLite needs none (see forUpdate).
func (c conn) forShare(q *bun.SelectQuery, of string) *bun.SelectQuery {
	if !c.pg {
		return q
	}
	return q.For("SHARE OF " + of)
}

// inTx runs fn in a new transaction unless c already is one, so that
// multi-statement writes are atomic either way.
func (c conn) inTx(ctx context.Context, fn func(ctx context.Context, c conn) error) error {
	if c.inTransaction() {
		// Already in a transaction: a failure rolls the caller's back.
		return fn(ctx, c)
	}
	return unavailable(c.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		return fn(ctx, c.inTxConn(tx))
	}))
}

// repositories binds every repository to one bun.IDB.
type repositories struct{ c conn }

func (r repositories) Organizations() ports.OrganizationRepository { return organizations(r) }
func (r repositories) Users() ports.UserRepository                 { return users(r) }
func (r repositories) Memberships() ports.MembershipRepository     { return memberships(r) }
func (r repositories) Roles() ports.RoleRepository                 { return roles(r) }
func (r repositories) Permissions() ports.PermissionRepository     { return permissions(r) }
func (r repositories) IdentityProviders() ports.IdentityProviderRepository {
	return identityProviders(r)
}
func (r repositories) AuditEvents() ports.AuditEventRepository { return auditEvents(r) }
func (r repositories) Webhooks() ports.WebhookRepository       { return webhooks(r) }
func (r repositories) Outbox() ports.Outbox                    { return outbox(r) }

// pgCached makes pgx prepare and cache the statement on the connection; it
// is passed as the first query argument through database/sql. It is the
// default of Store.prepared.
var pgCached = pgx.QueryExecModeCacheStatement
