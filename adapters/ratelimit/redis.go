package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
	"go.uber.org/zap"

	"github.com/orgstack/orgstack/ports"
)

// SharedOptions configure a Shared limiter.
type SharedOptions struct {
	// URL is the Redis URL (redis://[user:password@]host:port/db, or
	// rediss:// for TLS).
	URL string
	// KeyPrefix starts every key this limiter writes (redis_rate puts its
	// own "rate:" before it).
	KeyPrefix string
	// Timeout bounds each Redis call, connecting included; default 250 ms.
	Timeout time.Duration
	// RetryEvery is how often Redis is tried again while it is failing;
	// meanwhile every call is answered by the fallback. Default 1 s.
	RetryEvery time.Duration
	// FailClosed answers *ports.UnavailableError instead of falling back.
	FailClosed bool
	// MaxKeys bounds each in-process fallback limiter; default 100,000.
	MaxKeys int
	// Logger receives one line when Redis becomes unreachable and one when
	// it is back; nil logs nothing.
	Logger *zap.Logger
	// Events, when set, hears Fallback(true) and Fallback(false) at the
	// same moments.
	Events ports.RateLimitEvents
}

// Shared limits through Redis, so that every instance using the same Redis
// and key prefix enforces one combined limit per key (GCRA, one Lua script
// per decision: github.com/go-redis/redis_rate). Each policy it hands out
// (Policy) has an in-process fallback: while Redis fails, calls are
// answered by the fallback at once, Redis is tried again by one call at
// most every RetryEvery, and the first success switches back. Each switch is
// logged once and reported to Events.
type Shared struct {
	client *redis.Client
	lim    *redis_rate.Limiter
	o      SharedOptions
	log    *zap.Logger
	now    func() time.Time

	mu      sync.Mutex
	down    bool      // Redis failed and has not answered since
	retryAt time.Time // while down, when one call may try Redis again
	probing bool      // while down, a call is trying Redis
}

// NewShared returns a limiter on the Redis at o.URL. It does not connect:
// the first decision does, and an unreachable Redis only means the fallback
// answers until it is back.
func NewShared(o SharedOptions) (*Shared, error) {
	opt, err := redis.ParseURL(o.URL)
	if err != nil {
		return nil, fmt.Errorf("redis URL: %w", err)
	}
	if o.Timeout <= 0 {
		o.Timeout = 250 * time.Millisecond
	}
	if o.RetryEvery <= 0 {
		o.RetryEvery = time.Second
	}
	if o.MaxKeys <= 0 {
		o.MaxKeys = 100_000
	}
	// No retries: a GCRA call whose answer was lost may have counted, and
	// a retry would count it twice (and double the wait on an outage).
	opt.MaxRetries = -1
	opt.DialerRetries = 1
	opt.DialTimeout, opt.ReadTimeout, opt.WriteTimeout, opt.PoolTimeout = o.Timeout, o.Timeout, o.Timeout, o.Timeout
	opt.ContextTimeoutEnabled = true
	opt.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
	log := o.Logger
	if log == nil {
		log = zap.NewNop()
	} else {
		quietRedisLog.Do(func() { redis.SetLogger(redisLogger{log.Named("redis")}) })
	}
	c := redis.NewClient(opt)
	return &Shared{client: c, lim: redis_rate.NewLimiter(c), o: o, log: log, now: time.Now}, nil
}

// quietRedisLog routes go-redis's own log lines (one per failed dial,
// printed to stderr by default; the setting is global to go-redis) to the
// first Shared's logger at debug level: the outage itself is logged once,
// by Shared.
var quietRedisLog sync.Once

type redisLogger struct{ log *zap.Logger }

func (l redisLogger) Printf(_ context.Context, format string, v ...any) {
	l.log.Debug(fmt.Sprintf(format, v...))
}

// Close closes the connections to Redis.
func (s *Shared) Close() error { return s.client.Close() }

// Ping asks Redis once, within the call timeout.
func (s *Shared) Ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, s.o.Timeout)
	defer cancel()
	return s.client.Ping(ctx).Err()
}

// FallingBack reports whether decisions are being made without Redis now.
func (s *Shared) FallingBack() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.down
}

// Policy returns the limiter of one policy: l per key, keys under the
// prefix and name. name must be unique per policy (it separates the keys).
func (s *Shared) Policy(name string, l Limit) ports.RateLimiter {
	return &sharedPolicy{
		s:        s,
		prefix:   s.o.KeyPrefix + name + ":",
		limit:    redis_rate.Limit{Rate: l.Quota, Period: l.Window, Burst: l.burst()},
		fallback: NewMemory(l, s.o.MaxKeys),
	}
}

type sharedPolicy struct {
	s        *Shared
	prefix   string
	limit    redis_rate.Limit
	fallback *Memory
}

var _ ports.RateLimiter = (*sharedPolicy)(nil)

// Allow decides in Redis, or in the fallback while Redis fails.
func (p *sharedPolicy) Allow(ctx context.Context, key string) (ports.RateDecision, error) {
	s := p.s
	if s.tryRedis() {
		d, err := p.allowRedis(ctx, key)
		if err == nil {
			s.succeeded()
			return d, nil
		}
		if ctx.Err() != nil {
			// The caller gave up (or its deadline passed first): says
			// nothing about Redis.
			s.abandoned()
		} else {
			s.failed(err)
		}
	}
	if s.o.FailClosed {
		return ports.RateDecision{}, &ports.UnavailableError{Dependency: "rate limiter (redis)", Err: errors.New("redis cannot be reached")}
	}
	return p.fallback.Allow(ctx, key)
}

func (p *sharedPolicy) allowRedis(ctx context.Context, key string) (ports.RateDecision, error) {
	ctx, cancel := context.WithTimeout(ctx, p.s.o.Timeout)
	defer cancel()
	res, err := p.s.lim.Allow(ctx, p.prefix+key, p.limit)
	if err != nil {
		return ports.RateDecision{}, err
	}
	d := ports.RateDecision{
		Allowed: res.Allowed > 0, Quota: p.limit.Rate, Window: p.limit.Period,
		Remaining: max(res.Remaining, 0), Reset: max(res.ResetAfter, 0),
	}
	if !d.Allowed {
		d.RetryAfter = max(res.RetryAfter, 0)
	}
	return d, nil
}

// tryRedis reports whether this call should ask Redis: always while it
// works; while it fails, one call at a time once RetryEvery has passed.
func (s *Shared) tryRedis() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.down {
		return true
	}
	if s.probing || s.now().Before(s.retryAt) {
		return false
	}
	s.probing = true
	return true
}

func (s *Shared) succeeded() {
	s.mu.Lock()
	was := s.down
	s.down, s.probing = false, false
	s.mu.Unlock()
	if was {
		s.log.Info("rate limiter: redis is reachable again; limits are shared across instances again")
		if s.o.Events != nil {
			s.o.Events.Fallback(false)
		}
	}
}

func (s *Shared) failed(err error) {
	s.mu.Lock()
	was := s.down
	s.down, s.probing = true, false
	s.retryAt = s.now().Add(s.o.RetryEvery)
	s.mu.Unlock()
	if !was {
		mode := "falling back to in-process limits (each instance limits on its own) until it is back"
		if s.o.FailClosed {
			mode = "answering 503 on limited requests until it is back (ORGSTACK_RATE_LIMIT_FAIL_CLOSED)"
		}
		s.log.Warn("rate limiter: redis cannot be reached; "+mode, zap.Error(err))
		if s.o.Events != nil {
			s.o.Events.Fallback(true)
		}
	}
}

func (s *Shared) abandoned() {
	s.mu.Lock()
	s.probing = false
	s.mu.Unlock()
}
