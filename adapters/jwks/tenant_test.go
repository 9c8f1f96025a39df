package jwks

import (
	"reflect"
	"testing"
	"time"

	"github.com/orgstack/orgstack/domain"
)

func TestTenantConfig(t *testing.T) {
	base := domain.IdentityProviderSpec{
		Issuer: "https://idp.acme.example", Discovery: true,
		Audiences: []string{"orgstack"}, Algorithms: []string{"RS256"},
	}
	with := func(f func(*domain.IdentityProviderSpec)) domain.IdentityProviderSpec {
		s := base
		s.Audiences = append([]string(nil), base.Audiences...)
		f(&s)
		return s
	}
	want := func(f func(*Config)) Config {
		c := Config{Issuer: "https://idp.acme.example", Audiences: []string{"orgstack"}, Algorithms: []string{"RS256"},
			ProviderOrgID: "org-1", OrgClaimOff: true}
		f(&c)
		return c
	}
	cases := []struct {
		name string
		spec domain.IdentityProviderSpec
		want Config
	}{
		{"discovery leaves the key set URL to discovery", base, want(func(*Config) {})},
		{"jwks_url", with(func(s *domain.IdentityProviderSpec) { s.Discovery, s.JWKSURL = false, "https://idp.acme.example/keys" }),
			want(func(c *Config) { c.JWKSURL = "https://idp.acme.example/keys" })},
		{"policy", with(func(s *domain.IdentityProviderSpec) {
			s.Audiences = []string{"a", "b"}
			s.Algorithms = []string{"ES256", "PS256"}
			s.Leeway, s.MaxTokenAge, s.RequiredTyp = 10*time.Second, time.Hour, "at+jwt"
		}), want(func(c *Config) {
			c.Audiences, c.Algorithms = []string{"a", "b"}, []string{"ES256", "PS256"}
			c.Leeway, c.MaxAge, c.RequiredType = 10*time.Second, time.Hour, "at+jwt"
		})},
		{"required claims", with(func(s *domain.IdentityProviderSpec) {
			s.RequiredClaims = []domain.RequiredClaim{{Claim: domain.ClaimPath{"tid"}, Value: "t-1"}, {Claim: domain.ClaimPath{"ext", "hd"}, Value: "acme.example"}}
		}), want(func(c *Config) {
			c.RequiredClaims = []ClaimValue{{Path: ClaimPath{"tid"}, Value: "t-1"}, {Path: ClaimPath{"ext", "hd"}, Value: "acme.example"}}
		})},
		{"claim mappings", with(func(s *domain.IdentityProviderSpec) {
			s.Claims = domain.ClaimMappings{Subject: domain.ClaimPath{"oid"}, Email: domain.ClaimPath{"upn"}, Name: domain.ClaimPath{"profile", "display name"}}
		}), want(func(c *Config) {
			c.SubjectPath, c.EmailPath, c.NamePath = ClaimPath{"oid"}, ClaimPath{"upn"}, ClaimPath{"profile", "display name"}
		})},
		{"role claim read while JIT is on", with(func(s *domain.IdentityProviderSpec) {
			s.JIT = domain.JITMembership{Enabled: true, RoleClaim: domain.ClaimPath{"realm_access", "roles"}}
		}), want(func(c *Config) { c.RoleClaim = ClaimPath{"realm_access", "roles"} })},
		{"role claim not read while JIT is off", with(func(s *domain.IdentityProviderSpec) {
			s.JIT = domain.JITMembership{Enabled: false, RoleClaim: domain.ClaimPath{"groups"}}
		}), want(func(*Config) {})},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.spec.Validate(); err != nil {
				t.Fatalf("spec: %v", err)
			}
			got := TenantConfig("org-1", tc.spec)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("TenantConfig:\n got %+v\nwant %+v", got, tc.want)
			}
			full, err := withDefaults(got)
			if err != nil {
				t.Fatalf("withDefaults: %v", err)
			}
			if !full.OrgClaimOff || full.AdminPath != nil || full.ProviderOrgID != "org-1" {
				t.Errorf("a tenant issuer reads no organization or admin claim: %+v", full)
			}
		})
	}
}
