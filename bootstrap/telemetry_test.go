package bootstrap

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/orgstack/orgstack/adapters/devissuer"
)

// TestSecretFiles: every secret setting with a _FILE variant is read from
// its file, and setting both is an error naming both.
func TestSecretFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := filepath.Join(dir, "db-url")
	const url = "postgres://orgstack:s3cret@db:5432/orgstack"
	if err := os.WriteFile(file, []byte(url+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		give    map[string]string
		want    string
		wantErr string
	}{
		{"from the file", map[string]string{"ORGSTACK_DATABASE_URL_FILE": file}, url, ""},
		{"from the variable", map[string]string{"ORGSTACK_DATABASE_URL": "sqlite::memory:"}, "sqlite::memory:", ""},
		{"both", map[string]string{"ORGSTACK_DATABASE_URL": "sqlite::memory:", "ORGSTACK_DATABASE_URL_FILE": file}, "", "set only one of ORGSTACK_DATABASE_URL and ORGSTACK_DATABASE_URL_FILE"},
		{"missing file", map[string]string{"ORGSTACK_DATABASE_URL_FILE": filepath.Join(dir, "nope")}, "", "ORGSTACK_DATABASE_URL_FILE"},
		{"empty file", map[string]string{"ORGSTACK_DATABASE_URL_FILE": empty}, "", "is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := LoadConfig(tt.give)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.DatabaseURL != tt.want {
				t.Errorf("DatabaseURL = %q, want %q", c.DatabaseURL, tt.want)
			}
		})
	}
}

// TestSecretSettingsHaveFileVariants: every setting whose name says it is
// a secret, and the database URL, has a _FILE variant in Config.
func TestSecretSettingsHaveFileVariants(t *testing.T) {
	t.Parallel()
	names := map[string]bool{}
	for _, s := range allSettings() {
		names[s.Name] = true
	}
	for name := range names {
		secret := strings.Contains(name, "SECRET") || strings.Contains(name, "PASSWORD") || name == "ORGSTACK_DATABASE_URL"
		if secret && !strings.HasSuffix(name, "_FILE") && !names[name+"_FILE"] {
			t.Errorf("%s has no %s_FILE variant", name, name)
		}
	}
}

// TestTelemetryValidation: bad CORS origins and a metrics address equal to
// the API's are refused at start.
func TestTelemetryValidation(t *testing.T) {
	t.Parallel()
	for give, want := range map[string]map[string]string{
		"ORGSTACK_CORS_ORIGINS":   {"ORGSTACK_CORS_ORIGINS": "https://a.example/"},
		"ORGSTACK_METRICS_ADDR":   {"ORGSTACK_METRICS_ADDR": ":8080"},
		"wildcard with an origin": {"ORGSTACK_CORS_ORIGINS": "*,https://a.example"},
	} {
		c, err := LoadConfig(want)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.validateCommon(); err == nil || !strings.Contains(err.Error(), "ORGSTACK_") {
			t.Errorf("%s: error = %v", give, err)
		}
	}
}

// TestMetricsListener runs the dev server with ORGSTACK_METRICS_ADDR: the
// metrics are served there (not on the API's address) and count the API's
// traffic; without it nothing listens.
func TestMetricsListener(t *testing.T) {
	metricsAddr := freeAddr(t)
	dev := startDev(t, map[string]string{"ORGSTACK_METRICS_ADDR": metricsAddr}, nil)
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		_ = dev.app.Stop(ctx)
	}()
	token, err := dev.signer.Mint(devissuer.TokenRequest{Subject: "metrics-alice"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodGet, dev.base+"/api/v1/me", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	if res, err := http.DefaultClient.Do(req); err == nil {
		res.Body.Close()
	}
	if res, err := http.Get(dev.base + "/api/v1/me"); err == nil {
		res.Body.Close()
	}
	res, err := http.Get("http://" + metricsAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	for _, want := range []string{
		`http_server_request_duration_seconds_count{http_request_method="GET",http_response_status_code="200",http_route="/api/v1/me"} 1`,
		`orgstack_auth_failures_total{reason="missing"} 1`,
		`orgstack_jwks_refreshes_total{issuer="` + devissuer.Issuer + `",result="ok"}`,
		`orgstack_db_pool_open_connections`,
		`go_gc_duration_seconds`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if strings.Contains(string(body), "metrics-alice") {
		t.Error("a subject reached the metrics")
	}
	if res, err := http.Get(dev.base + "/metrics"); err == nil {
		res.Body.Close()
		if res.StatusCode != http.StatusNotFound {
			t.Errorf("the API's address answers /metrics with %d, want 404", res.StatusCode)
		}
	}
}
