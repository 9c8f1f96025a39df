package application_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/orgstack/orgstack/adapters/sqlstore/sqlstoretest"
	"github.com/orgstack/orgstack/application"
	"github.com/orgstack/orgstack/domain"
	"github.com/orgstack/orgstack/ports"
)

// TestConcurrentErase races the erasure of an organization's two owners:
// exactly one goes through, the other is the last owner, and the
// organization keeps one active owner.
func TestConcurrentErase(t *testing.T) {
	t.Parallel()
	t.Run("default store", func(t *testing.T) {
		t.Parallel()
		raceErase(t, newEnv(t, application.Config{}))
	})
	t.Run("SQLite file", func(t *testing.T) {
		t.Parallel()
		raceErase(t, newEnvOn(t, sqlstoretest.NewSQLiteFile(t), application.Config{}))
	})
}

func raceErase(t *testing.T, e *env) {
	ctx := context.Background()
	for i := range 4 {
		a, b := principal("ea-"+string(rune('a'+i))), principal("eb-"+string(rune('a'+i)))
		o := e.createOrg(t, a, "erase-race-"+string(rune('a'+i)))
		// Both also belong to a second organization owned by someone else,
		// so the erasures lock several organizations each.
		other := e.createOrg(t, principal("ec-"+string(rune('a'+i))), "erase-other-"+string(rune('a'+i)))
		ids := []string{e.userID(t, a), e.addMember(t, o, b, "owner")}
		e.addMember(t, other, a, "member")
		e.addMember(t, other, b, "admin")
		errs := make([]error, 2)
		var start, done sync.WaitGroup
		start.Add(1)
		for j := range 2 {
			done.Add(1)
			go func() {
				defer done.Done()
				start.Wait()
				errs[j] = e.app.Users.Erase(ctx, platformAdmin(), ids[j], 0)
			}()
		}
		start.Done()
		done.Wait()
		ok, last := -1, 0
		for j, err := range errs {
			var lo *domain.LastOwnerError
			switch {
			case err == nil:
				if ok >= 0 {
					t.Fatalf("round %d: both erasures went through", i)
				}
				ok = j
			case errors.As(err, &lo) && errors.Is(err, domain.ErrLastOwner):
				if len(lo.Organizations) != 1 || lo.Organizations[0].ID != o.ID() {
					t.Fatalf("round %d: last_owner names %v, want %s", i, lo.Organizations, o.ID())
				}
				last++
			default:
				t.Fatalf("round %d: unexpected error %v", i, err)
			}
		}
		if ok < 0 || last != 1 {
			t.Fatalf("round %d: got %v, want one erasure and one last-owner error", i, errs)
		}
		kept := ids[1-ok]
		if !e.member(t, o, kept).IsActiveOwner() {
			t.Fatalf("round %d: the remaining owner is not an active owner", i)
		}
		for _, org := range []*domain.Organization{o, other} {
			if _, err := e.store.Memberships().Get(ctx, org.ID(), ids[ok]); !errors.Is(err, domain.ErrNotFound) {
				t.Fatalf("round %d: erased user still a member of %s: %v", i, org.Slug(), err)
			}
		}
		u, err := e.store.Users().Get(ctx, ids[ok])
		if err != nil || u.Status() != domain.UserErased || u.Email() != "" || u.Name() != "" {
			t.Fatalf("round %d: erased user %v %v", i, u, err)
		}
	}
}

// TestUserLifecycleRules: only platform administrators change a user's
// status, a status other than active or deactivated is invalid, and a
// deactivated caller is refused with a token error.
func TestUserLifecycleRules(t *testing.T) {
	t.Parallel()
	e := newEnv(t, application.Config{})
	ctx := context.Background()
	bob := principal("lr-bob")
	id := e.userID(t, bob)

	_, err := e.app.Users.SetStatus(ctx, principal("lr-alice"), id, "deactivated", 0)
	checkErr(t, err, domain.ErrPlatformAdminRequired)
	checkErr(t, e.app.Users.Erase(ctx, bob, id, 0), domain.ErrPlatformAdminRequired)
	_, err = e.app.Users.SetStatus(ctx, platformAdmin(), id, "erased", 0)
	var v *domain.ValidationError
	if !errors.As(err, &v) || v.Fields[0].Field != "status" {
		t.Fatalf("status erased: got %v, want a validation error on status", err)
	}
	_, err = e.app.Users.SetStatus(ctx, platformAdmin(), id, "deactivated", 2)
	checkErr(t, err, domain.ErrVersionMismatch)
	_, err = e.app.Users.SetStatus(ctx, platformAdmin(), id, "deactivated", ports.IfMatchRequired)
	checkErr(t, err, domain.ErrPreconditionRequired)
	u, err := e.app.Users.SetStatus(ctx, platformAdmin(), id, "deactivated", 1)
	checkErr(t, err, nil)
	if u.Status() != domain.UserDeactivated || u.Version() != 2 {
		t.Fatalf("deactivated: %s v%d", u.Status(), u.Version())
	}
	_, err = e.app.Me.Me(ctx, bob)
	var te *ports.TokenError
	if !errors.As(err, &te) || te.Reason != ports.ReasonUserDeactivated {
		t.Fatalf("me of a deactivated user: got %v, want reason user_deactivated", err)
	}
	_, err = e.app.Me.UpdateMetadata(ctx, bob, map[string]*string{}, 0)
	if !errors.As(err, &te) || te.Reason != ports.ReasonUserDeactivated {
		t.Fatalf("metadata of a deactivated user: got %v, want reason user_deactivated", err)
	}
	// A deactivated platform administrator is refused like anyone.
	root := platformAdmin()
	rootID := e.userID(t, root)
	other := platformAdmin()
	other.Subject = "lr-root-2"
	_, err = e.app.Users.SetStatus(ctx, other, rootID, "deactivated", 0)
	checkErr(t, err, nil)
	_, err = e.app.Users.ListAll(ctx, root, ports.UserQuery{})
	if !errors.As(err, &te) || te.Reason != ports.ReasonUserDeactivated {
		t.Fatalf("a deactivated administrator: got %v, want reason user_deactivated", err)
	}
}
