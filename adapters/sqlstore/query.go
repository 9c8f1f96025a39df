package sqlstore

import (
	"context"
	"strings"

	"github.com/uptrace/bun"

	"github.com/orgstack/orgstack/domain"
	"github.com/orgstack/orgstack/ports"
)

// containsPattern returns a LIKE pattern matching v anywhere, with the
// escape character, % and _ escaped so they match literally. Use it with
// likeClause.
func containsPattern(v string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return "%" + r.Replace(strings.ToLower(v)) + "%"
}

// likeClause is a case-insensitive LIKE on one column; identical on both
// dialects (lower() on both sides, explicit escape character).
func likeClause(col string) string {
	return "lower(" + col + `) LIKE lower(?) ESCAPE '\'`
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

// applySort orders the query by f (fields from the whitelist only), then by
// the defaults, then by idCol as the final tie-break. Text is compared
// lower-cased with byte order (COLLATE "C" on PostgreSQL, BINARY on SQLite,
// so both stores agree) and empty values last in either direction.
func (c conn) applySort(sq *bun.SelectQuery, whitelist map[string]sortColumn, sort, defaults []ports.SortField, idCol string) (*bun.SelectQuery, error) {
	if len(sort) == 0 {
		sort = defaults
	}
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
			sq = sq.OrderExpr("CASE WHEN " + col.expr + " = '' THEN 1 ELSE 0 END")
			sq = sq.OrderExpr(c.textKey("lower("+col.expr+")") + dir)
			continue
		}
		sq = sq.OrderExpr(col.expr + dir)
	}
	return sq.OrderExpr(c.textKey(idCol) + " ASC"), nil
}

// textKey makes text compare by bytes on both dialects.
func (c conn) textKey(expr string) string {
	if c.pg {
		return expr + ` COLLATE "C"`
	}
	return expr
}

// page applies the page request and counts the total in the same statement
// (count(*) OVER ()), so a list costs one round trip. When the page is past
// the end no row carries the total, and it is counted separately.
func page(sq *bun.SelectQuery, p ports.PageRequest) *bun.SelectQuery {
	sq = sq.ColumnExpr("count(*) OVER () AS total")
	if p.Size > 0 {
		sq = sq.Limit(int64(p.Size)).Offset(int64(p.Offset()))
	}
	return sq
}

// totalOf returns the total of a paged query from its first row, or counts
// it when the page came back empty.
func totalOf(ctx context.Context, rows int, first int64, base *bun.SelectQuery, p ports.PageRequest) (int, error) {
	if rows > 0 {
		return int(first), nil
	}
	if p.Offset() == 0 {
		return 0, nil
	}
	n, err := base.Count(ctx)
	return int(n), err
}

// affectedOne turns the result of a single-row write into ErrNotFound when
// no row matched.
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
