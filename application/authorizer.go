package application

import (
	"context"
	"errors"

	"github.com/orgstack/orgstack/domain"
	"github.com/orgstack/orgstack/ports"
)

// authorizer is the one place that turns a principal and an organization
// into grants and answers "may this principal do P in this organization".
type authorizer struct {
	store ports.Store
	clock ports.Clock
	ids   ports.IDGenerator
	// jit runs just-in-time membership for principals of organizations'
	// own providers before their access is loaded; nil in tests that build
	// an authorizer alone.
	jit *IdentityProviderService
	// limiter, when set, takes one request from the organization's quota
	// once the caller's access to it is established (see accessFrom).
	limiter ports.OrganizationLimiter
}

// access is what the caller is in one organization, resolved for one request.
type access struct {
	principal  ports.Principal
	org        *domain.Organization
	user       *domain.User       // the caller's own record, never nil
	membership *domain.Membership // nil when the caller is not a member
	grants     domain.GrantSet    // empty unless the membership is active; owner's for platform admins
}

// isOwner reports whether the caller counts as an active owner: an active
// owner membership, or a platform administrator.
func (a *access) isOwner() bool {
	return a.principal.PlatformAdmin || a.membership.IsActiveOwner()
}

// can reports whether the caller holds permission k here.
func (a *access) can(k domain.PermissionKey) bool { return a.grants.Allows(k) }

// intent says whether a use case reads or writes; writes are refused in a
// suspended organization.
type intent int

const (
	read intent = iota
	write
)

// authorize resolves the organization and the caller's access to it and
// requires permission perm. The errors come in the documented order:
// ports.ErrOrgContextRequired, ErrOrganizationMismatch, ErrNotFound,
// ErrOrganizationSuspended (writes), ErrForbidden.
func (az *authorizer) authorize(ctx context.Context, p ports.Principal, org domain.OrgRef, perm domain.PermissionKey, i intent) (*access, error) {
	acc, err := az.resolve(ctx, p, org)
	if err != nil {
		return nil, err
	}
	if i == write && !acc.org.IsActive() && !p.PlatformAdmin {
		return nil, domain.ErrOrganizationSuspended
	}
	if !acc.can(perm) {
		return nil, domain.ErrForbidden
	}
	return acc, nil
}

// resolve finds the organization a tenant-scoped request is about and what
// the caller is in it, in one store round trip (plus one lookup when a bound
// token and the path name the organization in different forms). It returns
// ErrNotFound for an organization that does not exist or that the caller is
// not an active member of, unless the caller is a platform administrator.
func (az *authorizer) resolve(ctx context.Context, p ports.Principal, org domain.OrgRef) (*access, error) {
	ref, err := az.scopeRef(ctx, p, org)
	if err != nil {
		return nil, err
	}
	return az.resolveRef(ctx, p, ref)
}

// resolveRef is resolve for a reference already decided by scopeRef.
func (az *authorizer) resolveRef(ctx context.Context, p ports.Principal, ref domain.OrgRef) (*access, error) {
	if err := az.syncProviderMember(ctx, p); err != nil {
		return nil, err
	}
	a, err := az.store.LoadAccess(ctx, ref, p.Issuer, p.Subject)
	if err != nil {
		return nil, err
	}
	return az.accessFrom(ctx, p, a)
}

// syncProviderMember runs just-in-time membership for a principal of an
// organization's own identity provider, before its access is read. Tokens
// of operator-configured issuers (no ProviderOrgID) skip it without any
// query; provider tokens write only when something changes.
func (az *authorizer) syncProviderMember(ctx context.Context, p ports.Principal) error {
	if p.ProviderOrgID == "" || p.PlatformAdmin || az.jit == nil {
		return nil
	}
	// Provisioning is not the change the caller asked for: it is never
	// bound to the request's idempotency key.
	_, err := az.jit.SyncMembership(ports.AsideFromChange(ctx), p)
	return err
}

// accessFrom applies the access rules to what the store read about the
// caller: the caller's record is created or refreshed, and ErrNotFound is
// returned for a missing organization or a caller who is not an active
// member of it (platform administrators excepted). Then the organization's
// rate limit, when configured, is taken (*ports.RateLimitedError).
func (az *authorizer) accessFrom(ctx context.Context, p ports.Principal, a ports.Access) (*access, error) {
	user, err := az.ensureUser(ctx, p, a.User)
	if err != nil {
		return nil, err
	}
	if a.Org == nil {
		return nil, domain.ErrNotFound
	}
	ports.NoteOrganization(ctx, a.Org.ID()) // for the access log
	m := a.Membership
	if m != nil && (m.OrgID() != a.Org.ID() || m.UserID() != user.ID()) {
		m = nil // defensive: never trust a membership of someone or somewhere else
	}
	if !p.PlatformAdmin && (m == nil || !m.IsActive()) {
		return nil, domain.ErrNotFound
	}
	// The organization's quota is taken here, once per tenant request: by
	// its resolved ID (an ID and a slug share one quota), with no extra
	// round trip, and only for callers who may see it (an outsider cannot
	// spend a tenant's quota).
	if az.limiter != nil {
		if err := az.limiter.AdmitOrganization(ctx, a.Org.ID()); err != nil {
			return nil, err
		}
	}
	acc := &access{principal: p, org: a.Org, user: user, membership: m}
	switch {
	case p.PlatformAdmin:
		owner, _ := domain.BuiltinRole(domain.RoleOwner)
		acc.grants = domain.NewGrantSet(owner)
	default:
		acc.grants = grantsOf(m, a.Roles)
	}
	return acc, nil
}

// boundRef is the organization a token is bound to: its provider's
// organization, by ID, for a token of an organization's own identity
// provider (its organization claim is ignored); otherwise its organization
// claim; the zero reference when it is bound to none.
func boundRef(p ports.Principal) domain.OrgRef {
	if p.ProviderOrgID != "" {
		return domain.OrgRefByID(p.ProviderOrgID)
	}
	return domain.ParseOrgRef(p.OrgClaim)
}

// bound reports whether the token is bound to an organization.
func bound(p ports.Principal) bool { return p.ProviderOrgID != "" || p.OrgClaim != "" }

// scopeRef decides which organization reference a request uses: the path's,
// or the token's claim when the path names none. A bound token naming
// another organization is refused; when both references have the same form
// this is decided from the token alone, without a lookup.
func (az *authorizer) scopeRef(ctx context.Context, p ports.Principal, org domain.OrgRef) (domain.OrgRef, error) {
	claim := boundRef(p)
	_, orgByID := org.ID()
	_, claimByID := claim.ID()
	switch {
	case org.IsZero() && claim.IsZero():
		return domain.OrgRef{}, ports.ErrOrgContextRequired
	case org.IsZero():
		return claim, nil
	case claim.IsZero() || claim == org:
		return org, nil
	case orgByID == claimByID:
		return domain.OrgRef{}, domain.ErrOrganizationMismatch
	}
	o, err := az.store.Organizations().GetByRef(ctx, org)
	if errors.Is(err, domain.ErrNotFound) {
		return domain.OrgRef{}, domain.ErrOrganizationMismatch
	}
	if err != nil {
		return domain.OrgRef{}, err
	}
	if !claim.Names(o) {
		return domain.OrgRef{}, domain.ErrOrganizationMismatch
	}
	return org, nil
}

// grantsOf returns what a membership gives: nothing when it is missing or
// suspended, else its built-in roles and those of custom that it holds.
func grantsOf(m *domain.Membership, custom []*domain.Role) domain.GrantSet {
	if m == nil || !m.IsActive() {
		return domain.NewGrantSet()
	}
	return domain.NewGrantSet(rolesHeld(m, custom)...)
}

// rolesHeld resolves the role keys of m to roles: built-in ones from the
// domain, custom ones from custom. Keys with no role are skipped.
func rolesHeld(m *domain.Membership, custom []*domain.Role) []*domain.Role {
	keys := m.Roles()
	out := make([]*domain.Role, 0, len(keys))
	for _, k := range keys {
		if r, ok := domain.BuiltinRole(k); ok {
			out = append(out, r)
			continue
		}
		for _, r := range custom {
			if r.Key() == k && r.OrgID() == m.OrgID() {
				out = append(out, r)
				break
			}
		}
	}
	return out
}

// customKeys returns the keys among keys that are not built-in roles.
func customKeys(keys []domain.RoleKey) []domain.RoleKey {
	var out []domain.RoleKey
	for _, k := range keys {
		if !domain.IsBuiltinRole(k) {
			out = append(out, k)
		}
	}
	return out
}

// ensureUser returns the caller's user record, creating it on first use and
// refreshing its email and name only when the token carries new values.
// known is the record already read, or nil when none exists.
func (az *authorizer) ensureUser(ctx context.Context, p ports.Principal, known *domain.User) (*domain.User, error) {
	users := az.store.Users()
	u := known
	if u == nil {
		created, err := az.createUser(ctx, p)
		if err != nil {
			return nil, err
		}
		if created != nil {
			return created, nil
		}
		// Someone else created it meanwhile: use theirs.
		if u, err = users.GetByIdentity(ctx, p.Issuer, p.Subject); err != nil {
			return nil, err
		}
	}
	if err := signInRefused(u); err != nil {
		return nil, err
	}
	beforeEmail, beforeName := u.Email(), u.Name()
	if u.RefreshClaims(p.Email, p.Name, az.clock.Now()) {
		// Which personal fields changed is recorded, never their values.
		var changed []domain.FieldChange
		if u.Email() != beforeEmail {
			changed = append(changed, domain.FieldChange{Field: "email", Redacted: true})
		}
		if u.Name() != beforeName {
			changed = append(changed, domain.FieldChange{Field: "name", Redacted: true})
		}
		err := az.store.RunInTx(ctx, func(ctx context.Context, r ports.Repositories) error {
			if err := r.Users().Update(ctx, u); err != nil {
				return err
			}
			return az.record(ctx, r, change{providerActor(p, u.ID()), "", domain.ActionUserUpdated, u.ID(), changed})
		})
		if err != nil {
			return nil, err
		}
	}
	return u, nil
}

// signInRefused returns the 401 a token of u gets when u is not active
// (user lifecycle): *ports.TokenError with ports.ReasonUserDeactivated or
// ports.ReasonUserErased. The status is read from the database with the
// caller's access on every request, so a deactivation takes effect at once,
// for tokens already verified and cached too. An erased user's tombstone
// keeps its issuer and subject, so its next token finds it here instead of
// creating a new user.
func signInRefused(u *domain.User) error {
	err := u.CheckSignIn()
	switch {
	case err == nil:
		return nil
	case errors.Is(err, domain.ErrUserErased):
		return &ports.TokenError{Reason: ports.ReasonUserErased, Detail: "the token's user was erased", Err: err}
	}
	return &ports.TokenError{Reason: ports.ReasonUserDeactivated, Detail: "the token's user is deactivated", Err: err}
}

// createUser stores a new user for the principal. It returns nil and no
// error when the identity already exists.
func (az *authorizer) createUser(ctx context.Context, p ports.Principal) (*domain.User, error) {
	now := az.clock.Now()
	u, err := domain.NewUser(az.ids.NewID(), p.Issuer, p.Subject, p.Email, p.Name, now)
	if err != nil {
		// Claims the model cannot keep (an overlong email) are dropped;
		// the identity itself must be valid.
		if u, err = domain.NewUser(az.ids.NewID(), p.Issuer, p.Subject, "", "", now); err != nil {
			return nil, err
		}
	}
	err = az.store.RunInTx(ctx, func(ctx context.Context, r ports.Repositories) error {
		if err := r.Users().Create(ctx, u); err != nil {
			return err
		}
		return az.record(ctx, r, change{providerActor(p, u.ID()), "", domain.ActionUserCreated, u.ID(),
			domain.Snapshot(userFields, userRecord(u), true)})
	})
	switch {
	case errors.Is(err, domain.ErrUserExists):
		return nil, nil
	case err != nil:
		return nil, err
	}
	return u, nil
}

// callerUser returns the caller's record without an organization, creating
// or refreshing it as ensureUser does.
func (az *authorizer) callerUser(ctx context.Context, p ports.Principal) (*domain.User, error) {
	if err := az.syncProviderMember(ctx, p); err != nil {
		return nil, err
	}
	u, err := az.store.Users().GetByIdentity(ctx, p.Issuer, p.Subject)
	switch {
	case errors.Is(err, domain.ErrNotFound):
		u = nil
	case err != nil:
		return nil, err
	}
	return az.ensureUser(ctx, p, u)
}

// noSuchID is an ID no organization or user has: IDs are UUIDv7, and this
// is the nil UUID.
const noSuchID = "00000000-0000-0000-0000-000000000000"

// userKey returns a user ID from a request path as the store may be asked
// about it: unchanged, or noSuchID when it is not text a key may hold, so
// that the answer is the one for any unknown user (after the organization
// and permission checks) and the store never sees text it cannot hold.
func userKey(userID string) string {
	if !domain.IsKeyText(userID) {
		return noSuchID
	}
	return userID
}
