package sqlstore

import (
	"context"
	"database/sql"
	"strconv"
	"strings"

	"github.com/orgstack/orgstack/domain"
	"github.com/orgstack/orgstack/ports"
)

// The two hot paths (every tenant-scoped request, every permission check)
// are single hand-written statements that bypass bun: real placeholders
// ($n on PostgreSQL, ? on SQLite) and, on PostgreSQL, a statement prepared
// once per connection and cached by pgx (pgx.QueryExecModeCacheStatement as
// the first query argument), so the server does not parse and plan them on
// every call.

// accessRoleColumns reads the membership's role rows: the key and, for a
// custom role, the role with its grants in position order.
const accessRoleColumns = `mr.role_key, r.id, r.name, r.description, r.created_at, r.updated_at,
       (SELECT string_agg(g.grant_value, ',' ORDER BY g.position) FROM role_grants AS g
         WHERE g.org_id = r.org_id AND g.role_key = r."key")`

const accessRoleJoins = `
LEFT JOIN membership_roles AS mr ON mr.org_id = m.org_id AND mr.user_id = m.user_id
LEFT JOIN roles AS r ON r.org_id = mr.org_id AND r."key" = mr.role_key
ORDER BY mr.role_key`

// loadAccessSQL returns one row per role the membership holds (or one row
// of NULLs for the missing parts). orgCond is the organization join
// condition.
func loadAccessSQL(orgCond string) string {
	return `SELECT o.id, o.slug, o.name, o.status, o.metadata, o.created_at, o.updated_at, o.version,
       u.id, u.issuer, u.subject, u.email, u.name, u.created_at, u.updated_at,
       m.status, m.joined_at, m.updated_at,
       ` + accessRoleColumns + `
FROM (SELECT 1 AS one) AS x
LEFT JOIN organizations AS o ON ` + orgCond + `
LEFT JOIN users AS u ON u.issuer = ? AND u.subject = ?
LEFT JOIN memberships AS m ON m.org_id = o.id AND m.user_id = u.id` + accessRoleJoins
}

// checkFactsSQL returns one row per role the membership holds (or one row
// of NULLs), each carrying whether the permission is a custom one of the
// organization. userJoin finds the subject's membership.
func checkFactsSQL(userJoin string) string {
	return `SELECT EXISTS (SELECT 1 FROM permissions AS p WHERE p.org_id = ? AND p."key" = ?),
       m.user_id, m.status, m.joined_at, m.updated_at,
       ` + accessRoleColumns + `
FROM (SELECT 1 AS one) AS x
` + userJoin + accessRoleJoins
}

type hotQueries struct {
	pg                             bool
	accessByID, accessBySlug       string
	checkByUserID, checkByIdentity string
}

func newHotQueries(d Dialect) hotQueries {
	pg := d == Postgres
	bind := func(q string) string {
		if !pg {
			return q
		}
		var b strings.Builder
		n := 0
		for _, r := range q {
			if r == '?' {
				n++
				b.WriteString("$" + strconv.Itoa(n))
				continue
			}
			b.WriteRune(r)
		}
		return b.String()
	}
	return hotQueries{
		pg:           pg,
		accessByID:   bind(loadAccessSQL("o.id = ?")),
		accessBySlug: bind(loadAccessSQL("o.slug = ?")),
		checkByUserID: bind(checkFactsSQL(
			"LEFT JOIN memberships AS m ON m.org_id = ? AND m.user_id = ?")),
		checkByIdentity: bind(checkFactsSQL(
			"LEFT JOIN users AS u ON u.issuer = ? AND u.subject = ?\n" +
				"LEFT JOIN memberships AS m ON m.org_id = ? AND m.user_id = u.id")),
	}
}

func (h hotQueries) query(ctx context.Context, db *sql.DB, q string, args ...any) (*sql.Rows, error) {
	if h.pg {
		args = append([]any{pgCached}, args...)
	}
	return db.QueryContext(ctx, q, args...)
}

// roleCells are the role columns of a hot-path row.
type roleCells struct {
	key                   sql.NullString
	id, name, description sql.NullString
	createdAt, updatedAt  dbTime
	grants                sql.NullString
}

func (c *roleCells) dest() []any {
	return []any{&c.key, &c.id, &c.name, &c.description, &c.createdAt, &c.updatedAt, &c.grants}
}

// collect adds the row's role key to keys and its custom role to roles.
func (c *roleCells) collect(orgID string, keys *[]string, roles *[]*domain.Role) {
	if !c.key.Valid {
		return
	}
	*keys = append(*keys, c.key.String)
	if c.id.Valid {
		*roles = append(*roles, domain.UnmarshalRoleFromDatabase(c.id.String, orgID, c.key.String,
			c.name.String, c.description.String, splitList(c.grants.String), c.createdAt.Time(), c.updatedAt.Time()))
	}
}

// LoadAccess returns the organization (by ID, or by slug when bySlug), the
// user for (issuer, subject), and the user's membership and custom roles in
// it, in one statement. Missing parts are nil; it returns no NotFound error.
func (s *Store) LoadAccess(ctx context.Context, orgRef string, bySlug bool, issuer, subject string) (ports.Access, error) {
	q := s.hot.accessByID
	if bySlug {
		q = s.hot.accessBySlug
	}
	rows, err := s.hot.query(ctx, s.sqldb, q, orgRef, issuer, subject)
	if err != nil {
		return ports.Access{}, translate(err, "load access", nil)
	}
	defer rows.Close()

	var (
		acc                        ports.Access
		keys                       []string
		roles                      = []*domain.Role{}
		oID, oSlug, oName, oStatus sql.NullString
		oMeta                      sql.NullString
		oCreated, oUpdated         dbTime
		oVersion                   sql.NullInt64
		uID, uIss, uSub, uEmail    sql.NullString
		uName                      sql.NullString
		uCreated, uUpdated         dbTime
		mStatus                    sql.NullString
		mJoined, mUpdated          dbTime
		rc                         roleCells
	)
	dest := append([]any{&oID, &oSlug, &oName, &oStatus, &oMeta, &oCreated, &oUpdated, &oVersion,
		&uID, &uIss, &uSub, &uEmail, &uName, &uCreated, &uUpdated,
		&mStatus, &mJoined, &mUpdated}, rc.dest()...)
	first := true
	for rows.Next() {
		rc = roleCells{}
		if err := rows.Scan(dest...); err != nil {
			return ports.Access{}, translate(err, "load access", nil)
		}
		if first {
			first = false
			if oID.Valid {
				md, err := decodeMetadata(oMeta.String)
				if err != nil {
					return ports.Access{}, err
				}
				acc.Org = domain.UnmarshalOrganizationFromDatabase(oID.String, oSlug.String, oName.String, oStatus.String,
					md, oCreated.Time(), oUpdated.Time(), oVersion.Int64)
			}
			if uID.Valid {
				acc.User = domain.UnmarshalUserFromDatabase(uID.String, uIss.String, uSub.String, uEmail.String,
					uName.String, uCreated.Time(), uUpdated.Time())
			}
		}
		rc.collect(oID.String, &keys, &roles)
	}
	if err := rows.Err(); err != nil {
		return ports.Access{}, translate(err, "load access", nil)
	}
	if mStatus.Valid && acc.Org != nil && acc.User != nil {
		acc.Membership = domain.UnmarshalMembershipFromDatabase(acc.Org.ID(), acc.User.ID(), keys, mStatus.String,
			mJoined.Time(), mUpdated.Time())
		acc.Roles = roles
	}
	return acc, nil
}

// CheckFacts returns, in one statement, the membership and custom roles of
// who in orgID and whether perm is defined there (a system permission, or a
// custom permission of the organization).
func (s *Store) CheckFacts(ctx context.Context, orgID string, who ports.CheckSubject, perm domain.PermissionKey) (ports.CheckFacts, error) {
	var (
		rows *sql.Rows
		err  error
	)
	if who.UserID != "" {
		rows, err = s.hot.query(ctx, s.sqldb, s.hot.checkByUserID, orgID, perm.String(), orgID, who.UserID)
	} else {
		rows, err = s.hot.query(ctx, s.sqldb, s.hot.checkByIdentity, orgID, perm.String(), who.Issuer, who.Subject, orgID)
	}
	if err != nil {
		return ports.CheckFacts{}, translate(err, "check facts", nil)
	}
	defer rows.Close()

	var (
		facts             ports.CheckFacts
		defined           bool
		keys              []string
		roles             = []*domain.Role{}
		mUser, mStatus    sql.NullString
		mJoined, mUpdated dbTime
		rc                roleCells
	)
	dest := append([]any{&defined, &mUser, &mStatus, &mJoined, &mUpdated}, rc.dest()...)
	for rows.Next() {
		rc = roleCells{}
		if err := rows.Scan(dest...); err != nil {
			return ports.CheckFacts{}, translate(err, "check facts", nil)
		}
		rc.collect(orgID, &keys, &roles)
	}
	if err := rows.Err(); err != nil {
		return ports.CheckFacts{}, translate(err, "check facts", nil)
	}
	facts.PermissionDefined = perm.IsSystem() || defined
	if mUser.Valid {
		facts.Membership = domain.UnmarshalMembershipFromDatabase(orgID, mUser.String, keys, mStatus.String,
			mJoined.Time(), mUpdated.Time())
		facts.Roles = roles
	}
	return facts, nil
}
