package application_test

import (
	"context"
	"slices"
	"testing"

	"github.com/orgstack/orgstack/application"
	"github.com/orgstack/orgstack/domain"
	"github.com/orgstack/orgstack/ports"
)

func TestMemberAdd(t *testing.T) {
	t.Parallel()
	e := newEnv(t, application.Config{})
	ctx := context.Background()
	alice, bob := principal("alice"), principal("bob")
	o := e.createOrg(t, alice, "acme")
	e.addMember(t, o, bob, "member")
	e.createRole(t, o, "viewer", "organization:read")
	zedID := e.userID(t, principal("zed"))
	const missingID = "01950000-0000-7000-8000-000000000000"

	tests := []struct {
		name      string
		give      ports.Principal
		in        ports.AddMember
		want      error
		wantField string
		unknown   string // the field an unknown reference names
	}{
		{name: "without members:write", give: bob, in: ports.AddMember{UserID: zedID, Roles: []string{"member"}}, want: domain.ErrForbidden},
		{name: "without members:write, invalid input", give: bob, in: ports.AddMember{}, want: domain.ErrForbidden},
		{name: "neither user_id nor subject", give: alice, in: ports.AddMember{Roles: []string{"member"}}, wantField: "user_id"},
		{name: "both user_id and subject", give: alice, in: ports.AddMember{UserID: zedID, Subject: "x", Roles: []string{"member"}}, wantField: "user_id"},
		{name: "unknown user_id", give: alice, in: ports.AddMember{UserID: missingID, Roles: []string{"member"}}, unknown: "user_id"},
		{name: "no roles", give: alice, in: ports.AddMember{UserID: zedID}, wantField: "roles"},
		{name: "unknown role", give: alice, in: ports.AddMember{UserID: zedID, Roles: []string{"member", "ghost"}}, unknown: "roles/1"},
		{name: "already member", give: alice, in: ports.AddMember{UserID: e.userID(t, bob), Roles: []string{"member"}}, want: domain.ErrAlreadyMember},
		{name: "by user_id with custom role", give: alice, in: ports.AddMember{UserID: zedID, Roles: []string{"viewer"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := e.app.Members.Add(ctx, tt.give, domain.ParseOrgRef(o.ID()), tt.in)
			if tt.wantField != "" {
				checkInvalid(t, err, tt.wantField)
				return
			}
			if tt.unknown != "" {
				checkUnknownReference(t, err, tt.unknown)
				return
			}
			checkErr(t, err, tt.want)
			if tt.want == nil && (m.User.ID() != tt.in.UserID || !m.Membership.HasRole("viewer")) {
				t.Fatalf("got member %s with %v", m.User.ID(), m.Membership.Roles())
			}
		})
	}

	t.Run("pre-provision by subject", func(t *testing.T) {
		m, err := e.app.Members.Add(ctx, alice, domain.ParseOrgRef(o.ID()), ports.AddMember{Subject: "newbie", Email: "n@example.test", Roles: []string{"member"}})
		checkErr(t, err, nil)
		if m.User.Issuer() != issuer || m.User.Subject() != "newbie" || m.User.Email() != "n@example.test" {
			t.Fatalf("got user %s/%s %s", m.User.Issuer(), m.User.Subject(), m.User.Email())
		}
		// The first sign-in finds the provisioned user and its membership.
		prof, err := e.app.Me.Me(ctx, principal("newbie"))
		checkErr(t, err, nil)
		if prof.User.ID() != m.User.ID() || len(prof.Memberships) != 1 {
			t.Fatalf("got user %s with %d memberships, want %s with 1", prof.User.ID(), len(prof.Memberships), m.User.ID())
		}
		_, err = e.app.Members.Add(ctx, alice, domain.ParseOrgRef(o.ID()), ports.AddMember{Subject: "newbie", Roles: []string{"member"}})
		checkErr(t, err, domain.ErrAlreadyMember)
	})
}

func TestLastOwner(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	demote := []string{"admin"}
	tests := []struct {
		name string
		act  func(e *env, o *domain.Organization, aliceID string) error
	}{
		{"remove", func(e *env, o *domain.Organization, id string) error {
			return e.app.Members.Remove(ctx, principal("alice"), domain.ParseOrgRef(o.ID()), id, 0)
		}},
		{"suspend", func(e *env, o *domain.Organization, id string) error {
			_, err := e.app.Members.Update(ctx, principal("alice"), domain.ParseOrgRef(o.ID()), id, domain.MembershipChanges{Status: strp("suspended")}, 0)
			return err
		}},
		{"demote", func(e *env, o *domain.Organization, id string) error {
			_, err := e.app.Members.Update(ctx, principal("alice"), domain.ParseOrgRef(o.ID()), id, domain.MembershipChanges{Roles: &demote}, 0)
			return err
		}},
		{"remove by platform admin", func(e *env, o *domain.Organization, id string) error {
			return e.app.Members.Remove(ctx, platformAdmin(), domain.ParseOrgRef(o.ID()), id, 0)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, application.Config{})
			o := e.createOrg(t, principal("alice"), "acme")
			aliceID := e.userID(t, principal("alice"))
			checkErr(t, tt.act(e, o, aliceID), domain.ErrLastOwner)
			if m := e.member(t, o, aliceID); !m.IsActiveOwner() {
				t.Fatalf("got roles %v status %v, want an unchanged active owner", m.Roles(), m.Status())
			}
			// With a second owner the same change is allowed.
			e.addMember(t, o, principal("bob"), "owner")
			checkErr(t, tt.act(e, o, aliceID), nil)
		})
	}
}

func TestOwnerOnlyRules(t *testing.T) {
	t.Parallel()
	e := newEnv(t, application.Config{})
	ctx := context.Background()
	alice, bob := principal("alice"), principal("bob")
	o := e.createOrg(t, alice, "acme")
	aliceID := e.userID(t, alice)
	bobID := e.addMember(t, o, bob, "admin")
	e.addMember(t, o, principal("olga"), "owner")
	zedID := e.userID(t, principal("zed"))
	owner := []string{"owner"}
	ownerAndAdmin := []string{"admin", "owner"}

	tests := []struct {
		name string
		act  func() error
		want error
	}{
		{"admin removes an owner", func() error { return e.app.Members.Remove(ctx, bob, domain.ParseOrgRef(o.ID()), aliceID, 0) }, domain.ErrOwnerRequired},
		{"admin suspends an owner", func() error {
			_, err := e.app.Members.Update(ctx, bob, domain.ParseOrgRef(o.ID()), aliceID, domain.MembershipChanges{Status: strp("suspended")}, 0)
			return err
		}, domain.ErrOwnerRequired},
		{"admin demotes an owner", func() error {
			_, err := e.app.Members.Update(ctx, bob, domain.ParseOrgRef(o.ID()), aliceID, domain.MembershipChanges{Roles: &[]string{"member"}}, 0)
			return err
		}, domain.ErrOwnerRequired},
		{"admin makes itself owner", func() error {
			_, err := e.app.Members.Update(ctx, bob, domain.ParseOrgRef(o.ID()), bobID, domain.MembershipChanges{Roles: &ownerAndAdmin}, 0)
			return err
		}, domain.ErrEscalation},
		{"admin adds an owner", func() error {
			_, err := e.app.Members.Add(ctx, bob, domain.ParseOrgRef(o.ID()), ports.AddMember{UserID: zedID, Roles: owner})
			return err
		}, domain.ErrEscalation},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.act()
			if domain.KindOf(err) != domain.KindForbidden {
				t.Fatalf("got %v, want a forbidden error", err)
			}
			checkErr(t, err, tt.want)
		})
	}
	// Nothing changed.
	if m := e.member(t, o, aliceID); !m.IsActiveOwner() {
		t.Fatalf("alice: got %v %v, want active owner", m.Roles(), m.Status())
	}
	if m := e.member(t, o, bobID); !slices.Equal(m.Roles(), []domain.RoleKey{domain.RoleAdmin}) {
		t.Fatalf("bob: got %v, want [admin]", m.Roles())
	}
	if _, err := e.store.Memberships().Get(ctx, o.ID(), zedID); err == nil {
		t.Fatal("zed became a member")
	}
	// An owner may do all of it.
	_, err := e.app.Members.Update(ctx, alice, domain.ParseOrgRef(o.ID()), bobID, domain.MembershipChanges{Roles: &ownerAndAdmin}, 0)
	checkErr(t, err, nil)
	_, err = e.app.Members.Add(ctx, alice, domain.ParseOrgRef(o.ID()), ports.AddMember{UserID: zedID, Roles: owner})
	checkErr(t, err, nil)
	checkErr(t, e.app.Members.Remove(ctx, alice, domain.ParseOrgRef(o.ID()), zedID, 0), nil)
}

func TestMemberEscalation(t *testing.T) {
	t.Parallel()
	e := newEnv(t, application.Config{})
	ctx := context.Background()
	o := e.createOrg(t, principal("alice"), "acme")
	e.createPermission(t, o, "invoices:approve")
	e.createPermission(t, o, "invoices:pay")
	e.createRole(t, o, "approver", "invoices:approve")
	e.createRole(t, o, "payer", "invoices:pay")
	e.createRole(t, o, "staffer", "members:write", "members:read", "invoices:approve")
	pat := principal("pat")
	e.addMember(t, o, pat, "staffer")
	zedID := e.userID(t, principal("zed"))
	carlID := e.addMember(t, o, principal("carl"), "approver")
	e.setStatus(t, o, carlID, "suspended")

	_, err := e.app.Members.Add(ctx, pat, domain.ParseOrgRef(o.ID()), ports.AddMember{UserID: zedID, Roles: []string{"payer"}})
	checkErr(t, err, domain.ErrEscalation)
	_, err = e.app.Members.Add(ctx, pat, domain.ParseOrgRef(o.ID()), ports.AddMember{UserID: zedID, Roles: []string{"admin"}})
	checkErr(t, err, domain.ErrEscalation)
	_, err = e.app.Members.Add(ctx, pat, domain.ParseOrgRef(o.ID()), ports.AddMember{UserID: zedID, Roles: []string{"approver"}})
	checkErr(t, err, nil)
	_, err = e.app.Members.Update(ctx, pat, domain.ParseOrgRef(o.ID()), zedID, domain.MembershipChanges{Roles: &[]string{"approver", "payer"}}, 0)
	checkErr(t, err, domain.ErrEscalation)
	if m := e.member(t, o, zedID); !slices.Equal(m.Roles(), []domain.RoleKey{"approver"}) {
		t.Fatalf("got roles %v, want [approver]", m.Roles())
	}
	// Re-activating a member hands its roles back: they must be covered too.
	_, err = e.app.Members.Update(ctx, pat, domain.ParseOrgRef(o.ID()), carlID, domain.MembershipChanges{Status: strp("active")}, 0)
	checkErr(t, err, nil)
	_, err = e.app.Members.Update(ctx, platformAdmin(), domain.ParseOrgRef(o.ID()), carlID, domain.MembershipChanges{Roles: &[]string{"payer"}, Status: strp("suspended")}, 0)
	checkErr(t, err, nil)
	_, err = e.app.Members.Update(ctx, pat, domain.ParseOrgRef(o.ID()), carlID, domain.MembershipChanges{Status: strp("active")}, 0)
	checkErr(t, err, domain.ErrEscalation)
}

func TestMembersAndUsersRead(t *testing.T) {
	t.Parallel()
	e := newEnv(t, application.Config{})
	ctx := context.Background()
	alice := principal("alice")
	o := e.createOrg(t, alice, "acme")
	bobID := e.addMember(t, o, principal("bob"), "member")
	e.createOrg(t, principal("eve"), "other")
	eveID := e.userID(t, principal("eve"))

	_, err := e.app.Members.List(ctx, principal("bob"), domain.ParseOrgRef(""), ports.MemberQuery{})
	checkErr(t, err, ports.ErrOrgContextRequired)
	page, err := e.app.Members.List(ctx, bound(principal("bob"), "acme"), domain.ParseOrgRef(""), ports.MemberQuery{})
	checkErr(t, err, nil)
	if page.Total != 2 {
		t.Fatalf("got %d members, want 2 (the query cannot name another tenant)", page.Total)
	}
	_, err = e.app.Members.Get(ctx, alice, domain.ParseOrgRef(o.ID()), eveID)
	checkErr(t, err, domain.ErrNotFound)
	u, err := e.app.Users.Get(ctx, alice, domain.ParseOrgRef(o.ID()), bobID)
	checkErr(t, err, nil)
	if u.Subject() != "bob" {
		t.Fatalf("got user %s, want bob", u.Subject())
	}
	_, err = e.app.Users.Get(ctx, alice, domain.ParseOrgRef(o.ID()), eveID)
	checkErr(t, err, domain.ErrNotFound)
	users, err := e.app.Users.List(ctx, alice, domain.ParseOrgRef(o.ID()), ports.UserQuery{})
	checkErr(t, err, nil)
	if users.Total != 2 {
		t.Fatalf("got %d users, want 2", users.Total)
	}
	_, err = e.app.Users.ListAll(ctx, alice, ports.UserQuery{})
	checkErr(t, err, domain.ErrPlatformAdminRequired)
	all, err := e.app.Users.ListAll(ctx, platformAdmin(), ports.UserQuery{})
	checkErr(t, err, nil)
	if all.Total != 4 { // alice, bob, eve, root
		t.Fatalf("got %d users, want 4", all.Total)
	}
}
