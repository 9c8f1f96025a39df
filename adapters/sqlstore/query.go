package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/uptrace/bun"

	"github.com/orgstack/orgstack/domain"
	"github.com/orgstack/orgstack/ports"
)

// likeEscape is the escape character of LIKE patterns. Not a backslash:
// the literal '\' would depend on standard_conforming_strings on
// PostgreSQL, and '!' reads the same under every setting and dialect.
const likeEscape = "!"

// containsPattern returns a LIKE pattern matching v anywhere, with the
// escape character, % and _ escaped so they match literally. Use it with
// likeClause.
func containsPattern(v string) string {
	r := strings.NewReplacer(likeEscape, likeEscape+likeEscape, `%`, likeEscape+`%`, `_`, likeEscape+`_`)
	return "%" + r.Replace(strings.ToLower(v)) + "%"
}

// likeClause is a case-insensitive LIKE on one column; identical on both
// dialects (lower() on both sides, explicit escape character).
func likeClause(col string) string {
	return "lower(" + col + ") LIKE lower(?) ESCAPE '" + likeEscape + "'"
}

// whereContains adds "any of cols contains q" to the query.
func whereContains(sq *bun.SelectQuery, q string, cols ...string) *bun.SelectQuery {
	if q == "" {
		return sq
	}
	p := containsPattern(q)
	return sq.WhereGroup(" AND ", func(sq *bun.SelectQuery) *bun.SelectQuery {
		for _, c := range cols {
			sq = sq.WhereOr(likeClause(c), p)
		}
		return sq
	})
}

// sortColumn is one whitelisted sort field.
type sortColumn struct {
	expr string // qualified column
	text bool   // compared case-insensitively, empty values last
}

// orderTerms returns the ORDER BY terms for sort (fields from the whitelist
// only; defaults when sort is empty) followed by idCol as the final
// tie-break. Text is compared lower-cased with byte order (COLLATE "C" on
// PostgreSQL, BINARY on SQLite, so both stores agree) and empty values last
// in either direction.
func (c conn) orderTerms(whitelist map[string]sortColumn, sort, defaults []ports.SortField, idCol string) ([]string, error) {
	if len(sort) == 0 {
		sort = defaults
	}
	terms := make([]string, 0, 2*len(sort)+1)
	for _, f := range sort {
		col, ok := whitelist[f.Field]
		if !ok {
			return nil, domain.Invalid("sort", "unknown sort field %q", f.Field)
		}
		dir := " ASC"
		if f.Desc {
			dir = " DESC"
		}
		if col.text {
			terms = append(terms, "CASE WHEN "+col.expr+" = '' THEN 1 ELSE 0 END",
				c.textKey("lower("+col.expr+")")+dir)
			continue
		}
		terms = append(terms, col.expr+dir)
	}
	return append(terms, c.textKey(idCol)+" ASC"), nil
}

// applySort orders the query as described at orderTerms.
func (c conn) applySort(sq *bun.SelectQuery, whitelist map[string]sortColumn, sort, defaults []ports.SortField, idCol string) (*bun.SelectQuery, error) {
	terms, err := c.orderTerms(whitelist, sort, defaults, idCol)
	if err != nil {
		return nil, err
	}
	for _, t := range terms {
		sq = sq.OrderExpr(t)
	}
	return sq, nil
}

// textKey makes text compare by bytes on both dialects. On PostgreSQL the
// ID and key columns are declared COLLATE "C" (see the migration), so
// ordering by them matches their indexes.
func (c conn) textKey(expr string) string {
	if c.pg {
		return expr + ` COLLATE "C"`
	}
	return expr
}

// page applies the page request and adds the total as an uncorrelated
// scalar subquery over count (evaluated once per statement), so a list costs
// one round trip and the page itself can stop after LIMIT rows; a window
// count (count(*) OVER ()) would compute every matching row first. When the
// page is past the end no row carries the total: see totalOf.
func page(sq, count *bun.SelectQuery, p ports.PageRequest) *bun.SelectQuery {
	sq = sq.ColumnExpr("(?) AS total", count)
	if p.Size > 0 {
		sq = sq.Limit(int64(p.Size)).Offset(int64(p.Offset()))
	}
	return sq
}

// totalOf returns the total of a paged query from its first row, or runs
// count when the page came back empty.
func totalOf(ctx context.Context, rows int, first int64, count *bun.SelectQuery, p ports.PageRequest) (int, error) {
	if rows > 0 {
		return int(first), nil
	}
	if p.Offset() == 0 {
		return 0, nil
	}
	var n int64
	err := count.Scan(ctx, &n)
	return int(n), err
}

// rawQuerier runs SQL with driver placeholders, bypassing bun's argument
// interpolation.
type rawQuerier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// raw returns the database/sql handle under c (the pool or the
// transaction) and whether it was found; without it callers fall back to
// bun, which interpolates ? placeholders itself.
func (c conn) raw() (rawQuerier, bool) {
	switch db := c.db.(type) {
	case *bun.DB:
		return db.DB, true
	case bun.Tx:
		return db.Tx, true
	case *bun.Tx:
		return db.Tx, true
	}
	return nil, false
}

// queryRaw runs q, written with ? placeholders, as a driver-level statement
// through database/sql: on PostgreSQL the placeholders become $n and pgx
// prepares the statement once per connection and caches it
// (pgx.QueryExecModeCacheStatement, unless the URL chose another mode), so
// repeated lists are not parsed and planned every time. q must contain no ? other than placeholders.
func (c conn) queryRaw(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	db, ok := c.raw()
	if !ok {
		return c.db.QueryContext(ctx, q, args...)
	}
	if c.pg {
		q = dollarPlaceholders(q)
		args = append([]any{c.mode}, args...)
	}
	return db.QueryContext(ctx, q, args...)
}

// execRaw runs q, written with ? placeholders, as a driver-level statement
// with bound parameters ($n on PostgreSQL): the arguments never become SQL
// text. q must contain no ? other than placeholders.
func (c conn) execRaw(ctx context.Context, q string, args ...any) (sql.Result, error) {
	db, ok := c.raw()
	if !ok {
		return c.db.ExecContext(ctx, q, args...)
	}
	if c.pg {
		q = dollarPlaceholders(q)
	}
	return db.ExecContext(ctx, q, args...)
}

// rowScanner is what eachRow hands out: *sql.Rows or pgx.Rows.
type rowScanner interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
}

// pgxRows reports whether rows come straight from pgx, which scans
// timestamptz into time.Time and NULL into a nil *string (database/sql
// destinations such as dbTime work too, but cost a conversion per value).
func pgxRows(rows rowScanner) bool {
	_, ok := rows.(pgx.Rows)
	return ok
}

// eachRow runs q as queryRaw does and calls fn once per row. On PostgreSQL
// outside a transaction it talks to pgx directly on a pooled connection, so
// rows are decoded without database/sql's per-column conversions and locks
// (destinations must suit both: plain Go types or sql.Scanner).
func (c conn) eachRow(ctx context.Context, q string, args []any, fn func(rowScanner) error) error {
	if db, ok := c.db.(*bun.DB); ok && c.pg {
		sc, err := db.DB.Conn(ctx)
		if err != nil {
			return err
		}
		defer sc.Close()
		return sc.Raw(func(dc any) error {
			pc, ok := dc.(*stdlib.Conn)
			if !ok {
				return fmt.Errorf("sqlstore: unexpected PostgreSQL driver connection %T", dc)
			}
			rows, err := pc.Conn().Query(ctx, dollarPlaceholders(q), append([]any{c.mode}, args...)...)
			if err != nil {
				return err
			}
			defer rows.Close()
			return scanEach(rows, fn)
		})
	}
	rows, err := c.queryRaw(ctx, q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	return scanEach(rows, fn)
}

func scanEach(rows rowScanner, fn func(rowScanner) error) error {
	for rows.Next() {
		if err := fn(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

// dollarPlaceholders numbers the ? placeholders of q as $1, $2, ….
func dollarPlaceholders(q string) string {
	var b strings.Builder
	b.Grow(len(q) + 16)
	n := 0
	for i := 0; i < len(q); i++ {
		if q[i] == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteByte(q[i])
	}
	return b.String()
}

// affectedOne turns the result of a single-row write into ErrNotFound when
// no row matched.
// versionedUpdate is affectedOne for an UPDATE … WHERE version = n: when no
// row changed, exists (a SELECT of the row's key) tells a missing row
// (domain.ErrNotFound) from a stale version (domain.ErrVersionMismatch).
func versionedUpdate(ctx context.Context, res interface{ RowsAffected() (int64, error) }, err error, op string, exists *bun.SelectQuery) error {
	if err := affectedOne(res, err, op); err != domain.ErrNotFound {
		return err
	}
	ok, err := exists.Exists(ctx)
	if err != nil {
		return translate(err, op, nil)
	}
	if ok {
		return domain.ErrVersionMismatch
	}
	return domain.ErrNotFound
}

func affectedOne(res interface{ RowsAffected() (int64, error) }, err error, op string) error {
	if err != nil {
		return translate(err, op, nil)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return translate(err, op, nil)
	}
	if n == 0 {
		return domain.ErrNotFound
	}
	return nil
}
