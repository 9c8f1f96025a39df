package application

import (
	"context"
	"errors"

	"github.com/orgstack/orgstack/domain"
	"github.com/orgstack/orgstack/ports"
)

var _ ports.TokenChecks = (*TokenCheckService)(nil)

// TokenCheckService implements ports.TokenChecks: the dry run of a token
// against a verifier. The operator's route (/admin/token-check) gives it the
// verifier of the operator-configured issuers; an organization's dry run
// reuses DryRun with the verifier of that organization's provider.
type TokenCheckService struct {
	store    ports.Store
	verifier ports.TokenVerifier
}

// NewTokenCheckService returns the dry run against verifier, reading store.
func NewTokenCheckService(store ports.Store, verifier ports.TokenVerifier) *TokenCheckService {
	return &TokenCheckService{store: store, verifier: verifier}
}

// CheckToken runs the dry run for a platform administrator.
func (s *TokenCheckService) CheckToken(ctx context.Context, caller ports.Principal, token string) (ports.TokenCheckResult, error) {
	if !caller.PlatformAdmin {
		return ports.TokenCheckResult{}, domain.ErrPlatformAdminRequired
	}
	return DryRun(ctx, s.store, s.verifier, token)
}

// DryRun verifies token with verifier and resolves, read-only, the
// organization and roles it would produce: the organization it is bound to
// (its provider's, or its claim's), the user's membership there and the
// roles of an active membership. It writes nothing. A refused token is a
// result carrying the *ports.TokenError's reason and detail; an unavailable
// key set or store is a *ports.UnavailableError; anything else is internal.
func DryRun(ctx context.Context, store ports.Store, verifier ports.TokenVerifier, token string) (ports.TokenCheckResult, error) {
	p, err := verifier.Verify(ctx, token)
	var te *ports.TokenError
	switch {
	case err == nil:
	case errors.As(err, &te) && te.Reason != ports.ReasonKeysUnavailable:
		return ports.TokenCheckResult{Reason: string(te.Reason), Detail: te.Detail}, nil
	default:
		return ports.TokenCheckResult{}, err
	}
	res := ports.TokenCheckResult{Accepted: true, Principal: p, Roles: []domain.RoleKey{}}
	ref := domain.ParseOrgRef(p.OrgClaim)
	if p.ProviderOrgID != "" {
		ref = domain.ParseOrgRef(p.ProviderOrgID)
	}
	if ref.IsZero() {
		// No organization to read with the user: one read of the user
		// alone, for its lifecycle status.
		u, err := store.Users().GetByIdentity(ctx, p.Issuer, p.Subject)
		switch {
		case errors.Is(err, domain.ErrNotFound):
			return res, nil
		case err != nil:
			return ports.TokenCheckResult{}, err
		}
		return refusedUser(res, u), nil
	}
	a, err := store.LoadAccess(ctx, ref, p.Issuer, p.Subject)
	if err != nil {
		return ports.TokenCheckResult{}, err
	}
	if a.User != nil && !a.User.IsActive() {
		return refusedUser(res, a.User), nil
	}
	res.Organization = a.Org
	if a.Org == nil || a.User == nil || a.Membership == nil ||
		a.Membership.OrgID() != a.Org.ID() || a.Membership.UserID() != a.User.ID() {
		return res, nil
	}
	res.Membership = a.Membership
	if a.Membership.IsActive() {
		for _, r := range rolesHeld(a.Membership, a.Roles) {
			res.Roles = append(res.Roles, r.Key())
		}
	}
	return res, nil
}

// refusedUser is res, or the refusal a token of a deactivated or erased
// user gets (reason user_deactivated or user_erased), as authentication
// would answer it.
func refusedUser(res ports.TokenCheckResult, u *domain.User) ports.TokenCheckResult {
	var te *ports.TokenError
	if err := signInRefused(u); errors.As(err, &te) {
		return ports.TokenCheckResult{Reason: string(te.Reason), Detail: te.Detail}
	}
	return res
}
