package domain

import (
	"strconv"
	"strings"
	"time"
)

// PermissionKey names one thing a user may do: "resource:action", each part
// 1 to 63 characters of a-z, 0-9, '_', '.' and '-', starting with a letter.
type PermissionKey struct {
	resource string
	action   string
}

// ParsePermissionKey validates v as a permission key.
func ParsePermissionKey(v string) (PermissionKey, error) {
	res, act, ok := strings.Cut(v, ":")
	if !ok {
		return PermissionKey{}, Invalid("", "must have the form resource:action")
	}
	if !validKeyPart(res) || !validKeyPart(act) {
		return PermissionKey{}, Invalid("", "resource and action must each be 1 to 63 characters of a-z, 0-9, '_', '.', '-', starting with a letter")
	}
	return PermissionKey{resource: res, action: act}, nil
}

func validKeyPart(s string) bool {
	if len(s) < 1 || len(s) > 63 || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-') {
			return false
		}
	}
	return true
}

// Resource returns the part before the colon.
func (k PermissionKey) Resource() string { return k.resource }

// Action returns the part after the colon.
func (k PermissionKey) Action() string { return k.action }

// IsZero reports whether k is the zero value.
func (k PermissionKey) IsZero() bool { return k.resource == "" }

func (k PermissionKey) String() string { return k.resource + ":" + k.action }

// IsSystem reports whether k is one of the API's own permissions.
func (k PermissionKey) IsSystem() bool {
	for _, p := range systemPermissions {
		if p.key == k {
			return true
		}
	}
	return false
}

// The system permissions: the API's own, present in every organization.
var (
	PermOrganizationRead      = PermissionKey{"organization", "read"}
	PermOrganizationUpdate    = PermissionKey{"organization", "update"}
	PermOrganizationDelete    = PermissionKey{"organization", "delete"}
	PermMembersRead           = PermissionKey{"members", "read"}
	PermMembersWrite          = PermissionKey{"members", "write"}
	PermRolesRead             = PermissionKey{"roles", "read"}
	PermRolesWrite            = PermissionKey{"roles", "write"}
	PermPermissionsRead       = PermissionKey{"permissions", "read"}
	PermPermissionsWrite      = PermissionKey{"permissions", "write"}
	PermAuthzCheck            = PermissionKey{"authz", "check"}
	PermIdentityProviderRead  = PermissionKey{"identity_provider", "read"}
	PermIdentityProviderWrite = PermissionKey{"identity_provider", "write"}
	PermAuditRead             = PermissionKey{"audit", "read"}
	PermWebhooksRead          = PermissionKey{"webhooks", "read"}
	PermWebhooksWrite         = PermissionKey{"webhooks", "write"}
)

var systemResources = map[string]bool{
	"organization": true, "members": true, "roles": true, "permissions": true, "authz": true,
	"identity_provider": true, "webhooks": true,
}

// IsSystemResource reports whether name is reserved for system permissions.
func IsSystemResource(name string) bool { return systemResources[name] }

// Permission is a permission an organization can grant. System permissions
// exist in every organization and are defined here, in code; custom
// permissions are defined by an organization for its own applications and may
// not use a system resource name.
type Permission struct {
	id          string
	orgID       string
	key         PermissionKey
	description string
	system      bool
	createdAt   time.Time
	updatedAt   time.Time
	version     int64 // system permissions: BuiltinVersion, forever
}

var systemPermissions = []*Permission{
	{key: PermOrganizationRead, description: "Read the organization", system: true, version: BuiltinVersion},
	{key: PermOrganizationUpdate, description: "Update the organization's name, slug and metadata", system: true, version: BuiltinVersion},
	{key: PermOrganizationDelete, description: "Delete the organization and everything it owns", system: true, version: BuiltinVersion},
	{key: PermMembersRead, description: "List and read members and their user profiles", system: true, version: BuiltinVersion},
	{key: PermMembersWrite, description: "Add, change, suspend and remove members", system: true, version: BuiltinVersion},
	{key: PermRolesRead, description: "List and read roles", system: true, version: BuiltinVersion},
	{key: PermRolesWrite, description: "Create, change and delete custom roles", system: true, version: BuiltinVersion},
	{key: PermPermissionsRead, description: "List and read permissions", system: true, version: BuiltinVersion},
	{key: PermPermissionsWrite, description: "Create, change and delete custom permissions", system: true, version: BuiltinVersion},
	{key: PermAuthzCheck, description: "Check the permissions of other users", system: true, version: BuiltinVersion},
	{key: PermIdentityProviderRead, description: "Read the organization's identity provider", system: true, version: BuiltinVersion},
	{key: PermIdentityProviderWrite, description: "Register, replace and remove the organization's identity provider", system: true, version: BuiltinVersion},
	{key: PermAuditRead, description: "Read the organization's audit log", system: true, version: BuiltinVersion},
	{key: PermWebhooksRead, description: "List and read webhooks and their deliveries", system: true, version: BuiltinVersion},
	{key: PermWebhooksWrite, description: "Create, change, delete and replay webhooks and rotate their secrets", system: true, version: BuiltinVersion},
}

// SystemPermissions returns the system permissions in their canonical order.
func SystemPermissions() []*Permission {
	out := make([]*Permission, len(systemPermissions))
	copy(out, systemPermissions)
	return out
}

// SystemPermission returns the system permission with key k, if there is one.
func SystemPermission(k PermissionKey) (*Permission, bool) {
	for _, p := range systemPermissions {
		if p.key == k {
			return p, true
		}
	}
	return nil, false
}

// MaxDescription is the longest description of a role or permission.
const MaxDescription = 500

// validateDescription checks a description: free text of at most
// MaxDescription characters.
func validateDescription(d string) error { return validateFreeText(d, MaxDescription) }

// NewCustomPermission defines a custom permission in an organization. The key
// must not use a system resource name.
func NewCustomPermission(id, orgID, key, description string, now time.Time) (*Permission, error) {
	var fe fieldErrors
	k, err := ParsePermissionKey(key)
	fe.add("key", err)
	if err == nil && IsSystemResource(k.resource) {
		fe.add("key", Invalid("", "the resource %q is reserved for system permissions", k.resource))
	}
	fe.add("description", validateDescription(description))
	if err := fe.err(); err != nil {
		return nil, err
	}
	return &Permission{id: id, orgID: orgID, key: k, description: description, createdAt: now, updatedAt: now, version: 1}, nil
}

// UnmarshalPermissionFromDatabase rebuilds a custom permission from storage,
// skipping the creation rules. For storage adapters only.
func UnmarshalPermissionFromDatabase(id, orgID, key, description string, createdAt, updatedAt time.Time) *Permission {
	res, act, _ := strings.Cut(key, ":")
	return &Permission{id: id, orgID: orgID, key: PermissionKey{res, act}, description: description, createdAt: createdAt, updatedAt: updatedAt, version: 1}
}

// WithVersion sets the stored version on a permission rebuilt by
// UnmarshalPermissionFromDatabase and returns p. For storage adapters only.
func (p *Permission) WithVersion(v int64) *Permission {
	p.version = v
	return p
}

// Version returns the version number, which grows by one on every change of
// a custom permission; system permissions keep BuiltinVersion.
func (p *Permission) Version() int64 { return p.version }

// ID returns the identifier of a custom permission; system permissions have none.
func (p *Permission) ID() string { return p.id }

// OrgID returns the owning organization of a custom permission.
func (p *Permission) OrgID() string { return p.orgID }

// Key returns the permission key.
func (p *Permission) Key() PermissionKey { return p.key }

// Description returns the human description.
func (p *Permission) Description() string { return p.description }

// IsSystem reports whether p is a system permission.
func (p *Permission) IsSystem() bool { return p.system }

// CreatedAt returns the creation time (zero for system permissions).
func (p *Permission) CreatedAt() time.Time { return p.createdAt }

// UpdatedAt returns the time of the last change (zero for system permissions).
func (p *Permission) UpdatedAt() time.Time { return p.updatedAt }

// Describe changes the description of a custom permission.
func (p *Permission) Describe(description string, now time.Time) error {
	if p.system {
		return ErrSystemPermission
	}
	if err := validateDescription(description); err != nil {
		return &ValidationError{Fields: []FieldError{{Field: "description", Detail: err.(*ValidationError).Fields[0].Detail}}}
	}
	p.description = description
	p.updatedAt = now
	p.version++
	return nil
}

// Grant is what a role gives: a permission key, every action of a resource
// ("invoices:*") or everything ("*").
type Grant struct {
	resource string // "*" for everything
	action   string // "*" for every action of resource
}

// ParseGrant validates v as a grant.
func ParseGrant(v string) (Grant, error) {
	if v == "*" {
		return Grant{"*", "*"}, nil
	}
	res, act, ok := strings.Cut(v, ":")
	if ok && act == "*" {
		if !validKeyPart(res) {
			return Grant{}, Invalid("", "must be a permission key, resource:* or *")
		}
		return Grant{res, "*"}, nil
	}
	k, err := ParsePermissionKey(v)
	if err != nil {
		return Grant{}, Invalid("", "must be a permission key, resource:* or *")
	}
	return Grant{k.resource, k.action}, nil
}

// GrantOf returns the grant of exactly one permission.
func GrantOf(k PermissionKey) Grant { return Grant{k.resource, k.action} }

func (g Grant) String() string {
	switch {
	case g.resource == "*":
		return "*"
	case g.action == "*":
		return g.resource + ":*"
	}
	return g.resource + ":" + g.action
}

// IsPattern reports whether g is a wildcard rather than one permission.
func (g Grant) IsPattern() bool { return g.action == "*" }

// Key returns the permission g names, when g is not a pattern.
func (g Grant) Key() (PermissionKey, bool) {
	if g.IsPattern() {
		return PermissionKey{}, false
	}
	return PermissionKey{g.resource, g.action}, true
}

// Allows reports whether g gives permission k.
func (g Grant) Allows(k PermissionKey) bool {
	switch {
	case g.resource == "*":
		return true
	case g.action == "*":
		return g.resource == k.resource
	}
	return g.resource == k.resource && g.action == k.action
}

// Includes reports whether everything other gives is also given by g.
func (g Grant) Includes(other Grant) bool {
	switch {
	case g.resource == "*":
		return true
	case other.resource == "*":
		return false
	case g.action == "*":
		return g.resource == other.resource
	}
	return other.action != "*" && g == other
}

// ParseGrants parses a list of grants, dropping duplicates and keeping order.
// It returns a *ValidationError whose fields are the list indexes.
func ParseGrants(vs []string) ([]Grant, error) {
	var fe fieldErrors
	out := make([]Grant, 0, len(vs))
	seen := make(map[Grant]bool, len(vs))
	for i, v := range vs {
		g, err := ParseGrant(v)
		if err != nil {
			fe.add(strconv.Itoa(i), err)
			continue
		}
		if !seen[g] {
			seen[g] = true
			out = append(out, g)
		}
	}
	if err := fe.err(); err != nil {
		return nil, err
	}
	return out, nil
}
