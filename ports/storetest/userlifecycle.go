package storetest

import (
	"context"
	"maps"
	"testing"

	"github.com/orgstack/orgstack/domain"
	"github.com/orgstack/orgstack/ports"
)

// userLifecycleTests: status, metadata and version of users, the tombstone
// an erasure leaves, and the user status the access and check reads carry.
var userLifecycleTests = []contract{
	{"SaveRoundTrip", func(t *testing.T, f *fixture) {
		u := f.user("alice", "alice@example.com", "Alice")
		if u.Status() != domain.UserActive || u.Version() != 1 || len(u.Metadata()) != 0 {
			t.Fatalf("new user: got %s v%d %v, want active v1 {}", u.Status(), u.Version(), u.Metadata())
		}
		team := "payments"
		err := f.s.RunInTx(f.ctx, func(ctx context.Context, r ports.Repositories) error {
			cur, err := r.Users().GetForUpdate(ctx, u.ID())
			if err != nil {
				return err
			}
			if _, err := cur.UpdateMetadata(map[string]*string{"team": &team}, f.now()); err != nil {
				return err
			}
			if _, err := cur.Deactivate(f.now()); err != nil {
				return err
			}
			u = cur
			return r.Users().Save(ctx, cur)
		})
		must(t, err)
		got, err := f.s.Users().Get(f.ctx, u.ID())
		must(t, err)
		sameUser(t, got, u)
		if got.Status() != domain.UserDeactivated || got.Version() != 3 || got.Metadata()["team"] != "payments" {
			t.Errorf("saved user: got %s v%d %v, want deactivated v3 team=payments", got.Status(), got.Version(), got.Metadata())
		}
		byIdentity, err := f.s.Users().GetByIdentity(f.ctx, u.Issuer(), u.Subject())
		must(t, err)
		sameUser(t, byIdentity, u)
		page, err := f.s.Users().List(f.ctx, ports.UserFilter{PageRequest: pr(1, 10)})
		must(t, err)
		if len(page.Items) != 1 {
			t.Fatalf("list: got %d users, want 1", len(page.Items))
		}
		sameUser(t, page.Items[0], u)
	}},
	{"GetForUpdateMissing", func(t *testing.T, f *fixture) {
		err := f.s.RunInTx(f.ctx, func(ctx context.Context, r ports.Repositories) error {
			_, err := r.Users().GetForUpdate(ctx, f.id())
			return err
		})
		wantErr(t, err, domain.ErrNotFound)
		u := f.user("alice", "", "")
		ghost := domain.UnmarshalUserFromDatabase(f.id(), u.Issuer(), "ghost", "", "", f.now(), f.now())
		wantErr(t, f.s.Users().Save(f.ctx, ghost), domain.ErrNotFound)
	}},
	{"UpdateKeepsLifecycle", func(t *testing.T, f *fixture) {
		// A token's claims refresh writes email and name only: a status or
		// metadata saved meanwhile is kept.
		u := f.user("alice", "alice@example.com", "Alice")
		stale, err := f.s.Users().Get(f.ctx, u.ID())
		must(t, err)
		team := "payments"
		_, err = u.UpdateMetadata(map[string]*string{"team": &team}, f.now())
		must(t, err)
		_, err = u.Deactivate(f.now())
		must(t, err)
		must(t, f.s.Users().Save(f.ctx, u))
		if !stale.RefreshClaims("alice@new.example", "", f.now()) {
			t.Fatal("RefreshClaims = false, want true")
		}
		must(t, f.s.Users().Update(f.ctx, stale))
		got, err := f.s.Users().Get(f.ctx, u.ID())
		must(t, err)
		if got.Status() != domain.UserDeactivated || got.Metadata()["team"] != "payments" ||
			got.Email() != "alice@new.example" || got.Version() != 4 {
			t.Errorf("after refresh: got %s %v %q v%d, want deactivated team=payments alice@new.example v4",
				got.Status(), got.Metadata(), got.Email(), got.Version())
		}
	}},
	{"ErasedTombstone", func(t *testing.T, f *fixture) {
		u := f.user("alice", "alice@example.com", "Alice")
		stale, err := f.s.Users().Get(f.ctx, u.ID())
		must(t, err)
		must(t, u.Erase(f.now()))
		must(t, f.s.Users().Save(f.ctx, u))

		got, err := f.s.Users().GetByIdentity(f.ctx, u.Issuer(), u.Subject())
		must(t, err)
		sameUser(t, got, u)
		if got.Status() != domain.UserErased || got.Email() != "" || got.Name() != "" {
			t.Errorf("tombstone: got %s %q %q, want erased without email and name", got.Status(), got.Email(), got.Name())
		}
		// A refresh read before the erasure never brings the fields back.
		stale.RefreshClaims("alice@again.example", "Alice Again", f.now())
		wantErr(t, f.s.Users().Update(f.ctx, stale), domain.ErrNotFound)
		// The identity is not created again.
		again, err := domain.NewUser(f.id(), u.Issuer(), u.Subject(), "alice@example.com", "Alice", f.now())
		must(t, err)
		wantErr(t, f.s.Users().Create(f.ctx, again), domain.ErrUserExists)
		kept, err := f.s.Users().CreateIfAbsent(f.ctx, again)
		must(t, err)
		sameUser(t, kept, u)
	}},
	{"AccessCarriesUserStatus", func(t *testing.T, f *fixture) {
		o := f.org("acme-corp", "Acme")
		u := f.user("alice", "alice@example.com", "Alice")
		bob := f.user("bob", "", "")
		f.member(o, u, "owner")
		f.member(o, bob, "member")
		md := map[string]string{"team": "payments"}
		team := md["team"]
		_, err := u.UpdateMetadata(map[string]*string{"team": &team}, f.now())
		must(t, err)
		_, err = u.Deactivate(f.now())
		must(t, err)
		must(t, f.s.Users().Save(f.ctx, u))

		acc, err := f.s.LoadAccess(f.ctx, domain.OrgRefByID(o.ID()), u.Issuer(), u.Subject())
		must(t, err)
		sameUser(t, acc.User, u)
		if !maps.Equal(acc.User.Metadata(), md) {
			t.Errorf("access user metadata: got %v, want %v", acc.User.Metadata(), md)
		}
		perm := pkey(t, "members:read")
		for _, who := range []ports.CheckSubject{{UserID: u.ID()}, {Issuer: u.Issuer(), Subject: u.Subject()}} {
			facts, err := f.s.CheckFacts(f.ctx, o.ID(), who, perm)
			must(t, err)
			if facts.UserStatus != domain.UserDeactivated {
				t.Errorf("CheckFacts(%+v).UserStatus: got %v, want deactivated", who, facts.UserStatus)
			}
			acc, facts, err := f.s.AccessAndCheckFacts(f.ctx, domain.OrgRefByID(o.ID()), bob.Issuer(), bob.Subject(), who, perm)
			must(t, err)
			if facts.UserStatus != domain.UserDeactivated || facts.Membership == nil {
				t.Errorf("AccessAndCheckFacts(%+v): got status %v membership %v, want deactivated and a membership",
					who, facts.UserStatus, facts.Membership)
			}
			if acc.User == nil || acc.User.Status() != domain.UserActive {
				t.Errorf("AccessAndCheckFacts caller: got %v, want bob active", acc.User)
			}
		}
		facts, err := f.s.CheckFacts(f.ctx, o.ID(), ports.CheckSubject{UserID: bob.ID()}, perm)
		must(t, err)
		if facts.UserStatus != domain.UserActive {
			t.Errorf("CheckFacts(bob).UserStatus: got %v, want active", facts.UserStatus)
		}
		acc, _, err = f.s.AccessAndCheckFacts(f.ctx, domain.OrgRefByID(o.ID()), u.Issuer(), u.Subject(),
			ports.CheckSubject{UserID: bob.ID()}, perm)
		must(t, err)
		sameUser(t, acc.User, u)
	}},
}
