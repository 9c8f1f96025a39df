package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/jackc/pgx/v5"

	"github.com/orgstack/orgstack/domain"
	"github.com/orgstack/orgstack/ports"
)

// The hot paths (every tenant-scoped request, every permission check, and
// both at once for a single check) are single hand-written statements that
// bypass bun: real placeholders
// ($n on PostgreSQL, ? on SQLite) and, on PostgreSQL, a statement prepared
// once per connection and cached by pgx (pgx.QueryExecModeCacheStatement as
// the first query argument), so the server does not parse and plan them on
// every call.

// accessRoleColumns reads the membership's role rows: the key and, for a
// custom role, the role with its grants in position order. The grants are
// not looked up for built-in roles (no roles row), the common case.
const accessRoleColumns = `mr.role_key, r.id, r.name, r.description, r.created_at, r.updated_at,
       CASE WHEN r.id IS NOT NULL THEN
         (SELECT string_agg(g.grant_value, ',' ORDER BY g.position) FROM role_grants AS g
           WHERE g.org_id = r.org_id AND g.role_key = r."key") END`

// roleJoins joins the role rows of membership m.
const roleJoins = `
LEFT JOIN membership_roles AS mr ON mr.org_id = m.org_id AND mr.user_id = m.user_id
LEFT JOIN roles AS r ON r.org_id = mr.org_id AND r."key" = mr.role_key`

const accessRoleJoins = roleJoins + `
ORDER BY mr.role_key`

// loadAccessSQL returns one row per role the membership holds (or one row
// of NULLs for the missing parts). orgCond is the organization join
// condition.
func loadAccessSQL(orgCond string) string {
	return `SELECT o.id, o.slug, o.name, o.status, o.metadata, o.created_at, o.updated_at, o.version,
       u.id, u.issuer, u.subject, u.email, u.name, u.created_at, u.updated_at,
       u.status, u.metadata, u.version,
       m.status, m.joined_at, m.updated_at,
       ` + accessRoleColumns + `
FROM (SELECT 1 AS one) AS x
LEFT JOIN organizations AS o ON ` + orgCond + `
LEFT JOIN users AS u ON u.issuer = ? AND u.subject = ?
LEFT JOIN memberships AS m ON m.org_id = o.id AND m.user_id = u.id` + accessRoleJoins
}

// checkFactsSQL returns one row per role the membership holds (or one row
// of NULLs), each carrying whether the permission is a custom one of the
// organization and the status of the member's user. userJoin finds the subject's membership.
func checkFactsSQL(userJoin string) string {
	return `SELECT EXISTS (SELECT 1 FROM permissions AS p WHERE p.org_id = ? AND p."key" = ?),
       m.user_id, (SELECT su.status FROM users AS su WHERE su.id = m.user_id), m.status, m.joined_at, m.updated_at,
       ` + accessRoleColumns + `
FROM (SELECT 1 AS one) AS x
` + userJoin + accessRoleJoins
}

// accessAndCheckSQL is loadAccessSQL and checkFactsSQL in one statement:
// the two row sets joined with UNION ALL, told apart by the first column (0
// for the caller's access, 1 for the check's subject), each padded with
// NULLs to the same columns. The check part finds the organization by the
// same condition instead of taking its ID. Columns: kind, the organization
// (8; the check part carries only its ID), the user (10: the caller's; the
// check part carries only the status of the subject's user, in the status
// column), whether the permission is a custom one of the organization, the
// membership (user ID, status, joined_at, updated_at), the role columns (7,
// the key at position 25).
func accessAndCheckSQL(orgCond, subjectJoin string) string {
	return `SELECT 0, o.id, o.slug, o.name, o.status, o.metadata, o.created_at, o.updated_at, o.version,
       u.id, u.issuer, u.subject, u.email, u.name, u.created_at, u.updated_at,
       u.status, u.metadata, u.version,
       NULL, m.user_id, m.status, m.joined_at, m.updated_at,
       ` + accessRoleColumns + `
FROM (SELECT 1 AS one) AS x
LEFT JOIN organizations AS o ON ` + orgCond + `
LEFT JOIN users AS u ON u.issuer = ? AND u.subject = ?
LEFT JOIN memberships AS m ON m.org_id = o.id AND m.user_id = u.id` + roleJoins + `
UNION ALL
SELECT 1, o.id, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
       NULL, NULL, NULL, NULL, NULL, NULL, NULL,
       (SELECT su.status FROM users AS su WHERE su.id = m.user_id), NULL, NULL,
       EXISTS (SELECT 1 FROM permissions AS p WHERE p.org_id = o.id AND p."key" = ?),
       m.user_id, m.status, m.joined_at, m.updated_at,
       ` + accessRoleColumns + `
FROM (SELECT 1 AS one) AS x
LEFT JOIN organizations AS o ON ` + orgCond + `
` + subjectJoin + roleJoins + `
ORDER BY 1, 25`
}

// Variants of accessAndCheckSQL, indexed by combinedBySlug|combinedByIdentity.
const (
	combinedBySlug     = 1 // the organization is named by slug, not ID
	combinedByIdentity = 2 // the check's subject is an identity, not a user ID
)

type hotQueries struct {
	pg                             bool
	mode                           pgx.QueryExecMode // Store.prepared
	accessByID, accessBySlug       string
	checkByUserID, checkByIdentity string
	combined                       [4]string
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
	byUserID := "LEFT JOIN memberships AS m ON m.org_id = o.id AND m.user_id = ?"
	byIdentity := "LEFT JOIN users AS u ON u.issuer = ? AND u.subject = ?\n" +
		"LEFT JOIN memberships AS m ON m.org_id = o.id AND m.user_id = u.id"
	return hotQueries{
		pg:   pg,
		mode: pgCached,
		combined: [4]string{
			bind(accessAndCheckSQL("o.id = ?", byUserID)),
			bind(accessAndCheckSQL("o.slug = ?", byUserID)),
			bind(accessAndCheckSQL("o.id = ?", byIdentity)),
			bind(accessAndCheckSQL("o.slug = ?", byIdentity)),
		},
		accessByID:   bind(loadAccessSQL("o.id = ?")),
		accessBySlug: bind(loadAccessSQL("o.slug = ?")),
		checkByUserID: bind(checkFactsSQL(
			"LEFT JOIN memberships AS m ON m.org_id = ? AND m.user_id = ?")),
		checkByIdentity: bind(checkFactsSQL(
			"LEFT JOIN users AS u ON u.issuer = ? AND u.subject = ?\n" +
				"LEFT JOIN memberships AS m ON m.org_id = ? AND m.user_id = u.id")),
	}
}

// hotScope is the organization a hot statement reads, for row-level
// security: its ID, or its slug (bySlug), resolved through the global slug
// registry in the same round trip.
type hotScope struct {
	ref    string
	bySlug bool
}

// The statements that scope a hot-path transaction to its organization
// (see tenancy.go); an unknown slug sets ”, which matches no row.
const (
	setOrgSQL       = "SELECT set_config('orgstack.org_id', $1, true)"
	setOrgBySlugSQL = "SELECT set_config('orgstack.org_id', coalesce((SELECT org_id FROM organization_slugs WHERE slug = $1), ''), true)"
)

// each runs the hot statement q, for the organization scope names, and
// calls fn for each row. On PostgreSQL it talks to pgx directly on a pooled
// connection, as conn.eachRow does, and sends BEGIN READ ONLY, set_config
// (the organization, transaction-local, for row-level security), q and
// COMMIT as one pgx batch: one round trip, as the bare statement took
// before. In the store's default mode the scoping statement and q are
// prepared once per connection (named statements, which the batch then
// executes without parsing or planning again); when the URL names a
// default_query_exec_mode (see "Scaling out"), the batch runs in that
// mode, and in simple_protocol it is one multi-statement query. Rows are
// decoded without database/sql's per-query column setup, per-value
// conversions and locks, which cost a check about a fifth of its
// allocations. A batch that fails inside its transaction is rolled back
// before the connection returns to the pool.
func (h hotQueries) each(ctx context.Context, db *sql.DB, q string, args []any, scope hotScope, fn func(rowScanner) error) error {
	if !h.pg {
		rows, err := db.QueryContext(ctx, q, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		return scanEach(rows, fn)
	}
	c, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	return c.Raw(func(dc any) error {
		pc, ok := dc.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("sqlstore: unexpected PostgreSQL driver connection %T", dc)
		}
		conn := pc.Conn()
		set := setOrgSQL
		if scope.bySlug {
			set = setOrgBySlugSQL
		}
		if h.mode == pgCached {
			for _, stmt := range []string{set, q} {
				// Idempotent: no round trip once the connection has it.
				if _, err := conn.Prepare(ctx, stmt, stmt); err != nil {
					return err
				}
			}
		}
		b := &pgx.Batch{}
		b.Queue("BEGIN READ ONLY")
		b.Queue(set, scope.ref)
		b.Queue(q, args...)
		b.Queue("COMMIT")
		br := conn.SendBatch(ctx, b)
		err := readHotBatch(br, fn)
		if cerr := br.Close(); err == nil {
			err = cerr
		}
		if !conn.IsClosed() && conn.PgConn().TxStatus() != 'I' {
			// Failed inside the transaction: end it here, or the next
			// user of the pooled connection would inherit it.
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			if _, rerr := conn.Exec(rctx, "ROLLBACK"); rerr != nil {
				return errors.Join(err, driver.ErrBadConn)
			}
		}
		return err
	})
}

// readHotBatch reads the results of the batch each sends.
func readHotBatch(br pgx.BatchResults, fn func(rowScanner) error) error {
	for range 2 { // BEGIN, set_config
		if _, err := br.Exec(); err != nil {
			return err
		}
	}
	rows, err := br.Query()
	if err != nil {
		return err
	}
	err = scanEach(rows, fn)
	rows.Close()
	if err != nil {
		return err
	}
	if err := rows.Err(); err != nil {
		return err
	}
	_, err = br.Exec() // COMMIT
	return err
}

// The cells of the hot-path rows are pgtype.Text and pgtype.Int8, which
// pgx fills natively (sql.NullString went through database/sql's Scanner
// path: a boxed value per column) and which scan database/sql values
// (SQLite) as sql.NullString does; times are dbTime, which pgx fills
// through ScanTimestamptz.

// ScanTimestamptz lets pgx fill a dbTime without boxing the time
// (pgtype.TimestamptzScanner). A NULL reads as the zero time, as in Scan.
func (d *dbTime) ScanTimestamptz(v pgtype.Timestamptz) error {
	if !v.Valid {
		d.t = time.Time{}
		return nil
	}
	d.t = v.Time.UTC()
	return nil
}

// roleCells are the role columns of a hot-path row.
type roleCells struct {
	key                   pgtype.Text
	id, name, description pgtype.Text
	createdAt, updatedAt  dbTime
	grants                pgtype.Text
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

// callerCells are the organization and user columns of an access row.
type callerCells struct {
	oID, oSlug, oName, oStatus, oMeta pgtype.Text
	oCreated, oUpdated                dbTime
	oVersion                          pgtype.Int8
	uID, uIss, uSub, uEmail, uName    pgtype.Text
	uCreated, uUpdated                dbTime
	uStatus, uMeta                    pgtype.Text
	uVersion                          pgtype.Int8
}

func (c *callerCells) dest() []any {
	return []any{&c.oID, &c.oSlug, &c.oName, &c.oStatus, &c.oMeta, &c.oCreated, &c.oUpdated, &c.oVersion,
		&c.uID, &c.uIss, &c.uSub, &c.uEmail, &c.uName, &c.uCreated, &c.uUpdated,
		&c.uStatus, &c.uMeta, &c.uVersion}
}

// read sets the organization and the user of acc from the cells.
func (c *callerCells) read(acc *ports.Access) error {
	if c.oID.Valid {
		md, err := decodeMetadata(c.oMeta.String)
		if err != nil {
			return err
		}
		acc.Org = domain.UnmarshalOrganizationFromDatabase(c.oID.String, c.oSlug.String, c.oName.String, c.oStatus.String,
			md, c.oCreated.Time(), c.oUpdated.Time(), c.oVersion.Int64)
	}
	if c.uID.Valid {
		md, err := decodeMetadata(c.uMeta.String)
		if err != nil {
			return err
		}
		acc.User = domain.UnmarshalUserFromDatabase(c.uID.String, c.uIss.String, c.uSub.String, c.uEmail.String,
			c.uName.String, c.uCreated.Time(), c.uUpdated.Time()).WithLifecycle(c.uStatus.String, md, c.uVersion.Int64)
	}
	return nil
}

// memberCells are the membership columns of a hot-path row.
type memberCells struct {
	status          pgtype.Text
	joined, updated dbTime
	keys            []string
	roles           []*domain.Role
}

// membership returns the membership of userID in orgID read from the cells,
// or nil when the row had none.
func (c *memberCells) membership(orgID, userID string) *domain.Membership {
	if !c.status.Valid {
		return nil
	}
	return domain.UnmarshalMembershipFromDatabase(orgID, userID, c.keys, c.status.String, c.joined.Time(), c.updated.Time())
}

// refArg returns what the hot paths bind for an organization reference and
// whether it is a slug (else an ID).
func refArg(ref domain.OrgRef) (arg string, bySlug bool) {
	if id, ok := ref.ID(); ok {
		return id, false
	}
	slug, _ := ref.Slug() // "" for the zero reference: no organization has it
	return string(slug), true
}

// LoadAccess returns the organization org names (by ID or by slug), the
// user for (issuer, subject), and the user's membership and custom roles in
// it, in one statement. Missing parts are nil; it returns no NotFound error.
func (s *Store) LoadAccess(ctx context.Context, org domain.OrgRef, issuer, subject string) (ports.Access, error) {
	orgRef, bySlug := refArg(org)
	q := s.hot.accessByID
	if bySlug {
		q = s.hot.accessBySlug
	}
	var (
		acc     ports.Access
		cc      callerCells
		mc      = memberCells{roles: []*domain.Role{}}
		rc      roleCells
		readErr error
	)
	dest := append(append(cc.dest(), &mc.status, &mc.joined, &mc.updated), rc.dest()...)
	first := true
	err := s.hot.each(ctx, s.sqldb, q, []any{orgRef, issuer, subject}, hotScope{orgRef, bySlug}, func(rows rowScanner) error {
		rc = roleCells{}
		if err := rows.Scan(dest...); err != nil {
			return err
		}
		if first {
			first = false
			readErr = cc.read(&acc)
		}
		rc.collect(cc.oID.String, &mc.keys, &mc.roles)
		return nil
	})
	if err != nil {
		return ports.Access{}, translate(err, "load access", nil)
	}
	if readErr != nil {
		return ports.Access{}, readErr
	}
	if acc.Org != nil && acc.User != nil {
		if acc.Membership = mc.membership(acc.Org.ID(), acc.User.ID()); acc.Membership != nil {
			acc.Roles = mc.roles
		}
	}
	return acc, nil
}

// AccessAndCheckFacts is LoadAccess and CheckFacts in one statement: the
// caller's access to the organization org names and the facts of
// checking perm for who in that organization (no membership and only
// system permissions defined when there is no such organization).
func (s *Store) AccessAndCheckFacts(ctx context.Context, org domain.OrgRef, issuer, subject string,
	who ports.CheckSubject, perm domain.PermissionKey) (ports.Access, ports.CheckFacts, error) {
	orgRef, bySlug := refArg(org)
	variant := 0
	if bySlug {
		variant |= combinedBySlug
	}
	args := []any{orgRef, issuer, subject, perm.String(), orgRef}
	if who.UserID != "" {
		args = append(args, who.UserID)
	} else {
		variant |= combinedByIdentity
		args = append(args, who.Issuer, who.Subject)
	}
	var (
		acc       ports.Access
		facts     ports.CheckFacts
		kind      int64
		cc        callerCells
		defined   sql.NullBool
		mUser     pgtype.Text
		cur       memberCells
		rc        roleCells
		mine      = memberCells{roles: []*domain.Role{}}
		theirs    = memberCells{roles: []*domain.Role{}}
		theirUser string
		// theirStatus is the status of the subject's user (user lifecycle).
		theirStatus string
		orgID       string
		sawAccess   bool
		readErr     error
	)
	dest := append(append(append([]any{&kind}, cc.dest()...), &defined, &mUser, &cur.status, &cur.joined, &cur.updated),
		rc.dest()...)
	err := s.hot.each(ctx, s.sqldb, s.hot.combined[variant], args, hotScope{orgRef, bySlug}, func(rows rowScanner) error {
		cc, rc, cur = callerCells{}, roleCells{}, memberCells{}
		if err := rows.Scan(dest...); err != nil {
			return err
		}
		orgID = cc.oID.String
		into := &theirs
		switch kind {
		case 0:
			into = &mine
			if !sawAccess {
				sawAccess = true
				readErr = cc.read(&acc)
			}
		default:
			facts.PermissionDefined = defined.Valid && defined.Bool
			theirUser = mUser.String
			theirStatus = cc.uStatus.String
		}
		into.status, into.joined, into.updated = cur.status, cur.joined, cur.updated
		rc.collect(orgID, &into.keys, &into.roles)
		return nil
	})
	if err != nil {
		return ports.Access{}, ports.CheckFacts{}, translate(err, "access and check facts", nil)
	}
	if readErr != nil {
		return ports.Access{}, ports.CheckFacts{}, readErr
	}
	if acc.Org != nil && acc.User != nil {
		if acc.Membership = mine.membership(acc.Org.ID(), acc.User.ID()); acc.Membership != nil {
			acc.Roles = mine.roles
		}
	}
	facts.PermissionDefined = perm.IsSystem() || facts.PermissionDefined
	if acc.Org != nil && theirUser != "" {
		if facts.Membership = theirs.membership(acc.Org.ID(), theirUser); facts.Membership != nil {
			facts.Roles = theirs.roles
			facts.UserStatus = userStatusOf(theirStatus)
		}
	}
	return acc, facts, nil
}

// CheckFacts returns, in one statement, the membership and custom roles of
// who in orgID and whether perm is defined there (a system permission, or a
// custom permission of the organization).
func (s *Store) CheckFacts(ctx context.Context, orgID string, who ports.CheckSubject, perm domain.PermissionKey) (ports.CheckFacts, error) {
	q, args := s.hot.checkByUserID, []any{orgID, perm.String(), orgID, who.UserID}
	if who.UserID == "" {
		q, args = s.hot.checkByIdentity, []any{orgID, perm.String(), who.Issuer, who.Subject, orgID}
	}
	var (
		facts             ports.CheckFacts
		defined           bool
		keys              []string
		roles             = []*domain.Role{}
		mUser, mStatus    pgtype.Text
		uStatus           pgtype.Text // the member's user's status (user lifecycle)
		mJoined, mUpdated dbTime
		rc                roleCells
	)
	dest := append([]any{&defined, &mUser, &uStatus, &mStatus, &mJoined, &mUpdated}, rc.dest()...)
	err := s.hot.each(ctx, s.sqldb, q, args, hotScope{ref: orgID}, func(rows rowScanner) error {
		rc = roleCells{}
		if err := rows.Scan(dest...); err != nil {
			return err
		}
		rc.collect(orgID, &keys, &roles)
		return nil
	})
	if err != nil {
		return ports.CheckFacts{}, translate(err, "check facts", nil)
	}
	facts.PermissionDefined = perm.IsSystem() || defined
	if mUser.Valid {
		facts.Membership = domain.UnmarshalMembershipFromDatabase(orgID, mUser.String, keys, mStatus.String,
			mJoined.Time(), mUpdated.Time())
		facts.Roles = roles
		facts.UserStatus = userStatusOf(uStatus.String)
	}
	return facts, nil
}

// userStatusOf parses a stored user status; an unknown one reads as
// deactivated, which lets nothing through.
func userStatusOf(v string) domain.UserStatus {
	st, err := domain.ParseUserStatus(v)
	if err != nil {
		return domain.UserDeactivated
	}
	return st
}
