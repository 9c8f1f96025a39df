package domain

import (
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Limits of an identity provider's configuration.
const (
	MaxProviderAudiences   = 10
	MaxProviderURL         = 2048 // bytes
	MaxClaimPathKeys       = 8
	MaxClaimKey            = 200 // characters
	MaxRequiredClaims      = 10
	MaxRoleMappingEntries  = 100
	MaxRoleMappingValue    = 200 // characters
	MaxRolesPerMappedValue = 10
	MaxProviderLeeway      = 5 * time.Minute
	MaxProviderTokenAge    = 7 * 24 * time.Hour
	MaxRequiredTyp         = 100
)

// AsymmetricAlgorithms are the JWS algorithms a provider may allow: only
// asymmetric ones, since a shared secret would have to be stored here.
var AsymmetricAlgorithms = []string{
	"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA",
}

// ClaimPath names one claim of a token as a list of keys: the first key is a
// top-level claim, each further key walks into the object found so far.
// ["realm_access", "roles"] is the roles member of the realm_access object;
// ["https://example.com/org"] is one claim whose name holds dots and
// slashes. A key is never split at dots.
type ClaimPath []string

// String writes the path as a JSON-like list, for messages.
func (c ClaimPath) String() string {
	q := make([]string, len(c))
	for i, k := range c {
		q[i] = strconv.Quote(k)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// Lookup returns the value at c in a token's claims, and whether it is
// present. The empty path names nothing.
func (c ClaimPath) Lookup(claims map[string]any) (any, bool) {
	if len(c) == 0 {
		return nil, false
	}
	var cur any = claims
	for _, k := range c {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = m[k]; !ok {
			return nil, false
		}
	}
	return cur, true
}

// ClaimHasValue reports whether a claim carries want: a string equal to it,
// true when want is "true", or an array of strings containing it.
func ClaimHasValue(claim any, want string) bool {
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

// validKeyText reports whether v is 1 to max characters of key text.
func validKeyText(v string, max int) bool {
	n := utf8.RuneCountInString(v)
	return IsKeyText(v) && n >= 1 && n <= max
}

func validateClaimPath(c ClaimPath) error {
	if len(c) < 1 || len(c) > MaxClaimPathKeys {
		return Invalid("", "must be a list of 1 to %d keys", MaxClaimPathKeys)
	}
	var fe fieldErrors
	for i, k := range c {
		if !validKeyText(k, MaxClaimKey) {
			fe.add(strconv.Itoa(i), Invalid("", "must be 1 to %d characters of key text", MaxClaimKey))
		}
	}
	return fe.err()
}

// RequiredClaim is a claim a token must carry with exactly Value (for a
// shared issuer: Google's hd, Entra's tid). A claim holding a list matches
// when one of its elements is Value.
type RequiredClaim struct {
	Claim ClaimPath
	Value string
}

// ClaimMappings say where a token carries the subject, e-mail address and
// name of its user. Empty paths take the standard claims sub, email, name.
type ClaimMappings struct {
	Subject ClaimPath
	Email   ClaimPath
	Name    ClaimPath
}

// JITMembership is just-in-time membership: a token of the provider makes
// its user a member on first use, and RoleMapping keeps the mapped roles in
// step with the values of RoleClaim on every use.
type JITMembership struct {
	Enabled bool
	// RoleClaim holds the values mapped to roles (for example groups). When
	// it is not set no value is read, and every member gets DefaultRole.
	// The mapping applies only while Enabled.
	RoleClaim ClaimPath
	// RoleMapping maps one claim value to the role keys it gives.
	RoleMapping map[string][]RoleKey
	// DefaultRole is given when no value of the claim is mapped ("" for
	// none).
	DefaultRole RoleKey
}

// IdentityProviderSpec is an organization's provider configuration as the
// organization sets it. Whatever it is not given cannot be set: an
// organization's provider has no platform-administrator mapping, no
// organization claim (its tokens are bound to the organization) and no
// token introspection.
type IdentityProviderSpec struct {
	Issuer         string
	JWKSURL        string // the key set's URL; "" with Discovery
	Discovery      bool   // find the key set through OIDC discovery of Issuer
	Audiences      []string
	Algorithms     []string
	Leeway         time.Duration
	RequiredTyp    string        // "" for none; e.g. "at+jwt" (RFC 9068)
	MaxTokenAge    time.Duration // 0 for none; measured from iat
	RequiredClaims []RequiredClaim
	Claims         ClaimMappings
	JIT            JITMembership
}

func cloneSpec(s IdentityProviderSpec) IdentityProviderSpec {
	s.Audiences = slices.Clone(s.Audiences)
	s.Algorithms = slices.Clone(s.Algorithms)
	rc := make([]RequiredClaim, len(s.RequiredClaims))
	for i, c := range s.RequiredClaims {
		rc[i] = RequiredClaim{Claim: slices.Clone(c.Claim), Value: c.Value}
	}
	s.RequiredClaims = rc
	s.Claims = ClaimMappings{Subject: slices.Clone(s.Claims.Subject), Email: slices.Clone(s.Claims.Email), Name: slices.Clone(s.Claims.Name)}
	s.JIT.RoleClaim = slices.Clone(s.JIT.RoleClaim)
	m := make(map[string][]RoleKey, len(s.JIT.RoleMapping))
	for k, v := range s.JIT.RoleMapping {
		m[k] = slices.Clone(v)
	}
	s.JIT.RoleMapping = m
	return s
}

// validateTenantURL checks a URL an organization supplies: absolute http or
// https, a host, no user information and no fragment, key text of at most
// MaxProviderURL bytes. Whether plain http is allowed (only for host:port
// pairs the operator allows) and which addresses it may reach are the
// outbound policy's rules (ports.URLPolicy), not the model's.
func validateTenantURL(v string, query bool) error {
	if !IsKeyText(v) || len(v) < 1 || len(v) > MaxProviderURL {
		return Invalid("", "must be 1 to %d bytes of text without control characters", MaxProviderURL)
	}
	u, err := url.Parse(v)
	switch {
	case err != nil || !u.IsAbs():
		return Invalid("", "must be an absolute URL")
	case u.Scheme != "https" && u.Scheme != "http":
		return Invalid("", "must be an https URL")
	case u.Host == "" || u.Hostname() == "":
		return Invalid("", "must name a host")
	case u.User != nil:
		return Invalid("", "must not contain user information")
	case u.Fragment != "" || strings.Contains(v, "#"):
		return Invalid("", "must not contain a fragment")
	case !query && u.RawQuery != "":
		return Invalid("", "must not contain a query")
	}
	return nil
}

// Validate checks every rule of the configuration and returns a
// *ValidationError naming each broken one with its field path
// ("audiences/0", "jit/role_mapping/admins/1", ...).
func (s IdentityProviderSpec) Validate() error {
	var fe fieldErrors
	fe.add("issuer", validateTenantURL(s.Issuer, false))
	switch {
	case s.Discovery && s.JWKSURL != "":
		fe.add("jwks_url", Invalid("", "give either jwks_url or discovery, not both"))
	case !s.Discovery && s.JWKSURL == "":
		fe.add("jwks_url", Invalid("", "give jwks_url or set discovery"))
	case s.JWKSURL != "":
		fe.add("jwks_url", validateTenantURL(s.JWKSURL, true))
	}
	if len(s.Audiences) < 1 || len(s.Audiences) > MaxProviderAudiences {
		fe.add("audiences", Invalid("", "must list 1 to %d audiences", MaxProviderAudiences))
	}
	for i, a := range s.Audiences {
		f := "audiences/" + strconv.Itoa(i)
		if err := ValidateIdentifier(a); err != nil {
			fe.add(f, err)
		} else if slices.Index(s.Audiences, a) < i {
			fe.add(f, Invalid("", "is listed twice"))
		}
	}
	if len(s.Algorithms) < 1 {
		fe.add("algorithms", Invalid("", "must list at least one algorithm"))
	}
	for i, a := range s.Algorithms {
		f := "algorithms/" + strconv.Itoa(i)
		if !slices.Contains(AsymmetricAlgorithms, a) {
			fe.add(f, Invalid("", "must be one of %s (asymmetric algorithms only)", strings.Join(AsymmetricAlgorithms, ", ")))
		} else if slices.Index(s.Algorithms, a) < i {
			fe.add(f, Invalid("", "is listed twice"))
		}
	}
	if s.Leeway < 0 || s.Leeway > MaxProviderLeeway || s.Leeway%time.Second != 0 {
		fe.add("leeway_seconds", Invalid("", "must be 0 to %d seconds", int(MaxProviderLeeway/time.Second)))
	}
	if s.MaxTokenAge < 0 || s.MaxTokenAge > MaxProviderTokenAge || s.MaxTokenAge%time.Second != 0 {
		fe.add("max_token_age_seconds", Invalid("", "must be 0 (none) to %d seconds", int(MaxProviderTokenAge/time.Second)))
	}
	fe.add("required_typ", validateOptionalKeyText(s.RequiredTyp, MaxRequiredTyp))
	if len(s.RequiredClaims) > MaxRequiredClaims {
		fe.add("required_claims", Invalid("", "must list at most %d claims", MaxRequiredClaims))
	}
	for i, c := range s.RequiredClaims {
		f := "required_claims/" + strconv.Itoa(i)
		fe.add(f+"/claim", validateClaimPath(c.Claim))
		if err := ValidateIdentifier(c.Value); err != nil {
			fe.add(f+"/value", err)
		}
	}
	for _, m := range []struct {
		f string
		p ClaimPath
	}{{"claims/subject", s.Claims.Subject}, {"claims/email", s.Claims.Email}, {"claims/name", s.Claims.Name}} {
		if m.p != nil {
			fe.add(m.f, validateClaimPath(m.p))
		}
	}
	fe.add("jit", s.JIT.validate())
	return fe.err()
}

func (j JITMembership) validate() error {
	var fe fieldErrors
	if j.RoleClaim != nil {
		fe.add("role_claim", validateClaimPath(j.RoleClaim))
	}
	if len(j.RoleMapping) > MaxRoleMappingEntries {
		fe.add("role_mapping", Invalid("", "must have at most %d entries", MaxRoleMappingEntries))
	}
	for _, v := range slices.Sorted(maps.Keys(j.RoleMapping)) {
		f := "role_mapping/" + pointerToken(v)
		if !validKeyText(v, MaxRoleMappingValue) {
			fe.add(f, Invalid("", "claim value must be 1 to %d characters of key text", MaxRoleMappingValue))
		}
		roles := j.RoleMapping[v]
		if len(roles) < 1 || len(roles) > MaxRolesPerMappedValue {
			fe.add(f, Invalid("", "must list 1 to %d role keys", MaxRolesPerMappedValue))
		}
		for i, k := range roles {
			fe.add(f+"/"+strconv.Itoa(i), validateMappedRole(k))
		}
	}
	if j.DefaultRole != "" {
		fe.add("default_role", validateMappedRole(j.DefaultRole))
	}
	return fe.err()
}

// validateMappedRole checks a role key a provider may hand out: any role
// but owner. Ownership is never granted or taken by a token's claims.
func validateMappedRole(k RoleKey) error {
	if _, err := ParseRoleKey(string(k)); err != nil {
		return err
	}
	if k == RoleOwner {
		return Invalid("", "owner is never granted by an identity provider")
	}
	return nil
}

// IdentityProvider is an organization's own identity provider: tokens it
// signs are accepted for that organization alone. There is at most one per
// organization, identified by the organization's ID; its version grows by
// one with every change, for If-Match.
type IdentityProvider struct {
	orgID     string
	spec      IdentityProviderSpec
	createdAt time.Time
	updatedAt time.Time
	version   int64
}

// NewIdentityProvider creates an organization's provider at version 1. It
// returns a *ValidationError naming every invalid field.
func NewIdentityProvider(orgID string, spec IdentityProviderSpec, now time.Time) (*IdentityProvider, error) {
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	return &IdentityProvider{orgID: orgID, spec: cloneSpec(spec), createdAt: now, updatedAt: now, version: 1}, nil
}

// UnmarshalIdentityProviderFromDatabase rebuilds a provider from storage,
// skipping the rules. For storage adapters only.
func UnmarshalIdentityProviderFromDatabase(orgID string, spec IdentityProviderSpec, createdAt, updatedAt time.Time, version int64) *IdentityProvider {
	return &IdentityProvider{orgID: orgID, spec: cloneSpec(spec), createdAt: createdAt, updatedAt: updatedAt, version: version}
}

// Replace validates spec and, when valid, makes it the configuration and
// increments the version. It changes nothing when spec is invalid.
func (p *IdentityProvider) Replace(spec IdentityProviderSpec, now time.Time) error {
	if err := spec.Validate(); err != nil {
		return err
	}
	p.spec = cloneSpec(spec)
	p.updatedAt = now
	p.version++
	return nil
}

// OrgID returns the organization the provider belongs to.
func (p *IdentityProvider) OrgID() string { return p.orgID }

// Spec returns a copy of the configuration.
func (p *IdentityProvider) Spec() IdentityProviderSpec { return cloneSpec(p.spec) }

// Issuer returns the issuer URL.
func (p *IdentityProvider) Issuer() string { return p.spec.Issuer }

// Audiences returns the accepted audiences.
func (p *IdentityProvider) Audiences() []string { return slices.Clone(p.spec.Audiences) }

// MappedRoles returns every role key the provider hands out (the mapping's
// and the default role), each once, sorted.
func (p *IdentityProvider) MappedRoles() []RoleKey { return p.spec.JIT.MappedRoles() }

// MappedRoles returns every role key the mapping and the default role name,
// each once, sorted.
func (j JITMembership) MappedRoles() []RoleKey {
	var out []RoleKey
	for _, rs := range j.RoleMapping {
		out = append(out, rs...)
	}
	if j.DefaultRole != "" {
		out = append(out, j.DefaultRole)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// RolesFor returns the roles the values of the role claim give: the
// mapped roles of every value, or the default role when no value is
// mapped (none when there is no default). Sorted, each once.
func (j JITMembership) RolesFor(values []string) []RoleKey {
	var out []RoleKey
	for _, v := range values {
		out = append(out, j.RoleMapping[v]...)
	}
	if len(out) == 0 && j.DefaultRole != "" {
		out = append(out, j.DefaultRole)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// CreatedAt returns the creation time.
func (p *IdentityProvider) CreatedAt() time.Time { return p.createdAt }

// UpdatedAt returns the time of the last change.
func (p *IdentityProvider) UpdatedAt() time.Time { return p.updatedAt }

// Version returns the version number, which changes on every update.
func (p *IdentityProvider) Version() int64 { return p.version }

// String describes the provider for logs.
func (p *IdentityProvider) String() string {
	return fmt.Sprintf("identity provider of %s (%s)", p.orgID, p.spec.Issuer)
}
