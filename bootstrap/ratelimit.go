package bootstrap

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"time"

	"go.uber.org/fx"
	"go.uber.org/zap"

	"github.com/orgstack/orgstack/adapters/httpapi"
	"github.com/orgstack/orgstack/adapters/ratelimit"
	"github.com/orgstack/orgstack/ports"
)

// rateLimitSettings are the resolved rate-limit settings (see README,
// "Rate limits"). A quota of 0 is off; a burst of 0 is the quota.
type rateLimitSettings struct {
	Window                                 time.Duration // of the principal, organization and address quotas
	Principal, PrincipalBurst, PrincipalW  int
	Org, OrgBurst, OrgW                    int
	IP, IPBurst                            int
	AuthFailures, AuthFailuresBurst        int // per minute
	RedisURL, RedisURLFile, RedisKeyPrefix string
	RedisTimeout                           time.Duration
	FailClosed                             bool
	TrustedProxies                         []netip.Prefix
}

// authFailuresWindow is the window of the failed-authentication quota.
const authFailuresWindow = time.Minute

func rateLimitSettingsOf(c Config) rateLimitSettings {
	proxies, _ := parseTrustedProxies(c.TrustedProxies) // validated by validateRateLimits
	return rateLimitSettings{
		Window:    c.RateLimitWindow,
		Principal: c.RateLimit, PrincipalBurst: c.RateLimitBurst, PrincipalW: c.RateLimitWrites,
		Org: c.RateLimitOrg, OrgBurst: c.RateLimitOrgBurst, OrgW: c.RateLimitOrgWrites,
		IP: c.RateLimitIP, IPBurst: c.RateLimitIPBurst,
		AuthFailures: c.RateLimitAuthFailures, AuthFailuresBurst: c.RateLimitAuthFailuresBurst,
		RedisURL: c.RedisURL, RedisURLFile: c.RedisURLFile, RedisKeyPrefix: c.RedisKeyPrefix,
		RedisTimeout:   c.RedisTimeout,
		FailClosed:     c.RateLimitFailClosed,
		TrustedProxies: proxies,
	}
}

// validateRateLimits checks the settings of bootstrap/ratelimit.go.
func (c Config) validateRateLimits() error {
	var errs []error
	for name, v := range map[string]int{
		"ORGSTACK_RATE_LIMIT_BURST": c.RateLimitBurst, "ORGSTACK_RATE_LIMIT_WRITES": c.RateLimitWrites,
		"ORGSTACK_RATE_LIMIT_ORG": c.RateLimitOrg, "ORGSTACK_RATE_LIMIT_ORG_BURST": c.RateLimitOrgBurst,
		"ORGSTACK_RATE_LIMIT_ORG_WRITES": c.RateLimitOrgWrites, "ORGSTACK_RATE_LIMIT_IP": c.RateLimitIP,
		"ORGSTACK_RATE_LIMIT_IP_BURST": c.RateLimitIPBurst, "ORGSTACK_RATE_LIMIT_AUTH_FAILURES": c.RateLimitAuthFailures,
		"ORGSTACK_RATE_LIMIT_AUTH_FAILURES_BURST": c.RateLimitAuthFailuresBurst,
	} {
		if v < 0 {
			errs = append(errs, fmt.Errorf("%s must not be negative", name))
		}
	}
	if (c.RateLimitOrg > 0 || c.RateLimitOrgWrites > 0 || c.RateLimitIP > 0 || c.RateLimitWrites > 0) && c.RateLimitWindow < time.Second {
		errs = append(errs, errors.New("ORGSTACK_RATE_LIMIT_WINDOW must be at least 1s"))
	}
	if c.RedisURL != "" && c.RedisURLFile != "" {
		errs = append(errs, errors.New("set at most one of ORGSTACK_REDIS_URL and ORGSTACK_REDIS_URL_FILE"))
	}
	if c.RedisURL != "" {
		if _, err := ratelimit.NewShared(ratelimit.SharedOptions{URL: c.RedisURL}); err != nil {
			// The URL may hold a password: never print it.
			errs = append(errs, errors.New("ORGSTACK_REDIS_URL is not a redis:// or rediss:// URL"))
		}
	}
	if c.RedisTimeout < time.Millisecond || c.RedisTimeout > 10*time.Second {
		errs = append(errs, errors.New("ORGSTACK_REDIS_TIMEOUT must be between 1ms and 10s"))
	}
	if c.RateLimitFailClosed && c.RedisURL == "" && c.RedisURLFile == "" {
		errs = append(errs, errors.New("ORGSTACK_RATE_LIMIT_FAIL_CLOSED needs ORGSTACK_REDIS_URL (or _FILE)"))
	}
	if _, err := parseTrustedProxies(c.TrustedProxies); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// parseTrustedProxies reads CIDRs (a bare address is its own /32 or /128).
func parseTrustedProxies(list []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, v := range list {
		v = strings.TrimSpace(v)
		if v == "" {
			continue
		}
		if p, err := netip.ParsePrefix(v); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(v)
		if err != nil {
			return nil, fmt.Errorf("ORGSTACK_TRUSTED_PROXIES: %q is not a CIDR or an address", v)
		}
		out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
	}
	return out, nil
}

// rateLimitParams are what the rate limits need; Events is supplied by a
// metrics module when there is one.
type rateLimitParams struct {
	fx.In
	Settings  settings
	Log       *zap.Logger
	Lifecycle fx.Lifecycle
	Events    ports.RateLimitEvents `optional:"true"`
}

// rateLimitResult is the one *httpapi.RateLimits, handed to the HTTP module
// and, as ports.OrganizationLimiter, to the application.
type rateLimitResult struct {
	fx.Out
	Limits *httpapi.RateLimits
	Org    ports.OrganizationLimiter
}

// rateLimitModule builds the limits: in process, or in Redis when
// ORGSTACK_REDIS_URL is set (each policy then falls back to in process
// while Redis cannot be reached). It adds no readiness check: falling back
// keeps the instance serving, and failing closed affects every instance
// alike (they share the Redis), so taking instances out of the load
// balancer would not help.
var rateLimitModule = fx.Module("ratelimit", fx.Provide(newRateLimits))

func newRateLimits(p rateLimitParams) (rateLimitResult, error) {
	s := p.Settings.Limits
	log := p.Log.Named("ratelimit")
	var policy func(name string, l ratelimit.Limit) ports.RateLimiter
	redisURL := s.RedisURL
	if s.RedisURLFile != "" {
		b, err := os.ReadFile(s.RedisURLFile)
		if err != nil {
			return rateLimitResult{}, fmt.Errorf("ORGSTACK_REDIS_URL_FILE: %w", err)
		}
		redisURL = strings.TrimRight(string(b), "\r\n")
	}
	if redisURL != "" {
		shared, err := ratelimit.NewShared(ratelimit.SharedOptions{
			URL: redisURL, KeyPrefix: s.RedisKeyPrefix, Timeout: s.RedisTimeout, FailClosed: s.FailClosed, Logger: log, Events: p.Events,
		})
		if err != nil {
			return rateLimitResult{}, errors.New("ORGSTACK_REDIS_URL(_FILE) is not a redis:// or rediss:// URL")
		}
		p.Lifecycle.Append(fx.StopHook(shared.Close))
		policy = shared.Policy
	} else {
		policy = func(_ string, l ratelimit.Limit) ports.RateLimiter { return ratelimit.NewMemory(l, 100_000) }
	}
	newPolicy := func(name string, quota, burst int, window time.Duration) ports.RateLimiter {
		if quota <= 0 {
			return nil
		}
		return policy(name, ratelimit.Limit{Quota: quota, Window: window, Burst: burst})
	}
	l := httpapi.Limiters{
		Principal:          newPolicy("principal", s.Principal, s.PrincipalBurst, s.Window),
		PrincipalWrites:    newPolicy("principal_writes", s.PrincipalW, 0, s.Window),
		Organization:       newPolicy("organization", s.Org, s.OrgBurst, s.Window),
		OrganizationWrites: newPolicy("organization_writes", s.OrgW, 0, s.Window),
		IP:                 newPolicy("ip", s.IP, s.IPBurst, s.Window),
		AuthFailures:       newPolicy("auth_failures", s.AuthFailures, s.AuthFailuresBurst, authFailuresWindow),
		Events:             p.Events,
	}
	if l.Principal == nil && l.PrincipalWrites == nil && l.Organization == nil && l.OrganizationWrites == nil && l.IP == nil && l.AuthFailures == nil {
		return rateLimitResult{}, nil
	}
	rl := httpapi.NewRateLimits(l, log)
	res := rateLimitResult{Limits: rl}
	if l.Organization != nil || l.OrganizationWrites != nil {
		res.Org = rl
	}
	return res, nil
}
