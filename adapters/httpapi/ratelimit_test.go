package httpapi

import (
	"maps"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/orgstack/orgstack/adapters/ratelimit"
	"github.com/orgstack/orgstack/ports"
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
	// 20 s (one request's worth of a 3-per-minute quota) less the time the
	// requests took on a busy machine.
	if got, _ := strconv.Atoi(res.Header.Get("Retry-After")); got < 10 || got > 20 {
		t.Errorf("Retry-After %q, want about 20", res.Header.Get("Retry-After"))
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

func mem(quota int) ports.RateLimiter {
	return ratelimit.NewMemory(ratelimit.Limit{Quota: quota, Window: time.Minute}, 1000)
}

// TestClientIP: forwarding headers count only from a trusted peer, and
// then the right-most address that is not a trusted proxy is the client.
func TestClientIP(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")}
	tests := []struct {
		name    string
		peer    string
		headers map[string]string
		want    string
	}{
		{"no headers", "203.0.113.9:5000", nil, "203.0.113.9"},
		{"untrusted peer: XFF ignored", "203.0.113.9:5000", map[string]string{"X-Forwarded-For": "198.51.100.1"}, "203.0.113.9"},
		{"untrusted peer: Forwarded ignored", "203.0.113.9:5000", map[string]string{"Forwarded": "for=198.51.100.1"}, "203.0.113.9"},
		{"trusted peer: XFF used", "10.0.0.2:5000", map[string]string{"X-Forwarded-For": "198.51.100.1"}, "198.51.100.1"},
		{"right-most untrusted, spoofed entry left of it", "10.0.0.2:5000", map[string]string{"X-Forwarded-For": "1.1.1.1, 198.51.100.1, 10.0.0.7"}, "198.51.100.1"},
		{"all trusted: the left-most", "10.0.0.2:5000", map[string]string{"X-Forwarded-For": "10.1.1.1, 10.0.0.7"}, "10.1.1.1"},
		{"garbage stops at the proxy that wrote it", "10.0.0.2:5000", map[string]string{"X-Forwarded-For": "198.51.100.1, nonsense"}, "10.0.0.2"},
		{"Forwarded wins over XFF", "10.0.0.2:5000", map[string]string{"Forwarded": `for=198.51.100.2;proto=https, for="[fd00::1]:8080"`, "X-Forwarded-For": "1.1.1.1"}, "198.51.100.2"},
		{"Forwarded IPv6 with port", "10.0.0.2:5000", map[string]string{"Forwarded": `for="[2001:db8::7]:4711"`}, "2001:db8::7"},
		{"Forwarded obfuscated: the proxy", "10.0.0.2:5000", map[string]string{"Forwarded": `for=_hidden`}, "10.0.0.2"},
		{"IPv6 peer", "[2001:db8::1]:443", nil, "2001:db8::1"},
		{"IPv4-mapped peer", "[::ffff:10.0.0.2]:443", map[string]string{"X-Forwarded-For": "198.51.100.3"}, "198.51.100.3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.RemoteAddr = tt.peer
			for k, v := range tt.headers {
				r.Header.Set(k, v)
			}
			if got := clientIP(r, trusted).String(); got != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
		})
	}
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.RemoteAddr, r.Header = "10.0.0.2:1", http.Header{"X-Forwarded-For": {"198.51.100.1"}}
	if got := clientIP(r, nil).String(); got != "10.0.0.2" {
		t.Errorf("no trusted proxies: got %s, want the peer", got)
	}
}

// TestIPKeyAggregatesIPv6: one IPv6 /64 is one key; IPv4 addresses are
// their own.
func TestIPKeyAggregatesIPv6(t *testing.T) {
	a, b, c := ipKey(netip.MustParseAddr("2001:db8:1:2::1")), ipKey(netip.MustParseAddr("2001:db8:1:2:ffff::9")), ipKey(netip.MustParseAddr("2001:db8:1:3::1"))
	if a != b || a == c || a != "2001:db8:1:2::/64" {
		t.Errorf("keys %q %q %q: want the first two equal (one /64) and the third apart", a, b, c)
	}
	if ipKey(netip.MustParseAddr("192.0.2.1")) == ipKey(netip.MustParseAddr("192.0.2.2")) {
		t.Error("two IPv4 addresses share a key")
	}
}

// TestIPLimitBehindProxy: the per-address limit keys on the client named
// by a trusted proxy (IPv6 by /64), ignores what an untrusted peer claims,
// is logged as client_ip, and never applies to /livez.
func TestIPLimitBehindProxy(t *testing.T) {
	t.Parallel()
	e := newEnv(t, withLimits(Limiters{IP: mem(2)}), withTrustedProxies(netip.MustParsePrefix("127.0.0.0/8")))
	tok := e.token("ip-alice")
	get := func(xff string) *http.Response {
		res, _ := e.do(t, http.MethodGet, "/api/v1/me", tok, nil, "X-Forwarded-For", xff)
		return res
	}
	for _, xff := range []string{"2001:db8:5::1", "2001:db8:5::2"} {
		if res := get(xff); res.StatusCode != http.StatusOK || res.Header.Get("RateLimit-Policy") != `"ip";q=2;w=60` {
			t.Fatalf("XFF %s: %d %q", xff, res.StatusCode, res.Header.Get("RateLimit-Policy"))
		}
	}
	res := get("2001:db8:5::ffff") // same /64
	if res.StatusCode != http.StatusTooManyRequests || res.Header.Get("Retry-After") == "" {
		t.Fatalf("third request of one /64: %d, want 429 with Retry-After", res.StatusCode)
	}
	if res := get("2001:db8:6::1"); res.StatusCode != http.StatusOK {
		t.Fatalf("another /64: %d, want 200", res.StatusCode)
	}
	if e.Logs.FilterField(zap.String("client_ip", "2001:db8:6::1")).Len() == 0 {
		t.Error("the access log does not name the client_ip")
	}
	for range 5 {
		res, body := e.do(t, http.MethodGet, "/livez", "", nil, "X-Forwarded-For", "2001:db8:5::1")
		wantStatus(t, res, body, http.StatusOK)
		if res.Header.Get("RateLimit") != "" {
			t.Fatal("/livez carries RateLimit fields")
		}
	}

	// Without trusted proxies, X-Forwarded-For is the client's own claim:
	// ignored, so every request counts against the peer (127.0.0.1).
	e2 := newEnv(t, withLimits(Limiters{IP: mem(2)}))
	tok2 := e2.token("ip-bob")
	codes := []int{}
	for i := range 3 {
		res, _ := e2.do(t, http.MethodGet, "/api/v1/me", tok2, nil, "X-Forwarded-For", "198.51.100."+strconv.Itoa(i+1))
		codes = append(codes, res.StatusCode)
	}
	if codes[2] != http.StatusTooManyRequests {
		t.Errorf("untrusted XFF: statuses %v, want the third refused", codes)
	}
}

// TestAuthFailureFlood: a flood of bad tokens from one address is refused
// with 429 (without verifying once the quota is spent, good tokens
// included), while a good token from another address is unaffected.
func TestAuthFailureFlood(t *testing.T) {
	t.Parallel()
	ev := &recordedEvents{}
	e := newEnv(t, withLimits(Limiters{AuthFailures: mem(5), Events: ev}), withTrustedProxies(netip.MustParsePrefix("127.0.0.1/32")))
	attacker, good := "198.51.100.66", "198.51.100.7"
	for i := range 5 {
		res, body := e.do(t, http.MethodGet, "/api/v1/me", "not-a-token", nil, "X-Forwarded-For", attacker)
		wantProblem(t, res, body, http.StatusUnauthorized, "invalid_token")
		if got, want := res.Header.Get("RateLimit"), `"auth_failures";r=`+strconv.Itoa(4-i)+";"; !strings.HasPrefix(got, want) {
			t.Errorf("failure %d: RateLimit %q, want prefix %q", i+1, got, want)
		}
	}
	for _, tok := range []string{"", "still-bad", e.token("flood-good")} {
		res, body := e.do(t, http.MethodGet, "/api/v1/me", tok, nil, "X-Forwarded-For", attacker)
		p := wantProblem(t, res, body, http.StatusTooManyRequests, "rate_limited")
		if res.Header.Get("Retry-After") == "" || !strings.HasPrefix(res.Header.Get("RateLimit-Policy"), `"auth_failures";q=5;w=60`) {
			t.Errorf("429: Retry-After %q, RateLimit-Policy %q", res.Header.Get("Retry-After"), res.Header.Get("RateLimit-Policy"))
		}
		if !strings.Contains(p["detail"].(string), "failed-authentication") {
			t.Errorf("detail %q", p["detail"])
		}
	}
	res, body := e.do(t, http.MethodGet, "/api/v1/me", e.token("flood-good"), nil, "X-Forwarded-For", good)
	wantStatus(t, res, body, http.StatusOK)
	if res.Header.Get("RateLimit") != "" {
		t.Errorf("a success with only the failure limit on carries RateLimit %q", res.Header.Get("RateLimit"))
	}
	if ev.count("auth_failures", false) < 3 || ev.count("auth_failures", true) != 5 {
		t.Errorf("events: %v", ev.all())
	}
}

// TestOrganizationLimit: all callers of one organization share its quota,
// whether they name it by ID, by slug or through the token's claim; a
// caller who cannot see it does not spend it; writes have their own quota
// and POST …/check is not a write; the RateLimit fields name the policy
// closest to exhaustion.
func TestOrganizationLimit(t *testing.T) {
	t.Parallel()
	ev := &recordedEvents{}
	e := newEnv(t, withLimits(Limiters{Principal: mem(100), Organization: mem(6), OrganizationWrites: mem(1), Events: ev}))
	owner := e.token("org-owner")
	id := e.createOrg(t, owner, "rl-acme")
	other := e.createOrg(t, owner, "rl-other")
	memberID := e.addMember(t, owner, id, "org-member", "member") // write 1 of acme: its write quota is now spent
	member := e.token("org-member")
	bound := e.token("org-member", withOrg(id))
	outsider := e.token("org-outsider")

	for range 3 {
		res, body := e.do(t, http.MethodGet, "/api/v1/organizations/"+id+"/members", outsider, nil)
		wantProblem(t, res, body, http.StatusNotFound, "not_found")
	}
	steps := []struct {
		method, path, tok string
		body              any
		want              int
		remaining         string
	}{
		{http.MethodGet, "/api/v1/organizations/" + id + "/roles", member, nil, 200, `"organization";r=4;`},
		{http.MethodGet, "/api/v1/organizations/rl-acme/roles", owner, nil, 200, `"organization";r=3;`},
		{http.MethodGet, "/api/v1/roles", bound, nil, 200, `"organization";r=2;`},
		{http.MethodPost, "/api/v1/organizations/" + id + "/check", owner, obj{"user_id": memberID, "permission": "members:read"}, 200, `"organization";r=1;`},
		{http.MethodPost, "/api/v1/organizations/" + id + "/roles", owner, obj{"key": "x", "name": "X"}, 429, `"organization_writes";r=0;`},
		{http.MethodGet, "/api/v1/organizations/" + id, owner, nil, 200, `"organization";r=0;`},
		{http.MethodGet, "/api/v1/organizations/rl-acme", member, nil, 429, `"organization";r=0;`},
	}
	for i, s := range steps {
		res, body := e.do(t, s.method, s.path, s.tok, s.body)
		if res.StatusCode != s.want || !strings.HasPrefix(res.Header.Get("RateLimit"), s.remaining) {
			t.Fatalf("step %d (%s %s): %d RateLimit %q; want %d %s…\n%s", i+1, s.method, s.path, res.StatusCode, res.Header.Get("RateLimit"), s.want, s.remaining, body)
		}
		if s.want == 429 {
			wantProblem(t, res, body, 429, "rate_limited")
		}
	}
	// Another organization has its own quota; the caller's own quota is
	// far from spent, so the fields name the organization.
	res, body := e.do(t, http.MethodGet, "/api/v1/organizations/"+other+"/roles", owner, nil)
	wantStatus(t, res, body, http.StatusOK)
	if got := res.Header.Get("RateLimit-Policy"); got != `"organization";q=6;w=60` {
		t.Errorf("other organization: RateLimit-Policy %q", got)
	}
	// Routes outside any organization are limited per caller only.
	res, body = e.do(t, http.MethodGet, "/api/v1/me", member, nil)
	wantStatus(t, res, body, http.StatusOK)
	if got := res.Header.Get("RateLimit-Policy"); got != `"principal";q=100;w=60` {
		t.Errorf("/me: RateLimit-Policy %q", got)
	}
	if ev.count("organization", false) != 2 {
		t.Errorf("events: %v", ev.all())
	}
}

// recordedEvents is a ports.RateLimitEvents that remembers decisions.
type recordedEvents struct {
	mu        sync.Mutex
	decisions map[string]int
	fallbacks []bool
}

func (r *recordedEvents) Decision(policy string, allowed bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.decisions == nil {
		r.decisions = map[string]int{}
	}
	r.decisions[policy+"/"+strconv.FormatBool(allowed)]++
}

func (r *recordedEvents) Fallback(active bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.fallbacks = append(r.fallbacks, active)
}

func (r *recordedEvents) count(policy string, allowed bool) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.decisions[policy+"/"+strconv.FormatBool(allowed)]
}

func (r *recordedEvents) all() map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return maps.Clone(r.decisions)
}
