package bootstrap

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"go.uber.org/fx"
	"go.uber.org/zap"
)

// TestServeWithIssuersFile: serve built from ORGSTACK_CONFIG with two
// issuers, one whose provider is down. /readyz is ready (one configured
// issuer has keys); the up issuer's tokens, with a nested organization
// claim and typ at+jwt, are accepted; the down issuer's are 503; an unknown
// issuer is 401 wrong_issuer. With only the down issuer, /readyz is 503.
func TestServeWithIssuersFile(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	b64 := base64.RawURLEncoding.EncodeToString
	idp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]any{"keys": []map[string]string{{"kty": "RSA", "kid": "k1", "alg": "RS256",
			"n": b64(key.N.Bytes()), "e": b64(big.NewInt(int64(key.E)).Bytes())}}})
	}))
	t.Cleanup(idp.Close)
	down := "http://" + freeAddr(t) // nothing listens there
	const upIss, downIss = "https://kc.example/realms/acme", "https://down.example"
	up := "  - issuer: " + upIss + "\n    jwks_url: " + idp.URL + "\n    audiences: [api]\n    required_type: at+jwt\n" +
		"    claims:\n      organization: [organization, id]\n"
	dn := "  - issuer: " + downIss + "\n    jwks_url: " + down + "/keys\n    audiences: [api]\n"

	start := func(t *testing.T, file string) (string, context.Context) {
		path := filepath.Join(t.TempDir(), "orgstack.yaml")
		if err := os.WriteFile(path, []byte(file), 0o600); err != nil {
			t.Fatal(err)
		}
		httpAddr := freeAddr(t)
		environ := map[string]string{
			"ORGSTACK_DATABASE_URL": "sqlite:" + filepath.Join(t.TempDir(), "serve.db"),
			"ORGSTACK_AUTO_MIGRATE": "true", "ORGSTACK_CONFIG": path, "ORGSTACK_HTTP_ADDR": httpAddr,
		}
		c, err := LoadConfig(environ)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.validateServe(); err != nil {
			t.Fatal(err)
		}
		ic, err := resolveIssuers(c, environ)
		if err != nil {
			t.Fatal(err)
		}
		s := serveSettings(c)
		s.Issuers = ic.Issuers
		app := fx.New(appOptions(s, zap.NewNop())...)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		t.Cleanup(cancel)
		if err := app.Start(ctx); err != nil {
			t.Fatalf("serve did not start: %v", err)
		}
		t.Cleanup(func() { _ = app.Stop(context.Background()) })
		return "http://" + httpAddr, ctx
	}
	sign := func(iss string, claims jwt.MapClaims) string {
		now := time.Now()
		c := jwt.MapClaims{"iss": iss, "aud": "api", "sub": "alice", "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}
		for k, v := range claims {
			c[k] = v
		}
		tok := jwt.NewWithClaims(jwt.SigningMethodRS256, c)
		tok.Header["kid"], tok.Header["typ"] = "k1", "at+jwt"
		raw, err := tok.SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return raw
	}
	get := func(ctx context.Context, url, token string) (int, string) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}

	t.Run("one of two issuers down", func(t *testing.T) {
		base, ctx := start(t, "issuers:\n"+dn+up)
		if code, body := get(ctx, base+"/readyz?verbose", ""); code != http.StatusOK || strings.Contains(body, "down.example") {
			t.Errorf("/readyz: %d %s", code, body)
		}
		if code, body := get(ctx, base+"/api/v1/me", sign(upIss, jwt.MapClaims{"organization": map[string]any{"id": "acme"}})); code != http.StatusOK {
			t.Errorf("up issuer's token: %d %s", code, body)
		}
		if code, body := get(ctx, base+"/api/v1/me", sign(downIss, nil)); code != http.StatusServiceUnavailable || !strings.Contains(body, "keys_unavailable") {
			t.Errorf("down issuer's token: %d %s", code, body)
		}
		if code, body := get(ctx, base+"/api/v1/me", sign("https://evil.example", nil)); code != http.StatusUnauthorized || !strings.Contains(body, `"wrong_issuer"`) {
			t.Errorf("unknown issuer's token: %d %s", code, body)
		}
		if code, body := get(ctx, base+"/api/v1/me", sign(upIss, jwt.MapClaims{"organization": map[string]any{"id": []string{"a", "b"}}})); code != http.StatusUnauthorized || !strings.Contains(body, `"ambiguous_organization"`) {
			t.Errorf("two organizations: %d %s", code, body)
		}
	})
	t.Run("the only issuer down", func(t *testing.T) {
		base, ctx := start(t, "issuers:\n"+dn)
		if code, body := get(ctx, base+"/readyz?verbose", ""); code != http.StatusServiceUnavailable || !strings.Contains(body, `"jwks"`) {
			t.Errorf("/readyz: %d %s", code, body)
		}
	})
}
