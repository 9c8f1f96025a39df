package storetest

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/orgstack/orgstack/domain"
	"github.com/orgstack/orgstack/ports"
)

var membershipTests = []contract{
	{"CreateGet", func(t *testing.T, f *fixture) {
		o := f.org("acme-corp", "Acme")
		u := f.user("alice", "alice@example.com", "Alice")
		f.role(o, "approver", "Approver", "invoices:approve")
		want := f.member(o, u, "member", "approver", "admin")
		got, err := f.s.Memberships().Get(f.ctx, o.ID(), u.ID())
		must(t, err)
		sameMembership(t, got, want)
		wantStrings(t, "roles sorted", roleKeys(got.Roles()), []string{"admin", "approver", "member"})
		mem, err := f.s.Memberships().GetMember(f.ctx, o.ID(), u.ID())
		must(t, err)
		sameMembership(t, mem.Membership, want)
		sameUser(t, mem.User, u)
	}},
	{"CreateDuplicate", func(t *testing.T, f *fixture) {
		o := f.org("acme-corp", "Acme")
		u := f.user("alice", "alice@example.com", "Alice")
		f.member(o, u, "member")
		m, err := domain.NewMembership(o.ID(), u.ID(), []string{"owner"}, f.now())
		must(t, err)
		wantErr(t, f.s.Memberships().Create(f.ctx, m), domain.ErrAlreadyMember)
	}},
	{"CreateUnknownReferences", func(t *testing.T, f *fixture) {
		o := f.org("acme-corp", "Acme")
		u := f.user("alice", "alice@example.com", "Alice")
		for _, m := range []struct{ org, user string }{{o.ID(), "missing"}, {"missing", u.ID()}} {
			mm, err := domain.NewMembership(m.org, m.user, []string{"member"}, f.now())
			must(t, err)
			if err := f.s.Memberships().Create(f.ctx, mm); err == nil {
				t.Errorf("membership %s/%s: got no error", m.org, m.user)
			}
		}
	}},
	{"TenantScoped", func(t *testing.T, f *fixture) {
		a, b := f.org("org-a", "A"), f.org("org-b", "B")
		u := f.user("alice", "alice@example.com", "Alice")
		m := f.member(a, u, "owner")
		_, err := f.s.Memberships().Get(f.ctx, b.ID(), u.ID())
		wantErr(t, err, domain.ErrNotFound)
		_, err = f.s.Memberships().GetMember(f.ctx, b.ID(), u.ID())
		wantErr(t, err, domain.ErrNotFound)
		other := domain.UnmarshalMembershipFromDatabase(b.ID(), u.ID(), []string{"member"}, "active", f.now(), f.now())
		wantErr(t, f.s.Memberships().Update(f.ctx, other), domain.ErrNotFound)
		wantErr(t, f.s.Memberships().Delete(f.ctx, b.ID(), u.ID()), domain.ErrNotFound)
		got, err := f.s.Memberships().Get(f.ctx, a.ID(), u.ID())
		must(t, err)
		sameMembership(t, got, m)
		err = f.s.RunInTx(f.ctx, func(ctx context.Context, r ports.Repositories) error {
			_, err := r.Memberships().GetForUpdate(ctx, b.ID(), u.ID())
			wantErr(t, err, domain.ErrNotFound)
			got, err := r.Memberships().GetForUpdate(ctx, a.ID(), u.ID())
			if err != nil {
				return err
			}
			sameMembership(t, got, m)
			return nil
		})
		must(t, err)
	}},
	{"Update", func(t *testing.T, f *fixture) {
		o := f.org("acme-corp", "Acme")
		u := f.user("alice", "alice@example.com", "Alice")
		m := f.member(o, u, "owner", "member")
		roles, status := []string{"viewer", "admin"}, "suspended"
		must(t, m.Apply(domain.MembershipChanges{Roles: &roles, Status: &status}, f.now()))
		must(t, f.s.Memberships().Update(f.ctx, m))
		got, err := f.s.Memberships().Get(f.ctx, o.ID(), u.ID())
		must(t, err)
		sameMembership(t, got, m)
	}},
	{"Delete", func(t *testing.T, f *fixture) {
		o := f.org("acme-corp", "Acme")
		u := f.user("alice", "alice@example.com", "Alice")
		f.member(o, u, "owner")
		must(t, f.s.Memberships().Delete(f.ctx, o.ID(), u.ID()))
		_, err := f.s.Memberships().Get(f.ctx, o.ID(), u.ID())
		wantErr(t, err, domain.ErrNotFound)
		wantErr(t, f.s.Memberships().Delete(f.ctx, o.ID(), u.ID()), domain.ErrNotFound)
		n, err := f.s.Memberships().CountWithRole(f.ctx, o.ID(), domain.RoleOwner)
		must(t, err)
		if n != 0 {
			t.Errorf("owners after delete: got %d, want 0", n)
		}
		f.member(o, u, "member") // may join again
	}},
	{"LockActiveOwners", func(t *testing.T, f *fixture) {
		o, other := f.org("acme-corp", "Acme"), f.org("other", "Other")
		ua, ub, uc, ud := f.user("a", "", ""), f.user("b", "", ""), f.user("c", "", ""), f.user("d", "", "")
		f.member(o, ub, "owner", "member")
		f.member(o, ua, "owner")
		f.suspend(f.member(o, uc, "owner"))
		f.member(o, ud, "admin")
		f.member(other, ud, "owner")
		var got []string
		err := f.s.RunInTx(f.ctx, func(ctx context.Context, r ports.Repositories) error {
			var err error
			got, err = r.Memberships().LockActiveOwners(ctx, o.ID())
			return err
		})
		must(t, err)
		wantStrings(t, "active owners", got, ids(ua, ub))
	}},
	{"CountWithRole", func(t *testing.T, f *fixture) {
		o, other := f.org("acme-corp", "Acme"), f.org("other", "Other")
		ua, ub, uc := f.user("a", "", ""), f.user("b", "", ""), f.user("c", "", "")
		f.member(o, ua, "owner", "approver")
		f.suspend(f.member(o, ub, "approver"))
		f.member(o, uc, "member")
		f.member(other, uc, "approver")
		tests := []struct {
			give domain.RoleKey
			want int
		}{{"approver", 2}, {"owner", 1}, {"member", 1}, {"admin", 0}}
		for _, tt := range tests {
			n, err := f.s.Memberships().CountWithRole(f.ctx, o.ID(), tt.give)
			must(t, err)
			if n != tt.want {
				t.Errorf("CountWithRole(%s): got %d, want %d", tt.give, n, tt.want)
			}
		}
	}},
	{"List", func(t *testing.T, f *fixture) {
		o, other := f.org("acme-corp", "Acme"), f.org("other", "Other")
		bob := f.user("bob", "bob@example.com", "bob")
		alice := f.user("alice", "Alice@Example.com", "Alice")
		robot := f.user("robot", "", "")
		carol := f.user("carol", "carol@test.org", "Carol_1")
		zed := f.user("zed", "zed@test.org", "Zed")
		mb := f.member(o, bob, "owner")
		ma := f.member(o, alice, "member", "approver", "admin")
		mr := f.member(o, robot, "approver")
		f.suspend(mr)
		mc := f.member(o, carol, "member")
		f.member(other, zed, "member")
		f.member(other, bob, "member")

		tests := []struct {
			name string
			give ports.MemberFilter
			want []string
		}{
			{"all by joined_at", ports.MemberFilter{}, ids(bob, alice, robot, carol)},
			{"role", ports.MemberFilter{Role: "approver"}, ids(alice, robot)},
			{"status", ports.MemberFilter{Status: "suspended"}, ids(robot)},
			{"q email case-insensitive", ports.MemberFilter{Q: "EXAMPLE"}, ids(bob, alice)},
			{"q name underscore literal", ports.MemberFilter{Q: "l_1"}, ids(carol)},
			{"q not another org's member", ports.MemberFilter{Q: "zed"}, nil},
			{"sort email, empty last", ports.MemberFilter{PageRequest: pr(1, 10, "email")}, ids(alice, bob, carol, robot)},
			{"sort name desc, empty last", ports.MemberFilter{PageRequest: pr(1, 10, "-name")}, ids(carol, bob, alice, robot)},
			{"sort joined_at desc", ports.MemberFilter{PageRequest: pr(1, 10, "-joined_at")}, ids(carol, robot, alice, bob)},
			{"page 2 of 3", ports.MemberFilter{PageRequest: pr(2, 3, "joined_at")}, ids(carol)},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				tt.give.OrgID = o.ID()
				if tt.give.Size == 0 {
					tt.give.PageRequest = pr(1, 100)
				}
				got, err := f.s.Memberships().List(f.ctx, tt.give)
				must(t, err)
				wantStrings(t, "members", memberIDs(got.Items), tt.want)
				wantTotal := len(tt.want)
				if tt.give.Page == 2 {
					wantTotal = 4
				}
				if got.Total != wantTotal {
					t.Errorf("total: got %d, want %d", got.Total, wantTotal)
				}
				for _, m := range got.Items {
					if m.User == nil || m.User.ID() != m.Membership.UserID() || m.Membership.OrgID() != o.ID() {
						t.Errorf("member %s: user or organization does not match", m.Membership.UserID())
					}
				}
			})
		}
		got, err := f.s.Memberships().List(f.ctx, ports.MemberFilter{OrgID: o.ID(), PageRequest: pr(1, 1)})
		must(t, err)
		sameMembership(t, got.Items[0].Membership, mb)
		sameUser(t, got.Items[0].User, bob)

		// Inside a transaction too.
		err = f.s.RunInTx(f.ctx, func(ctx context.Context, r ports.Repositories) error {
			got, err := r.Memberships().List(ctx, ports.MemberFilter{OrgID: o.ID(), PageRequest: pr(1, 3, "name")})
			if err != nil {
				return err
			}
			wantStrings(t, "members in a transaction", memberIDs(got.Items), ids(alice, bob, carol))
			if got.Total != 4 {
				t.Errorf("total in a transaction: got %d, want 4", got.Total)
			}
			return nil
		})
		must(t, err)

		// Every listed member comes back whole, with all its roles, and a
		// member holding several roles still counts once towards the page
		// size and the total.
		pages := []struct {
			give  ports.PageRequest
			want  []*domain.Membership
			users []*domain.User
		}{
			{pr(1, 2), []*domain.Membership{mb, ma}, []*domain.User{bob, alice}},
			{pr(2, 2), []*domain.Membership{mr, mc}, []*domain.User{robot, carol}},
			{pr(1, 3, "-email"), []*domain.Membership{mc, mb, ma}, []*domain.User{carol, bob, alice}},
			{pr(3, 2), nil, nil},
		}
		for _, tt := range pages {
			got, err := f.s.Memberships().List(f.ctx, ports.MemberFilter{OrgID: o.ID(), PageRequest: tt.give})
			must(t, err)
			if got.Total != 4 || len(got.Items) != len(tt.want) {
				t.Errorf("page %d of size %d: got %d items of %d, want %d of 4", tt.give.Page, tt.give.Size,
					len(got.Items), got.Total, len(tt.want))
				continue
			}
			for i, m := range got.Items {
				sameMembership(t, m.Membership, tt.want[i])
				sameUser(t, m.User, tt.users[i])
			}
		}
	}},
	{"ListForUser", func(t *testing.T, f *fixture) {
		z, a, m := f.org("zulu", "Zulu"), f.org("alpha", "Alpha"), f.org("mike", "Mike")
		status := "suspended"
		must(t, m.Apply(domain.OrganizationChanges{Status: &status}, f.now()))
		must(t, f.s.Organizations().Update(f.ctx, m, 1))
		u, other := f.user("alice", "", ""), f.user("bob", "", "")
		f.member(z, u, "owner")
		f.suspend(f.member(a, u, "member"))
		f.member(m, u, "admin", "member")
		f.member(a, other, "owner")
		got, err := f.s.Memberships().ListForUser(f.ctx, u.ID())
		must(t, err)
		var slugs, statuses, orgStatuses []string
		for _, om := range got {
			slugs = append(slugs, om.OrgSlug)
			statuses = append(statuses, om.Membership.Status().String())
			orgStatuses = append(orgStatuses, om.OrgStatus.String())
			if om.Membership.UserID() != u.ID() {
				t.Errorf("membership of %s listed for %s", om.Membership.UserID(), u.ID())
			}
		}
		wantStrings(t, "slugs", slugs, []string{"alpha", "mike", "zulu"})
		wantStrings(t, "statuses", statuses, []string{"suspended", "active", "active"})
		wantStrings(t, "organization statuses", orgStatuses, []string{"active", "suspended", "active"})
		if len(got) == 3 {
			wantStrings(t, "roles", roleKeys(got[1].Membership.Roles()), []string{"admin", "member"})
		}
		none, err := f.s.Memberships().ListForUser(f.ctx, "missing")
		must(t, err)
		if len(none) != 0 {
			t.Errorf("unknown user: got %d memberships, want 0", len(none))
		}
	}},
	{"ConcurrentOwnerRemoval", func(t *testing.T, f *fixture) {
		o := f.org("acme-corp", "Acme")
		ua, ub := f.user("a", "", ""), f.user("b", "", "")
		f.member(o, ua, "owner")
		f.member(o, ub, "owner")

		// Each transaction removes a different owner after checking, under
		// the owners' lock, that another active owner remains.
		remove := func(userID string) error {
			return f.s.RunInTx(f.ctx, func(ctx context.Context, r ports.Repositories) error {
				owners, err := r.Memberships().LockActiveOwners(ctx, o.ID())
				if err != nil {
					return err
				}
				time.Sleep(50 * time.Millisecond) // widen the race window
				if len(owners) <= 1 {
					return domain.ErrLastOwner
				}
				return r.Memberships().Delete(ctx, o.ID(), userID)
			})
		}
		var (
			wg    sync.WaitGroup
			start = make(chan struct{})
			errs  = make([]error, 2)
		)
		for i, id := range []string{ua.ID(), ub.ID()} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				errs[i] = remove(id)
			}()
		}
		close(start)
		wg.Wait()

		ok, last := 0, 0
		for _, err := range errs {
			switch {
			case err == nil:
				ok++
			case errors.Is(err, domain.ErrLastOwner):
				last++
			default:
				t.Errorf("unexpected error: %v", err)
			}
		}
		if ok != 1 || last != 1 {
			t.Errorf("got %d removals and %d last-owner refusals, want 1 and 1", ok, last)
		}
		var owners []string
		must(t, f.s.RunInTx(f.ctx, func(ctx context.Context, r ports.Repositories) error {
			var err error
			owners, err = r.Memberships().LockActiveOwners(ctx, o.ID())
			return err
		}))
		if len(owners) != 1 {
			t.Errorf("active owners left: got %d, want 1", len(owners))
		}
	}},
}
