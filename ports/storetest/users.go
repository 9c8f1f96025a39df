package storetest

import (
	"context"
	"errors"
	"testing"

	"github.com/orgstack/orgstack/domain"
	"github.com/orgstack/orgstack/ports"
)

var userTests = []contract{
	{"CreateGet", func(t *testing.T, f *fixture) {
		want := f.user("alice", "alice@example.com", "Alice")
		got, err := f.s.Users().Get(f.ctx, want.ID())
		must(t, err)
		sameUser(t, got, want)
		got, err = f.s.Users().GetByIdentity(f.ctx, want.Issuer(), "alice")
		must(t, err)
		sameUser(t, got, want)
	}},
	{"MachineUser", func(t *testing.T, f *fixture) {
		want := f.user("client-42", "", "")
		got, err := f.s.Users().Get(f.ctx, want.ID())
		must(t, err)
		sameUser(t, got, want)
	}},
	{"GetMissing", func(t *testing.T, f *fixture) {
		u := f.user("alice", "alice@example.com", "Alice")
		_, err := f.s.Users().Get(f.ctx, "missing")
		wantErr(t, err, domain.ErrNotFound)
		_, err = f.s.Users().GetByIdentity(f.ctx, "https://other.test", u.Subject())
		wantErr(t, err, domain.ErrNotFound)
		_, err = f.s.Users().GetByIdentity(f.ctx, u.Issuer(), "ALICE")
		wantErr(t, err, domain.ErrNotFound)
	}},
	{"CreateIfAbsent", func(t *testing.T, f *fixture) {
		u := f.user("alice", "alice@example.com", "Alice")
		again, err := domain.NewUser(f.id(), u.Issuer(), u.Subject(), "other@example.com", "Other", f.now())
		must(t, err)
		got, err := f.s.Users().CreateIfAbsent(f.ctx, again)
		must(t, err)
		sameUser(t, got, u) // the stored one, unchanged
		fresh, err := domain.NewUser(f.id(), u.Issuer(), "bob", "bob@example.com", "Bob", f.now())
		must(t, err)
		got, err = f.s.Users().CreateIfAbsent(f.ctx, fresh)
		must(t, err)
		sameUser(t, got, fresh)
		stored, err := f.s.Users().Get(f.ctx, fresh.ID())
		must(t, err)
		sameUser(t, stored, fresh)
	}},
	{"CreateIfAbsentRolledBack", func(t *testing.T, f *fixture) {
		u, err := domain.NewUser(f.id(), "https://issuer.test", "ghost", "", "", f.now())
		must(t, err)
		refused := errors.New("refused")
		err = f.s.RunInTx(f.ctx, func(ctx context.Context, r ports.Repositories) error {
			if _, err := r.Users().CreateIfAbsent(ctx, u); err != nil {
				return err
			}
			return refused
		})
		wantErr(t, err, refused)
		_, err = f.s.Users().GetByIdentity(f.ctx, u.Issuer(), u.Subject())
		wantErr(t, err, domain.ErrNotFound)
	}},
	{"CreateDuplicateIdentity", func(t *testing.T, f *fixture) {
		u := f.user("alice", "alice@example.com", "Alice")
		dup, err := domain.NewUser(f.id(), u.Issuer(), u.Subject(), "", "", f.now())
		must(t, err)
		wantErr(t, f.s.Users().Create(f.ctx, dup), domain.ErrUserExists)
		other, err := domain.NewUser(f.id(), "https://other.test", u.Subject(), "", "", f.now())
		must(t, err)
		must(t, f.s.Users().Create(f.ctx, other)) // same subject, another issuer
	}},
	{"Update", func(t *testing.T, f *fixture) {
		u := f.user("alice", "alice@example.com", "Alice")
		if !u.RefreshClaims("alice@new.example", "Alice B", f.now()) {
			t.Fatal("claims did not change")
		}
		must(t, f.s.Users().Update(f.ctx, u))
		got, err := f.s.Users().Get(f.ctx, u.ID())
		must(t, err)
		sameUser(t, got, u)
		ghost, err := domain.NewUser(f.id(), "https://issuer.test", "ghost", "", "", f.now())
		must(t, err)
		wantErr(t, f.s.Users().Update(f.ctx, ghost), domain.ErrNotFound)
	}},
	{"List", func(t *testing.T, f *fixture) {
		acme, globex := f.org("acme-corp", "Acme"), f.org("globex", "Globex")
		bob := f.user("bob", "Bob@Example.com", "bob")
		alice := f.user("alice", "alice@example.com", "Alice")
		robot := f.user("robot", "", "")
		carol := f.user("carol", "carol_x@test.org", "Carol 100%")
		dave := f.user("dave", "dave@test.org", "Dave")
		f.member(acme, bob, "owner")
		f.suspend(f.member(acme, robot, "member"))
		f.member(acme, carol, "member")
		f.member(globex, alice, "owner")
		f.member(globex, dave, "member")

		tests := []struct {
			name string
			give ports.UserFilter
			want []string
		}{
			{"all by created_at", ports.UserFilter{}, ids(bob, alice, robot, carol, dave)},
			{"org members any status", ports.UserFilter{OrgID: acme.ID()}, ids(bob, robot, carol)},
			{"other org", ports.UserFilter{OrgID: globex.ID()}, ids(alice, dave)},
			{"q email case-insensitive", ports.UserFilter{Q: "EXAMPLE"}, ids(bob, alice)},
			{"q name", ports.UserFilter{Q: "carol"}, ids(carol)},
			{"q underscore literal", ports.UserFilter{Q: "l_x"}, ids(carol)},
			{"q percent literal", ports.UserFilter{Q: "0%"}, ids(carol)},
			{"q scoped to org", ports.UserFilter{OrgID: globex.ID(), Q: "example"}, ids(alice)},
			{"email equals case-insensitive", ports.UserFilter{Email: "bob@example.COM"}, ids(bob)},
			{"email is not contains", ports.UserFilter{Email: "example.com"}, nil},
			{"sort email, empty last", ports.UserFilter{PageRequest: pr(1, 10, "email")}, ids(alice, bob, carol, dave, robot)},
			{"sort email desc, empty last", ports.UserFilter{PageRequest: pr(1, 10, "-email")}, ids(dave, carol, bob, alice, robot)},
			{"sort name", ports.UserFilter{PageRequest: pr(1, 10, "name")}, ids(alice, bob, carol, dave, robot)},
			{"page 2", ports.UserFilter{PageRequest: pr(2, 2, "name")}, ids(carol, dave)},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				if tt.give.Size == 0 {
					tt.give.PageRequest = pr(1, 100)
				}
				got, err := f.s.Users().List(f.ctx, tt.give)
				must(t, err)
				wantStrings(t, "users", userIDs(got.Items), tt.want)
				wantTotal := len(tt.want)
				if tt.give.Page == 2 {
					wantTotal = 5
				}
				if got.Total != wantTotal {
					t.Errorf("total: got %d, want %d", got.Total, wantTotal)
				}
			})
		}
	}},
}
