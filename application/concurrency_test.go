package application_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/orgstack/orgstack/adapters/sqlstore/sqlstoretest"
	"github.com/orgstack/orgstack/adapters/system"
	"github.com/orgstack/orgstack/application"
	"github.com/orgstack/orgstack/domain"
	"github.com/orgstack/orgstack/ports"
)

// countingStore is the real store, counting the calls that cost a round
// trip outside a transaction, and user writes in or outside one (a user's
// creation and its audit event share a transaction).
type countingStore struct {
	ports.Store
	mu                               sync.Mutex
	loadAccess, checkFacts, combined int
	orgLookups, userWrites           int
}

func (s *countingStore) inc(n *int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	*n++
}

func (s *countingStore) reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.loadAccess, s.checkFacts, s.combined, s.orgLookups, s.userWrites = 0, 0, 0, 0, 0
}

// calls is how many store round trips were counted outside transactions.
func (s *countingStore) calls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.loadAccess + s.checkFacts + s.combined + s.orgLookups + s.userWrites
}

func (s *countingStore) LoadAccess(ctx context.Context, ref domain.OrgRef, iss, sub string) (ports.Access, error) {
	s.inc(&s.loadAccess)
	return s.Store.LoadAccess(ctx, ref, iss, sub)
}

func (s *countingStore) CheckFacts(ctx context.Context, orgID string, who ports.CheckSubject, perm domain.PermissionKey) (ports.CheckFacts, error) {
	s.inc(&s.checkFacts)
	return s.Store.CheckFacts(ctx, orgID, who, perm)
}

func (s *countingStore) AccessAndCheckFacts(ctx context.Context, ref domain.OrgRef, iss, sub string,
	who ports.CheckSubject, perm domain.PermissionKey) (ports.Access, ports.CheckFacts, error) {
	s.inc(&s.combined)
	return s.Store.AccessAndCheckFacts(ctx, ref, iss, sub, who, perm)
}

func (s *countingStore) Organizations() ports.OrganizationRepository {
	s.inc(&s.orgLookups)
	return s.Store.Organizations()
}

func (s *countingStore) Users() ports.UserRepository {
	return countingUsers{UserRepository: s.Store.Users(), s: s}
}

func (s *countingStore) RunInTx(ctx context.Context, fn func(ctx context.Context, r ports.Repositories) error) error {
	return s.Store.RunInTx(ctx, func(ctx context.Context, r ports.Repositories) error {
		return fn(ctx, countingRepos{Repositories: r, s: s})
	})
}

type countingRepos struct {
	ports.Repositories
	s *countingStore
}

func (r countingRepos) Users() ports.UserRepository {
	return countingUsers{UserRepository: r.Repositories.Users(), s: r.s}
}

type countingUsers struct {
	ports.UserRepository
	s *countingStore
}

func (u countingUsers) Create(ctx context.Context, x *domain.User) error {
	u.s.inc(&u.s.userWrites)
	return u.UserRepository.Create(ctx, x)
}

func (u countingUsers) Update(ctx context.Context, x *domain.User) error {
	u.s.inc(&u.s.userWrites)
	return u.UserRepository.Update(ctx, x)
}

func TestRoundTrips(t *testing.T) {
	t.Parallel()
	cs := &countingStore{Store: sqlstoretest.New(t)}
	clock := &testClock{now: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)}
	app := application.New(application.Deps{Store: cs, Clock: clock, IDs: system.UUIDv7{}})
	ctx := context.Background()
	alice := principal("alice")
	acme, err := app.Organizations.Create(ctx, alice, ports.CreateOrganization{Slug: "acme", Name: "Acme"})
	checkErr(t, err, nil)
	other, err := app.Organizations.Create(ctx, alice, ports.CreateOrganization{Slug: "other", Name: "Other"})
	checkErr(t, err, nil)
	prof, err := app.Me.Me(ctx, alice)
	checkErr(t, err, nil)
	frozen, err := app.Organizations.Create(ctx, alice, ports.CreateOrganization{Slug: "frozen", Name: "Frozen"})
	checkErr(t, err, nil)
	_, err = app.Organizations.Update(ctx, platformAdmin(), domain.ParseOrgRef(frozen.ID()),
		domain.OrganizationChanges{Status: strp("suspended")}, 0)
	checkErr(t, err, nil)
	bob := principal("bob")
	errAllowed := errors.New("allowed in a suspended organization")
	errValid := errors.New("invalid check accepted")

	type counts struct{ loadAccess, checkFacts, combined, orgLookups, userWrites int }
	tests := []struct {
		name string
		act  func() error
		want error
		cnt  counts
	}{
		{"mismatch by slug, decided from the token", func() error {
			_, err := app.Organizations.Get(ctx, bound(alice, "acme"), domain.ParseOrgRef("other"))
			return err
		}, domain.ErrOrganizationMismatch, counts{}},
		{"mismatch by ID, decided from the token", func() error {
			_, err := app.Organizations.Get(ctx, bound(alice, acme.ID()), domain.ParseOrgRef(other.ID()))
			return err
		}, domain.ErrOrganizationMismatch, counts{}},
		{"mixed forms need one lookup", func() error {
			_, err := app.Organizations.Get(ctx, bound(alice, acme.ID()), domain.ParseOrgRef("other"))
			return err
		}, domain.ErrOrganizationMismatch, counts{orgLookups: 1}},
		{"a read is one round trip and no write", func() error {
			_, err := app.Members.List(ctx, alice, domain.ParseOrgRef("acme"), ports.MemberQuery{})
			return err
		}, nil, counts{loadAccess: 1}},
		{"a check is one round trip", func() error {
			_, err := app.Checks.Check(ctx, alice, domain.ParseOrgRef(acme.ID()), ports.CheckRequest{UserID: prof.User.ID(), Permission: "members:read"})
			return err
		}, nil, counts{combined: 1}},
		{"a check by slug and identity is one round trip", func() error {
			_, err := app.Checks.Check(ctx, alice, domain.ParseOrgRef("acme"), ports.CheckRequest{Subject: alice.Subject, Permission: "invoices:pay"})
			return err
		}, nil, counts{combined: 1}},
		{"a check in a suspended organization is one round trip", func() error {
			res, err := app.Checks.Check(ctx, alice, domain.ParseOrgRef(frozen.ID()), ports.CheckRequest{UserID: prof.User.ID(), Permission: "members:read"})
			if err == nil && res.Allowed {
				return errAllowed
			}
			return err
		}, nil, counts{combined: 1}},
		{"a caller's first check also creates the caller", func() error {
			_, err := app.Checks.Check(ctx, bob, domain.ParseOrgRef(acme.ID()), ports.CheckRequest{UserID: prof.User.ID(), Permission: "members:read"})
			return err
		}, domain.ErrNotFound, counts{combined: 1, userWrites: 1}},
		{"a check of a non-member caller is one round trip", func() error {
			_, err := app.Checks.Check(ctx, bob, domain.ParseOrgRef(acme.ID()), ports.CheckRequest{UserID: prof.User.ID(), Permission: "members:read"})
			return err
		}, domain.ErrNotFound, counts{combined: 1}},
		{"an invalid check authorizes first", func() error {
			_, err := app.Checks.Check(ctx, alice, domain.ParseOrgRef(acme.ID()), ports.CheckRequest{Permission: "members:read"})
			if v := new(domain.ValidationError); errors.As(err, &v) {
				return nil
			}
			if err == nil {
				return errValid
			}
			return err
		}, nil, counts{loadAccess: 1}},
		{"a batch is one round trip per check", func() error {
			r := ports.CheckRequest{UserID: prof.User.ID(), Permission: "members:read"}
			_, err := app.Checks.CheckBatch(ctx, alice, domain.ParseOrgRef(acme.ID()), []ports.CheckRequest{r, r, r})
			return err
		}, nil, counts{combined: 1, checkFacts: 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cs.reset()
			checkErr(t, tt.act(), tt.want)
			got := counts{cs.loadAccess, cs.checkFacts, cs.combined, cs.orgLookups, cs.userWrites}
			if got != tt.cnt {
				t.Fatalf("got %+v, want %+v", got, tt.cnt)
			}
		})
	}
}

// TestConcurrentLastOwner races two owners who each step down: exactly one
// may, and the organization keeps one active owner.
func TestConcurrentLastOwner(t *testing.T) {
	t.Parallel()
	t.Run("default store", func(t *testing.T) {
		t.Parallel()
		raceOwners(t, newEnv(t, application.Config{}))
	})
	t.Run("SQLite file", func(t *testing.T) {
		t.Parallel()
		raceOwners(t, newEnvOn(t, sqlstoretest.NewSQLiteFile(t), application.Config{}))
	})
}

func raceOwners(t *testing.T, e *env) {
	ctx := context.Background()
	alice, bob := principal("alice"), principal("bob")
	for i := range 5 {
		o := e.createOrg(t, alice, "race-"+string(rune('a'+i)))
		ids := []string{e.userID(t, alice), e.addMember(t, o, bob, "owner")}
		callers := []ports.Principal{alice, bob}
		errs := make([]error, 2)
		var start, done sync.WaitGroup
		start.Add(1)
		for j := range 2 {
			done.Add(1)
			go func() {
				defer done.Done()
				start.Wait()
				roles := []string{"admin"}
				_, errs[j] = e.app.Members.Update(ctx, callers[j], domain.ParseOrgRef(o.ID()), ids[j], domain.MembershipChanges{Roles: &roles}, 0)
			}()
		}
		start.Done()
		done.Wait()
		ok, last := 0, 0
		for _, err := range errs {
			switch {
			case err == nil:
				ok++
			case errors.Is(err, domain.ErrLastOwner):
				last++
			default:
				t.Fatalf("round %d: unexpected error %v", i, err)
			}
		}
		if ok != 1 || last != 1 {
			t.Fatalf("round %d: got %d successes and %d last-owner errors (%v), want 1 and 1", i, ok, last, errs)
		}
		owners := 0
		for _, id := range ids {
			if e.member(t, o, id).IsActiveOwner() {
				owners++
			}
		}
		if owners != 1 {
			t.Fatalf("round %d: got %d active owners, want 1", i, owners)
		}
	}
}
