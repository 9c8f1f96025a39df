// Package jwks verifies bearer tokens (JWTs) against the public keys an
// OpenID Connect provider publishes as a JSON Web Key Set, and turns a verified
// token into a ports.Principal.
//
// Keys are parsed, held and looked up by github.com/MicahParks/jwkset and
// github.com/MicahParks/keyfunc/v3; when and how often they are fetched is
// decided here, by one refresh goroutine per Verifier (see refresh.go):
//
//   - The provider may be down when the service starts: New does not fail,
//     the JWKS address is discovered (from the issuer's
//     /.well-known/openid-configuration) and the key set fetched on a short
//     backoff (250 ms doubling to 5 s) until a key set has loaded, so the
//     service turns ready within seconds of the provider coming back,
//     without waiting for a token.
//   - Once loaded, the set is refreshed every RefreshInterval; a failed
//     refresh keeps the cached keys and is retried on a backoff.
//   - A token naming an unknown key ID asks for a refresh: all such requests
//     share one fetch (single flight), at most one every 5 s, and a request
//     waits at most 100 ms for it. A key the provider publishes is therefore
//     usable within about 5 s, whatever tokens arrived before.
//
// Verification follows RFC 8725: an allow-list of asymmetric algorithms,
// required iss, aud and exp, nbf and iat checked with a small leeway, no key
// taken from the token itself (jku, x5u, jwk and x5c headers are ignored), any
// crit header refused, and tokens over 8 KiB refused before they are parsed.
// Every rejection is a *ports.TokenError with a stable reason.
package jwks

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/MicahParks/jwkset"
	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
	"go.uber.org/zap"

	"github.com/orgstack/orgstack/domain"
	"github.com/orgstack/orgstack/ports"
)

// firstFetchTimeout bounds the synchronous first attempt of New (discovery
// and key set together), so a hanging provider cannot hold the start.
const firstFetchTimeout = 5 * time.Second

// MaxTokenSize is the largest raw token, in bytes, that Verify parses.
const MaxTokenSize = 8 << 10

// Defaults applied by New to zero Config fields.
const (
	DefaultLeeway          = 30 * time.Second
	DefaultOrgClaim        = "org_id"
	DefaultRefreshInterval = 15 * time.Minute
)

// DefaultAlgorithms is the algorithm allow-list used when Config.Algorithms is
// empty.
var DefaultAlgorithms = []string{"RS256", "PS256", "ES256", "EdDSA"}

// supportedAlgorithms are the asymmetric algorithms Config.Algorithms may name.
// Symmetric (HS*) algorithms and "none" are never accepted: the JWKS holds
// public keys, and a public key must never serve as an HMAC secret.
var supportedAlgorithms = []string{
	"RS256", "RS384", "RS512",
	"PS256", "PS384", "PS512",
	"ES256", "ES384", "ES512",
	"EdDSA",
}

// Config configures a Verifier.
type Config struct {
	// JWKSURL is the JWK Set address. If empty, it is discovered from
	// Issuer + "/.well-known/openid-configuration".
	JWKSURL string
	// Issuer is the required iss claim (exact match).
	Issuer string
	// Audience must be the aud claim or one of its values.
	Audience string
	// Audiences are further accepted audiences: a token is accepted when its
	// aud names Audience or any of these.
	Audiences []string
	// RequiredType, when set, is the typ header every token must carry (for
	// example "at+jwt", RFC 9068), compared case-insensitively, with or
	// without the "application/" prefix. A mismatch is ReasonWrongType.
	RequiredType string
	// MaxAge, when positive, is the oldest a token may be, measured from its
	// iat (plus Leeway); a token without iat is then refused. ReasonTooOld.
	MaxAge time.Duration
	// RequiredClaims are claim values every token must carry (such as Google's
	// hd or Entra's tid). A missing or different value is ReasonMissingClaim.
	RequiredClaims []ClaimValue
	// SubjectPath, EmailPath and NamePath locate the subject, email and name
	// claims; default sub, email and name.
	SubjectPath ClaimPath
	EmailPath   ClaimPath
	NamePath    ClaimPath
	// OrgPath locates the organization claim; when nil it is the top-level
	// claim OrgClaim. OrgClaimOff turns the organization claim off.
	OrgPath     ClaimPath
	OrgClaimOff bool
	// AdminPath locates the platform-administrator claim; when nil it is the
	// top-level claim AdminClaim.
	AdminPath ClaimPath
	// Algorithms is the allow-list of signing algorithms; default
	// DefaultAlgorithms. Only asymmetric algorithms are accepted.
	Algorithms []string
	// Leeway is the clock skew allowed for exp, nbf and iat; default 30s.
	Leeway time.Duration
	// OrgClaim names the claim that binds a token to an organization (an ID
	// or slug); default "org_id".
	OrgClaim string
	// AdminClaim and AdminValue define the platform-administrator flag; the
	// flag is off when AdminClaim is "".
	AdminClaim string
	AdminValue string
	// ProviderOrgID binds every token of this issuer to an organization (an
	// organization's own identity provider): the organization claim is
	// ignored, and the platform-administrator flag is never set.
	ProviderOrgID string
	// RoleClaim locates the claim whose values (a string or an array of
	// strings) become Principal.MappedValues; off when nil.
	RoleClaim ClaimPath
	// RefreshInterval is how often the key set is refreshed; default 15m.
	RefreshInterval time.Duration
	// HTTPClient fetches the discovery document and the key set. The default
	// is a hardened client: 10s timeout, no redirects, bodies limited to 1 MiB.
	HTTPClient *http.Client
	// Logger receives key-set load failures and recoveries; default a no-op
	// logger.
	Logger *zap.Logger
	// Events, when set, receives the outcome of every key-set fetch, under
	// Issuer, or ports.TenantIssuerLabel when ProviderOrgID is set (an
	// organization's issuer is tenant data, never a metric label).
	Events ports.KeyRefreshEvents `json:"-"`
}

// Verifier verifies bearer tokens. It is safe for concurrent use.
type Verifier struct {
	cfg       Config
	parser    *jwt.Parser
	validator *jwt.Validator // the parser's claim checks, for tokens checked without keys
	keys      keyfunc.Keyfunc
	store     *keyStore
	log       *zap.Logger

	jwksURL     atomic.Pointer[string] // configured or discovered; nil until known
	loaded      atomic.Bool            // a key set with a usable key has loaded at least once
	lastOK      atomic.Bool            // the latest fetch succeeded
	lastErr     atomic.Pointer[error]  // the latest fetch error, for logs
	lastSuccess atomic.Int64           // unix nanoseconds of the latest successful fetch; 0 if none
	warned      atomic.Bool            // a fetch failure has been logged
	keyGen      atomic.Uint64          // counts successful key-set fetches (tokenCache entries of older ones are stale)

	kick   chan struct{} // asks the refresh goroutine for an early fetch
	doneMu sync.Mutex
	done   chan struct{} // closed when the fetch under way (or the next one) ends
}

var _ ports.TokenVerifier = (*Verifier)(nil)

// New validates cfg and starts the key cache. It tries once, synchronously,
// to discover the JWKS address (when cfg.JWKSURL is empty) and to load the
// key set; when the provider cannot be reached it still returns a Verifier,
// which is not Ready and keeps retrying in the background until ctx is
// cancelled. It fails only for an invalid configuration, including a
// discovery document that names another issuer.
func New(ctx context.Context, cfg Config) (*Verifier, error) {
	cfg, err := withDefaults(cfg)
	if err != nil {
		return nil, err
	}
	v, err := build(ctx, cfg)
	if err != nil {
		return nil, err
	}
	first, cancel := context.WithTimeout(ctx, firstFetchTimeout)
	err = v.fetch(first)
	cancel()
	if err != nil {
		var ce *configError
		if errors.As(err, &ce) {
			return nil, err
		}
	}
	go v.run(ctx)
	return v, nil
}

// build returns a Verifier for a checked cfg, with no key loaded and no
// refresh goroutine.
func build(ctx context.Context, cfg Config) (*Verifier, error) {
	store := &keyStore{MemoryJWKSet: jwkset.NewMemoryStorage()}
	k, err := keyfunc.New(keyfunc.Options{Ctx: ctx, Storage: store})
	if err != nil {
		return nil, fmt.Errorf("jwks: %w", err)
	}
	opts := []jwt.ParserOption{
		jwt.WithValidMethods(cfg.Algorithms),
		jwt.WithIssuer(cfg.Issuer),
		jwt.WithAudience(cfg.Audiences...),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(cfg.Leeway),
		jwt.WithStrictDecoding(),
	}
	v := &Verifier{
		cfg:       cfg,
		keys:      k,
		store:     store,
		log:       cfg.Logger,
		parser:    jwt.NewParser(opts...),
		validator: jwt.NewValidator(opts...),
		kick:      make(chan struct{}, 1),
		done:      make(chan struct{}),
	}
	store.v = v
	if cfg.JWKSURL != "" {
		u := cfg.JWKSURL
		v.jwksURL.Store(&u)
	}
	return v, nil
}

// withDefaults fills zero fields and rejects an unsafe or incomplete config.
func withDefaults(cfg Config) (Config, error) {
	if cfg.Issuer == "" {
		return cfg, errors.New("jwks: issuer is required")
	}
	auds := slices.DeleteFunc(slices.Concat([]string{cfg.Audience}, cfg.Audiences), func(a string) bool { return a == "" })
	if len(auds) == 0 {
		return cfg, errors.New("jwks: audience is required")
	}
	slices.Sort(auds)
	cfg.Audiences = slices.Compact(auds)
	if cfg.Audience == "" {
		cfg.Audience = cfg.Audiences[0]
	}
	if cfg.MaxAge < 0 {
		return cfg, errors.New("jwks: maximum token age must not be negative")
	}
	for _, rc := range cfg.RequiredClaims {
		if len(rc.Path) == 0 || rc.Value == "" {
			return cfg, errors.New("jwks: a required claim needs a claim path and a value")
		}
	}
	cfg.RequiredType = strings.TrimPrefix(strings.ToLower(cfg.RequiredType), "application/")
	if len(cfg.Algorithms) == 0 {
		cfg.Algorithms = DefaultAlgorithms
	}
	for _, a := range cfg.Algorithms {
		if !slices.Contains(supportedAlgorithms, a) {
			return cfg, fmt.Errorf("jwks: algorithm %q is not allowed (use asymmetric algorithms: %s)",
				a, strings.Join(supportedAlgorithms, ", "))
		}
	}
	cfg.Algorithms = slices.Clone(cfg.Algorithms)
	switch {
	case cfg.Leeway < 0:
		return cfg, errors.New("jwks: leeway must not be negative")
	case cfg.Leeway == 0:
		cfg.Leeway = DefaultLeeway
	}
	if cfg.OrgClaim == "" {
		cfg.OrgClaim = DefaultOrgClaim
	}
	if cfg.OrgPath == nil {
		cfg.OrgPath = ClaimPath{cfg.OrgClaim}
	}
	if cfg.AdminPath == nil && cfg.AdminClaim != "" {
		cfg.AdminPath = ClaimPath{cfg.AdminClaim}
	}
	if len(cfg.AdminPath) > 0 && cfg.AdminValue == "" {
		return cfg, errors.New("jwks: admin claim is set but admin value is empty")
	}
	if cfg.ProviderOrgID != "" {
		cfg.OrgClaimOff, cfg.AdminPath = true, nil
	}
	if cfg.SubjectPath == nil {
		cfg.SubjectPath = ClaimPath{"sub"}
	}
	if cfg.EmailPath == nil {
		cfg.EmailPath = ClaimPath{"email"}
	}
	if cfg.NamePath == nil {
		cfg.NamePath = ClaimPath{"name"}
	}
	for _, p := range []ClaimPath{cfg.SubjectPath, cfg.EmailPath, cfg.NamePath, cfg.OrgPath, cfg.AdminPath, cfg.RoleClaim} {
		if slices.Contains(p, "") {
			return cfg, errors.New("jwks: a claim path must not hold an empty key")
		}
	}
	switch {
	case cfg.RefreshInterval < 0:
		return cfg, errors.New("jwks: refresh interval must not be negative")
	case cfg.RefreshInterval == 0:
		cfg.RefreshInterval = DefaultRefreshInterval
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = NewHTTPClient()
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	return cfg, nil
}

// Ready reports whether a key set with at least one usable key has been
// loaded at least once. Once true it stays true: a later failed refresh keeps
// the keys already cached.
func (v *Verifier) Ready() bool { return v.loaded.Load() }

// JWKSURL returns the key set address in use (configured or discovered), or
// "" while discovery has not succeeded yet.
func (v *Verifier) JWKSURL() string {
	if u := v.jwksURL.Load(); u != nil {
		return *u
	}
	return ""
}

// Verify checks raw and returns its principal. Every rejection is a
// *ports.TokenError; the error never contains the token. While no key set
// has ever loaded, a token that passes every check that needs no key is
// refused with ports.ReasonKeysUnavailable (wrapping a
// *ports.UnavailableError), not as invalid: the caller should retry, not
// throw the token away.
func (v *Verifier) Verify(ctx context.Context, raw string) (ports.Principal, error) {
	p, _, err := v.verify(ctx, raw)
	return p, err
}

// verify is Verify, also returning until when the accepted token may be
// taken as accepted without checking it again (see tokenCache): its exp
// without the leeway, or sooner when the issuer bounds its age.
func (v *Verifier) verify(ctx context.Context, raw string) (ports.Principal, time.Time, error) {
	p, claims, err := v.verifyClaims(ctx, raw)
	if err != nil {
		return p, time.Time{}, err
	}
	exp, err := claims.GetExpirationTime()
	if err != nil || exp == nil {
		return p, time.Time{}, nil // cannot happen: exp is required and checked
	}
	until := exp.Time
	if v.cfg.MaxAge > 0 {
		if iat, err := claims.GetIssuedAt(); err == nil && iat != nil && iat.Add(v.cfg.MaxAge).Before(until) {
			until = iat.Add(v.cfg.MaxAge)
		}
	}
	return p, until, nil
}

func (v *Verifier) verifyClaims(ctx context.Context, raw string) (ports.Principal, jwt.MapClaims, error) {
	if raw == "" {
		return ports.Principal{}, nil, malformed("the token is empty", nil)
	}
	if len(raw) > MaxTokenSize {
		return ports.Principal{}, nil, malformed(fmt.Sprintf("the token is larger than %d bytes", MaxTokenSize), nil)
	}
	claims := jwt.MapClaims{}
	if !v.loaded.Load() {
		if err := v.withoutKeys(ctx, raw, claims); err != nil {
			return ports.Principal{}, nil, err
		}
		claims = jwt.MapClaims{} // loaded meanwhile: verify for real
	}
	keyfn := v.keys.KeyfuncCtx(ctx)
	tok, err := v.parser.ParseWithClaims(raw, claims, func(t *jwt.Token) (any, error) {
		if _, ok := t.Header["crit"]; ok {
			return nil, malformed("the token has a crit header, which is not supported", nil)
		}
		if kid, ok := t.Header["kid"]; ok {
			if _, ok := kid.(string); !ok {
				return nil, malformed("the token's kid header is not a string", nil)
			}
		}
		key, err := keyfn(t)
		switch {
		case errors.Is(err, jwkset.ErrKeyNotFound):
			return nil, &ports.TokenError{Reason: ports.ReasonUnknownKey,
				Detail: "the identity provider publishes no key with the token's key ID (kid)", Err: err}
		case err != nil:
			return nil, badSignature(err)
		}
		return key, nil
	})
	if err != nil {
		return ports.Principal{}, nil, v.reject(tok, raw, claims, err)
	}
	if te := v.checkText(raw, claims); te != nil {
		return ports.Principal{}, nil, te
	}
	if te := v.checkPolicy(tok.Header, claims); te != nil {
		return ports.Principal{}, nil, te
	}
	return v.principal(raw, claims), claims, nil
}

// withoutKeys answers a token while no key set has loaded: the checks that
// need no key (form, algorithm, claims) still reject with their reason; for
// a token that passes them it asks for a fetch and waits for it as for an
// unknown key ID, and refuses the token as keys_unavailable unless the keys
// have loaded meanwhile (then it returns nil).
func (v *Verifier) withoutKeys(ctx context.Context, raw string, claims jwt.MapClaims) error {
	tok, _, err := v.parser.ParseUnverified(raw, claims)
	if err != nil {
		return v.reject(tok, raw, claims, err)
	}
	if !slices.Contains(v.cfg.Algorithms, tok.Method.Alg()) {
		return badSignature(nil)
	}
	if te := v.checkText(raw, claims); te != nil {
		return te
	}
	if err := v.validator.Validate(claims); err != nil {
		return claimsError(claims, err)
	}
	if te := v.checkPolicy(tok.Header, claims); te != nil {
		return te
	}
	if v.awaitRefresh(ctx); v.loaded.Load() {
		return nil
	}
	var cause error = errors.New("no key set loaded yet")
	if p := v.lastErr.Load(); p != nil {
		cause = *p
	}
	return keysUnavailable(cause)
}

// reject turns a parse error into a *ports.TokenError.
func (v *Verifier) reject(tok *jwt.Token, raw string, claims jwt.MapClaims, err error) error {
	var te *ports.TokenError
	switch {
	case errors.As(err, &te):
		if te.Reason == ports.ReasonUnknownKey && !v.lastOK.Load() {
			// The kid may be a new key we could not fetch: the provider is
			// unreachable, so this is not the token's fault.
			return keysUnavailable(err)
		}
		return &ports.TokenError{Reason: te.Reason, Detail: te.Detail, Err: err}
	case errors.Is(err, jwt.ErrTokenMalformed):
		return malformed("the token is not a well-formed JWT", err)
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return badSignature(err)
	case errors.Is(err, jwt.ErrTokenUnverifiable):
		// Raised by the parser itself: the alg header is missing or names an
		// algorithm nobody implements.
		if tok != nil {
			if _, ok := tok.Header["alg"].(string); ok {
				return badSignature(err)
			}
		}
		return malformed("the token has no alg header", err)
	case errors.Is(err, jwt.ErrTokenInvalidClaims):
		// The signature was verified; the claims were not acceptable.
		if te := v.checkText(raw, claims); te != nil {
			return te
		}
		return claimsError(claims, err)
	}
	return malformed("the token could not be verified", err)
}

// claimsError maps a failed claim validation to its reason. When several
// claims fail, the issuer is reported first, then the audience, then time.
func claimsError(c jwt.MapClaims, err error) *ports.TokenError {
	_, hasIss := c["iss"]
	_, hasAud := c["aud"]
	missing := errors.Is(err, jwt.ErrTokenRequiredClaimMissing)
	switch {
	case errors.Is(err, jwt.ErrInvalidType):
		return malformed("a registered claim (exp, nbf, iat, iss, aud) has the wrong type", err)
	case errors.Is(err, jwt.ErrTokenInvalidIssuer) || missing && !hasIss:
		return &ports.TokenError{Reason: ports.ReasonWrongIssuer,
			Detail: "the token was not issued by the configured identity provider (iss)", Err: err}
	case errors.Is(err, jwt.ErrTokenInvalidAudience) || missing && !hasAud:
		return &ports.TokenError{Reason: ports.ReasonWrongAudience,
			Detail: "the token is not meant for this service (aud)", Err: err}
	case errors.Is(err, jwt.ErrTokenExpired):
		return &ports.TokenError{Reason: ports.ReasonExpired, Detail: "the token has expired (exp)", Err: err}
	case errors.Is(err, jwt.ErrTokenNotValidYet), errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return &ports.TokenError{Reason: ports.ReasonNotYetValid,
			Detail: "the token is not valid yet (nbf or iat is in the future)", Err: err}
	}
	return malformed("the token lacks a required claim (exp)", err)
}

func malformed(detail string, err error) *ports.TokenError {
	return &ports.TokenError{Reason: ports.ReasonMalformed, Detail: detail, Err: err}
}

func badSignature(err error) *ports.TokenError {
	return &ports.TokenError{Reason: ports.ReasonBadSignature,
		Detail: "the token's signature is invalid, or its algorithm is not allowed for its key", Err: err}
}

func keysUnavailable(cause error) *ports.TokenError {
	return &ports.TokenError{Reason: ports.ReasonKeysUnavailable,
		Detail: "the identity provider's signing keys cannot be loaded right now; retry later",
		Err:    &ports.UnavailableError{Dependency: "identity provider", Err: cause}}
}

// checkText refuses a token whose iss, sub or organization claim is not
// acceptable text: a non-empty string of valid UTF-8 without control
// characters (domain.IsKeyText), and iss and sub at most
// domain.MaxIdentifier bytes (domain.ValidateIdentifier). encoding/json turns invalid UTF-8 into U+FFFD, so a claim
// holding U+FFFD in a payload that is not valid UTF-8 counts as invalid.
func (v *Verifier) checkText(raw string, c jwt.MapClaims) *ports.TokenError {
	payloadOK := payloadIsUTF8(raw)
	check := func(name string, val any, present, identifier bool) *ports.TokenError {
		s, ok := val.(string)
		if ok && identifier && domain.ValidateIdentifier(s) != nil {
			ok = false
		}
		if !present || !ok || !acceptableText(s) || !payloadOK && strings.ContainsRune(s, utf8.RuneError) {
			return malformed(fmt.Sprintf("the %s claim must be non-empty text without control characters", name), nil)
		}
		return nil
	}
	if iss, present := c["iss"]; present {
		if te := check("iss", iss, true, true); te != nil {
			return te
		}
	}
	sub, present := v.cfg.SubjectPath.Lookup(c)
	if te := check(v.cfg.SubjectPath.String(), sub, present, true); te != nil {
		return te
	}
	if v.cfg.OrgClaimOff {
		return nil
	}
	org, present := v.cfg.OrgPath.Lookup(c)
	if !present {
		return nil
	}
	s, te := singleValue(v.cfg.OrgPath, org)
	if te != nil || s == "" {
		return te
	}
	return check(v.cfg.OrgPath.String(), s, true, false)
}

// singleValue reads an organization claim: a string, or an array holding
// one string. An empty array is no value; an array of two or more values, or
// any other type, is ReasonAmbiguousOrganization.
func singleValue(path ClaimPath, val any) (string, *ports.TokenError) {
	switch x := val.(type) {
	case string:
		if x == "" {
			return "", malformed(fmt.Sprintf("the %s claim must be non-empty text without control characters", path), nil)
		}
		return x, nil
	case []any:
		switch len(x) {
		case 0:
			return "", nil
		case 1:
			if s, ok := x[0].(string); ok {
				return singleValue(path, s)
			}
		}
	}
	return "", &ports.TokenError{Reason: ports.ReasonAmbiguousOrganization,
		Detail: fmt.Sprintf("the organization claim %s must hold exactly one organization (a string)", path)}
}

// checkPolicy applies the issuer's optional rules that need no key: the
// required typ header, the maximum age and the required claim values.
func (v *Verifier) checkPolicy(header map[string]any, c jwt.MapClaims) *ports.TokenError {
	if v.cfg.RequiredType != "" {
		typ, _ := header["typ"].(string)
		if strings.TrimPrefix(strings.ToLower(typ), "application/") != v.cfg.RequiredType {
			return &ports.TokenError{Reason: ports.ReasonWrongType,
				Detail: fmt.Sprintf("the token's typ header must be %q", v.cfg.RequiredType)}
		}
	}
	if v.cfg.MaxAge > 0 {
		iat, err := c.GetIssuedAt()
		if err != nil || iat == nil {
			return &ports.TokenError{Reason: ports.ReasonTooOld,
				Detail: "the token has no iat claim, which this issuer requires to bound its age", Err: err}
		}
		if time.Since(iat.Time) > v.cfg.MaxAge+v.cfg.Leeway {
			return &ports.TokenError{Reason: ports.ReasonTooOld,
				Detail: fmt.Sprintf("the token was issued more than %s ago (iat)", v.cfg.MaxAge)}
		}
	}
	for _, rc := range v.cfg.RequiredClaims {
		got, ok := rc.Path.Lookup(c)
		if s, isStr := got.(string); !ok || !isStr || s != rc.Value {
			return &ports.TokenError{Reason: ports.ReasonMissingClaim,
				Detail: fmt.Sprintf("the token's %s claim does not hold the value this issuer requires", rc.Path)}
		}
	}
	return nil
}

// payloadIsUTF8 reports whether the token's claims segment decodes to valid
// UTF-8 (a segment that does not decode was refused by the parser already).
func payloadIsUTF8(raw string) bool {
	parts := strings.SplitN(raw, ".", 3)
	if len(parts) < 2 {
		return false
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	return err == nil && utf8.Valid(b)
}

// acceptableText reports whether s is text the domain accepts in a name,
// key or identifier (domain.IsKeyText), and not empty.
func acceptableText(s string) bool { return s != "" && domain.IsKeyText(s) }

// principal maps verified claims to a Principal. iss, aud and exp were
// checked by the parser, iss, sub and the organization claim by checkText.
// An email or name claim that is not acceptable text is ignored.
func (v *Verifier) principal(raw string, c jwt.MapClaims) ports.Principal {
	iss, _ := c["iss"].(string)
	subv, _ := v.cfg.SubjectPath.Lookup(c)
	sub, _ := subv.(string)
	p := ports.Principal{Issuer: iss, Subject: sub}
	payloadOK := payloadIsUTF8(raw)
	optional := func(path ClaimPath) string {
		val, _ := path.Lookup(c)
		s, _ := val.(string)
		if !acceptableText(s) || !payloadOK && strings.ContainsRune(s, utf8.RuneError) {
			return ""
		}
		return s
	}
	p.Email, p.Name = optional(v.cfg.EmailPath), optional(v.cfg.NamePath)
	if v.cfg.ProviderOrgID != "" {
		p.ProviderOrgID = v.cfg.ProviderOrgID
		if v.cfg.RoleClaim != nil {
			val, _ := v.cfg.RoleClaim.Lookup(c)
			p.MappedValues = stringValues(val)
		}
		return p
	}
	if !v.cfg.OrgClaimOff {
		val, _ := v.cfg.OrgPath.Lookup(c)
		p.OrgClaim, _ = singleValue(v.cfg.OrgPath, val)
	}
	if len(v.cfg.AdminPath) > 0 {
		val, _ := v.cfg.AdminPath.Lookup(c)
		p.PlatformAdmin = domain.ClaimHasValue(val, v.cfg.AdminValue)
	}
	return p
}

// stringValues returns a claim's values: a string alone, or the acceptable
// strings of an array; nil otherwise.
func stringValues(val any) []string {
	var out []string
	switch x := val.(type) {
	case string:
		if acceptableText(x) {
			out = append(out, x)
		}
	case []any:
		for _, e := range x {
			if s, ok := e.(string); ok && acceptableText(s) {
				out = append(out, s)
			}
		}
	}
	return out
}
