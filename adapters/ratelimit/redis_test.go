package ratelimit

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/orgstack/orgstack/adapters/ratelimit/redistest"
	"github.com/orgstack/orgstack/ports"
)

// events records what a limiter reports.
type events struct {
	mu        sync.Mutex
	fallbacks []bool
}

func (e *events) Decision(string, bool) {}
func (e *events) Fallback(active bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.fallbacks = append(e.fallbacks, active)
}
func (e *events) got() []bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]bool(nil), e.fallbacks...)
}

// TestSharedFallsBackAndRecovers stops a private redis-server under calls:
// every call is still answered (by the fallback), quickly, the outage is
// logged and reported once, Redis is asked again at most about once a
// second, and once Redis is back decisions are made there again.
func TestSharedFallsBackAndRecovers(t *testing.T) {
	srv := redistest.Start(t)
	core, logs := observer.New(zap.InfoLevel)
	ev := &events{}
	// A stopped server refuses at once; the generous bound keeps a busy
	// machine from counting a slow answer as one more outage.
	s, err := NewShared(SharedOptions{URL: srv.URL(), KeyPrefix: "t:", Logger: zap.New(core), Events: ev, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	l := s.Policy("p", Limit{Quota: 1000, Window: time.Hour})
	ctx := context.Background()
	if d, err := l.Allow(ctx, "k"); err != nil || !d.Allowed || s.FallingBack() {
		t.Fatalf("with redis up: %+v, %v", d, err)
	}

	srv.Stop()
	var slowest time.Duration
	for range 200 {
		start := time.Now()
		d, err := l.Allow(ctx, "k")
		if err != nil || !d.Allowed {
			t.Fatalf("with redis down: %+v, %v; want answered by the fallback", d, err)
		}
		slowest = max(slowest, time.Since(start))
		time.Sleep(5 * time.Millisecond)
	}
	if !s.FallingBack() {
		t.Fatal("not falling back with redis down")
	}
	// 200 calls over about a second: at most two or three ask Redis, and
	// a stopped one refuses at once.
	if slowest > time.Second {
		t.Errorf("a call took %v with redis down", slowest)
	}
	if got := logs.FilterMessageSnippet("redis cannot be reached").Len(); got != 1 {
		t.Errorf("outage logged %d times, want once", got)
	}

	srv.Start()
	deadline := time.Now().Add(5 * time.Second)
	for s.FallingBack() && time.Now().Before(deadline) {
		_, _ = l.Allow(ctx, "k")
		time.Sleep(20 * time.Millisecond)
	}
	if s.FallingBack() {
		t.Fatal("still falling back 5 s after redis came back")
	}
	if got := logs.FilterMessageSnippet("reachable again").Len(); got != 1 {
		t.Errorf("recovery logged %d times, want once", got)
	}
	if got := ev.got(); len(got) != 2 || !got[0] || got[1] {
		t.Errorf("events: Fallback %v, want [true false]", got)
	}
	// Redis lost its data when it stopped (no persistence): the key starts
	// afresh there, which proves the decision is Redis's again.
	if d, _ := l.Allow(ctx, "fresh"); !d.Allowed || d.Remaining < 998 || d.Reset > 10*time.Second {
		t.Errorf("after recovery: %+v", d)
	}
}

// TestSharedFailClosed: with FailClosed, a call Redis cannot answer is
// *ports.UnavailableError, and the limiter recovers by itself.
func TestSharedFailClosed(t *testing.T) {
	srv := redistest.Start(t)
	s, err := NewShared(SharedOptions{URL: srv.URL(), KeyPrefix: "t:", FailClosed: true, RetryEvery: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	l := s.Policy("p", Limit{Quota: 10, Window: time.Minute})
	ctx := context.Background()
	srv.Stop()
	for range 3 {
		_, err := l.Allow(ctx, "k")
		var ue *ports.UnavailableError
		if !errors.As(err, &ue) {
			t.Fatalf("with redis down and fail closed: %v, want *ports.UnavailableError", err)
		}
	}
	srv.Start()
	time.Sleep(150 * time.Millisecond)
	if d, err := l.Allow(ctx, "k"); err != nil || !d.Allowed {
		t.Fatalf("after redis came back: %+v, %v", d, err)
	}
}

// TestSharedBlackHole: a Redis address that never answers (a listener that
// accepts nothing) costs at most one bounded call per RetryEvery.
func TestSharedBlackHole(t *testing.T) {
	// 10.255.255.1 is not routed from a test machine: the connect hangs.
	s, err := NewShared(SharedOptions{URL: "redis://10.255.255.1:6379/0", KeyPrefix: "t:"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	l := s.Policy("p", Limit{Quota: 1_000_000, Window: time.Hour})
	slow := 0
	var slowest time.Duration
	for range 300 { // about 1.5 s
		start := time.Now()
		if d, err := l.Allow(context.Background(), "k"); err != nil || !d.Allowed {
			t.Fatalf("%+v, %v", d, err)
		}
		if took := time.Since(start); took > 50*time.Millisecond {
			slow++
			slowest = max(slowest, took)
		}
		time.Sleep(5 * time.Millisecond)
	}
	// Redis is tried at the first call and then about once a second.
	if slow > 3 || slowest > time.Second {
		t.Errorf("%d of 300 calls waited on a black-holed redis (slowest %v), want at most 3", slow, slowest)
	}
}
