package bootstrap

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"go.uber.org/fx"
	"go.uber.org/zap"
)

// TestServeStartsWhileTheIdentityProviderIsDown: in discovery mode, with
// the identity provider unreachable, serve starts; /readyz is 503 and a
// well-formed token is 503 with Retry-After (not 401). Once the provider
// listens, serve discovers its keys and turns ready within seconds, with no
// token sent, and the token is accepted.
func TestServeStartsWhileTheIdentityProviderIsDown(t *testing.T) {
	idpAddr := freeAddr(t) // nothing listens there yet
	issuer := "http://" + idpAddr
	httpAddr := freeAddr(t)
	c, err := LoadConfig(map[string]string{
		"ORGSTACK_DATABASE_URL": "sqlite:" + filepath.Join(t.TempDir(), "serve.db"),
		"ORGSTACK_AUTO_MIGRATE": "true",
		"ORGSTACK_OIDC_ISSUER":  issuer, "ORGSTACK_AUDIENCE": "api",
		"ORGSTACK_HTTP_ADDR": httpAddr,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.validateServe(); err != nil {
		t.Fatal(err)
	}
	app := fx.New(appOptions(serveSettings(c), zap.NewNop())...)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := app.Start(ctx); err != nil {
		t.Fatalf("serve did not start with the identity provider down: %v", err)
	}
	t.Cleanup(func() { _ = app.Stop(context.Background()) })
	base := "http://" + httpAddr

	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{"iss": issuer, "aud": "api", "sub": "alice",
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix()})
	tok.Header["kid"] = "k1"
	raw, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	get := func(path string) *http.Response {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+path, nil)
		req.Header.Set("Authorization", "Bearer "+raw)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res
	}
	if res := get("/readyz"); res.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("/readyz with the provider down: %d, want 503", res.StatusCode)
	}
	if res := get("/api/v1/me"); res.StatusCode != http.StatusServiceUnavailable || res.Header.Get("Retry-After") == "" {
		t.Errorf("token with the provider down: %d (Retry-After %q), want 503 with Retry-After",
			res.StatusCode, res.Header.Get("Retry-After"))
	}

	b64 := base64.RawURLEncoding.EncodeToString
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]string{"issuer": issuer, "jwks_uri": issuer + "/keys"})
	})
	mux.HandleFunc("GET /keys", func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]any{"keys": []map[string]string{{"kty": "RSA", "kid": "k1", "alg": "RS256",
			"n": b64(key.N.Bytes()), "e": b64(big.NewInt(int64(key.E)).Bytes())}}})
	})
	idp := httptest.NewUnstartedServer(mux)
	if idp.Listener, err = net.Listen("tcp", idpAddr); err != nil {
		t.Skipf("cannot listen on %s: %v", idpAddr, err)
	}
	idp.Start()
	t.Cleanup(idp.Close)
	start := time.Now()
	for {
		res, err := http.Get(base + "/readyz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Since(start) > 8*time.Second {
			t.Fatal("/readyz not 200 8 s after the identity provider came up")
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("ready %v after the identity provider came up", time.Since(start))
	if res := get("/api/v1/me"); res.StatusCode != http.StatusOK {
		t.Errorf("token after the provider came up: %d, want 200", res.StatusCode)
	}
}
