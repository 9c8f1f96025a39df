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

// RateLimiter decides whether a caller may make one more request.
type RateLimiter interface {
	// Allow takes one request from key's quota. An error means the limiter
	// could not decide; callers let the request through and log it.
	Allow(ctx context.Context, key string) (RateDecision, error)
}

// RateLimitEvents receives what the limiters decide, for metrics. Implementations must be cheap and safe for concurrent use.
type RateLimitEvents interface {
	// Decision reports one decision of a policy ("principal", "organization", "ip", "auth_failures").
	Decision(policy string, allowed bool)
	// Fallback reports that the shared limiter became unreachable (true) or is back (false).
	Fallback(active bool)
}
