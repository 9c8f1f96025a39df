// Package ratelimit implements ports.RateLimiter twice: Memory, in process
// (one token bucket, golang.org/x/time/rate, per key in a bounded map; each
// instance limits on its own), and Shared, a GCRA limiter in Redis
// (github.com/go-redis/redis_rate) through which every instance enforces one
// combined limit, falling back to Memory while Redis cannot be reached. Both
// pass one contract suite (contract_test.go).
package ratelimit

import (
	"context"
	"math"
	"slices"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/orgstack/orgstack/ports"
)

var _ ports.RateLimiter = (*Memory)(nil)

// Limit is a quota of requests per window with a burst: requests flow in
// at Quota/Window, and up to Burst may come at once (0: the whole quota).
type Limit struct {
	Quota  int
	Window time.Duration
	Burst  int
}

// burst is the burst in force.
func (l Limit) burst() int {
	if l.Burst <= 0 {
		return l.Quota
	}
	return l.Burst
}

// Memory is an in-process limiter: one token bucket per key.
type Memory struct {
	quota  int
	burst  int
	window time.Duration
	limit  rate.Limit
	now    func() time.Time

	mu      sync.Mutex
	buckets map[string]*bucket
	maxKeys int
}

type bucket struct {
	lim      *rate.Limiter
	lastSeen time.Time
}

// NewMemory returns a limiter of l for each key, remembering at most
// maxKeys keys (idle ones are forgotten first; a forgotten key starts again
// with a full burst).
func NewMemory(l Limit, maxKeys int) *Memory {
	return &Memory{
		quota: l.Quota, burst: l.burst(), window: l.Window, maxKeys: maxKeys,
		limit:   rate.Limit(float64(l.Quota) / l.Window.Seconds()),
		now:     time.Now,
		buckets: make(map[string]*bucket),
	}
}

// Allow takes one request from key's bucket.
func (m *Memory) Allow(_ context.Context, key string) (ports.RateDecision, error) {
	now := m.now()
	m.mu.Lock()
	b, ok := m.buckets[key]
	if !ok {
		if len(m.buckets) >= m.maxKeys {
			m.evict(now)
		}
		b = &bucket{lim: rate.NewLimiter(m.limit, m.burst)}
		m.buckets[key] = b
	}
	b.lastSeen = now
	m.mu.Unlock()

	d := ports.RateDecision{Quota: m.quota, Window: m.window}
	r := b.lim.ReserveN(now, 1)
	if delay := r.DelayFrom(now); delay > 0 {
		r.CancelAt(now)
		d.RetryAfter = delay
	} else {
		d.Allowed = true
	}
	tokens := b.lim.TokensAt(now)
	d.Remaining = max(int(math.Floor(tokens)), 0)
	d.Reset = time.Duration((float64(m.burst) - tokens) / float64(m.limit) * float64(time.Second))
	return d, nil
}

// evict forgets the idle half of the keys: those whose bucket is full again
// first (forgetting them changes nothing), then the least recently seen.
// It runs with m.mu held.
func (m *Memory) evict(now time.Time) {
	full := time.Duration(float64(m.burst) / float64(m.limit) * float64(time.Second))
	for k, b := range m.buckets {
		if now.Sub(b.lastSeen) >= full {
			delete(m.buckets, k)
		}
	}
	if len(m.buckets) < m.maxKeys {
		return
	}
	keys := make([]string, 0, len(m.buckets))
	for k := range m.buckets {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int { return m.buckets[a].lastSeen.Compare(m.buckets[b].lastSeen) })
	for _, k := range keys[:len(keys)/2+1] {
		delete(m.buckets, k)
	}
}
