package application_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/orgstack/orgstack/adapters/system"
	"github.com/orgstack/orgstack/application"
	"github.com/orgstack/orgstack/domain"
	"github.com/orgstack/orgstack/ports"
)

// beforeTxStore is the real store that runs a hook, once, just before the
// first transaction it is asked for: a concurrent request landing at that
// instant.
type beforeTxStore struct {
	ports.Store
	once sync.Once
	hook func()
}

func (s *beforeTxStore) RunInTx(ctx context.Context, fn func(ctx context.Context, r ports.Repositories) error) error {
	s.once.Do(s.hook)
	return s.Store.RunInTx(ctx, fn)
}

// TestAddMemberRefusedLeavesNoUser: adding a new identity that is refused
// (here: its custom role is deleted by a concurrent request just before the
// add's transaction) leaves no user record behind.
func TestAddMemberRefusedLeavesNoUser(t *testing.T) {
	t.Parallel()
	e := newEnv(t, application.Config{})
	ctx := context.Background()
	alice := principal("alice")
	o := e.createOrg(t, alice, "acme")
	ref := domain.OrgRefByID(o.ID())
	if _, err := e.app.Roles.Create(ctx, alice, ref, ports.CreateRole{Key: "approver", Name: "Approver"}); err != nil {
		t.Fatal(err)
	}
	racy := &beforeTxStore{Store: e.store, hook: func() {
		if err := e.app.Roles.Delete(ctx, alice, ref, "approver", 0); err != nil {
			t.Errorf("concurrent delete: %v", err)
		}
	}}
	app := application.New(application.Deps{Store: racy, Clock: e.clock, IDs: system.UUIDv7{}})

	_, err := app.Members.Add(ctx, alice, ref, ports.AddMember{Subject: "newbie", Email: "n@example.test", Roles: []string{"approver"}})
	var ue *domain.UnknownReferenceError
	if !errors.As(err, &ue) {
		t.Fatalf("add with a role deleted meanwhile: got %v, want an unknown reference", err)
	}
	if _, err := e.store.Users().GetByIdentity(ctx, issuer, "newbie"); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("user of the refused add: got %v, want not found", err)
	}

	// The same for an add refused as already_member: a second identity
	// record is never made, and the user stays as it was.
	bob := principal("bob")
	bobID := e.userID(t, bob)
	if _, err := e.app.Members.Add(ctx, alice, ref, ports.AddMember{UserID: bobID, Roles: []string{"member"}}); err != nil {
		t.Fatal(err)
	}
	_, err = e.app.Members.Add(ctx, alice, ref, ports.AddMember{Subject: "bob", Email: "other@example.test", Roles: []string{"member"}})
	checkErr(t, err, domain.ErrAlreadyMember)
	u, err := e.store.Users().GetByIdentity(ctx, issuer, "bob")
	if err != nil || u.ID() != bobID || u.Email() != "bob@example.test" {
		t.Errorf("bob after a refused add: got %v, %v; want the unchanged user %s", u, err, bobID)
	}
}

// TestConcurrentAddAndFirstUse: adds of one new identity and its own first
// requests, all at once, answer cleanly: one add wins, the others are
// already_member, every first use succeeds, and all see one user.
func TestConcurrentAddAndFirstUse(t *testing.T) {
	t.Parallel()
	e := newEnv(t, application.Config{})
	ctx := context.Background()
	alice := principal("alice")
	o := e.createOrg(t, alice, "acme")
	ref := domain.OrgRefByID(o.ID())

	const adds, uses = 4, 4
	var (
		wg      sync.WaitGroup
		addErrs = make([]error, adds)
		added   = make([]string, adds)
		useErrs = make([]error, uses)
		seen    = make([]string, uses)
		start   = make(chan struct{})
	)
	for i := range adds {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			m, err := e.app.Members.Add(ctx, alice, ref, ports.AddMember{Subject: "newbie", Roles: []string{"member"}})
			addErrs[i] = err
			if err == nil {
				added[i] = m.User.ID()
			}
		}()
	}
	for i := range uses {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			me, err := e.app.Me.Me(ctx, principal("newbie"))
			useErrs[i] = err
			if err == nil {
				seen[i] = me.User.ID()
			}
		}()
	}
	close(start)
	wg.Wait()

	var winner string
	for i, err := range addErrs {
		switch {
		case err == nil && winner == "":
			winner = added[i]
		case err == nil:
			t.Errorf("add %d: a second add succeeded", i)
		case !errors.Is(err, domain.ErrAlreadyMember):
			t.Errorf("add %d: got %v, want success or already_member", i, err)
		}
	}
	if winner == "" {
		t.Fatal("no add succeeded")
	}
	for i, err := range useErrs {
		if err != nil {
			t.Errorf("first use %d: %v", i, err)
		} else if seen[i] != winner {
			t.Errorf("first use %d: user %s, want %s", i, seen[i], winner)
		}
	}
}
