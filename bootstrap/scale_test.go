package bootstrap

import (
	"bytes"
	"database/sql"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/orgstack/orgstack/adapters/devissuer"
)

// serveProcess is a running `orgstack serve` process.
type serveProcess struct {
	base   string
	cmd    *exec.Cmd
	stderr *syncBuffer
	exited chan struct{}
}

// syncBuffer is a bytes.Buffer safe for a process writing and a test reading.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// buildOrgstack builds the program once per test into a temporary directory.
func buildOrgstack(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := filepath.Join(t.TempDir(), "orgstack")
	if out, err := exec.Command("go", "build", "-o", bin, "..").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// startServeProcess starts `bin serve` with env (and PATH, HOME) and stops
// it with SIGTERM when the test ends. It does not wait for readiness.
func startServeProcess(t *testing.T, bin string, env map[string]string) *serveProcess {
	t.Helper()
	p := &serveProcess{base: "http://" + env["ORGSTACK_HTTP_ADDR"], stderr: &syncBuffer{}, exited: make(chan struct{})}
	p.cmd = exec.Command(bin, "serve")
	p.cmd.Dir = t.TempDir()
	p.cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + p.cmd.Dir}
	for k, v := range env {
		p.cmd.Env = append(p.cmd.Env, k+"="+v)
	}
	p.cmd.Stderr = p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = p.cmd.Wait(); close(p.exited) }()
	t.Cleanup(func() {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.exited:
		case <-time.After(30 * time.Second):
			_ = p.cmd.Process.Kill()
			<-p.exited
		}
	})
	return p
}

// waitReady waits until the process answers /readyz with 200, failing with
// its error output if it exits first.
func (p *serveProcess) waitReady(t *testing.T, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		select {
		case <-p.exited:
			t.Fatalf("serve exited before it was ready:\n%s", p.stderr.String())
		default:
		}
		if res, err := http.Get(p.base + "/readyz"); err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve not ready within %v:\n%s", within, p.stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestTwoServeProcessesOnOneEmptyDatabase: two `orgstack serve` processes
// with ORGSTACK_AUTO_MIGRATE=true started at the same moment on one empty
// PostgreSQL schema both come up; the migrations are applied exactly once,
// by one of them (the advisory lock); and what is written through one
// instance is read through the other: instances keep no state of their own.
func TestTwoServeProcessesOnOneEmptyDatabase(t *testing.T) {
	pg := os.Getenv("ORGSTACK_TEST_POSTGRES_URL")
	if pg == "" {
		t.Skip("ORGSTACK_TEST_POSTGRES_URL is not set")
	}
	bin := buildOrgstack(t)
	dbURL := emptyPostgresSchema(t, pg)
	signer, err := devissuer.LoadOrCreate(filepath.Join(t.TempDir(), "dev.key"))
	if err != nil {
		t.Fatal(err)
	}
	jwks := newJWKSServer(t, signer)
	env := func() map[string]string {
		return map[string]string{
			"ORGSTACK_DATABASE_URL": dbURL, "ORGSTACK_AUTO_MIGRATE": "true",
			"ORGSTACK_OIDC_ISSUER": devissuer.Issuer, "ORGSTACK_AUDIENCE": devissuer.Audience,
			"ORGSTACK_JWKS_URL": jwks.URL, "ORGSTACK_HTTP_ADDR": freeAddr(t),
			"ORGSTACK_LOG_LEVEL": "info",
		}
	}
	envA, envB := env(), env()
	var a, b *serveProcess
	var wg sync.WaitGroup
	start := make(chan struct{})
	wg.Go(func() { <-start; a = startServeProcess(t, bin, envA) })
	wg.Go(func() { <-start; b = startServeProcess(t, bin, envB) })
	close(start)
	wg.Wait()
	a.waitReady(t, 60*time.Second)
	b.waitReady(t, 60*time.Second)

	// Exactly once: one row per migration, and one instance says it applied them.
	db, err := sql.Open("pgx", dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var rows, distinct int
	if err := db.QueryRow("SELECT count(*), count(DISTINCT name) FROM bun_migrations").Scan(&rows, &distinct); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob("../adapters/sqlstore/migrations/postgres/*.up.sql")
	if rows != len(files) || distinct != len(files) {
		t.Errorf("bun_migrations: %d rows (%d names), want %d", rows, distinct, len(files))
	}

	alice, err := signer.Mint(devissuer.TokenRequest{Subject: "alice"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	want(t, a.base, http.MethodPost, "/api/v1/organizations", alice, `{"slug":"acme","name":"Acme"}`, http.StatusCreated, "")
	want(t, a.base, http.MethodPost, "/api/v1/organizations/acme/members", alice,
		`{"subject":"bob","email":"bob@example.com","roles":["member"]}`, http.StatusCreated, "")
	got := want(t, b.base, http.MethodPost, "/api/v1/organizations/acme/check", alice,
		`{"subject":"bob","permission":"members:read"}`, http.StatusOK, "")
	if got["allowed"] != true {
		t.Errorf("check through the other instance: %v, want allowed", got)
	}
	// A slug taken through one instance is taken for the other.
	want(t, b.base, http.MethodPost, "/api/v1/organizations", alice, `{"slug":"acme","name":"Again"}`, http.StatusConflict, "")

	// Logs are flushed at shutdown: stop both, then read who migrated.
	for _, p := range []*serveProcess{a, b} {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.exited:
		case <-time.After(30 * time.Second):
			t.Fatal("serve did not stop on SIGTERM")
		}
	}
	migrated := 0
	for _, p := range []*serveProcess{a, b} {
		if strings.Contains(p.stderr.String(), `"applied migrations"`) {
			migrated++
		}
	}
	if migrated != 1 {
		t.Errorf("%d instances logged applied migrations, want 1:\nA:\n%s\nB:\n%s", migrated, a.stderr.String(), b.stderr.String())
	}
}

// TestServeStartsDespiteAStaleBunMigrationLock: a row in
// bun_migration_locks, as a process that crashed while migrating with bun's
// own lock leaves it, does not keep serve (ORGSTACK_AUTO_MIGRATE=true) from
// starting on PostgreSQL.
func TestServeStartsDespiteAStaleBunMigrationLock(t *testing.T) {
	pg := os.Getenv("ORGSTACK_TEST_POSTGRES_URL")
	if pg == "" {
		t.Skip("ORGSTACK_TEST_POSTGRES_URL is not set")
	}
	dbURL := emptyPostgresSchema(t, pg)
	db, err := sql.Open("pgx", dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, stmt := range []string{
		`CREATE TABLE bun_migration_locks (id bigserial PRIMARY KEY, table_name varchar UNIQUE)`,
		`INSERT INTO bun_migration_locks (table_name) VALUES ('bun_migrations')`,
	} {
		if _, err := db.Exec(stmt); err != nil {
			t.Fatal(err)
		}
	}
	signer, err := devissuer.LoadOrCreate(filepath.Join(t.TempDir(), "dev.key"))
	if err != nil {
		t.Fatal(err)
	}
	jwks := newJWKSServer(t, signer)
	// startServe fails the test unless serve starts within 30 s.
	base := startServe(t, map[string]string{
		"ORGSTACK_DATABASE_URL": dbURL,
		"ORGSTACK_OIDC_ISSUER":  devissuer.Issuer, "ORGSTACK_AUDIENCE": devissuer.Audience,
		"ORGSTACK_JWKS_URL": jwks.URL,
	})
	alice, _ := signer.Mint(devissuer.TokenRequest{Subject: "alice"}, time.Now())
	want(t, base, http.MethodPost, "/api/v1/organizations", alice, `{"slug":"acme","name":"Acme"}`, http.StatusCreated, "")
}
