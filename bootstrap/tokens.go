package bootstrap

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"go.uber.org/fx"
	"go.uber.org/zap"

	"github.com/orgstack/orgstack/adapters/introspection"
	"github.com/orgstack/orgstack/ports"
)

// tokenRouter is the one ports.TokenVerifier the HTTP module sees. A token
// shaped like a JWT goes only to the JWT verifier; any other token goes only
// to the introspection verifier, when one is configured (else to the JWT
// verifier, which refuses it as malformed). It never tries one verifier
// after another: that would hand one provider's tokens to another.
type tokenRouter struct {
	jwt    ports.TokenVerifier
	opaque ports.TokenVerifier // nil when introspection is off
}

var _ ports.TokenVerifier = tokenRouter{}

// Verify sends raw to exactly one verifier and returns its answer as is.
func (r tokenRouter) Verify(ctx context.Context, raw string) (ports.Principal, error) {
	if r.opaque == nil || looksLikeJWT(raw) {
		return r.jwt.Verify(ctx, raw)
	}
	return r.opaque.Verify(ctx, raw)
}

// looksLikeJWT reports whether raw has a JWS compact form: three
// base64url segments, the first a JSON object (the header). Nothing is
// verified here.
func looksLikeJWT(raw string) bool {
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return false
	}
	for _, p := range parts[1:] {
		if _, err := base64.RawURLEncoding.DecodeString(p); err != nil {
			return false
		}
	}
	h, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil {
		return false
	}
	var header map[string]any
	return json.Unmarshal(h, &header) == nil
}

// tokenModule binds the router to ports.TokenVerifier, over the JWT
// verifier (authModule, named "jwt") and the introspection verifier
// (introspectionModule, named "opaque"; nil when not configured).
var tokenModule = fx.Module("tokens",
	fx.Provide(fx.Annotate(
		func(jwt, opaque ports.TokenVerifier) ports.TokenVerifier {
			return tokenRouter{jwt: jwt, opaque: opaque}
		},
		fx.ParamTags(`name:"jwt"`, `name:"opaque"`),
	)),
)

// introspectionModule verifies opaque tokens at the one operator-configured
// issuer that uses introspection. It contributes no readiness check: an
// introspection outage answers 503 per request and must not take the
// instance out of the load balancer.
var introspectionModule = fx.Module("introspection",
	fx.Provide(fx.Annotate(newIntrospector, fx.ResultTags(`name:"opaque"`))),
)

// newIntrospector returns nil (no verifier) when introspection is off. The
// client secret file is read here, at start.
func newIntrospector(s settings, log *zap.Logger) (ports.TokenVerifier, error) {
	cfg := s.Introspection
	if cfg.Endpoint == "" {
		return nil, nil
	}
	if s.IntrospectionSecretFile != "" {
		b, err := os.ReadFile(s.IntrospectionSecretFile)
		if err != nil {
			return nil, fmt.Errorf("ORGSTACK_INTROSPECTION_CLIENT_SECRET_FILE: %w", err)
		}
		cfg.ClientSecret = strings.TrimRight(string(b), "\r\n")
	}
	cfg.Logger = log.Named("introspection")
	v, err := introspection.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("token introspection: %w", err)
	}
	return v, nil
}
