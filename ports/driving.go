package ports

import (
	"context"

	"github.com/orgstack/orgstack/domain"
)

// Every driving port takes the verified Principal and, for tenant-scoped
// use cases, a domain.OrgRef: the organization named in the request path
// (an ID or a slug, told apart by shape), or the zero OrgRef to use the
// token's organization claim.
//
// Common errors of every tenant-scoped method, in the order they are
// decided: ErrOrgContextRequired (a zero OrgRef and no claim),
// domain.ErrOrganizationMismatch (a bound token names another
// organization), domain.ErrNotFound (no such organization, or the caller is
// not an active member and not a platform admin),
// domain.ErrOrganizationSuspended (a write in a suspended organization),
// domain.ErrForbidden (a missing permission).

// ErrOrgContextRequired is the error of a tenant-scoped call that names no
// organization: its OrgRef is "" and the principal is bound to none. It is a
// property of how the call was made, not a business rule, so it lives at the
// edge of the hexagon rather than in the domain; each driving adapter tells
// its callers how to name the organization.
var ErrOrgContextRequired = &domain.Error{
	Kind: domain.KindInvalid, Code: "organization_context_required",
	Message: "the request names no organization and the token is bound to none",
}

// CreateOrganization is the input of Organizations.Create.
type CreateOrganization struct {
	Slug     string
	Name     string
	Metadata map[string]string
}

// The driving ports take a *Query (what a caller asks of a list: filters
// and a page request, checked against the list's ListRules); the use cases
// turn it into the driven port's *Filter, which adds what only the
// application decides (the organization, the members to keep).

// OrganizationQuery filters the organizations a caller may see
// (OrganizationList).
type OrganizationQuery struct {
	Q      string
	Status string
	PageRequest
}

// Organizations manages organizations.
type Organizations interface {
	// Create creates an organization owned by the caller. Errors:
	// domain.ErrPlatformAdminRequired (when creation is restricted),
	// *domain.ValidationError, domain.ErrSlugTaken.
	Create(ctx context.Context, p Principal, in CreateOrganization) (*domain.Organization, error)
	// Get returns an organization the caller may read (organization:read).
	Get(ctx context.Context, p Principal, org domain.OrgRef) (*domain.Organization, error)
	// List returns the organizations the caller is an active member of; only
	// the bound organization for a bound token; every one for a platform admin.
	List(ctx context.Context, p Principal, q OrganizationQuery) (Page[*domain.Organization], error)
	// Update applies changes (organization:update; status only by platform
	// admins: domain.ErrPlatformAdminRequired). ifVersion, when non-zero, must
	// match the current version (domain.ErrVersionMismatch). Errors also:
	// *domain.ValidationError, domain.ErrSlugTaken.
	Update(ctx context.Context, p Principal, org domain.OrgRef, c domain.OrganizationChanges, ifVersion int64) (*domain.Organization, error)
	// Delete removes the organization and everything it owns (organization:delete).
	Delete(ctx context.Context, p Principal, org domain.OrgRef, ifVersion int64) error
}

// MembershipSummary is one membership in a Profile.
type MembershipSummary struct {
	OrgID       string
	OrgSlug     string
	Roles       []domain.RoleKey
	Status      domain.MemberStatus
	Permissions []domain.Grant // effective grants as held; empty when suspended
	// Excluded are the permissions that a wildcard among Permissions does not
	// give after all (an admin's organization:delete).
	Excluded []domain.PermissionKey
}

// Profile is the caller's own record.
type Profile struct {
	User        *domain.User
	Memberships []MembershipSummary
}

// Me answers "who am I".
type Me interface {
	// Me returns the caller's user record and memberships, creating the
	// user record on first use.
	Me(ctx context.Context, p Principal) (Profile, error)
	// UpdateMetadata merges changes into the caller's own metadata (a nil
	// value removes the key) and returns the profile. ifVersion as for
	// Members.Update, against the user's version. Errors:
	// *domain.ValidationError, domain.ErrVersionMismatch.
	UpdateMetadata(ctx context.Context, p Principal, changes map[string]*string, ifVersion int64) (Profile, error)
}

// AddMember is the input of Members.Add: either UserID, or Subject (with
// optional Issuer, default the caller's, Email and Name) to pre-provision the
// user.
type AddMember struct {
	UserID  string
	Subject string
	Issuer  string
	Email   string
	Name    string
	Roles   []string
}

// MemberQuery filters an organization's members (MemberList).
type MemberQuery struct {
	Role   string // holds this role key
	Status string // "" for any
	Q      string // email or name contains (case-insensitive)
	PageRequest
}

// Members manages an organization's memberships.
type Members interface {
	// List needs members:read.
	List(ctx context.Context, p Principal, org domain.OrgRef, q MemberQuery) (Page[Member], error)
	// Get needs members:read.
	Get(ctx context.Context, p Principal, org domain.OrgRef, userID string) (Member, error)
	// Add needs members:write. Errors: *domain.ValidationError (also for an
	// unknown user_id or role), domain.ErrEscalation, domain.ErrOwnerRequired,
	// domain.ErrAlreadyMember, domain.ErrUserErased (an erased user's
	// tombstone gets no membership).
	Add(ctx context.Context, p Principal, org domain.OrgRef, in AddMember) (Member, error)
	// Update needs members:write. ifVersion, when non-zero, must match the
	// current version (domain.ErrVersionMismatch), compared in the
	// transaction that writes. Errors also: domain.ErrLastOwner.
	Update(ctx context.Context, p Principal, org domain.OrgRef, userID string, c domain.MembershipChanges, ifVersion int64) (Member, error)
	// Remove needs members:write; ifVersion as for Update. Errors also:
	// domain.ErrLastOwner.
	Remove(ctx context.Context, p Principal, org domain.OrgRef, userID string, ifVersion int64) error
}

// UserQuery filters user profiles (UserList).
type UserQuery struct {
	Q     string // email or name contains (case-insensitive)
	Email string // email equals (case-insensitive)
	PageRequest
}

// Users reads user profiles.
type Users interface {
	// List returns the profiles of the organization's members (members:read).
	List(ctx context.Context, p Principal, org domain.OrgRef, q UserQuery) (Page[*domain.User], error)
	// Get returns one member's profile (members:read).
	Get(ctx context.Context, p Principal, org domain.OrgRef, userID string) (*domain.User, error)
	// ListAll returns every user (platform admins only).
	ListAll(ctx context.Context, p Principal, q UserQuery) (Page[*domain.User], error)
	// GetAny returns any user by ID (platform admins only). Errors:
	// domain.ErrPlatformAdminRequired, domain.ErrNotFound.
	GetAny(ctx context.Context, p Principal, userID string) (*domain.User, error)
	// SetStatus deactivates (domain.UserDeactivated) or activates
	// (domain.UserActive) a user (platform admins only). ifVersion, when
	// non-zero, must be the user's current version. Errors:
	// domain.ErrPlatformAdminRequired, domain.ErrNotFound,
	// *domain.ValidationError (another status), domain.ErrUserErased,
	// domain.ErrVersionMismatch, domain.ErrPreconditionRequired.
	SetStatus(ctx context.Context, p Principal, userID string, status string, ifVersion int64) (*domain.User, error)
	// Erase removes every membership of a user and clears its personal
	// fields, keeping a tombstone (platform admins only); ifVersion as for
	// SetStatus. Errors: domain.ErrPlatformAdminRequired, domain.ErrNotFound,
	// domain.ErrUserErased, *domain.LastOwnerError (the user is the last
	// active owner of organizations), domain.ErrVersionMismatch,
	// domain.ErrPreconditionRequired.
	Erase(ctx context.Context, p Principal, userID string, ifVersion int64) error
}

// CreateRole is the input of Roles.Create.
type CreateRole struct {
	Key         string
	Name        string
	Description string
	Permissions []string
}

// RoleQuery filters an organization's roles (RoleList).
type RoleQuery struct {
	Q string // key or name contains (case-insensitive)
	PageRequest
}

// Roles manages an organization's roles; built-in roles are listed too.
type Roles interface {
	// List returns built-in roles followed by custom ones (roles:read).
	List(ctx context.Context, p Principal, org domain.OrgRef, q RoleQuery) (Page[*domain.Role], error)
	// Get needs roles:read.
	Get(ctx context.Context, p Principal, org domain.OrgRef, key string) (*domain.Role, error)
	// Create needs roles:write. Errors: *domain.ValidationError (also for a
	// grant naming an undefined permission), domain.ErrEscalation,
	// domain.ErrRoleExists.
	Create(ctx context.Context, p Principal, org domain.OrgRef, in CreateRole) (*domain.Role, error)
	// Update needs roles:write. ifVersion, when non-zero, must match the
	// current version (domain.ErrVersionMismatch), compared in the
	// transaction that writes. Errors also: domain.ErrBuiltinRole.
	Update(ctx context.Context, p Principal, org domain.OrgRef, key string, c domain.RoleChanges, ifVersion int64) (*domain.Role, error)
	// Delete needs roles:write; ifVersion as for Update. Errors:
	// domain.ErrBuiltinRole, domain.ErrRoleInUse.
	Delete(ctx context.Context, p Principal, org domain.OrgRef, key string, ifVersion int64) error
}

// PermissionQuery filters permissions (PermissionList).
type PermissionQuery struct {
	Type string // "", "system" or "custom"
	Q    string
	PageRequest
}

// CreatePermission is the input of Permissions.Create.
type CreatePermission struct {
	Key         string
	Description string
}

// Permissions manages an organization's custom permissions and lists the
// system ones.
type Permissions interface {
	// List needs permissions:read.
	List(ctx context.Context, p Principal, org domain.OrgRef, q PermissionQuery) (Page[*domain.Permission], error)
	// Get needs permissions:read.
	Get(ctx context.Context, p Principal, org domain.OrgRef, key string) (*domain.Permission, error)
	// Create needs permissions:write. Errors: domain.ErrPermissionExists.
	Create(ctx context.Context, p Principal, org domain.OrgRef, in CreatePermission) (*domain.Permission, error)
	// Update changes the description (permissions:write). Errors: domain.ErrSystemPermission.
	// ifVersion, when non-zero, must match the current version
	// (domain.ErrVersionMismatch), compared in the transaction that writes.
	Update(ctx context.Context, p Principal, org domain.OrgRef, key string, description string, ifVersion int64) (*domain.Permission, error)
	// Delete needs permissions:write. Errors: domain.ErrSystemPermission,
	// domain.ErrPermissionInUse.
	// ifVersion as for Update.
	Delete(ctx context.Context, p Principal, org domain.OrgRef, key string, ifVersion int64) error
}

// CheckRequest asks whether a user may do something: UserID or Subject
// (with optional Issuer, default the caller's), and Permission.
type CheckRequest struct {
	UserID     string
	Subject    string
	Issuer     string
	Permission string
}

// CheckResult answers a CheckRequest.
type CheckResult struct {
	Allowed   bool
	GrantedBy []domain.RoleKey
}

// Checks answers permission checks.
type Checks interface {
	// Check answers one request. Anyone may check themselves; checking others
	// needs authz:check. Errors: *domain.ValidationError (both or neither of
	// user_id and subject; a malformed permission).
	Check(ctx context.Context, p Principal, org domain.OrgRef, r CheckRequest) (CheckResult, error)
	// CheckBatch answers 1 to 100 requests in order; a validation error names
	// the index ("checks/3/permission").
	CheckBatch(ctx context.Context, p Principal, org domain.OrgRef, rs []CheckRequest) ([]CheckResult, error)
}

// TokenCheckResult is the answer of a token dry run: whether the token would
// be accepted, and then the principal, organization and roles it would
// produce, or else the Stage 3 reason (TokenReasons) and its detail.
type TokenCheckResult struct {
	Accepted  bool
	Principal Principal // zero unless Accepted
	// Organization is the organization the token is bound to (its claim, or
	// its provider's organization), or nil when it names none or one that
	// does not exist.
	Organization *domain.Organization
	// Membership is the token's user's membership in Organization, or nil
	// when the user was never seen or is not a member.
	Membership *domain.Membership
	// Roles are the roles the token would act with in Organization: those of
	// an active membership; empty otherwise.
	Roles  []domain.RoleKey
	Reason string // a TokenReasons value unless Accepted
	Detail string
}

// TokenChecks is the operator's dry run of a token: it verifies the token
// exactly as authentication does and resolves, read-only, what it would
// produce. It never creates a user or a membership, and the token is never
// logged, stored or returned.
type TokenChecks interface {
	// CheckToken checks token for the caller, who must be a platform
	// administrator (domain.ErrPlatformAdminRequired). A token that would be
	// refused is a result (Accepted false), not an error. Errors:
	// *UnavailableError (keys or the store cannot be read now).
	CheckToken(ctx context.Context, caller Principal, token string) (TokenCheckResult, error)
}

// IdentityProviders manages an organization's own identity provider (at
// most one). Errors besides the common ones: *domain.ValidationError,
// *domain.UnknownReferenceError (a mapped role that does not exist),
// domain.ErrEscalation (a mapped role beyond the caller's grants),
// domain.ErrIdentityProviderConflict (an operator's issuer, or an issuer
// and audience another organization's provider accepts),
// domain.ErrVersionMismatch.
type IdentityProviders interface {
	// Get returns the provider (identity_provider:read). Errors:
	// domain.ErrNotFound when the organization has none.
	Get(ctx context.Context, p Principal, org domain.OrgRef) (*domain.IdentityProvider, error)
	// Put creates or replaces the provider (identity_provider:write) and
	// reports whether it was created. ifVersion, when non-zero, must be the
	// current version.
	Put(ctx context.Context, p Principal, org domain.OrgRef, spec domain.IdentityProviderSpec, ifVersion int64) (*domain.IdentityProvider, bool, error)
	// Delete removes the provider (identity_provider:write); members stay.
	Delete(ctx context.Context, p Principal, org domain.OrgRef, ifVersion int64) error
	// SyncMembership runs just-in-time membership for a principal of an
	// organization's own provider (see the application's documentation).
	SyncMembership(ctx context.Context, p Principal) (*domain.Membership, error)
	// KeyStatus returns the key-set state of provider p in this instance,
	// and false when it reports none (never used yet, or not served).
	KeyStatus(p *domain.IdentityProvider) (ProviderStatus, bool)
	// TestToken is the organization's dry run (identity_provider:write):
	// whether token would be accepted by the organization's provider, or by
	// candidate when it is not nil (validated as a PUT validates it), and
	// the principal, organization and roles it would produce (just-in-time
	// membership's, without writing anything), or the reason it would be
	// refused. A token of any other issuer gets only ReasonIssuerMismatch.
	// The token is never logged, stored or returned. Errors:
	// domain.ErrNotFound without candidate when the organization has no
	// provider; those of Put for an invalid candidate.
	TestToken(ctx context.Context, p Principal, org domain.OrgRef, token string, candidate *domain.IdentityProviderSpec) (TokenCheckResult, error)
}

// IfMatchRequired is the ifVersion of a change whose caller had to name the
// version it replaces (ORGSTACK_REQUIRE_IF_MATCH) and named none: the
// service refuses it with domain.ErrPreconditionRequired, after the
// authorization and existence checks, where a stale version would be
// refused with domain.ErrVersionMismatch. 0 names no version (any matches).
const IfMatchRequired int64 = -2
