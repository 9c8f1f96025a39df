package application_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/orgstack/orgstack/adapters/sqlstore"
	"github.com/orgstack/orgstack/adapters/sqlstore/sqlstoretest"
	"github.com/orgstack/orgstack/adapters/system"
	"github.com/orgstack/orgstack/application"
	"github.com/orgstack/orgstack/domain"
	"github.com/orgstack/orgstack/ports"
)

const issuer = "https://idp.example.test"

// testClock is a clock the test sets; it starts at a fixed instant.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// env is one application on its own, freshly migrated store.
type env struct {
	app   *application.App
	store *sqlstore.Store
	clock *testClock
}

func newEnv(t *testing.T, cfg application.Config) *env {
	t.Helper()
	return newEnvOn(t, sqlstoretest.New(t), cfg)
}

func newEnvOn(t *testing.T, store *sqlstore.Store, cfg application.Config) *env {
	t.Helper()
	clock := &testClock{now: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)}
	app := application.New(application.Deps{Store: store, Clock: clock, IDs: system.UUIDv7{}, Config: cfg})
	return &env{app: app, store: store, clock: clock}
}

// principal returns an unbound, non-admin caller with that subject.
func principal(sub string) ports.Principal {
	return ports.Principal{Issuer: issuer, Subject: sub, Email: sub + "@example.test", Name: "User " + sub}
}

func bound(p ports.Principal, org string) ports.Principal {
	p.OrgClaim = org
	return p
}

func platformAdmin() ports.Principal {
	p := principal("root")
	p.PlatformAdmin = true
	return p
}

// createOrg creates an organization owned by owner.
func (e *env) createOrg(t *testing.T, owner ports.Principal, slug string) *domain.Organization {
	t.Helper()
	o, err := e.app.Organizations.Create(context.Background(), owner, ports.CreateOrganization{Slug: slug, Name: "Org " + slug})
	if err != nil {
		t.Fatalf("create organization %q: %v", slug, err)
	}
	return o
}

// userID returns the ID of p's user record, creating it if needed.
func (e *env) userID(t *testing.T, p ports.Principal) string {
	t.Helper()
	prof, err := e.app.Me.Me(context.Background(), p)
	if err != nil {
		t.Fatalf("me %s: %v", p.Subject, err)
	}
	return prof.User.ID()
}

// addMember makes p a member of org with roles, acting as the platform admin.
func (e *env) addMember(t *testing.T, org *domain.Organization, p ports.Principal, roles ...string) string {
	t.Helper()
	id := e.userID(t, p)
	if _, err := e.app.Members.Add(context.Background(), platformAdmin(), domain.ParseOrgRef(org.ID()), ports.AddMember{UserID: id, Roles: roles}); err != nil {
		t.Fatalf("add member %s: %v", p.Subject, err)
	}
	return id
}

// setStatus changes a membership's status as the platform admin.
func (e *env) setStatus(t *testing.T, org *domain.Organization, userID, status string) {
	t.Helper()
	if _, err := e.app.Members.Update(context.Background(), platformAdmin(), domain.ParseOrgRef(org.ID()), userID, domain.MembershipChanges{Status: &status}, 0); err != nil {
		t.Fatalf("set member status: %v", err)
	}
}

func (e *env) createPermission(t *testing.T, org *domain.Organization, key string) {
	t.Helper()
	if _, err := e.app.Permissions.Create(context.Background(), platformAdmin(), domain.ParseOrgRef(org.ID()), ports.CreatePermission{Key: key}); err != nil {
		t.Fatalf("create permission %s: %v", key, err)
	}
}

func (e *env) createRole(t *testing.T, org *domain.Organization, key string, grants ...string) {
	t.Helper()
	if _, err := e.app.Roles.Create(context.Background(), platformAdmin(), domain.ParseOrgRef(org.ID()), ports.CreateRole{Key: key, Name: key, Permissions: grants}); err != nil {
		t.Fatalf("create role %s: %v", key, err)
	}
}

// member reads a membership straight from the store.
func (e *env) member(t *testing.T, org *domain.Organization, userID string) *domain.Membership {
	t.Helper()
	m, err := e.store.Memberships().Get(context.Background(), org.ID(), userID)
	if err != nil {
		t.Fatalf("get membership: %v", err)
	}
	return m
}

// checkErr fails unless err matches want (nil: no error).
func checkErr(t *testing.T, err, want error) {
	t.Helper()
	switch {
	case want == nil && err != nil:
		t.Fatalf("got error %v, want none", err)
	case want != nil && !errors.Is(err, want):
		t.Fatalf("got error %v, want %v", err, want)
	}
}

// checkInvalid fails unless err is a validation error naming field.
func checkInvalid(t *testing.T, err error, field string) {
	t.Helper()
	var v *domain.ValidationError
	if !errors.As(err, &v) {
		t.Fatalf("got error %v, want a validation error on %q", err, field)
	}
	if !slices.ContainsFunc(v.Fields, func(f domain.FieldError) bool { return f.Field == field }) {
		t.Fatalf("got validation error %v, want one on %q", v, field)
	}
}

// checkUnknownReference requires an unknown-reference error naming field.
func checkUnknownReference(t *testing.T, err error, field string) {
	t.Helper()
	var u *domain.UnknownReferenceError
	if !errors.As(err, &u) {
		t.Fatalf("got error %v, want an unknown reference on %q", err, field)
	}
	if !slices.ContainsFunc(u.Fields, func(f domain.FieldError) bool { return f.Field == field }) {
		t.Fatalf("got %v, want one on %q", u, field)
	}
	if domain.KindOf(err) != domain.KindConflict {
		t.Fatalf("kind of %v is %v, want KindConflict", err, domain.KindOf(err))
	}
}

func strp(s string) *string { return &s }
