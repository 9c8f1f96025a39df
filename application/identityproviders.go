package application

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"

	"github.com/orgstack/orgstack/domain"
	"github.com/orgstack/orgstack/ports"
)

var _ ports.IdentityProviders = (*IdentityProviderService)(nil)

// IdentityProviderService implements ports.IdentityProviders: an
// organization's own identity provider, and just-in-time membership for the
// users its tokens name.
type IdentityProviderService struct {
	auth     *authorizer
	cfg      Config
	urls     ports.URLPolicy        // nil: https only
	statuses ports.ProviderStatuses // nil: no status
	tester   ports.ProviderTokenTester
}

// httpsOnly is the URL policy without an allow-list.
type httpsOnly struct{}

func (httpsOnly) CheckURL(raw string) error {
	if !strings.HasPrefix(raw, "https://") {
		return errors.New("must be an https URL")
	}
	return nil
}

// validate is the model's rules and the URL policy together: one
// *domain.ValidationError naming every broken field.
func (s *IdentityProviderService) validate(spec domain.IdentityProviderSpec) error {
	var fe []domain.FieldError
	var ve *domain.ValidationError
	if err := spec.Validate(); errors.As(err, &ve) {
		fe = append(fe, ve.Fields...)
	} else if err != nil {
		return err
	}
	if err := s.checkURLs(spec); errors.As(err, &ve) {
		for _, f := range ve.Fields {
			if !slices.ContainsFunc(fe, func(g domain.FieldError) bool { return g.Field == f.Field }) {
				fe = append(fe, f)
			}
		}
	}
	if len(fe) > 0 {
		return &domain.ValidationError{Fields: fe}
	}
	return nil
}

// checkURLs applies the URL policy to the URLs of spec that will be
// fetched: the issuer (discovery) and jwks_url. A refused URL is a
// *domain.ValidationError naming its field.
func (s *IdentityProviderService) checkURLs(spec domain.IdentityProviderSpec) error {
	pol := s.urls
	if pol == nil {
		pol = httpsOnly{}
	}
	var fe []domain.FieldError
	if err := pol.CheckURL(spec.Issuer); err != nil {
		fe = append(fe, domain.FieldError{Field: "issuer", Detail: "must be an https URL (plain http only for a host:port the operator allows)"})
	}
	if spec.JWKSURL != "" {
		if err := pol.CheckURL(spec.JWKSURL); err != nil {
			fe = append(fe, domain.FieldError{Field: "jwks_url", Detail: "must be an https URL (plain http only for a host:port the operator allows)"})
		}
	}
	if len(fe) > 0 {
		return &domain.ValidationError{Fields: fe}
	}
	return nil
}

// Get returns the organization's provider (identity_provider:read).
func (s *IdentityProviderService) Get(ctx context.Context, p ports.Principal, org domain.OrgRef) (*domain.IdentityProvider, error) {
	acc, err := s.auth.authorize(ctx, p, org, domain.PermIdentityProviderRead, read)
	if err != nil {
		return nil, err
	}
	return s.auth.store.IdentityProviders().Get(ctx, acc.org.ID())
}

// Put creates or replaces the organization's provider
// (identity_provider:write) and reports whether it was created. ifVersion,
// when non-zero, must be the current version (a provider that does not
// exist has none: domain.ErrVersionMismatch). The rules, in order: the
// configuration is valid (*domain.ValidationError); the issuer is none of
// the operator's (domain.ErrIdentityProviderConflict); every mapped role
// exists (*domain.UnknownReferenceError, fields jit/role_mapping/<value>/<i>
// and jit/default_role) and is within the caller's grants
// (domain.ErrEscalation); no other organization's provider accepts the same
// issuer and audience (domain.ErrIdentityProviderConflict). It runs in one
// transaction that locks the organization, so concurrent puts serialize.
func (s *IdentityProviderService) Put(ctx context.Context, p ports.Principal, org domain.OrgRef, spec domain.IdentityProviderSpec, ifVersion int64) (*domain.IdentityProvider, bool, error) {
	az := s.auth
	acc, err := az.authorize(ctx, p, org, domain.PermIdentityProviderWrite, write)
	if err != nil {
		return nil, false, err
	}
	if err := s.validate(spec); err != nil {
		return nil, false, err
	}
	if slices.Contains(s.cfg.OperatorIssuers, spec.Issuer) {
		return nil, false, domain.ErrIdentityProviderConflict
	}
	orgID := acc.org.ID()
	var (
		out     *domain.IdentityProvider
		created bool
	)
	err = az.store.RunInTx(ctx, func(ctx context.Context, r ports.Repositories) error {
		if _, err := r.Organizations().GetForUpdate(ctx, orgID); err != nil {
			return err
		}
		if err := checkMappedRoles(ctx, r, acc, spec.JIT); err != nil {
			return err
		}
		now := az.clock.Now()
		cur, err := r.IdentityProviders().GetForUpdate(ctx, orgID)
		switch {
		case errors.Is(err, domain.ErrNotFound):
			if ifVersion != 0 && ifVersion != ports.IfMatchRequired {
				return domain.ErrVersionMismatch // If-Match: no current version to match
			}
			if out, err = domain.NewIdentityProvider(orgID, spec, now); err != nil {
				return err
			}
			created = true
			if err := r.IdentityProviders().Create(ctx, out); err != nil {
				return err
			}
			return az.record(ctx, r, change{actorOf(p, acc.user.ID()), orgID, domain.ActionIdentityProviderCreated, orgID,
				domain.Snapshot(providerFields, providerRecord(out), true)})
		case err != nil:
			return err
		}
		prev := cur.Version()
		if err := checkVersion(ifVersion, prev); err != nil {
			return err
		}
		before := providerRecord(cur)
		if err := cur.Replace(spec, now); err != nil {
			return err
		}
		out = cur
		if err := r.IdentityProviders().Update(ctx, cur, prev); err != nil {
			return err
		}
		return az.record(ctx, r, change{actorOf(p, acc.user.ID()), orgID, domain.ActionIdentityProviderUpdated, orgID,
			domain.Diff(providerFields, before, providerRecord(cur))})
	})
	if err != nil {
		return nil, false, err
	}
	return out, created, nil
}

// checkMappedRoles requires every role the JIT mapping hands out to exist
// (read FOR SHARE, so none is deleted meanwhile) and to be within the
// grants of the caller: a mapping can never give more than its author
// holds. Owner is refused by the domain before this.
func checkMappedRoles(ctx context.Context, r ports.Repositories, acc *access, j domain.JITMembership) error {
	keys := j.MappedRoles()
	if len(keys) == 0 {
		return nil
	}
	found, err := r.Roles().GetManyForShare(ctx, acc.org.ID(), customKeys(keys))
	if err != nil {
		return err
	}
	byKey := map[domain.RoleKey]*domain.Role{}
	for _, role := range found {
		if role.OrgID() == acc.org.ID() {
			byKey[role.Key()] = role
		}
	}
	for _, k := range keys {
		if b, ok := domain.BuiltinRole(k); ok {
			byKey[k] = b
		}
	}
	var fe []domain.FieldError
	for _, v := range slices.Sorted(mapsKeys(j.RoleMapping)) {
		for i, k := range j.RoleMapping[v] {
			if byKey[k] == nil {
				fe = append(fe, domain.FieldError{Field: "jit/role_mapping/" + pointerToken(v) + "/" + strconv.Itoa(i), Detail: "no role has this key"})
			}
		}
	}
	if j.DefaultRole != "" && byKey[j.DefaultRole] == nil {
		fe = append(fe, domain.FieldError{Field: "jit/default_role", Detail: "no role has this key"})
	}
	if len(fe) > 0 {
		return &domain.UnknownReferenceError{Fields: fe}
	}
	roles := make([]*domain.Role, 0, len(keys))
	for _, k := range keys {
		roles = append(roles, byKey[k])
	}
	return checkAssignable(acc, roles)
}

func mapsKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// pointerToken escapes a map key for use in a field path (RFC 6901).
func pointerToken(k string) string {
	out := make([]byte, 0, len(k))
	for i := 0; i < len(k); i++ {
		switch k[i] {
		case '~':
			out = append(out, '~', '0')
		case '/':
			out = append(out, '~', '1')
		default:
			out = append(out, k[i])
		}
	}
	return string(out)
}

// KeyStatus returns the key-set state of p reported by the verifier
// (ports.ProviderStatuses); false without one, or when the verifier serves
// another organization's provider under p's issuer.
func (s *IdentityProviderService) KeyStatus(p *domain.IdentityProvider) (ports.ProviderStatus, bool) {
	if s.statuses == nil || p == nil {
		return ports.ProviderStatus{}, false
	}
	return s.statuses.ProviderStatus(p.OrgID())
}

// Delete removes the organization's provider (identity_provider:write).
// Its users' memberships stay. ifVersion, when non-zero, must be the
// current version.
func (s *IdentityProviderService) Delete(ctx context.Context, p ports.Principal, org domain.OrgRef, ifVersion int64) error {
	az := s.auth
	acc, err := az.authorize(ctx, p, org, domain.PermIdentityProviderWrite, write)
	if err != nil {
		return err
	}
	return az.store.RunInTx(ctx, func(ctx context.Context, r ports.Repositories) error {
		cur, err := r.IdentityProviders().GetForUpdate(ctx, acc.org.ID())
		if err != nil {
			return err
		}
		if err := checkVersion(ifVersion, cur.Version()); err != nil {
			return err
		}
		if err := r.IdentityProviders().Delete(ctx, cur.OrgID()); err != nil {
			return err
		}
		return az.record(ctx, r, change{actorOf(p, acc.user.ID()), cur.OrgID(), domain.ActionIdentityProviderDeleted, cur.OrgID(),
			domain.Snapshot(providerFields, providerRecord(cur), false)})
	})
}

// SyncMembership is just-in-time membership, for the token verifier's
// caller to run when a token of an organization's own provider is used
// (p.ProviderOrgID set, p.MappedValues the values of the provider's role
// claim). In one transaction it:
//
//   - does nothing (nil, nil) unless p.ProviderOrgID names an organization
//     whose provider has p.Issuer and has just-in-time membership enabled,
//     or when that organization is suspended;
//   - creates the user on first use, and makes it an active member holding
//     the roles the values map to (jit.RolesFor: the default role when no
//     value is mapped; member when there is neither);
//   - for an existing active member, keeps the mapped roles in step: only
//     roles the mapping names (JITMembership.MappedRoles) are added or
//     removed; roles assigned through the API are kept; owner is never
//     granted or removed (the domain refuses it in any mapping); a mapped
//     role that no longer exists is skipped; when nothing would be left,
//     the member holds member;
//   - never touches a suspended membership (a suspended member is never
//     reactivated, nor are its roles changed);
//   - writes only when something changes.
//
// A member removed through the API is not remembered as removed: the next
// use of a token of the provider makes the user a member again. To keep
// someone out, suspend the membership (it stays suspended) or stop the
// provider from issuing tokens to them.
//
// It returns the membership after the call (nil when it did nothing).
func (s *IdentityProviderService) SyncMembership(ctx context.Context, p ports.Principal) (*domain.Membership, error) {
	if p.ProviderOrgID == "" || p.PlatformAdmin {
		return nil, nil
	}
	az := s.auth
	// A read outside the transaction first: a provider without
	// just-in-time membership (or another issuer's) costs one query and no
	// transaction.
	prov, err := az.store.IdentityProviders().Get(ctx, p.ProviderOrgID)
	switch {
	case errors.Is(err, domain.ErrNotFound):
		return nil, nil
	case err != nil:
		return nil, err
	case prov.Issuer() != p.Issuer || !prov.Spec().JIT.Enabled:
		return nil, nil
	}
	var out *domain.Membership
	err = az.store.RunInTx(ctx, func(ctx context.Context, r ports.Repositories) error {
		prov, err := r.IdentityProviders().Get(ctx, p.ProviderOrgID)
		if errors.Is(err, domain.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		jit := prov.Spec().JIT
		if prov.Issuer() != p.Issuer || !jit.Enabled {
			return nil
		}
		o, err := r.Organizations().Get(ctx, p.ProviderOrgID)
		if err != nil {
			return err
		}
		if !o.IsActive() {
			return nil
		}
		now := az.clock.Now()
		u, err := domain.NewUser(az.ids.NewID(), p.Issuer, p.Subject, p.Email, p.Name, now)
		if err != nil {
			if u, err = domain.NewUser(az.ids.NewID(), p.Issuer, p.Subject, "", "", now); err != nil {
				return err
			}
		}
		var events []change
		newID := u.ID()
		if u, err = r.Users().CreateIfAbsent(ctx, u); err != nil {
			return err
		}
		// A deactivated or erased user is neither re-activated nor given a
		// membership again: its token is refused (user lifecycle).
		if err := signInRefused(u); err != nil {
			return err
		}
		actor := providerActor(p, u.ID())
		if u.ID() == newID {
			events = append(events, change{actor, "", domain.ActionUserCreated, u.ID(), domain.Snapshot(userFields, userRecord(u), true)})
		}
		managed := jit.MappedRoles()
		existing, err := existingRoles(ctx, r, o.ID(), managed)
		if err != nil {
			return err
		}
		var want []domain.RoleKey
		for _, k := range jit.RolesFor(p.MappedValues) {
			if slices.Contains(existing, k) {
				want = append(want, k)
			}
		}
		m, err := r.Memberships().GetForUpdate(ctx, o.ID(), u.ID())
		switch {
		case errors.Is(err, domain.ErrNotFound):
			if len(want) == 0 {
				want = []domain.RoleKey{domain.RoleMember}
			}
			if m, err = domain.NewMembership(o.ID(), u.ID(), roleStrings(want), now); err != nil {
				return err
			}
			if err := r.Memberships().Create(ctx, m); err != nil {
				return err
			}
			out = m
			events = append(events, change{actor, o.ID(), domain.ActionMemberAdded, u.ID(), domain.Snapshot(memberFields, memberRecord(m), true)})
			return az.record(ctx, r, events...)
		case err != nil:
			return err
		}
		out = m
		if !m.IsActive() {
			return az.record(ctx, r, events...)
		}
		next := syncedRoles(m.Roles(), managed, want)
		if slices.Equal(next, m.Roles()) {
			return az.record(ctx, r, events...)
		}
		before := m.Clone()
		rs := roleStrings(next)
		if err := m.Apply(domain.MembershipChanges{Roles: &rs}, now); err != nil {
			return err
		}
		if err := r.Memberships().Update(ctx, m); err != nil {
			return err
		}
		events = append(events, change{actor, o.ID(), domain.ActionMemberRolesChanged, u.ID(),
			domain.Diff(memberFields, memberRecord(before), memberRecord(m))})
		return az.record(ctx, r, events...)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// syncedRoles are the roles a member holding current keeps after
// just-in-time membership: the roles the mapping does not manage (and
// owner) kept, the managed ones replaced by want; member when nothing is
// left. Sorted, each once.
func syncedRoles(current, managed, want []domain.RoleKey) []domain.RoleKey {
	var next []domain.RoleKey
	for _, k := range current {
		if !slices.Contains(managed, k) || k == domain.RoleOwner {
			next = append(next, k)
		}
	}
	next = append(next, want...)
	slices.Sort(next)
	next = slices.Compact(next)
	if len(next) == 0 {
		next = []domain.RoleKey{domain.RoleMember}
	}
	return next
}

// TestToken is the organization's dry run (see ports.IdentityProviders).
func (s *IdentityProviderService) TestToken(ctx context.Context, p ports.Principal, org domain.OrgRef, token string, candidate *domain.IdentityProviderSpec) (ports.TokenCheckResult, error) {
	var none ports.TokenCheckResult
	az := s.auth
	acc, err := az.authorize(ctx, p, org, domain.PermIdentityProviderWrite, write)
	if err != nil {
		return none, err
	}
	orgID := acc.org.ID()
	var spec domain.IdentityProviderSpec
	if candidate != nil {
		if err := s.validate(*candidate); err != nil {
			return none, err
		}
		if slices.Contains(s.cfg.OperatorIssuers, candidate.Issuer) {
			return none, domain.ErrIdentityProviderConflict
		}
		if err := checkMappedRoles(ctx, az.store, acc, candidate.JIT); err != nil {
			return none, err
		}
		spec = *candidate
	} else {
		prov, err := az.store.IdentityProviders().Get(ctx, orgID)
		if err != nil {
			return none, err
		}
		spec = prov.Spec()
	}
	if s.tester == nil {
		return ports.TokenCheckResult{Reason: string(ports.ReasonKeysUnavailable), Detail: "no verifier is configured"}, nil
	}
	tp, err := s.tester.TestToken(ctx, orgID, spec, token)
	var te *ports.TokenError
	switch {
	case errors.As(err, &te):
		return ports.TokenCheckResult{Reason: string(te.Reason), Detail: te.Detail}, nil
	case err != nil:
		return none, err
	}
	res := ports.TokenCheckResult{Accepted: true, Principal: tp, Organization: acc.org, Roles: []domain.RoleKey{}}
	a, err := az.store.LoadAccess(ctx, domain.OrgRefByID(orgID), tp.Issuer, tp.Subject)
	if err != nil {
		return none, err
	}
	m := a.Membership
	if m != nil && (a.User == nil || m.OrgID() != orgID || m.UserID() != a.User.ID()) {
		m = nil
	}
	res.Membership = m
	jit := spec.JIT
	switch {
	case m != nil && !m.IsActive():
		// A suspended member stays suspended, with no roles.
	case jit.Enabled && acc.org.IsActive():
		managed := jit.MappedRoles()
		existing, err := existingRoles(ctx, az.store, orgID, managed)
		if err != nil {
			return none, err
		}
		var want []domain.RoleKey
		for _, k := range jit.RolesFor(tp.MappedValues) {
			if slices.Contains(existing, k) {
				want = append(want, k)
			}
		}
		var current []domain.RoleKey
		if m != nil {
			current = m.Roles()
		}
		res.Roles = syncedRoles(current, managed, want)
	case m != nil:
		for _, r := range rolesHeld(m, a.Roles) {
			res.Roles = append(res.Roles, r.Key())
		}
	}
	return res, nil
}

// existingRoles returns the keys among keys that name a role of the
// organization (built-in or custom), reading the custom ones FOR SHARE.
func existingRoles(ctx context.Context, r ports.Repositories, orgID string, keys []domain.RoleKey) ([]domain.RoleKey, error) {
	var out []domain.RoleKey
	for _, k := range keys {
		if domain.IsBuiltinRole(k) {
			out = append(out, k)
		}
	}
	if custom := customKeys(keys); len(custom) > 0 {
		found, err := r.Roles().GetManyForShare(ctx, orgID, custom)
		if err != nil {
			return nil, err
		}
		for _, role := range found {
			if role.OrgID() == orgID {
				out = append(out, role.Key())
			}
		}
	}
	return out, nil
}

func roleStrings(keys []domain.RoleKey) []string {
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = string(k)
	}
	return out
}

// foreignIssuer reports whether issuer is the issuer of another
// organization's own provider than orgID's: users of that issuer belong to
// that organization, and no other organization may name them.
func (az *authorizer) foreignIssuer(ctx context.Context, orgID, issuer string) (bool, error) {
	ids, err := az.store.IdentityProviders().OrgIDsByIssuer(ctx, issuer)
	if err != nil {
		return false, err
	}
	return len(ids) > 0 && !slices.Contains(ids, orgID), nil
}

// errForeignIssuer is the validation error of a request that names, in
// field, the issuer of another organization's provider.
func errForeignIssuer(field string) error {
	return domain.Invalid(field, "is the issuer of another organization's identity provider; its users belong to that organization")
}
