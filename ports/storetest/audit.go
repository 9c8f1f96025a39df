package storetest

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/orgstack/orgstack/domain"
	"github.com/orgstack/orgstack/ports"
)

var alice = domain.Actor{Kind: domain.ActorUser, Issuer: "https://issuer.test", Subject: "alice", UserID: "u-alice"}

// event builds an event at base+sec seconds (so tests control ties).
func (f *fixture) event(sec int, actor domain.Actor, orgID string, action domain.AuditAction, target string, changes ...domain.FieldChange) *domain.AuditEvent {
	f.t.Helper()
	e, err := domain.NewAuditEvent(f.id(), base.Add(time.Duration(sec)*time.Second), actor, orgID, action, target, changes,
		domain.RequestInfo{RequestID: "req-" + target, TraceID: "0af7651916cd43dd8448eb211c80319c", ClientIP: "203.0.113.7"})
	must(f.t, err)
	return e
}

func (f *fixture) appendEvents(es ...*domain.AuditEvent) {
	f.t.Helper()
	must(f.t, f.s.RunInTx(f.ctx, func(ctx context.Context, r ports.Repositories) error {
		for _, e := range es {
			if err := r.AuditEvents().Append(ctx, e); err != nil {
				return err
			}
		}
		return nil
	}))
}

func eventIDs(es []*domain.AuditEvent) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.ID()
	}
	return out
}

func (f *fixture) listEvents(flt ports.AuditEventFilter) []*domain.AuditEvent {
	f.t.Helper()
	if flt.Limit == 0 {
		flt.Limit = 100
	}
	es, err := f.s.AuditEvents().List(f.ctx, flt)
	must(f.t, err)
	return es
}

var auditTests = []contract{
	{"RoundTrip", func(t *testing.T, f *fixture) {
		o := f.org("acme-corp", "Acme")
		admin := domain.Actor{Kind: domain.ActorUser, Issuer: "https://issuer.test", Subject: "root", UserID: "u-root", PlatformAdmin: true}
		e := f.event(1, admin, o.ID(), domain.ActionMemberRolesChanged, "u-bob",
			domain.FieldChange{Field: "roles", Before: []string{"member"}, After: []string{"admin", "member"}},
			domain.FieldChange{Field: "version", Before: int64(1), After: int64(2)})
		f.appendEvents(e)
		got := f.listEvents(ports.AuditEventFilter{OrgID: o.ID()})
		if len(got) != 1 {
			t.Fatalf("List = %d events, want 1", len(got))
		}
		g := got[0]
		if g.ID() != e.ID() || !g.OccurredAt().Equal(e.OccurredAt()) || g.Actor() != admin || g.OrgID() != o.ID() ||
			g.Action() != e.Action() || g.Target() != e.Target() || g.Request() != e.Request() {
			t.Errorf("List = %+v, want %+v", g, e)
		}
		cs := g.Changes()
		if len(cs) != 2 || cs[0].Field != "roles" || cs[1].Field != "version" {
			t.Fatalf("changes = %+v", cs)
		}
		if after, _ := cs[0].After.([]any); len(after) != 2 || after[0] != "admin" {
			t.Errorf("roles after = %#v, want [admin member]", cs[0].After)
		}
	}},
	{"UserEventsBelongToNoOrganization", func(t *testing.T, f *fixture) {
		o := f.org("acme-corp", "Acme")
		u := f.event(1, alice, "", domain.ActionUserCreated, "u-alice")
		m := f.event(2, alice, o.ID(), domain.ActionMemberAdded, "u-alice")
		f.appendEvents(u, m)
		if got := eventIDs(f.listEvents(ports.AuditEventFilter{OrgID: o.ID()})); !slices.Equal(got, []string{m.ID()}) {
			t.Errorf("organization's events = %v, want only the member event", got)
		}
		if got := eventIDs(f.listEvents(ports.AuditEventFilter{})); !slices.Equal(got, []string{m.ID(), u.ID()}) {
			t.Errorf("every event = %v", got)
		}
		if f.listEvents(ports.AuditEventFilter{})[1].OrgID() != "" {
			t.Error("a user event has an organization")
		}
	}},
	{"NewestFirstAndKeyset", func(t *testing.T, f *fixture) {
		o := f.org("acme-corp", "Acme")
		var es []*domain.AuditEvent
		for i := range 7 {
			es = append(es, f.event(i/2, alice, o.ID(), domain.ActionRoleUpdated, "r")) // pairs share a time
		}
		f.appendEvents(es...)
		var want []string
		for i := len(es) - 1; i >= 0; i-- {
			want = append(want, es[i].ID())
		}
		var got []string
		var after ports.AuditCursor
		for range 10 {
			page := f.listEvents(ports.AuditEventFilter{OrgID: o.ID(), After: after, Limit: 3})
			got = append(got, eventIDs(page)...)
			if len(page) < 3 {
				break
			}
			last := page[len(page)-1]
			after = ports.AuditCursor{OccurredAt: last.OccurredAt(), ID: last.ID()}
		}
		if !slices.Equal(got, want) {
			t.Errorf("pages = %v, want %v", got, want)
		}
	}},
	{"Filters", func(t *testing.T, f *fixture) {
		o, other := f.org("acme-corp", "Acme"), f.org("other-corp", "Other")
		bob := domain.Actor{Kind: domain.ActorUser, Issuer: "https://issuer.test", Subject: "bob", UserID: "u-bob"}
		e1 := f.event(10, alice, o.ID(), domain.ActionRoleCreated, "r1")
		e2 := f.event(20, bob, o.ID(), domain.ActionMemberRolesChanged, "u-carol")
		e3 := f.event(30, alice, o.ID(), domain.ActionMemberRemoved, "u-carol")
		e4 := f.event(40, alice, other.ID(), domain.ActionRoleCreated, "r1")
		e5 := f.event(50, domain.SystemActor, o.ID(), domain.ActionWebhookDisabled, "w1")
		f.appendEvents(e1, e2, e3, e4, e5)
		cases := []struct {
			name string
			flt  ports.AuditEventFilter
			want []*domain.AuditEvent
		}{
			{"org", ports.AuditEventFilter{OrgID: o.ID()}, []*domain.AuditEvent{e5, e3, e2, e1}},
			{"all", ports.AuditEventFilter{}, []*domain.AuditEvent{e5, e4, e3, e2, e1}},
			{"after", ports.AuditEventFilter{OrgID: o.ID(), OccurredAfter: e2.OccurredAt()}, []*domain.AuditEvent{e5, e3}},
			{"before", ports.AuditEventFilter{OrgID: o.ID(), OccurredBefore: e3.OccurredAt()}, []*domain.AuditEvent{e2, e1}},
			{"actor", ports.AuditEventFilter{ActorUserID: "u-alice"}, []*domain.AuditEvent{e4, e3, e1}},
			{"action exact", ports.AuditEventFilter{Action: "member.removed"}, []*domain.AuditEvent{e3}},
			{"action prefix", ports.AuditEventFilter{OrgID: o.ID(), Action: "member."}, []*domain.AuditEvent{e3, e2}},
			{"not a prefix without dot", ports.AuditEventFilter{Action: "member"}, nil},
			{"target type", ports.AuditEventFilter{TargetType: "role"}, []*domain.AuditEvent{e4, e1}},
			{"target id", ports.AuditEventFilter{OrgID: o.ID(), TargetID: "u-carol"}, []*domain.AuditEvent{e3, e2}},
			{"combined", ports.AuditEventFilter{OrgID: o.ID(), TargetType: "member", ActorUserID: "u-bob"}, []*domain.AuditEvent{e2}},
		}
		for _, c := range cases {
			if got, want := eventIDs(f.listEvents(c.flt)), eventIDs(c.want); !slices.Equal(got, want) {
				t.Errorf("%s: List = %v, want %v", c.name, got, want)
			}
		}
	}},
	{"RolledBackWithItsChange", func(t *testing.T, f *fixture) {
		o := f.org("acme-corp", "Acme")
		boom := errors.New("boom")
		err := f.s.RunInTx(f.ctx, func(ctx context.Context, r ports.Repositories) error {
			if err := r.AuditEvents().Append(ctx, f.event(1, alice, o.ID(), domain.ActionRoleCreated, "r")); err != nil {
				return err
			}
			return boom // the change fails after its event
		})
		if !errors.Is(err, boom) {
			t.Fatalf("RunInTx = %v", err)
		}
		if got := f.listEvents(ports.AuditEventFilter{}); len(got) != 0 {
			t.Errorf("events after rollback = %v, want none", eventIDs(got))
		}
	}},
	{"SurviveOrganizationDeletion", func(t *testing.T, f *fixture) {
		o := f.org("acme-corp", "Acme")
		e := f.event(1, alice, o.ID(), domain.ActionOrganizationDeleted, o.ID())
		must(t, f.s.RunInTx(f.ctx, func(ctx context.Context, r ports.Repositories) error {
			if err := r.Organizations().Delete(ctx, o.ID()); err != nil {
				return err
			}
			return r.AuditEvents().Append(ctx, e)
		}))
		if got := eventIDs(f.listEvents(ports.AuditEventFilter{OrgID: o.ID()})); !slices.Equal(got, []string{e.ID()}) {
			t.Errorf("events of the deleted organization = %v", got)
		}
	}},
	{"Prune", func(t *testing.T, f *fixture) {
		pr, ok := f.s.(ports.AuditPruner)
		if !ok {
			t.Skip("the store offers no pruning")
		}
		o := f.org("acme-corp", "Acme")
		old, mid, recent := f.event(1, alice, o.ID(), domain.ActionRoleCreated, "r"), f.event(2, alice, o.ID(), domain.ActionRoleUpdated, "r"), f.event(3, alice, o.ID(), domain.ActionRoleDeleted, "r")
		f.appendEvents(old, mid, recent)
		n, err := pr.PruneAuditEvents(f.ctx, recent.OccurredAt())
		must(t, err)
		if n != 2 {
			t.Errorf("pruned %d, want 2", n)
		}
		if got := eventIDs(f.listEvents(ports.AuditEventFilter{})); !slices.Equal(got, []string{recent.ID()}) {
			t.Errorf("after prune = %v, want only the recent event", got)
		}
		// Appending still works afterwards (the guard is back on: see the
		// adapter's own test for the refusal).
		f.appendEvents(f.event(4, alice, o.ID(), domain.ActionRoleCreated, "r2"))
	}},
}
