package httpapi

import (
	"net/http"
	"testing"
	"time"

	"github.com/orgstack/orgstack/adapters/ratelimit"
)

// TestRateLimit: each caller has its own quota; beyond it the answer is 429
// rate_limited with Retry-After, and every limited response carries the
// RateLimit-Policy and RateLimit fields.
func TestRateLimit(t *testing.T) {
	t.Parallel()
	e := newEnv(t, withLimiter(ratelimit.NewMemory(ratelimit.Limit{Quota: 3, Window: time.Minute}, 1000)))
	alice, bob := e.token("rl-alice"), e.token("rl-bob")

	for i, wantRemaining := range []string{`"principal";r=2;`, `"principal";r=1;`, `"principal";r=0;`} {
		res, body := e.do(t, http.MethodGet, "/api/v1/me", alice, nil)
		wantStatus(t, res, body, http.StatusOK)
		if got := res.Header.Get("RateLimit-Policy"); got != `"principal";q=3;w=60` {
			t.Errorf("request %d: RateLimit-Policy %q", i+1, got)
		}
		if got := res.Header.Get("RateLimit"); len(got) < len(wantRemaining) || got[:len(wantRemaining)] != wantRemaining {
			t.Errorf("request %d: RateLimit %q, want prefix %q", i+1, got, wantRemaining)
		}
	}
	res, body := e.do(t, http.MethodGet, "/api/v1/me", alice, nil)
	wantProblem(t, res, body, http.StatusTooManyRequests, "rate_limited")
	if got := res.Header.Get("Retry-After"); got != "20" {
		t.Errorf("Retry-After %q, want 20", got)
	}

	res, body = e.do(t, http.MethodGet, "/api/v1/me", bob, nil)
	wantStatus(t, res, body, http.StatusOK)

	// Unauthenticated requests are refused before the limiter and do not
	// spend anyone's quota.
	res, body = e.do(t, http.MethodGet, "/api/v1/me", "", nil)
	wantProblem(t, res, body, http.StatusUnauthorized, "unauthenticated")
	if res.Header.Get("RateLimit") != "" {
		t.Errorf("a 401 carries RateLimit %q", res.Header.Get("RateLimit"))
	}
}
