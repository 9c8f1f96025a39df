package application_test

import (
	"context"
	"slices"
	"testing"

	"github.com/orgstack/orgstack/application"
	"github.com/orgstack/orgstack/domain"
	"github.com/orgstack/orgstack/ports"
)

func TestCheckSemantics(t *testing.T) {
	t.Parallel()
	e := newEnv(t, application.Config{})
	ctx := context.Background()
	alice := principal("alice")
	o := e.createOrg(t, alice, "acme")
	aliceID := e.userID(t, alice)
	e.createPermission(t, o, "invoices:approve")
	e.createPermission(t, o, "invoices:pay")
	e.createPermission(t, o, "reports:read")
	e.createRole(t, o, "billing", "invoices:*")
	e.createRole(t, o, "approver", "invoices:approve")
	e.createRole(t, o, "checker", "authz:check")
	bobID := e.addMember(t, o, principal("bob"), "billing", "approver", "member")
	carolID := e.addMember(t, o, principal("carol"), "billing")
	e.setStatus(t, o, carolID, "suspended")
	e.addMember(t, o, principal("cleo"), "checker")
	other := e.createOrg(t, principal("eve"), "other")
	eveID := e.userID(t, principal("eve"))
	strangerID := e.userID(t, principal("stranger"))
	_ = other

	tests := []struct {
		name string
		give ports.CheckRequest
		want ports.CheckResult
	}{
		{"resource wildcard", ports.CheckRequest{UserID: bobID, Permission: "invoices:pay"}, ports.CheckResult{Allowed: true, GrantedBy: []domain.RoleKey{"billing"}}},
		{"wildcard and exact", ports.CheckRequest{UserID: bobID, Permission: "invoices:approve"}, ports.CheckResult{Allowed: true, GrantedBy: []domain.RoleKey{"approver", "billing"}}},
		{"built-in role", ports.CheckRequest{UserID: bobID, Permission: "members:read"}, ports.CheckResult{Allowed: true, GrantedBy: []domain.RoleKey{"member"}}},
		{"not granted", ports.CheckRequest{UserID: bobID, Permission: "reports:read"}, ports.CheckResult{GrantedBy: []domain.RoleKey{}}},
		{"wildcard, undefined permission", ports.CheckRequest{UserID: bobID, Permission: "invoices:delete"}, ports.CheckResult{GrantedBy: []domain.RoleKey{}}},
		{"owner's *, custom permission", ports.CheckRequest{UserID: aliceID, Permission: "reports:read"}, ports.CheckResult{Allowed: true, GrantedBy: []domain.RoleKey{"owner"}}},
		{"owner's *, undefined permission", ports.CheckRequest{UserID: aliceID, Permission: "ghost:read"}, ports.CheckResult{GrantedBy: []domain.RoleKey{}}},
		{"by subject, default issuer", ports.CheckRequest{Subject: "bob", Permission: "invoices:pay"}, ports.CheckResult{Allowed: true, GrantedBy: []domain.RoleKey{"billing"}}},
		{"by subject, other issuer", ports.CheckRequest{Subject: "bob", Issuer: "https://elsewhere.test", Permission: "invoices:pay"}, ports.CheckResult{GrantedBy: []domain.RoleKey{}}},
		{"suspended member", ports.CheckRequest{UserID: carolID, Permission: "invoices:pay"}, ports.CheckResult{GrantedBy: []domain.RoleKey{}}},
		{"member of another organization", ports.CheckRequest{UserID: eveID, Permission: "organization:read"}, ports.CheckResult{GrantedBy: []domain.RoleKey{}}},
		{"not a member", ports.CheckRequest{UserID: strangerID, Permission: "organization:read"}, ports.CheckResult{GrantedBy: []domain.RoleKey{}}},
		{"unknown user", ports.CheckRequest{Subject: "nobody", Permission: "organization:read"}, ports.CheckResult{GrantedBy: []domain.RoleKey{}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// cleo holds only authz:check; the answer does not depend on the asker.
			got, err := e.app.Checks.Check(ctx, principal("cleo"), domain.ParseOrgRef(o.ID()), tt.give)
			checkErr(t, err, nil)
			if got.Allowed != tt.want.Allowed || !slices.Equal(got.GrantedBy, tt.want.GrantedBy) || got.GrantedBy == nil {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}

	batch, err := e.app.Checks.CheckBatch(ctx, alice, domain.ParseOrgRef("acme"), []ports.CheckRequest{tests[0].give, tests[3].give, tests[5].give})
	checkErr(t, err, nil)
	if len(batch) != 3 || !batch[0].Allowed || batch[1].Allowed || !batch[2].Allowed {
		t.Fatalf("got batch %+v, want allowed, denied, allowed", batch)
	}
}

func TestCheckAccess(t *testing.T) {
	t.Parallel()
	e := newEnv(t, application.Config{})
	ctx := context.Background()
	alice, bob := principal("alice"), principal("bob")
	o := e.createOrg(t, alice, "acme")
	aliceID := e.userID(t, alice)
	bobID := e.addMember(t, o, bob, "member")
	self := ports.CheckRequest{UserID: bobID, Permission: "members:read"}
	selfBySubject := ports.CheckRequest{Subject: "bob", Permission: "members:read"}
	others := ports.CheckRequest{UserID: aliceID, Permission: "members:read"}

	tests := []struct {
		name      string
		give      ports.Principal
		req       ports.CheckRequest
		want      error
		wantField string
	}{
		{name: "self by ID", give: bob, req: self},
		{name: "self by subject", give: bob, req: selfBySubject},
		{name: "self bound", give: bound(bob, "acme"), req: self},
		{name: "others without authz:check", give: bob, req: others, want: domain.ErrForbidden},
		{name: "both forms without authz:check", give: bob, req: ports.CheckRequest{UserID: bobID, Subject: "bob", Permission: "members:read"}, want: domain.ErrForbidden},
		{name: "others as owner", give: alice, req: others},
		{name: "others as platform admin", give: platformAdmin(), req: others},
		{name: "non-member", give: principal("zed"), req: self, want: domain.ErrNotFound},
		{name: "both forms", give: alice, req: ports.CheckRequest{UserID: bobID, Subject: "bob", Permission: "members:read"}, wantField: "user_id"},
		{name: "neither form", give: alice, req: ports.CheckRequest{Permission: "members:read"}, wantField: "user_id"},
		{name: "malformed permission", give: bob, req: ports.CheckRequest{UserID: bobID, Permission: "members"}, wantField: "permission"},
		{name: "pattern is not a permission", give: bob, req: ports.CheckRequest{UserID: bobID, Permission: "members:*"}, wantField: "permission"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.app.Checks.Check(ctx, tt.give, domain.ParseOrgRef(o.ID()), tt.req)
			if tt.wantField != "" {
				checkInvalid(t, err, tt.wantField)
				return
			}
			checkErr(t, err, tt.want)
		})
	}

	t.Run("batch", func(t *testing.T) {
		_, err := e.app.Checks.CheckBatch(ctx, bob, domain.ParseOrgRef(o.ID()), []ports.CheckRequest{self, others})
		checkErr(t, err, domain.ErrForbidden)
		_, err = e.app.Checks.CheckBatch(ctx, bob, domain.ParseOrgRef(o.ID()), []ports.CheckRequest{self, {UserID: bobID, Permission: "x"}})
		checkInvalid(t, err, "checks/1/permission")
		_, err = e.app.Checks.CheckBatch(ctx, alice, domain.ParseOrgRef(o.ID()), nil)
		checkInvalid(t, err, "checks")
		_, err = e.app.Checks.CheckBatch(ctx, alice, domain.ParseOrgRef(o.ID()), make([]ports.CheckRequest, application.MaxBatchChecks+1))
		checkInvalid(t, err, "checks")
		res, err := e.app.Checks.CheckBatch(ctx, bob, domain.ParseOrgRef(o.ID()), []ports.CheckRequest{self, selfBySubject})
		checkErr(t, err, nil)
		if len(res) != 2 || !res[0].Allowed || !res[1].Allowed {
			t.Fatalf("got %+v, want two allowed", res)
		}
	})

	t.Run("suspended organization", func(t *testing.T) {
		_, err := e.app.Organizations.Update(ctx, platformAdmin(), domain.ParseOrgRef(o.ID()), domain.OrganizationChanges{Status: strp("suspended")}, 0)
		checkErr(t, err, nil)
		got, err := e.app.Checks.Check(ctx, alice, domain.ParseOrgRef(o.ID()), ports.CheckRequest{UserID: aliceID, Permission: "organization:read"})
		checkErr(t, err, nil)
		if got.Allowed || got.GrantedBy == nil || len(got.GrantedBy) != 0 {
			t.Fatalf("got %+v, want denied in a suspended organization", got)
		}
	})
}

func TestMeShowsEffectiveGrants(t *testing.T) {
	t.Parallel()
	e := newEnv(t, application.Config{})
	ctx := context.Background()
	bob := principal("bob")
	a := e.createOrg(t, principal("alice"), "alpha")
	b := e.createOrg(t, principal("alice"), "beta")
	e.createPermission(t, a, "invoices:read")
	e.createRole(t, a, "billing", "invoices:*", "invoices:read")
	e.addMember(t, a, bob, "billing", "member")
	bobID := e.addMember(t, b, bob, "admin")
	e.setStatus(t, b, bobID, "suspended")

	prof, err := e.app.Me.Me(ctx, bob)
	checkErr(t, err, nil)
	if len(prof.Memberships) != 2 {
		t.Fatalf("got %d memberships, want 2", len(prof.Memberships))
	}
	var got []string
	for _, g := range prof.Memberships[0].Permissions {
		got = append(got, g.String())
	}
	slices.Sort(got)
	want := []string{"invoices:*", "invoices:read", "members:read", "organization:read", "permissions:read", "roles:read"}
	if prof.Memberships[0].OrgSlug != "alpha" || !slices.Equal(got, want) {
		t.Fatalf("alpha: got %s %v, want %v", prof.Memberships[0].OrgSlug, got, want)
	}
	if m := prof.Memberships[1]; m.OrgSlug != "beta" || m.Status != domain.MemberSuspended || m.Permissions == nil || len(m.Permissions) != 0 {
		t.Fatalf("beta: got %+v, want suspended with no permissions", m)
	}
}
