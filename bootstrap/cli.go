// Package bootstrap is the only package that knows every piece of OrgStack:
// it reads the configuration, builds the fx modules that wire adapters to
// the application, and implements the command line (serve, dev, token,
// migrate).
package bootstrap

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"go.uber.org/fx"

	"github.com/orgstack/orgstack/adapters/devissuer"
	"github.com/orgstack/orgstack/adapters/introspection"
	"github.com/orgstack/orgstack/adapters/jwks"
	"github.com/orgstack/orgstack/adapters/outbound"
	"github.com/orgstack/orgstack/adapters/telemetry"
	"github.com/orgstack/orgstack/application"
	"github.com/orgstack/orgstack/ports"
)

// Main runs the command line with args (without the program name) and
// returns the process exit code.
func Main(args []string, stdout, stderr io.Writer) int {
	root := newRootCommand(environ(), invokedAs(os.Args[0]))
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	if err := root.Execute(); err != nil {
		fmt.Fprintln(stderr, "orgstack:", err)
		return 1
	}
	return 0
}

func environ() map[string]string {
	m := map[string]string{}
	for _, kv := range os.Environ() {
		if k, v, ok := strings.Cut(kv, "="); ok {
			m[k] = v
		}
	}
	return m
}

// invokedAs is how the user ran this program, for the commands we suggest:
// "go run ." when go run built it, else the program name as typed
// ("orgstack", "./orgstack", "/usr/local/bin/orgstack").
func invokedAs(arg0 string) string {
	if arg0 == "" {
		return "orgstack"
	}
	if builtByGoRun(arg0) {
		return "go run ."
	}
	return arg0
}

// builtByGoRun reports whether path is where go run puts the programs it
// builds: a temporary work directory (…/go-build123/b001/exe/orgstack), or
// its cache of executables (GOCACHE/7a/7a…64 hex…-d/orgstack).
func builtByGoRun(path string) bool {
	dir := filepath.Dir(path)
	parent := filepath.Base(filepath.Dir(dir))
	if filepath.Base(dir) == "exe" && strings.HasPrefix(filepath.Base(filepath.Dir(filepath.Dir(dir))), "go-build") {
		return true
	}
	hash, ok := strings.CutSuffix(filepath.Base(dir), "-d")
	if !ok || len(hash) != 64 || len(parent) != 2 || !strings.HasPrefix(hash, parent) {
		return false
	}
	for _, r := range hash {
		if !strings.ContainsRune("0123456789abcdef", r) {
			return false
		}
	}
	return true
}

// newRootCommand builds the command line; prog is how the user invokes the
// program (see invokedAs), used in the commands we suggest.
func newRootCommand(env map[string]string, prog string) *cobra.Command {
	root := &cobra.Command{
		Use:           "orgstack",
		Short:         "OrgStack: organizations, memberships, roles and permission checks over a REST API",
		Version:       versionLine(),
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetVersionTemplate("{{.Version}}\n")
	root.AddCommand(serveCommand(env), configCommand(env), devCommand(env, prog), tokenCommand(env, prog), migrateCommand(env), auditCommand(env), versionCommand())
	root.AddCommand(healthcheckCommand(env))
	return root
}

// withSettings appends to a command's help the table of the environment
// variables it reads, generated from Config's tags.
func withSettings(cmd *cobra.Command, name string) *cobra.Command {
	cmd.Long = cmd.Short + ".\n\n" + settingsHelp(name)
	return cmd
}

func serveCommand(env map[string]string) *cobra.Command {
	return withSettings(&cobra.Command{
		Use:   "serve",
		Short: "Serve the API with the configured database and identity provider",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := LoadConfig(env)
			if err != nil {
				return err
			}
			if err := c.validateServe(); err != nil {
				return err
			}
			s, err := servingSettings(c, env)
			if err != nil {
				return err
			}
			if s.Trace, err = telemetry.TraceSettingsFromEnv(env); err != nil {
				return err
			}
			log, flush, err := newLogger(c)
			if err != nil {
				return err
			}
			defer flush()
			return run(s, log)
		},
	}, "serve")
}

// configCommand groups the configuration commands.
func configCommand(env map[string]string) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Inspect the configuration",
		Args:  cobra.NoArgs,
	}
	check := withSettings(&cobra.Command{
		Use:   "check",
		Short: "Validate the issuers (ORGSTACK_CONFIG or the one-issuer variables) without starting; exits non-zero with the errors serve would give",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := LoadConfig(env)
			if err != nil {
				return err
			}
			if err := c.validateIssuerVars(); err != nil {
				return err
			}
			ic, err := resolveIssuers(c, env)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "configuration OK (%s): %d issuer(s)\n", ic.Source, len(ic.Issuers))
			for _, is := range ic.Issuers {
				keys := is.JWKSURL
				if keys == "" {
					keys = "discovery"
				}
				fmt.Fprintf(out, "  %s (keys: %s)\n", is.Issuer, keys)
			}
			if ic.Introspection != nil {
				fmt.Fprintf(out, "  introspection: %s at %s\n", ic.Introspection.Issuer, ic.Introspection.Endpoint)
			}
			return nil
		},
	}, "config")
	cmd.AddCommand(check)
	return cmd
}

func serveSettings(c Config) settings {
	return settings{
		HTTPAddr:        c.HTTPAddr,
		DebugAddr:       c.DebugAddr,
		DatabaseURL:     c.DatabaseURL,
		MigrateURL:      c.MigrateDatabaseURL,
		RuntimeDBRole:   c.RuntimeDBRole,
		AutoMigrate:     c.AutoMigrate,
		MaxConns:        c.DatabaseMaxConn,
		ShutdownTimeout: c.ShutdownTimeout,
		ShutdownDelay:   c.ShutdownDelay,
		Limits:          rateLimitSettingsOf(c),
		Auth: jwks.Config{
			JWKSURL:         c.JWKSURL,
			Issuer:          c.OIDCIssuer,
			Audience:        c.Audience,
			Algorithms:      c.JWTAlgorithms,
			Leeway:          c.JWTLeeway,
			OrgClaim:        c.OrgClaim,
			AdminClaim:      c.PlatformAdminClaim,
			AdminValue:      c.PlatformAdminValue,
			RefreshInterval: c.JWKSRefresh,
		},
		Introspection:           introspectionConfig(c),
		IntrospectionSecretFile: c.IntrospectionClientSecretFile,
		App:                     application.Config{RestrictOrgCreation: c.RestrictOrgCreation},
		PublicURL:               strings.TrimSuffix(c.PublicURL, "/"),
		Outbound:                outbound.Config{Allow: c.OutboundAllow},
		MetricsAddr:             c.MetricsAddr,
		CORSOrigins:             c.CORSOrigins,
		RequireIfMatch:          c.RequireIfMatch,
		IdempotencyTTL:          c.IdempotencyTTL,
		IdempotencySweep:        c.IdempotencySweep,
		SecretKey:               c.SecretKey,
		SecretOverlap:           c.WebhookRotationOverlap,
		Webhooks: application.DispatcherConfig{
			RetrySchedule: c.WebhookRetrySchedule, DisableAfter: c.WebhookDisableAfter,
			PollInterval: c.WebhookPollInterval, Workers: c.WebhookWorkers, Lease: c.WebhookLease,
		},
	}
}

// introspectionConfig is the introspection verifier's configuration (zero
// when ORGSTACK_INTROSPECTION_URL is unset). The issuer shares the JWT
// path's audience, leeway and claim names; its subject claim is its own.
func introspectionConfig(c Config) introspection.Config {
	if c.IntrospectionURL == "" {
		return introspection.Config{}
	}
	issuer := c.IntrospectionIssuer
	if issuer == "" {
		issuer = c.OIDCIssuer
	}
	cfg := introspection.Config{
		Endpoint: c.IntrospectionURL, Issuer: issuer, Audiences: []string{c.Audience},
		ClientID: c.IntrospectionClientID, ClientSecret: c.IntrospectionClientSecret,
		Leeway:       c.JWTLeeway,
		SubjectClaim: []string{c.IntrospectionSubjectClaim},
		OrgClaim:     []string{c.OrgClaim},
		CacheTTL:     c.IntrospectionCacheTTL,
		Rate:         float64(c.IntrospectionRate), Burst: c.IntrospectionRate,
	}
	if c.PlatformAdminClaim != "" {
		cfg.AdminClaim, cfg.AdminValue = []string{c.PlatformAdminClaim}, c.PlatformAdminValue
	}
	return cfg
}

// servingSettings is what serve runs: the settings of c with the issuers of
// ORGSTACK_CONFIG, or the one issuer of the variables.
func servingSettings(c Config, env map[string]string) (settings, error) {
	ic, err := resolveIssuers(c, env)
	if err != nil {
		return settings{}, err
	}
	s := serveSettings(c)
	s.Issuers = ic.Issuers
	// No organization's own provider may use an operator's issuer.
	s.App.OperatorIssuers = s.issuerNames()
	if ic.Introspection != nil {
		s.Introspection, s.IntrospectionSecretFile = fileIntrospection(c, ic), ""
	}
	return s, nil
}

// fileIntrospection is the introspection verifier's configuration for the
// issuer of ORGSTACK_CONFIG that uses introspection: that issuer's
// audiences, leeway and claim mappings, its endpoint and client credentials
// (the secret already read from the variable or file the file names), and
// the scalar settings (cache, rate) from the environment.
func fileIntrospection(c Config, ic IssuerConfig) introspection.Config {
	in := ic.Introspection
	cfg := introspection.Config{
		Endpoint: in.Endpoint, Issuer: in.Issuer, ClientID: in.ClientID, ClientSecret: in.ClientSecret,
		CacheTTL: c.IntrospectionCacheTTL, Rate: float64(c.IntrospectionRate), Burst: c.IntrospectionRate,
	}
	for _, is := range ic.Issuers {
		if is.Issuer != in.Issuer {
			continue
		}
		cfg.Audiences, cfg.Leeway = is.Audiences, is.Leeway
		if len(cfg.Audiences) == 0 && is.Audience != "" {
			cfg.Audiences = []string{is.Audience}
		}
		cfg.SubjectClaim, cfg.EmailClaim, cfg.NameClaim = is.SubjectPath, is.EmailPath, is.NamePath
		cfg.OrgClaim, cfg.OrgClaimOff = is.OrgPath, is.OrgClaimOff || len(is.OrgPath) == 0
		if len(is.AdminPath) > 0 {
			cfg.AdminClaim, cfg.AdminValue = is.AdminPath, is.AdminValue
		}
	}
	return cfg
}

// devSettings runs on the development database with the development issuer,
// whose JWKS this same server publishes: tokens take the normal JWKS path.
// The server's own verifier fetches that JWKS in process (devJWKSClient), so
// it has its keys before the listener opens: no failed first fetch, and
// /readyz is ready at once.
func devSettings(c Config, signer *devissuer.Signer) settings {
	s := serveSettings(c)
	s.DatabaseURL = c.DevDatabaseURL
	s.AutoMigrate = true
	s.Auth.Issuer = devissuer.Issuer
	s.App.OperatorIssuers = []string{devissuer.Issuer}
	s.Auth.Audience = devissuer.Audience
	s.Auth.JWKSURL = "http://" + loopback(c.HTTPAddr) + "/.well-known/jwks.json"
	s.Auth.AdminClaim = devissuer.AdminClaim
	s.Auth.AdminValue = devissuer.AdminValue
	s.Auth.HTTPClient = devJWKSClient(signer)
	s.Introspection, s.IntrospectionSecretFile = introspection.Config{}, "" // serve only
	if s.SecretKey == "" {
		// dev works without set-up: the webhook secret key is derived from
		// the development signing key (said so in the log at start).
		s.SecretKey, s.SecretKeyDerived = signer.DerivedSecret("orgstack-dev-webhook-secret-key"), true
	}
	return s
}

// loopback turns a listen address into one a local client can dial.
func loopback(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}

func devCommand(env map[string]string, prog string) *cobra.Command {
	var db, key string
	cmd := &cobra.Command{
		Use:   "dev",
		Short: "Run locally on an embedded SQLite database with a development token issuer",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := LoadConfig(env)
			if err != nil {
				return err
			}
			if db != "" {
				c.DevDatabaseURL = "sqlite:" + db
			}
			if key != "" {
				c.DevKeyFile = key
			}
			if c.LogFormat == "json" && env["ORGSTACK_LOG_FORMAT"] == "" {
				c.LogFormat = "console"
			}
			if env["ORGSTACK_LOG_BUFFERED"] == "" {
				c.LogBuffered = false // a developer watches the log as it happens
			}
			if err := c.validateCommon(); err != nil {
				return err
			}
			issuer, err := devissuer.LoadOrCreate(c.devKeyFile())
			if err != nil {
				return fmt.Errorf("development issuer: %w", err)
			}
			token, err := issuer.Mint(devissuer.TokenRequest{
				Subject: "dev-user", Email: "dev@example.com", Name: "Dev User", TTL: 24 * time.Hour,
			}, time.Now())
			if err != nil {
				return err
			}
			log, flush, err := newLogger(c)
			if err != nil {
				return err
			}
			defer flush()
			s := devSettings(c, issuer)
			if s.Trace, err = telemetry.TraceSettingsFromEnv(env); err != nil {
				return err
			}
			printDevBanner(cmd.OutOrStdout(), prog, s, c.devKeyFile(), token)
			return run(s, log, fx.Supply(issuer))
		},
	}
	withSettings(cmd, "dev")
	cmd.Flags().StringVar(&db, "db", "", "SQLite database file (default orgstack-dev.db, or ORGSTACK_DEV_DATABASE_URL)")
	cmd.Flags().StringVar(&key, "key", "", "development signing key file (default beside the database, or ORGSTACK_DEV_KEY_FILE)")
	return cmd
}

func printDevBanner(w io.Writer, prog string, s settings, keyFile, token string) {
	base := "http://" + loopback(s.HTTPAddr)
	fmt.Fprintf(w, `OrgStack development server
  database:  %s
  issuer:    %s (key %s, JWKS at %s/.well-known/jwks.json)
  audience:  %s

A token for subject "dev-user", valid 24h (more with: %s token --sub alice):

export TOKEN=%s

curl -s -X POST %s/api/v1/organizations \
  -H "Authorization: Bearer $TOKEN" -H "Content-Type: application/json" \
  -d '{"slug":"acme","name":"Acme Corp"}'
curl -s %s/api/v1/organizations -H "Authorization: Bearer $TOKEN"

`, s.DatabaseURL, devissuer.Issuer, keyFile, base, devissuer.Audience, prog, token, base, base)
}

func tokenCommand(env map[string]string, prog string) *cobra.Command {
	var req devissuer.TokenRequest
	var key string
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Print a JWT signed by the development issuer (works without the server running)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if strings.TrimSpace(req.Subject) == "" {
				return errors.New("--sub is required")
			}
			c, err := LoadConfig(env)
			if err != nil {
				return err
			}
			if key != "" {
				c.DevKeyFile = key
			}
			// Never invent a key here: a token signed by a key the dev server
			// does not publish would be refused with no hint why.
			issuer, err := devissuer.Load(c.devKeyFile())
			if errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("no development signing key at %s: run `%s dev` first (it creates the key), or point --key or ORGSTACK_DEV_KEY_FILE at the key of a running dev server",
					c.devKeyFile(), prog)
			}
			if err != nil {
				return fmt.Errorf("development issuer: %w", err)
			}
			if req.TTL <= 0 {
				return errors.New("--ttl must be positive")
			}
			token, err := issuer.Mint(req, time.Now())
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), token)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&req.Subject, "sub", "", "subject (required)")
	f.StringVar(&req.Org, "org", "", "bind the token to this organization (ID or slug)")
	f.StringVar(&req.Email, "email", "", "email claim")
	f.StringVar(&req.Name, "name", "", "name claim")
	f.BoolVar(&req.Admin, "admin", false, "mark the caller as a platform administrator")
	f.DurationVar(&req.TTL, "ttl", time.Hour, "lifetime")
	f.StringVar(&key, "key", "", "development signing key file (default beside the development database, or ORGSTACK_DEV_KEY_FILE)")
	return withSettings(cmd, "token")
}

func migrateCommand(env map[string]string) *cobra.Command {
	cmd := withSettings(&cobra.Command{
		Use:   "migrate",
		Short: "Apply, roll back or show database migrations (ORGSTACK_MIGRATE_DATABASE_URL, else ORGSTACK_DATABASE_URL)",
	}, "migrate")
	withStore := func(fn func(ctx context.Context, m ports.Migrator, out io.Writer) error) func(*cobra.Command, []string) error {
		return func(cmd *cobra.Command, _ []string) error {
			c, err := LoadConfig(env)
			if err != nil {
				return err
			}
			if strings.TrimSpace(c.MigrateDatabaseURL) == "" {
				// Without an owner URL, migrations run with the service's.
				if err := c.validateDatabaseURL(); err != nil {
					return err
				}
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), 5*time.Minute)
			defer cancel()
			s, err := openStore(ctx, c.migrateURL(), settings{})
			if err != nil {
				return err
			}
			defer func() { _ = s.Close() }()
			m, err := migratorOf(s, c.migrateURL())
			if err != nil {
				return err
			}
			if err := fn(ctx, m, cmd.OutOrStdout()); err != nil {
				return err
			}
			if cmd.Name() != "up" || strings.TrimSpace(c.RuntimeDBRole) == "" {
				return nil
			}
			if err := grantRuntime(ctx, s, c.RuntimeDBRole); err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), "granted the service's privileges to", c.RuntimeDBRole)
			return nil
		}
	}
	cmd.AddCommand(
		&cobra.Command{
			Use: "up", Short: "Apply every pending migration", Args: cobra.NoArgs,
			RunE: withStore(func(ctx context.Context, m ports.Migrator, out io.Writer) error {
				applied, err := m.MigrateUp(ctx)
				if err != nil {
					return err
				}
				if len(applied) == 0 {
					fmt.Fprintln(out, "the schema is up to date")
				}
				for _, m := range applied {
					fmt.Fprintln(out, "applied", m)
				}
				return nil
			}),
		},
		&cobra.Command{
			Use: "down", Short: "Roll back the last group of migrations", Args: cobra.NoArgs,
			RunE: withStore(func(ctx context.Context, m ports.Migrator, out io.Writer) error {
				rolled, err := m.MigrateDown(ctx)
				if err != nil {
					return err
				}
				if len(rolled) == 0 {
					fmt.Fprintln(out, "nothing to roll back")
				}
				for _, m := range rolled {
					fmt.Fprintln(out, "rolled back", m)
				}
				return nil
			}),
		},
		&cobra.Command{
			Use: "status", Short: "List applied and pending migrations", Args: cobra.NoArgs,
			RunE: withStore(func(ctx context.Context, m ports.Migrator, out io.Writer) error {
				applied, pending, err := m.MigrationStatus(ctx)
				if err != nil {
					return err
				}
				for _, m := range applied {
					fmt.Fprintln(out, "applied ", m)
				}
				for _, m := range pending {
					fmt.Fprintln(out, "pending ", m)
				}
				return nil
			}),
		},
	)
	return cmd
}
