package domain_test

import (
	"testing"
	"time"

	"github.com/orgstack/orgstack/domain"
)

// TestAggregateVersions: members, custom roles and custom permissions start
// at version 1 and every change increments it (a refused change does not);
// storage restores the stored version; built-in roles and system
// permissions keep domain.BuiltinVersion.
func TestAggregateVersions(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	want := func(what string, got, want int64) {
		t.Helper()
		if got != want {
			t.Errorf("%s: version %d, want %d", what, got, want)
		}
	}

	m, err := domain.NewMembership("org-1", "user-1", []string{"member"}, now)
	if err != nil {
		t.Fatal(err)
	}
	want("new membership", m.Version(), 1)
	if err := m.Apply(domain.MembershipChanges{Roles: &[]string{"admin"}}, now); err != nil {
		t.Fatal(err)
	}
	want("changed membership", m.Version(), 2)
	if err := m.Apply(domain.MembershipChanges{Status: ptr("gone")}, now); err == nil {
		t.Fatal("invalid status accepted")
	}
	want("refused change", m.Version(), 2)
	want("clone", m.Clone().Version(), 2)
	stored := domain.UnmarshalMembershipFromDatabase("org-1", "user-1", []string{"member"}, "active", now, now).WithVersion(7)
	want("stored membership", stored.Version(), 7)

	r, err := domain.NewRole("r1", "org-1", "approver", "Approver", "", []string{"members:read"}, now)
	if err != nil {
		t.Fatal(err)
	}
	want("new role", r.Version(), 1)
	if err := r.Apply(domain.RoleChanges{Name: ptr("Approvers")}, now); err != nil {
		t.Fatal(err)
	}
	want("changed role", r.Version(), 2)
	if err := r.Apply(domain.RoleChanges{Name: ptr("")}, now); err == nil {
		t.Fatal("empty name accepted")
	}
	want("refused role change", r.Version(), 2)
	want("stored role", domain.UnmarshalRoleFromDatabase("r1", "org-1", "approver", "A", "", nil, now, now).WithVersion(4).Version(), 4)

	p, err := domain.NewCustomPermission("p1", "org-1", "invoices:approve", "", now)
	if err != nil {
		t.Fatal(err)
	}
	want("new permission", p.Version(), 1)
	if err := p.Describe("Approve", now); err != nil {
		t.Fatal(err)
	}
	want("described permission", p.Version(), 2)
	want("stored permission", domain.UnmarshalPermissionFromDatabase("p1", "org-1", "invoices:approve", "", now, now).WithVersion(3).Version(), 3)

	for _, b := range domain.BuiltinRoles() {
		want("built-in role "+string(b.Key()), b.Version(), domain.BuiltinVersion)
		if err := b.Apply(domain.RoleChanges{Name: ptr("X")}, now); err == nil {
			t.Errorf("built-in role %s changed", b.Key())
		}
		want("built-in role after a refused change", b.Version(), domain.BuiltinVersion)
	}
	for _, sp := range domain.SystemPermissions() {
		want("system permission "+sp.Key().String(), sp.Version(), domain.BuiltinVersion)
	}
}
