package sqlstore

import (
	"context"
	"database/sql"
	"errors"

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

// The statements that write token claims (issuer, subject, email, name on
// first use) and read users by identity are written by hand with bound
// parameters, so those texts never become SQL text.
const (
	userColumns   = "id, issuer, subject, email, name, status, metadata, created_at, updated_at, version"
	insertUserSQL = "INSERT INTO users (" + userColumns + ")" +
		" VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
	userByIdentitySQL = "SELECT " + userColumns + " FROM users WHERE issuer = ? AND subject = ?"
	userByIDSQL       = "SELECT " + userColumns + " FROM users WHERE id = ?"
	// updateUserSQL never writes to an erased user: a token's claims read
	// before an erasure committed must not bring the personal fields back.
	updateUserSQL = "UPDATE users SET email = ?, name = ?, updated_at = ?, version = version + 1" +
		" WHERE id = ? AND status <> 'erased'"
	saveUserSQL = "UPDATE users SET email = ?, name = ?, status = ?, metadata = ?, updated_at = ?, version = ?" +
		" WHERE id = ?"
)

func insertUserArgs(u *domain.User) []any {
	m := userFromDomain(u)
	return []any{m.ID, m.Issuer, m.Subject, m.Email, m.Name, m.Status, m.Metadata, m.CreatedAt, m.UpdatedAt, m.Version}
}

// Create stores a new user. Errors: domain.ErrUserExists.
func (r users) Create(ctx context.Context, u *domain.User) error {
	_, err := r.c.execRaw(ctx, insertUserSQL, insertUserArgs(u)...)
	return translate(err, "create user", domain.ErrUserExists)
}

// CreateIfAbsent stores u unless a user with its (issuer, subject) exists
// (INSERT … ON CONFLICT (issuer, subject) DO NOTHING, so a concurrent first
// use of the identity neither fails nor aborts the transaction), then
// returns the stored user: u, or the one that was there (an erased user's
// tombstone included: the caller decides).
func (r users) CreateIfAbsent(ctx context.Context, u *domain.User) (*domain.User, error) {
	_, err := r.c.execRaw(ctx, insertUserSQL+" ON CONFLICT (issuer, subject) DO NOTHING", insertUserArgs(u)...)
	if err != nil {
		return nil, translate(err, "create user", domain.ErrUserExists)
	}
	return r.GetByIdentity(ctx, u.Issuer(), u.Subject())
}

// one runs the user query q and returns its row. Errors: domain.ErrNotFound.
func (r users) one(ctx context.Context, q string, args ...any) (*domain.User, error) {
	rows, err := r.c.queryRaw(ctx, q, args...)
	if err != nil {
		return nil, translate(err, "get user", nil)
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return nil, translate(err, "get user", nil)
		}
		return nil, domain.ErrNotFound
	}
	var m userModel
	if err := rows.Scan(&m.ID, &m.Issuer, &m.Subject, &m.Email, &m.Name, &m.Status, &m.Metadata,
		&m.CreatedAt, &m.UpdatedAt, &m.Version); err != nil {
		return nil, translate(err, "get user", nil)
	}
	return m.toDomain()
}

// Get returns a user by ID. Errors: domain.ErrNotFound.
func (r users) Get(ctx context.Context, id string) (*domain.User, error) {
	return r.one(ctx, userByIDSQL, id)
}

// GetForUpdate is Get that locks the user row until the transaction ends
// (FOR UPDATE on PostgreSQL; SQLite serializes writers anyway).
// Errors: domain.ErrNotFound.
func (r users) GetForUpdate(ctx context.Context, id string) (*domain.User, error) {
	q := userByIDSQL
	if r.c.pg {
		q += " FOR UPDATE"
	}
	return r.one(ctx, q, id)
}

// GetByIdentity returns the user for (issuer, subject). Errors: domain.ErrNotFound.
func (r users) GetByIdentity(ctx context.Context, issuer, subject string) (*domain.User, error) {
	return r.one(ctx, userByIdentitySQL, issuer, subject)
}

// Update stores the email and name of u (a token's newer claims) and
// increments its version; an erased user is left alone (domain.ErrNotFound).
//
// A member shows the user's email and name, so the update also increments
// the version of every membership of the user, in the same transaction:
// a member's entity tag changes when its user's profile does.
func (r users) Update(ctx context.Context, u *domain.User) error {
	m := userFromDomain(u)
	return r.c.inTx(ctx, func(ctx context.Context, c conn) error {
		res, err := c.execRaw(ctx, updateUserSQL, m.Email, m.Name, m.UpdatedAt, m.ID)
		if err := affectedOne(res, err, "update user"); err != nil {
			return err
		}
		return bumpMembershipsOfUser(ctx, c, m.ID)
	})
}

// bumpMembershipsOfUser increments the version of every membership of the
// user, in c's transaction. Under row-level security a transaction writes
// one organization's rows at a time (a cross-tenant UPDATE changes
// nothing): it finds the user's organizations (a cross-tenant read), then
// bumps the membership in each, scoped to it.
func bumpMembershipsOfUser(ctx context.Context, c conn, userID string) error {
	if !c.pg {
		_, err := c.execRaw(ctx, "UPDATE memberships SET version = version + 1 WHERE user_id = ?", userID)
		return translate(err, "update memberships of user", nil)
	}
	var orgIDs []string
	err := c.crossTenant(ctx, func(ctx context.Context, c conn) error {
		return c.db.NewRaw("SELECT org_id FROM memberships WHERE user_id = ? ORDER BY org_id", userID).Scan(ctx, &orgIDs)
	})
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return translate(err, "update memberships of user", nil)
	}
	for _, orgID := range orgIDs {
		err := c.tenant(ctx, orgID, func(ctx context.Context, c conn) error {
			_, err := c.execRaw(ctx, "UPDATE memberships SET version = version + 1 WHERE org_id = ? AND user_id = ?", orgID, userID)
			return err
		})
		if err != nil {
			return translate(err, "update memberships of user", nil)
		}
	}
	return nil
}

// Save stores every field of u. Errors: domain.ErrNotFound.
func (r users) Save(ctx context.Context, u *domain.User) error {
	m := userFromDomain(u)
	return r.c.inTx(ctx, func(ctx context.Context, c conn) error {
		res, err := c.execRaw(ctx, saveUserSQL, m.Email, m.Name, m.Status, m.Metadata, m.UpdatedAt, m.Version, m.ID)
		if err := affectedOne(res, err, "save user"); err != nil {
			return err
		}
		return bumpMembershipsOfUser(ctx, c, m.ID)
	})
}

// List returns a page of users matching f, ordered by f.Sort (default
// created_at) with the ID as tie-break.
func (r users) List(ctx context.Context, f ports.UserFilter) (ports.Page[*domain.User], error) {
	if f.OrgID != "" {
		// The members of one organization: scoped to it (memberships are
		// under row-level security).
		return scopedValue(ctx, r.c, f.OrgID, func(ctx context.Context, c conn) (ports.Page[*domain.User], error) {
			return users{c}.list(ctx, f)
		})
	}
	return r.list(ctx, f)
}

func (r users) list(ctx context.Context, f ports.UserFilter) (ports.Page[*domain.User], error) {
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
		u, err := rows[i].toDomain()
		if err != nil {
			return out, err
		}
		out.Items = append(out.Items, u)
	}
	var first int64
	if len(rows) > 0 {
		first = rows[0].Total
	}
	out.Total, err = totalOf(ctx, len(rows), first, count, f.PageRequest)
	return out, translate(err, "count users", nil)
}
