package storetest

import (
	"slices"
	"testing"

	"github.com/orgstack/orgstack/domain"
	"github.com/orgstack/orgstack/ports"
)

// missingOrg is an organization ID that no fixture creates.
const missingOrg = "00000000-0000-7000-8000-999999999999"

var combinedTests = []contract{
	{"SameAsSeparateCalls", func(t *testing.T, f *fixture) {
		o, other := f.org("acme-corp", "Acme"), f.org("other", "Other")
		alice := f.user("alice", "alice@example.com", "Alice")
		sam := f.user("sam", "", "")
		bob := f.user("bob", "", "")
		f.role(o, "approver", "Approver", "invoices:approve", "bills:*")
		f.role(o, "auditor", "Auditor", "audit:read")
		f.role(other, "approver", "Other", "*")
		f.perm(o, "invoices:approve", "")
		f.perm(other, "reports:read", "")
		f.member(o, alice, "member", "approver", "auditor", "deleted-role")
		f.suspend(f.member(o, sam, "approver"))
		f.member(other, bob, "owner", "approver")

		refs := []struct {
			name string
			ref  domain.OrgRef
		}{
			{"by id", domain.OrgRefByID(o.ID())},
			{"by slug", domain.ParseOrgRef(string(o.Slug()))},
			{"unknown id", domain.OrgRefByID(missingOrg)},
			{"unknown slug", domain.ParseOrgRef("missing")},
			{"no reference", domain.OrgRef{}},
		}
		callers := []string{"alice", "sam", "bob", "nobody"}
		targets := []struct {
			name string
			who  ports.CheckSubject
		}{
			{"member by id", ports.CheckSubject{UserID: alice.ID()}},
			{"member by identity", ports.CheckSubject{Issuer: alice.Issuer(), Subject: alice.Subject()}},
			{"suspended member", ports.CheckSubject{UserID: sam.ID()}},
			{"member elsewhere", ports.CheckSubject{UserID: bob.ID()}},
			{"member elsewhere by identity", ports.CheckSubject{Issuer: bob.Issuer(), Subject: bob.Subject()}},
			{"unknown user id", ports.CheckSubject{UserID: "missing"}},
			{"unknown identity", ports.CheckSubject{Issuer: alice.Issuer(), Subject: "nobody"}},
		}
		perms := []string{"invoices:approve", "members:read", "bills:pay", "reports:read"}
		for _, r := range refs {
			for _, caller := range callers {
				wantAcc, err := f.s.LoadAccess(f.ctx, r.ref, alice.Issuer(), caller)
				must(t, err)
				orgID := missingOrg
				if wantAcc.Org != nil {
					orgID = wantAcc.Org.ID()
				}
				for _, tg := range targets {
					for _, p := range perms {
						t.Run(r.name+"/"+caller+"/"+tg.name+"/"+p, func(t *testing.T) {
							k := pkey(t, p)
							wantFacts, err := f.s.CheckFacts(f.ctx, orgID, tg.who, k)
							must(t, err)
							acc, facts, err := f.s.AccessAndCheckFacts(f.ctx, r.ref, alice.Issuer(), caller, tg.who, k)
							must(t, err)
							sameAccess(t, acc, wantAcc)
							sameFacts(t, facts, wantFacts)
						})
					}
				}
			}
		}
	}},
	{"Cases", func(t *testing.T, f *fixture) {
		// Spot checks with known answers, so that the comparison above
		// cannot pass on two equally wrong readers.
		o := f.org("acme-corp", "Acme")
		alice := f.user("alice", "", "")
		sam := f.user("sam", "", "")
		f.perm(o, "invoices:approve", "")
		am := f.member(o, alice, "owner")
		sm := f.member(o, sam, "member")
		f.suspend(sm)

		tests := []struct {
			name                 string
			ref                  domain.OrgRef
			caller               string
			who                  ports.CheckSubject
			perm                 string
			wantOrg, wantUser    bool
			wantMine, wantTheirs *domain.Membership
			wantDefined          bool
		}{
			{"member checks suspended member", domain.ParseOrgRef(string(o.Slug())), "alice", ports.CheckSubject{UserID: sam.ID()},
				"invoices:approve", true, true, am, sm, true},
			{"suspended caller checks self", domain.OrgRefByID(o.ID()), "sam",
				ports.CheckSubject{Issuer: sam.Issuer(), Subject: "sam"}, "bills:pay", true, true, sm, sm, false},
			{"unknown caller", domain.OrgRefByID(o.ID()), "nobody", ports.CheckSubject{UserID: alice.ID()},
				"members:read", true, false, nil, am, true},
			{"unknown organization", domain.ParseOrgRef("missing"), "alice", ports.CheckSubject{UserID: alice.ID()},
				"invoices:approve", false, true, nil, nil, false},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				acc, facts, err := f.s.AccessAndCheckFacts(f.ctx, tt.ref, alice.Issuer(), tt.caller, tt.who, pkey(t, tt.perm))
				must(t, err)
				if (acc.Org != nil) != tt.wantOrg || (acc.User != nil) != tt.wantUser {
					t.Fatalf("got org %v user %v, want %v %v", acc.Org != nil, acc.User != nil, tt.wantOrg, tt.wantUser)
				}
				if tt.wantOrg {
					sameOrg(t, acc.Org, o)
				}
				optMembership(t, "caller", acc.Membership, tt.wantMine)
				optMembership(t, "subject", facts.Membership, tt.wantTheirs)
				if facts.PermissionDefined != tt.wantDefined {
					t.Errorf("PermissionDefined: got %v, want %v", facts.PermissionDefined, tt.wantDefined)
				}
			})
		}
	}},
}

func optMembership(t *testing.T, what string, got, want *domain.Membership) {
	t.Helper()
	if want == nil {
		if got != nil {
			t.Errorf("%s membership: got %s/%s, want none", what, got.OrgID(), got.UserID())
		}
		return
	}
	sameMembership(t, got, want)
}

// sameRoles compares custom roles regardless of order.
func sameRoles(t *testing.T, got, want []*domain.Role) {
	t.Helper()
	gk, wk := roleIDs(got), roleIDs(want)
	slices.Sort(gk)
	slices.Sort(wk)
	if !equalStrings(gk, wk) {
		t.Fatalf("custom roles: got %q, want %q", gk, wk)
	}
	byKey := map[domain.RoleKey]*domain.Role{}
	for _, r := range got {
		byKey[r.Key()] = r
	}
	for _, r := range want {
		sameRole(t, byKey[r.Key()], r)
	}
}

func sameAccess(t *testing.T, got, want ports.Access) {
	t.Helper()
	if (got.Org == nil) != (want.Org == nil) || (got.User == nil) != (want.User == nil) ||
		(got.Membership == nil) != (want.Membership == nil) {
		t.Fatalf("access: got org %v user %v membership %v, want %v %v %v",
			got.Org != nil, got.User != nil, got.Membership != nil,
			want.Org != nil, want.User != nil, want.Membership != nil)
	}
	if want.Org != nil {
		sameOrg(t, got.Org, want.Org)
	}
	if want.User != nil {
		sameUser(t, got.User, want.User)
	}
	if want.Membership != nil {
		sameMembership(t, got.Membership, want.Membership)
	}
	sameRoles(t, got.Roles, want.Roles)
}

func sameFacts(t *testing.T, got, want ports.CheckFacts) {
	t.Helper()
	if got.PermissionDefined != want.PermissionDefined {
		t.Errorf("PermissionDefined: got %v, want %v", got.PermissionDefined, want.PermissionDefined)
	}
	if (got.Membership == nil) != (want.Membership == nil) {
		t.Fatalf("check membership: got %v, want %v", got.Membership != nil, want.Membership != nil)
	}
	if want.Membership != nil {
		sameMembership(t, got.Membership, want.Membership)
	}
	sameRoles(t, got.Roles, want.Roles)
}
