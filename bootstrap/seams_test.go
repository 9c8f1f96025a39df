package bootstrap

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/fx"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/orgstack/orgstack/adapters/devissuer"
	"github.com/orgstack/orgstack/adapters/sqlstore"
	"github.com/orgstack/orgstack/ports"
)

// readyz returns /readyz?verbose's status and its checks by name.
func readyz(t *testing.T, base string) (int, map[string]string) {
	t.Helper()
	res, err := http.Get(base + "/readyz?verbose")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var body struct {
		Checks []struct{ Name, Status string } `json:"checks"`
	}
	if err := json.NewDecoder(res.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	checks := map[string]string{}
	for _, c := range body.Checks {
		checks[c.Name] = c.Status
	}
	return res.StatusCode, checks
}

// TestReadyzReflectsEachModulesCheck: /readyz runs the checks every module
// contributes to the "readiness" group (database, jwks, shutdown, and one a
// new adapter adds without touching the HTTP module), and follows each.
func TestReadyzReflectsEachModulesCheck(t *testing.T) {
	var broken atomic.Bool
	probe := fx.Module("probe", fx.Provide(asReadiness(func() readinessCheck {
		return readinessCheck{Name: "probe", Check: func(context.Context) error {
			if broken.Load() {
				return context.DeadlineExceeded
			}
			return nil
		}}
	})))
	dev := startDev(t, nil, nil, probe)
	t.Cleanup(func() { _ = dev.app.Stop(context.Background()) })

	code, checks := readyz(t, dev.base)
	want := map[string]string{"database": "ok", "jwks": "ok", "shutdown": "ok", "probe": "ok"}
	if code != http.StatusOK || !equalMaps(checks, want) {
		t.Fatalf("got %d %v, want 200 %v", code, checks, want)
	}
	broken.Store(true)
	code, checks = readyz(t, dev.base)
	want["probe"] = "failed"
	if code != http.StatusServiceUnavailable || !equalMaps(checks, want) {
		t.Fatalf("probe failing: got %d %v, want 503 %v", code, checks, want)
	}
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// staticVerifier is another ports.TokenVerifier, as a platform team would
// plug in: it accepts one opaque token.
type staticVerifier struct{}

func (staticVerifier) Verify(_ context.Context, raw string) (ports.Principal, error) {
	if raw != "let-me-in" {
		return ports.Principal{}, errUnknownToken
	}
	return ports.Principal{Issuer: "https://static.example", Subject: "alice"}, nil
}

var errUnknownToken = errors.New("unknown token")

// TestHTTPModuleTakesAnyTokenVerifier: the HTTP module depends on
// ports.TokenVerifier, not on the JWKS adapter, so another verifier bound
// to the port authenticates requests.
func TestHTTPModuleTakesAnyTokenVerifier(t *testing.T) {
	dev := startDev(t, nil, nil, fx.Decorate(func(ports.TokenVerifier) ports.TokenVerifier { return staticVerifier{} }))
	t.Cleanup(func() { _ = dev.app.Stop(context.Background()) })
	req, _ := http.NewRequest(http.MethodGet, dev.base+"/api/v1/me", nil)
	req.Header.Set("Authorization", "Bearer let-me-in")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET /me with the other verifier's token: got %d, want 200", res.StatusCode)
	}
}

// selfManagedStore is a store adapter without migrations, as a platform
// team might add: it prepares its own schema when it opens.
type selfManagedStore struct{ ports.Store }

func (s selfManagedStore) Close() error { return s.Store.(*sqlstore.Store).Close() }

// withStoreAdapter registers an extra store adapter for one test.
func withStoreAdapter(t *testing.T, a storeAdapter) {
	t.Helper()
	saved := storeAdapters
	storeAdapters = append(storeAdapters[:len(storeAdapters):len(storeAdapters)], a)
	t.Cleanup(func() { storeAdapters = saved })
}

func selfManagedAdapter() storeAdapter {
	return storeAdapter{name: "selfmanaged", schemes: []string{"selfmanaged"},
		open: func(ctx context.Context, _ string, _ settings) (closableStore, error) {
			s, err := sqlstore.Open(ctx, "sqlite::memory:")
			if err != nil {
				return nil, err
			}
			if _, err := s.MigrateUp(ctx); err != nil {
				return nil, err
			}
			return selfManagedStore{s}, nil
		}}
}

// TestStoreAdapterChosenByScheme: one registry entry is all a new store
// needs: the dev wiring runs on it (no schema check, since it offers no
// migrations) and `migrate` says clearly that it has none.
func TestStoreAdapterChosenByScheme(t *testing.T) {
	withStoreAdapter(t, selfManagedAdapter())

	dev := startDev(t, map[string]string{"ORGSTACK_DEV_DATABASE_URL": "selfmanaged:"}, nil)
	t.Cleanup(func() { _ = dev.app.Stop(context.Background()) })
	if code, checks := readyz(t, dev.base); code != http.StatusOK || checks["database"] != "ok" {
		t.Fatalf("readyz on the new store: got %d %v", code, checks)
	}
	token, _ := dev.signer.Mint(devissuer.TokenRequest{Subject: "alice"}, time.Now())
	req, _ := http.NewRequest(http.MethodPost, dev.base+"/api/v1/organizations", strings.NewReader(`{"slug":"acme","name":"Acme"}`))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusCreated {
		t.Fatalf("create on the new store: got %d, want 201", res.StatusCode)
	}

	stdout, stderr, code := runCLI(t, map[string]string{"ORGSTACK_DATABASE_URL": "selfmanaged:"}, "migrate", "status")
	if code == 0 || !strings.Contains(stderr, `the "selfmanaged:" store does not offer migrations`) {
		t.Fatalf("migrate on a store without migrations: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
}

// TestMigrateCommand: migrate goes through the registry and the optional
// ports.Migrator of the chosen store.
func TestMigrateCommand(t *testing.T) {
	env := map[string]string{"ORGSTACK_DATABASE_URL": "sqlite:" + filepath.Join(t.TempDir(), "m.db")}
	steps := []struct {
		args []string
		want string
	}{
		{[]string{"migrate", "status"}, "pending  20260101000001_initial"},
		{[]string{"migrate", "up"}, "applied 20260101000001_initial"},
		{[]string{"migrate", "status"}, "applied  20260101000001_initial"},
		{[]string{"migrate", "up"}, "the schema is up to date"},
		{[]string{"migrate", "down"}, "rolled back 20260101000001_initial"},
	}
	for _, st := range steps {
		out, errOut, code := runCLI(t, env, st.args...)
		if code != 0 || !strings.Contains(out, st.want) {
			t.Fatalf("%v: exit %d, stdout %q, stderr %q; want %q", st.args, code, out, errOut, st.want)
		}
	}
	tests := []struct {
		name string
		give map[string]string
		want string
	}{
		{"no database URL", map[string]string{}, "ORGSTACK_DATABASE_URL is required"},
		{"unknown scheme", map[string]string{"ORGSTACK_DATABASE_URL": "mysql://db/x"}, `ORGSTACK_DATABASE_URL: no store serves "mysql:"`},
		{"not a URL", map[string]string{"ORGSTACK_DATABASE_URL": "orgstack.db"}, "ORGSTACK_DATABASE_URL: not a URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Chdir(t.TempDir())
			_, errOut, code := runCLI(t, tt.give, "migrate", "up")
			if code == 0 || !strings.Contains(errOut, tt.want) {
				t.Fatalf("got exit %d, stderr %q, want an error containing %q", code, errOut, tt.want)
			}
		})
	}
}

// runCLI runs the command line in process with env as its whole
// environment, as if invoked as "orgstack".
func runCLI(t *testing.T, env map[string]string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errOut bytes.Buffer
	root := newRootCommand(env, "orgstack")
	root.SetArgs(args)
	root.SetOut(&out)
	root.SetErr(&errOut)
	if err := root.Execute(); err != nil {
		errOut.WriteString("orgstack: " + err.Error() + "\n")
		return out.String(), errOut.String(), 1
	}
	return out.String(), errOut.String(), 0
}

// TestDevStartsQuietlyAndReady: the dev server's verifier has its keys
// before the listener opens, so start-up logs no warning and /readyz is
// 200 before any token arrives.
func TestDevStartsQuietlyAndReady(t *testing.T) {
	core, logs := observer.New(zapcore.DebugLevel)
	dev := startDev(t, nil, zap.New(core))
	t.Cleanup(func() { _ = dev.app.Stop(context.Background()) })
	for _, e := range logs.All() {
		if e.Level >= zapcore.WarnLevel {
			t.Errorf("start-up logged %s %q %v", e.Level, e.Message, e.ContextMap())
		}
	}
	if code, checks := readyz(t, dev.base); code != http.StatusOK {
		t.Fatalf("readyz right after start: got %d %v, want 200", code, checks)
	}
}
