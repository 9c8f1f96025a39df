package jwks

import (
	"context"
	"errors"
	"fmt"

	"go.uber.org/zap"

	"github.com/orgstack/orgstack/domain"
	"github.com/orgstack/orgstack/ports"
)

var _ ports.ProviderTokenTester = (*Issuers)(nil)

// TestToken implements ports.ProviderTokenTester: the organization's dry
// run. A token of any issuer other than spec's is refused as
// ReasonIssuerMismatch without a fetch and without saying which issuer it
// has. When spec is the configuration this instance already serves for
// orgID, its live verifier (and cached keys) answer; otherwise a one-off
// verifier is built, fetches the keys through the tenant client and stops
// when the call returns.
func (m *Issuers) TestToken(ctx context.Context, orgID string, spec domain.IdentityProviderSpec, raw string) (ports.Principal, error) {
	if raw == "" {
		return ports.Principal{}, malformed("the token is empty", nil)
	}
	if len(raw) > MaxTokenSize {
		return ports.Principal{}, malformed(fmt.Sprintf("the token is larger than %d bytes", MaxTokenSize), nil)
	}
	iss, te := unverifiedIssuer(raw)
	if te != nil && te.Reason != ports.ReasonWrongIssuer {
		return ports.Principal{}, te
	}
	if te != nil || iss != spec.Issuer {
		return ports.Principal{}, &ports.TokenError{Reason: ports.ReasonIssuerMismatch,
			Detail: "the token was not issued by this identity provider"}
	}
	cfg := TenantConfig(orgID, spec)
	cfg.ProviderOrgID = orgID
	cfg.HTTPClient = m.opts.TenantHTTPClient
	cfg.Logger = zap.NewNop()
	full, err := withDefaults(cfg)
	if err != nil {
		return ports.Principal{}, fmt.Errorf("jwks: dry run configuration: %w", err)
	}
	if t, ok := (*m.tenants.Load())[iss]; ok && t.cfg.ProviderOrgID == orgID && sameConfig(t.cfg, withLogger(full, t.cfg)) {
		if v := t.start(m.ctx); v != nil {
			return classified(v.Verify(ctx, raw))
		}
	}
	vctx, cancel := context.WithCancel(ctx)
	defer cancel()
	v, err := New(vctx, cfg)
	if err != nil {
		return ports.Principal{}, keysUnavailableClass(classify(err))
	}
	return classified(v.Verify(ctx, raw))
}

// withLogger gives c the logger of like, so that sameConfig compares the
// rest.
func withLogger(c, like Config) Config {
	c.Logger = like.Logger
	return c
}

// classified replaces the cause of keys_unavailable by its error class: the
// tenant sees what kind of failure it is, never an error's text.
func classified(p ports.Principal, err error) (ports.Principal, error) {
	var te *ports.TokenError
	if errors.As(err, &te) && te.Reason == ports.ReasonKeysUnavailable {
		var ue *ports.UnavailableError
		class := ErrorInvalidResponse
		if errors.As(te.Err, &ue) {
			class = classify(ue.Err)
		}
		return ports.Principal{}, keysUnavailableClass(class)
	}
	return p, err
}

func keysUnavailableClass(c ErrorClass) *ports.TokenError {
	if c == ErrorNone {
		c = ErrorInvalidResponse
	}
	return &ports.TokenError{Reason: ports.ReasonKeysUnavailable,
		Detail: "the identity provider's signing keys could not be loaded (" + string(c) + ")"}
}
