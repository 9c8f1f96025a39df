package bootstrap

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/fx"
	"go.uber.org/zap"

	"github.com/orgstack/orgstack/ports"
)

// recorder is a ports.TokenVerifier that records the tokens it is given.
type recorder struct{ got []string }

func (r *recorder) Verify(_ context.Context, raw string) (ports.Principal, error) {
	r.got = append(r.got, raw)
	return ports.Principal{Subject: raw}, nil
}

// TestTokenRouterSendsEachTokenToOneVerifier: a JWT-shaped token goes only
// to the JWT verifier, anything else only to introspection; without
// introspection everything goes to the JWT verifier (which refuses what is
// not a JWT).
func TestTokenRouterSendsEachTokenToOneVerifier(t *testing.T) {
	const jwtShaped = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhIn0.c2ln" // {"alg":"RS256"}.{"sub":"a"}.sig
	tests := []struct {
		give    string
		wantJWT bool
	}{
		{jwtShaped, true},
		{"eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhIn0.", true}, // empty signature: still a JWT, refused by its verifier
		{"Zm9v.YmFy.YmF6", false},                       // header "foo" is not JSON
		{"opaque-token_123", false},
		{"a.b", false},
		{"eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhIn0.c2ln.x.y", false}, // five segments (JWE-like)
		{"eyJhbGciOiJSUzI1NiJ9.not base64!.c2ln", false},
	}
	for _, tt := range tests {
		jwt, opaque := &recorder{}, &recorder{}
		r := tokenRouter{jwt: jwt, opaque: opaque}
		if _, err := r.Verify(context.Background(), tt.give); err != nil {
			t.Fatal(err)
		}
		if gotJWT := len(jwt.got) == 1 && len(opaque.got) == 0; gotJWT != tt.wantJWT || len(jwt.got)+len(opaque.got) != 1 {
			t.Errorf("%q: jwt %d calls, opaque %d calls; want it only at the %s verifier", tt.give, len(jwt.got), len(opaque.got),
				map[bool]string{true: "JWT", false: "introspection"}[tt.wantJWT])
		}
	}
	jwt := &recorder{}
	if _, err := (tokenRouter{jwt: jwt}).Verify(context.Background(), "opaque-token"); err != nil || len(jwt.got) != 1 {
		t.Fatalf("without introspection: %v, %d calls at the JWT verifier, want 1", err, len(jwt.got))
	}
}

// TestIntrospectionConfig: the settings are all or nothing, the secret
// comes from a variable or a file (exactly one), and the wiring builds a
// graph with the introspection verifier behind the router.
func TestIntrospectionConfig(t *testing.T) {
	base := map[string]string{"ORGSTACK_DATABASE_URL": "sqlite::memory:", "ORGSTACK_OIDC_ISSUER": "https://idp.example", "ORGSTACK_AUDIENCE": "api"}
	with := func(kv ...string) map[string]string {
		m := map[string]string{}
		for k, v := range base {
			m[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	const url = "https://idp.example/token/introspection"
	tests := []struct {
		name    string
		give    map[string]string
		wantErr string
	}{
		{"off", with(), ""},
		{"complete", with("ORGSTACK_INTROSPECTION_URL", url, "ORGSTACK_INTROSPECTION_CLIENT_ID", "orgstack", "ORGSTACK_INTROSPECTION_CLIENT_SECRET", "s"), ""},
		{"secret from a file", with("ORGSTACK_INTROSPECTION_URL", url, "ORGSTACK_INTROSPECTION_CLIENT_ID", "orgstack", "ORGSTACK_INTROSPECTION_CLIENT_SECRET_FILE", "/run/secret"), ""},
		{"no secret", with("ORGSTACK_INTROSPECTION_URL", url, "ORGSTACK_INTROSPECTION_CLIENT_ID", "orgstack"), "exactly one of ORGSTACK_INTROSPECTION_CLIENT_SECRET"},
		{"both secrets", with("ORGSTACK_INTROSPECTION_URL", url, "ORGSTACK_INTROSPECTION_CLIENT_ID", "orgstack", "ORGSTACK_INTROSPECTION_CLIENT_SECRET", "s", "ORGSTACK_INTROSPECTION_CLIENT_SECRET_FILE", "/f"), "exactly one"},
		{"no client ID", with("ORGSTACK_INTROSPECTION_URL", url, "ORGSTACK_INTROSPECTION_CLIENT_SECRET", "s"), "ORGSTACK_INTROSPECTION_CLIENT_ID is required"},
		{"relative URL", with("ORGSTACK_INTROSPECTION_URL", "/introspect", "ORGSTACK_INTROSPECTION_CLIENT_ID", "c", "ORGSTACK_INTROSPECTION_CLIENT_SECRET", "s"), "absolute"},
		{"cache over 5m", with("ORGSTACK_INTROSPECTION_URL", url, "ORGSTACK_INTROSPECTION_CLIENT_ID", "c", "ORGSTACK_INTROSPECTION_CLIENT_SECRET", "s", "ORGSTACK_INTROSPECTION_CACHE_TTL", "10m"), "CACHE_TTL"},
		{"credentials without URL", with("ORGSTACK_INTROSPECTION_CLIENT_SECRET", "s"), "need ORGSTACK_INTROSPECTION_URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := LoadConfig(tt.give)
			if err != nil {
				t.Fatal(err)
			}
			err = c.validateServe()
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("got %v, want no error", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("got %v, want an error containing %q", err, tt.wantErr)
			}
			if err == nil {
				if err := fx.ValidateApp(appOptions(serveSettings(c), zap.NewNop())...); err != nil {
					t.Fatalf("graph: %v", err)
				}
			}
		})
	}
	c, _ := LoadConfig(with("ORGSTACK_INTROSPECTION_URL", url, "ORGSTACK_INTROSPECTION_CLIENT_ID", "orgstack"))
	s := serveSettings(c)
	if s.Introspection.Issuer != "https://idp.example" || s.Introspection.Audiences[0] != "api" {
		t.Errorf("issuer %q audiences %v: want the OIDC issuer and audience by default", s.Introspection.Issuer, s.Introspection.Audiences)
	}
	// The secret file is read at start; a missing file is an error naming the variable.
	s.IntrospectionSecretFile = filepath.Join(t.TempDir(), "missing")
	if _, err := newIntrospector(s, zap.NewNop()); err == nil || !strings.Contains(err.Error(), "ORGSTACK_INTROSPECTION_CLIENT_SECRET_FILE") {
		t.Fatalf("missing secret file: %v", err)
	}
	if err := os.WriteFile(s.IntrospectionSecretFile, []byte("from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if v, err := newIntrospector(s, zap.NewNop()); err != nil || v == nil {
		t.Fatalf("secret file: %v, %v", v, err)
	}
}
