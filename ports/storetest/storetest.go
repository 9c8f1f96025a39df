// Package storetest is the contract test suite for ports.Store: every
// repository method and rule, run against any implementation. A storage
// adapter calls Run from its own tests with a constructor that returns a
// fresh, migrated, isolated store per test; subtests run in parallel.
//
// It depends only on the standard library, domain and ports, so every
// adapter is held to the same contract.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/orgstack/orgstack/domain"
	"github.com/orgstack/orgstack/ports"
)

// Run runs the contract suite. newStore must return a new, empty, migrated
// store that is cleaned up when t ends.
func Run(t *testing.T, newStore func(t *testing.T) ports.Store) {
	groups := []struct {
		name  string
		tests []contract
	}{
		{"Organizations", organizationTests},
		{"Users", userTests},
		{"Memberships", membershipTests},
		{"Roles", roleTests},
		{"Permissions", permissionTests},
		{"IdentityProviders", identityProviderTests},
		{"Webhooks", webhookTests},
		{"Access", accessTests},
		{"AccessAndCheckFacts", combinedTests},
		{"Transactions", txTests},
		{"Races", raceTests},
		{"Versions", versionTests},
		{"AuditEvents", auditTests},
		{"Idempotency", idempotencyTests},
		{"UserLifecycle", userLifecycleTests},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			for _, tt := range g.tests {
				t.Run(tt.name, func(t *testing.T) {
					t.Parallel()
					tt.fn(t, newFixture(t, newStore(t)))
				})
			}
		})
	}
}

// contract is one named case of the suite.
type contract struct {
	name string
	fn   func(t *testing.T, f *fixture)
}

// fixture creates test data in one store with predictable IDs and times.
type fixture struct {
	t   *testing.T
	s   ports.Store
	ctx context.Context
	n   int
}

func newFixture(t *testing.T, s ports.Store) *fixture {
	return &fixture{t: t, s: s, ctx: context.Background()}
}

// base is the fixtures' clock origin: UTC, microsecond precision.
var base = time.Date(2026, 3, 4, 5, 6, 7, 891234000, time.UTC)

// id returns a new UUID-shaped ID; IDs sort in creation order.
func (f *fixture) id() string {
	f.n++
	return fmt.Sprintf("00000000-0000-7000-8000-%012d", f.n)
}

// now returns a time that grows with every call, so created_at order is
// creation order.
func (f *fixture) now() time.Time {
	f.n++
	return base.Add(time.Duration(f.n) * time.Second)
}

func (f *fixture) org(slug, name string) *domain.Organization {
	f.t.Helper()
	o, err := domain.NewOrganization(f.id(), slug, name, map[string]string{"tier": "gold"}, f.now())
	must(f.t, err)
	must(f.t, f.s.Organizations().Create(f.ctx, o))
	return o
}

func (f *fixture) user(subject, email, name string) *domain.User {
	f.t.Helper()
	u, err := domain.NewUser(f.id(), "https://issuer.test", subject, email, name, f.now())
	must(f.t, err)
	must(f.t, f.s.Users().Create(f.ctx, u))
	return u
}

func (f *fixture) member(o *domain.Organization, u *domain.User, roles ...string) *domain.Membership {
	f.t.Helper()
	m, err := domain.NewMembership(o.ID(), u.ID(), roles, f.now())
	must(f.t, err)
	must(f.t, f.s.Memberships().Create(f.ctx, m))
	return m
}

func (f *fixture) suspend(m *domain.Membership) {
	f.t.Helper()
	st := "suspended"
	must(f.t, m.Apply(domain.MembershipChanges{Status: &st}, f.now()))
	must(f.t, f.s.Memberships().Update(f.ctx, m))
}

func (f *fixture) role(o *domain.Organization, key, name string, grants ...string) *domain.Role {
	f.t.Helper()
	r, err := domain.NewRole(f.id(), o.ID(), key, name, "about "+key, grants, f.now())
	must(f.t, err)
	must(f.t, f.s.Roles().Create(f.ctx, r))
	return r
}

func (f *fixture) perm(o *domain.Organization, key, description string) *domain.Permission {
	f.t.Helper()
	p, err := domain.NewCustomPermission(f.id(), o.ID(), key, description, f.now())
	must(f.t, err)
	must(f.t, f.s.Permissions().Create(f.ctx, p))
	return p
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("unexpected error: %v", err)
	}
}

func wantErr(t *testing.T, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("error: got %v, want %v", err, want)
	}
}

func pkey(t *testing.T, v string) domain.PermissionKey {
	t.Helper()
	k, err := domain.ParsePermissionKey(v)
	must(t, err)
	return k
}

// pr builds a page request; sort fields take a leading '-' for descending.
func pr(page, size int, sort ...string) ports.PageRequest {
	p := ports.PageRequest{Page: page, Size: size}
	for _, s := range sort {
		p.Sort = append(p.Sort, ports.SortField{Field: strings.TrimPrefix(s, "-"), Desc: strings.HasPrefix(s, "-")})
	}
	return p
}

func equalStrings(got, want []string) bool {
	if len(got) == 0 && len(want) == 0 {
		return true
	}
	return slices.Equal(got, want)
}

func wantStrings(t *testing.T, what string, got, want []string) {
	t.Helper()
	if !equalStrings(got, want) {
		t.Errorf("%s: got %q, want %q", what, got, want)
	}
}

func wantTime(t *testing.T, what string, got, want time.Time) {
	t.Helper()
	if !got.Equal(want) {
		t.Errorf("%s: got %v, want %v", what, got, want)
	}
	if got.Location() != time.UTC {
		t.Errorf("%s: got location %v, want UTC", what, got.Location())
	}
}

func sameOrg(t *testing.T, got, want *domain.Organization) {
	t.Helper()
	if got == nil {
		t.Fatalf("organization: got nil, want %s", want.ID())
	}
	if got.ID() != want.ID() || got.Slug() != want.Slug() || got.Name() != want.Name() ||
		got.Status() != want.Status() || got.Version() != want.Version() {
		t.Errorf("organization: got %s/%s/%s/%s/v%d, want %s/%s/%s/%s/v%d",
			got.ID(), got.Slug(), got.Name(), got.Status(), got.Version(),
			want.ID(), want.Slug(), want.Name(), want.Status(), want.Version())
	}
	if !maps.Equal(got.Metadata(), want.Metadata()) {
		t.Errorf("organization metadata: got %v, want %v", got.Metadata(), want.Metadata())
	}
	wantTime(t, "organization created_at", got.CreatedAt(), want.CreatedAt())
	wantTime(t, "organization updated_at", got.UpdatedAt(), want.UpdatedAt())
}

func sameUser(t *testing.T, got, want *domain.User) {
	t.Helper()
	if got == nil {
		t.Fatalf("user: got nil, want %s", want.ID())
	}
	if got.ID() != want.ID() || got.Issuer() != want.Issuer() || got.Subject() != want.Subject() ||
		got.Email() != want.Email() || got.Name() != want.Name() {
		t.Errorf("user: got %s/%s/%s/%q/%q, want %s/%s/%s/%q/%q",
			got.ID(), got.Issuer(), got.Subject(), got.Email(), got.Name(),
			want.ID(), want.Issuer(), want.Subject(), want.Email(), want.Name())
	}
	if got.Status() != want.Status() || got.Version() != want.Version() || !maps.Equal(got.Metadata(), want.Metadata()) {
		t.Errorf("user lifecycle: got %s v%d %v, want %s v%d %v",
			got.Status(), got.Version(), got.Metadata(), want.Status(), want.Version(), want.Metadata())
	}
	wantTime(t, "user created_at", got.CreatedAt(), want.CreatedAt())
	wantTime(t, "user updated_at", got.UpdatedAt(), want.UpdatedAt())
}

func roleKeys(rs []domain.RoleKey) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = string(r)
	}
	return out
}

func sameMembership(t *testing.T, got, want *domain.Membership) {
	t.Helper()
	if got == nil {
		t.Fatalf("membership: got nil, want %s/%s", want.OrgID(), want.UserID())
	}
	if got.OrgID() != want.OrgID() || got.UserID() != want.UserID() || got.Status() != want.Status() {
		t.Errorf("membership: got %s/%s/%s, want %s/%s/%s", got.OrgID(), got.UserID(), got.Status(),
			want.OrgID(), want.UserID(), want.Status())
	}
	wantStrings(t, "membership roles", roleKeys(got.Roles()), roleKeys(want.Roles()))
	wantTime(t, "membership joined_at", got.JoinedAt(), want.JoinedAt())
	wantTime(t, "membership updated_at", got.UpdatedAt(), want.UpdatedAt())
}

func grantStrings(gs []domain.Grant) []string {
	out := make([]string, len(gs))
	for i, g := range gs {
		out[i] = g.String()
	}
	return out
}

func sameRole(t *testing.T, got, want *domain.Role) {
	t.Helper()
	if got == nil {
		t.Fatalf("role: got nil, want %s", want.Key())
	}
	if got.ID() != want.ID() || got.OrgID() != want.OrgID() || got.Key() != want.Key() ||
		got.Name() != want.Name() || got.Description() != want.Description() || got.IsBuiltin() {
		t.Errorf("role: got %s/%s/%s/%q/%q, want %s/%s/%s/%q/%q",
			got.ID(), got.OrgID(), got.Key(), got.Name(), got.Description(),
			want.ID(), want.OrgID(), want.Key(), want.Name(), want.Description())
	}
	wantStrings(t, "role grants (in order)", grantStrings(got.Grants()), grantStrings(want.Grants()))
	wantTime(t, "role created_at", got.CreatedAt(), want.CreatedAt())
	wantTime(t, "role updated_at", got.UpdatedAt(), want.UpdatedAt())
}

func samePermission(t *testing.T, got, want *domain.Permission) {
	t.Helper()
	if got == nil {
		t.Fatalf("permission: got nil, want %s", want.Key())
	}
	if got.ID() != want.ID() || got.OrgID() != want.OrgID() || got.Key() != want.Key() ||
		got.Description() != want.Description() || got.IsSystem() {
		t.Errorf("permission: got %s/%s/%s/%q, want %s/%s/%s/%q",
			got.ID(), got.OrgID(), got.Key(), got.Description(),
			want.ID(), want.OrgID(), want.Key(), want.Description())
	}
	wantTime(t, "permission created_at", got.CreatedAt(), want.CreatedAt())
	wantTime(t, "permission updated_at", got.UpdatedAt(), want.UpdatedAt())
}

func orgIDs(os []*domain.Organization) []string {
	out := make([]string, len(os))
	for i, o := range os {
		out[i] = o.ID()
	}
	return out
}

func userIDs(us []*domain.User) []string {
	out := make([]string, len(us))
	for i, u := range us {
		out[i] = u.ID()
	}
	return out
}

func memberIDs(ms []ports.Member) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.Membership.UserID()
	}
	return out
}

func roleIDs(rs []*domain.Role) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = string(r.Key())
	}
	return out
}

func ids[T interface{ ID() string }](vs ...T) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = v.ID()
	}
	return out
}
