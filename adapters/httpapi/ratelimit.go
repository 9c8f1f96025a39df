package httpapi

import (
	"context"
	"errors"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/orgstack/orgstack/ports"
)

// The policies of the RateLimit fields. Each scope may have a quota for
// every request and a separate quota for writes; the events hook hears the
// scope (ports.RateLimitEvents), the fields name the quota.
const (
	policyPrincipal          = "principal"
	policyPrincipalWrites    = "principal_writes"
	policyOrganization       = "organization"
	policyOrganizationWrites = "organization_writes"
	policyIP                 = "ip"
	policyAuthFailures       = "auth_failures"
)

// Limiters are the limits the API enforces; a nil limiter is off.
type Limiters struct {
	// Principal limits each caller (issuer and subject); PrincipalWrites
	// additionally limits the caller's writes.
	Principal, PrincipalWrites ports.RateLimiter
	// Organization limits all callers of one organization together, keyed
	// by its resolved ID; OrganizationWrites additionally limits writes.
	// They are taken by the application (RateLimits implements
	// ports.OrganizationLimiter), once it has resolved the organization.
	Organization, OrganizationWrites ports.RateLimiter
	// IP limits every authenticated route per client address (IPv6 by
	// /64), before the token is verified.
	IP ports.RateLimiter
	// AuthFailures counts 401 answers per client address; once spent, the
	// address gets 429 without its token being verified, until it may retry.
	AuthFailures ports.RateLimiter
	// Events, when set, hears every decision.
	Events ports.RateLimitEvents
}

// RateLimits applies Limiters to requests. One value serves the handler
// (Options.RateLimits) and the application (as ports.OrganizationLimiter).
type RateLimits struct {
	l   Limiters
	log *zap.Logger

	// blocked holds client addresses whose failed-authentication quota is
	// spent, until they may retry: checked before a token is verified, so
	// a flood of bad tokens costs no verification.
	mu      sync.Mutex
	blocked map[string]authBlock
	// nBlocked is len(blocked), read without the lock: requests skip the
	// lock while no address is blocked (nearly always).
	nBlocked atomic.Int64
	swept    time.Time // when expired blocks were last forgotten
}

type authBlock struct {
	until time.Time
	d     ports.RateDecision
}

// maxBlocked bounds the failed-authentication blocks held in memory.
const maxBlocked = 100_000

var _ ports.OrganizationLimiter = (*RateLimits)(nil)

// NewRateLimits returns the limits of l; log receives limiter errors.
func NewRateLimits(l Limiters, log *zap.Logger) *RateLimits {
	if log == nil {
		log = zap.NewNop()
	}
	return &RateLimits{l: l, log: log, blocked: map[string]authBlock{}}
}

// rateState is what the limits decided for one request: whether it counts
// as a write, and the decision closest to exhaustion so far, which the
// RateLimit fields report.
type rateState struct {
	write  bool
	policy string
	d      ports.RateDecision
}

// note keeps d if it is closer to exhaustion than what is kept: a refusal
// first, then fewer remaining requests, then the later reset.
func (st *rateState) note(policy string, d ports.RateDecision) {
	if st.policy != "" {
		kept := st.d
		switch {
		case kept.Allowed != d.Allowed:
			if d.Allowed {
				return
			}
		case d.Remaining > kept.Remaining, d.Remaining == kept.Remaining && d.Reset <= kept.Reset:
			return
		}
	}
	st.policy, st.d = policy, d
}

// writeHeaders writes the RateLimit-Policy and RateLimit fields
// (draft-ietf-httpapi-ratelimit-headers, structured fields) of the policy
// kept, and Retry-After when it refused. Nothing when no policy applied.
func (st *rateState) writeHeaders(h http.Header) {
	if st.policy == "" {
		return
	}
	name := `"` + st.policy + `"`
	h.Set("RateLimit-Policy", name+";q="+strconv.Itoa(st.d.Quota)+";w="+strconv.Itoa(ceilSeconds(st.d.Window)))
	h.Set("RateLimit", name+";r="+strconv.Itoa(st.d.Remaining)+";t="+strconv.Itoa(ceilSeconds(st.d.Reset)))
	if !st.d.Allowed {
		h.Set("Retry-After", strconv.Itoa(max(ceilSeconds(st.d.RetryAfter), 1)))
	}
}

func ceilSeconds(d time.Duration) int { return int((d + time.Second - 1) / time.Second) }

// isWrite reports whether a request counts against write quotas: POST,
// PUT, PATCH and DELETE, except POST …/check, which only reads.
func isWrite(method, route string) bool {
	switch method {
	case http.MethodPost:
		return !strings.HasSuffix(route, "/check")
	case http.MethodPut, http.MethodPatch, http.MethodDelete:
		return true
	}
	return false
}

// take asks one scope's limiters about key: the write quota first (for a
// write), then the general one. It returns *ports.RateLimitedError when one
// refuses, *ports.UnavailableError when one fails closed, and nil otherwise
// (a limiter that cannot decide lets the request through, logged).
func (rl *RateLimits) take(ctx context.Context, st *rateState, scope string, key string, general ports.RateLimiter, gName string, writes ports.RateLimiter, wName string) error {
	if !st.write {
		writes = nil
	}
	if general == nil && writes == nil {
		return nil
	}
	for _, c := range []struct {
		lim  ports.RateLimiter
		name string
	}{{writes, wName}, {general, gName}} {
		if c.lim == nil {
			continue
		}
		d, err := c.lim.Allow(ctx, key)
		if err != nil {
			if ports.IsUnavailable(err) {
				return err
			}
			rl.log.Warn("rate limiter failed; request let through", zap.String("policy", c.name),
				zap.String("request_id", requestID(ctx)), zap.Error(err))
			continue
		}
		st.note(c.name, d)
		if !d.Allowed {
			rl.decided(scope, false)
			return &ports.RateLimitedError{Policy: c.name, Decision: d}
		}
	}
	rl.decided(scope, true)
	return nil
}

func (rl *RateLimits) decided(scope string, allowed bool) {
	if rl.l.Events != nil {
		rl.l.Events.Decision(scope, allowed)
	}
}

// AdmitOrganization takes one request from the organization's quota (and
// from its write quota for a write). The application calls it once it has
// resolved orgID; the decision joins the request's RateLimit fields.
func (rl *RateLimits) AdmitOrganization(ctx context.Context, orgID string) error {
	if rl == nil || (rl.l.Organization == nil && rl.l.OrganizationWrites == nil) {
		return nil
	}
	st := &rateState{}
	if ri := infoOf(ctx); ri != nil {
		st = &ri.rate
	}
	return rl.take(ctx, st, policyOrganization, orgID, rl.l.Organization, policyOrganization, rl.l.OrganizationWrites, policyOrganizationWrites)
}

// beforeAuth applies what is decided before the token is looked at: a
// client address whose failed-authentication quota is spent is refused,
// then the per-address limit is taken.
func (rl *RateLimits) beforeAuth(ctx context.Context, st *rateState, ipKey string) error {
	if rl.l.AuthFailures != nil && rl.nBlocked.Load() > 0 {
		if b, ok := rl.blockedUntil(ipKey); ok {
			rl.decided(policyAuthFailures, false)
			st.note(policyAuthFailures, b.d)
			return &ports.RateLimitedError{Policy: policyAuthFailures, Decision: b.d}
		}
	}
	return rl.take(ctx, st, policyIP, ipKey, rl.l.IP, policyIP, nil, "")
}

// authFailed counts a 401 against the client address. It returns
// *ports.RateLimitedError when that spends the quota: the address is then
// refused before verification until it may retry.
func (rl *RateLimits) authFailed(ctx context.Context, st *rateState, ipKey string) error {
	if rl.l.AuthFailures == nil {
		return nil
	}
	d, err := rl.l.AuthFailures.Allow(ctx, ipKey)
	if err != nil {
		// Failing closed would turn every 401 into a 503: a 401 is
		// already a refusal, so it stands.
		if !ports.IsUnavailable(err) {
			rl.log.Warn("rate limiter failed", zap.String("policy", policyAuthFailures), zap.Error(err))
		}
		return nil
	}
	st.note(policyAuthFailures, d)
	rl.decided(policyAuthFailures, d.Allowed)
	if d.Allowed {
		return nil
	}
	rl.block(ipKey, d)
	return &ports.RateLimitedError{Policy: policyAuthFailures, Decision: d}
}

func (rl *RateLimits) blockedUntil(ipKey string) (authBlock, bool) {
	rl.mu.Lock()
	defer rl.mu.Unlock()
	if now := time.Now(); now.Sub(rl.swept) > time.Second {
		// Forget expired blocks, so that requests take the lock-free path
		// again once no address is blocked.
		rl.swept = now
		for k, b := range rl.blocked {
			if !b.until.After(now) {
				delete(rl.blocked, k)
			}
		}
		rl.nBlocked.Store(int64(len(rl.blocked)))
	}
	b, ok := rl.blocked[ipKey]
	if !ok {
		return authBlock{}, false
	}
	left := time.Until(b.until)
	if left <= 0 {
		delete(rl.blocked, ipKey)
		rl.nBlocked.Store(int64(len(rl.blocked)))
		return authBlock{}, false
	}
	b.d.RetryAfter, b.d.Remaining = left, 0
	return b, true
}

func (rl *RateLimits) block(ipKey string, d ports.RateDecision) {
	now := time.Now()
	rl.mu.Lock()
	defer rl.mu.Unlock()
	if len(rl.blocked) >= maxBlocked {
		for k, b := range rl.blocked {
			if !b.until.After(now) {
				delete(rl.blocked, k)
			}
		}
		rl.nBlocked.Store(int64(len(rl.blocked)))
		if len(rl.blocked) >= maxBlocked {
			return // full of live blocks: the limiter itself still counts
		}
	}
	rl.blocked[ipKey] = authBlock{until: now.Add(max(d.RetryAfter, time.Second)), d: d}
	rl.nBlocked.Store(int64(len(rl.blocked)))
}

// ipKey is the key of a client address: the address itself for IPv4, its
// /64 for IPv6 (one host usually holds a whole /64).
func ipKey(a netip.Addr) string {
	if !a.IsValid() {
		return "unknown"
	}
	if a.Is4() {
		return a.String()
	}
	p, _ := a.Prefix(64)
	return p.String()
}

// clientIP is the address of the client: the connection's peer, or, when
// the peer is a trusted proxy, the right-most address of the Forwarded
// (RFC 7239) or else X-Forwarded-For chain that is not a trusted proxy
// (earlier entries could be written by anyone). An entry that cannot be
// read ends the walk at the proxy that wrote it.
func clientIP(r *http.Request, trusted []netip.Prefix) netip.Addr {
	peer := remoteAddr(r.RemoteAddr)
	if len(trusted) == 0 || !isTrusted(peer, trusted) {
		return peer
	}
	var chain []string
	if fwd := r.Header.Values("Forwarded"); len(fwd) > 0 {
		chain = forwardedFor(fwd)
	} else {
		for _, v := range r.Header.Values("X-Forwarded-For") {
			for _, e := range strings.Split(v, ",") {
				chain = append(chain, strings.TrimSpace(e))
			}
		}
	}
	client := peer
	for i := len(chain) - 1; i >= 0; i-- {
		a, ok := parseHop(chain[i])
		if !ok {
			break
		}
		client = a
		if !isTrusted(a, trusted) {
			break
		}
	}
	return client
}

func remoteAddr(s string) netip.Addr {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap()
	}
	a, _ := netip.ParseAddr(s)
	return a.Unmap()
}

func isTrusted(a netip.Addr, trusted []netip.Prefix) bool {
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// forwardedFor returns the for= values of Forwarded header lines, in order.
func forwardedFor(lines []string) []string {
	var out []string
	for _, line := range lines {
		for _, elem := range strings.Split(line, ",") {
			found := ""
			for _, pair := range strings.Split(elem, ";") {
				k, v, ok := strings.Cut(strings.TrimSpace(pair), "=")
				if ok && strings.EqualFold(k, "for") {
					found = strings.Trim(v, `"`)
				}
			}
			out = append(out, found) // "" (no for=) ends the walk
		}
	}
	return out
}

// parseHop reads one address of a forwarding chain: an IP, an IP:port, or
// [IPv6]:port / [IPv6].
func parseHop(s string) (netip.Addr, bool) {
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap(), true
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap(), true
	}
	if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
		if a, err := netip.ParseAddr(s[1 : len(s)-1]); err == nil {
			return a.Unmap(), true
		}
	}
	return netip.Addr{}, false
}

// errIsAuthFailure reports whether err is answered 401 (so it counts as a
// failed authentication); an unavailable identity provider does not count.
func errIsAuthFailure(err error) bool {
	if ports.IsUnavailable(err) {
		return false
	}
	var te *ports.TokenError
	var ae *apiError
	return errors.As(err, &te) || errors.As(err, &ae) && ae.code == "unauthenticated"
}
