// Package introspection verifies opaque bearer tokens with OAuth 2.0 Token
// Introspection (RFC 7662): it asks the configured issuer's introspection
// endpoint about the token and turns an active answer into a
// ports.Principal. It is the second implementation of ports.TokenVerifier
// (the first, adapters/jwks, verifies JWTs locally); bootstrap routes to it
// only tokens that are not JWTs.
//
// Each call POSTs token=…&token_type_hint=access_token with the client
// credentials in HTTP Basic authentication (client_secret_basic). The answer
// is checked like a JWT's claims: active must be true (else reason
// inactive), iss when present must be the configured issuer, aud must name
// an accepted audience, exp, nbf and iat are checked with a leeway, the
// subject claim is required, and a token that is not a plain bearer token
// (token_type other than Bearer, or a cnf confirmation) is refused.
//
// Answers are cached in memory under the SHA-256 of the token (never the
// token itself): an accepted token for at most min(exp, CacheTTL) (CacheTTL
// at most 5 minutes, so a revocation takes effect within it), a refused one
// for RefusalTTL (10 s). Concurrent requests with the same token share one
// call. Calls are bounded by a token bucket (Rate per second, Burst): beyond
// it, and whenever the endpoint cannot be reached, fails or refuses our
// credentials, the token is refused with reason introspection_unavailable
// wrapping a *ports.UnavailableError (HTTP 503), never retried against
// another endpoint. The token is never logged and never part of an error.
package introspection

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"go.uber.org/zap"
	"golang.org/x/sync/singleflight"
	"golang.org/x/time/rate"

	"github.com/orgstack/orgstack/domain"
	"github.com/orgstack/orgstack/ports"
)

// MaxTokenSize is the largest raw token, in bytes, that Verify sends.
const MaxTokenSize = 8 << 10

// Defaults and bounds applied by New.
const (
	MaxCacheTTL       = 5 * time.Minute
	DefaultRefusalTTL = 10 * time.Second
	DefaultLeeway     = 30 * time.Second
	DefaultRate       = 50 // introspection calls per second
	DefaultTimeout    = 3 * time.Second
	DefaultCacheSize  = 100_000
	maxResponseSize   = 1 << 20
)

// Config configures a Verifier. A claim is named by a path of keys:
// []string{"sub"}, or []string{"https://example.com/claims", "org"} for a
// nested, namespaced claim.
type Config struct {
	// Endpoint is the introspection endpoint URL (absolute http or https).
	Endpoint string
	// Issuer is the operator-configured issuer whose endpoint this is: an
	// iss in the answer must equal it, and it is the principal's issuer.
	Issuer string
	// Audiences are the accepted aud values; the answer's aud (string or
	// array) must name one of them.
	Audiences []string
	// ClientID and ClientSecret authenticate OrgStack to the endpoint.
	ClientID     string
	ClientSecret string
	// Leeway is the clock skew allowed on exp, nbf and iat; default 30 s,
	// at most 5 min.
	Leeway time.Duration
	// SubjectClaim is required in an active answer; default ["sub"].
	SubjectClaim []string
	// EmailClaim and NameClaim are optional; default ["email"], ["name"].
	EmailClaim []string
	NameClaim  []string
	// OrgClaim binds the token to an organization (ID or slug); default
	// ["org_id"]. OrgClaimOff turns the binding off (an issuer of the
	// configuration file maps no organization unless it says so).
	OrgClaim    []string
	OrgClaimOff bool
	// AdminClaim and AdminValue define the platform-administrator flag;
	// off when AdminClaim is empty.
	AdminClaim []string
	AdminValue string
	// CacheTTL bounds how long an accepted answer is reused; default and
	// maximum 5 min.
	CacheTTL time.Duration
	// RefusalTTL is how long a refusal (active: false, or claims we refuse)
	// is reused; default 10 s, at most CacheTTL.
	RefusalTTL time.Duration
	// CacheSize bounds the number of cached answers; default 100,000.
	CacheSize int
	// Rate and Burst bound the calls to the endpoint (per second; burst);
	// default 50 and 50.
	Rate  float64
	Burst int
	// Timeout bounds one call; default 3 s.
	Timeout time.Duration
	// HTTPClient makes the calls; default a client that follows no
	// redirects. Responses are read up to 1 MiB.
	HTTPClient *http.Client
	// Logger receives endpoint failures (never a token); default no-op.
	Logger *zap.Logger
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// Verifier verifies opaque tokens by introspection. It is safe for
// concurrent use.
type Verifier struct {
	cfg     Config
	limiter *rate.Limiter
	calls   singleflight.Group

	mu    sync.Mutex
	cache map[[sha256.Size]byte]entry
}

type entry struct {
	p       ports.Principal
	err     *ports.TokenError // nil when accepted
	expires time.Time
}

var _ ports.TokenVerifier = (*Verifier)(nil)

// New validates cfg and returns a Verifier. It makes no call: the endpoint
// is first asked when a token arrives.
func New(cfg Config) (*Verifier, error) {
	var errs []error
	if u, err := url.Parse(cfg.Endpoint); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		errs = append(errs, errors.New("introspection: the endpoint must be an absolute http(s) URL"))
	}
	if cfg.Issuer == "" {
		errs = append(errs, errors.New("introspection: the issuer is required"))
	}
	if len(cfg.Audiences) == 0 || slices.Contains(cfg.Audiences, "") {
		errs = append(errs, errors.New("introspection: at least one non-empty audience is required"))
	}
	if cfg.ClientID == "" || cfg.ClientSecret == "" {
		errs = append(errs, errors.New("introspection: a client ID and a client secret are required"))
	}
	if cfg.Leeway < 0 || cfg.Leeway > 5*time.Minute {
		errs = append(errs, errors.New("introspection: the leeway must be between 0 and 5m"))
	}
	if cfg.CacheTTL < 0 || cfg.CacheTTL > MaxCacheTTL {
		errs = append(errs, fmt.Errorf("introspection: the cache TTL must be between 0 and %s", MaxCacheTTL))
	}
	if cfg.RefusalTTL < 0 || cfg.Rate < 0 || cfg.Burst < 0 || cfg.Timeout < 0 || cfg.CacheSize < 0 {
		errs = append(errs, errors.New("introspection: durations, rate, burst and cache size must not be negative"))
	}
	if len(cfg.AdminClaim) > 0 && cfg.AdminValue == "" {
		errs = append(errs, errors.New("introspection: the admin claim is set but the admin value is empty"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	def := func(p *[]string, v string) {
		if len(*p) == 0 {
			*p = []string{v}
		}
	}
	def(&cfg.SubjectClaim, "sub")
	def(&cfg.EmailClaim, "email")
	def(&cfg.NameClaim, "name")
	def(&cfg.OrgClaim, "org_id")
	if cfg.Leeway == 0 {
		cfg.Leeway = DefaultLeeway
	}
	if cfg.CacheTTL == 0 {
		cfg.CacheTTL = MaxCacheTTL
	}
	if cfg.RefusalTTL == 0 {
		cfg.RefusalTTL = DefaultRefusalTTL
	}
	cfg.RefusalTTL = min(cfg.RefusalTTL, cfg.CacheTTL)
	if cfg.CacheSize == 0 {
		cfg.CacheSize = DefaultCacheSize
	}
	if cfg.Rate == 0 {
		cfg.Rate = DefaultRate
	}
	if cfg.Burst == 0 {
		cfg.Burst = max(1, int(cfg.Rate))
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Verifier{
		cfg:     cfg,
		limiter: rate.NewLimiter(rate.Limit(cfg.Rate), cfg.Burst),
		cache:   map[[sha256.Size]byte]entry{},
	}, nil
}

// Verify returns the principal of an active opaque token. A token the
// endpoint calls inactive is ReasonInactive; an answer whose claims are not
// acceptable gets the JWT path's reasons (wrong_issuer, wrong_audience,
// expired, not_yet_valid, malformed); when the endpoint cannot be asked
// (down, failing, refusing our credentials, or the call bound reached) the
// error has ReasonIntrospectionUnavailable and wraps a
// *ports.UnavailableError. Errors never contain the token.
func (v *Verifier) Verify(ctx context.Context, raw string) (ports.Principal, error) {
	if te := checkForm(raw); te != nil {
		return ports.Principal{}, te
	}
	key := sha256.Sum256([]byte(raw))
	if e, ok := v.cached(key); ok {
		return e.p, errOrNil(e.err)
	}
	ch := v.calls.DoChan(string(key[:]), func() (any, error) {
		if e, ok := v.cached(key); ok { // answered while we waited
			return e, nil
		}
		if !v.limiter.Allow() {
			return nil, unavailable("the bound on introspection calls is reached", errors.New("introspection rate bound reached"))
		}
		// The call outlives a caller that gives up: others may share it.
		callCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), v.cfg.Timeout)
		defer cancel()
		e, err := v.introspect(callCtx, raw)
		if err != nil {
			return nil, err
		}
		v.store(key, e)
		return e, nil
	})
	select {
	case <-ctx.Done():
		return ports.Principal{}, unavailable("the introspection endpoint did not answer in time", ctx.Err())
	case r := <-ch:
		if r.Err != nil {
			return ports.Principal{}, r.Err
		}
		e := r.Val.(entry)
		return e.p, errOrNil(e.err)
	}
}

func errOrNil(te *ports.TokenError) error {
	if te == nil {
		return nil
	}
	return te
}

// checkForm refuses, without a call, what cannot be an access token: empty,
// larger than MaxTokenSize, or outside RFC 6750's b64token characters.
func checkForm(raw string) *ports.TokenError {
	if raw == "" || len(raw) > MaxTokenSize {
		return malformed("the token is empty or larger than 8 KiB", nil)
	}
	body := strings.TrimRight(raw, "=")
	if body == "" {
		return malformed("the token is not a bearer token (RFC 6750 b64token)", nil)
	}
	for i := 0; i < len(body); i++ {
		c := body[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-._~+/", c) >= 0) {
			return malformed("the token is not a bearer token (RFC 6750 b64token)", nil)
		}
	}
	return nil
}

func (v *Verifier) cached(key [sha256.Size]byte) (entry, bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	e, ok := v.cache[key]
	if !ok {
		return entry{}, false
	}
	if !v.cfg.Now().Before(e.expires) {
		delete(v.cache, key)
		return entry{}, false
	}
	return e, true
}

// store keeps e; when the cache is full it drops expired answers first,
// then arbitrary ones, so memory stays bounded whatever tokens arrive.
func (v *Verifier) store(key [sha256.Size]byte, e entry) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if len(v.cache) >= v.cfg.CacheSize {
		now := v.cfg.Now()
		for k, old := range v.cache {
			if !now.Before(old.expires) {
				delete(v.cache, k)
			}
		}
		for k := range v.cache {
			if len(v.cache) < v.cfg.CacheSize {
				break
			}
			delete(v.cache, k)
		}
	}
	v.cache[key] = e
}

// introspect asks the endpoint about raw and returns the answer to cache.
// An error is always an unavailable *ports.TokenError.
func (v *Verifier) introspect(ctx context.Context, raw string) (entry, error) {
	form := url.Values{"token": {raw}, "token_type_hint": {"access_token"}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, v.cfg.Endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return entry{}, unavailable("the introspection endpoint cannot be asked", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	// RFC 6749 §2.3.1: form-encode the credentials before Basic encoding.
	req.SetBasicAuth(url.QueryEscape(v.cfg.ClientID), url.QueryEscape(v.cfg.ClientSecret))
	res, err := v.cfg.HTTPClient.Do(req)
	if err != nil {
		v.cfg.Logger.Warn("introspection endpoint unreachable", zap.String("endpoint", v.cfg.Endpoint), zap.Error(err))
		return entry{}, unavailable("the introspection endpoint cannot be reached", err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, maxResponseSize+1))
	switch {
	case err != nil:
		return entry{}, unavailable("the introspection endpoint did not answer", err)
	case res.StatusCode != http.StatusOK:
		// 401/403: our client credentials are refused, which is the
		// operator's problem, not the token's.
		v.cfg.Logger.Warn("introspection endpoint refused the call", zap.String("endpoint", v.cfg.Endpoint), zap.Int("status", res.StatusCode))
		return entry{}, unavailable("the introspection endpoint failed", fmt.Errorf("introspection endpoint answered HTTP %d", res.StatusCode))
	case len(body) > maxResponseSize:
		return entry{}, unavailable("the introspection endpoint failed", errors.New("introspection answer larger than 1 MiB"))
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var claims map[string]any
	if err := dec.Decode(&claims); err != nil {
		return entry{}, unavailable("the introspection endpoint failed", errors.New("introspection answer is not a JSON object"))
	}
	active, ok := claims["active"].(bool)
	if !ok {
		return entry{}, unavailable("the introspection endpoint failed", errors.New("introspection answer has no boolean active member"))
	}
	now := v.cfg.Now()
	refused := func(te *ports.TokenError) (entry, error) {
		return entry{err: te, expires: now.Add(v.cfg.RefusalTTL)}, nil
	}
	if !active {
		return refused(&ports.TokenError{Reason: ports.ReasonInactive,
			Detail: "the identity provider says the token is not active (revoked, expired or unknown)"})
	}
	p, exp, te := v.principal(claims, utf8.Valid(body), now)
	if te != nil {
		return refused(te)
	}
	until := now.Add(v.cfg.CacheTTL)
	if !exp.IsZero() && exp.Before(until) {
		until = exp
	}
	return entry{p: p, expires: until}, nil
}

// principal checks an active answer's claims and maps them. exp is the
// token's expiry (zero when the answer has none).
func (v *Verifier) principal(c map[string]any, utf8OK bool, now time.Time) (p ports.Principal, exp time.Time, te *ports.TokenError) {
	text := func(s string) bool {
		return s != "" && domain.IsKeyText(s) && (utf8OK || !strings.ContainsRune(s, utf8.RuneError))
	}
	if iss, present := c["iss"]; present {
		if s, ok := iss.(string); !ok || s != v.cfg.Issuer {
			return p, exp, &ports.TokenError{Reason: ports.ReasonWrongIssuer,
				Detail: "the token was not issued by the configured identity provider (iss)"}
		}
	}
	if !v.audienceOK(c["aud"]) {
		return p, exp, &ports.TokenError{Reason: ports.ReasonWrongAudience, Detail: "the token is not meant for this service (aud)"}
	}
	times := map[string]time.Time{}
	for _, name := range []string{"exp", "nbf", "iat"} {
		raw, present := c[name]
		if !present {
			continue
		}
		n, ok := raw.(json.Number)
		f, err := n.Float64()
		if !ok || err != nil || f < 0 || f > 1<<40 {
			return p, exp, malformed("a time claim (exp, nbf, iat) is not a number of seconds", nil)
		}
		times[name] = time.Unix(int64(f), 0)
	}
	if t, ok := times["exp"]; ok {
		if !now.Before(t.Add(v.cfg.Leeway)) {
			return p, exp, &ports.TokenError{Reason: ports.ReasonExpired, Detail: "the token has expired (exp)"}
		}
		exp = t
	}
	for _, name := range []string{"nbf", "iat"} {
		if t, ok := times[name]; ok && now.Add(v.cfg.Leeway).Before(t) {
			return p, exp, &ports.TokenError{Reason: ports.ReasonNotYetValid,
				Detail: "the token is not valid yet (nbf or iat is in the future)"}
		}
	}
	if tt, present := c["token_type"]; present {
		if s, ok := tt.(string); !ok || !strings.EqualFold(s, "Bearer") {
			return p, exp, malformed("the token is not a bearer access token (token_type)", nil)
		}
	}
	if _, present := c["cnf"]; present {
		return p, exp, malformed("the token is bound to a key (cnf), which is not supported", nil)
	}
	sub, _ := lookup(c, v.cfg.SubjectClaim).(string)
	if !text(sub) || domain.ValidateIdentifier(sub) != nil {
		return p, exp, malformed(fmt.Sprintf("the %s claim must be non-empty text without control characters", strings.Join(v.cfg.SubjectClaim, ".")), nil)
	}
	p = ports.Principal{Issuer: v.cfg.Issuer, Subject: sub}
	if raw, present := lookupOK(c, v.cfg.OrgClaim); present && !v.cfg.OrgClaimOff {
		if list, isList := raw.([]any); isList && len(list) <= 1 {
			// One value in a list is that value; an empty list names none.
			raw, present = nil, false
			if len(list) == 1 {
				raw, present = list[0], true
			}
		}
		if present {
			s, ok := raw.(string)
			if !ok {
				return ports.Principal{}, exp, &ports.TokenError{Reason: ports.ReasonAmbiguousOrganization,
					Detail: "the organization claim holds several values, or one that is not a string"}
			}
			if !text(s) {
				return ports.Principal{}, exp, malformed("the organization claim must be non-empty text without control characters", nil)
			}
			p.OrgClaim = s
		}
	}
	optional := func(path []string) string {
		s, _ := lookup(c, path).(string)
		if !text(s) {
			return ""
		}
		return s
	}
	p.Email, p.Name = optional(v.cfg.EmailClaim), optional(v.cfg.NameClaim)
	if len(v.cfg.AdminClaim) > 0 {
		p.PlatformAdmin = domain.ClaimHasValue(lookup(c, v.cfg.AdminClaim), v.cfg.AdminValue)
	}
	return p, exp, nil
}

func (v *Verifier) audienceOK(aud any) bool {
	switch a := aud.(type) {
	case string:
		return slices.Contains(v.cfg.Audiences, a)
	case []any:
		for _, e := range a {
			if s, ok := e.(string); ok && slices.Contains(v.cfg.Audiences, s) {
				return true
			}
		}
	}
	return false
}

// lookup follows path through nested objects; nil when absent.
func lookup(c map[string]any, path []string) any {
	v, _ := lookupOK(c, path)
	return v
}

func lookupOK(c map[string]any, path []string) (any, bool) {
	return domain.ClaimPath(path).Lookup(c)
}

func malformed(detail string, err error) *ports.TokenError {
	return &ports.TokenError{Reason: ports.ReasonMalformed, Detail: detail, Err: err}
}

func unavailable(detail string, cause error) *ports.TokenError {
	return &ports.TokenError{Reason: ports.ReasonIntrospectionUnavailable,
		Detail: detail + "; retry later",
		Err:    &ports.UnavailableError{Dependency: "introspection endpoint", Err: cause}}
}
