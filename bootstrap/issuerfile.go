package bootstrap

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v4"

	"github.com/orgstack/orgstack/adapters/jwks"
)

// maxLeeway is the largest clock skew an issuer may allow.
const maxLeeway = 5 * time.Minute

// perIssuerVars are the variables of the one-issuer configuration; none may
// be set together with ORGSTACK_CONFIG.
var perIssuerVars = []string{
	"ORGSTACK_OIDC_ISSUER", "ORGSTACK_JWKS_URL", "ORGSTACK_AUDIENCE", "ORGSTACK_JWT_ALGORITHMS",
	"ORGSTACK_JWT_LEEWAY", "ORGSTACK_ORG_CLAIM", "ORGSTACK_PLATFORM_ADMIN_CLAIM", "ORGSTACK_PLATFORM_ADMIN_VALUE",
	"ORGSTACK_INTROSPECTION_URL", "ORGSTACK_INTROSPECTION_ISSUER", "ORGSTACK_INTROSPECTION_CLIENT_ID",
	"ORGSTACK_INTROSPECTION_CLIENT_SECRET", "ORGSTACK_INTROSPECTION_CLIENT_SECRET_FILE", "ORGSTACK_INTROSPECTION_SUBJECT_CLAIM",
}

// Introspection is an issuer's OAuth 2.0 Token Introspection (RFC 7662)
// endpoint and client credentials, for the verifier of opaque tokens. The
// secret is read from the variable or file the configuration names.
type Introspection struct {
	Issuer       string
	Endpoint     string
	ClientID     string
	ClientSecret string
}

// IssuerConfig is what the issuers' configuration resolves to.
type IssuerConfig struct {
	Issuers       []jwks.Config
	Introspection *Introspection // at most one issuer's; nil when none
	Source        string         // the file, or "environment"
}

// resolveIssuers returns the trusted issuers: from the file ORGSTACK_CONFIG
// names, or else the one issuer of the ORGSTACK_OIDC_ISSUER… variables.
// Setting both is an error naming both.
func resolveIssuers(c Config, environ map[string]string) (IssuerConfig, error) {
	if c.ConfigFile == "" {
		if c.OIDCIssuer == "" || c.Audience == "" {
			return IssuerConfig{}, errors.New("no issuer configured: set ORGSTACK_CONFIG (a file of issuers) or ORGSTACK_OIDC_ISSUER and ORGSTACK_AUDIENCE")
		}
		return IssuerConfig{Source: "environment", Issuers: []jwks.Config{{
			JWKSURL: c.JWKSURL, Issuer: c.OIDCIssuer, Audience: c.Audience, Algorithms: c.JWTAlgorithms,
			Leeway: c.JWTLeeway, OrgClaim: c.OrgClaim, AdminClaim: c.PlatformAdminClaim,
			AdminValue: c.PlatformAdminValue, RefreshInterval: c.JWKSRefresh,
		}}}, nil
	}
	var both []error
	for _, name := range perIssuerVars {
		if _, set := environ[name]; set {
			both = append(both, fmt.Errorf("ORGSTACK_CONFIG and %s are both set: configure issuers in the file only, or unset ORGSTACK_CONFIG", name))
		}
	}
	if len(both) > 0 {
		return IssuerConfig{}, errors.Join(both...)
	}
	raw, err := os.ReadFile(c.ConfigFile)
	if err != nil {
		return IssuerConfig{}, fmt.Errorf("ORGSTACK_CONFIG: %w", err)
	}
	ic, err := parseIssuerFile(filepath.Base(c.ConfigFile), raw, environ)
	if err != nil {
		return IssuerConfig{}, err
	}
	for i := range ic.Issuers {
		ic.Issuers[i].RefreshInterval = c.JWKSRefresh
	}
	ic.Source = c.ConfigFile
	return ic, nil
}

// fileParser walks the YAML nodes of an issuers file, collecting errors
// that name the file, line and key.
type fileParser struct {
	file    string
	environ map[string]string
	errs    []error
}

func (p *fileParser) errorf(n *yaml.Node, key, format string, args ...any) {
	p.errs = append(p.errs, fmt.Errorf("%s:%d: %s: %s", p.file, n.Line, key, fmt.Sprintf(format, args...)))
}

// parseIssuerFile reads an issuers file (YAML; JSON is YAML too). Unknown
// keys, inline secrets and invalid values are errors naming their line.
func parseIssuerFile(file string, raw []byte, environ map[string]string) (IssuerConfig, error) {
	p := &fileParser{file: file, environ: environ}
	var doc yaml.Node
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return IssuerConfig{}, fmt.Errorf("%s: %w", file, err)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return IssuerConfig{}, fmt.Errorf("%s: must be a mapping with an issuers list", file)
	}
	var ic IssuerConfig
	p.fields(doc.Content[0], "", map[string]func(*yaml.Node, string){
		"issuers": func(n *yaml.Node, key string) {
			if n.Kind != yaml.SequenceNode || len(n.Content) == 0 {
				p.errorf(n, key, "must be a non-empty list of issuers")
				return
			}
			seen := map[string]int{}
			for i, item := range n.Content {
				k := fmt.Sprintf("issuers[%d]", i)
				cfg, intro := p.issuer(item, k)
				if cfg.Issuer != "" {
					if first, dup := seen[cfg.Issuer]; dup {
						p.errorf(item, k, "issuer %q is already configured by issuers[%d]", cfg.Issuer, first)
					}
					seen[cfg.Issuer] = i
				}
				if intro != nil {
					if ic.Introspection != nil {
						p.errorf(item, k+".introspection", "at most one issuer may use introspection (issuer %q already does)", ic.Introspection.Issuer)
					}
					ic.Introspection = intro
				}
				ic.Issuers = append(ic.Issuers, cfg)
			}
		},
	}, "issuers")
	if len(p.errs) > 0 {
		return IssuerConfig{}, errors.Join(p.errs...)
	}
	return ic, nil
}

// fields calls each key's handler, refusing unknown keys, inline secrets,
// duplicates, and missing required keys.
func (p *fileParser) fields(n *yaml.Node, prefix string, handlers map[string]func(*yaml.Node, string), required ...string) {
	name := func(k string) string {
		if prefix == "" {
			return k
		}
		return prefix + "." + k
	}
	if n.Kind != yaml.MappingNode {
		p.errorf(n, strings.TrimSuffix(prefix, "."), "must be a mapping")
		return
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		kn, vn := n.Content[i], n.Content[i+1]
		k := kn.Value
		h, ok := handlers[k]
		switch {
		case seen[k]:
			p.errorf(kn, name(k), "set twice")
		case !ok && isSecretKey(k):
			p.errorf(kn, name(k), "secrets are never written inline: use %s_env (a variable) or %s_file (a file)", k, k)
		case !ok:
			known := make([]string, 0, len(handlers))
			for h := range handlers {
				known = append(known, h)
			}
			slices.Sort(known)
			p.errorf(kn, name(k), "unknown key (known: %s)", strings.Join(known, ", "))
		default:
			h(vn, name(k))
		}
		seen[k] = true
	}
	for _, r := range required {
		if !seen[r] {
			p.errorf(n, name(r), "is required")
		}
	}
}

// isSecretKey reports whether a key names a secret written inline.
func isSecretKey(k string) bool {
	k = strings.ToLower(k)
	for _, s := range []string{"secret", "password", "private_key", "token"} {
		if strings.HasSuffix(k, s) {
			return true
		}
	}
	return false
}

func (p *fileParser) str(n *yaml.Node, key string) string {
	if n.Kind != yaml.ScalarNode || n.Tag != "!!str" || n.Value == "" {
		p.errorf(n, key, "must be a non-empty string")
		return ""
	}
	return n.Value
}

func (p *fileParser) strs(n *yaml.Node, key string) []string {
	if n.Kind != yaml.SequenceNode || len(n.Content) == 0 {
		p.errorf(n, key, "must be a non-empty list of strings")
		return nil
	}
	out := make([]string, 0, len(n.Content))
	for i, e := range n.Content {
		out = append(out, p.str(e, fmt.Sprintf("%s[%d]", key, i)))
	}
	return out
}

// path reads a claim path: a list of keys walking nested objects. A plain
// string is refused, so that a dotted name is never mistaken for a path.
func (p *fileParser) path(n *yaml.Node, key string) jwks.ClaimPath {
	if n.Kind == yaml.ScalarNode {
		p.errorf(n, key, "must be a list of keys, such as [realm_access, roles] or [\"https://example.com/org\"] (a dotted string is not split)")
		return nil
	}
	return jwks.ClaimPath(p.strs(n, key))
}

func (p *fileParser) url(n *yaml.Node, key string) string {
	s := p.str(n, key)
	if s == "" {
		return ""
	}
	if u, err := url.Parse(s); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		p.errorf(n, key, "must be an absolute http(s) URL")
	}
	return s
}

func (p *fileParser) duration(n *yaml.Node, key string, lo, hi time.Duration) time.Duration {
	s := p.str(n, key)
	if s == "" {
		return 0
	}
	d, err := time.ParseDuration(s)
	switch {
	case err != nil:
		p.errorf(n, key, "not a duration (such as 30s or 5m)")
	case d < lo:
		p.errorf(n, key, "at least %s", lo)
	case hi > 0 && d > hi:
		p.errorf(n, key, "at most %s", shortDuration(hi))
	}
	return d
}

// shortDuration prints 5m rather than 5m0s.
func shortDuration(d time.Duration) string {
	s := d.String()
	s = strings.TrimSuffix(s, "0s")
	return strings.TrimSuffix(s, "0m")
}

// asymmetric are the algorithms an issuer may allow.
var asymmetric = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}

// issuer reads one entry of issuers.
func (p *fileParser) issuer(n *yaml.Node, key string) (jwks.Config, *Introspection) {
	var cfg jwks.Config
	var intro *Introspection
	cfg.OrgClaimOff = true // off unless set for this issuer
	p.fields(n, key, map[string]func(*yaml.Node, string){
		"issuer":   func(v *yaml.Node, k string) { cfg.Issuer = p.url(v, k) },
		"jwks_url": func(v *yaml.Node, k string) { cfg.JWKSURL = p.url(v, k) },
		"audiences": func(v *yaml.Node, k string) {
			cfg.Audiences = p.strs(v, k)
		},
		"algorithms": func(v *yaml.Node, k string) {
			cfg.Algorithms = p.strs(v, k)
			for i, a := range cfg.Algorithms {
				if a != "" && !slices.Contains(asymmetric, a) {
					p.errorf(v.Content[i], fmt.Sprintf("%s[%d]", k, i), "%q is not allowed (asymmetric algorithms only: %s)", a, strings.Join(asymmetric, ", "))
				}
			}
		},
		"leeway":        func(v *yaml.Node, k string) { cfg.Leeway = p.duration(v, k, 0, maxLeeway) },
		"required_type": func(v *yaml.Node, k string) { cfg.RequiredType = p.str(v, k) },
		"max_token_age": func(v *yaml.Node, k string) { cfg.MaxAge = p.duration(v, k, time.Second, 0) },
		"required_claims": func(v *yaml.Node, k string) {
			if v.Kind != yaml.SequenceNode || len(v.Content) == 0 {
				p.errorf(v, k, "must be a non-empty list of {claim, value}")
				return
			}
			for i, e := range v.Content {
				var cv jwks.ClaimValue
				ek := fmt.Sprintf("%s[%d]", k, i)
				p.fields(e, ek, map[string]func(*yaml.Node, string){
					"claim": func(v *yaml.Node, k string) { cv.Path = p.path(v, k) },
					"value": func(v *yaml.Node, k string) { cv.Value = p.str(v, k) },
				}, "claim", "value")
				cfg.RequiredClaims = append(cfg.RequiredClaims, cv)
			}
		},
		"claims": func(v *yaml.Node, k string) {
			p.fields(v, k, map[string]func(*yaml.Node, string){
				"subject": func(v *yaml.Node, k string) { cfg.SubjectPath = p.path(v, k) },
				"email":   func(v *yaml.Node, k string) { cfg.EmailPath = p.path(v, k) },
				"name":    func(v *yaml.Node, k string) { cfg.NamePath = p.path(v, k) },
				"organization": func(v *yaml.Node, k string) {
					cfg.OrgPath, cfg.OrgClaimOff = p.path(v, k), false
				},
				"platform_admin": func(v *yaml.Node, k string) {
					p.fields(v, k, map[string]func(*yaml.Node, string){
						"claim": func(v *yaml.Node, k string) { cfg.AdminPath = p.path(v, k) },
						"value": func(v *yaml.Node, k string) { cfg.AdminValue = p.str(v, k) },
					}, "claim", "value")
				},
			})
		},
		"introspection": func(v *yaml.Node, k string) {
			intro = &Introspection{}
			var secretEnv, secretFile string
			var secretNode *yaml.Node
			p.fields(v, k, map[string]func(*yaml.Node, string){
				"endpoint":  func(v *yaml.Node, k string) { intro.Endpoint = p.url(v, k) },
				"client_id": func(v *yaml.Node, k string) { intro.ClientID = p.str(v, k) },
				"client_secret_env": func(v *yaml.Node, k string) {
					secretEnv, secretNode = p.str(v, k), v
					if secretEnv != "" {
						s, ok := p.environ[secretEnv]
						if !ok || s == "" {
							p.errorf(v, k, "variable %s is not set", secretEnv)
						}
						intro.ClientSecret = s
					}
				},
				"client_secret_file": func(v *yaml.Node, k string) {
					secretFile, secretNode = p.str(v, k), v
					if secretFile != "" {
						b, err := os.ReadFile(secretFile)
						if err != nil {
							p.errorf(v, k, "cannot read the secret file: %v", errors.Unwrap(err))
						}
						intro.ClientSecret = strings.TrimRight(string(b), "\r\n")
					}
				},
			}, "endpoint", "client_id")
			switch {
			case secretEnv != "" && secretFile != "":
				p.errorf(secretNode, k, "set client_secret_env or client_secret_file, not both")
			case secretEnv == "" && secretFile == "":
				p.errorf(v, k, "client_secret_env or client_secret_file is required")
			}
		},
	}, "issuer", "audiences")
	if len(cfg.AdminPath) == 0 && cfg.AdminValue != "" {
		cfg.AdminValue = ""
	}
	if intro != nil {
		intro.Issuer = cfg.Issuer
	}
	return cfg, intro
}
