package jwks

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/MicahParks/jwkset"
	"go.uber.org/zap"

	"github.com/orgstack/orgstack/domain"
	"github.com/orgstack/orgstack/ports"
)

// DefaultTenantIdle is how long an organization's issuer may go without a
// token before its key set stops refreshing (it loads again on the next
// token).
const DefaultTenantIdle = 10 * time.Minute

// Issuers verifies tokens of several issuers: the operator-configured ones,
// fixed at start, and organizations' own issuers (tenant issuers), replaced
// at run time with SetTenantIssuers. A token is routed by the exact value of
// its unverified iss claim and then verified only with that issuer's keys;
// a token of an issuer it does not hold is refused as ReasonWrongIssuer
// without any network call. Each issuer has its own key cache with the
// refresh rules of Verifier. It is safe for concurrent use.
type Issuers struct {
	ctx       context.Context
	operators map[string]*Verifier
	order     []string // operator issuers, as configured
	tenants   atomic.Pointer[map[string]*tenantIssuer]
	opts      IssuersOptions
	mu        sync.Mutex // serializes SetTenantIssuers
	cache     *tokenCache
}

// IssuersOptions configures what Issuers does with tenant issuers.
type IssuersOptions struct {
	// TenantHTTPClient fetches tenant issuers' discovery documents and key
	// sets (the guarded outbound client); default NewHTTPClient(). A tenant
	// issuer's own Config.HTTPClient, when set, wins.
	TenantHTTPClient *http.Client
	// TenantIdle is how long a tenant issuer may go without a token before
	// its key set stops refreshing; default DefaultTenantIdle.
	TenantIdle time.Duration
	// Logger; default a no-op logger.
	Logger *zap.Logger
	// Events, when set, receives the outcome of every key-set fetch of
	// every issuer (organizations' own under ports.TenantIssuerLabel).
	Events ports.KeyRefreshEvents
	// TokenCacheSize is how many accepted tokens are remembered (see
	// tokenCache); 0 means DefaultTokenCacheSize, a negative value turns
	// the cache off.
	TokenCacheSize int
}

// TenantIssuer is an organization's own issuer: every token it issues is
// bound to OrgID (Principal.ProviderOrgID), its organization claim is
// ignored, its holder is never a platform administrator, and the values of
// Config.RoleClaim become Principal.MappedValues.
type TenantIssuer struct {
	OrgID  string
	Config Config
}

// tenantIssuer is a tenant issuer's lazily started verifier.
type tenantIssuer struct {
	cfg     Config
	mu      sync.Mutex
	v       *Verifier          // nil until the first token, and again once idle
	cancel  context.CancelFunc // stops v's refresh goroutine
	lastUse atomic.Int64       // unix nanoseconds of the latest token
	last    IssuerStatus       // status kept when v stops
	removed bool               // replaced or removed by SetTenantIssuers: never starts again
}

var _ ports.TokenVerifier = (*Issuers)(nil)

// NewIssuers starts a Verifier for every operator issuer (see New: a
// provider that is down does not fail it) and the idle sweep of tenant
// issuers; both stop when ctx ends. It fails for an invalid configuration,
// no issuer, or the same issuer twice.
func NewIssuers(ctx context.Context, operators []Config, opts IssuersOptions) (*Issuers, error) {
	if opts.TenantIdle <= 0 {
		opts.TenantIdle = DefaultTenantIdle
	}
	if opts.Logger == nil {
		opts.Logger = zap.NewNop()
	}
	if opts.TenantHTTPClient == nil {
		opts.TenantHTTPClient = NewHTTPClient()
	}
	if len(operators) == 0 {
		return nil, errors.New("jwks: at least one issuer is required")
	}
	if opts.TokenCacheSize == 0 {
		opts.TokenCacheSize = DefaultTokenCacheSize
	}
	m := &Issuers{ctx: ctx, operators: map[string]*Verifier{}, opts: opts, cache: newTokenCache(opts.TokenCacheSize)}
	empty := map[string]*tenantIssuer{}
	m.tenants.Store(&empty)
	for i, cfg := range operators {
		if _, dup := m.operators[cfg.Issuer]; dup {
			return nil, fmt.Errorf("jwks: issuer %q is configured twice", cfg.Issuer)
		}
		if cfg.ProviderOrgID != "" {
			return nil, fmt.Errorf("jwks: issuer %q: an operator issuer is bound to no organization", cfg.Issuer)
		}
		if cfg.Logger == nil {
			cfg.Logger = opts.Logger
		}
		if cfg.Events == nil {
			cfg.Events = opts.Events
		}
		v, err := New(ctx, cfg)
		if err != nil {
			return nil, fmt.Errorf("issuer %d (%s): %w", i+1, cfg.Issuer, err)
		}
		m.operators[cfg.Issuer] = v
		m.order = append(m.order, cfg.Issuer)
	}
	go m.sweep()
	return m, nil
}

// Operator returns the verifier of an operator issuer, or nil.
func (m *Issuers) Operator(issuer string) *Verifier { return m.operators[issuer] }

// OperatorIssuers lists the operator issuers, in configuration order.
func (m *Issuers) OperatorIssuers() []string { return slices.Clone(m.order) }

// Ready reports whether at least one operator issuer has keys. Tenant
// issuers never count: one organization's provider outage must not take
// the service out of its load balancer.
func (m *Issuers) Ready() bool {
	for _, v := range m.operators {
		if v.Ready() {
			return true
		}
	}
	return false
}

// SetTenantIssuers replaces the set of tenant issuers atomically. Each must
// be a valid configuration (see New) with an OrgID; an issuer configured by
// the operator, or named twice, is refused and nothing changes. An issuer
// whose configuration is unchanged keeps its loaded keys; the key sets of
// new issuers load on their first token; removed issuers stop at once.
func (m *Issuers) SetTenantIssuers(list []TenantIssuer) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	old := *m.tenants.Load()
	next := make(map[string]*tenantIssuer, len(list))
	for _, t := range list {
		if t.OrgID == "" {
			return fmt.Errorf("jwks: tenant issuer %q: organization ID is required", t.Config.Issuer)
		}
		if _, op := m.operators[t.Config.Issuer]; op {
			return fmt.Errorf("jwks: tenant issuer %q is an operator-configured issuer", t.Config.Issuer)
		}
		if _, dup := next[t.Config.Issuer]; dup {
			return fmt.Errorf("jwks: tenant issuer %q is named twice", t.Config.Issuer)
		}
		cfg := t.Config
		cfg.ProviderOrgID = t.OrgID
		if cfg.HTTPClient == nil {
			cfg.HTTPClient = m.opts.TenantHTTPClient
		}
		if cfg.Logger == nil {
			cfg.Logger = m.opts.Logger.With(zap.String("organization", t.OrgID))
		}
		if cfg.Events == nil {
			cfg.Events = m.opts.Events
		}
		cfg, err := withDefaults(cfg)
		if err != nil {
			return fmt.Errorf("tenant issuer %q: %w", t.Config.Issuer, err)
		}
		if prev, ok := old[cfg.Issuer]; ok && sameConfig(prev.cfg, cfg) {
			next[cfg.Issuer] = prev
			continue
		}
		next[cfg.Issuer] = &tenantIssuer{cfg: cfg, last: IssuerStatus{Issuer: cfg.Issuer, OrgID: t.OrgID}}
	}
	m.tenants.Store(&next)
	for iss, prev := range old {
		if next[iss] != prev {
			prev.retire()
		}
	}
	return nil
}

// sameConfig reports whether two tenant configurations verify alike.
func sameConfig(a, b Config) bool {
	ja, _ := json.Marshal(configKey(a))
	jb, _ := json.Marshal(configKey(b))
	return string(ja) == string(jb) && a.HTTPClient == b.HTTPClient
}

func configKey(c Config) Config {
	c.HTTPClient, c.Logger = nil, nil
	return c
}

// Verify routes raw by its unverified iss and verifies it with that
// issuer's keys only. A token accepted before is answered from the token
// cache while it stays valid (see tokenCache).
func (m *Issuers) Verify(ctx context.Context, raw string) (ports.Principal, error) {
	if raw == "" {
		return ports.Principal{}, malformed("the token is empty", nil)
	}
	if len(raw) > MaxTokenSize {
		return ports.Principal{}, malformed(fmt.Sprintf("the token is larger than %d bytes", MaxTokenSize), nil)
	}
	now := time.Now()
	key := tokenKey(raw)
	if p, ok := m.cache.get(key, now, m); ok {
		return p, nil
	}
	iss, te := unverifiedIssuer(raw)
	if te != nil {
		return ports.Principal{}, te
	}
	var tenant *tenantIssuer
	v, ok := m.operators[iss]
	if !ok {
		if t, ok := (*m.tenants.Load())[iss]; ok {
			tenant, v = t, t.start(m.ctx)
		}
	}
	if v == nil {
		return ports.Principal{}, &ports.TokenError{Reason: ports.ReasonWrongIssuer,
			Detail: "the token was not issued by a configured identity provider (iss)"}
	}
	keyGen := v.keyGen.Load() // before verifying: a refresh meanwhile makes the entry stale
	p, until, err := v.verify(ctx, raw)
	if err == nil && !until.IsZero() {
		if limit := now.Add(tokenCacheMaxTTL); limit.Before(until) {
			until = limit
		}
		m.cache.put(key, cachedToken{p: p, until: until.UnixNano(), v: v, keyGen: keyGen, tenant: tenant}, now)
	}
	return p, err
}

// unverifiedIssuer reads the iss claim of raw without verifying anything.
func unverifiedIssuer(raw string) (string, *ports.TokenError) {
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return "", malformed("the token is not a well-formed JWT", nil)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return "", malformed("the token is not a well-formed JWT", err)
	}
	var c struct {
		Iss any `json:"iss"`
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return "", malformed("the token is not a well-formed JWT", err)
	}
	switch iss := c.Iss.(type) {
	case nil:
		return "", &ports.TokenError{Reason: ports.ReasonWrongIssuer, Detail: "the token has no iss claim"}
	case string:
		// Text no identifier may hold names no issuer: malformed, not
		// wrong_issuer (encoding/json turned invalid UTF-8 into U+FFFD, so
		// the raw payload decides that).
		if domain.ValidateIdentifier(iss) != nil || !utf8.Valid(b) && strings.ContainsRune(iss, utf8.RuneError) {
			return "", malformed("the iss claim must be non-empty text without control characters", nil)
		}
		return iss, nil
	}
	return "", malformed("a registered claim (exp, nbf, iat, iss, aud) has the wrong type", nil)
}

// start returns the tenant issuer's verifier, starting it on first use, or
// nil when the issuer was removed meanwhile.
func (t *tenantIssuer) start(ctx context.Context) *Verifier {
	t.lastUse.Store(time.Now().UnixNano())
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.removed {
		return nil
	}
	if t.v == nil {
		vctx, cancel := context.WithCancel(ctx)
		v, err := New(vctx, t.cfg)
		if err != nil { // only a discovery document naming another issuer
			v = newIdle(vctx, t.cfg, err)
		}
		t.v, t.cancel = v, cancel
	}
	return t.v
}

// newIdle returns a verifier that has no keys and does not fetch: its
// tokens are refused as keys_unavailable. It serves a tenant issuer whose
// discovery named another issuer, until its configuration changes or it
// goes idle.
func newIdle(ctx context.Context, cfg Config, cause error) *Verifier {
	v, err := build(ctx, cfg)
	if err != nil {
		panic(err) // build fails only for a configuration withDefaults refused
	}
	v.lastErr.Store(&cause)
	return v
}

// retire stops the tenant issuer for good (SetTenantIssuers replaced it).
func (t *tenantIssuer) retire() {
	t.mu.Lock()
	t.removed = true
	t.mu.Unlock()
	t.stop()
}

// stop stops the tenant issuer's refresh, keeping its last status.
func (t *tenantIssuer) stop() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.v != nil {
		t.last = t.v.Status()
		t.last.OrgID = t.cfg.ProviderOrgID
		t.last.Active = false
		t.cancel()
		t.v, t.cancel = nil, nil
	}
}

// sweep stops tenant issuers that have had no token for TenantIdle.
func (m *Issuers) sweep() {
	tick := time.NewTicker(min(m.opts.TenantIdle/4, time.Minute))
	defer tick.Stop()
	for {
		select {
		case <-m.ctx.Done():
			for _, t := range *m.tenants.Load() {
				t.stop()
			}
			return
		case <-tick.C:
		}
		idle := time.Now().Add(-m.opts.TenantIdle).UnixNano()
		for _, t := range *m.tenants.Load() {
			if t.lastUse.Load() < idle {
				t.stop()
			}
		}
	}
}

// ErrorClass is the kind of the latest failed key-set fetch of an issuer:
// a small fixed vocabulary that is safe to show (never the error's text).
type ErrorClass string

// The error classes.
const (
	ErrorNone            ErrorClass = ""                 // the latest fetch succeeded, or none was tried
	ErrorUnreachable     ErrorClass = "unreachable"      // no connection, DNS failure or refused by the outbound guard
	ErrorTimeout         ErrorClass = "timeout"          // the provider did not answer in time
	ErrorHTTPStatus      ErrorClass = "http_status"      // the provider answered with a status other than 200
	ErrorInvalidResponse ErrorClass = "invalid_response" // the answer was not a discovery document or key set, or too large
	ErrorNoUsableKey     ErrorClass = "no_usable_key"    // the key set holds no key this service can use
	ErrorIssuerMismatch  ErrorClass = "issuer_mismatch"  // the discovery document names another issuer
)

// IssuerStatus is the state of one issuer's key set.
type IssuerStatus struct {
	Issuer string
	// OrgID is the organization a tenant issuer is bound to; "" for an
	// operator issuer.
	OrgID string
	// Active is true while the key set is being kept (always for operator
	// issuers; for tenant issuers, from the first token until idle).
	Active bool
	// KeysLoaded is true once a key set with a usable key has loaded.
	KeysLoaded bool
	// LastRefresh is when a key set last loaded; zero if never.
	LastRefresh time.Time
	// LastError classifies the latest fetch when it failed; ErrorNone when
	// it succeeded or none was tried.
	LastError ErrorClass
}

// Status returns the state of v's key set.
func (v *Verifier) Status() IssuerStatus {
	s := IssuerStatus{Issuer: v.cfg.Issuer, OrgID: v.cfg.ProviderOrgID, Active: true, KeysLoaded: v.loaded.Load()}
	if t := v.lastSuccess.Load(); t != 0 {
		s.LastRefresh = time.Unix(0, t).UTC()
	}
	if !v.lastOK.Load() {
		if p := v.lastErr.Load(); p != nil {
			s.LastError = classify(*p)
		}
	}
	return s
}

// Status lists the operator issuers, in configuration order, then the
// tenant issuers, sorted by issuer.
func (m *Issuers) Status() []IssuerStatus {
	var out []IssuerStatus
	for _, iss := range m.order {
		out = append(out, m.operators[iss].Status())
	}
	tenants := *m.tenants.Load()
	keys := make([]string, 0, len(tenants))
	for k := range tenants {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		out = append(out, tenants[k].status())
	}
	return out
}

// TenantStatus returns the status of the tenant issuer bound to orgID.
func (m *Issuers) TenantStatus(orgID string) (IssuerStatus, bool) {
	for _, t := range *m.tenants.Load() {
		if t.cfg.ProviderOrgID == orgID {
			return t.status(), true
		}
	}
	return IssuerStatus{}, false
}

func (t *tenantIssuer) status() IssuerStatus {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.v != nil {
		return t.v.Status()
	}
	return t.last
}

// classify maps a fetch error to its class.
func classify(err error) ErrorClass {
	var ce *configError
	var ne net.Error
	switch {
	case errors.As(err, &ce):
		return ErrorIssuerMismatch
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return ErrorTimeout
	case errors.Is(err, errNoUsableKey):
		return ErrorNoUsableKey
	case errors.Is(err, jwkset.ErrInvalidHTTPStatusCode), errors.Is(err, errStatus):
		return ErrorHTTPStatus
	case errors.As(err, &ne):
		return ErrorUnreachable
	}
	return ErrorInvalidResponse
}

var _ ports.ProviderStatuses = (*Issuers)(nil)

// ProviderStatus implements ports.ProviderStatuses with TenantStatus.
func (m *Issuers) ProviderStatus(orgID string) (ports.ProviderStatus, bool) {
	s, ok := m.TenantStatus(orgID)
	if !ok {
		return ports.ProviderStatus{}, false
	}
	return ports.ProviderStatus{Active: s.Active, KeysLoaded: s.KeysLoaded, LastRefresh: s.LastRefresh, LastError: string(s.LastError)}, true
}
