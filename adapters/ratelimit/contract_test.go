package ratelimit

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/orgstack/orgstack/adapters/ratelimit/redistest"
	"github.com/orgstack/orgstack/ports"
)

// runContract is the one contract every ports.RateLimiter here passes, in
// real time (Redis keeps its own clock). newLimiter returns a fresh limiter
// of l whose keys no other test shares.
func runContract(t *testing.T, newLimiter func(t *testing.T, l Limit) ports.RateLimiter) {
	ctx := context.Background()
	near := func(t *testing.T, what string, got, want, slack time.Duration) {
		t.Helper()
		if got < want-slack || got > want+slack {
			t.Errorf("%s = %v, want %v ± %v", what, got, want, slack)
		}
	}

	t.Run("quota, remaining, reset and retry", func(t *testing.T) {
		t.Parallel()
		l := newLimiter(t, Limit{Quota: 3, Window: time.Hour})
		for i, want := range []int{2, 1, 0} {
			d, err := l.Allow(ctx, "alice")
			if err != nil || !d.Allowed || d.Remaining != want || d.Quota != 3 || d.Window != time.Hour {
				t.Fatalf("request %d: got %+v, %v; want allowed, %d remaining, quota 3 per 1h", i+1, d, err, want)
			}
			near(t, "Reset", d.Reset, time.Duration(i+1)*20*time.Minute, 5*time.Second)
		}
		d, err := l.Allow(ctx, "alice")
		if err != nil || d.Allowed || d.Remaining != 0 {
			t.Fatalf("4th request: got %+v, %v; want refused", d, err)
		}
		near(t, "RetryAfter", d.RetryAfter, 20*time.Minute, 5*time.Second)
		if d, err := l.Allow(ctx, "bob"); err != nil || !d.Allowed || d.Remaining != 2 {
			t.Fatalf("another key: got %+v, %v; want its own quota", d, err)
		}
	})

	t.Run("burst below the quota", func(t *testing.T) {
		t.Parallel()
		l := newLimiter(t, Limit{Quota: 60, Window: time.Hour, Burst: 5})
		for i := range 5 {
			if d, err := l.Allow(ctx, "k"); err != nil || !d.Allowed {
				t.Fatalf("request %d of the burst: %+v, %v", i+1, d, err)
			}
		}
		d, err := l.Allow(ctx, "k")
		if err != nil || d.Allowed {
			t.Fatalf("past the burst: %+v, %v; want refused", d, err)
		}
		near(t, "RetryAfter", d.RetryAfter, time.Minute, 5*time.Second)
	})

	t.Run("refills at the rate", func(t *testing.T) {
		t.Parallel()
		l := newLimiter(t, Limit{Quota: 3600, Window: time.Hour, Burst: 1}) // one a second
		if d, err := l.Allow(ctx, "k"); err != nil || !d.Allowed {
			t.Fatalf("first: %+v, %v", d, err)
		}
		d, err := l.Allow(ctx, "k")
		if err != nil || d.Allowed || d.RetryAfter <= 0 || d.RetryAfter > time.Second {
			t.Fatalf("past the burst: %+v, %v; want refused for at most 1 s", d, err)
		}
		time.Sleep(d.RetryAfter + 50*time.Millisecond)
		if d, err := l.Allow(ctx, "k"); err != nil || !d.Allowed {
			t.Fatalf("after RetryAfter: %+v, %v; want allowed", d, err)
		}
	})

	t.Run("exact under concurrency", func(t *testing.T) {
		t.Parallel()
		l := newLimiter(t, Limit{Quota: 100, Window: time.Hour})
		var allowed atomic.Int64
		var wg sync.WaitGroup
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range 40 {
					d, err := l.Allow(ctx, "shared")
					if err != nil {
						t.Error(err)
						return
					}
					if d.Allowed {
						allowed.Add(1)
					}
				}
			}()
		}
		wg.Wait()
		if got := allowed.Load(); got != 100 {
			t.Fatalf("%d of 320 allowed, want exactly the quota of 100", got)
		}
	})
}

func TestMemoryContract(t *testing.T) {
	runContract(t, func(t *testing.T, l Limit) ports.RateLimiter { return NewMemory(l, 1000) })
}

func TestSharedContract(t *testing.T) {
	url := redistest.URL(t)
	runContract(t, func(t *testing.T, l Limit) ports.RateLimiter {
		s, err := NewShared(SharedOptions{URL: url, KeyPrefix: redistest.Prefix(t, url)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		return s.Policy("contract", l)
	})
}

// BenchmarkAllow measures one decision of each limiter (the shared one
// against ORGSTACK_TEST_REDIS_URL, a round trip to Redis per decision):
//
//	ORGSTACK_TEST_REDIS_URL=redis://127.0.0.1:6379/0 go test -run '^$' -bench Allow ./adapters/ratelimit/
func BenchmarkAllow(b *testing.B) {
	ctx := context.Background()
	l := Limit{Quota: 1 << 30, Window: time.Hour}
	b.Run("memory", func(b *testing.B) {
		m := NewMemory(l, 1000)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				_, _ = m.Allow(ctx, "k")
			}
		})
	})
	b.Run("redis", func(b *testing.B) {
		url := redistest.URL(b)
		s, err := NewShared(SharedOptions{URL: url, KeyPrefix: redistest.Prefix(b, url)})
		if err != nil {
			b.Fatal(err)
		}
		defer s.Close()
		p := s.Policy("bench", l)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := p.Allow(ctx, "k"); err != nil {
					b.Error(err)
					return
				}
			}
		})
		if s.FallingBack() {
			b.Fatal("fell back during the benchmark")
		}
	})
}
