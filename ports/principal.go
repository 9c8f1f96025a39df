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
}

// TokenVerifier turns a raw bearer token into a Principal.
type TokenVerifier interface {
	// Verify checks raw and returns its principal. It returns
	// domain.ErrInvalidToken (possibly wrapped with the reason) for any token
	// it rejects.
	Verify(ctx context.Context, raw string) (Principal, error)
}
