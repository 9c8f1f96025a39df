package domain

import (
	"slices"
	"time"
)

// RoleKey identifies a role in its organization: 2 to 63 characters of a-z,
// 0-9, '_', '.' and '-', starting with a letter. It never changes.
type RoleKey string

// ParseRoleKey validates v as a role key.
func ParseRoleKey(v string) (RoleKey, error) {
	if len(v) < 2 || !validKeyPart(v) {
		return "", Invalid("", "must be 2 to 63 characters of a-z, 0-9, '_', '.', '-', starting with a letter")
	}
	return RoleKey(v), nil
}

// The built-in role keys.
const (
	RoleOwner  RoleKey = "owner"
	RoleAdmin  RoleKey = "admin"
	RoleMember RoleKey = "member"
)

// MaxRoleName is the longest role name.
const MaxRoleName = 100

// Role is a named set of grants that members hold in one organization.
// Built-in roles (owner, admin, member) exist in every organization, are
// defined here once and cannot be changed; custom roles belong to one
// organization.
type Role struct {
	id          string
	orgID       string
	key         RoleKey
	name        string
	description string
	grants      []Grant
	except      []PermissionKey // built-in only: permissions withheld despite a wildcard
	builtin     bool
	createdAt   time.Time
	updatedAt   time.Time
	version     int64 // built-in roles: BuiltinVersion, forever
}

// BuiltinVersion is the fixed version of every built-in role and system
// permission: they are defined in code and never change at run time.
const BuiltinVersion int64 = 1

var builtinRoles = []*Role{
	{
		key: RoleOwner, name: "Owner", builtin: true, version: BuiltinVersion,
		description: "Everything, custom permissions included",
		grants:      []Grant{{"*", "*"}},
	},
	{
		key: RoleAdmin, name: "Administrator", builtin: true, version: BuiltinVersion,
		description: "Everything except deleting the organization and changing its identity provider",
		grants:      []Grant{{"*", "*"}},
		except:      []PermissionKey{PermOrganizationDelete, PermIdentityProviderWrite},
	},
	{
		key: RoleMember, name: "Member", builtin: true, version: BuiltinVersion,
		description: "Read the organization, its members, roles and permissions",
		grants: []Grant{
			GrantOf(PermOrganizationRead), GrantOf(PermMembersRead),
			GrantOf(PermRolesRead), GrantOf(PermPermissionsRead),
		},
	},
}

// BuiltinRoles returns the built-in roles: owner, admin, member.
func BuiltinRoles() []*Role { return slices.Clone(builtinRoles) }

// BuiltinRole returns the built-in role with key k, if there is one.
func BuiltinRole(k RoleKey) (*Role, bool) {
	for _, r := range builtinRoles {
		if r.key == k {
			return r, true
		}
	}
	return nil, false
}

// IsBuiltinRole reports whether k names a built-in role.
func IsBuiltinRole(k RoleKey) bool {
	_, ok := BuiltinRole(k)
	return ok
}

// NewRole creates a custom role. Its key must not be a built-in role's key.
// Whether each concrete grant names an existing permission, and whether the
// caller may grant it, is checked by the application.
func NewRole(id, orgID, key, name, description string, grants []string, now time.Time) (*Role, error) {
	var fe fieldErrors
	k, err := ParseRoleKey(key)
	fe.add("key", err)
	if err == nil && IsBuiltinRole(k) {
		fe.add("key", Invalid("", "%q is a built-in role", key))
	}
	fe.add("name", validateName(name, MaxRoleName))
	fe.add("description", validateDescription(description))
	gs, err := ParseGrants(grants)
	fe.add("permissions", err)
	if err := fe.err(); err != nil {
		return nil, err
	}
	return &Role{id: id, orgID: orgID, key: k, name: name, description: description, grants: gs, createdAt: now, updatedAt: now, version: 1}, nil
}

// UnmarshalRoleFromDatabase rebuilds a custom role from storage, skipping the
// creation rules. For storage adapters only.
func UnmarshalRoleFromDatabase(id, orgID, key, name, description string, grants []string, createdAt, updatedAt time.Time) *Role {
	gs := make([]Grant, 0, len(grants))
	for _, v := range grants {
		if g, err := ParseGrant(v); err == nil {
			gs = append(gs, g)
		}
	}
	return &Role{id: id, orgID: orgID, key: RoleKey(key), name: name, description: description, grants: gs, createdAt: createdAt, updatedAt: updatedAt, version: 1}
}

// WithVersion sets the stored version on a role rebuilt by
// UnmarshalRoleFromDatabase and returns r. For storage adapters only.
func (r *Role) WithVersion(v int64) *Role {
	r.version = v
	return r
}

// Version returns the version number, which grows by one on every change of
// a custom role; built-in roles keep BuiltinVersion.
func (r *Role) Version() int64 { return r.version }

// ID returns the identifier of a custom role; built-in roles have none.
func (r *Role) ID() string { return r.id }

// OrgID returns the owning organization of a custom role.
func (r *Role) OrgID() string { return r.orgID }

// Key returns the role key.
func (r *Role) Key() RoleKey { return r.key }

// Name returns the display name.
func (r *Role) Name() string { return r.name }

// Description returns the description.
func (r *Role) Description() string { return r.description }

// Grants returns the role's grants.
func (r *Role) Grants() []Grant { return slices.Clone(r.grants) }

// Except returns the permissions a built-in role withholds despite its
// wildcard grant (admin withholds organization:delete).
func (r *Role) Except() []PermissionKey { return slices.Clone(r.except) }

// IsBuiltin reports whether r is a built-in role.
func (r *Role) IsBuiltin() bool { return r.builtin }

// CreatedAt returns the creation time (zero for built-in roles).
func (r *Role) CreatedAt() time.Time { return r.createdAt }

// UpdatedAt returns the time of the last change (zero for built-in roles).
func (r *Role) UpdatedAt() time.Time { return r.updatedAt }

// Allows reports whether the role gives permission k.
func (r *Role) Allows(k PermissionKey) bool {
	if slices.Contains(r.except, k) {
		return false
	}
	for _, g := range r.grants {
		if g.Allows(k) {
			return true
		}
	}
	return false
}

// RoleChanges is a partial update of a custom role. Nil fields are left alone.
type RoleChanges struct {
	Name        *string
	Description *string
	Grants      *[]string
}

// Apply validates and applies changes to a custom role. Built-in roles refuse
// every change with ErrBuiltinRole.
func (r *Role) Apply(c RoleChanges, now time.Time) error {
	if r.builtin {
		return ErrBuiltinRole
	}
	var fe fieldErrors
	next := *r
	if c.Name != nil {
		fe.add("name", validateName(*c.Name, MaxRoleName))
		next.name = *c.Name
	}
	if c.Description != nil {
		fe.add("description", validateDescription(*c.Description))
		next.description = *c.Description
	}
	if c.Grants != nil {
		gs, err := ParseGrants(*c.Grants)
		fe.add("permissions", err)
		next.grants = gs
	}
	if err := fe.err(); err != nil {
		return err
	}
	next.updatedAt = now
	next.version = r.version + 1
	*r = next
	return nil
}

// GrantSet is everything a member holds through its roles.
type GrantSet struct {
	roles []*Role
}

// NewGrantSet combines the grants of roles.
func NewGrantSet(roles ...*Role) GrantSet { return GrantSet{roles: roles} }

// Allows reports whether any role in the set gives permission k.
func (s GrantSet) Allows(k PermissionKey) bool {
	for _, r := range s.roles {
		if r.Allows(k) {
			return true
		}
	}
	return false
}

// GrantedBy returns the keys of the roles that give permission k.
func (s GrantSet) GrantedBy(k PermissionKey) []RoleKey {
	var out []RoleKey
	for _, r := range s.roles {
		if r.Allows(k) {
			out = append(out, r.key)
		}
	}
	return out
}

// Grants returns every grant held, as held (wildcards included), without
// duplicates.
func (s GrantSet) Grants() []Grant {
	var out []Grant
	for _, r := range s.roles {
		for _, g := range r.grants {
			if !slices.Contains(out, g) {
				out = append(out, g)
			}
		}
	}
	return out
}

// Withheld returns the permissions that a role's wildcard grant withholds
// (admin withholds organization:delete) and that no role of the set gives
// after all, so that "*" is never read as more than it is.
func (s GrantSet) Withheld() []PermissionKey {
	var out []PermissionKey
	for _, r := range s.roles {
		for _, e := range r.except {
			if !s.Allows(e) && !slices.Contains(out, e) {
				out = append(out, e)
			}
		}
	}
	return out
}

// Covers reports whether the set may hand out g: some single role includes
// g entirely and withholds nothing g would give. Holding invoices:approve
// does not cover invoices:*; admin (everything but organization:delete) does
// not cover organization:* or *.
func (s GrantSet) Covers(g Grant) bool { return s.covers(g, nil) }

// CoversRole reports whether the set may hand out every grant of role t, so
// that assigning t gives nothing the set does not hold. A role that withholds
// a permission (admin) is covered by a set that withholds the same one.
func (s GrantSet) CoversRole(t *Role) bool {
	for _, g := range t.grants {
		if !s.covers(g, t.except) {
			return false
		}
	}
	return true
}

func (s GrantSet) covers(g Grant, withheld []PermissionKey) bool {
	for _, r := range s.roles {
		if r.covers(g, withheld) {
			return true
		}
	}
	return false
}

func (r *Role) covers(g Grant, withheld []PermissionKey) bool {
	for _, e := range r.except {
		if g.Allows(e) && !slices.Contains(withheld, e) {
			return false
		}
	}
	for _, mine := range r.grants {
		if mine.Includes(g) {
			return true
		}
	}
	return false
}
