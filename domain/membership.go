package domain

import (
	"slices"
	"strconv"
	"time"
)

// MemberStatus says whether a membership currently gives its permissions.
type MemberStatus struct{ s string }

// The membership statuses.
var (
	MemberActive    = MemberStatus{"active"}
	MemberSuspended = MemberStatus{"suspended"}
)

func (s MemberStatus) String() string { return s.s }

// ParseMemberStatus parses "active" or "suspended".
func ParseMemberStatus(v string) (MemberStatus, error) {
	switch v {
	case "active":
		return MemberActive, nil
	case "suspended":
		return MemberSuspended, nil
	}
	return MemberStatus{}, Invalid("", "must be one of active, suspended")
}

// MaxRolesPerMember bounds how many roles one membership may hold.
const MaxRolesPerMember = 50

// Membership is a user's place in an organization: the roles the user holds
// there and whether the membership is active. A suspended member keeps its
// record but holds no permissions.
//
// Rules that span memberships are enforced by CheckMembershipChange, which
// the application calls inside the transaction that locks the
// organization's active owners: an organization always keeps at least one
// active owner, and only owners make, unmake, suspend or remove owners.
type Membership struct {
	orgID     string
	userID    string
	roles     []RoleKey
	status    MemberStatus
	joinedAt  time.Time
	updatedAt time.Time
	version   int64
}

// NewMembership makes userID an active member of orgID holding roles (at
// least one). Whether custom roles exist is checked by the application.
func NewMembership(orgID, userID string, roles []string, now time.Time) (*Membership, error) {
	rs, err := parseRoles(roles)
	if err != nil {
		return nil, err
	}
	return &Membership{orgID: orgID, userID: userID, roles: rs, status: MemberActive, joinedAt: now, updatedAt: now, version: 1}, nil
}

func parseRoles(vs []string) ([]RoleKey, error) {
	var fe fieldErrors
	if len(vs) == 0 {
		fe.add("roles", Invalid("", "must hold at least one role"))
	}
	if len(vs) > MaxRolesPerMember {
		fe.add("roles", Invalid("", "must hold at most %d roles", MaxRolesPerMember))
	}
	out := make([]RoleKey, 0, len(vs))
	for i, v := range vs {
		k, err := ParseRoleKey(v)
		if err != nil {
			fe.add("roles/"+strconv.Itoa(i), err)
			continue
		}
		if !slices.Contains(out, k) {
			out = append(out, k)
		}
	}
	if err := fe.err(); err != nil {
		return nil, err
	}
	slices.Sort(out)
	return out, nil
}

// UnmarshalMembershipFromDatabase rebuilds a membership from storage,
// skipping the creation rules. For storage adapters only.
func UnmarshalMembershipFromDatabase(orgID, userID string, roles []string, status string, joinedAt, updatedAt time.Time) *Membership {
	rs := make([]RoleKey, len(roles))
	for i, r := range roles {
		rs[i] = RoleKey(r)
	}
	slices.Sort(rs)
	st, err := ParseMemberStatus(status)
	if err != nil {
		st = MemberSuspended // an unknown status never grants anything
	}
	return &Membership{orgID: orgID, userID: userID, roles: rs, status: st, joinedAt: joinedAt, updatedAt: updatedAt, version: 1}
}

// OrgID returns the organization.
func (m *Membership) OrgID() string { return m.orgID }

// UserID returns the member.
func (m *Membership) UserID() string { return m.userID }

// Roles returns the held role keys, sorted.
func (m *Membership) Roles() []RoleKey { return slices.Clone(m.roles) }

// Status returns whether the membership is active or suspended.
func (m *Membership) Status() MemberStatus { return m.status }

// IsActive reports whether the membership gives its permissions.
func (m *Membership) IsActive() bool { return m.status == MemberActive }

// JoinedAt returns when the user became a member.
func (m *Membership) JoinedAt() time.Time { return m.joinedAt }

// UpdatedAt returns the time of the last change.
func (m *Membership) UpdatedAt() time.Time { return m.updatedAt }

// HasRole reports whether the member holds role k (active or not).
func (m *Membership) HasRole(k RoleKey) bool { return slices.Contains(m.roles, k) }

// IsActiveOwner reports whether m is an active membership holding owner.
func (m *Membership) IsActiveOwner() bool { return m != nil && m.IsActive() && m.HasRole(RoleOwner) }

// MembershipChanges is a partial update of a membership.
type MembershipChanges struct {
	Roles  *[]string
	Status *string
}

// Apply validates and applies changes. Rules spanning memberships are checked
// separately with CheckMembershipChange.
func (m *Membership) Apply(c MembershipChanges, now time.Time) error {
	var fe fieldErrors
	next := *m
	if c.Roles != nil {
		rs, err := parseRoles(*c.Roles)
		fe.add("", err)
		next.roles = rs
	}
	if c.Status != nil {
		s, err := ParseMemberStatus(*c.Status)
		fe.add("status", err)
		next.status = s
	}
	if err := fe.err(); err != nil {
		return err
	}
	next.updatedAt = now
	next.version = m.version + 1
	*m = next
	return nil
}

// Version returns the version number, which grows by one on every change
// of the membership and whenever the member's user profile (email, name)
// changes, so that a member's entity tag covers everything a member
// representation shows.
func (m *Membership) Version() int64 { return m.version }

// WithVersion sets the stored version on a membership rebuilt by
// UnmarshalMembershipFromDatabase and returns m. For storage adapters only.
func (m *Membership) WithVersion(v int64) *Membership {
	m.version = v
	return m
}

// Clone returns an independent copy of m.
func (m *Membership) Clone() *Membership {
	c := *m
	c.roles = slices.Clone(m.roles)
	return &c
}

// CheckMembershipChange enforces the owner rules for a change of one
// membership from before to after (nil before: it is being added; nil after:
// it is being removed). actorIsOwner says whether the caller is an active
// owner of the organization (platform administrators count as owners);
// activeOwners is the number of active owners before the change, read under
// a lock in the same transaction as the change.
//
// It returns ErrOwnerRequired when a non-owner makes, unmakes, suspends or
// removes an owner, and ErrLastOwner when the change would leave the
// organization without an active owner.
func CheckMembershipChange(before, after *Membership, actorIsOwner bool, activeOwners int) error {
	touchesOwner := (before != nil && before.HasRole(RoleOwner)) || (after != nil && after.HasRole(RoleOwner))
	if touchesOwner && !actorIsOwner && ownerChanged(before, after) {
		return ErrOwnerRequired
	}
	if before.IsActiveOwner() && !after.IsActiveOwner() && activeOwners <= 1 {
		return ErrLastOwner
	}
	return nil
}

func ownerChanged(before, after *Membership) bool {
	if before == nil || after == nil {
		return true
	}
	return before.HasRole(RoleOwner) != after.HasRole(RoleOwner) || before.status != after.status
}
