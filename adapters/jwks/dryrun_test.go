package jwks

import (
	"context"
	"errors"
	"testing"

	"github.com/orgstack/orgstack/domain"
	"github.com/orgstack/orgstack/ports"
)

// TestTestToken: the organization's dry run. A token of another issuer (or
// none) is issuer_mismatch and fetches nothing; the provider's own token is
// verified with keys fetched for the call, bound to the organization and
// never platform administrator; an unreachable key set is keys_unavailable
// naming only its class.
func TestTestToken(t *testing.T) {
	ops := newKeyServer(t, defaultKeys()...)
	m, err := NewIssuers(t.Context(), []Config{{Issuer: "https://op.test", Audience: testAud, JWKSURL: ops.URL}}, IssuersOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ks := newKeyServer(t, defaultKeys()...)
	spec := domain.IdentityProviderSpec{Issuer: "https://idp.test/realms/acme", JWKSURL: ks.URL, Audiences: []string{testAud},
		Algorithms: []string{"RS256"}, JIT: domain.JITMembership{Enabled: true, RoleClaim: domain.ClaimPath{"groups"}}}
	ctx := context.Background()
	reason := func(err error) ports.TokenReason {
		var te *ports.TokenError
		if errors.As(err, &te) {
			return te.Reason
		}
		return ""
	}
	for _, iss := range []any{"https://op.test", "https://elsewhere.test", nil} {
		raw := sign(t, token{claims: clm(map[string]any{"iss": iss})})
		if _, err := m.TestToken(ctx, "org-1", spec, raw); reason(err) != ports.ReasonIssuerMismatch {
			t.Errorf("iss %v: %v, want issuer_mismatch", iss, err)
		}
	}
	if n := ks.hits.Load(); n != 0 {
		t.Fatalf("tokens of other issuers fetched the key set %d times", n)
	}
	raw := sign(t, token{claims: clm(map[string]any{"groups": []any{"eng"}, "platform_roles": "admin"})})
	p, err := m.TestToken(ctx, "org-1", spec, raw)
	if err != nil || p.ProviderOrgID != "org-1" || p.PlatformAdmin || p.OrgClaim != "" || len(p.MappedValues) != 1 {
		t.Fatalf("the provider's token: %+v, %v", p, err)
	}
	ks.Close()
	spec.JWKSURL = ks.URL + "/gone"
	if _, err := m.TestToken(ctx, "org-1", spec, raw); reason(err) != ports.ReasonKeysUnavailable {
		t.Errorf("unreachable keys: %v", err)
	} else if te := err.(*ports.TokenError); te.Detail != "the identity provider's signing keys could not be loaded (unreachable)" {
		t.Errorf("detail %q", te.Detail)
	}
}
