package ports

import (
	"context"
	"time"

	"github.com/orgstack/orgstack/domain"
)

// Clock tells the time. Injected so tests control it.
type Clock interface {
	Now() time.Time
}

// IDGenerator returns new unique identifiers (UUIDv7 text).
type IDGenerator interface {
	NewID() string
}

// SortField is one key of a sort order.
type SortField struct {
	Field string // one of the list's ListRules.Sorts
	Desc  bool
}

// PageRequest selects one page of a list: Page ≥ 1, 1 ≤ Size ≤ 100.
type PageRequest struct {
	Page int
	Size int
	Sort []SortField
}

// Offset returns the number of items before the page.
func (p PageRequest) Offset() int { return (p.Page - 1) * p.Size }

// Page is one page of a list with the total number of matching items.
type Page[T any] struct {
	Items []T
	Total int
	Page  int
	Size  int
}

// OrganizationFilter selects organizations. Text filters are
// case-insensitive substring matches with % and _ taken literally.
type OrganizationFilter struct {
	Q      string // name or slug contains
	Status string // "" for any
	// MemberUserID, when set, keeps organizations where that user has an
	// active membership.
	MemberUserID string
	// IDs, when non-nil, keeps only those organizations.
	IDs []string
	PageRequest
}

// OrganizationRepository stores organizations. Sort fields and default
// order: OrganizationList.
type OrganizationRepository interface {
	// Create stores a new organization. Errors: domain.ErrSlugTaken.
	Create(ctx context.Context, o *domain.Organization) error
	// Get returns the organization with that ID. Errors: domain.ErrNotFound.
	Get(ctx context.Context, id string) (*domain.Organization, error)
	// GetByRef returns the organization ref names (by ID or by slug).
	// Errors: domain.ErrNotFound.
	GetByRef(ctx context.Context, ref domain.OrgRef) (*domain.Organization, error)
	// GetForUpdate is Get that locks the row until the transaction ends.
	GetForUpdate(ctx context.Context, id string) (*domain.Organization, error)
	// Update stores o if the stored version is still prevVersion.
	// Errors: domain.ErrNotFound, domain.ErrVersionMismatch, domain.ErrSlugTaken.
	Update(ctx context.Context, o *domain.Organization, prevVersion int64) error
	// Delete removes the organization and everything it owns (memberships,
	// roles, custom permissions, its identity provider: a deletion that
	// IdentityProviderRepository.ListChangedSince reports). Errors:
	// domain.ErrNotFound.
	Delete(ctx context.Context, id string) error
	// List returns a page of organizations matching f.
	List(ctx context.Context, f OrganizationFilter) (Page[*domain.Organization], error)
}

// UserFilter selects users. Sort fields and default order: UserList.
type UserFilter struct {
	OrgID string // when set, only users with a membership in that organization (any status)
	Q     string // email or name contains (case-insensitive)
	Email string // email equals (case-insensitive)
	PageRequest
}

// UserRepository stores users. Users are global: one record per (issuer,
// subject), shared by every organization the user belongs to.
type UserRepository interface {
	// Create stores a new user. Errors: domain.ErrUserExists.
	Create(ctx context.Context, u *domain.User) error
	// CreateIfAbsent stores u unless a user with the same (issuer, subject)
	// exists, and returns the stored user (u or the existing one). A
	// concurrent creation of the same identity is no error: inside a
	// transaction it never aborts it.
	CreateIfAbsent(ctx context.Context, u *domain.User) (*domain.User, error)
	// Get returns a user by ID. Errors: domain.ErrNotFound.
	Get(ctx context.Context, id string) (*domain.User, error)
	// GetByIdentity returns the user for (issuer, subject). Errors: domain.ErrNotFound.
	GetByIdentity(ctx context.Context, issuer, subject string) (*domain.User, error)
	// Update stores the email and name of u (a token's newer claims) and its
	// version and, in the same transaction, increments the version of every
	// membership of u (a member shows its user's email and name). It leaves
	// the status and metadata alone and never writes to an erased user.
	// Errors: domain.ErrNotFound (no such user, or erased meanwhile).
	Update(ctx context.Context, u *domain.User) error
	// GetForUpdate returns a user by ID and locks it until the transaction
	// ends (FOR UPDATE on PostgreSQL). Errors: domain.ErrNotFound.
	GetForUpdate(ctx context.Context, id string) (*domain.User, error)
	// Save stores every field of u (email, name, status, metadata, version,
	// updated_at): the lifecycle changes, read with GetForUpdate in the same
	// transaction. Errors: domain.ErrNotFound.
	Save(ctx context.Context, u *domain.User) error
	// List returns a page of users matching f.
	List(ctx context.Context, f UserFilter) (Page[*domain.User], error)
}

// Member is a membership with the profile of its user.
type Member struct {
	Membership *domain.Membership
	User       *domain.User
}

// MemberFilter selects an organization's members. Sort fields and default
// order: MemberList.
type MemberFilter struct {
	OrgID  string // required
	Role   string // holds this role key
	Status string // "" for any
	Q      string // email or name contains (case-insensitive)
	PageRequest
}

// OrganizationMembership is one of a user's memberships with the
// organization's slug, for "who am I" answers.
type OrganizationMembership struct {
	Membership *domain.Membership
	OrgSlug    string
	OrgStatus  domain.OrganizationStatus
}

// MembershipRepository stores memberships. Every method is scoped to one
// organization except ListForUser.
type MembershipRepository interface {
	// Create stores a new membership. Errors: domain.ErrAlreadyMember.
	Create(ctx context.Context, m *domain.Membership) error
	// Get returns one membership. Errors: domain.ErrNotFound.
	Get(ctx context.Context, orgID, userID string) (*domain.Membership, error)
	// GetForUpdate is Get that locks the membership until the transaction ends.
	GetForUpdate(ctx context.Context, orgID, userID string) (*domain.Membership, error)
	// GetMember returns one membership with its user. Errors: domain.ErrNotFound.
	GetMember(ctx context.Context, orgID, userID string) (Member, error)
	// Update stores the roles, status and version of m if the stored
	// version is still m.Version()-1 (the version m was read at; Apply
	// increments it). Errors: domain.ErrNotFound, domain.ErrVersionMismatch.
	Update(ctx context.Context, m *domain.Membership) error
	// Delete removes one membership. Errors: domain.ErrNotFound.
	Delete(ctx context.Context, orgID, userID string) error
	// LockActiveOwners locks the active owner memberships of the organization
	// until the transaction ends and returns their user IDs. Concurrent
	// callers in other transactions wait, so the last-owner rule holds under
	// races.
	LockActiveOwners(ctx context.Context, orgID string) ([]string, error)
	// CountWithRole returns how many memberships (any status) hold role.
	CountWithRole(ctx context.Context, orgID string, role domain.RoleKey) (int, error)
	// List returns a page of the organization's members matching f.
	List(ctx context.Context, f MemberFilter) (Page[Member], error)
	// ListForUser returns every membership of a user, ordered by organization slug.
	ListForUser(ctx context.Context, userID string) ([]OrganizationMembership, error)
}

// RoleFilter selects an organization's custom roles. Sort fields and
// default order: RoleList.
type RoleFilter struct {
	OrgID string
	Q     string // key or name contains (case-insensitive)
	PageRequest
}

// RoleRepository stores custom roles (built-in roles are not stored).
type RoleRepository interface {
	// Create stores a new role. Errors: domain.ErrRoleExists.
	Create(ctx context.Context, r *domain.Role) error
	// Get returns one role by key. Errors: domain.ErrNotFound.
	Get(ctx context.Context, orgID string, key domain.RoleKey) (*domain.Role, error)
	// GetForUpdate is Get that locks the role until the transaction ends;
	// it waits for transactions that read it through GetManyForShare.
	GetForUpdate(ctx context.Context, orgID string, key domain.RoleKey) (*domain.Role, error)
	// GetMany returns the roles among keys that exist, in any order.
	GetMany(ctx context.Context, orgID string, keys []domain.RoleKey) ([]*domain.Role, error)
	// GetManyForShare is GetMany that keeps the roles found from being
	// deleted (through GetForUpdate) until the transaction ends. A role
	// being deleted by another transaction is waited for, then not found.
	GetManyForShare(ctx context.Context, orgID string, keys []domain.RoleKey) ([]*domain.Role, error)
	// Update stores the name, description, grants and version of r if the
	// stored version is still r.Version()-1. Errors: domain.ErrNotFound,
	// domain.ErrVersionMismatch.
	Update(ctx context.Context, r *domain.Role) error
	// Delete removes one role. Errors: domain.ErrNotFound.
	Delete(ctx context.Context, orgID string, key domain.RoleKey) error
	// CountGranting returns how many roles grant permission key by name.
	CountGranting(ctx context.Context, orgID string, key domain.PermissionKey) (int, error)
	// List returns every custom role of the organization matching f.
	List(ctx context.Context, f RoleFilter) ([]*domain.Role, error)
}

// PermissionFilter selects an organization's custom permissions (unsorted,
// unpaged: the application merges them with the system permissions).
type PermissionFilter struct {
	OrgID string
	Q     string // key or description contains (case-insensitive)
}

// PermissionRepository stores custom permissions (system permissions are not stored).
type PermissionRepository interface {
	// Create stores a new permission. Errors: domain.ErrPermissionExists.
	Create(ctx context.Context, p *domain.Permission) error
	// Get returns one permission by key. Errors: domain.ErrNotFound.
	Get(ctx context.Context, orgID string, key domain.PermissionKey) (*domain.Permission, error)
	// GetForUpdate is Get that locks the permission until the transaction
	// ends; it waits for transactions that read it through ExistingForShare.
	GetForUpdate(ctx context.Context, orgID string, key domain.PermissionKey) (*domain.Permission, error)
	// Existing returns which of keys exist in the organization.
	Existing(ctx context.Context, orgID string, keys []domain.PermissionKey) ([]domain.PermissionKey, error)
	// ExistingForShare is Existing that keeps the permissions found from
	// being deleted (through GetForUpdate) until the transaction ends. A
	// permission being deleted by another transaction is waited for, then
	// not found.
	ExistingForShare(ctx context.Context, orgID string, keys []domain.PermissionKey) ([]domain.PermissionKey, error)
	// Update stores the description and version of p if the stored
	// version is still p.Version()-1. Errors: domain.ErrNotFound,
	// domain.ErrVersionMismatch.
	Update(ctx context.Context, p *domain.Permission) error
	// Delete removes one permission. Errors: domain.ErrNotFound.
	Delete(ctx context.Context, orgID string, key domain.PermissionKey) error
	// List returns every custom permission of the organization matching f.
	List(ctx context.Context, f PermissionFilter) ([]*domain.Permission, error)
}

// IdentityProviderChange is the last change of one organization's
// identity provider.
type IdentityProviderChange struct {
	OrgID string
	// ChangeVersion is the change's place in the store-wide order of
	// provider changes.
	ChangeVersion int64
	// Provider is the configuration after the change; nil when the provider
	// (or its organization) was deleted.
	Provider *domain.IdentityProvider
}

// IdentityProviderRepository stores organizations' own identity providers,
// at most one per organization, keyed by the organization's ID.
//
// Every write (Create, Update, Delete, and deleting the organization) takes
// the next value of one store-wide change counter, and change values commit
// in increasing order: a reader that has applied every change up to N and
// then calls ListChangedSince(N) never misses a change committed later with
// a lower value. That is how instances keep their in-memory issuers in step:
// poll ListChangedSince with the last version seen (0 at start, which lists
// every provider), apply the changes, remember the returned version.
type IdentityProviderRepository interface {
	// Create stores the provider of an organization that has none. Errors:
	// domain.ErrIdentityProviderConflict (another organization's provider
	// accepts the same issuer and audience), domain.ErrVersionMismatch (the
	// organization has a provider already), domain.ErrNotFound (no such
	// organization).
	Create(ctx context.Context, p *domain.IdentityProvider) error
	// Get returns an organization's provider. Errors: domain.ErrNotFound.
	Get(ctx context.Context, orgID string) (*domain.IdentityProvider, error)
	// GetForUpdate is Get that locks the provider until the transaction ends.
	GetForUpdate(ctx context.Context, orgID string) (*domain.IdentityProvider, error)
	// Update stores p if the stored version is still prevVersion. Errors:
	// domain.ErrNotFound, domain.ErrVersionMismatch,
	// domain.ErrIdentityProviderConflict.
	Update(ctx context.Context, p *domain.IdentityProvider, prevVersion int64) error
	// Delete removes an organization's provider. Errors: domain.ErrNotFound.
	Delete(ctx context.Context, orgID string) error
	// OrgIDsByIssuer returns the IDs of the organizations whose provider has
	// that issuer (exact match), sorted.
	OrgIDsByIssuer(ctx context.Context, issuer string) ([]string, error)
	// ListChangedSince returns the last change of every provider changed
	// after change version since, in increasing change order, and the
	// current change version (the value to pass next time).
	ListChangedSince(ctx context.Context, since int64) ([]IdentityProviderChange, int64, error)
}

// Access is what one user is in one organization, read in a single round
// trip because every tenant-scoped request needs it. It is a plain value so
// that a cache can sit in front of AccessReader.
type Access struct {
	Org *domain.Organization // nil when the organization does not exist
	// User is nil when the identity was never seen.
	User *domain.User
	// Membership is nil when the user is not a member.
	Membership *domain.Membership
	// Roles are the custom roles the membership holds (built-in roles are
	// resolved by the application).
	Roles []*domain.Role
}

// AccessReader answers "who is this identity in this organization".
type AccessReader interface {
	// LoadAccess returns the organization org names (by ID or by slug), the
	// user for (issuer, subject) and the user's membership and custom roles
	// in it, in one database round trip. Missing parts are nil; it returns no
	// NotFound error.
	LoadAccess(ctx context.Context, org domain.OrgRef, issuer, subject string) (Access, error)
}

// CheckSubject names whose permission a check asks about: a user ID, or an
// identity (issuer, subject).
type CheckSubject struct {
	UserID  string
	Issuer  string
	Subject string
}

// CheckFacts is what deciding one check needs, read in one round trip.
type CheckFacts struct {
	Membership *domain.Membership // nil when the subject is not a member
	Roles      []*domain.Role     // custom roles the membership holds
	// PermissionDefined says whether the permission is a system permission or
	// a custom permission of the organization.
	PermissionDefined bool
	// UserStatus is the status of the member's user, read with the
	// membership (the zero value when there is no membership): a check
	// about a user who is not active is not allowed.
	UserStatus domain.UserStatus
}

// CheckReader reads the facts of a permission check.
type CheckReader interface {
	// CheckFacts returns, in one database round trip, the membership and
	// custom roles of who in orgID and whether perm is defined there.
	CheckFacts(ctx context.Context, orgID string, who CheckSubject, perm domain.PermissionKey) (CheckFacts, error)
	// AccessAndCheckFacts is LoadAccess and CheckFacts in one database round
	// trip: it returns what LoadAccess(org, issuer, subject)
	// returns and what CheckFacts returns for the organization found. When
	// no organization is found, the facts are those of an organization
	// without members or custom permissions.
	AccessAndCheckFacts(ctx context.Context, org domain.OrgRef, issuer, subject string,
		who CheckSubject, perm domain.PermissionKey) (Access, CheckFacts, error)
}

// Repositories gives the stores, inside or outside a transaction.
type Repositories interface {
	Organizations() OrganizationRepository
	Users() UserRepository
	Memberships() MembershipRepository
	Roles() RoleRepository
	Permissions() PermissionRepository
	IdentityProviders() IdentityProviderRepository
	AuditEvents() AuditEventRepository
	Webhooks() WebhookRepository
	Outbox() Outbox
}

// TxRunner runs work in one transaction.
type TxRunner interface {
	// RunInTx calls fn with repositories bound to a new transaction and
	// commits when fn returns nil, rolls back otherwise. Rules that read then
	// write must read through the ...ForUpdate and Lock... methods.
	//
	// When ctx carries an IdempotentRequest (and the store offers
	// IdempotencyStore), the first RunInTx of the request is its change
	// (or, when that one fails and rolls back, the next one):
	// before fn it looks the key up in the organization noted for the
	// request (NotedOrganization) and, instead of running fn, returns
	// ErrIdempotentReplay (the stored response in Replay),
	// ErrIdempotencyKeyReused or ErrIdempotencyKeyInFlight (another request
	// with the key holds it; decided without waiting where the database
	// allows). When fn succeeds it does not commit: it binds the open
	// transaction to the request (Bind) and returns nil; the edge commits
	// it with the response (PendingChange). Later RunInTx calls of the
	// request run inside that transaction (a savepoint each), so a request
	// never holds two connections. Use cases read nothing through the
	// store outside RunInTx after their change.
	RunInTx(ctx context.Context, fn func(ctx context.Context, r Repositories) error) error
}

// Store is a complete storage adapter.
type Store interface {
	Repositories
	TxRunner
	AccessReader
	CheckReader
	// Ping checks the connection, for readiness probes.
	Ping(ctx context.Context) error
}

// Migrator is offered by stores that keep a versioned schema. It is
// optional: bootstrap asserts it by type (`orgstack migrate` refuses a store
// without it, and `serve` then skips the schema check). Names are those of
// the migrations, oldest first.
type Migrator interface {
	// MigrateUp applies every pending migration and returns the names of
	// those it applied (none when the schema is current). Instances that
	// share a database may call it at once: an implementation serializes
	// them (each of MigrateUp, MigrateDown and MigrationStatus waits for the
	// others), so migrations run exactly once.
	MigrateUp(ctx context.Context) (applied []string, err error)
	// MigrateDown rolls back the last applied group of migrations and
	// returns their names (none when nothing is applied).
	MigrateDown(ctx context.Context) (rolledBack []string, err error)
	// MigrationStatus returns the applied and the pending migrations. The
	// schema is current when pending is empty.
	MigrationStatus(ctx context.Context) (applied, pending []string, err error)
}

// URLPolicy decides whether a URL a tenant supplies may be fetched: its
// scheme and the operator's allow-list (https, or plain http for a host:port
// the operator allows). It resolves nothing: the addresses a URL reaches are
// checked again when it is fetched.
type URLPolicy interface {
	// CheckURL returns nil when raw may be fetched, and otherwise an error
	// whose text says why, fit to show the tenant.
	CheckURL(raw string) error
}

// ProviderStatus is the state of an organization's identity provider's key
// set in this instance.
type ProviderStatus struct {
	// Active is true while its key set is kept (from the first token until
	// it is idle).
	Active bool
	// KeysLoaded is true once a key set with a usable key has loaded.
	KeysLoaded bool
	// LastRefresh is when a key set last loaded; zero if never.
	LastRefresh time.Time
	// LastError classifies the latest failed fetch ("" when none failed):
	// unreachable, timeout, http_status, invalid_response, no_usable_key or
	// issuer_mismatch; never an error's text.
	LastError string
}

// ProviderStatuses reports the key-set state of organizations' providers.
type ProviderStatuses interface {
	// ProviderStatus returns the status of orgID's provider, and false when
	// this instance does not serve one for it (yet).
	ProviderStatus(orgID string) (ProviderStatus, bool)
}

// ProviderTokenTester verifies a token against one organization's provider
// configuration, for the organization's dry run.
type ProviderTokenTester interface {
	// TestToken verifies raw as the tenant issuer orgID configured as spec
	// would verify it (keys fetched through the guarded client). A token
	// whose unverified iss is not spec.Issuer is refused with
	// ReasonIssuerMismatch alone, before anything is fetched. Errors are
	// *TokenError; a key set that cannot be loaded is ReasonKeysUnavailable
	// with a detail naming only its error class.
	TestToken(ctx context.Context, orgID string, spec domain.IdentityProviderSpec, raw string) (Principal, error)
}
