package sqlstore

import (
	"context"

	"github.com/uptrace/bun"

	"github.com/orgstack/orgstack/domain"
	"github.com/orgstack/orgstack/ports"
)

// memberships implements ports.MembershipRepository. Roles are kept in
// membership_roles and read back aggregated (string_agg, on both dialects).
type memberships struct{ c conn }

var _ ports.MembershipRepository = memberships{}

const (
	membershipColumns = "m.org_id, m.user_id, m.status, m.joined_at, m.updated_at"
	membershipRoles   = "coalesce((SELECT string_agg(mr.role_key, ',' ORDER BY mr.role_key) FROM membership_roles AS mr" +
		" WHERE mr.org_id = m.org_id AND mr.user_id = m.user_id), '') AS roles"
	memberUserColumns = "u.issuer AS u_issuer, u.subject AS u_subject, u.email AS u_email, u.name AS u_name," +
		" u.created_at AS u_created_at, u.updated_at AS u_updated_at"
)

var memberSorts = map[string]sortColumn{
	"joined_at": {expr: "m.joined_at"},
	"email":     {expr: "u.email", text: true},
	"name":      {expr: "u.name", text: true},
}

var memberDefaultSort = []ports.SortField{{Field: "joined_at"}}

// Create stores a new membership and its roles. Errors:
// domain.ErrAlreadyMember; domain.ErrNotFound when the organization or the
// user does not exist.
func (r memberships) Create(ctx context.Context, m *domain.Membership) error {
	return r.c.inTx(ctx, func(ctx context.Context, c conn) error {
		if _, err := c.db.NewInsert().Model(membershipFromDomain(m)).Exec(ctx); err != nil {
			return translate(err, "create membership", domain.ErrAlreadyMember)
		}
		return insertMembershipRoles(ctx, c, m)
	})
}

func insertMembershipRoles(ctx context.Context, c conn, m *domain.Membership) error {
	rows := membershipRoleRows(m)
	if len(rows) == 0 {
		return nil
	}
	_, err := c.db.NewInsert().Model(&rows).Exec(ctx)
	return translate(err, "store membership roles", nil)
}

func (r memberships) selectOne(orgID, userID string) *bun.SelectQuery {
	return r.c.db.NewSelect().TableExpr("memberships AS m").
		ColumnExpr(membershipColumns).ColumnExpr(membershipRoles).
		Where("m.org_id = ?", orgID).Where("m.user_id = ?", userID)
}

func (r memberships) get(ctx context.Context, q *bun.SelectQuery) (*membershipRow, error) {
	var row membershipRow
	if err := q.Scan(ctx, &row); err != nil {
		return nil, translate(err, "get membership", nil)
	}
	return &row, nil
}

// Get returns one membership. Errors: domain.ErrNotFound.
func (r memberships) Get(ctx context.Context, orgID, userID string) (*domain.Membership, error) {
	row, err := r.get(ctx, r.selectOne(orgID, userID))
	if err != nil {
		return nil, err
	}
	return row.membership(), nil
}

// GetForUpdate is Get that locks the membership row (FOR UPDATE on
// PostgreSQL) until the transaction ends.
func (r memberships) GetForUpdate(ctx context.Context, orgID, userID string) (*domain.Membership, error) {
	row, err := r.get(ctx, r.c.forUpdate(r.selectOne(orgID, userID), "m"))
	if err != nil {
		return nil, err
	}
	return row.membership(), nil
}

// GetMember returns one membership with its user. Errors: domain.ErrNotFound.
func (r memberships) GetMember(ctx context.Context, orgID, userID string) (ports.Member, error) {
	q := r.selectOne(orgID, userID).Join("JOIN users AS u ON u.id = m.user_id").ColumnExpr(memberUserColumns)
	row, err := r.get(ctx, q)
	if err != nil {
		return ports.Member{}, err
	}
	return ports.Member{Membership: row.membership(), User: row.user()}, nil
}

// Update stores the roles and status of m. Errors: domain.ErrNotFound.
func (r memberships) Update(ctx context.Context, m *domain.Membership) error {
	return r.c.inTx(ctx, func(ctx context.Context, c conn) error {
		res, err := c.db.NewUpdate().Model(membershipFromDomain(m)).Column("status", "updated_at").
			Where("m.org_id = ?", m.OrgID()).Where("m.user_id = ?", m.UserID()).Exec(ctx)
		if err := affectedOne(res, err, "update membership"); err != nil {
			return err
		}
		_, err = c.db.NewDelete().Model((*membershipRoleModel)(nil)).
			Where("mr.org_id = ?", m.OrgID()).Where("mr.user_id = ?", m.UserID()).Exec(ctx)
		if err != nil {
			return translate(err, "update membership roles", nil)
		}
		return insertMembershipRoles(ctx, c, m)
	})
}

// Delete removes one membership (its roles cascade). Errors: domain.ErrNotFound.
func (r memberships) Delete(ctx context.Context, orgID, userID string) error {
	res, err := r.c.db.NewDelete().Model((*membershipModel)(nil)).
		Where("m.org_id = ?", orgID).Where("m.user_id = ?", userID).Exec(ctx)
	return affectedOne(res, err, "delete membership")
}

// LockActiveOwners returns the user IDs of the organization's active
// owners, sorted, and holds locks until the transaction ends so that
// concurrent last-owner checks serialize. On PostgreSQL it first locks the
// organization row (FOR NO KEY UPDATE, which does not block inserts that
// reference it) and then reads the owners with a fresh snapshot FOR UPDATE;
// on SQLite the IMMEDIATE transaction already holds the database's write
// lock.
func (r memberships) LockActiveOwners(ctx context.Context, orgID string) ([]string, error) {
	if r.c.pg {
		var ids []string
		err := r.c.db.NewSelect().TableExpr("organizations AS o").Column("o.id").
			Where("o.id = ?", orgID).For("NO KEY UPDATE").Scan(ctx, &ids)
		if err != nil {
			return nil, translate(err, "lock organization", nil)
		}
		if len(ids) == 0 {
			return []string{}, nil
		}
	}
	owners := []string{}
	q := r.c.db.NewSelect().TableExpr("memberships AS m").Column("m.user_id").
		Join("JOIN membership_roles AS mr ON mr.org_id = m.org_id AND mr.user_id = m.user_id").
		Where("m.org_id = ?", orgID).Where("m.status = ?", domain.MemberActive.String()).
		Where("mr.role_key = ?", string(domain.RoleOwner)).
		OrderExpr(r.c.textKey("m.user_id"))
	if err := r.c.forUpdate(q, "m").Scan(ctx, &owners); err != nil {
		return nil, translate(err, "lock owners", nil)
	}
	return owners, nil
}

// CountWithRole returns how many memberships (any status) hold role.
func (r memberships) CountWithRole(ctx context.Context, orgID string, role domain.RoleKey) (int, error) {
	n, err := r.c.db.NewSelect().Model((*membershipRoleModel)(nil)).
		Where("mr.org_id = ?", orgID).Where("mr.role_key = ?", string(role)).Count(ctx)
	return int(n), translate(err, "count role holders", nil)
}

// List returns a page of the organization's members matching f, ordered by
// f.Sort (default joined_at) with the user ID as tie-break.
func (r memberships) List(ctx context.Context, f ports.MemberFilter) (ports.Page[ports.Member], error) {
	out := ports.Page[ports.Member]{Items: []ports.Member{}, Page: f.Page, Size: f.Size}
	filter := func(q *bun.SelectQuery) *bun.SelectQuery {
		q = q.TableExpr("memberships AS m").Join("JOIN users AS u ON u.id = m.user_id").
			Where("m.org_id = ?", f.OrgID)
		if f.Status != "" {
			q = q.Where("m.status = ?", f.Status)
		}
		if f.Role != "" {
			q = q.Where("EXISTS (SELECT 1 FROM membership_roles AS fr WHERE fr.org_id = m.org_id AND fr.user_id = m.user_id AND fr.role_key = ?)", f.Role)
		}
		return whereContains(q, f.Q, "u.email", "u.name")
	}
	q := filter(r.c.db.NewSelect()).ColumnExpr(membershipColumns).ColumnExpr(membershipRoles).ColumnExpr(memberUserColumns)
	q, err := r.c.applySort(q, memberSorts, f.Sort, memberDefaultSort, "m.user_id")
	if err != nil {
		return out, err
	}
	var rows []membershipRow
	if err := page(q, f.PageRequest).Scan(ctx, &rows); err != nil {
		return out, translate(err, "list members", nil)
	}
	for i := range rows {
		out.Items = append(out.Items, ports.Member{Membership: rows[i].membership(), User: rows[i].user()})
	}
	var first int64
	if len(rows) > 0 {
		first = rows[0].Total
	}
	out.Total, err = totalOf(ctx, len(rows), first, filter(r.c.db.NewSelect()), f.PageRequest)
	return out, translate(err, "count members", nil)
}

// ListForUser returns every membership of a user with its organization's
// slug and status, ordered by slug. It is the one method not scoped to an
// organization: it answers "which organizations am I in".
func (r memberships) ListForUser(ctx context.Context, userID string) ([]ports.OrganizationMembership, error) {
	var rows []membershipRow
	err := r.c.db.NewSelect().TableExpr("memberships AS m").Join("JOIN organizations AS o ON o.id = m.org_id").
		ColumnExpr(membershipColumns).ColumnExpr(membershipRoles).
		ColumnExpr("o.slug AS o_slug, o.status AS o_status").
		Where("m.user_id = ?", userID).OrderExpr(r.c.textKey("o.slug")).
		Scan(ctx, &rows)
	if err != nil {
		return nil, translate(err, "list memberships of user", nil)
	}
	out := make([]ports.OrganizationMembership, len(rows))
	for i := range rows {
		st, err := domain.ParseOrganizationStatus(rows[i].OrgStatus)
		if err != nil {
			st = domain.OrganizationSuspended // an unknown status never grants anything
		}
		out[i] = ports.OrganizationMembership{Membership: rows[i].membership(), OrgSlug: rows[i].OrgSlug, OrgStatus: st}
	}
	return out, nil
}
