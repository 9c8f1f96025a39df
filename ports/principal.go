package ports

import "context"

// Principal is the verified caller: what a token says about who is calling,
// after its signature, issuer, audience and lifetime have been checked.
type Principal struct {
	Issuer  string
	Subject string
	Email   string
	Name    string
	// OrgClaim is the organization the token is bound to (an ID or a slug,
	// read with domain.ParseOrgRef), or "" when the token is not bound to one.
	OrgClaim string
	// PlatformAdmin is true when the token carries the configured
	// platform-administrator claim value.
	PlatformAdmin bool
	// ProviderOrgID is set when the token was issued by an organization's
	// own identity provider: the token is bound to that organization whatever
	// its claims say (OrgClaim is ignored), and its holder is never a
	// platform administrator. "" for tokens of operator-configured issuers.
	ProviderOrgID string
	// MappedValues are the values of the provider's role-mapping claim (for
	// example its groups), for just-in-time membership; nil when the
	// provider maps none.
	MappedValues []string
}

// TokenVerifier turns a raw bearer token into a Principal.
type TokenVerifier interface {
	// Verify checks raw and returns its principal. Every token it does not
	// accept is a *TokenError naming the reason; when it cannot decide
	// because a dependency is unavailable (no key set could ever be loaded;
	// the introspection endpoint cannot be asked), the *TokenError has
	// ReasonKeysUnavailable or ReasonIntrospectionUnavailable and wraps an
	// *UnavailableError. Any other error is internal.
	Verify(ctx context.Context, raw string) (Principal, error)
}
