package sqlstore

import (
	"context"
	"database/sql"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgtype"
	"github.com/uptrace/bun"

	"github.com/orgstack/orgstack/domain"
	"github.com/orgstack/orgstack/ports"
)

// memberships implements ports.MembershipRepository. Roles are kept in
// membership_roles and read back aggregated (string_agg, on both dialects).
type memberships struct{ c conn }

var _ ports.MembershipRepository = memberships{}

const (
	membershipColumns = "m.org_id, m.user_id, m.status, m.joined_at, m.updated_at, m.version"
	membershipRoles   = "coalesce((SELECT string_agg(mr.role_key, ',' ORDER BY mr.role_key) FROM membership_roles AS mr" +
		" WHERE mr.org_id = m.org_id AND mr.user_id = m.user_id), '') AS roles"
	memberUserColumns = "u.issuer AS u_issuer, u.subject AS u_subject, u.email AS u_email, u.name AS u_name," +
		" u.created_at AS u_created_at, u.updated_at AS u_updated_at"
)

// memberSorts maps each sort field of ports.MemberList to its column
// (TestSortColumnsFollowListRules keeps them in step).
var memberSorts = map[string]sortColumn{
	"joined_at": {expr: "m.joined_at"},
	"email":     {expr: "u.email", text: true},
	"name":      {expr: "u.name", text: true},
}

// sortsOnUser reports whether a member sort needs the users table.
func sortsOnUser(sort []ports.SortField) bool {
	for _, f := range sort {
		if strings.HasPrefix(memberSorts[f.Field].expr, "u.") {
			return true
		}
	}
	return false
}

// createScoped is the body of Create, which scopes it. Create stores a new membership and its roles. Errors:
// domain.ErrAlreadyMember; domain.ErrNotFound when the organization or the
// user does not exist.
// A new row takes its version from the column default (1, as the
// domain starts it), so the insert also fits schemas before versions.
func (r memberships) createScoped(ctx context.Context, m *domain.Membership) error {
	return r.c.inTx(ctx, func(ctx context.Context, c conn) error {
		if _, err := c.db.NewInsert().Model(membershipFromDomain(m)).ExcludeColumn("version").Exec(ctx); err != nil {
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

// getScoped is the body of Get, which scopes it. Get returns one membership. Errors: domain.ErrNotFound.
func (r memberships) getScoped(ctx context.Context, orgID, userID string) (*domain.Membership, error) {
	row, err := r.get(ctx, r.selectOne(orgID, userID))
	if err != nil {
		return nil, err
	}
	return row.membership(), nil
}

// getForUpdateScoped is the body of GetForUpdate, which scopes it. GetForUpdate is Get that locks the membership row (FOR UPDATE on
// PostgreSQL) until the transaction ends.
func (r memberships) getForUpdateScoped(ctx context.Context, orgID, userID string) (*domain.Membership, error) {
	row, err := r.get(ctx, r.c.forUpdate(r.selectOne(orgID, userID), "m"))
	if err != nil {
		return nil, err
	}
	return row.membership(), nil
}

// getMemberScoped is the body of GetMember, which scopes it. GetMember returns one membership with its user. Errors: domain.ErrNotFound.
func (r memberships) getMemberScoped(ctx context.Context, orgID, userID string) (ports.Member, error) {
	q := r.selectOne(orgID, userID).Join("JOIN users AS u ON u.id = m.user_id").ColumnExpr(memberUserColumns)
	row, err := r.get(ctx, q)
	if err != nil {
		return ports.Member{}, err
	}
	return ports.Member{Membership: row.membership(), User: row.user()}, nil
}

// updateScoped is the body of Update, which scopes it. Update stores the roles, status and version of m if the stored version is
// still m.Version()-1 (the one m was read at; Apply increments it).
// Errors: domain.ErrNotFound, domain.ErrVersionMismatch.
func (r memberships) updateScoped(ctx context.Context, m *domain.Membership) error {
	return r.c.inTx(ctx, func(ctx context.Context, c conn) error {
		res, err := c.db.NewUpdate().Model(membershipFromDomain(m)).Column("status", "updated_at", "version").
			Where("m.org_id = ?", m.OrgID()).Where("m.user_id = ?", m.UserID()).
			Where("m.version = ?", m.Version()-1).Exec(ctx)
		if err := versionedUpdate(ctx, res, err, "update membership",
			c.db.NewSelect().TableExpr("memberships AS m").Where("m.org_id = ?", m.OrgID()).Where("m.user_id = ?", m.UserID())); err != nil {
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

// deleteScoped is the body of Delete, which scopes it. Delete removes one membership (its roles cascade). Errors: domain.ErrNotFound.
func (r memberships) deleteScoped(ctx context.Context, orgID, userID string) error {
	res, err := r.c.db.NewDelete().Model((*membershipModel)(nil)).
		Where("m.org_id = ?", orgID).Where("m.user_id = ?", userID).Exec(ctx)
	return affectedOne(res, err, "delete membership")
}

// lockActiveOwnersScoped is the body of LockActiveOwners, which scopes it. LockActiveOwners returns the user IDs of the organization's active
// owners, sorted, and holds locks until the transaction ends so that
// concurrent last-owner checks serialize. On PostgreSQL it first locks the
// organization row (FOR NO KEY UPDATE, which does not block inserts that
// reference it) and then reads the owners with a fresh snapshot FOR UPDATE;
// on SQLite the IMMEDIATE transaction already holds the database's write
// lock.
func (r memberships) lockActiveOwnersScoped(ctx context.Context, orgID string) ([]string, error) {
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

// countWithRoleScoped is the body of CountWithRole, which scopes it. CountWithRole returns how many memberships (any status) hold role.
func (r memberships) countWithRoleScoped(ctx context.Context, orgID string, role domain.RoleKey) (int, error) {
	n, err := r.c.db.NewSelect().Model((*membershipRoleModel)(nil)).
		Where("mr.org_id = ?", orgID).Where("mr.role_key = ?", string(role)).Count(ctx)
	return int(n), translate(err, "count role holders", nil)
}

// listScoped is the body of List, which scopes it. List returns a page of the organization's members matching f, ordered by
// f.Sort (default joined_at) with the user ID as tie-break.
//
// It is one hand-written statement with driver placeholders; on PostgreSQL
// it is prepared once per connection and cached, and its rows are read
// through pgx directly (see conn.eachRow), so a list is neither re-planned
// nor converted value by value through database/sql:
//
//   - the inner query picks the page's memberships only. For the default
//     sort it walks memberships_org_joined_idx, which on PostgreSQL covers
//     every membership column (index-only) and, the ID columns being
//     COLLATE "C", matches ORDER BY joined_at, user_id COLLATE "C" without
//     a sort; it stops after OFFSET+LIMIT entries and joins users only when
//     the filter or the sort needs them;
//   - the outer query joins users and the roles for those rows only, one
//     row per (member, role), folded back here;
//   - the total is an uncorrelated scalar subquery (evaluated once), not a
//     window count, which would join every matching member first.
//
// Pages are addressed by number, so a deep page still skips OFFSET index
// entries: page 200 of 10,000 members walks 10,000 index-only tuples, about
// what the count costs every page anyway, and joins only its own 50 rows.
// That keeps its latency within 2× of page 1 (measured ~1.3×); keyset
// pagination would need a cursor in the ports API.
func (r memberships) listScoped(ctx context.Context, f ports.MemberFilter) (ports.Page[ports.Member], error) {
	out := ports.Page[ports.Member]{Items: []ports.Member{}, Page: f.Page, Size: f.Size}
	order, err := r.c.orderTerms(memberSorts, f.Sort, ports.MemberList.DefaultSort, "m.user_id")
	if err != nil {
		return out, err
	}
	orderBy := strings.Join(order, ", ")
	needUsers := f.Q != "" || sortsOnUser(f.Sort)

	var (
		where = []string{"m.org_id = ?"}
		args  = []any{f.OrgID}
	)
	if f.Status != "" {
		where, args = append(where, "m.status = ?"), append(args, f.Status)
	}
	if f.Role != "" {
		where = append(where, "EXISTS (SELECT 1 FROM membership_roles AS fr"+
			" WHERE fr.org_id = m.org_id AND fr.user_id = m.user_id AND fr.role_key = ?)")
		args = append(args, f.Role)
	}
	if f.Q != "" {
		p := containsPattern(f.Q)
		where = append(where, "("+likeClause("u.email")+" OR "+likeClause("u.name")+")")
		args = append(args, p, p)
	}
	from := "memberships AS m"
	countFrom := from
	if f.Q != "" {
		countFrom += " JOIN users AS u ON u.id = m.user_id"
	}
	if needUsers {
		from += " JOIN users AS u ON u.id = m.user_id"
	}
	cond := strings.Join(where, " AND ")
	countSQL := "SELECT count(*) FROM " + countFrom + " WHERE " + cond

	pageSQL := "SELECT m.org_id, m.user_id, m.status, m.joined_at, m.updated_at, m.version FROM " + from +
		" WHERE " + cond + " ORDER BY " + orderBy
	pageArgs := args
	if f.Size > 0 {
		pageSQL += " LIMIT ? OFFSET ?"
		pageArgs = append(slices.Clip(args), int64(f.Size), int64(f.Offset()))
	}
	// One row per (member, role): the join costs the database less than an
	// aggregate per member, and the domain sorts the roles anyway. The final
	// tie-break (user ID) keeps a member's rows adjacent.
	q := "SELECT m.user_id, m.status, m.joined_at, m.updated_at, m.version, mr.role_key," +
		" u.issuer, u.subject, u.email, u.name, u.created_at, u.updated_at, (" + countSQL + ") AS total" +
		" FROM (" + pageSQL + ") AS m JOIN users AS u ON u.id = m.user_id" +
		" LEFT JOIN membership_roles AS mr ON mr.org_id = m.org_id AND mr.user_id = m.user_id" +
		" ORDER BY " + orderBy

	var (
		sc    = newMemberScan()
		cur   membershipRow
		roles []string
		open  bool
	)
	flush := func() {
		if open {
			out.Items = append(out.Items, ports.Member{
				Membership: domain.UnmarshalMembershipFromDatabase(f.OrgID, cur.UserID, roles, cur.Status,
					cur.JoinedAt.Time(), cur.UpdatedAt.Time()).WithVersion(cur.Version),
				User: cur.user(),
			})
		}
	}
	err = r.c.eachRow(ctx, q, append(slices.Clip(args), pageArgs...), func(rows rowScanner) error {
		m, err := sc.scan(rows)
		if err != nil {
			return err
		}
		if !open || m.UserID != cur.UserID {
			flush()
			cur, roles, open = m, nil, true
		}
		if sc.role.Valid {
			roles = append(roles, sc.role.String)
		}
		return nil
	})
	if err != nil {
		return out, translate(err, "list members", nil)
	}
	flush()
	if len(out.Items) == 0 && f.Offset() > 0 {
		// Past the end: no row carried the total.
		err = r.c.eachRow(ctx, countSQL, args, func(rows rowScanner) error { return rows.Scan(&sc.total) })
		if err != nil {
			return out, translate(err, "count members", nil)
		}
	}
	out.Total = int(sc.total)
	return out, nil
}

// memberScan holds the destinations of one List row; they are allocated
// once per list (a fresh set per row would escape to the heap on every
// Scan). pgx rows scan times into time.Time and the role into a
// pgtype.Text; database/sql rows (SQLite, transactions) scan into dbTime and
// sql.NullString.
type memberScan struct {
	row                                 membershipRow
	role                                sql.NullString
	key                                 pgtype.Text // the role on pgx rows: no pointer allocated per row
	joined, updated, uCreated, uUpdated time.Time
	total                               int64
	pgxDest, sqlDest                    []any
}

func newMemberScan() *memberScan {
	s := &memberScan{}
	m := &s.row
	s.pgxDest = []any{&m.UserID, &m.Status, &s.joined, &s.updated, &m.Version, &s.key,
		&m.UserIssuer, &m.UserSubject, &m.UserEmail, &m.UserName, &s.uCreated, &s.uUpdated, &s.total}
	s.sqlDest = []any{&m.UserID, &m.Status, &m.JoinedAt, &m.UpdatedAt, &m.Version, &s.role,
		&m.UserIssuer, &m.UserSubject, &m.UserEmail, &m.UserName, &m.UserCreatedAt, &m.UserUpdatedAt, &s.total}
	return s
}

// scan reads one row of List: a membership, one of its roles (NULL when it
// holds none) and its user, then the total.
func (s *memberScan) scan(rows rowScanner) (membershipRow, error) {
	if !pgxRows(rows) {
		err := rows.Scan(s.sqlDest...)
		return s.row, err
	}
	s.key = pgtype.Text{}
	err := rows.Scan(s.pgxDest...)
	m := s.row
	m.JoinedAt, m.UpdatedAt = dbTime{t: s.joined.UTC()}, dbTime{t: s.updated.UTC()}
	m.UserCreatedAt, m.UserUpdatedAt = dbTime{t: s.uCreated.UTC()}, dbTime{t: s.uUpdated.UTC()}
	s.role = sql.NullString{}
	if s.key.Valid {
		s.role = sql.NullString{String: s.key.String, Valid: true}
	}
	return m, err
}

// listForUserScoped is the body of ListForUser, which scopes it. ListForUser returns every membership of a user with its organization's
// slug and status, ordered by slug. It is the one method not scoped to an
// organization: it answers "which organizations am I in".
func (r memberships) listForUserScoped(ctx context.Context, userID string) ([]ports.OrganizationMembership, error) {
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

// Create runs createScoped in a transaction scoped to its organization (see tenancy.go).
func (r memberships) Create(ctx context.Context, m *domain.Membership) error {
	return r.c.tenant(ctx, m.OrgID(), func(ctx context.Context, c conn) error {
		return memberships{c}.createScoped(ctx, m)
	})
}

// Get runs getScoped in a transaction scoped to its organization (see tenancy.go).
func (r memberships) Get(ctx context.Context, orgID, userID string) (*domain.Membership, error) {
	return scopedValue(ctx, r.c, orgID, func(ctx context.Context, c conn) (*domain.Membership, error) {
		return memberships{c}.getScoped(ctx, orgID, userID)
	})
}

// GetForUpdate runs getForUpdateScoped in a transaction scoped to its organization (see tenancy.go).
func (r memberships) GetForUpdate(ctx context.Context, orgID, userID string) (*domain.Membership, error) {
	return scopedValue(ctx, r.c, orgID, func(ctx context.Context, c conn) (*domain.Membership, error) {
		return memberships{c}.getForUpdateScoped(ctx, orgID, userID)
	})
}

// GetMember runs getMemberScoped in a transaction scoped to its organization (see tenancy.go).
func (r memberships) GetMember(ctx context.Context, orgID, userID string) (ports.Member, error) {
	return scopedValue(ctx, r.c, orgID, func(ctx context.Context, c conn) (ports.Member, error) {
		return memberships{c}.getMemberScoped(ctx, orgID, userID)
	})
}

// Update runs updateScoped in a transaction scoped to its organization (see tenancy.go).
func (r memberships) Update(ctx context.Context, m *domain.Membership) error {
	return r.c.tenant(ctx, m.OrgID(), func(ctx context.Context, c conn) error {
		return memberships{c}.updateScoped(ctx, m)
	})
}

// Delete runs deleteScoped in a transaction scoped to its organization (see tenancy.go).
func (r memberships) Delete(ctx context.Context, orgID, userID string) error {
	return r.c.tenant(ctx, orgID, func(ctx context.Context, c conn) error {
		return memberships{c}.deleteScoped(ctx, orgID, userID)
	})
}

// LockActiveOwners runs lockActiveOwnersScoped in a transaction scoped to its organization (see tenancy.go).
func (r memberships) LockActiveOwners(ctx context.Context, orgID string) ([]string, error) {
	return scopedValue(ctx, r.c, orgID, func(ctx context.Context, c conn) ([]string, error) {
		return memberships{c}.lockActiveOwnersScoped(ctx, orgID)
	})
}

// CountWithRole runs countWithRoleScoped in a transaction scoped to its organization (see tenancy.go).
func (r memberships) CountWithRole(ctx context.Context, orgID string, role domain.RoleKey) (int, error) {
	return scopedValue(ctx, r.c, orgID, func(ctx context.Context, c conn) (int, error) {
		return memberships{c}.countWithRoleScoped(ctx, orgID, role)
	})
}

// List runs listScoped in a transaction scoped to its organization (see tenancy.go).
func (r memberships) List(ctx context.Context, f ports.MemberFilter) (ports.Page[ports.Member], error) {
	return scopedValue(ctx, r.c, f.OrgID, func(ctx context.Context, c conn) (ports.Page[ports.Member], error) {
		return memberships{c}.listScoped(ctx, f)
	})
}

// ListForUser runs listForUserScoped across organizations (read only) (see tenancy.go).
func (r memberships) ListForUser(ctx context.Context, userID string) ([]ports.OrganizationMembership, error) {
	return crossValue(ctx, r.c, func(ctx context.Context, c conn) ([]ports.OrganizationMembership, error) {
		return memberships{c}.listForUserScoped(ctx, userID)
	})
}
