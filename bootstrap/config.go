package bootstrap

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"os"
	"reflect"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/caarlos0/env/v11"

	"github.com/orgstack/orgstack/adapters/httpapi"
	"github.com/orgstack/orgstack/adapters/outbound"
)

// envPrefix starts the name of every setting.
const envPrefix = "ORGSTACK_"

// Config is the whole configuration, read from ORGSTACK_* environment
// variables (12-factor). Each field's tags are the one description of its
// setting: env names it, envDefault gives its default, desc says what it
// means, cmds lists the commands that read it, and show (when present)
// replaces the default in help text. `orgstack <command> --help` is
// generated from them, and a test keeps README.md's table in step.
type Config struct {
	HTTPAddr               string        `env:"HTTP_ADDR" envDefault:":8080" cmds:"serve dev" desc:"listen address"`
	DebugAddr              string        `env:"DEBUG_ADDR" cmds:"serve dev" show:"off" desc:"serve Go's profiler (/debug/pprof/) on this separate address; bind it to loopback"`
	DatabaseURL            string        `env:"DATABASE_URL" cmds:"serve migrate audit" show:"required" desc:"postgres://…, postgresql://…, sqlite:<path>[?pragmas] or sqlite::memory:"`
	DatabaseURLFile        string        `env:"DATABASE_URL_FILE" cmds:"serve migrate audit" show:"none" desc:"file holding ORGSTACK_DATABASE_URL (it may carry a password); set one of the two"`
	MigrateDatabaseURL     string        `env:"MIGRATE_DATABASE_URL" cmds:"serve migrate audit" show:"ORGSTACK_DATABASE_URL" desc:"the URL migrations run with (orgstack migrate, serve's auto-migration, orgstack audit prune): a role that owns the tables, while ORGSTACK_DATABASE_URL's role does not (row-level security)"`
	MigrateDatabaseURLFile string        `env:"MIGRATE_DATABASE_URL_FILE" cmds:"serve migrate audit" show:"none" desc:"file holding ORGSTACK_MIGRATE_DATABASE_URL"`
	RuntimeDBRole          string        `env:"RUNTIME_DB_ROLE" cmds:"serve migrate" show:"none" desc:"PostgreSQL role ORGSTACK_DATABASE_URL connects as: migrating grants it the service's privileges on every table"`
	AutoMigrate            bool          `env:"AUTO_MIGRATE" envDefault:"false" cmds:"serve" desc:"let serve apply pending migrations at start"`
	DatabaseMaxConn        int           `env:"DATABASE_MAX_CONNS" envDefault:"0" cmds:"serve dev" show:"0 (4 × CPUs)" desc:"PostgreSQL connection pool size (kept open)"`
	ShutdownTimeout        time.Duration `env:"SHUTDOWN_TIMEOUT" envDefault:"15s" cmds:"serve dev" desc:"time to drain connections on SIGINT/SIGTERM"`
	ShutdownDelay          time.Duration `env:"SHUTDOWN_DELAY" envDefault:"0s" cmds:"serve dev" desc:"on SIGTERM, answer /readyz with 503 this long before draining"`
	LogLevel               string        `env:"LOG_LEVEL" envDefault:"info" cmds:"serve dev" desc:"debug, info, warn or error"`
	LogFormat              string        `env:"LOG_FORMAT" envDefault:"json" cmds:"serve dev" desc:"json or console (dev defaults to console)"`
	MetricsAddr            string        `env:"METRICS_ADDR" cmds:"serve dev" show:"off" desc:"serve Prometheus metrics (/metrics) on this separate address; bind it to a private address"`
	CORSOrigins            []string      `env:"CORS_ORIGINS" cmds:"serve dev" show:"off" desc:"browser origins allowed to call the API: exact origins (https://app.example.com), comma-separated, or * alone; credentials mode is never allowed"`
	LogBuffered            bool          `env:"LOG_BUFFERED" envDefault:"true" cmds:"serve dev" desc:"write log lines in batches, flushed every second (dev defaults to false)"`

	ConfigFile          string        `env:"CONFIG" cmds:"serve config" show:"off" desc:"YAML (or JSON) file of trusted issuers; replaces the one-issuer variables below"`
	OIDCIssuer          string        `env:"OIDC_ISSUER" cmds:"serve config" show:"required without ORGSTACK_CONFIG" desc:"expected iss of access tokens; also the base for OIDC discovery"`
	JWKSURL             string        `env:"JWKS_URL" cmds:"serve config" show:"discovered" desc:"JWKS URL; when empty, read from $ORGSTACK_OIDC_ISSUER/.well-known/openid-configuration"`
	Audience            string        `env:"AUDIENCE" cmds:"serve config" show:"required without ORGSTACK_CONFIG" desc:"expected aud of access tokens"`
	JWTAlgorithms       []string      `env:"JWT_ALGORITHMS" envDefault:"RS256,PS256,ES256,EdDSA" cmds:"serve dev config" desc:"allowed signing algorithms (asymmetric only)"`
	JWTLeeway           time.Duration `env:"JWT_LEEWAY" envDefault:"30s" cmds:"serve dev config" desc:"clock skew allowed on exp, nbf and iat"`
	JWKSRefresh         time.Duration `env:"JWKS_REFRESH_INTERVAL" envDefault:"15m" cmds:"serve dev config" desc:"how often the keys are refreshed"`
	OrgClaim            string        `env:"ORG_CLAIM" envDefault:"org_id" cmds:"serve dev config" desc:"claim binding a token to an organization (ID or slug)"`
	PlatformAdminClaim  string        `env:"PLATFORM_ADMIN_CLAIM" cmds:"serve config" show:"off" desc:"claim marking platform administrators (string, boolean or array)"`
	PlatformAdminValue  string        `env:"PLATFORM_ADMIN_VALUE" cmds:"serve config" show:"none" desc:"value of that claim that means platform administrator"`
	RestrictOrgCreation bool          `env:"RESTRICT_ORG_CREATION" envDefault:"false" cmds:"serve dev" desc:"only platform administrators may create organizations"`
	RequireIfMatch      bool          `env:"REQUIRE_IF_MATCH" envDefault:"false" cmds:"serve dev" desc:"every PATCH, PUT and DELETE of a versioned resource must carry If-Match (428 precondition_required without it)"`
	IdempotencyTTL      time.Duration `env:"IDEMPOTENCY_TTL" envDefault:"24h" cmds:"serve dev" desc:"how long the response of a POST sent with Idempotency-Key is kept for retries; expired keys are swept"`
	IdempotencySweep    time.Duration `env:"IDEMPOTENCY_SWEEP_INTERVAL" envDefault:"10m" cmds:"serve dev" desc:"how often each instance deletes expired idempotency keys"`
	RateLimit           int           `env:"RATE_LIMIT" envDefault:"0" cmds:"serve dev" show:"0 (off)" desc:"requests each caller (issuer + subject) may make per window (429 beyond)"`
	RateLimitWindow     time.Duration `env:"RATE_LIMIT_WINDOW" envDefault:"1m" cmds:"serve dev" desc:"the window of that quota, and of the organization and client-address quotas"`
	PublicURL           string        `env:"PUBLIC_URL" cmds:"serve dev" show:"off" desc:"external base URL (https, or http on loopback); the resource identifier of /.well-known/oauth-protected-resource, and resource_metadata in WWW-Authenticate"`
	OutboundAllow       []string      `env:"OUTBOUND_ALLOW" cmds:"serve dev" show:"none" desc:"host:port pairs that tenant-supplied URLs may reach despite the address and https rules (tests, special cases)"`

	IntrospectionURL              string        `env:"INTROSPECTION_URL" cmds:"serve" show:"off" desc:"OAuth 2.0 token introspection endpoint (RFC 7662): tokens that are not JWTs are checked there, and only there"`
	IntrospectionIssuer           string        `env:"INTROSPECTION_ISSUER" cmds:"serve" show:"$ORGSTACK_OIDC_ISSUER" desc:"the issuer whose endpoint that is (an iss in its answers must match; users are keyed by it)"`
	IntrospectionClientID         string        `env:"INTROSPECTION_CLIENT_ID" cmds:"serve" show:"none" desc:"client ID OrgStack authenticates with at that endpoint (client_secret_basic)"`
	IntrospectionClientSecret     string        `env:"INTROSPECTION_CLIENT_SECRET" cmds:"serve" show:"none" desc:"its client secret (or use the _FILE variable)"`
	IntrospectionClientSecretFile string        `env:"INTROSPECTION_CLIENT_SECRET_FILE" cmds:"serve" show:"none" desc:"file holding that client secret"`
	IntrospectionSubjectClaim     string        `env:"INTROSPECTION_SUBJECT_CLAIM" envDefault:"sub" cmds:"serve" desc:"claim of the introspection answer that names the user (client_id for providers that give machine tokens no sub)"`
	IntrospectionCacheTTL         time.Duration `env:"INTROSPECTION_CACHE_TTL" envDefault:"5m" cmds:"serve" desc:"how long an active answer is reused (at most 5m, and never past the token's exp)"`
	IntrospectionRate             int           `env:"INTROSPECTION_RATE" envDefault:"50" cmds:"serve" desc:"introspection calls per second (and burst) per instance; beyond it 503"`

	// Rate limits beyond the per-caller quota (bootstrap/ratelimit.go).
	RateLimitBurst             int           `env:"RATE_LIMIT_BURST" envDefault:"0" cmds:"serve dev" show:"0 (the quota)" desc:"requests a caller may make at once"`
	RateLimitWrites            int           `env:"RATE_LIMIT_WRITES" envDefault:"0" cmds:"serve dev" show:"0 (off)" desc:"writes (POST, PUT, PATCH, DELETE; not POST …/check) each caller may make per window, on top of its quota"`
	RateLimitOrg               int           `env:"RATE_LIMIT_ORG" envDefault:"0" cmds:"serve dev" show:"0 (off)" desc:"requests all callers of one organization may make together per window"`
	RateLimitOrgBurst          int           `env:"RATE_LIMIT_ORG_BURST" envDefault:"0" cmds:"serve dev" show:"0 (the quota)" desc:"requests an organization may make at once"`
	RateLimitOrgWrites         int           `env:"RATE_LIMIT_ORG_WRITES" envDefault:"0" cmds:"serve dev" show:"0 (off)" desc:"writes all callers of one organization may make together per window, on top of its quota"`
	RateLimitIP                int           `env:"RATE_LIMIT_IP" envDefault:"0" cmds:"serve dev" show:"0 (off)" desc:"requests to authenticated routes per client address (IPv6: per /64) per window"`
	RateLimitIPBurst           int           `env:"RATE_LIMIT_IP_BURST" envDefault:"0" cmds:"serve dev" show:"0 (the quota)" desc:"requests a client address may make at once"`
	RateLimitAuthFailures      int           `env:"RATE_LIMIT_AUTH_FAILURES" envDefault:"600" cmds:"serve dev" desc:"failed authentications (401) per client address per minute; beyond it 429 without verifying; 0 turns it off"`
	RateLimitAuthFailuresBurst int           `env:"RATE_LIMIT_AUTH_FAILURES_BURST" envDefault:"0" cmds:"serve dev" show:"0 (the quota)" desc:"failed authentications a client address may have at once"`
	RateLimitFailClosed        bool          `env:"RATE_LIMIT_FAIL_CLOSED" envDefault:"false" cmds:"serve" desc:"while Redis cannot be reached, answer limited requests 503 instead of limiting in process"`
	RedisURL                   string        `env:"REDIS_URL" cmds:"serve" show:"off" desc:"Redis for limits shared by every instance (redis://[user:password@]host:port/db or rediss://)"`
	RedisURLFile               string        `env:"REDIS_URL_FILE" cmds:"serve" show:"none" desc:"file holding that URL (it may hold a password)"`
	RedisKeyPrefix             string        `env:"REDIS_KEY_PREFIX" envDefault:"orgstack:rl:" cmds:"serve" desc:"prefix of the limiter's Redis keys"`
	RedisTimeout               time.Duration `env:"REDIS_TIMEOUT" envDefault:"250ms" cmds:"serve" desc:"bound on each Redis call of the limiter, connecting included; beyond it the in-process fallback answers"`
	TrustedProxies             []string      `env:"TRUSTED_PROXIES" cmds:"serve dev" show:"none" desc:"CIDRs of proxies whose Forwarded / X-Forwarded-For name the client address"`

	SecretKey              string          `env:"SECRET_KEY" cmds:"serve dev" show:"none (dev derives one)" desc:"key (32 characters or more, e.g. openssl rand -base64 32) that encrypts webhook secrets at rest; without it serve refuses to create webhooks"`
	SecretKeyFile          string          `env:"SECRET_KEY_FILE" cmds:"serve dev" show:"none" desc:"file holding that key"`
	WebhookRetrySchedule   []time.Duration `env:"WEBHOOK_RETRY_SCHEDULE" envDefault:"5s,5m,30m,2h,5h,10h,10h" cmds:"serve dev" desc:"wait before each retry of a failed webhook delivery (±20% jitter); after the last the delivery is failed"`
	WebhookDisableAfter    time.Duration   `env:"WEBHOOK_DISABLE_AFTER" envDefault:"24h" cmds:"serve dev" desc:"an endpoint whose deliveries fail this long without a success is disabled (event webhook.disabled)"`
	WebhookRotationOverlap time.Duration   `env:"WEBHOOK_ROTATION_OVERLAP" envDefault:"24h" cmds:"serve dev" desc:"how long a rotated webhook secret keeps signing beside the new one"`
	WebhookPollInterval    time.Duration   `env:"WEBHOOK_POLL_INTERVAL" envDefault:"250ms" cmds:"serve dev" desc:"how often an idle webhook dispatcher looks for due deliveries"`
	WebhookWorkers         int             `env:"WEBHOOK_WORKERS" envDefault:"4" cmds:"serve dev" desc:"endpoints one instance delivers to at once"`
	WebhookLease           time.Duration   `env:"WEBHOOK_LEASE" envDefault:"60s" cmds:"serve dev" desc:"how long a dispatcher's hold on an endpoint lasts unrenewed (a crashed instance's endpoints resume after it)"`

	DevDatabaseURL string `env:"DEV_DATABASE_URL" envDefault:"sqlite:orgstack-dev.db" cmds:"dev token" desc:"database of orgstack dev"`
	DevKeyFile     string `env:"DEV_KEY_FILE" cmds:"dev token" show:"beside the dev database" desc:"signing key of the development issuer"`
}

// LoadConfig reads the configuration from the environment. A value that
// cannot be read is reported by its variable ("ORGSTACK_RATE_LIMIT: not a
// number: \"ten\""), never by a Go field or type.
func LoadConfig(environ map[string]string) (Config, error) {
	var c Config
	err := env.ParseWithOptions(&c, env.Options{Prefix: envPrefix, Environment: environ})
	if err != nil {
		return Config{}, configError(err, environ)
	}
	if err := c.readSecretFiles(); err != nil {
		return Config{}, err
	}
	return c, nil
}

// readSecretFiles fills each secret setting that has a _FILE variant from
// its file (trailing newlines removed). Setting both the variable and its
// file is an error. The introspection client secret's file is read at
// start by its module (see newIntrospector) and checked by
// validateIntrospection.
func (c *Config) readSecretFiles() error {
	secrets := []struct {
		name  string
		value *string
		file  string
	}{
		{"ORGSTACK_DATABASE_URL", &c.DatabaseURL, c.DatabaseURLFile},
		{"ORGSTACK_MIGRATE_DATABASE_URL", &c.MigrateDatabaseURL, c.MigrateDatabaseURLFile},
		{"ORGSTACK_SECRET_KEY", &c.SecretKey, c.SecretKeyFile},
	}
	var errs []error
	for _, sc := range secrets {
		if sc.file == "" {
			continue
		}
		if *sc.value != "" {
			errs = append(errs, fmt.Errorf("set only one of %s and %s_FILE", sc.name, sc.name))
			continue
		}
		b, err := os.ReadFile(sc.file)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s_FILE: %w", sc.name, err))
			continue
		}
		v := strings.TrimRight(string(b), "\r\n")
		if v == "" {
			errs = append(errs, fmt.Errorf("%s_FILE: %s is empty", sc.name, sc.file))
			continue
		}
		*sc.value = v
	}
	return errors.Join(errs...)
}

// configError rewrites the library's errors ("parse error on field
// \"RateLimit\" of type \"int\"") in terms of the variables a user sets.
func configError(err error, environ map[string]string) error {
	var errs []error
	for _, e := range unwrapAll(err) {
		var pe env.ParseError
		if !errors.As(e, &pe) {
			errs = append(errs, fmt.Errorf("configuration: %w", e))
			continue
		}
		name := pe.Name
		if s, ok := settingByField(pe.Name); ok {
			name = s.Name
		}
		errs = append(errs, fmt.Errorf("%s: %s: %q", name, expected(pe.Type), environ[name]))
	}
	return errors.Join(errs...)
}

// unwrapAll returns the errors an aggregate holds, or err alone.
func unwrapAll(err error) []error {
	if agg, ok := err.(interface{ Unwrap() []error }); ok {
		return agg.Unwrap()
	}
	return []error{err}
}

// expected says, in words, what kind of value a setting of type t takes.
func expected(t reflect.Type) string {
	switch {
	case t == reflect.TypeFor[time.Duration]():
		return "not a duration (such as 500ms, 30s, 5m or 1h)"
	case t.Kind() == reflect.Bool:
		return "not true or false"
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Uint64:
		return "not a number"
	}
	return "not a valid " + t.Kind().String()
}

// setting describes one environment variable of Config.
type setting struct {
	Name    string   // ORGSTACK_…
	Field   string   // the Go field, for error translation only
	Default string   // as shown to users; "" when there is none
	Meaning string   // desc
	Cmds    []string // the commands that read it
}

// settings lists every variable Config reads, in declaration order.
func allSettings() []setting {
	t := reflect.TypeFor[Config]()
	out := make([]setting, 0, t.NumField())
	for i := range t.NumField() {
		f := t.Field(i)
		key, _, _ := strings.Cut(f.Tag.Get("env"), ",")
		if key == "" {
			continue
		}
		def := f.Tag.Get("envDefault")
		if show, ok := f.Tag.Lookup("show"); ok {
			def = show
		}
		out = append(out, setting{
			Name: envPrefix + key, Field: f.Name, Default: def,
			Meaning: f.Tag.Get("desc"), Cmds: strings.Fields(f.Tag.Get("cmds")),
		})
	}
	return out
}

func settingByField(field string) (setting, bool) {
	for _, s := range allSettings() {
		if s.Field == field {
			return s, true
		}
	}
	return setting{}, false
}

// settingsHelp is the table of the variables cmd reads, for its --help.
func settingsHelp(cmd string) string {
	var b strings.Builder
	b.WriteString("Settings (environment variables):\n")
	w := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	for _, s := range allSettings() {
		if !slices.Contains(s.Cmds, cmd) {
			continue
		}
		def := s.Default
		if def == "" {
			def = `""`
		}
		fmt.Fprintf(w, "  %s\t%s\t%s\n", s.Name, def, s.Meaning)
	}
	_ = w.Flush()
	return b.String()
}

// validateServe checks what `orgstack serve` needs: a database named on
// purpose and a real identity provider. The development issuer is never
// enabled by serve.
func (c Config) validateServe() error {
	var errs []error
	if err := c.validateDatabaseURL(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(append(errs, c.validateIssuerVars())...)
}

// validateIssuerVars checks the issuer variables and the settings every
// command shares (the issuers file itself is read by resolveIssuers).
func (c Config) validateIssuerVars() error {
	var errs []error
	if c.ConfigFile == "" && c.OIDCIssuer == "" {
		errs = append(errs, errors.New("ORGSTACK_OIDC_ISSUER is required (the iss of accepted tokens), or ORGSTACK_CONFIG (a file of issuers)"))
	}
	if c.ConfigFile == "" && c.Audience == "" {
		errs = append(errs, errors.New("ORGSTACK_AUDIENCE is required (the aud of accepted tokens), or ORGSTACK_CONFIG (a file of issuers)"))
	}
	if c.JWKSURL != "" {
		if u, err := url.Parse(c.JWKSURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			errs = append(errs, errors.New("ORGSTACK_JWKS_URL must be an absolute http(s) URL"))
		}
	}
	if (c.PlatformAdminClaim == "") != (c.PlatformAdminValue == "") {
		errs = append(errs, errors.New("ORGSTACK_PLATFORM_ADMIN_CLAIM and ORGSTACK_PLATFORM_ADMIN_VALUE must be set together"))
	}
	if err := c.validateIntrospection(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(append(errs, c.validateCommon())...)
}

// validateDatabaseURL requires an explicit database: serve and migrate
// never fall back to a local file that a production deployment would
// silently write to.
func (c Config) validateDatabaseURL() error {
	if strings.TrimSpace(c.DatabaseURL) == "" {
		return fmt.Errorf("ORGSTACK_DATABASE_URL is required (%s); to try OrgStack locally, use the dev command, which needs no database", schemesHint())
	}
	return c.validateRuntimeRole()
}

// validateRuntimeRole: serve grants ORGSTACK_RUNTIME_DB_ROLE as the owner,
// so it needs the owner's URL; a grant through the runtime role's own
// connection would fail.
func (c Config) validateRuntimeRole() error {
	if strings.TrimSpace(c.RuntimeDBRole) != "" && strings.TrimSpace(c.MigrateDatabaseURL) == "" {
		return errors.New("ORGSTACK_RUNTIME_DB_ROLE needs ORGSTACK_MIGRATE_DATABASE_URL (the owner grants the role)")
	}
	return nil
}

// migrateURL is the URL migrations run with: ORGSTACK_MIGRATE_DATABASE_URL,
// else ORGSTACK_DATABASE_URL.
func (c Config) migrateURL() string {
	if strings.TrimSpace(c.MigrateDatabaseURL) != "" {
		return c.MigrateDatabaseURL
	}
	return c.DatabaseURL
}

func (c Config) validateCommon() error {
	var errs []error
	for _, a := range c.JWTAlgorithms {
		switch a {
		case "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA":
		default:
			errs = append(errs, fmt.Errorf("ORGSTACK_JWT_ALGORITHMS: %q is not an allowed asymmetric algorithm", a))
		}
	}
	if c.RateLimit < 0 || (c.RateLimit > 0 && c.RateLimitWindow < time.Second) {
		errs = append(errs, errors.New("ORGSTACK_RATE_LIMIT must not be negative and ORGSTACK_RATE_LIMIT_WINDOW must be at least 1s"))
	}
	if err := c.validateRateLimits(); err != nil {
		errs = append(errs, err)
	}
	if c.ShutdownDelay < 0 || c.ShutdownDelay >= c.ShutdownTimeout {
		errs = append(errs, errors.New("ORGSTACK_SHUTDOWN_DELAY must be at least 0s and shorter than ORGSTACK_SHUTDOWN_TIMEOUT"))
	}
	if c.DatabaseMaxConn < 0 {
		errs = append(errs, errors.New("ORGSTACK_DATABASE_MAX_CONNS must not be negative"))
	}
	if c.JWTLeeway < 0 || c.JWTLeeway > 5*time.Minute {
		errs = append(errs, errors.New("ORGSTACK_JWT_LEEWAY must be between 0s and 5m"))
	}
	if _, err := httpapi.NewCORS(c.CORSOrigins); err != nil {
		errs = append(errs, fmt.Errorf("ORGSTACK_CORS_ORIGINS: %w", err))
	}
	if c.MetricsAddr != "" && (c.MetricsAddr == c.HTTPAddr || c.MetricsAddr == c.DebugAddr) {
		errs = append(errs, errors.New("ORGSTACK_METRICS_ADDR must differ from ORGSTACK_HTTP_ADDR and ORGSTACK_DEBUG_ADDR"))
	}
	if err := validatePublicURL(c.PublicURL); err != nil {
		errs = append(errs, err)
	}
	if _, err := outbound.New(outbound.Config{Allow: c.OutboundAllow}); err != nil {
		errs = append(errs, fmt.Errorf("ORGSTACK_OUTBOUND_ALLOW: %w", err))
	}
	switch strings.ToLower(c.LogFormat) {
	case "json", "console":
	default:
		errs = append(errs, errors.New("ORGSTACK_LOG_FORMAT must be json or console"))
	}
	return errors.Join(errs...)
}

// validatePublicURL accepts "" (off) or an absolute https URL without
// query, fragment or user information; plain http only for a loopback host
// (development).
func validatePublicURL(raw string) error {
	if raw == "" {
		return nil
	}
	bad := errors.New("ORGSTACK_PUBLIC_URL must be an absolute https URL (http only on loopback) without query or fragment")
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.User != nil || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.Contains(raw, "#") {
		return bad
	}
	switch u.Scheme {
	case "https":
	case "http":
		host := u.Hostname()
		if ip, err := netip.ParseAddr(host); (err != nil || !ip.IsLoopback()) && host != "localhost" {
			return bad
		}
	default:
		return bad
	}
	return nil
}

// devKeyFile returns where the development issuer keeps its key: the
// configured file, or beside the development database when that is an
// SQLite file.
func (c Config) devKeyFile() string {
	if c.DevKeyFile != "" {
		return c.DevKeyFile
	}
	scheme, rest := urlScheme(c.DevDatabaseURL)
	path, _, _ := strings.Cut(strings.TrimPrefix(rest, "//"), "?")
	if scheme != "sqlite" || path == "" || path == ":memory:" {
		return "orgstack-dev.key"
	}
	return strings.TrimSuffix(path, ".db") + ".key"
}

// validateIntrospection checks the settings of the one issuer whose opaque
// tokens are introspected: all or nothing, and the client secret from a
// variable or a file, not both.
func (c Config) validateIntrospection() error {
	if c.IntrospectionURL == "" {
		if c.IntrospectionIssuer != "" || c.IntrospectionClientID != "" || c.IntrospectionClientSecret != "" || c.IntrospectionClientSecretFile != "" {
			return errors.New("ORGSTACK_INTROSPECTION_ISSUER, _CLIENT_ID and _CLIENT_SECRET[_FILE] need ORGSTACK_INTROSPECTION_URL")
		}
		return nil
	}
	var errs []error
	if u, err := url.Parse(c.IntrospectionURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		errs = append(errs, errors.New("ORGSTACK_INTROSPECTION_URL must be an absolute http(s) URL"))
	}
	if c.IntrospectionClientID == "" {
		errs = append(errs, errors.New("ORGSTACK_INTROSPECTION_CLIENT_ID is required with ORGSTACK_INTROSPECTION_URL"))
	}
	if (c.IntrospectionClientSecret == "") == (c.IntrospectionClientSecretFile == "") {
		errs = append(errs, errors.New("set exactly one of ORGSTACK_INTROSPECTION_CLIENT_SECRET and ORGSTACK_INTROSPECTION_CLIENT_SECRET_FILE"))
	}
	if c.IntrospectionCacheTTL <= 0 || c.IntrospectionCacheTTL > 5*time.Minute {
		errs = append(errs, errors.New("ORGSTACK_INTROSPECTION_CACHE_TTL must be between 1s and 5m"))
	}
	if c.IntrospectionRate <= 0 {
		errs = append(errs, errors.New("ORGSTACK_INTROSPECTION_RATE must be positive"))
	}
	if c.IntrospectionSubjectClaim == "" {
		errs = append(errs, errors.New("ORGSTACK_INTROSPECTION_SUBJECT_CLAIM must not be empty"))
	}
	return errors.Join(errs...)
}
