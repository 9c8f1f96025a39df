package storetest

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/orgstack/orgstack/domain"
	"github.com/orgstack/orgstack/ports"
)

// providerSpec is a complete configuration: every field set, dotted and
// nested claim paths, a role mapping.
func providerSpec(issuer string, audiences ...string) domain.IdentityProviderSpec {
	return domain.IdentityProviderSpec{
		Issuer: issuer, JWKSURL: issuer + "/keys", Audiences: audiences,
		Algorithms: []string{"RS256", "ES256"}, Leeway: 45 * time.Second, RequiredTyp: "at+jwt",
		MaxTokenAge:    time.Hour,
		RequiredClaims: []domain.RequiredClaim{{Claim: domain.ClaimPath{"tid"}, Value: "t-1"}},
		Claims: domain.ClaimMappings{
			Subject: domain.ClaimPath{"sub"}, Email: domain.ClaimPath{"https://example.com/email"},
			Name: domain.ClaimPath{"profile", "name"},
		},
		JIT: domain.JITMembership{
			Enabled: true, RoleClaim: domain.ClaimPath{"realm_access", "roles"},
			RoleMapping: map[string][]domain.RoleKey{"admins": {"admin", "billing"}, "devs": {"member"}},
			DefaultRole: "member",
		},
	}
}

func (f *fixture) provider(o *domain.Organization, spec domain.IdentityProviderSpec) *domain.IdentityProvider {
	f.t.Helper()
	p, err := domain.NewIdentityProvider(o.ID(), spec, f.now())
	must(f.t, err)
	must(f.t, f.s.IdentityProviders().Create(f.ctx, p))
	return p
}

func sameProvider(t *testing.T, got, want *domain.IdentityProvider) {
	t.Helper()
	if got.OrgID() != want.OrgID() || got.Version() != want.Version() || !reflect.DeepEqual(got.Spec(), want.Spec()) {
		t.Errorf("provider: got %s v%d %+v, want %s v%d %+v", got.OrgID(), got.Version(), got.Spec(), want.OrgID(), want.Version(), want.Spec())
	}
	wantTime(t, "created_at", got.CreatedAt(), want.CreatedAt())
	wantTime(t, "updated_at", got.UpdatedAt(), want.UpdatedAt())
}

// changes lists the changes after since as "org:deleted|saved@vN".
func changes(t *testing.T, f *fixture, since int64) ([]ports.IdentityProviderChange, int64) {
	t.Helper()
	out, cur, err := f.s.IdentityProviders().ListChangedSince(f.ctx, since)
	must(t, err)
	return out, cur
}

var identityProviderTests = []contract{
	{"CreateGet", func(t *testing.T, f *fixture) {
		o := f.org("acme", "Acme")
		want := f.provider(o, providerSpec("https://idp.example.com/a", "orgstack", "api"))
		got, err := f.s.IdentityProviders().Get(f.ctx, o.ID())
		must(t, err)
		sameProvider(t, got, want)
		_, err = f.s.IdentityProviders().Get(f.ctx, f.org("other", "Other").ID())
		wantErr(t, err, domain.ErrNotFound)
	}},
	{"CreateTwiceOrMissingOrg", func(t *testing.T, f *fixture) {
		o := f.org("acme", "Acme")
		f.provider(o, providerSpec("https://idp.example.com/a", "x"))
		p, err := domain.NewIdentityProvider(o.ID(), providerSpec("https://idp.example.com/b", "y"), f.now())
		must(t, err)
		wantErr(t, f.s.IdentityProviders().Create(f.ctx, p), domain.ErrVersionMismatch)
		p, err = domain.NewIdentityProvider("00000000-0000-7000-8000-999999999999", providerSpec("https://idp.example.com/c", "z"), f.now())
		must(t, err)
		wantErr(t, f.s.IdentityProviders().Create(f.ctx, p), domain.ErrNotFound)
	}},
	{"IssuerAudienceUniqueAcrossOrganizations", func(t *testing.T, f *fixture) {
		a, b := f.org("alpha", "Alpha"), f.org("beta", "Beta")
		f.provider(a, providerSpec("https://idp.example.com/shared", "one", "two"))
		p, err := domain.NewIdentityProvider(b.ID(), providerSpec("https://idp.example.com/shared", "three", "two"), f.now())
		must(t, err)
		wantErr(t, f.s.IdentityProviders().Create(f.ctx, p), domain.ErrIdentityProviderConflict)
		_, err = f.s.IdentityProviders().Get(f.ctx, b.ID())
		wantErr(t, err, domain.ErrNotFound) // nothing half-stored
		// Another audience of the same issuer is allowed by the store.
		p, err = domain.NewIdentityProvider(b.ID(), providerSpec("https://idp.example.com/shared", "three"), f.now())
		must(t, err)
		must(t, f.s.IdentityProviders().Create(f.ctx, p))
		ids, err := f.s.IdentityProviders().OrgIDsByIssuer(f.ctx, "https://idp.example.com/shared")
		must(t, err)
		wantStrings(t, "orgs by issuer", ids, sortedStrings(a.ID(), b.ID()))
		ids, err = f.s.IdentityProviders().OrgIDsByIssuer(f.ctx, "https://idp.example.com/SHARED")
		must(t, err)
		wantStrings(t, "orgs by other-case issuer", ids, []string{})
		// Replacing b's audience by a's is a conflict too; its own audiences
		// may be kept on replace.
		q, err := f.s.IdentityProviders().Get(f.ctx, b.ID())
		must(t, err)
		must(t, q.Replace(providerSpec("https://idp.example.com/shared", "three", "one"), f.now()))
		wantErr(t, f.s.IdentityProviders().Update(f.ctx, q, 1), domain.ErrIdentityProviderConflict)
		q, err = f.s.IdentityProviders().Get(f.ctx, b.ID())
		must(t, err)
		must(t, q.Replace(providerSpec("https://idp.example.com/shared", "three", "four"), f.now()))
		must(t, f.s.IdentityProviders().Update(f.ctx, q, 1))
	}},
	{"UpdateVersionAndDelete", func(t *testing.T, f *fixture) {
		o := f.org("acme", "Acme")
		p := f.provider(o, providerSpec("https://idp.example.com/a", "x"))
		must(t, p.Replace(providerSpec("https://idp.example.com/b", "y"), f.now()))
		wantErr(t, f.s.IdentityProviders().Update(f.ctx, p, 7), domain.ErrVersionMismatch)
		must(t, f.s.IdentityProviders().Update(f.ctx, p, 1))
		got, err := f.s.IdentityProviders().Get(f.ctx, o.ID())
		must(t, err)
		sameProvider(t, got, p)
		// The old issuer's audience is free again.
		f.provider(f.org("other", "Other"), providerSpec("https://idp.example.com/a", "x"))
		must(t, f.s.IdentityProviders().Delete(f.ctx, o.ID()))
		wantErr(t, f.s.IdentityProviders().Delete(f.ctx, o.ID()), domain.ErrNotFound)
		_, err = f.s.IdentityProviders().Get(f.ctx, o.ID())
		wantErr(t, err, domain.ErrNotFound)
		wantErr(t, f.s.IdentityProviders().Update(f.ctx, p, 2), domain.ErrNotFound)
		// Its audience is free again.
		f.provider(f.org("third", "Third"), providerSpec("https://idp.example.com/b", "y"))
	}},
	{"GetForUpdateInTx", func(t *testing.T, f *fixture) {
		o := f.org("acme", "Acme")
		want := f.provider(o, providerSpec("https://idp.example.com/a", "x"))
		must(t, f.s.RunInTx(f.ctx, func(ctx context.Context, r ports.Repositories) error {
			got, err := r.IdentityProviders().GetForUpdate(ctx, o.ID())
			if err == nil {
				sameProvider(t, got, want)
			}
			return err
		}))
	}},
	{"ChangeVersions", func(t *testing.T, f *fixture) {
		got, cur := changes(t, f, 0)
		if len(got) != 0 || cur != 0 {
			t.Fatalf("empty store: %v, %d", got, cur)
		}
		a, b := f.org("alpha", "Alpha"), f.org("beta", "Beta")
		pa := f.provider(a, providerSpec("https://idp.example.com/a", "x"))
		f.provider(b, providerSpec("https://idp.example.com/b", "x"))
		got, v1 := changes(t, f, 0)
		if len(got) != 2 || got[0].OrgID != a.ID() || got[1].OrgID != b.ID() || got[0].Provider == nil || v1 != got[1].ChangeVersion || got[0].ChangeVersion >= got[1].ChangeVersion {
			t.Fatalf("after two creates: %+v, %d", got, v1)
		}
		sameProvider(t, got[0].Provider, pa)
		if got, v := changes(t, f, v1); len(got) != 0 || v != v1 {
			t.Fatalf("nothing changed: %+v, %d", got, v)
		}
		must(t, pa.Replace(providerSpec("https://idp.example.com/a2", "x"), f.now()))
		must(t, f.s.IdentityProviders().Update(f.ctx, pa, 1))
		got, v2 := changes(t, f, v1)
		if len(got) != 1 || got[0].OrgID != a.ID() || got[0].Provider.Issuer() != "https://idp.example.com/a2" || v2 <= v1 {
			t.Fatalf("after update: %+v, %d", got, v2)
		}
		must(t, f.s.IdentityProviders().Delete(f.ctx, a.ID()))
		must(t, f.s.Organizations().Delete(f.ctx, b.ID()))
		got, v3 := changes(t, f, v2)
		if len(got) != 2 || got[0].OrgID != a.ID() || got[0].Provider != nil || got[1].OrgID != b.ID() || got[1].Provider != nil || v3 <= v2 {
			t.Fatalf("after deletes: %+v, %d", got, v3)
		}
		// Deleting the organization deleted its provider and audiences.
		_, err := f.s.IdentityProviders().Get(f.ctx, b.ID())
		wantErr(t, err, domain.ErrNotFound)
		f.provider(f.org("gamma", "Gamma"), providerSpec("https://idp.example.com/b", "x"))
		// An organization without a provider records no change when deleted.
		_, v4 := changes(t, f, 0)
		must(t, f.s.Organizations().Delete(f.ctx, f.org("delta", "Delta").ID()))
		if _, v5 := changes(t, f, 0); v5 != v4 {
			t.Errorf("deleting an organization without a provider changed the version: %d -> %d", v4, v5)
		}
	}},
	{"FailedWriteTakesNoVersion", func(t *testing.T, f *fixture) {
		a, b := f.org("alpha", "Alpha"), f.org("beta", "Beta")
		f.provider(a, providerSpec("https://idp.example.com/a", "x"))
		_, v := changes(t, f, 0)
		p, err := domain.NewIdentityProvider(b.ID(), providerSpec("https://idp.example.com/a", "x"), f.now())
		must(t, err)
		wantErr(t, f.s.IdentityProviders().Create(f.ctx, p), domain.ErrIdentityProviderConflict)
		if got, v2 := changes(t, f, v); len(got) != 0 || v2 != v {
			t.Errorf("a refused create is a change: %+v, %d", got, v2)
		}
	}},
}

func sortedStrings(v ...string) []string {
	out := append([]string(nil), v...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}
