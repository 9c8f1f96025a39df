package application_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/orgstack/orgstack/application"
	"github.com/orgstack/orgstack/domain"
	"github.com/orgstack/orgstack/ports"
)

const tenantIssuer = "https://login.acme.example/realms/acme"

func tenantSpec(issuer string, audiences ...string) domain.IdentityProviderSpec {
	return domain.IdentityProviderSpec{
		Issuer: issuer, Discovery: true, Audiences: audiences, Algorithms: []string{"RS256"},
		JIT: domain.JITMembership{
			Enabled: true, RoleClaim: domain.ClaimPath{"groups"},
			RoleMapping: map[string][]domain.RoleKey{"billing-team": {"billing"}, "admins": {"admin"}},
			DefaultRole: "member",
		},
	}
}

func TestIdentityProviderPutGetDelete(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t, application.Config{OperatorIssuers: []string{issuer}})
	alice := principal("alice")
	o := e.createOrg(t, alice, "acme")
	ref := domain.ParseOrgRef(o.ID())
	e.createRole(t, o, "billing", "members:read")

	_, err := e.app.IdentityProviders.Get(ctx, alice, ref)
	checkErr(t, err, domain.ErrNotFound)
	// A version on a create is a mismatch: there is no provider to match.
	_, _, err = e.app.IdentityProviders.Put(ctx, alice, ref, tenantSpec(tenantIssuer, "orgstack"), 3)
	checkErr(t, err, domain.ErrVersionMismatch)
	p, created, err := e.app.IdentityProviders.Put(ctx, alice, ref, tenantSpec(tenantIssuer, "orgstack"), 0)
	checkErr(t, err, nil)
	if !created || p.Version() != 1 {
		t.Fatalf("create: created %v version %d", created, p.Version())
	}
	p, created, err = e.app.IdentityProviders.Put(ctx, alice, ref, tenantSpec(tenantIssuer, "orgstack", "api"), 1)
	checkErr(t, err, nil)
	if created || p.Version() != 2 {
		t.Fatalf("replace: created %v version %d", created, p.Version())
	}
	_, _, err = e.app.IdentityProviders.Put(ctx, alice, ref, tenantSpec(tenantIssuer, "orgstack"), 1)
	checkErr(t, err, domain.ErrVersionMismatch)
	got, err := e.app.IdentityProviders.Get(ctx, alice, ref)
	checkErr(t, err, nil)
	if !slices.Equal(got.Audiences(), []string{"orgstack", "api"}) {
		t.Errorf("audiences = %v", got.Audiences())
	}

	// Deleting leaves members in place.
	bob := principal("bob")
	bobID := e.addMember(t, o, bob, "member")
	checkErr(t, e.app.IdentityProviders.Delete(ctx, alice, ref, 1), domain.ErrVersionMismatch)
	checkErr(t, e.app.IdentityProviders.Delete(ctx, alice, ref, 2), nil)
	_, err = e.app.IdentityProviders.Get(ctx, alice, ref)
	checkErr(t, err, domain.ErrNotFound)
	checkErr(t, e.app.IdentityProviders.Delete(ctx, alice, ref, 0), domain.ErrNotFound)
	if m := e.member(t, o, bobID); m == nil || !m.IsActive() {
		t.Errorf("bob's membership after delete: %v", m)
	}
}

func TestIdentityProviderRulesApp(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t, application.Config{OperatorIssuers: []string{issuer, "https://operator-two.example"}})
	alice := principal("alice")
	o := e.createOrg(t, alice, "acme")
	ref := domain.ParseOrgRef(o.ID())
	e.createRole(t, o, "billing", "members:read")
	e.createPermission(t, o, "invoices:approve")
	e.createRole(t, o, "approver", "invoices:approve")

	// The operator's issuers are never an organization's.
	for _, iss := range []string{issuer, "https://operator-two.example"} {
		_, _, err := e.app.IdentityProviders.Put(ctx, alice, ref, tenantSpec(iss, "orgstack"), 0)
		checkErr(t, err, domain.ErrIdentityProviderConflict)
	}
	// Owner is never mapped.
	s := tenantSpec(tenantIssuer, "orgstack")
	s.JIT.RoleMapping["root"] = []domain.RoleKey{"owner"}
	_, _, err := e.app.IdentityProviders.Put(ctx, alice, ref, s, 0)
	checkInvalid(t, err, "jit/role_mapping/root/0")
	// Mapped roles must exist.
	s = tenantSpec(tenantIssuer, "orgstack")
	s.JIT.RoleMapping["x/y"] = []domain.RoleKey{"nope"}
	s.JIT.DefaultRole = "ghost"
	_, _, err = e.app.IdentityProviders.Put(ctx, alice, ref, s, 0)
	checkUnknownReference(t, err, "jit/role_mapping/x~1y/0")
	checkUnknownReference(t, err, "jit/default_role")

	// An admin lacks identity_provider:write: forbidden, even with a
	// mapping within its grants; it can read.
	carol := principal("carol")
	e.addMember(t, o, carol, "admin")
	_, _, err = e.app.IdentityProviders.Put(ctx, carol, ref, tenantSpec(tenantIssuer, "orgstack"), 0)
	checkErr(t, err, domain.ErrForbidden)
	checkErr(t, e.app.IdentityProviders.Delete(ctx, carol, ref, 0), domain.ErrForbidden)
	_, err = e.app.IdentityProviders.Get(ctx, carol, ref)
	checkErr(t, err, domain.ErrNotFound) // may read; there is nothing yet
	dave := principal("dave")
	e.addMember(t, o, dave, "member")
	_, err = e.app.IdentityProviders.Get(ctx, dave, ref)
	checkErr(t, err, domain.ErrForbidden)

	// A mapping may not give more than its author holds: a custom role
	// holding identity_provider:write and billing's grants may map billing
	// but not approver or admin.
	e.createRole(t, o, "sso-admin", "identity_provider:*", "members:read")
	erin := principal("erin")
	e.addMember(t, o, erin, "sso-admin")
	s = tenantSpec(tenantIssuer, "orgstack")
	s.JIT.RoleMapping = map[string][]domain.RoleKey{"b": {"billing"}}
	s.JIT.DefaultRole = ""
	_, _, err = e.app.IdentityProviders.Put(ctx, erin, ref, s, 0)
	checkErr(t, err, nil)
	for _, k := range []domain.RoleKey{"approver", "admin"} {
		s.JIT.RoleMapping = map[string][]domain.RoleKey{"b": {"billing"}, "c": {k}}
		_, _, err = e.app.IdentityProviders.Put(ctx, erin, ref, s, 0)
		checkErr(t, err, domain.ErrEscalation)
		s.JIT.RoleMapping = map[string][]domain.RoleKey{"b": {"billing"}}
		s.JIT.DefaultRole = k
		_, _, err = e.app.IdentityProviders.Put(ctx, erin, ref, s, 0)
		checkErr(t, err, domain.ErrEscalation)
		s.JIT.DefaultRole = ""
	}

	// (issuer, audience) is unique across organizations.
	bobby := principal("bobby")
	o2 := e.createOrg(t, bobby, "globex")
	ref2 := domain.ParseOrgRef(o2.ID())
	s2 := tenantSpec(tenantIssuer, "api", "orgstack")
	s2.JIT = domain.JITMembership{}
	_, _, err = e.app.IdentityProviders.Put(ctx, bobby, ref2, s2, 0)
	checkErr(t, err, domain.ErrIdentityProviderConflict)
	s2.Audiences = []string{"api"}
	_, _, err = e.app.IdentityProviders.Put(ctx, bobby, ref2, s2, 0)
	checkErr(t, err, nil)
}

// TestForeignIssuerRefused: an organization naming the issuer of another
// organization's provider, by subject and issuer, in members or checks, is
// refused with a validation error; its own provider's issuer is fine.
func TestForeignIssuerRefused(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t, application.Config{})
	alice, bob := principal("alice"), principal("bob")
	a := e.createOrg(t, alice, "alpha")
	b := e.createOrg(t, bob, "beta")
	s := tenantSpec(tenantIssuer, "orgstack")
	s.JIT = domain.JITMembership{}
	_, _, err := e.app.IdentityProviders.Put(ctx, alice, domain.ParseOrgRef(a.ID()), s, 0)
	checkErr(t, err, nil)

	refB := domain.ParseOrgRef(b.ID())
	_, err = e.app.Members.Add(ctx, bob, refB, ports.AddMember{Subject: "mallory", Issuer: tenantIssuer, Roles: []string{"member"}})
	checkInvalid(t, err, "issuer")
	_, err = e.app.Checks.Check(ctx, bob, refB, ports.CheckRequest{Subject: "mallory", Issuer: tenantIssuer, Permission: "members:read"})
	checkInvalid(t, err, "issuer")
	_, err = e.app.Checks.CheckBatch(ctx, bob, refB, []ports.CheckRequest{
		{Subject: "x", Permission: "members:read"},
		{Subject: "mallory", Issuer: tenantIssuer, Permission: "members:read"},
	})
	checkInvalid(t, err, "checks/1/issuer")
	// Other issuers are unaffected.
	_, err = e.app.Checks.Check(ctx, bob, refB, ports.CheckRequest{Subject: "mallory", Issuer: "https://other.example", Permission: "members:read"})
	checkErr(t, err, nil)
	// The provider's own organization may name its users.
	refA := domain.ParseOrgRef(a.ID())
	_, err = e.app.Members.Add(ctx, alice, refA, ports.AddMember{Subject: "mallory", Issuer: tenantIssuer, Roles: []string{"member"}})
	checkErr(t, err, nil)
	_, err = e.app.Checks.Check(ctx, alice, refA, ports.CheckRequest{Subject: "mallory", Issuer: tenantIssuer, Permission: "members:read"})
	checkErr(t, err, nil)
}

func TestSyncMembership(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t, application.Config{})
	alice := principal("alice")
	o := e.createOrg(t, alice, "acme")
	ref := domain.ParseOrgRef(o.ID())
	e.createRole(t, o, "billing", "members:read")
	e.createRole(t, o, "support", "members:read")
	_, _, err := e.app.IdentityProviders.Put(ctx, alice, ref, tenantSpec(tenantIssuer, "orgstack"), 0)
	checkErr(t, err, nil)

	tok := func(sub string, values ...string) ports.Principal {
		return ports.Principal{Issuer: tenantIssuer, Subject: sub, Email: sub + "@acme.example", ProviderOrgID: o.ID(), MappedValues: values}
	}
	roles := func(m *domain.Membership) string { return fmt.Sprint(m.Roles()) }
	sync := func(p ports.Principal) *domain.Membership {
		t.Helper()
		m, err := e.app.IdentityProviders.SyncMembership(ctx, p)
		checkErr(t, err, nil)
		return m
	}

	// First use: a member with the mapped roles.
	m := sync(tok("sam", "billing-team", "unmapped"))
	if m == nil || roles(m) != "[billing]" || !m.IsActive() {
		t.Fatalf("first use: %v", m)
	}
	samID := m.UserID()
	// No value matches: the default role.
	if m := sync(tok("nina", "nothing")); roles(m) != "[member]" {
		t.Errorf("no match: %s", roles(m))
	}
	// API-assigned roles are kept; mapped roles follow the claim.
	_, err = e.app.Members.Update(ctx, alice, ref, samID, domain.MembershipChanges{Roles: &[]string{"billing", "support"}}, 0)
	checkErr(t, err, nil)
	if m := sync(tok("sam", "admins")); roles(m) != "[admin support]" {
		t.Errorf("claim changed: %s", roles(m))
	}
	// A write only on change: the updated_at stays when nothing changes.
	before := e.member(t, o, samID).UpdatedAt()
	e.clock.Advance(time.Minute)
	sync(tok("sam", "admins"))
	if got := e.member(t, o, samID).UpdatedAt(); !got.Equal(before) {
		t.Errorf("an unchanged sync wrote: %v -> %v", before, got)
	}
	// Owner is never removed by a mapping, even when the mapping changes.
	_, err = e.app.Members.Update(ctx, alice, ref, samID, domain.MembershipChanges{Roles: &[]string{"owner", "admin"}}, 0)
	checkErr(t, err, nil)
	if m := sync(tok("sam", "nothing")); roles(m) != "[member owner]" {
		t.Errorf("owner kept, mapped admin replaced by default: %s", roles(m))
	}
	// A suspended member is never reactivated, nor changed.
	ninaID := e.userIDOf(t, tenantIssuer, "nina")
	e.setStatus(t, o, ninaID, "suspended")
	if m := sync(tok("nina", "admins")); m.IsActive() || roles(m) != "[member]" {
		t.Errorf("suspended member: %v %s", m.Status(), roles(m))
	}
	// A member removed through the API comes back at the next sign-in.
	checkErr(t, e.app.Members.Remove(ctx, alice, ref, e.userIDOf(t, tenantIssuer, "sam"), 0), nil)
	if m := sync(tok("sam", "billing-team")); m == nil || roles(m) != "[billing]" {
		t.Errorf("removed member's next sign-in: %v", m)
	}
	// A mapped role deleted since is skipped (member when nothing is left).
	checkErr(t, e.app.Members.Remove(ctx, alice, ref, e.userIDOf(t, tenantIssuer, "sam"), 0), nil)
	checkErr(t, e.app.Roles.Delete(ctx, alice, ref, "billing", 0), nil)
	if m := sync(tok("sam", "billing-team")); roles(m) != "[member]" {
		t.Errorf("deleted mapped role: %s", roles(m))
	}
	// Nothing happens for a principal of no provider, another issuer, or
	// with JIT off.
	if m := sync(principal("zed")); m != nil {
		t.Errorf("operator principal: %v", m)
	}
	other := tok("zed")
	other.Issuer = "https://elsewhere.example"
	if m := sync(other); m != nil {
		t.Errorf("issuer mismatch: %v", m)
	}
	s := tenantSpec(tenantIssuer, "orgstack")
	s.JIT = domain.JITMembership{}
	_, _, err = e.app.IdentityProviders.Put(ctx, alice, ref, s, 0)
	checkErr(t, err, nil)
	if m := sync(tok("zed", "admins")); m != nil {
		t.Errorf("JIT off: %v", m)
	}
}

// userIDOf returns the ID of the user (issuer, subject).
func (e *env) userIDOf(t *testing.T, iss, sub string) string {
	t.Helper()
	u, err := e.store.Users().GetByIdentity(context.Background(), iss, sub)
	if err != nil {
		t.Fatalf("user %s: %v", sub, err)
	}
	return u.ID()
}
