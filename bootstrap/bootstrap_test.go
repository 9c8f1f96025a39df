package bootstrap

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/fx"
	"go.uber.org/zap"

	"github.com/orgstack/orgstack/adapters/devissuer"
	"github.com/orgstack/orgstack/adapters/jwks"
)

func TestAppGraphIsValid(t *testing.T) {
	c, err := LoadConfig(map[string]string{})
	if err != nil {
		t.Fatal(err)
	}
	if err := fx.ValidateApp(appOptions(serveSettings(c), zap.NewNop())...); err != nil {
		t.Fatalf("serve graph: %v", err)
	}
	signer, err := devissuer.LoadOrCreate(filepath.Join(t.TempDir(), "dev.key"))
	if err != nil {
		t.Fatal(err)
	}
	if err := fx.ValidateApp(appOptions(devSettings(c, signer), zap.NewNop(), fx.Supply(signer))...); err != nil {
		t.Fatalf("dev graph: %v", err)
	}
}

func TestConfig(t *testing.T) {
	tests := []struct {
		name    string
		give    map[string]string
		wantErr string
	}{
		{name: "serve needs an issuer and audience", give: map[string]string{}, wantErr: "ORGSTACK_OIDC_ISSUER is required"},
		{name: "serve needs a database URL", give: map[string]string{"ORGSTACK_OIDC_ISSUER": "https://idp.example", "ORGSTACK_AUDIENCE": "api"}, wantErr: "ORGSTACK_DATABASE_URL is required"},
		{name: "a blank database URL is none", give: map[string]string{"ORGSTACK_DATABASE_URL": " ", "ORGSTACK_OIDC_ISSUER": "https://idp.example", "ORGSTACK_AUDIENCE": "api"}, wantErr: "ORGSTACK_DATABASE_URL is required"},
		{name: "valid", give: map[string]string{"ORGSTACK_DATABASE_URL": "sqlite::memory:", "ORGSTACK_OIDC_ISSUER": "https://idp.example", "ORGSTACK_AUDIENCE": "api"}},
		{name: "symmetric algorithm refused", give: map[string]string{"ORGSTACK_DATABASE_URL": "sqlite::memory:", "ORGSTACK_OIDC_ISSUER": "https://idp.example", "ORGSTACK_AUDIENCE": "api", "ORGSTACK_JWT_ALGORITHMS": "HS256"}, wantErr: "HS256"},
		{name: "admin claim without value", give: map[string]string{"ORGSTACK_DATABASE_URL": "sqlite::memory:", "ORGSTACK_OIDC_ISSUER": "https://idp.example", "ORGSTACK_AUDIENCE": "api", "ORGSTACK_PLATFORM_ADMIN_CLAIM": "roles"}, wantErr: "set together"},
		{name: "negative rate limit", give: map[string]string{"ORGSTACK_DATABASE_URL": "sqlite::memory:", "ORGSTACK_OIDC_ISSUER": "https://idp.example", "ORGSTACK_AUDIENCE": "api", "ORGSTACK_RATE_LIMIT": "-1"}, wantErr: "ORGSTACK_RATE_LIMIT"},
		{name: "relative JWKS URL", give: map[string]string{"ORGSTACK_DATABASE_URL": "sqlite::memory:", "ORGSTACK_OIDC_ISSUER": "https://idp.example", "ORGSTACK_AUDIENCE": "api", "ORGSTACK_JWKS_URL": "/jwks"}, wantErr: "absolute"},
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
		})
	}
}

func TestDevKeyFileSitsBesideTheDatabase(t *testing.T) {
	tests := []struct{ give, want string }{
		{"sqlite:orgstack-dev.db", "orgstack-dev.key"},
		{"sqlite:/tmp/x/dev.db?_pragma=foo", "/tmp/x/dev.key"},
		{"sqlite::memory:", "orgstack-dev.key"},
	}
	for _, tt := range tests {
		if got := (Config{DevDatabaseURL: tt.give}).devKeyFile(); got != tt.want {
			t.Errorf("devKeyFile(%q) = %q, want %q", tt.give, got, tt.want)
		}
	}
}

// TestTokenCommand checks that `orgstack token` prints only a JWT that the
// real verifier accepts with the development issuer's keys.
func TestTokenCommand(t *testing.T) {
	key := filepath.Join(t.TempDir(), "dev.key")
	if _, err := devissuer.LoadOrCreate(key); err != nil { // as `orgstack dev` does
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	code := Main([]string{"token", "--sub", "alice", "--org", "acme", "--admin", "--key", key}, &out, &errOut)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	token := strings.TrimSpace(out.String())
	if strings.Count(token, ".") != 2 || strings.ContainsAny(token, " \n") {
		t.Fatalf("output is not a bare JWT: %q", out.String())
	}

	signer, err := devissuer.Load(key)
	if err != nil {
		t.Fatal(err)
	}
	srv := newJWKSServer(t, signer)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	v, err := jwks.New(ctx, jwks.Config{
		JWKSURL: srv.URL, Issuer: devissuer.Issuer, Audience: devissuer.Audience,
		AdminClaim: devissuer.AdminClaim, AdminValue: devissuer.AdminValue, RefreshInterval: time.Hour,
	})
	if err != nil {
		t.Fatal(err)
	}
	p, err := v.Verify(ctx, token)
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	if p.Subject != "alice" || p.OrgClaim != "acme" || !p.PlatformAdmin || p.Issuer != devissuer.Issuer {
		t.Fatalf("got principal %+v", p)
	}
}

func TestTokenCommandNeedsSubject(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := Main([]string{"token", "--key", filepath.Join(t.TempDir(), "k")}, &out, &errOut); code == 0 {
		t.Fatal("got exit 0 without --sub")
	}
	if !strings.Contains(errOut.String(), "--sub is required") {
		t.Fatalf("got stderr %q", errOut.String())
	}
}

// TestServeRefusesABehindSchema: serve does not start on an unmigrated
// database unless auto-migration is on, and says what to run.
func TestServeRefusesABehindSchema(t *testing.T) {
	c, err := LoadConfig(map[string]string{
		"ORGSTACK_DATABASE_URL": "sqlite:" + filepath.Join(t.TempDir(), "behind.db"),
		"ORGSTACK_OIDC_ISSUER":  "https://idp.example", "ORGSTACK_AUDIENCE": "api",
		"ORGSTACK_JWKS_URL": "http://127.0.0.1:1/jwks.json", "ORGSTACK_HTTP_ADDR": "127.0.0.1:0",
	})
	if err != nil {
		t.Fatal(err)
	}
	err = run(serveSettings(c), zap.NewNop())
	if err == nil || !strings.Contains(err.Error(), "schema is behind") || !strings.Contains(err.Error(), "orgstack migrate up") {
		t.Fatalf("got %v, want the schema-behind message", err)
	}
}
