// Package jwks verifies bearer tokens (JWTs) against the public keys an
// OpenID Connect provider publishes as a JSON Web Key Set, and turns a verified
// token into a ports.Principal.
//
// Keys are fetched and cached by github.com/MicahParks/keyfunc/v3: they are
// refreshed on an interval and, at most once a minute, when a token names a key
// ID the cache does not hold (key rotation). The JWKS address is configured or
// discovered once from the issuer's /.well-known/openid-configuration.
//
// Verification follows RFC 8725: an allow-list of asymmetric algorithms,
// required iss, aud and exp, nbf and iat checked with a small leeway, no key
// taken from the token itself (jku, x5u, jwk and x5c headers are ignored), any
// crit header refused, and tokens over 8 KiB refused before they are parsed.
// Every rejection wraps domain.ErrInvalidToken.
package jwks

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
	"go.uber.org/zap"
	"golang.org/x/time/rate"

	"github.com/orgstack/orgstack/domain"
	"github.com/orgstack/orgstack/ports"
)

// MaxTokenSize is the largest raw token, in bytes, that Verify parses.
const MaxTokenSize = 8 << 10

// Defaults applied by New to zero Config fields.
const (
	DefaultLeeway          = 30 * time.Second
	DefaultOrgClaim        = "org_id"
	DefaultRefreshInterval = 15 * time.Minute
)

const (
	// unknownKIDEvery limits refreshes triggered by an unknown key ID.
	unknownKIDEvery = time.Minute
	// rateLimitWaitMax is how long a request waits for the unknown-kid limiter
	// before it gives up; small, so unknown kids fail fast.
	rateLimitWaitMax = 2 * time.Second
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
	// RefreshInterval is how often the key set is refreshed; default 15m.
	RefreshInterval time.Duration
	// HTTPClient fetches the discovery document and the key set. The default
	// is a hardened client: 10s timeout, no redirects, bodies limited to 1 MiB.
	HTTPClient *http.Client
	// Logger receives key-refresh failures; default a no-op logger.
	Logger *zap.Logger
}

// Verifier verifies bearer tokens. It is safe for concurrent use.
type Verifier struct {
	cfg    Config
	parser *jwt.Parser
	keys   keyfunc.Keyfunc
	jwks   string
	loaded atomic.Bool
}

var _ ports.TokenVerifier = (*Verifier)(nil)

// New validates cfg, discovers the JWKS address when cfg.JWKSURL is empty and
// starts the key cache. The first key fetch happens here, but its failure does
// not fail New (the provider may not be up yet; Ready reports it). Background
// refresh stops when ctx is cancelled.
func New(ctx context.Context, cfg Config) (*Verifier, error) {
	cfg, err := withDefaults(cfg)
	if err != nil {
		return nil, err
	}
	jwksURL := cfg.JWKSURL
	if jwksURL == "" {
		jwksURL, err = discover(ctx, cfg.HTTPClient, cfg.Issuer)
		if err != nil {
			return nil, err
		}
	}
	log := cfg.Logger
	k, err := keyfunc.NewDefaultOverrideCtx(ctx, []string{jwksURL}, keyfunc.Override{
		Client:           cfg.HTTPClient,
		HTTPTimeout:      httpTimeout,
		RateLimitWaitMax: rateLimitWaitMax,
		RefreshErrorHandlerFunc: func(u string) func(context.Context, error) {
			return func(_ context.Context, err error) {
				log.Warn("jwks: key set refresh failed", zap.String("url", u), zap.Error(err))
			}
		},
		RefreshInterval:   cfg.RefreshInterval,
		RefreshUnknownKID: rate.NewLimiter(rate.Every(unknownKIDEvery), 1),
	})
	if err != nil {
		return nil, fmt.Errorf("jwks: key set %q: %w", jwksURL, err)
	}
	v := &Verifier{
		cfg:  cfg,
		keys: k,
		jwks: jwksURL,
		parser: jwt.NewParser(
			jwt.WithValidMethods(cfg.Algorithms),
			jwt.WithIssuer(cfg.Issuer),
			jwt.WithAudience(cfg.Audience),
			jwt.WithExpirationRequired(),
			jwt.WithIssuedAt(),
			jwt.WithLeeway(cfg.Leeway),
			jwt.WithStrictDecoding(),
		),
	}
	if v.Ready() {
		log.Info("jwks: key set loaded", zap.String("url", jwksURL))
	}
	return v, nil
}

// withDefaults fills zero fields and rejects an unsafe or incomplete config.
func withDefaults(cfg Config) (Config, error) {
	if cfg.Issuer == "" {
		return cfg, errors.New("jwks: issuer is required")
	}
	if cfg.Audience == "" {
		return cfg, errors.New("jwks: audience is required")
	}
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
	if cfg.AdminClaim != "" && cfg.AdminValue == "" {
		return cfg, errors.New("jwks: admin claim is set but admin value is empty")
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
func (v *Verifier) Ready() bool {
	if v.loaded.Load() {
		return true
	}
	all, err := v.keys.Storage().KeyReadAll(context.Background())
	if err != nil || len(all) == 0 {
		return false
	}
	v.loaded.Store(true)
	return true
}

// JWKSURL returns the key set address in use (configured or discovered).
func (v *Verifier) JWKSURL() string { return v.jwks }

// Verify checks raw and returns its principal. Every rejection wraps
// domain.ErrInvalidToken; the error never contains the token.
func (v *Verifier) Verify(ctx context.Context, raw string) (ports.Principal, error) {
	if raw == "" {
		return ports.Principal{}, invalid("empty token")
	}
	if len(raw) > MaxTokenSize {
		return ports.Principal{}, invalid("token larger than %d bytes", MaxTokenSize)
	}
	keyfn := v.keys.KeyfuncCtx(ctx)
	claims := jwt.MapClaims{}
	_, err := v.parser.ParseWithClaims(raw, claims, func(t *jwt.Token) (any, error) {
		if _, ok := t.Header["crit"]; ok {
			return nil, errors.New("crit header is not supported")
		}
		return keyfn(t)
	})
	if err != nil {
		return ports.Principal{}, fmt.Errorf("%w: %w", domain.ErrInvalidToken, err)
	}
	if !v.loaded.Load() {
		v.loaded.Store(true)
	}
	return v.principal(claims)
}

// principal maps verified claims to a Principal. iss, aud and exp were
// checked by the parser.
func (v *Verifier) principal(c jwt.MapClaims) (ports.Principal, error) {
	iss, _ := c["iss"].(string)
	sub, ok := c["sub"].(string)
	if !ok || sub == "" {
		return ports.Principal{}, invalid("sub must be a non-empty string")
	}
	p := ports.Principal{Issuer: iss, Subject: sub}
	var err error
	if p.Email, err = optionalString(c, "email"); err != nil {
		return ports.Principal{}, err
	}
	if p.Name, err = optionalString(c, "name"); err != nil {
		return ports.Principal{}, err
	}
	if org, present := c[v.cfg.OrgClaim]; present {
		s, ok := org.(string)
		if !ok || s == "" {
			return ports.Principal{}, invalid("%s must be a non-empty string", v.cfg.OrgClaim)
		}
		p.OrgClaim = s
	}
	if v.cfg.AdminClaim != "" {
		p.PlatformAdmin = hasValue(c[v.cfg.AdminClaim], v.cfg.AdminValue)
	}
	return p, nil
}

// optionalString returns claim name, "" when absent, and an error when it is
// present with another type.
func optionalString(c jwt.MapClaims, name string) (string, error) {
	val, present := c[name]
	if !present || val == nil {
		return "", nil
	}
	s, ok := val.(string)
	if !ok {
		return "", invalid("%s must be a string", name)
	}
	return s, nil
}

// hasValue reports whether claim carries want: a string equal to it, true
// when want is "true", or an array of strings containing it.
func hasValue(claim any, want string) bool {
	switch c := claim.(type) {
	case string:
		return c == want
	case bool:
		return c && want == "true"
	case []any:
		for _, e := range c {
			if s, ok := e.(string); ok && s == want {
				return true
			}
		}
	}
	return false
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{domain.ErrInvalidToken}, args...)...)
}
