package ports

import (
	"context"
	"time"
)

// RateDecision is the answer to one rate-limit check, with what the
// RateLimit response fields report (draft-ietf-httpapi-ratelimit-headers).
type RateDecision struct {
	Allowed bool
	// Quota requests are allowed per Window.
	Quota  int
	Window time.Duration
	// Remaining is how many requests are left right now.
	Remaining int
	// Reset is how long until the quota is whole again.
	Reset time.Duration
	// RetryAfter is, when refused, how long until one request is allowed.
	RetryAfter time.Duration
}

// RateLimiter decides whether a caller may make one more request. One
// limiter enforces one quota (requests per window, with a burst) for every
// key it is asked about.
type RateLimiter interface {
	// Allow takes one request from key's quota. A refused request takes
	// nothing. Errors: *UnavailableError when the limiter cannot decide and
	// is configured to refuse then (fail closed: callers answer 503); any
	// other error means it could not decide, and callers let the request
	// through and log it.
	Allow(ctx context.Context, key string) (RateDecision, error)
}

// RateLimitedError is a request refused by a rate limit: Policy names the
// limit ("principal", "organization", …), Decision says when to retry.
type RateLimitedError struct {
	Policy   string
	Decision RateDecision
}

func (e *RateLimitedError) Error() string { return "rate limit " + e.Policy + " reached" }

// OrganizationLimiter is asked by the application once it has resolved the
// organization a request acts in (by ID, whatever form the request named it
// in) and found that the caller may see it, before the use case does
// anything else. Keying by the resolved ID means an ID and a slug share one
// quota, and a caller who cannot see an organization cannot spend its
// quota. The application calls it only for tenant-scoped use cases, at most
// once per call.
type OrganizationLimiter interface {
	// AdmitOrganization takes one request from the organization's quota.
	// Errors: *RateLimitedError when it is spent; *UnavailableError when
	// the limiter cannot decide and fails closed. Other errors are logged
	// by the implementation and never returned.
	AdmitOrganization(ctx context.Context, orgID string) error
}

// RateLimitEvents receives what the limiters decide, for metrics. Implementations must be cheap and safe for concurrent use.
type RateLimitEvents interface {
	// Decision reports one decision of a policy ("principal", "principal_writes", "organization",
	// "organization_writes", "ip", "auth_failures").
	Decision(policy string, allowed bool)
	// Fallback reports that the shared limiter became unreachable (true) or is back (false).
	Fallback(active bool)
}
