package bootstrap

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/caarlos0/env/v11"
)

// Config is the whole configuration, read from ORGSTACK_* environment
// variables (12-factor). Every variable is listed in README.md.
type Config struct {
	HTTPAddr        string        `env:"HTTP_ADDR" envDefault:":8080"`
	DebugAddr       string        `env:"DEBUG_ADDR"`
	DatabaseURL     string        `env:"DATABASE_URL" envDefault:"sqlite:orgstack.db"`
	AutoMigrate     bool          `env:"AUTO_MIGRATE" envDefault:"false"`
	DatabaseMaxConn int           `env:"DATABASE_MAX_CONNS" envDefault:"0"`
	ShutdownTimeout time.Duration `env:"SHUTDOWN_TIMEOUT" envDefault:"15s"`
	ShutdownDelay   time.Duration `env:"SHUTDOWN_DELAY" envDefault:"0s"`
	LogLevel        string        `env:"LOG_LEVEL" envDefault:"info"`
	LogFormat       string        `env:"LOG_FORMAT" envDefault:"json"`
	LogBuffered     bool          `env:"LOG_BUFFERED" envDefault:"true"`

	OIDCIssuer          string        `env:"OIDC_ISSUER"`
	JWKSURL             string        `env:"JWKS_URL"`
	Audience            string        `env:"AUDIENCE"`
	JWTAlgorithms       []string      `env:"JWT_ALGORITHMS" envDefault:"RS256,PS256,ES256,EdDSA"`
	JWTLeeway           time.Duration `env:"JWT_LEEWAY" envDefault:"30s"`
	JWKSRefresh         time.Duration `env:"JWKS_REFRESH_INTERVAL" envDefault:"15m"`
	OrgClaim            string        `env:"ORG_CLAIM" envDefault:"org_id"`
	PlatformAdminClaim  string        `env:"PLATFORM_ADMIN_CLAIM"`
	PlatformAdminValue  string        `env:"PLATFORM_ADMIN_VALUE"`
	RestrictOrgCreation bool          `env:"RESTRICT_ORG_CREATION" envDefault:"false"`
	RateLimit           int           `env:"RATE_LIMIT" envDefault:"0"`
	RateLimitWindow     time.Duration `env:"RATE_LIMIT_WINDOW" envDefault:"1m"`

	DevDatabaseURL string `env:"DEV_DATABASE_URL" envDefault:"sqlite:orgstack-dev.db"`
	DevKeyFile     string `env:"DEV_KEY_FILE"`
}

// LoadConfig reads the configuration from the environment.
func LoadConfig(environ map[string]string) (Config, error) {
	var c Config
	err := env.ParseWithOptions(&c, env.Options{Prefix: "ORGSTACK_", Environment: environ})
	if err != nil {
		return Config{}, fmt.Errorf("configuration: %w", err)
	}
	return c, nil
}

// validateServe checks what `orgstack serve` needs: a real identity
// provider. The development issuer is never enabled by serve.
func (c Config) validateServe() error {
	var errs []error
	if c.OIDCIssuer == "" {
		errs = append(errs, errors.New("ORGSTACK_OIDC_ISSUER is required (the iss of accepted tokens)"))
	}
	if c.Audience == "" {
		errs = append(errs, errors.New("ORGSTACK_AUDIENCE is required (the aud of accepted tokens)"))
	}
	if c.JWKSURL != "" {
		if u, err := url.Parse(c.JWKSURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			errs = append(errs, errors.New("ORGSTACK_JWKS_URL must be an absolute http(s) URL"))
		}
	}
	if (c.PlatformAdminClaim == "") != (c.PlatformAdminValue == "") {
		errs = append(errs, errors.New("ORGSTACK_PLATFORM_ADMIN_CLAIM and ORGSTACK_PLATFORM_ADMIN_VALUE must be set together"))
	}
	return errors.Join(append(errs, c.validateCommon())...)
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
	if c.ShutdownDelay < 0 || c.ShutdownDelay >= c.ShutdownTimeout {
		errs = append(errs, errors.New("ORGSTACK_SHUTDOWN_DELAY must be at least 0s and shorter than ORGSTACK_SHUTDOWN_TIMEOUT"))
	}
	if c.DatabaseMaxConn < 0 {
		errs = append(errs, errors.New("ORGSTACK_DATABASE_MAX_CONNS must not be negative"))
	}
	if c.JWTLeeway < 0 || c.JWTLeeway > 5*time.Minute {
		errs = append(errs, errors.New("ORGSTACK_JWT_LEEWAY must be between 0s and 5m"))
	}
	switch strings.ToLower(c.LogFormat) {
	case "json", "console":
	default:
		errs = append(errs, errors.New("ORGSTACK_LOG_FORMAT must be json or console"))
	}
	return errors.Join(errs...)
}

// devKeyFile returns where the development issuer keeps its key: the
// configured file, or beside the development database.
func (c Config) devKeyFile() string {
	if c.DevKeyFile != "" {
		return c.DevKeyFile
	}
	path := strings.TrimPrefix(c.DevDatabaseURL, "sqlite:")
	if i := strings.IndexByte(path, '?'); i >= 0 {
		path = path[:i]
	}
	if path == "" || path == ":memory:" || strings.Contains(c.DevDatabaseURL, "://") {
		return "orgstack-dev.key"
	}
	return strings.TrimSuffix(path, ".db") + ".key"
}
