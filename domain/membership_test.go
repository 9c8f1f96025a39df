package domain_test

import (
	"errors"
	"slices"
	"strconv"
	"testing"

	"github.com/orgstack/orgstack/domain"
)

func TestParseMemberStatus(t *testing.T) {
	t.Parallel()
	tests := []struct {
		give    string
		want    domain.MemberStatus
		wantErr bool
	}{
		{give: "active", want: domain.MemberActive},
		{give: "suspended", want: domain.MemberSuspended},
		{give: "", wantErr: true},
		{give: "Suspended", wantErr: true},
		{give: "removed", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.give, func(t *testing.T) {
			t.Parallel()
			got, err := domain.ParseMemberStatus(tt.give)
			if tt.wantErr {
				checkFields(t, err, []string{""})
				return
			}
			if err != nil {
				t.Fatalf("ParseMemberStatus(%q) error = %v, want nil", tt.give, err)
			}
			if got != tt.want || got.String() != tt.give {
				t.Errorf("ParseMemberStatus(%q) = %q, want %q", tt.give, got, tt.want)
			}
		})
	}
}

func roleKeys(vs ...string) []domain.RoleKey {
	out := make([]domain.RoleKey, len(vs))
	for i, v := range vs {
		out[i] = domain.RoleKey(v)
	}
	return out
}

func distinctRoles(n int) []string {
	out := make([]string, n)
	for i := range n {
		out[i] = "role" + strconv.Itoa(i)
	}
	return out
}

func TestNewMembership(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		give       []string
		want       []domain.RoleKey
		wantFields []string
	}{
		{name: "one role", give: []string{"member"}, want: roleKeys("member")},
		{name: "sorted", give: []string{"owner", "admin", "member"}, want: roleKeys("admin", "member", "owner")},
		{name: "deduplicated", give: []string{"member", "approver", "member", "approver"}, want: roleKeys("approver", "member")},
		{name: "50 roles", give: distinctRoles(50), want: func() []domain.RoleKey {
			ks := roleKeys(distinctRoles(50)...)
			slices.Sort(ks)
			return ks
		}()},
		{name: "51 roles", give: distinctRoles(51), wantFields: []string{"roles"}},
		{name: "nil roles", give: nil, wantFields: []string{"roles"}},
		{name: "no roles", give: []string{}, wantFields: []string{"roles"}},
		{name: "bad role keys named by index", give: []string{"member", "Owner", "x", "ok-role", ""}, wantFields: []string{"roles/1", "roles/2", "roles/4"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m, err := domain.NewMembership("org-1", "user-1", tt.give, t0)
			checkFields(t, err, tt.wantFields)
			if len(tt.wantFields) > 0 {
				if m != nil {
					t.Errorf("NewMembership returned %v with an error, want nil", m)
				}
				return
			}
			if got := m.Roles(); !slices.Equal(got, tt.want) {
				t.Errorf("Roles() = %q, want %q", got, tt.want)
			}
			if m.OrgID() != "org-1" || m.UserID() != "user-1" || m.Status() != domain.MemberActive || !m.IsActive() ||
				!m.JoinedAt().Equal(t0) || !m.UpdatedAt().Equal(t0) {
				t.Errorf("NewMembership = {%q %q %v active=%v %v %v}, want {org-1 user-1 active active=true %v %v}",
					m.OrgID(), m.UserID(), m.Status(), m.IsActive(), m.JoinedAt(), m.UpdatedAt(), t0, t0)
			}
		})
	}
}

// membership returns an active membership holding roles, suspended when
// status is "suspended".
func membership(t *testing.T, status string, roles ...string) *domain.Membership {
	t.Helper()
	m, err := domain.NewMembership("org-1", "user-1", roles, t0)
	if err != nil {
		t.Fatalf("NewMembership(%q): %v", roles, err)
	}
	if status != "active" {
		if err := m.Apply(domain.MembershipChanges{Status: &status}, t0); err != nil {
			t.Fatalf("Apply(status %q): %v", status, err)
		}
	}
	return m
}

func TestMembershipApply(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		give        domain.MembershipChanges
		wantRoles   []domain.RoleKey
		wantStatus  domain.MemberStatus
		wantUpdated bool
		wantFields  []string
	}{
		{
			name:      "new roles sorted and deduplicated",
			give:      domain.MembershipChanges{Roles: &[]string{"viewer", "admin", "viewer"}},
			wantRoles: roleKeys("admin", "viewer"), wantStatus: domain.MemberActive, wantUpdated: true,
		},
		{
			name:      "suspend",
			give:      domain.MembershipChanges{Status: ptr("suspended")},
			wantRoles: roleKeys("member"), wantStatus: domain.MemberSuspended, wantUpdated: true,
		},
		{
			name:      "roles and status",
			give:      domain.MembershipChanges{Roles: &[]string{"owner"}, Status: ptr("suspended")},
			wantRoles: roleKeys("owner"), wantStatus: domain.MemberSuspended, wantUpdated: true,
		},
		{
			name:      "bad status",
			give:      domain.MembershipChanges{Status: ptr("gone")},
			wantRoles: roleKeys("member"), wantStatus: domain.MemberActive, wantFields: []string{"status"},
		},
		{
			name:      "no roles",
			give:      domain.MembershipChanges{Roles: &[]string{}},
			wantRoles: roleKeys("member"), wantStatus: domain.MemberActive, wantFields: []string{"roles"},
		},
		{
			name:      "bad role key",
			give:      domain.MembershipChanges{Roles: &[]string{"admin", "A"}},
			wantRoles: roleKeys("member"), wantStatus: domain.MemberActive, wantFields: []string{"roles/1"},
		},
		{
			name:      "valid status with bad roles changes nothing",
			give:      domain.MembershipChanges{Roles: &[]string{"1x"}, Status: ptr("suspended")},
			wantRoles: roleKeys("member"), wantStatus: domain.MemberActive, wantFields: []string{"roles/0"},
		},
		{
			name:      "both bad",
			give:      domain.MembershipChanges{Roles: &[]string{}, Status: ptr("")},
			wantRoles: roleKeys("member"), wantStatus: domain.MemberActive, wantFields: []string{"roles", "status"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m := membership(t, "active", "member")
			checkFields(t, m.Apply(tt.give, t1), tt.wantFields)
			if got := m.Roles(); !slices.Equal(got, tt.wantRoles) {
				t.Errorf("Roles() = %q, want %q", got, tt.wantRoles)
			}
			if got := m.Status(); got != tt.wantStatus {
				t.Errorf("Status() = %v, want %v", got, tt.wantStatus)
			}
			if got := m.UpdatedAt().Equal(t1); got != tt.wantUpdated {
				t.Errorf("UpdatedAt() = %v, want updated: %v", m.UpdatedAt(), tt.wantUpdated)
			}
			if !m.JoinedAt().Equal(t0) {
				t.Errorf("JoinedAt() = %v, want %v", m.JoinedAt(), t0)
			}
		})
	}
}

func TestMembershipIsActiveOwner(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		give *domain.Membership
		want bool
	}{
		{name: "nil", give: nil},
		{name: "active owner", give: membership(t, "active", "owner"), want: true},
		{name: "active owner with other roles", give: membership(t, "active", "member", "owner"), want: true},
		{name: "suspended owner", give: membership(t, "suspended", "owner")},
		{name: "active admin", give: membership(t, "active", "admin")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := tt.give.IsActiveOwner(); got != tt.want {
				t.Errorf("IsActiveOwner() = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestMembershipHasRoleAndClone(t *testing.T) {
	t.Parallel()
	m := membership(t, "active", "admin", "approver")
	for _, tt := range []struct {
		give domain.RoleKey
		want bool
	}{{give: "admin", want: true}, {give: "approver", want: true}, {give: "owner"}} {
		if got := m.HasRole(tt.give); got != tt.want {
			t.Errorf("HasRole(%q) = %v, want %v", tt.give, got, tt.want)
		}
	}

	roles := m.Roles()
	roles[0] = "owner"
	if m.HasRole(domain.RoleOwner) {
		t.Errorf("changing the slice Roles returned changed the membership")
	}

	c := m.Clone()
	if err := c.Apply(domain.MembershipChanges{Roles: &[]string{"owner"}, Status: ptr("suspended")}, t1); err != nil {
		t.Fatal(err)
	}
	if got, want := m.Roles(), roleKeys("admin", "approver"); !slices.Equal(got, want) || !m.IsActive() {
		t.Errorf("changing a clone changed the original: roles %q active %v, want %q active true", got, m.IsActive(), want)
	}
}

func TestUnmarshalMembershipFromDatabase(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		giveStatus string
		wantStatus domain.MemberStatus
	}{
		{name: "active", giveStatus: "active", wantStatus: domain.MemberActive},
		{name: "suspended", giveStatus: "suspended", wantStatus: domain.MemberSuspended},
		{name: "unknown status grants nothing", giveStatus: "weird", wantStatus: domain.MemberSuspended},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m := domain.UnmarshalMembershipFromDatabase("org-1", "user-1", []string{"owner", "admin"}, tt.giveStatus, t0, t1)
			if got := m.Status(); got != tt.wantStatus {
				t.Errorf("Status() = %v, want %v", got, tt.wantStatus)
			}
			if got, want := m.Roles(), roleKeys("admin", "owner"); !slices.Equal(got, want) {
				t.Errorf("Roles() = %q, want %q", got, want)
			}
			if m.OrgID() != "org-1" || m.UserID() != "user-1" || !m.JoinedAt().Equal(t0) || !m.UpdatedAt().Equal(t1) {
				t.Errorf("fields = %q %q %v %v, want org-1 user-1 %v %v", m.OrgID(), m.UserID(), m.JoinedAt(), m.UpdatedAt(), t0, t1)
			}
		})
	}
}

func TestCheckMembershipChange(t *testing.T) {
	t.Parallel()
	var (
		owner          = membership(t, "active", "owner")
		ownerAdmin     = membership(t, "active", "admin", "owner")
		suspOwner      = membership(t, "suspended", "owner")
		member         = membership(t, "active", "member")
		admin          = membership(t, "active", "admin")
		suspMember     = membership(t, "suspended", "member")
		ownerAndMember = membership(t, "active", "member", "owner")
	)
	tests := []struct {
		name         string
		before       *domain.Membership
		after        *domain.Membership
		actorIsOwner bool
		activeOwners int
		want         error
	}{
		// Only owners make, unmake, suspend or remove owners.
		{name: "non-owner makes an owner", before: member, after: ownerAndMember, activeOwners: 1, want: domain.ErrOwnerRequired},
		{name: "non-owner adds a new owner", before: nil, after: owner, activeOwners: 1, want: domain.ErrOwnerRequired},
		{name: "non-owner unmakes an owner", before: owner, after: member, activeOwners: 2, want: domain.ErrOwnerRequired},
		{name: "non-owner suspends an owner", before: owner, after: suspOwner, activeOwners: 2, want: domain.ErrOwnerRequired},
		{name: "non-owner removes an owner", before: owner, after: nil, activeOwners: 2, want: domain.ErrOwnerRequired},
		{name: "non-owner reactivates an owner", before: suspOwner, after: owner, activeOwners: 1, want: domain.ErrOwnerRequired},
		{name: "non-owner removes a suspended owner", before: suspOwner, after: nil, activeOwners: 1, want: domain.ErrOwnerRequired},
		{name: "non-owner removing the last owner is refused as non-owner", before: owner, after: nil, activeOwners: 1, want: domain.ErrOwnerRequired},
		{name: "owner makes an owner", before: member, after: ownerAndMember, actorIsOwner: true, activeOwners: 1},
		{name: "owner adds a new owner", before: nil, after: owner, actorIsOwner: true, activeOwners: 1},
		{name: "owner unmakes another owner", before: owner, after: member, actorIsOwner: true, activeOwners: 2},
		{name: "owner suspends another owner", before: owner, after: suspOwner, actorIsOwner: true, activeOwners: 2},
		{name: "owner removes another owner", before: owner, after: nil, actorIsOwner: true, activeOwners: 2},
		{name: "owner reactivates an owner", before: suspOwner, after: owner, actorIsOwner: true, activeOwners: 1},
		{name: "owner removes a suspended owner while one stays active", before: suspOwner, after: nil, actorIsOwner: true, activeOwners: 1},

		// The organization keeps an active owner.
		{name: "removing the last active owner", before: owner, after: nil, actorIsOwner: true, activeOwners: 1, want: domain.ErrLastOwner},
		{name: "suspending the last active owner", before: owner, after: suspOwner, actorIsOwner: true, activeOwners: 1, want: domain.ErrLastOwner},
		{name: "demoting the last active owner", before: ownerAdmin, after: admin, actorIsOwner: true, activeOwners: 1, want: domain.ErrLastOwner},
		{name: "the last owner leaving themselves", before: owner, after: nil, actorIsOwner: true, activeOwners: 1, want: domain.ErrLastOwner},
		{name: "the last owner demoting themselves", before: owner, after: member, actorIsOwner: true, activeOwners: 1, want: domain.ErrLastOwner},
		{name: "removing an owner when two are active", before: owner, after: nil, actorIsOwner: true, activeOwners: 2},
		{name: "suspending an owner when two are active", before: owner, after: suspOwner, actorIsOwner: true, activeOwners: 2},
		{name: "an owner demoting themselves when two are active", before: ownerAdmin, after: admin, actorIsOwner: true, activeOwners: 2},
		{name: "last owner gains another role", before: owner, after: ownerAdmin, actorIsOwner: true, activeOwners: 1},
		{name: "last owner unchanged", before: owner, after: owner, actorIsOwner: true, activeOwners: 1},

		// Changes that do not touch owners need no owner.
		{name: "non-owner adds a plain member", before: nil, after: member, activeOwners: 1},
		{name: "non-owner changes a non-owner's roles", before: member, after: admin, activeOwners: 1},
		{name: "non-owner suspends a non-owner", before: member, after: suspMember, activeOwners: 1},
		{name: "non-owner removes a non-owner", before: admin, after: nil, activeOwners: 1},
		{name: "non-owner changes an owner's other roles", before: owner, after: ownerAdmin, activeOwners: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := domain.CheckMembershipChange(tt.before, tt.after, tt.actorIsOwner, tt.activeOwners)
			if tt.want == nil {
				if err != nil {
					t.Errorf("CheckMembershipChange = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Errorf("CheckMembershipChange = %v, want %v", err, tt.want)
			}
		})
	}
}
