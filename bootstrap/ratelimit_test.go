package bootstrap

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/fx/fxtest"
	"go.uber.org/zap"
)

// TestRateLimitConfig: the rate-limit settings are checked at start, and an
// error about the Redis URL never prints it (it may hold a password).
func TestRateLimitConfig(t *testing.T) {
	base := map[string]string{"ORGSTACK_OIDC_ISSUER": "https://idp.example", "ORGSTACK_AUDIENCE": "api"}
	tests := []struct {
		name string
		give map[string]string
		want string // "" = valid
	}{
		{"defaults", nil, ""},
		{"all set", map[string]string{"ORGSTACK_RATE_LIMIT_ORG": "100", "ORGSTACK_RATE_LIMIT_IP": "50", "ORGSTACK_REDIS_URL": "redis://:pw@localhost:6379/0",
			"ORGSTACK_RATE_LIMIT_FAIL_CLOSED": "true", "ORGSTACK_TRUSTED_PROXIES": "10.0.0.0/8, fd00::/8,192.0.2.1"}, ""},
		{"negative", map[string]string{"ORGSTACK_RATE_LIMIT_ORG_BURST": "-1"}, "ORGSTACK_RATE_LIMIT_ORG_BURST must not be negative"},
		{"bad proxy", map[string]string{"ORGSTACK_TRUSTED_PROXIES": "10.0.0.0/33"}, "ORGSTACK_TRUSTED_PROXIES"},
		{"fail closed without redis", map[string]string{"ORGSTACK_RATE_LIMIT_FAIL_CLOSED": "true"}, "needs ORGSTACK_REDIS_URL"},
		{"url and file", map[string]string{"ORGSTACK_REDIS_URL": "redis://localhost", "ORGSTACK_REDIS_URL_FILE": "/x"}, "at most one"},
		{"bad url", map[string]string{"ORGSTACK_REDIS_URL": "http://user:s3cret@localhost"}, "ORGSTACK_REDIS_URL is not"},
		{"short window", map[string]string{"ORGSTACK_RATE_LIMIT_IP": "5", "ORGSTACK_RATE_LIMIT_WINDOW": "500ms"}, "at least 1s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := mergeEnv(base, tt.give)
			c, err := LoadConfig(env)
			if err != nil {
				t.Fatal(err)
			}
			err = c.validateIssuerVars()
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("got %v, want valid", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("got %v, want an error with %q", err, tt.want)
			case err != nil && strings.Contains(err.Error(), "s3cret"):
				t.Fatalf("the error prints the Redis URL's password: %v", err)
			}
		})
	}
	c, _ := LoadConfig(mergeEnv(base, map[string]string{"ORGSTACK_TRUSTED_PROXIES": "10.0.0.0/8,192.0.2.1,::ffff:192.0.2.2"}))
	got := rateLimitSettingsOf(c).TrustedProxies
	want := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.0.2.1/32"), netip.MustParsePrefix("192.0.2.2/32")}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
		t.Errorf("trusted proxies %v, want %v", got, want)
	}
}

// TestRateLimitModule: the auth-failure limit is on by default (and only
// it), the Redis URL may come from a file, and a bad file stops the start.
func TestRateLimitModule(t *testing.T) {
	lc := fxtest.NewLifecycle(t)
	c, _ := LoadConfig(map[string]string{})
	res, err := newRateLimits(rateLimitParams{Settings: serveSettings(c), Log: zap.NewNop(), Lifecycle: lc})
	if err != nil || res.Limits == nil || res.Org != nil {
		t.Fatalf("defaults: %+v, %v; want limits (failed authentications) and no organization limiter", res, err)
	}
	c, _ = LoadConfig(map[string]string{"ORGSTACK_RATE_LIMIT_AUTH_FAILURES": "0"})
	if res, _ := newRateLimits(rateLimitParams{Settings: serveSettings(c), Log: zap.NewNop(), Lifecycle: lc}); res.Limits != nil {
		t.Fatal("every limit off, yet limits are built")
	}

	file := filepath.Join(t.TempDir(), "redis-url")
	if err := os.WriteFile(file, []byte("redis://127.0.0.1:1/0\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, _ = LoadConfig(map[string]string{"ORGSTACK_REDIS_URL_FILE": file, "ORGSTACK_RATE_LIMIT_ORG": "10"})
	res, err = newRateLimits(rateLimitParams{Settings: serveSettings(c), Log: zap.NewNop(), Lifecycle: lc})
	if err != nil || res.Org == nil {
		t.Fatalf("from a file: %+v, %v", res, err)
	}
	c, _ = LoadConfig(map[string]string{"ORGSTACK_REDIS_URL_FILE": filepath.Join(t.TempDir(), "missing")})
	if _, err := newRateLimits(rateLimitParams{Settings: serveSettings(c), Log: zap.NewNop(), Lifecycle: lc}); err == nil || !strings.Contains(err.Error(), "ORGSTACK_REDIS_URL_FILE") {
		t.Fatalf("missing file: %v", err)
	}
	lc.RequireStart().RequireStop()
}
