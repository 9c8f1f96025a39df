package sqlstore_test

import (
	"context"
	"database/sql"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/orgstack/orgstack/adapters/sqlstore"
	"github.com/orgstack/orgstack/adapters/sqlstore/sqlstoretest"
	"github.com/orgstack/orgstack/domain"
	"github.com/orgstack/orgstack/ports"
)

// pgbouncerBinary returns the PgBouncer program, or skips the test when
// there is none (fails instead when ORGSTACK_TEST_REQUIRE_PGBOUNCER is set,
// as CI does after installing Debian's pgbouncer).
func pgbouncerBinary(t *testing.T) string {
	t.Helper()
	for _, p := range []string{"pgbouncer", "/usr/sbin/pgbouncer"} {
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	if os.Getenv("ORGSTACK_TEST_REQUIRE_PGBOUNCER") != "" {
		t.Fatal("pgbouncer is not installed (ORGSTACK_TEST_REQUIRE_PGBOUNCER is set)")
	}
	t.Skip("pgbouncer is not installed")
	return ""
}

// startPgBouncer runs a private PgBouncer in transaction mode on a free
// loopback port in front of the database of direct (a postgres:// URL),
// with two server connections, and returns the URL that reaches the
// database through it. It is stopped when the test ends.
func startPgBouncer(t *testing.T, direct string) string {
	t.Helper()
	bin := pgbouncerBinary(t)
	u, err := url.Parse(direct)
	if err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "orgstack-pgbouncer-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	_ = ln.Close()
	host, pgPort, _ := net.SplitHostPort(u.Host)
	if pgPort == "" {
		host, pgPort = u.Host, "5432"
	}
	dbname := strings.TrimPrefix(u.Path, "/")
	userName := u.User.Username()
	ini := fmt.Sprintf(`[databases]
%[1]s = host=%[2]s port=%[3]s dbname=%[1]s
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = %[4]d
unix_socket_dir =
auth_type = trust
auth_file = %[5]s/users.txt
pool_mode = transaction
default_pool_size = 2
max_client_conn = 100
ignore_startup_parameters = statement_timeout
`, dbname, host, pgPort, port, dir)
	for name, body := range map[string]string{"pgbouncer.ini": ini, "users.txt": fmt.Sprintf("%q \"\"\n", userName)} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	_ = os.Chmod(dir, 0o755)
	args := []string{filepath.Join(dir, "pgbouncer.ini")}
	if os.Geteuid() == 0 { // PgBouncer refuses to run as root
		if _, err := user.Lookup("postgres"); err != nil {
			t.Skip("running as root and there is no postgres user for PgBouncer")
		}
		args = append([]string{"-u", "postgres"}, args...)
	}
	var out strings.Builder
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	for deadline := time.Now().Add(10 * time.Second); ; {
		if c, err := net.Dial("tcp", addr); err == nil {
			_ = c.Close()
			break
		}
		select {
		case <-exited:
			t.Fatalf("pgbouncer exited: %s", out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("pgbouncer did not listen on %s: %s", addr, out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	via := *u
	via.Host = addr
	return via.String()
}

// privateDatabase creates a database of its own in the server of
// ORGSTACK_TEST_POSTGRES_URL (PgBouncer passes no search_path, so a schema
// cannot isolate the test) and returns its URL; it is dropped at the end.
func privateDatabase(t *testing.T) string {
	t.Helper()
	base := os.Getenv(sqlstoretest.PostgresURLEnv)
	if base == "" {
		t.Skip(sqlstoretest.PostgresURLEnv + " is not set")
	}
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	name := fmt.Sprintf("orgstack_test_pgb_%d", time.Now().UnixNano())
	if _, err := admin.Exec("CREATE DATABASE " + name); err != nil {
		_ = admin.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if _, err := admin.Exec("DROP DATABASE " + name + " WITH (FORCE)"); err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
		_ = admin.Close()
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	return u.String()
}

// TestBehindPgBouncerTransactionMode runs a concurrent workload (writes in
// transactions with row locks, the hot-path reads, member lists) through a
// real PgBouncer in transaction mode, with each pooler-safe query mode in
// the URL. Migrations run on a direct connection: a session-level advisory
// lock means nothing through a transaction pooler. With the default mode
// (statements prepared per connection) the same workload breaks; that is
// logged, not asserted, as how it breaks depends on scheduling.
func TestBehindPgBouncerTransactionMode(t *testing.T) {
	direct := privateDatabase(t)
	pgbouncerBinary(t)
	sqlstoretest.Open(t, direct) // migrates, directly
	pooled := startPgBouncer(t, direct)
	sep := "?"
	if strings.Contains(pooled, "?") {
		sep = "&"
	}
	for i, mode := range []string{"cache_describe", "exec", "simple_protocol", ""} {
		t.Run("mode="+mode, func(t *testing.T) {
			rawURL := pooled
			if mode != "" {
				rawURL += sep + "default_query_exec_mode=" + mode
			}
			s, err := sqlstore.Open(t.Context(), rawURL)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			errs := workload(t, s, fmt.Sprintf("m%d", i), 8, 15)
			if mode == "" {
				t.Logf("default mode (prepared statements) through a transaction pooler: %d of %d operations failed; first: %v",
					len(errs), 8*15, first(errs))
				return
			}
			if len(errs) > 0 {
				t.Fatalf("%d operations failed; first: %v", len(errs), errs[0])
			}
		})
	}
}

func first(errs []error) error {
	if len(errs) == 0 {
		return nil
	}
	return errs[0]
}

// workload runs workers × rounds of: create an organization and a user,
// make the user owner in a transaction that locks the organization, read
// access and a check in one round trip, and list the members.
func workload(t *testing.T, s *sqlstore.Store, tag string, workers, rounds int) []error {
	t.Helper()
	var (
		mu   sync.Mutex
		errs []error
		wg   sync.WaitGroup
	)
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	for w := range workers {
		wg.Go(func() {
			for r := range rounds {
				if err := oneRound(context.Background(), s, fmt.Sprintf("%s-%d-%d", tag, w, r), now); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	return errs
}

func oneRound(ctx context.Context, s *sqlstore.Store, id string, now time.Time) error {
	o, err := domain.NewOrganization("org-"+id, "slug-"+id, "Org "+id, nil, now)
	if err != nil {
		return err
	}
	u, err := domain.NewUser("user-"+id, "iss", "sub-"+id, "", "", now)
	if err != nil {
		return err
	}
	if err := s.Organizations().Create(ctx, o); err != nil {
		return fmt.Errorf("create organization: %w", err)
	}
	if err := s.Users().Create(ctx, u); err != nil {
		return fmt.Errorf("create user: %w", err)
	}
	err = s.RunInTx(ctx, func(ctx context.Context, r ports.Repositories) error {
		if _, err := r.Organizations().GetForUpdate(ctx, o.ID()); err != nil {
			return err
		}
		m, err := domain.NewMembership(o.ID(), u.ID(), []string{"owner"}, now)
		if err != nil {
			return err
		}
		return r.Memberships().Create(ctx, m)
	})
	if err != nil {
		return fmt.Errorf("add owner: %w", err)
	}
	acc, facts, err := s.AccessAndCheckFacts(ctx, domain.ParseOrgRef("slug-"+id), "iss", "sub-"+id,
		ports.CheckSubject{UserID: u.ID()}, domain.PermMembersRead)
	if err != nil {
		return fmt.Errorf("access and check: %w", err)
	}
	if acc.Org == nil || acc.Membership == nil || facts.Membership == nil {
		return fmt.Errorf("access and check: got %+v %+v", acc, facts)
	}
	page, err := s.Memberships().List(ctx, ports.MemberFilter{OrgID: o.ID(), PageRequest: ports.PageRequest{Page: 1, Size: 50}})
	if err != nil {
		return fmt.Errorf("list members: %w", err)
	}
	if page.Total != 1 {
		return fmt.Errorf("list members: total %d, want 1", page.Total)
	}
	return nil
}
