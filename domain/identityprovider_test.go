package domain_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/orgstack/orgstack/domain"
)

func validSpec() domain.IdentityProviderSpec {
	return domain.IdentityProviderSpec{
		Issuer:     "https://idp.example.com/realms/acme",
		Discovery:  true,
		Audiences:  []string{"orgstack"},
		Algorithms: []string{"RS256"},
		Leeway:     30 * time.Second,
		Claims:     domain.ClaimMappings{Subject: domain.ClaimPath{"sub"}, Email: domain.ClaimPath{"https://example.com/email"}},
		JIT: domain.JITMembership{
			Enabled: true, RoleClaim: domain.ClaimPath{"realm_access", "roles"},
			RoleMapping: map[string][]domain.RoleKey{"admins": {"admin"}, "a.b/c": {"billing"}},
			DefaultRole: "member",
		},
	}
}

func TestNewIdentityProviderValid(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 4, 0, 0, 0, 0, time.UTC)
	spec := validSpec()
	p, err := domain.NewIdentityProvider("org-1", spec, now)
	if err != nil {
		t.Fatal(err)
	}
	if p.Version() != 1 || p.OrgID() != "org-1" || p.Issuer() != spec.Issuer {
		t.Errorf("provider = %v version %d", p, p.Version())
	}
	// The stored spec is a copy: changing the input does not change it.
	spec.Audiences[0] = "changed"
	spec.JIT.RoleMapping["admins"][0] = "owner"
	if got := p.Spec(); got.Audiences[0] != "orgstack" || got.JIT.RoleMapping["admins"][0] != "admin" {
		t.Errorf("spec shares memory with the input: %+v", got)
	}
	if got, want := p.MappedRoles(), []domain.RoleKey{"admin", "billing", "member"}; !slices.Equal(got, want) {
		t.Errorf("MappedRoles() = %v, want %v", got, want)
	}
	// A dotted key is one claim name, never split.
	if got := p.Spec().Claims.Email; len(got) != 1 || got[0] != "https://example.com/email" {
		t.Errorf("email path = %v", got)
	}
}

// TestIdentityProviderHTTPURLsAreSyntax: plain http passes the model's
// rules; whether it is allowed is the outbound policy's decision (the
// operator's allow-list), taken by the application.
func TestIdentityProviderHTTPURLsAreSyntax(t *testing.T) {
	t.Parallel()
	s := validSpec()
	s.Issuer, s.Discovery, s.JWKSURL = "http://127.0.0.1:8080/idp", false, "http://127.0.0.1:8080/idp/keys"
	if err := s.Validate(); err != nil {
		t.Fatalf("http URLs: %v", err)
	}
}

func TestIdentityProviderRules(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		change func(*domain.IdentityProviderSpec)
		want   []string
	}{
		{"ftp issuer", func(s *domain.IdentityProviderSpec) { s.Issuer = "ftp://idp.example.com" }, []string{"issuer"}},
		{"relative issuer", func(s *domain.IdentityProviderSpec) { s.Issuer = "/realms/acme" }, []string{"issuer"}},
		{"issuer with user info", func(s *domain.IdentityProviderSpec) { s.Issuer = "https://u:p@idp.example.com" }, []string{"issuer"}},
		{"issuer with fragment", func(s *domain.IdentityProviderSpec) { s.Issuer = "https://idp.example.com#x" }, []string{"issuer"}},
		{"issuer with control character", func(s *domain.IdentityProviderSpec) { s.Issuer = "https://idp.example.com/\n" }, []string{"issuer"}},
		{"ws jwks", func(s *domain.IdentityProviderSpec) { s.Discovery = false; s.JWKSURL = "wss://idp.example.com/keys" }, []string{"jwks_url"}},
		{"jwks and discovery", func(s *domain.IdentityProviderSpec) { s.JWKSURL = "https://idp.example.com/keys" }, []string{"jwks_url"}},
		{"neither jwks nor discovery", func(s *domain.IdentityProviderSpec) { s.Discovery = false }, []string{"jwks_url"}},
		{"no audience", func(s *domain.IdentityProviderSpec) { s.Audiences = nil }, []string{"audiences"}},
		{"duplicate audience", func(s *domain.IdentityProviderSpec) { s.Audiences = []string{"a", "a"} }, []string{"audiences/1"}},
		{"symmetric algorithm", func(s *domain.IdentityProviderSpec) { s.Algorithms = []string{"RS256", "HS256"} }, []string{"algorithms/1"}},
		{"none algorithm", func(s *domain.IdentityProviderSpec) { s.Algorithms = []string{"none"} }, []string{"algorithms/0"}},
		{"no algorithm", func(s *domain.IdentityProviderSpec) { s.Algorithms = nil }, []string{"algorithms"}},
		{"leeway over 5 minutes", func(s *domain.IdentityProviderSpec) { s.Leeway = 301 * time.Second }, []string{"leeway_seconds"}},
		{"negative token age", func(s *domain.IdentityProviderSpec) { s.MaxTokenAge = -time.Second }, []string{"max_token_age_seconds"}},
		{"typ with control character", func(s *domain.IdentityProviderSpec) { s.RequiredTyp = "at+jwt\x00" }, []string{"required_typ"}},
		{"required claim without path", func(s *domain.IdentityProviderSpec) {
			s.RequiredClaims = []domain.RequiredClaim{{Claim: nil, Value: "x"}}
		}, []string{"required_claims/0/claim"}},
		{"required claim without value", func(s *domain.IdentityProviderSpec) {
			s.RequiredClaims = []domain.RequiredClaim{{Claim: domain.ClaimPath{"tid"}, Value: ""}}
		}, []string{"required_claims/0/value"}},
		{"empty key in a path", func(s *domain.IdentityProviderSpec) { s.Claims.Name = domain.ClaimPath{"profile", ""} }, []string{"claims/name/1"}},
		{"empty path", func(s *domain.IdentityProviderSpec) { s.Claims.Subject = domain.ClaimPath{} }, []string{"claims/subject"}},
		{"owner mapped", func(s *domain.IdentityProviderSpec) {
			s.JIT.RoleMapping["root"] = []domain.RoleKey{"admin", "owner"}
		}, []string{"jit/role_mapping/root/1"}},
		{"owner as default", func(s *domain.IdentityProviderSpec) { s.JIT.DefaultRole = "owner" }, []string{"jit/default_role"}},
		{"bad role key", func(s *domain.IdentityProviderSpec) { s.JIT.RoleMapping["x"] = []domain.RoleKey{"A B"} }, []string{"jit/role_mapping/x/0"}},
		{"value with no roles", func(s *domain.IdentityProviderSpec) { s.JIT.RoleMapping["x"] = nil }, []string{"jit/role_mapping/x"}},
		{"empty role claim", func(s *domain.IdentityProviderSpec) { s.JIT.RoleClaim = domain.ClaimPath{} }, []string{"jit/role_claim"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := validSpec()
			tt.change(&s)
			_, err := domain.NewIdentityProvider("org-1", s, time.Now())
			if got := fieldsOf(t, err); !slices.Equal(got, tt.want) {
				t.Errorf("fields = %v, want %v (%v)", got, tt.want, err)
			}
		})
	}
}

func TestIdentityProviderLimits(t *testing.T) {
	t.Parallel()
	s := validSpec()
	s.Leeway = domain.MaxProviderLeeway
	s.MaxTokenAge = time.Hour
	s.RequiredTyp = "at+jwt"
	s.Algorithms = slices.Clone(domain.AsymmetricAlgorithms)
	s.JWKSURL, s.Discovery = "https://idp.example.com/keys?v=1", false
	if _, err := domain.NewIdentityProvider("o", s, time.Now()); err != nil {
		t.Fatalf("limits refused: %v", err)
	}
	s.Issuer = "https://" + strings.Repeat("a", domain.MaxProviderURL)
	if _, err := domain.NewIdentityProvider("o", s, time.Now()); err == nil {
		t.Fatal("an overlong issuer was accepted")
	}
}

func TestIdentityProviderReplace(t *testing.T) {
	t.Parallel()
	p, err := domain.NewIdentityProvider("org-1", validSpec(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	bad := validSpec()
	bad.Issuer = "ftp://x"
	if err := p.Replace(bad, time.Now()); err == nil || p.Version() != 1 || p.Issuer() != validSpec().Issuer {
		t.Fatalf("invalid Replace: err %v, version %d, issuer %s", err, p.Version(), p.Issuer())
	}
	good := validSpec()
	good.Audiences = []string{"other"}
	if err := p.Replace(good, time.Now()); err != nil || p.Version() != 2 || p.Audiences()[0] != "other" {
		t.Fatalf("Replace: err %v, version %d", err, p.Version())
	}
}

func TestJITRolesFor(t *testing.T) {
	t.Parallel()
	j := validSpec().JIT
	j.RoleMapping["devs"] = []domain.RoleKey{"billing", "admin"}
	tests := []struct {
		values []string
		want   []domain.RoleKey
	}{
		{[]string{"admins"}, []domain.RoleKey{"admin"}},
		{[]string{"admins", "devs"}, []domain.RoleKey{"admin", "billing"}},
		{[]string{"nobody"}, []domain.RoleKey{"member"}},
		{nil, []domain.RoleKey{"member"}},
	}
	for _, tt := range tests {
		if got := j.RolesFor(tt.values); !slices.Equal(got, tt.want) {
			t.Errorf("RolesFor(%v) = %v, want %v", tt.values, got, tt.want)
		}
	}
	j.DefaultRole = ""
	if got := j.RolesFor([]string{"nobody"}); len(got) != 0 {
		t.Errorf("no default: RolesFor = %v", got)
	}
}
