package application_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/orgstack/orgstack/application"
	"github.com/orgstack/orgstack/domain"
	"github.com/orgstack/orgstack/ports"
)

func TestScopeResolution(t *testing.T) {
	t.Parallel()
	e := newEnv(t, application.Config{})
	alice, bob, carol, dave := principal("alice"), principal("bob"), principal("carol"), principal("dave")
	acme := e.createOrg(t, alice, "acme")
	other := e.createOrg(t, principal("eve"), "other")
	e.addMember(t, acme, bob, "member")
	carolID := e.addMember(t, acme, carol, "admin")
	e.setStatus(t, acme, carolID, "suspended")
	e.userID(t, dave)
	const missingID = "01950000-0000-7000-8000-000000000000"

	tests := []struct {
		name string
		give ports.Principal
		ref  string
		want error
	}{
		{"unbound by ID", alice, acme.ID(), nil},
		{"unbound by slug", alice, "acme", nil},
		{"unbound by upper-case ID", alice, strings.ToUpper(acme.ID()), nil},
		{"unbound without path", alice, "", ports.ErrOrgContextRequired},
		{"bound by ID, no path", bound(alice, acme.ID()), "", nil},
		{"bound by slug, no path", bound(alice, "acme"), "", nil},
		{"bound by ID, same ID", bound(alice, acme.ID()), acme.ID(), nil},
		{"bound by slug, path ID", bound(alice, "acme"), acme.ID(), nil},
		{"bound by ID, path slug", bound(alice, acme.ID()), "acme", nil},
		{"bound by ID, other ID", bound(alice, acme.ID()), other.ID(), domain.ErrOrganizationMismatch},
		{"bound by slug, other slug", bound(alice, "acme"), "other", domain.ErrOrganizationMismatch},
		{"bound by ID, other slug", bound(alice, acme.ID()), "other", domain.ErrOrganizationMismatch},
		{"bound by slug, other ID", bound(alice, "acme"), other.ID(), domain.ErrOrganizationMismatch},
		{"bound by slug, missing ID", bound(alice, "acme"), missingID, domain.ErrOrganizationMismatch},
		{"bound by slug, missing slug", bound(alice, "acme"), "nowhere", domain.ErrOrganizationMismatch},
		{"bound to missing org", bound(alice, "nowhere"), "", domain.ErrNotFound},
		{"member", bob, acme.ID(), nil},
		{"member bound", bound(bob, "acme"), "", nil},
		{"non-member", dave, acme.ID(), domain.ErrNotFound},
		{"non-member by slug", dave, "acme", domain.ErrNotFound},
		{"member of another org", alice, other.ID(), domain.ErrNotFound},
		{"missing organization", alice, missingID, domain.ErrNotFound},
		{"suspended member", carol, acme.ID(), domain.ErrNotFound},
		{"platform admin", platformAdmin(), acme.ID(), nil},
		{"platform admin by slug", platformAdmin(), "other", nil},
		{"platform admin bound elsewhere", bound(platformAdmin(), "other"), "acme", domain.ErrOrganizationMismatch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := e.app.Organizations.Get(context.Background(), tt.give, domain.ParseOrgRef(tt.ref))
			checkErr(t, err, tt.want)
			if tt.want == nil && o.ID() != acme.ID() && o.ID() != other.ID() {
				t.Fatalf("got organization %s, want acme or other", o.ID())
			}
		})
	}
}

func TestUserCreatedOnFirstUseOnly(t *testing.T) {
	t.Parallel()
	e := newEnv(t, application.Config{})
	ctx := context.Background()
	p := principal("frank")

	// A call that reaches the store creates the user, even when the answer is 404.
	_, err := e.app.Organizations.Get(ctx, p, domain.ParseOrgRef("nowhere"))
	checkErr(t, err, domain.ErrNotFound)
	u, err := e.store.Users().GetByIdentity(ctx, issuer, "frank")
	if err != nil {
		t.Fatalf("user not created on first use: %v", err)
	}
	created := u.UpdatedAt()

	e.clock.Advance(time.Hour)
	prof, err := e.app.Me.Me(ctx, p)
	checkErr(t, err, nil)
	if prof.User.ID() != u.ID() || !prof.User.UpdatedAt().Equal(created) {
		t.Fatalf("got user %s updated %v, want %s updated %v (no write)", prof.User.ID(), prof.User.UpdatedAt(), u.ID(), created)
	}
	stored, err := e.store.Users().Get(ctx, u.ID())
	checkErr(t, err, nil)
	if !stored.UpdatedAt().Equal(created) {
		t.Fatalf("stored user updated at %v, want %v", stored.UpdatedAt(), created)
	}

	e.clock.Advance(time.Hour)
	p.Email = "frank@new.example.test"
	if _, err := e.app.Organizations.List(ctx, p, ports.OrganizationQuery{}); err != nil {
		t.Fatal(err)
	}
	stored, err = e.store.Users().Get(ctx, u.ID())
	checkErr(t, err, nil)
	if stored.Email() != p.Email || !stored.UpdatedAt().Equal(e.clock.Now()) {
		t.Fatalf("got email %q updated %v, want %q updated %v", stored.Email(), stored.UpdatedAt(), p.Email, e.clock.Now())
	}
}

func TestOrganizationCreate(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tests := []struct {
		name     string
		cfg      application.Config
		give     ports.Principal
		slug     string
		want     error
		wantSlug string // validation error field
	}{
		{name: "anyone", give: principal("a"), slug: "anyone"},
		{name: "restricted, user", cfg: application.Config{RestrictOrgCreation: true}, give: principal("a"), slug: "restricted", want: domain.ErrPlatformAdminRequired},
		{name: "restricted, platform admin", cfg: application.Config{RestrictOrgCreation: true}, give: platformAdmin(), slug: "restricted"},
		{name: "bound token", give: bound(principal("a"), "x-org"), slug: "bound", want: domain.ErrOrganizationMismatch},
		{name: "invalid slug", give: principal("a"), slug: "Bad Slug", wantSlug: "slug"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, tt.cfg)
			o, err := e.app.Organizations.Create(ctx, tt.give, ports.CreateOrganization{Slug: tt.slug, Name: "N"})
			if tt.wantSlug != "" {
				checkInvalid(t, err, tt.wantSlug)
				return
			}
			checkErr(t, err, tt.want)
			if tt.want != nil {
				return
			}
			prof, err := e.app.Me.Me(ctx, tt.give)
			checkErr(t, err, nil)
			if len(prof.Memberships) != 1 || prof.Memberships[0].OrgID != o.ID() || !slices.Equal(prof.Memberships[0].Roles, []domain.RoleKey{domain.RoleOwner}) {
				t.Fatalf("got memberships %+v, want owner of %s", prof.Memberships, o.ID())
			}
		})
	}

	t.Run("duplicate slug", func(t *testing.T) {
		e := newEnv(t, application.Config{})
		e.createOrg(t, principal("a"), "taken")
		_, err := e.app.Organizations.Create(ctx, principal("b"), ports.CreateOrganization{Slug: "taken", Name: "N"})
		checkErr(t, err, domain.ErrSlugTaken)
		// The failed transaction left no membership behind.
		prof, err := e.app.Me.Me(ctx, principal("b"))
		checkErr(t, err, nil)
		if len(prof.Memberships) != 0 {
			t.Fatalf("got memberships %+v, want none", prof.Memberships)
		}
	})
}

func TestOrganizationList(t *testing.T) {
	t.Parallel()
	e := newEnv(t, application.Config{})
	ctx := context.Background()
	alice, bob := principal("alice"), principal("bob")
	a1 := e.createOrg(t, alice, "alpha")
	e.createOrg(t, alice, "beta")
	g := e.createOrg(t, bob, "gamma")
	e.addMember(t, g, alice, "member")
	carolID := e.addMember(t, g, principal("carol"), "member")
	e.setStatus(t, g, carolID, "suspended")

	tests := []struct {
		name string
		give ports.Principal
		want []string
	}{
		{"member of three", alice, []string{"alpha", "beta", "gamma"}},
		{"member of one", bob, []string{"gamma"}},
		{"suspended member sees nothing", principal("carol"), nil},
		{"bound by slug", bound(alice, "beta"), []string{"beta"}},
		{"bound by ID", bound(alice, a1.ID()), []string{"alpha"}},
		{"bound to an org the caller is not in", bound(bob, "alpha"), nil},
		{"bound to unknown org", bound(alice, "nowhere"), nil},
		{"platform admin", platformAdmin(), []string{"alpha", "beta", "gamma"}},
		{"stranger", principal("zed"), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			page, err := e.app.Organizations.List(ctx, tt.give, ports.OrganizationQuery{PageRequest: ports.PageRequest{Sort: []ports.SortField{{Field: "slug"}}}})
			checkErr(t, err, nil)
			var got []string
			for _, o := range page.Items {
				got = append(got, string(o.Slug()))
			}
			if !slices.Equal(got, tt.want) || page.Total != len(tt.want) {
				t.Fatalf("got %v (total %d), want %v", got, page.Total, tt.want)
			}
		})
	}
}

func TestOrganizationUpdate(t *testing.T) {
	t.Parallel()
	e := newEnv(t, application.Config{})
	ctx := context.Background()
	alice, bob, carol := principal("alice"), principal("bob"), principal("carol")
	o := e.createOrg(t, alice, "acme")
	e.addMember(t, o, bob, "member")
	e.addMember(t, o, carol, "admin")

	got, err := e.app.Organizations.Update(ctx, alice, domain.ParseOrgRef(o.ID()), domain.OrganizationChanges{}, 0)
	checkErr(t, err, nil)
	if got.Version() != 1 {
		t.Fatalf("empty change: got version %d, want 1", got.Version())
	}
	_, err = e.app.Organizations.Update(ctx, bob, domain.ParseOrgRef(o.ID()), domain.OrganizationChanges{Name: strp("X")}, 0)
	checkErr(t, err, domain.ErrForbidden)
	// Permission is decided before the input is validated.
	_, err = e.app.Organizations.Update(ctx, bob, domain.ParseOrgRef(o.ID()), domain.OrganizationChanges{Name: strp("")}, 0)
	checkErr(t, err, domain.ErrForbidden)
	_, err = e.app.Organizations.Update(ctx, carol, domain.ParseOrgRef(o.ID()), domain.OrganizationChanges{Slug: strp("Bad")}, 0)
	checkInvalid(t, err, "slug")
	got, err = e.app.Organizations.Update(ctx, carol, domain.ParseOrgRef("acme"), domain.OrganizationChanges{Name: strp("Acme Inc")}, 1)
	checkErr(t, err, nil)
	if got.Name() != "Acme Inc" || got.Version() != 2 {
		t.Fatalf("got %q v%d, want %q v2", got.Name(), got.Version(), "Acme Inc")
	}
	_, err = e.app.Organizations.Update(ctx, alice, domain.ParseOrgRef(o.ID()), domain.OrganizationChanges{Name: strp("Stale")}, 1)
	checkErr(t, err, domain.ErrVersionMismatch)
	_, err = e.app.Organizations.Update(ctx, alice, domain.ParseOrgRef(o.ID()), domain.OrganizationChanges{Status: strp("suspended")}, 0)
	checkErr(t, err, domain.ErrPlatformAdminRequired)
	e.createOrg(t, principal("dan"), "taken")
	_, err = e.app.Organizations.Update(ctx, alice, domain.ParseOrgRef(o.ID()), domain.OrganizationChanges{Slug: strp("taken")}, 0)
	checkErr(t, err, domain.ErrSlugTaken)

	// Suspended by a platform admin: reads still work, writes do not.
	got, err = e.app.Organizations.Update(ctx, platformAdmin(), domain.ParseOrgRef(o.ID()), domain.OrganizationChanges{Status: strp("suspended")}, 0)
	checkErr(t, err, nil)
	if got.Status() != domain.OrganizationSuspended {
		t.Fatalf("got status %v, want suspended", got.Status())
	}
	_, err = e.app.Organizations.Get(ctx, bob, domain.ParseOrgRef(o.ID()))
	checkErr(t, err, nil)
	_, err = e.app.Organizations.Update(ctx, alice, domain.ParseOrgRef(o.ID()), domain.OrganizationChanges{Name: strp("Y")}, 0)
	checkErr(t, err, domain.ErrOrganizationSuspended)
	_, err = e.app.Members.Add(ctx, alice, domain.ParseOrgRef(o.ID()), ports.AddMember{Subject: "new", Roles: []string{"member"}})
	checkErr(t, err, domain.ErrOrganizationSuspended)
	checkErr(t, e.app.Organizations.Delete(ctx, alice, domain.ParseOrgRef(o.ID()), 0), domain.ErrOrganizationSuspended)
	_, err = e.app.Organizations.Update(ctx, platformAdmin(), domain.ParseOrgRef(o.ID()), domain.OrganizationChanges{Name: strp("Fixed")}, 0)
	checkErr(t, err, nil)
}

func TestOrganizationDelete(t *testing.T) {
	t.Parallel()
	e := newEnv(t, application.Config{})
	ctx := context.Background()
	alice, bob := principal("alice"), principal("bob")
	o := e.createOrg(t, alice, "acme")
	e.addMember(t, o, bob, "admin")
	e.createPermission(t, o, "invoices:read")
	e.createRole(t, o, "reader", "invoices:read")

	checkErr(t, e.app.Organizations.Delete(ctx, bob, domain.ParseOrgRef(o.ID()), 0), domain.ErrForbidden)
	checkErr(t, e.app.Organizations.Delete(ctx, alice, domain.ParseOrgRef(o.ID()), 7), domain.ErrVersionMismatch)
	checkErr(t, e.app.Organizations.Delete(ctx, alice, domain.ParseOrgRef("acme"), 0), nil)
	_, err := e.app.Organizations.Get(ctx, alice, domain.ParseOrgRef(o.ID()))
	checkErr(t, err, domain.ErrNotFound)
	prof, err := e.app.Me.Me(ctx, bob)
	checkErr(t, err, nil)
	if len(prof.Memberships) != 0 {
		t.Fatalf("got memberships %+v after delete, want none", prof.Memberships)
	}
	// The slug is free again and the new organization starts empty.
	o2 := e.createOrg(t, alice, "acme")
	roles, err := e.app.Roles.List(ctx, alice, domain.ParseOrgRef(o2.ID()), ports.RoleQuery{})
	checkErr(t, err, nil)
	if roles.Total != 3 {
		t.Fatalf("got %d roles in the new organization, want the 3 built-in ones", roles.Total)
	}
}
