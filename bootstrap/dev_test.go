package bootstrap

import (
	"context"
	"encoding/json"
	"io"
	"maps"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/fx"
	"go.uber.org/zap"

	"github.com/orgstack/orgstack/adapters/devissuer"
)

// TestDevServerEndToEnd starts the real `dev` wiring on a free port: the
// JWKS is fetched from the server itself (possibly before it listens), a
// minted token authenticates, and an organization goes through its whole
// life over HTTP. A token from another key is refused.
func TestDevServerEndToEnd(t *testing.T) {
	dev := startDev(t, map[string]string{"ORGSTACK_SHUTDOWN_TIMEOUT": "5s"}, nil)
	t.Cleanup(func() { _ = dev.app.Stop(context.Background()) })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	signer, base, dir := dev.signer, dev.base, dev.dir

	token, err := signer.Mint(devissuer.TokenRequest{Subject: "alice", Email: "alice@example.com"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	call := func(method, path, tok, body string) (int, map[string]any) {
		t.Helper()
		req, _ := http.NewRequestWithContext(ctx, method, base+path, strings.NewReader(body))
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		raw, _ := io.ReadAll(res.Body)
		var m map[string]any
		_ = json.Unmarshal(raw, &m)
		return res.StatusCode, m
	}

	if code, _ := call("GET", "/api/v1/organizations", "", ""); code != http.StatusUnauthorized {
		t.Fatalf("no token: got %d, want 401", code)
	}
	code, body := call("POST", "/api/v1/organizations", token, `{"slug":"acme","name":"Acme"}`)
	if code != http.StatusCreated {
		t.Fatalf("create: got %d %v, want 201", code, body)
	}
	id := body["data"].(map[string]any)["id"].(string)
	if code, _ := call("GET", "/api/v1/organizations/"+id, token, ""); code != http.StatusOK {
		t.Fatalf("get: got %d", code)
	}
	if code, _ := call("PATCH", "/api/v1/organizations/"+id, token, `{"name":"Acme Inc"}`); code != http.StatusOK {
		t.Fatalf("patch: got %d", code)
	}
	other, err := devissuer.LoadOrCreate(filepath.Join(dir, "other.key"))
	if err != nil {
		t.Fatal(err)
	}
	forged, _ := other.Mint(devissuer.TokenRequest{Subject: "alice"}, time.Now())
	if code, _ := call("GET", "/api/v1/organizations/"+id, forged, ""); code != http.StatusUnauthorized {
		t.Fatalf("token signed by another key: got %d, want 401", code)
	}
	bob, _ := signer.Mint(devissuer.TokenRequest{Subject: "bob"}, time.Now())
	if code, _ := call("GET", "/api/v1/organizations/"+id, bob, ""); code != http.StatusNotFound {
		t.Fatalf("another user: got %d, want 404", code)
	}
	if code, _ := call("DELETE", "/api/v1/organizations/"+id, token, ""); code != http.StatusNoContent {
		t.Fatalf("delete: got %d", code)
	}
	if code, _ := call("GET", "/api/v1/organizations/"+id, token, ""); code != http.StatusNotFound {
		t.Fatalf("after delete: got %d, want 404", code)
	}
}

// devServer is the real `dev` wiring, started on a free port over a
// temporary database.
type devServer struct {
	app    *fx.App
	signer *devissuer.Signer
	base   string // http://host:port
	dir    string // the temporary directory holding the database and key
}

// startDev starts `dev` with extra configuration on top of a free address
// and a temporary database, logging to log (a no-op logger when nil) and
// with further fx options. The caller stops the app.
func startDev(t *testing.T, extra map[string]string, log *zap.Logger, opts ...fx.Option) devServer {
	t.Helper()
	dir := t.TempDir()
	env := map[string]string{
		"ORGSTACK_HTTP_ADDR":        freeAddr(t),
		"ORGSTACK_DEV_DATABASE_URL": "sqlite:" + filepath.Join(dir, "dev.db"),
		"ORGSTACK_DEV_KEY_FILE":     filepath.Join(dir, "dev.key"),
	}
	maps.Copy(env, extra)
	c, err := LoadConfig(env)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := devissuer.LoadOrCreate(c.devKeyFile())
	if err != nil {
		t.Fatal(err)
	}
	if log == nil {
		log = zap.NewNop()
	}
	s := devSettings(c, signer)
	app := fx.New(appOptions(s, log, append([]fx.Option{fx.Supply(signer)}, opts...)...)...)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := app.Start(ctx); err != nil {
		t.Fatalf("start: %v", err)
	}
	return devServer{app: app, signer: signer, base: "http://" + loopback(s.HTTPAddr), dir: dir}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestReadyzTurnsUnreadyBeforeDraining: once shutdown begins, /readyz
// answers 503 for ORGSTACK_SHUTDOWN_DELAY while requests are still served.
func TestReadyzTurnsUnreadyBeforeDraining(t *testing.T) {
	dev := startDev(t, map[string]string{"ORGSTACK_SHUTDOWN_DELAY": "2s"}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	app, signer, base := dev.app, dev.signer, dev.base
	status := func(path string) int {
		res, err := http.Get(base + path)
		if err != nil {
			return 0
		}
		res.Body.Close()
		return res.StatusCode
	}
	// One authenticated request loads the development issuer's keys, after
	// which the service is ready.
	token, err := signer.Mint(devissuer.TokenRequest{Subject: "alice"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/api/v1/me", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("GET /me: %v %v", res, err)
	}
	res.Body.Close()
	if got := status("/readyz"); got != http.StatusOK {
		t.Fatalf("readyz before shutdown: %d, want 200", got)
	}
	stopped := make(chan error, 1)
	go func() { stopped <- app.Stop(ctx) }()
	deadline := time.Now().Add(1500 * time.Millisecond)
	for status("/readyz") != http.StatusServiceUnavailable {
		if time.Now().After(deadline) {
			t.Fatal("readyz never answered 503 during the shutdown delay")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if got := status("/livez"); got != http.StatusOK {
		t.Errorf("livez during the delay: %d, want 200 (still serving)", got)
	}
	if err := <-stopped; err != nil {
		t.Fatalf("stop: %v", err)
	}
}

// TestDevTokenCheckAndMetadata: in dev mode the dry run verifies dev tokens
// with the dev issuer, and the protected-resource metadata names that issuer
// and ORGSTACK_PUBLIC_URL, whatever the Host header says.
func TestDevTokenCheckAndMetadata(t *testing.T) {
	dev := startDev(t, map[string]string{"ORGSTACK_PUBLIC_URL": "http://127.0.0.1:9999/"}, nil)
	t.Cleanup(func() { _ = dev.app.Stop(context.Background()) })
	admin, _ := dev.signer.Mint(devissuer.TokenRequest{Subject: "root", Admin: true}, time.Now())
	alice, _ := dev.signer.Mint(devissuer.TokenRequest{Subject: "alice", Org: "acme", Email: "a@example.com"}, time.Now())
	post := func(tok, body string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, dev.base+"/api/v1/admin/token-check", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Content-Type", "application/json")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		raw, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(raw)
	}
	code, body := post(admin, `{"token":"`+alice+`"}`)
	if code != http.StatusOK || !strings.Contains(body, `"accepted":true`) || !strings.Contains(body, `"issuer":"`+devissuer.Issuer+`"`) ||
		!strings.Contains(body, `"subject":"alice"`) || !strings.Contains(body, `"organization_claim":"acme"`) {
		t.Errorf("got %d %s, want alice's dev token accepted", code, body)
	}
	if code, body := post(alice, `{"token":"`+admin+`"}`); code != http.StatusForbidden {
		t.Errorf("got %d %s for a non-admin caller, want 403", code, body)
	}

	req, _ := http.NewRequest(http.MethodGet, dev.base+"/.well-known/oauth-protected-resource", nil)
	req.Host = "evil.example"
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(res.Body)
	res.Body.Close()
	var meta struct {
		Resource string   `json:"resource"`
		Servers  []string `json:"authorization_servers"`
	}
	_ = json.Unmarshal(raw, &meta)
	if meta.Resource != "http://127.0.0.1:9999" || len(meta.Servers) != 1 || meta.Servers[0] != devissuer.Issuer {
		t.Errorf("got %s, want resource http://127.0.0.1:9999 and the dev issuer", raw)
	}
}
