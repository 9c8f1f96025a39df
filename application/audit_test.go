package application_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/orgstack/orgstack/adapters/system"
	"github.com/orgstack/orgstack/application"
	"github.com/orgstack/orgstack/domain"
	"github.com/orgstack/orgstack/ports"
)

// failingStore is the real store whose transactions fail where the test
// says: the append of the audit event, or the commit after everything was
// written (the change's transaction then rolls back).
type failingStore struct {
	ports.Store
	failAppend, failCommit bool
}

var errInjected = errors.New("injected failure")

func (s *failingStore) RunInTx(ctx context.Context, fn func(ctx context.Context, r ports.Repositories) error) error {
	return s.Store.RunInTx(ctx, func(ctx context.Context, r ports.Repositories) error {
		if err := fn(ctx, failingRepos{Repositories: r, s: s}); err != nil {
			return err
		}
		if s.failCommit {
			return errInjected
		}
		return nil
	})
}

type failingRepos struct {
	ports.Repositories
	s *failingStore
}

func (r failingRepos) AuditEvents() ports.AuditEventRepository {
	return failingEvents{AuditEventRepository: r.Repositories.AuditEvents(), s: r.s}
}

type failingEvents struct {
	ports.AuditEventRepository
	s *failingStore
}

func (e failingEvents) Append(ctx context.Context, ev *domain.AuditEvent) error {
	if e.s.failAppend {
		return errInjected
	}
	return e.AuditEventRepository.Append(ctx, ev)
}

func (e *env) events(t *testing.T, orgID string) []*domain.AuditEvent {
	t.Helper()
	es, err := e.store.AuditEvents().List(context.Background(), ports.AuditEventFilter{OrgID: orgID, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	return es
}

func actions(es []*domain.AuditEvent) []domain.AuditAction {
	out := make([]domain.AuditAction, len(es))
	for i, e := range es {
		out[i] = e.Action()
	}
	return out
}

// A change and its event commit together: when the event cannot be
// written the change is not made, and when the transaction fails after
// both were written neither is kept.
func TestAuditEventAndChangeCommitTogether(t *testing.T) {
	t.Parallel()
	e := newEnv(t, application.Config{})
	ctx := context.Background()
	alice := principal("alice")
	o := e.createOrg(t, alice, "acme")
	ref := domain.OrgRefByID(o.ID())
	before := len(e.events(t, o.ID()))
	for _, fs := range []*failingStore{{Store: e.store, failAppend: true}, {Store: e.store, failCommit: true}} {
		app := application.New(application.Deps{Store: fs, Clock: e.clock, IDs: system.UUIDv7{}})
		if _, err := app.Roles.Create(ctx, alice, ref, ports.CreateRole{Key: "approver", Name: "Approver"}); !errors.Is(err, errInjected) {
			t.Fatalf("create role (%+v): %v, want the injected failure", *fs, err)
		}
		if _, err := e.app.Roles.Get(ctx, alice, ref, "approver"); !errors.Is(err, domain.ErrNotFound) {
			t.Errorf("role after a failed change (%+v): %v, want not found", *fs, err)
		}
		if got := e.events(t, o.ID()); len(got) != before {
			t.Errorf("events after a failed change (%+v): %v", *fs, actions(got))
		}
	}
	// A refused change writes nothing either.
	if _, err := e.app.Roles.Create(ctx, alice, ref, ports.CreateRole{Key: "owner", Name: "Owner"}); !errors.Is(err, domain.ErrBuiltinRole) {
		t.Fatalf("create owner role: %v", err)
	}
	if _, err := e.app.Members.Update(ctx, alice, ref, mustMe(t, e, alice), domain.MembershipChanges{Status: strp("suspended")}, 0); !errors.Is(err, domain.ErrLastOwner) {
		t.Fatalf("suspend the last owner: %v", err)
	}
	if got := e.events(t, o.ID()); len(got) != before {
		t.Errorf("events after refused changes: %v", actions(got))
	}
	// And a committed one has exactly its event, with who and what.
	if _, err := e.app.Roles.Create(ctx, alice, ref, ports.CreateRole{Key: "approver", Name: "Approver", Permissions: []string{"members:read"}}); err != nil {
		t.Fatal(err)
	}
	got := e.events(t, o.ID())
	if len(got) != before+1 || got[0].Action() != domain.ActionRoleCreated || got[0].Target() != (domain.Target{Type: "role", ID: "approver"}) {
		t.Fatalf("events = %v, want one role.created more", actions(got))
	}
	if a := got[0].Actor(); a.Kind != domain.ActorUser || a.Subject != "alice" || a.UserID != mustMe(t, e, alice) {
		t.Errorf("actor = %+v", a)
	}
}

func mustMe(t *testing.T, e *env, p ports.Principal) string {
	t.Helper()
	prof, err := e.app.Me.Me(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	return prof.User.ID()
}

// Request metadata in the context reaches the event.
func TestAuditEventCarriesRequestMeta(t *testing.T) {
	t.Parallel()
	e := newEnv(t, application.Config{})
	alice := principal("alice")
	o := e.createOrg(t, alice, "acme")
	meta := ports.RequestMeta{RequestID: "req-1", TraceID: "4bf92f3577b34da6a3ce929d0e0e4736", ClientIP: "198.51.100.4"}
	ctx := ports.WithRequestMeta(context.Background(), meta)
	if _, err := e.app.Organizations.Update(ctx, alice, domain.OrgRefByID(o.ID()), domain.OrganizationChanges{Name: strp("Acme Inc")}, 0); err != nil {
		t.Fatal(err)
	}
	ev := e.events(t, o.ID())[0]
	if ev.Action() != domain.ActionOrganizationUpdated || ev.Request() != (domain.RequestInfo{RequestID: "req-1", TraceID: meta.TraceID, ClientIP: "198.51.100.4"}) {
		t.Errorf("event = %s %+v", ev.Action(), ev.Request())
	}
	cs := ev.Changes()
	if len(cs) != 1 || cs[0].Field != "name" || cs[0].Before != "Org acme" || cs[0].After != "Acme Inc" {
		t.Errorf("changes = %+v, want name only", cs)
	}
}

// A user's own claims refreshed by a token are recorded as which fields
// changed, never their values.
func TestUserClaimsRefreshRecordsNoPersonalData(t *testing.T) {
	t.Parallel()
	e := newEnv(t, application.Config{})
	ctx := context.Background()
	alice := principal("alice")
	id := mustMe(t, e, alice)
	alice.Email = "alice.new@example.test"
	if _, err := e.app.Me.Me(ctx, alice); err != nil {
		t.Fatal(err)
	}
	es, err := e.store.AuditEvents().List(ctx, ports.AuditEventFilter{TargetID: id, Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if got := actions(es); !slices.Equal(got, []domain.AuditAction{domain.ActionUserUpdated, domain.ActionUserCreated}) {
		t.Fatalf("user events = %v", got)
	}
	for _, ev := range es {
		if ev.OrgID() != "" || ev.Actor().Kind != domain.ActorIdentityProvider {
			t.Errorf("%s: org %q actor %+v", ev.Action(), ev.OrgID(), ev.Actor())
		}
		for _, c := range ev.Changes() {
			if s, _ := c.After.(string); s != "" && c.Field != "issuer" {
				t.Errorf("%s: field %s carries a value %q", ev.Action(), c.Field, s)
			}
		}
	}
	if cs := es[0].Changes(); len(cs) != 1 || cs[0].Field != "email" || !cs[0].Redacted {
		t.Errorf("user.updated changes = %+v, want email redacted", cs)
	}
}
