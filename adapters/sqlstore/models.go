package sqlstore

import (
	"database/sql/driver"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/uptrace/bun"

	"github.com/orgstack/orgstack/domain"
)

// timeLayout is how times are written: UTC, fixed width, microseconds. On
// SQLite (a text column) fixed width makes text order equal time order; on
// PostgreSQL the text is parsed into timestamptz, which keeps microseconds,
// so both stores round-trip exactly the same value.
const timeLayout = "2006-01-02T15:04:05.000000Z"

// dbTime is a time.Time stored as described at timeLayout and always read
// back in UTC. A NULL reads as the zero time.
type dbTime struct{ t time.Time }

func newDBTime(t time.Time) dbTime { return dbTime{t: t.UTC().Truncate(time.Microsecond)} }

// Time returns the time in UTC.
func (d dbTime) Time() time.Time { return d.t }

// Value implements driver.Valuer.
func (d dbTime) Value() (driver.Value, error) {
	return d.t.UTC().Truncate(time.Microsecond).Format(timeLayout), nil
}

// Scan implements sql.Scanner.
func (d *dbTime) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		d.t = time.Time{}
	case time.Time:
		d.t = v.UTC()
	case string:
		return d.parse(v)
	case []byte:
		return d.parse(string(v))
	default:
		return fmt.Errorf("sqlstore: cannot scan %T into a time", src)
	}
	return nil
}

func (d *dbTime) parse(v string) error {
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return fmt.Errorf("sqlstore: bad stored time %q: %w", v, err)
	}
	d.t = t.UTC()
	return nil
}

// splitList splits a comma-joined aggregate (string_agg); role keys and
// grants never contain commas.
func splitList(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

// orgModel is a row of organizations.
type orgModel struct {
	bun.BaseModel `bun:"table:organizations,alias:o"`

	ID        string `bun:"id,pk"`
	Slug      string `bun:"slug"`
	Name      string `bun:"name"`
	Status    string `bun:"status"`
	Metadata  string `bun:"metadata"` // JSON object of strings
	CreatedAt dbTime `bun:"created_at"`
	UpdatedAt dbTime `bun:"updated_at"`
	Version   int64  `bun:"version"`
	Total     int64  `bun:"total,scanonly"`
}

func orgFromDomain(o *domain.Organization) (*orgModel, error) {
	md, err := json.Marshal(o.Metadata())
	if err != nil {
		return nil, fmt.Errorf("sqlstore: encode metadata: %w", err)
	}
	return &orgModel{
		ID: o.ID(), Slug: string(o.Slug()), Name: o.Name(), Status: o.Status().String(),
		Metadata: string(md), CreatedAt: newDBTime(o.CreatedAt()), UpdatedAt: newDBTime(o.UpdatedAt()),
		Version: o.Version(),
	}, nil
}

func (m *orgModel) toDomain() (*domain.Organization, error) {
	md, err := decodeMetadata(m.Metadata)
	if err != nil {
		return nil, err
	}
	return domain.UnmarshalOrganizationFromDatabase(m.ID, m.Slug, m.Name, m.Status, md,
		m.CreatedAt.Time(), m.UpdatedAt.Time(), m.Version), nil
}

func decodeMetadata(s string) (map[string]string, error) {
	md := map[string]string{}
	if s == "" || s == "{}" {
		return md, nil
	}
	if err := json.Unmarshal([]byte(s), &md); err != nil {
		return nil, fmt.Errorf("sqlstore: decode metadata: %w", err)
	}
	return md, nil
}

// userModel is a row of users.
type userModel struct {
	bun.BaseModel `bun:"table:users,alias:u"`

	ID        string `bun:"id,pk"`
	Issuer    string `bun:"issuer"`
	Subject   string `bun:"subject"`
	Email     string `bun:"email"`
	Name      string `bun:"name"`
	Status    string `bun:"status"`
	Metadata  string `bun:"metadata"` // JSON object of strings
	CreatedAt dbTime `bun:"created_at"`
	UpdatedAt dbTime `bun:"updated_at"`
	Version   int64  `bun:"version"`
	Total     int64  `bun:"total,scanonly"`
}

func userFromDomain(u *domain.User) *userModel {
	md, err := json.Marshal(u.Metadata())
	if err != nil { // cannot happen: a map of strings
		md = []byte("{}")
	}
	return &userModel{
		ID: u.ID(), Issuer: u.Issuer(), Subject: u.Subject(), Email: u.Email(), Name: u.Name(),
		Status: u.Status().String(), Metadata: string(md),
		CreatedAt: newDBTime(u.CreatedAt()), UpdatedAt: newDBTime(u.UpdatedAt()), Version: u.Version(),
	}
}

func (m *userModel) toDomain() (*domain.User, error) {
	md, err := decodeMetadata(m.Metadata)
	if err != nil {
		return nil, err
	}
	return domain.UnmarshalUserFromDatabase(m.ID, m.Issuer, m.Subject, m.Email, m.Name,
		m.CreatedAt.Time(), m.UpdatedAt.Time()).WithLifecycle(m.Status, md, m.Version), nil
}

// membershipModel is a row of memberships; its roles live in
// membership_roles.
type membershipModel struct {
	bun.BaseModel `bun:"table:memberships,alias:m"`

	OrgID     string `bun:"org_id,pk"`
	UserID    string `bun:"user_id,pk"`
	Status    string `bun:"status"`
	JoinedAt  dbTime `bun:"joined_at"`
	UpdatedAt dbTime `bun:"updated_at"`
	Version   int64  `bun:"version"`
}

func membershipFromDomain(m *domain.Membership) *membershipModel {
	return &membershipModel{
		OrgID: m.OrgID(), UserID: m.UserID(), Status: m.Status().String(),
		JoinedAt: newDBTime(m.JoinedAt()), UpdatedAt: newDBTime(m.UpdatedAt()), Version: m.Version(),
	}
}

// membershipRoleModel is a row of membership_roles.
type membershipRoleModel struct {
	bun.BaseModel `bun:"table:membership_roles,alias:mr"`

	OrgID   string `bun:"org_id,pk"`
	UserID  string `bun:"user_id,pk"`
	RoleKey string `bun:"role_key,pk"`
}

func membershipRoleRows(m *domain.Membership) []membershipRoleModel {
	rs := m.Roles()
	rows := make([]membershipRoleModel, len(rs))
	for i, r := range rs {
		rows[i] = membershipRoleModel{OrgID: m.OrgID(), UserID: m.UserID(), RoleKey: string(r)}
	}
	return rows
}

// membershipRow is a membership read with its roles aggregated and, for
// member lists, its user (or, for a user's memberships, the organization's
// slug and status).
type membershipRow struct {
	OrgID     string `bun:"org_id"`
	UserID    string `bun:"user_id"`
	Status    string `bun:"status"`
	JoinedAt  dbTime `bun:"joined_at"`
	UpdatedAt dbTime `bun:"updated_at"`
	Version   int64  `bun:"version"`
	Roles     string `bun:"roles"`

	UserIssuer    string `bun:"u_issuer"`
	UserSubject   string `bun:"u_subject"`
	UserEmail     string `bun:"u_email"`
	UserName      string `bun:"u_name"`
	UserCreatedAt dbTime `bun:"u_created_at"`
	UserUpdatedAt dbTime `bun:"u_updated_at"`

	OrgSlug   string `bun:"o_slug"`
	OrgStatus string `bun:"o_status"`
}

func (r *membershipRow) membership() *domain.Membership {
	return domain.UnmarshalMembershipFromDatabase(r.OrgID, r.UserID, splitList(r.Roles), r.Status,
		r.JoinedAt.Time(), r.UpdatedAt.Time()).WithVersion(r.Version)
}

func (r *membershipRow) user() *domain.User {
	return domain.UnmarshalUserFromDatabase(r.UserID, r.UserIssuer, r.UserSubject, r.UserEmail, r.UserName,
		r.UserCreatedAt.Time(), r.UserUpdatedAt.Time())
}

// roleModel is a row of roles; its grants live in role_grants.
type roleModel struct {
	bun.BaseModel `bun:"table:roles,alias:r"`

	ID          string `bun:"id,pk"`
	OrgID       string `bun:"org_id,pk"`
	Key         string `bun:"key"`
	Name        string `bun:"name"`
	Description string `bun:"description"`
	CreatedAt   dbTime `bun:"created_at"`
	UpdatedAt   dbTime `bun:"updated_at"`
	Version     int64  `bun:"version"`
	Grants      string `bun:"grants,scanonly"` // comma-joined, in position order
}

func roleFromDomain(r *domain.Role) *roleModel {
	return &roleModel{
		ID: r.ID(), OrgID: r.OrgID(), Key: string(r.Key()), Name: r.Name(), Description: r.Description(),
		CreatedAt: newDBTime(r.CreatedAt()), UpdatedAt: newDBTime(r.UpdatedAt()), Version: r.Version(),
	}
}

func (m *roleModel) toDomain() *domain.Role {
	return domain.UnmarshalRoleFromDatabase(m.ID, m.OrgID, m.Key, m.Name, m.Description,
		splitList(m.Grants), m.CreatedAt.Time(), m.UpdatedAt.Time()).WithVersion(m.Version)
}

// roleGrantModel is a row of role_grants. Position keeps the order in which
// the role's grants were given.
type roleGrantModel struct {
	bun.BaseModel `bun:"table:role_grants,alias:g"`

	OrgID    string `bun:"org_id,pk"`
	RoleKey  string `bun:"role_key,pk"`
	Position int    `bun:"position"`
	Grant    string `bun:"grant_value,pk"`
}

func roleGrantRows(r *domain.Role) []roleGrantModel {
	gs := r.Grants()
	rows := make([]roleGrantModel, len(gs))
	for i, g := range gs {
		rows[i] = roleGrantModel{OrgID: r.OrgID(), RoleKey: string(r.Key()), Position: i, Grant: g.String()}
	}
	return rows
}

// permissionModel is a row of permissions.
type permissionModel struct {
	bun.BaseModel `bun:"table:permissions,alias:p"`

	ID          string `bun:"id,pk"`
	OrgID       string `bun:"org_id,pk"`
	Key         string `bun:"key"`
	Description string `bun:"description"`
	CreatedAt   dbTime `bun:"created_at"`
	UpdatedAt   dbTime `bun:"updated_at"`
	Version     int64  `bun:"version"`
}

func permissionFromDomain(p *domain.Permission) *permissionModel {
	return &permissionModel{
		ID: p.ID(), OrgID: p.OrgID(), Key: p.Key().String(), Description: p.Description(),
		CreatedAt: newDBTime(p.CreatedAt()), UpdatedAt: newDBTime(p.UpdatedAt()), Version: p.Version(),
	}
}

func (m *permissionModel) toDomain() *domain.Permission {
	return domain.UnmarshalPermissionFromDatabase(m.ID, m.OrgID, m.Key, m.Description,
		m.CreatedAt.Time(), m.UpdatedAt.Time()).WithVersion(m.Version)
}
