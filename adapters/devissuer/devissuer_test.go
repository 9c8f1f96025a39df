package devissuer_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/orgstack/orgstack/adapters/devissuer"
	"github.com/orgstack/orgstack/adapters/jwks"
	"github.com/orgstack/orgstack/ports"
)

func TestLoadOrCreate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nested", "dir", "dev-key.pem")
	first, err := devissuer.LoadOrCreate(path)
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := info.Mode().Perm(); got != 0o600 {
		t.Errorf("key file mode = %v, want 0600", got)
	}
	second, err := devissuer.LoadOrCreate(path)
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	if first.KeyID() != second.KeyID() {
		t.Errorf("kid after reload = %q, want %q (same key)", second.KeyID(), first.KeyID())
	}
	// A token minted by the first instance verifies with the second's JWKS.
	tok, err := first.Mint(devissuer.TokenRequest{Subject: "u1"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := newVerifier(t, second).Verify(t.Context(), tok); err != nil {
		t.Errorf("token from the first load, verified with the reloaded key: %v", err)
	}
}

func TestLoadOrCreateRejectsBadFile(t *testing.T) {
	tests := []struct {
		name string
		give string
	}{
		{name: "not PEM", give: "hello"},
		{name: "wrong PEM type", give: "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"},
		{name: "garbage PKCS8", give: "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "key.pem")
			if err := os.WriteFile(path, []byte(tt.give), 0o600); err != nil {
				t.Fatal(err)
			}
			if s, err := devissuer.LoadOrCreate(path); err == nil {
				t.Fatalf("LoadOrCreate = %v, nil; want error", s)
			}
		})
	}
}

func TestJWKSHandler(t *testing.T) {
	s := newSigner(t)
	rec := httptest.NewRecorder()
	s.JWKSHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/.well-known/jwks.json", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("status = %d, want 200", rec.Code)
	}
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/") || !strings.HasSuffix(ct, "json") {
		t.Errorf("Content-Type = %q, want JSON", ct)
	}
	if rec.Header().Get("Cache-Control") == "" {
		t.Error("Cache-Control missing")
	}
	var set struct {
		Keys []map[string]string `json:"keys"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &set); err != nil {
		t.Fatal(err)
	}
	if len(set.Keys) != 1 {
		t.Fatalf("keys = %d, want 1", len(set.Keys))
	}
	k := set.Keys[0]
	want := map[string]string{"kty": "RSA", "alg": "RS256", "use": "sig", "kid": s.KeyID()}
	for name, v := range want {
		if k[name] != v {
			t.Errorf("%s = %q, want %q", name, k[name], v)
		}
	}
	for _, private := range []string{"d", "p", "q", "dp", "dq", "qi"} {
		if _, ok := k[private]; ok {
			t.Errorf("public JWK contains private member %q", private)
		}
	}

	rec = httptest.NewRecorder()
	s.JWKSHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/.well-known/jwks.json", nil))
	if rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST status = %d, want 405", rec.Code)
	}
}

func TestMintClaims(t *testing.T) {
	s := newSigner(t)
	now := time.Unix(1_800_000_000, 0)
	tok, err := s.Mint(devissuer.TokenRequest{Subject: "u1", Org: "acme", Email: "a@x.test", Name: "Ada",
		Admin: true, TTL: 5 * time.Minute}, now)
	if err != nil {
		t.Fatal(err)
	}
	claims := jwt.MapClaims{}
	parsed, _, err := jwt.NewParser().ParseUnverified(tok, claims)
	if err != nil {
		t.Fatal(err)
	}
	if parsed.Header["alg"] != "RS256" || parsed.Header["kid"] != s.KeyID() {
		t.Errorf("header = %v, want alg RS256 and kid %q", parsed.Header, s.KeyID())
	}
	want := map[string]any{
		"iss": devissuer.Issuer, "aud": devissuer.Audience, "sub": "u1", "org_id": "acme",
		"email": "a@x.test", "name": "Ada", devissuer.AdminClaim: devissuer.AdminValue,
		"iat": float64(now.Unix()), "nbf": float64(now.Unix()), "exp": float64(now.Add(5 * time.Minute).Unix()),
	}
	for k, v := range want {
		if claims[k] != v {
			t.Errorf("claim %s = %v, want %v", k, claims[k], v)
		}
	}
	if jti, _ := claims["jti"].(string); jti == "" {
		t.Error("jti missing")
	}

	other, err := s.Mint(devissuer.TokenRequest{Subject: "u1"}, now)
	if err != nil {
		t.Fatal(err)
	}
	claims = jwt.MapClaims{}
	if _, _, err := jwt.NewParser().ParseUnverified(other, claims); err != nil {
		t.Fatal(err)
	}
	if got, want := claims["exp"], float64(now.Add(devissuer.DefaultTTL).Unix()); got != want {
		t.Errorf("default exp = %v, want %v", got, want)
	}
	for _, absent := range []string{"org_id", "email", "name", devissuer.AdminClaim} {
		if _, ok := claims[absent]; ok {
			t.Errorf("claim %s present, want absent", absent)
		}
	}

	if _, err := s.Mint(devissuer.TokenRequest{}, now); err == nil {
		t.Error("Mint without subject: want error")
	}
}

// TestMintedTokenVerifies is the integration both adapters must pass: a minted
// token verifies through the real jwks.Verifier against the served JWKS.
func TestMintedTokenVerifies(t *testing.T) {
	s := newSigner(t)
	v := newVerifier(t, s)
	if !v.Ready() {
		t.Fatal("verifier not ready")
	}
	tests := []struct {
		name string
		give devissuer.TokenRequest
		want ports.Principal
	}{
		{
			name: "plain",
			give: devissuer.TokenRequest{Subject: "alice"},
			want: ports.Principal{Issuer: devissuer.Issuer, Subject: "alice"},
		},
		{
			name: "bound admin with profile",
			give: devissuer.TokenRequest{Subject: "bob", Org: "acme", Email: "bob@x.test", Name: "Bob", Admin: true},
			want: ports.Principal{Issuer: devissuer.Issuer, Subject: "bob", OrgClaim: "acme",
				Email: "bob@x.test", Name: "Bob", PlatformAdmin: true},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok, err := s.Mint(tt.give, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			got, err := v.Verify(t.Context(), tok)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Verify = %+v, want %+v", got, tt.want)
			}
		})
	}

	expired, err := s.Mint(devissuer.TokenRequest{Subject: "alice", TTL: time.Minute}, time.Now().Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(t.Context(), expired); err == nil {
		t.Error("expired token verified")
	}
	stranger := newSigner(t)
	forged, err := stranger.Mint(devissuer.TokenRequest{Subject: "alice"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(t.Context(), forged); err == nil {
		t.Error("token signed by another key verified")
	}
}

func newSigner(t *testing.T) *devissuer.Signer {
	t.Helper()
	s, err := devissuer.LoadOrCreate(filepath.Join(t.TempDir(), "key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func newVerifier(t *testing.T, s *devissuer.Signer) *jwks.Verifier {
	t.Helper()
	mux := http.NewServeMux()
	mux.Handle("GET /.well-known/jwks.json", s.JWKSHandler())
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	v, err := jwks.New(t.Context(), jwks.Config{
		JWKSURL:    srv.URL + "/.well-known/jwks.json",
		Issuer:     devissuer.Issuer,
		Audience:   devissuer.Audience,
		AdminClaim: devissuer.AdminClaim,
		AdminValue: devissuer.AdminValue,
	})
	if err != nil {
		t.Fatal(err)
	}
	return v
}
