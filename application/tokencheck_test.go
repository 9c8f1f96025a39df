package application_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/orgstack/orgstack/application"
	"github.com/orgstack/orgstack/domain"
	"github.com/orgstack/orgstack/ports"
)

// tableVerifier is the verifier a dry run is given: each token maps to a
// principal or to the error verification would return.
type tableVerifier map[string]any

func (v tableVerifier) Verify(_ context.Context, raw string) (ports.Principal, error) {
	switch r := v[raw].(type) {
	case ports.Principal:
		return r, nil
	case error:
		return ports.Principal{}, r
	}
	return ports.Principal{}, &ports.TokenError{Reason: ports.ReasonMalformed, Detail: "unknown test token"}
}

func TestDryRun(t *testing.T) {
	e := newEnv(t, application.Config{})
	ctx := context.Background()
	acme := e.createOrg(t, principal("alice"), "acme")
	other := e.createOrg(t, principal("alice"), "other")
	e.createPermission(t, acme, "invoices:approve")
	e.createRole(t, acme, "approver", "invoices:approve")
	e.addMember(t, acme, principal("bob"), "member", "approver")
	carolID := e.addMember(t, acme, principal("carol"), "admin")
	e.setStatus(t, acme, carolID, "suspended")

	fromProvider := principal("bob")
	fromProvider.OrgClaim = other.ID() // ignored: the provider binds the token to acme
	fromProvider.ProviderOrgID = acme.ID()
	unavailable := &ports.TokenError{Reason: ports.ReasonKeysUnavailable, Detail: "no keys",
		Err: &ports.UnavailableError{Dependency: "identity provider"}}
	v := tableVerifier{
		"bob":      bound(principal("bob"), "acme"),
		"carol":    bound(principal("carol"), acme.ID()),
		"dan":      bound(principal("dan"), acme.ID()),
		"nowhere":  bound(principal("bob"), "no-such-org"),
		"unbound":  principal("bob"),
		"provider": fromProvider,
		"expired":  &ports.TokenError{Reason: ports.ReasonExpired, Detail: "the access token has expired"},
		"down":     unavailable,
	}

	tests := []struct {
		give       string
		wantOrg    string // slug; "" for none
		wantStatus string // membership status; "" for none
		wantRoles  []domain.RoleKey
		wantReason string
	}{
		{give: "bob", wantOrg: "acme", wantStatus: "active", wantRoles: []domain.RoleKey{"member", "approver"}},
		{give: "carol", wantOrg: "acme", wantStatus: "suspended", wantRoles: []domain.RoleKey{}},
		{give: "dan", wantOrg: "acme", wantRoles: []domain.RoleKey{}},
		{give: "nowhere", wantRoles: []domain.RoleKey{}},
		{give: "unbound", wantRoles: []domain.RoleKey{}},
		{give: "provider", wantOrg: "acme", wantStatus: "active", wantRoles: []domain.RoleKey{"member", "approver"}},
		{give: "expired", wantReason: "expired"},
	}
	for _, tt := range tests {
		t.Run(tt.give, func(t *testing.T) {
			got, err := application.DryRun(ctx, e.store, v, tt.give)
			if err != nil {
				t.Fatal(err)
			}
			if tt.wantReason != "" {
				if got.Accepted || got.Reason != tt.wantReason || got.Detail == "" {
					t.Errorf("got %+v, want refused with %s", got, tt.wantReason)
				}
				return
			}
			org, status := "", ""
			if got.Organization != nil {
				org = string(got.Organization.Slug())
			}
			if got.Membership != nil {
				status = got.Membership.Status().String()
			}
			if !got.Accepted || org != tt.wantOrg || status != tt.wantStatus || !slices.Equal(sorted(got.Roles), sorted(tt.wantRoles)) {
				t.Errorf("got accepted %v org %q status %q roles %v, want org %q status %q roles %v",
					got.Accepted, org, status, got.Roles, tt.wantOrg, tt.wantStatus, tt.wantRoles)
			}
		})
	}

	if _, err := application.DryRun(ctx, e.store, v, "down"); !errors.As(err, new(*ports.UnavailableError)) {
		t.Errorf("keys unavailable: got %v, want the *UnavailableError", err)
	}
	if _, err := e.store.Users().GetByIdentity(ctx, issuer, "dan"); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("got %v for dan, want ErrNotFound: a dry run creates no user", err)
	}
	svc := application.NewTokenCheckService(e.store, v)
	if _, err := svc.CheckToken(ctx, principal("alice"), "bob"); !errors.Is(err, domain.ErrPlatformAdminRequired) {
		t.Errorf("owner caller: got %v, want ErrPlatformAdminRequired", err)
	}
	if got, err := svc.CheckToken(ctx, platformAdmin(), "bob"); err != nil || !got.Accepted {
		t.Errorf("platform admin: got %+v %v, want accepted", got, err)
	}
}

func sorted(ks []domain.RoleKey) []domain.RoleKey {
	out := slices.Clone(ks)
	slices.Sort(out)
	return out
}
