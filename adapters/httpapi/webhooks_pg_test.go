package httpapi

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/orgstack/orgstack/adapters/sqlstore"
	"github.com/orgstack/orgstack/adapters/sqlstore/sqlstoretest"
	"github.com/orgstack/orgstack/adapters/system"
	"github.com/orgstack/orgstack/application"
	"github.com/orgstack/orgstack/ports"
)

// requirePrivatePGEnv makes a missing initdb/pg_ctl a failure (CI).
const requirePrivatePGEnv = "ORGSTACK_TEST_REQUIRE_PRIVATE_PG"

// privatePG is a PostgreSQL cluster of the test's own, on a free loopback
// port in a temporary directory, so that the test may restart it.
type privatePG struct {
	t          testing.TB
	bin, dir   string
	port       int
	asPostgres bool // running as root: the server runs as the postgres user
}

func startPrivatePG(t testing.TB) *privatePG {
	t.Helper()
	bins, _ := filepath.Glob("/usr/lib/postgresql/*/bin/pg_ctl")
	if len(bins) == 0 {
		if os.Getenv(requirePrivatePGEnv) != "" {
			t.Fatalf("%s is set but no /usr/lib/postgresql/*/bin/pg_ctl exists", requirePrivatePGEnv)
		}
		t.Skip("no PostgreSQL server binaries under /usr/lib/postgresql/*/bin: the private-cluster restart test needs initdb and pg_ctl")
	}
	sort.Strings(bins)
	p := &privatePG{t: t, bin: filepath.Dir(bins[len(bins)-1]), asPostgres: os.Geteuid() == 0}
	dir, err := os.MkdirTemp("", "orgstack-pg-")
	if err != nil {
		t.Fatal(err)
	}
	p.dir = dir
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	if p.asPostgres {
		if out, err := exec.Command("chown", "postgres", dir).CombinedOutput(); err != nil {
			t.Fatalf("chown: %v: %s", err, out)
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.port = l.Addr().(*net.TCPAddr).Port
	_ = l.Close()
	p.run("initdb", "-D", filepath.Join(dir, "data"), "-U", "postgres", "-A", "trust", "--no-sync")
	p.run("pg_ctl", "-D", filepath.Join(dir, "data"), "-l", filepath.Join(dir, "log"), "-w", "-o",
		fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off", p.port, dir), "start")
	t.Cleanup(func() { _ = p.cmd("pg_ctl", "-D", filepath.Join(dir, "data"), "-m", "immediate", "-w", "stop").Run() })
	return p
}

func (p *privatePG) cmd(name string, args ...string) *exec.Cmd {
	path := filepath.Join(p.bin, name)
	if p.asPostgres {
		return exec.Command("runuser", append([]string{"-u", "postgres", "--", path}, args...)...)
	}
	return exec.Command(path, args...)
}

func (p *privatePG) run(name string, args ...string) {
	p.t.Helper()
	if out, err := p.cmd(name, args...).CombinedOutput(); err != nil {
		p.t.Fatalf("%s: %v: %s", name, err, out)
	}
}

// restart stops the server abruptly (as a crash would) and starts it again.
func (p *privatePG) restart() {
	p.run("pg_ctl", "-D", filepath.Join(p.dir, "data"), "-m", "immediate", "-w", "stop")
	p.run("pg_ctl", "-D", filepath.Join(p.dir, "data"), "-l", filepath.Join(p.dir, "log"), "-w", "-o",
		fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off", p.port, p.dir), "start")
}

func (p *privatePG) url() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", p.port)
}

// TestWebhookPostgresRestart restarts the private cluster with deliveries
// pending and events being written: every committed event is delivered at
// least once, verified and in order per endpoint; the dispatcher outlives
// the outage on its own.
func TestWebhookPostgresRestart(t *testing.T) {
	pg := startPrivatePG(t)
	w := newWebhookEnv(t, withStore(func(tb testing.TB) *sqlstore.Store { return sqlstoretest.Open(tb, pg.url()) }))
	w.create(t, "member.*")
	w.dispatcher(t, application.DispatcherConfig{Workers: 2})
	w.enqueue(t, "member.added", 10)
	w.rc.setMode("fail") // deliveries pile up behind a retrying head
	w.enqueue(t, "member.added", 10)

	pg.restart()

	// Writes during and after the outage: retried until the database
	// answers again; each committed one must be delivered.
	waitFor(t, "the database to answer again", func() bool { return w.Store.Ping(context.Background()) == nil })
	committed := 20
	for i := 0; i < 10; i++ {
		err := w.Store.RunInTx(context.Background(), func(ctx context.Context, r ports.Repositories) error {
			return r.Outbox().Enqueue(ctx, ports.OutboxEvent{ID: system.UUIDv7{}.NewID(), OrgID: w.org, Type: "member.updated",
				OccurredAt: time.Now(), Subject: "members/x", Data: map[string]any{}})
		})
		if err == nil {
			committed++
		} else {
			time.Sleep(100 * time.Millisecond)
		}
	}
	w.rc.setMode("")
	wantInOrder(t, w.rc, committed)
}
