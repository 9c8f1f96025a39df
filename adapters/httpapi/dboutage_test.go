package httpapi

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap/zapcore"

	"github.com/orgstack/orgstack/adapters/sqlstore"
	"github.com/orgstack/orgstack/adapters/sqlstore/sqlstoretest"
)

// tcpProxy stands between the store and PostgreSQL so a test can take the
// database away without touching the shared server: down closes the
// listener and every connection (connections are refused), hang keeps
// accepting and reading but never answers.
type tcpProxy struct {
	target string
	addr   string

	mu    sync.Mutex
	ln    net.Listener
	conns map[net.Conn]struct{}
	hung  atomic.Bool
}

func newTCPProxy(t *testing.T, target string) *tcpProxy {
	t.Helper()
	p := &tcpProxy{target: target, conns: map[net.Conn]struct{}{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.addr = ln.Addr().String()
	p.serve(ln)
	t.Cleanup(p.down)
	return p
}

func (p *tcpProxy) serve(ln net.Listener) {
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go p.handle(c)
		}
	}()
}

func (p *tcpProxy) track(c net.Conn) {
	p.mu.Lock()
	p.conns[c] = struct{}{}
	p.mu.Unlock()
}

func (p *tcpProxy) handle(c net.Conn) {
	p.track(c)
	if p.hung.Load() {
		_, _ = io.Copy(io.Discard, c) // accept, read, never answer
		return
	}
	up, err := net.Dial("tcp", p.target)
	if err != nil {
		c.Close()
		return
	}
	p.track(up)
	go p.pipe(up, c)
	p.pipe(c, up)
}

// pipe copies src to dst until either closes; while hung it swallows.
func (p *tcpProxy) pipe(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if err != nil {
			dst.Close()
			src.Close()
			return
		}
		if p.hung.Load() {
			continue
		}
		if _, err := dst.Write(buf[:n]); err != nil {
			src.Close()
			return
		}
	}
}

// down refuses new connections and cuts the open ones.
func (p *tcpProxy) down() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		c.Close()
	}
	clear(p.conns)
}

// up listens again on the same address.
func (p *tcpProxy) up(t *testing.T) {
	t.Helper()
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		t.Fatalf("proxy: listen again on %s: %v", p.addr, err)
	}
	p.serve(ln)
}

// TestDatabaseOutage drives the real router against PostgreSQL through a
// proxy: a database that refuses connections, and one that accepts and
// hangs, are answered 503 unavailable with Retry-After within seconds, the
// log says so once instead of once per request, and service resumes when
// the database is back.
func TestDatabaseOutage(t *testing.T) {
	schemaURL := sqlstoretest.PostgresSchemaURL(t)
	sqlstoretest.Open(t, schemaURL) // migrates the schema, directly
	u, err := url.Parse(schemaURL)
	if err != nil {
		t.Fatal(err)
	}
	proxy := newTCPProxy(t, u.Host)
	u.Host = proxy.addr
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	store, err := sqlstore.Open(ctx, u.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	store.SetMaxConns(4)
	e := newEnv(t, withStore(func(testing.TB) *sqlstore.Store { return store }))
	tok := e.token("alice")
	orgPath := "/api/v1/organizations/" + e.createOrg(t, tok, "acme")

	// Down: connections refused.
	proxy.down()
	const requests = 50
	var slowest time.Duration
	for range requests {
		start := time.Now()
		res, body := e.do(t, http.MethodGet, orgPath, tok, nil)
		slowest = max(slowest, time.Since(start))
		wantUnavailable(t, res, body)
	}
	t.Logf("database down: %d requests, each 503 unavailable, slowest %v", requests, slowest)
	if slowest > 2*time.Second {
		t.Errorf("slowest 503 took %v, want within seconds", slowest)
	}
	res, body := e.do(t, http.MethodGet, "/readyz", "", nil)
	wantProblem(t, res, body, http.StatusServiceUnavailable, "not_ready")
	var announced, internal int
	for _, l := range e.Logs.FilterLevelExact(zapcore.WarnLevel).All() {
		if strings.HasPrefix(l.Message, "database unavailable") {
			announced++
		}
	}
	internal = e.Logs.FilterMessage("internal error").Len()
	if announced != 1 || internal != 0 {
		t.Errorf("log: %d database-unavailable lines and %d internal errors for %d refused requests, want 1 and 0",
			announced, internal, requests)
	}

	// Back up: requests succeed again.
	proxy.up(t)
	waitStatus(t, e, orgPath, tok, http.StatusOK, 10*time.Second)

	// Hanging: accepted, never answered.
	proxy.hung.Store(true)
	start := time.Now()
	res, body = e.do(t, http.MethodGet, orgPath, tok, nil)
	took := time.Since(start)
	wantUnavailable(t, res, body)
	t.Logf("database hanging: 503 after %v", took)
	if took > DefaultRequestTimeout+2*time.Second {
		t.Errorf("503 took %v with a hung database, want about %v", took, DefaultRequestTimeout)
	}
	proxy.hung.Store(false)
	proxy.down() // drop the hung connections
	proxy.up(t)
	waitStatus(t, e, orgPath, tok, http.StatusOK, 15*time.Second)
}

// waitStatus polls path until it answers want.
func waitStatus(t *testing.T, e *env, path, tok string, want int, limit time.Duration) {
	t.Helper()
	start := time.Now()
	for {
		res, body := e.do(t, http.MethodGet, path, tok, nil)
		if res.StatusCode == want {
			return
		}
		if time.Since(start) > limit {
			t.Fatalf("%s still %d after %v: %s", path, res.StatusCode, limit, body)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
