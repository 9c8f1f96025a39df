package validate

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/orgstack/orgstack/adapters/sqlstore/sqlstoretest"
)

// TestComposeStackOnLoopback runs what compose.yaml describes, without
// containers: the provider of .ci/idp, the migration service's command and
// environment, three instances with the instances' environment, and HAProxy
// with haproxy.cfg; only host names, ports, the database (a fresh schema of
// ORGSTACK_TEST_POSTGRES_URL) and the secret's mount point are rewritten to
// loopback. A JWT (client app) and an opaque token (client app-opaque,
// checked by introspection with the client secret read from the compose
// secret's file through ORGSTACK_INTROSPECTION_CLIENT_SECRET_FILE) are
// accepted through the load balancer. Skipped without haproxy, PostgreSQL
// or the provider (ORGSTACK_TEST_OIDC_PROVIDER_DIR with node_modules).
func TestComposeStackOnLoopback(t *testing.T) {
	haproxy, err := exec.LookPath("haproxy")
	if err != nil {
		t.Skip("no haproxy binary (apt-get install haproxy)")
	}
	idpDir := os.Getenv("ORGSTACK_TEST_OIDC_PROVIDER_DIR")
	if idpDir == "" {
		t.Skip("ORGSTACK_TEST_OIDC_PROVIDER_DIR is not set")
	}
	if testing.Short() {
		t.Skip("runs six processes")
	}
	dbURL := sqlstoretest.PostgresSchemaURL(t)
	p := loadCompose(t)
	dir := t.TempDir()
	bin := filepath.Join(dir, "orgstack")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Dir = repo
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}

	// The provider, as the idp service runs it, on loopback.
	idpAddr := freeAddr(t)
	_, idpPort, _ := net.SplitHostPort(idpAddr)
	issuer := "http://" + idpAddr
	idpEnv := []string{"PATH=" + os.Getenv("PATH"), "IDP_PORT=" + idpPort, "IDP_HOST=127.0.0.1"}
	for k, v := range p.Services["idp"].Environment {
		if k == "IDP_ISSUER" {
			v = &issuer
		}
		idpEnv = append(idpEnv, k+"="+*v)
	}
	idp := start(t, "idp", exec.Command("node", "idp.mjs"), idpDir, idpEnv)
	waitFor(t, idp, func() bool { return strings.Contains(idp.log.String(), "ready ") })

	// The compose secret's file, where the instances' _FILE variable points.
	secretFile := p.Secrets["introspection_client_secret"].File
	rewrite := func(env map[string]*string) []string {
		out := []string{"HOME=" + dir}
		for k, v := range env {
			val := *v
			switch {
			case k == "ORGSTACK_DATABASE_URL" || k == "ORGSTACK_MIGRATE_DATABASE_URL":
				val = dbURL
			case k == "ORGSTACK_RUNTIME_DB_ROLE":
				// One role here (the test database's); the owner/runtime
				// split and its grants are bootstrap's tests
				// (TestMigrateWithOwnerURL, TestServeAutoMigratesWithOwnerURL).
				continue
			case k == "ORGSTACK_METRICS_ADDR" || k == "ORGSTACK_REDIS_URL":
				continue // settings of other Stage 5 work; this test needs neither
			case k == "ORGSTACK_INTROSPECTION_CLIENT_SECRET_FILE":
				val = secretFile
			default:
				val = strings.ReplaceAll(val, "http://idp:4455", issuer)
			}
			out = append(out, k+"="+val)
		}
		return out
	}

	migrate := exec.Command(bin, []string(p.Services["migrate"].Command)...)
	migrate.Env = rewrite(p.Services["migrate"].Environment)
	if out, err := migrate.CombinedOutput(); err != nil {
		t.Fatalf("migrate: %v\n%s", err, out)
	}

	cfg, err := os.ReadFile(deployments("haproxy.cfg"))
	if err != nil {
		t.Fatal(err)
	}
	text := string(cfg)
	var instances []*process
	for _, name := range []string{"orgstack-1", "orgstack-2", "orgstack-3"} {
		addr := freeAddr(t)
		text = strings.Replace(text, name+":8080", addr, 1)
		env := append(rewrite(p.Services[name].Environment), "ORGSTACK_HTTP_ADDR="+addr)
		instances = append(instances, start(t, name, exec.Command(bin, []string(p.Services[name].Command)...), dir, env))
	}
	lb, stats := freeAddr(t), freeAddr(t)
	text = strings.Replace(text, "bind :8080", "bind "+lb, 1)
	text = strings.Replace(text, "bind :8404", "bind "+stats, 1)
	cfgFile := filepath.Join(dir, "haproxy.cfg")
	if err := os.WriteFile(cfgFile, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	start(t, "haproxy", exec.Command(haproxy, "-db", "-f", cfgFile), dir, nil)

	client := &http.Client{Timeout: 5 * time.Second}
	for _, in := range instances {
		waitFor(t, in, func() bool {
			resp, err := client.Get("http://" + in.addr(t) + "/readyz")
			if err != nil {
				return false
			}
			resp.Body.Close()
			return resp.StatusCode == http.StatusOK
		})
	}
	for _, c := range []string{"app", "app-opaque"} {
		token := clientToken(t, issuer, c)
		ok := false
		var last string
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline) && !ok; time.Sleep(200 * time.Millisecond) {
			req, _ := http.NewRequest(http.MethodGet, "http://"+lb+"/api/v1/me", nil)
			req.Header.Set("Authorization", "Bearer "+token)
			resp, err := client.Do(req)
			if err != nil {
				last = err.Error()
				continue
			}
			var b bytes.Buffer
			_, _ = b.ReadFrom(resp.Body)
			resp.Body.Close()
			last = resp.Status + " " + b.String()
			ok = resp.StatusCode == http.StatusOK
		}
		if !ok {
			t.Errorf("client %s: GET /api/v1/me through HAProxy: %s\norgstack-1:\n%s", c, last, instances[0].log.String())
		}
	}
}

type process struct {
	name string
	cmd  *exec.Cmd
	log  *bytes.Buffer
}

func (p *process) addr(t *testing.T) string {
	for _, kv := range p.cmd.Env {
		if v, ok := strings.CutPrefix(kv, "ORGSTACK_HTTP_ADDR="); ok {
			return v
		}
	}
	t.Fatalf("%s has no address", p.name)
	return ""
}

// start starts cmd in dir with env, stopped when the test ends.
func start(t *testing.T, name string, cmd *exec.Cmd, dir string, env []string) *process {
	t.Helper()
	var log bytes.Buffer
	cmd.Dir, cmd.Env = dir, env
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return &process{name: name, cmd: cmd, log: &log}
}

func waitFor(t *testing.T, p *process, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(60 * time.Second); !ok(); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s did not come up:\n%s", p.name, p.log.String())
		}
	}
}

// clientToken gets an access token for client (secret client-secret) by
// client_credentials.
func clientToken(t *testing.T, issuer, client string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, issuer+"/token",
		strings.NewReader(url.Values{"grant_type": {"client_credentials"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(client, client+"-secret")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || body.AccessToken == "" {
		t.Fatalf("token for %s: %s %v", client, resp.Status, err)
	}
	return body.AccessToken
}
