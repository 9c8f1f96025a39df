package sqlstore

import (
	"context"

	"github.com/uptrace/bun"

	"github.com/orgstack/orgstack/domain"
	"github.com/orgstack/orgstack/ports"
)

// users implements ports.UserRepository. Users are global (not
// tenant-owned); lists filtered by organization go through memberships.
type users struct{ c conn }

var _ ports.UserRepository = users{}

// userSorts maps each sort field of ports.UserList to its column
// (TestSortColumnsFollowListRules keeps them in step).
var userSorts = map[string]sortColumn{
	"email":      {expr: "u.email", text: true},
	"name":       {expr: "u.name", text: true},
	"created_at": {expr: "u.created_at"},
}

// Create stores a new user. Errors: domain.ErrUserExists.
func (r users) Create(ctx context.Context, u *domain.User) error {
	_, err := r.c.db.NewInsert().Model(userFromDomain(u)).Exec(ctx)
	return translate(err, "create user", domain.ErrUserExists)
}

func (r users) get(ctx context.Context, q *bun.SelectQuery, dest *userModel) (*domain.User, error) {
	err := q.Column("u.id", "u.issuer", "u.subject", "u.email", "u.name", "u.created_at", "u.updated_at").Scan(ctx)
	if err != nil {
		return nil, translate(err, "get user", nil)
	}
	return dest.toDomain(), nil
}

// Get returns a user by ID. Errors: domain.ErrNotFound.
func (r users) Get(ctx context.Context, id string) (*domain.User, error) {
	var m userModel
	return r.get(ctx, r.c.db.NewSelect().Model(&m).Where("u.id = ?", id), &m)
}

// GetByIdentity returns the user for (issuer, subject). Errors: domain.ErrNotFound.
func (r users) GetByIdentity(ctx context.Context, issuer, subject string) (*domain.User, error) {
	var m userModel
	return r.get(ctx, r.c.db.NewSelect().Model(&m).Where("u.issuer = ?", issuer).Where("u.subject = ?", subject), &m)
}

// Update stores the email and name of u. Errors: domain.ErrNotFound.
func (r users) Update(ctx context.Context, u *domain.User) error {
	res, err := r.c.db.NewUpdate().Model(userFromDomain(u)).Column("email", "name", "updated_at").
		Where("u.id = ?", u.ID()).Exec(ctx)
	return affectedOne(res, err, "update user")
}

// List returns a page of users matching f, ordered by f.Sort (default
// created_at) with the ID as tie-break.
func (r users) List(ctx context.Context, f ports.UserFilter) (ports.Page[*domain.User], error) {
	out := ports.Page[*domain.User]{Items: []*domain.User{}, Page: f.Page, Size: f.Size}
	filter := func(q *bun.SelectQuery) *bun.SelectQuery {
		if f.OrgID != "" {
			q = q.Where("EXISTS (SELECT 1 FROM memberships AS m WHERE m.org_id = ? AND m.user_id = u.id)", f.OrgID)
		}
		q = whereContains(q, f.Q, "u.email", "u.name")
		if f.Email != "" {
			q = q.Where("lower(u.email) = lower(?)", f.Email)
		}
		return q
	}
	var rows []userModel
	q := filter(r.c.db.NewSelect().Model(&rows).ColumnExpr("u.*"))
	q, err := r.c.applySort(q, userSorts, f.Sort, ports.UserList.DefaultSort, "u.id")
	if err != nil {
		return out, err
	}
	count := filter(r.c.db.NewSelect().Model((*userModel)(nil)).ColumnExpr("count(*)"))
	if err := page(q, count, f.PageRequest).Scan(ctx); err != nil {
		return out, translate(err, "list users", nil)
	}
	for i := range rows {
		out.Items = append(out.Items, rows[i].toDomain())
	}
	var first int64
	if len(rows) > 0 {
		first = rows[0].Total
	}
	out.Total, err = totalOf(ctx, len(rows), first, count, f.PageRequest)
	return out, translate(err, "count users", nil)
}
