package storetest

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/orgstack/orgstack/domain"
	"github.com/orgstack/orgstack/ports"
)

// versionTests hold the stores to the version rules of members, custom
// roles and custom permissions: a new row is at version 1, every stored
// change increments it, an update of a stale copy is
// domain.ErrVersionMismatch (and of a missing row domain.ErrNotFound), a
// user's profile change increments every membership of the user, and two
// writers of the same version race to exactly one success.
var versionTests = []contract{
	{"MembershipVersions", func(t *testing.T, f *fixture) {
		o := f.org("acme-corp", "Acme")
		u := f.user("alice", "alice@example.com", "Alice")
		f.member(o, u, "member")
		m, err := f.s.Memberships().Get(f.ctx, o.ID(), u.ID())
		must(t, err)
		wantVersion(t, "new membership", m.Version(), 1)
		stale := m.Clone()
		must(t, m.Apply(domain.MembershipChanges{Roles: &[]string{"admin"}}, f.now()))
		must(t, f.s.Memberships().Update(f.ctx, m))
		got, err := f.s.Memberships().Get(f.ctx, o.ID(), u.ID())
		must(t, err)
		wantVersion(t, "after update", got.Version(), 2)
		must(t, stale.Apply(domain.MembershipChanges{Roles: &[]string{"owner"}}, f.now()))
		wantErr(t, f.s.Memberships().Update(f.ctx, stale), domain.ErrVersionMismatch)
		got, err = f.s.Memberships().Get(f.ctx, o.ID(), u.ID())
		must(t, err)
		if got.HasRole(domain.RoleOwner) {
			t.Errorf("a stale update was stored: roles %v", got.Roles())
		}
		page, err := f.s.Memberships().List(f.ctx, ports.MemberFilter{OrgID: o.ID(), PageRequest: ports.PageRequest{Page: 1, Size: 10}})
		must(t, err)
		if len(page.Items) != 1 {
			t.Fatalf("list: %d items, want 1", len(page.Items))
		}
		wantVersion(t, "list item", page.Items[0].Membership.Version(), 2)
		mem, err := f.s.Memberships().GetMember(f.ctx, o.ID(), u.ID())
		must(t, err)
		wantVersion(t, "GetMember", mem.Membership.Version(), 2)
	}},
	{"UserProfileChangeBumpsMemberships", func(t *testing.T, f *fixture) {
		a, b := f.org("org-a", "A"), f.org("org-b", "B")
		u := f.user("alice", "alice@example.com", "Alice")
		other := f.user("bob", "bob@example.com", "Bob")
		f.member(a, u, "owner")
		f.member(b, u, "member")
		f.member(a, other, "member")
		if !u.RefreshClaims("alice@new.example", "Alice N.", f.now()) {
			t.Fatal("RefreshClaims reported no change")
		}
		must(t, f.s.Users().Update(f.ctx, u))
		for _, o := range []*domain.Organization{a, b} {
			m, err := f.s.Memberships().Get(f.ctx, o.ID(), u.ID())
			must(t, err)
			wantVersion(t, "membership of the renamed user in "+o.ID(), m.Version(), 2)
		}
		m, err := f.s.Memberships().Get(f.ctx, a.ID(), other.ID())
		must(t, err)
		wantVersion(t, "membership of another user", m.Version(), 1)
	}},
	{"RoleVersions", func(t *testing.T, f *fixture) {
		o := f.org("acme-corp", "Acme")
		f.role(o, "approver", "Approver", "members:read")
		r, err := f.s.Roles().Get(f.ctx, o.ID(), "approver")
		must(t, err)
		wantVersion(t, "new role", r.Version(), 1)
		stale, err := f.s.Roles().Get(f.ctx, o.ID(), "approver")
		must(t, err)
		name := "Approvers"
		must(t, r.Apply(domain.RoleChanges{Name: &name}, f.now()))
		must(t, f.s.Roles().Update(f.ctx, r))
		got, err := f.s.Roles().Get(f.ctx, o.ID(), "approver")
		must(t, err)
		wantVersion(t, "after update", got.Version(), 2)
		must(t, stale.Apply(domain.RoleChanges{Grants: &[]string{"roles:read"}}, f.now()))
		wantErr(t, f.s.Roles().Update(f.ctx, stale), domain.ErrVersionMismatch)
		got, err = f.s.Roles().Get(f.ctx, o.ID(), "approver")
		must(t, err)
		if len(got.Grants()) != 1 || got.Grants()[0].String() != "members:read" {
			t.Errorf("a stale update was stored: grants %v", got.Grants())
		}
		list, err := f.s.Roles().List(f.ctx, ports.RoleFilter{OrgID: o.ID()})
		must(t, err)
		if len(list) != 1 {
			t.Fatalf("list: %d roles, want 1", len(list))
		}
		wantVersion(t, "list item", list[0].Version(), 2)
		gone := domain.UnmarshalRoleFromDatabase(f.id(), o.ID(), "nobody", "N", "", nil, f.now(), f.now())
		must(t, gone.Apply(domain.RoleChanges{Name: &name}, f.now()))
		wantErr(t, f.s.Roles().Update(f.ctx, gone), domain.ErrNotFound)
	}},
	{"PermissionVersions", func(t *testing.T, f *fixture) {
		o := f.org("acme-corp", "Acme")
		f.perm(o, "invoices:approve", "Approve")
		key, err := domain.ParsePermissionKey("invoices:approve")
		must(t, err)
		p, err := f.s.Permissions().Get(f.ctx, o.ID(), key)
		must(t, err)
		wantVersion(t, "new permission", p.Version(), 1)
		stale, err := f.s.Permissions().Get(f.ctx, o.ID(), key)
		must(t, err)
		must(t, p.Describe("Approve invoices", f.now()))
		must(t, f.s.Permissions().Update(f.ctx, p))
		got, err := f.s.Permissions().Get(f.ctx, o.ID(), key)
		must(t, err)
		wantVersion(t, "after update", got.Version(), 2)
		must(t, stale.Describe("Stale", f.now()))
		wantErr(t, f.s.Permissions().Update(f.ctx, stale), domain.ErrVersionMismatch)
		list, err := f.s.Permissions().List(f.ctx, ports.PermissionFilter{OrgID: o.ID()})
		must(t, err)
		if len(list) != 1 || list[0].Description() != "Approve invoices" {
			t.Fatalf("list: %v, want the one permission, described once", list)
		}
		wantVersion(t, "list item", list[0].Version(), 2)
	}},
	{"SameVersionWritersRace", func(t *testing.T, f *fixture) {
		// Two transactions store changes of the same version at once:
		// exactly one is stored, the other is domain.ErrVersionMismatch.
		o := f.org("acme-corp", "Acme")
		u := f.user("alice", "alice@example.com", "Alice")
		f.member(o, u, "member")
		read, err := f.s.Memberships().Get(f.ctx, o.ID(), u.ID())
		must(t, err)
		var (
			wg   sync.WaitGroup
			errs [2]error
		)
		for i, role := range []string{"admin", "owner"} {
			m := read.Clone()
			must(t, m.Apply(domain.MembershipChanges{Roles: &[]string{role}}, f.now()))
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = f.s.RunInTx(f.ctx, func(ctx context.Context, r ports.Repositories) error {
					return r.Memberships().Update(ctx, m)
				})
			}()
		}
		wg.Wait()
		ok, stale := 0, 0
		for _, err := range errs {
			switch {
			case err == nil:
				ok++
			case errors.Is(err, domain.ErrVersionMismatch):
				stale++
			default:
				t.Errorf("unexpected error: %v", err)
			}
		}
		if ok != 1 || stale != 1 {
			t.Fatalf("got %d stored and %d stale (%v), want 1 and 1", ok, stale, errs)
		}
		got, err := f.s.Memberships().Get(f.ctx, o.ID(), u.ID())
		must(t, err)
		wantVersion(t, "after the race", got.Version(), 2)
	}},
}

func wantVersion(t *testing.T, what string, got, want int64) {
	t.Helper()
	if got != want {
		t.Errorf("%s: version %d, want %d", what, got, want)
	}
}
