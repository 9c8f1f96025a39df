package jwks

import (
	"slices"

	"github.com/orgstack/orgstack/domain"
)

// TenantConfig converts an organization's stored identity provider into the
// configuration of its tenant issuer (see TenantIssuer): the key set from
// JWKSURL, or by OIDC discovery of the issuer when the provider uses
// discovery; every token bound to orgID; the role claim read only while
// just-in-time membership is on. What an organization cannot set (the
// organization claim, the platform-administrator mapping) stays off:
// ProviderOrgID turns both off in withDefaults. A leeway of 0 takes the
// verifier's default (DefaultLeeway). The HTTP client is left to
// IssuersOptions.TenantHTTPClient (the guarded outbound client).
func TenantConfig(orgID string, spec domain.IdentityProviderSpec) Config {
	c := Config{
		Issuer:        spec.Issuer,
		Audiences:     slices.Clone(spec.Audiences),
		Algorithms:    slices.Clone(spec.Algorithms),
		Leeway:        spec.Leeway,
		RequiredType:  spec.RequiredTyp,
		MaxAge:        spec.MaxTokenAge,
		ProviderOrgID: orgID,
		OrgClaimOff:   true,
		SubjectPath:   claimPath(spec.Claims.Subject),
		EmailPath:     claimPath(spec.Claims.Email),
		NamePath:      claimPath(spec.Claims.Name),
	}
	if !spec.Discovery {
		c.JWKSURL = spec.JWKSURL
	}
	for _, rc := range spec.RequiredClaims {
		c.RequiredClaims = append(c.RequiredClaims, ClaimValue{Path: claimPath(rc.Claim), Value: rc.Value})
	}
	if spec.JIT.Enabled && len(spec.JIT.RoleClaim) > 0 {
		c.RoleClaim = claimPath(spec.JIT.RoleClaim)
	}
	return c
}

// claimPath copies a domain claim path; nil stays nil (the default claim).
func claimPath(p domain.ClaimPath) ClaimPath {
	if len(p) == 0 {
		return nil
	}
	return ClaimPath(slices.Clone(p))
}
