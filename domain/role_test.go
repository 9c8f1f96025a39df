package domain_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/orgstack/orgstack/domain"
)

func TestParseRoleKey(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		give    string
		wantErr bool
	}{
		{name: "empty", give: "", wantErr: true},
		{name: "1 char", give: "a", wantErr: true},
		{name: "2 chars", give: "ab"},
		{name: "63 chars", give: "r" + strings.Repeat("x", 62)},
		{name: "64 chars", give: "r" + strings.Repeat("x", 63), wantErr: true},
		{name: "allowed punctuation", give: "app.viewer_2-x"},
		{name: "built-in key parses", give: "owner"},
		{name: "starts with digit", give: "1role", wantErr: true},
		{name: "starts with underscore", give: "_role", wantErr: true},
		{name: "starts with hyphen", give: "-role", wantErr: true},
		{name: "starts with dot", give: ".role", wantErr: true},
		{name: "uppercase", give: "Approver", wantErr: true},
		{name: "colon", give: "app:viewer", wantErr: true},
		{name: "space", give: "app viewer", wantErr: true},
		{name: "star", give: "*", wantErr: true},
		{name: "unicode", give: "prüfer", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := domain.ParseRoleKey(tt.give)
			if tt.wantErr {
				checkFields(t, err, []string{""})
				return
			}
			if err != nil {
				t.Fatalf("ParseRoleKey(%q) error = %v, want nil", tt.give, err)
			}
			if string(got) != tt.give {
				t.Errorf("ParseRoleKey(%q) = %q, want %q", tt.give, got, tt.give)
			}
		})
	}
}

func grantStrings(gs []domain.Grant) []string {
	out := make([]string, len(gs))
	for i, g := range gs {
		out[i] = g.String()
	}
	return out
}

func TestNewRole(t *testing.T) {
	t.Parallel()
	r, err := domain.NewRole("role-1", "org-1", "approver", "Approver", "Approves invoices",
		[]string{"invoices:approve", "orders:*", "invoices:approve"}, t0)
	if err != nil {
		t.Fatalf("NewRole error = %v, want nil", err)
	}
	if r.ID() != "role-1" || r.OrgID() != "org-1" || r.Key() != "approver" || r.Name() != "Approver" ||
		r.Description() != "Approves invoices" || r.IsBuiltin() || !r.CreatedAt().Equal(t0) || !r.UpdatedAt().Equal(t0) {
		t.Errorf("NewRole = {%q %q %q %q %q builtin=%v %v %v}, want {role-1 org-1 approver Approver %q builtin=false %v %v}",
			r.ID(), r.OrgID(), r.Key(), r.Name(), r.Description(), r.IsBuiltin(), r.CreatedAt(), r.UpdatedAt(),
			"Approves invoices", t0, t0)
	}
	if got, want := grantStrings(r.Grants()), []string{"invoices:approve", "orders:*"}; !slices.Equal(got, want) {
		t.Errorf("Grants() = %q, want %q", got, want)
	}
	if len(r.Except()) != 0 {
		t.Errorf("Except() = %v, want none", r.Except())
	}
	allows := []struct {
		give string
		want bool
	}{
		{give: "invoices:approve", want: true},
		{give: "invoices:read"},
		{give: "orders:cancel", want: true},
		{give: "organization:read"},
	}
	for _, tt := range allows {
		if got := r.Allows(mustKey(t, tt.give)); got != tt.want {
			t.Errorf("Allows(%s) = %v, want %v", tt.give, got, tt.want)
		}
	}
	// Grants returns a copy.
	gs := r.Grants()
	gs[0] = mustGrant(t, "*")
	if r.Allows(mustKey(t, "invoices:read")) {
		t.Errorf("changing the slice Grants returned changed the role")
	}
}

func TestNewRoleInvalid(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		key      string
		roleName string
		desc     string
		grants   []string
		want     []string
	}{
		{name: "built-in owner", key: "owner", roleName: "X", want: []string{"key"}},
		{name: "built-in admin", key: "admin", roleName: "X", want: []string{"key"}},
		{name: "built-in member", key: "member", roleName: "X", want: []string{"key"}},
		{name: "bad key", key: "A", roleName: "X", want: []string{"key"}},
		{name: "empty name", key: "approver", roleName: "", want: []string{"name"}},
		{name: "blank name", key: "approver", roleName: " ", want: []string{"name"}},
		{name: "name 101 chars", key: "approver", roleName: strings.Repeat("n", 101), want: []string{"name"}},
		{name: "description 501 chars", key: "approver", roleName: "X", desc: strings.Repeat("d", 501), want: []string{"description"}},
		{
			name: "bad grants named by index", key: "approver", roleName: "X",
			grants: []string{"invoices:read", "*:read", "res:", ":*", "*"},
			want:   []string{"permissions/1", "permissions/2", "permissions/3"},
		},
		{
			name: "every field bad", key: "owner", roleName: "", desc: strings.Repeat("d", 501),
			grants: []string{"Invoices:read"},
			want:   []string{"key", "name", "description", "permissions/0"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r, err := domain.NewRole("role-1", "org-1", tt.key, tt.roleName, tt.desc, tt.grants, t0)
			checkFields(t, err, tt.want)
			if r != nil {
				t.Errorf("NewRole returned %v with an error, want nil", r)
			}
		})
	}
}

func TestNewRoleLimits(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		rname string
		desc  string
	}{
		{name: "name 100 chars", rname: strings.Repeat("n", 100)},
		{name: "name 100 multibyte runes", rname: strings.Repeat("ñ", 100)},
		{name: "description 500 chars", rname: "X", desc: strings.Repeat("d", 500)},
		{name: "no grants", rname: "X"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := domain.NewRole("role-1", "org-1", "approver", tt.rname, tt.desc, nil, t0)
			checkFields(t, err, nil)
		})
	}
}

func builtin(t *testing.T, k domain.RoleKey) *domain.Role {
	t.Helper()
	r, ok := domain.BuiltinRole(k)
	if !ok {
		t.Fatalf("BuiltinRole(%q) not found", k)
	}
	return r
}

func TestBuiltinRoles(t *testing.T) {
	t.Parallel()
	rs := domain.BuiltinRoles()
	got := make([]domain.RoleKey, len(rs))
	for i, r := range rs {
		got[i] = r.Key()
		if !r.IsBuiltin() {
			t.Errorf("%s: IsBuiltin() = false, want true", r.Key())
		}
		if r.ID() != "" || r.OrgID() != "" {
			t.Errorf("%s: ID, OrgID = %q, %q, want empty", r.Key(), r.ID(), r.OrgID())
		}
		if r.Name() == "" {
			t.Errorf("%s: Name() is empty", r.Key())
		}
	}
	if want := []domain.RoleKey{domain.RoleOwner, domain.RoleAdmin, domain.RoleMember}; !slices.Equal(got, want) {
		t.Errorf("BuiltinRoles() keys = %q, want %q", got, want)
	}
	rs[0] = nil
	if again := domain.BuiltinRoles(); again[0] == nil {
		t.Errorf("changing the returned slice changed the built-in roles")
	}

	lookups := []struct {
		give domain.RoleKey
		want bool
	}{
		{give: "owner", want: true},
		{give: "admin", want: true},
		{give: "member", want: true},
		{give: "approver"},
		{give: "Owner"},
		{give: ""},
	}
	for _, tt := range lookups {
		r, ok := domain.BuiltinRole(tt.give)
		if ok != tt.want || domain.IsBuiltinRole(tt.give) != tt.want {
			t.Errorf("BuiltinRole(%q), IsBuiltinRole = %v, %v, want %v", tt.give, ok, domain.IsBuiltinRole(tt.give), tt.want)
		}
		if ok && r.Key() != tt.give {
			t.Errorf("BuiltinRole(%q).Key() = %q", tt.give, r.Key())
		}
	}
}

func TestBuiltinRoleAllows(t *testing.T) {
	t.Parallel()
	keys := append(slices.Clone(systemKeys), "invoices:approve", "orders:read")
	tests := []struct {
		give domain.RoleKey
		want []string // exactly the keys (of those above) the role allows
	}{
		{give: domain.RoleOwner, want: keys},
		{
			give: domain.RoleAdmin,
			want: slices.DeleteFunc(slices.Clone(keys), func(k string) bool { return k == "organization:delete" || k == "identity_provider:write" }),
		},
		{
			give: domain.RoleMember,
			want: []string{"organization:read", "members:read", "roles:read", "permissions:read"},
		},
	}
	for _, tt := range tests {
		t.Run(string(tt.give), func(t *testing.T) {
			t.Parallel()
			r := builtin(t, tt.give)
			var got []string
			for _, k := range keys {
				if r.Allows(mustKey(t, k)) {
					got = append(got, k)
				}
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("%s allows %q, want %q", tt.give, got, tt.want)
			}
		})
	}
	if got, want := builtin(t, domain.RoleAdmin).Except(), []domain.PermissionKey{domain.PermOrganizationDelete, domain.PermIdentityProviderWrite}; !slices.Equal(got, want) {
		t.Errorf("admin Except() = %v, want %v", got, want)
	}
}

func TestRoleApplyBuiltinRefused(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		give domain.RoleChanges
	}{
		{name: "nothing", give: domain.RoleChanges{}},
		{name: "name", give: domain.RoleChanges{Name: ptr("Boss")}},
		{name: "grants", give: domain.RoleChanges{Grants: &[]string{"invoices:read"}}},
	}
	for _, k := range []domain.RoleKey{domain.RoleOwner, domain.RoleAdmin, domain.RoleMember} {
		for _, tt := range tests {
			t.Run(string(k)+"/"+tt.name, func(t *testing.T) {
				t.Parallel()
				r := builtin(t, k)
				name, grants := r.Name(), grantStrings(r.Grants())
				err := r.Apply(tt.give, t1)
				if !errors.Is(err, domain.ErrBuiltinRole) {
					t.Errorf("Apply on built-in %s = %v, want ErrBuiltinRole", k, err)
				}
				if r.Name() != name || !slices.Equal(grantStrings(r.Grants()), grants) {
					t.Errorf("a refused Apply changed built-in %s", k)
				}
			})
		}
	}
}

func TestRoleApply(t *testing.T) {
	t.Parallel()
	type state struct {
		name, desc string
		grants     []string
		updated    bool
	}
	tests := []struct {
		name       string
		give       domain.RoleChanges
		want       state
		wantFields []string
	}{
		{
			name: "rename",
			give: domain.RoleChanges{Name: ptr("Checker")},
			want: state{name: "Checker", desc: "old", grants: []string{"invoices:read"}, updated: true},
		},
		{
			name: "describe",
			give: domain.RoleChanges{Description: ptr("new")},
			want: state{name: "Approver", desc: "new", grants: []string{"invoices:read"}, updated: true},
		},
		{
			name: "replace grants",
			give: domain.RoleChanges{Grants: &[]string{"orders:*", "invoices:approve", "orders:*"}},
			want: state{name: "Approver", desc: "old", grants: []string{"orders:*", "invoices:approve"}, updated: true},
		},
		{
			name: "clear grants",
			give: domain.RoleChanges{Grants: &[]string{}},
			want: state{name: "Approver", desc: "old", grants: []string{}, updated: true},
		},
		{
			name:       "bad grant",
			give:       domain.RoleChanges{Name: ptr("Checker"), Grants: &[]string{"orders:*", "*:read"}},
			want:       state{name: "Approver", desc: "old", grants: []string{"invoices:read"}},
			wantFields: []string{"permissions/1"},
		},
		{
			name:       "every field bad",
			give:       domain.RoleChanges{Name: ptr(""), Description: ptr(strings.Repeat("d", 501)), Grants: &[]string{"x"}},
			want:       state{name: "Approver", desc: "old", grants: []string{"invoices:read"}},
			wantFields: []string{"name", "description", "permissions/0"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r, err := domain.NewRole("role-1", "org-1", "approver", "Approver", "old", []string{"invoices:read"}, t0)
			if err != nil {
				t.Fatal(err)
			}
			checkFields(t, r.Apply(tt.give, t1), tt.wantFields)
			got := state{name: r.Name(), desc: r.Description(), grants: grantStrings(r.Grants()), updated: r.UpdatedAt().Equal(t1)}
			if got.name != tt.want.name || got.desc != tt.want.desc || !slices.Equal(got.grants, tt.want.grants) || got.updated != tt.want.updated {
				t.Errorf("after Apply: got %+v, want %+v", got, tt.want)
			}
			if r.Key() != "approver" || !r.CreatedAt().Equal(t0) {
				t.Errorf("Apply changed the key or creation time: %q %v", r.Key(), r.CreatedAt())
			}
		})
	}
}

func TestUnmarshalRoleFromDatabase(t *testing.T) {
	t.Parallel()
	r := domain.UnmarshalRoleFromDatabase("role-1", "org-1", "approver", "Approver", "d", []string{"invoices:*", "orders:read"}, t0, t1)
	if r.ID() != "role-1" || r.OrgID() != "org-1" || r.Key() != "approver" || r.Name() != "Approver" ||
		r.Description() != "d" || r.IsBuiltin() || !r.CreatedAt().Equal(t0) || !r.UpdatedAt().Equal(t1) {
		t.Errorf("UnmarshalRoleFromDatabase fields wrong: %q %q %q %q %q %v %v %v",
			r.ID(), r.OrgID(), r.Key(), r.Name(), r.Description(), r.IsBuiltin(), r.CreatedAt(), r.UpdatedAt())
	}
	if got, want := grantStrings(r.Grants()), []string{"invoices:*", "orders:read"}; !slices.Equal(got, want) {
		t.Errorf("Grants() = %q, want %q", got, want)
	}
}

func mustRole(t *testing.T, key string, grants ...string) *domain.Role {
	t.Helper()
	r, err := domain.NewRole("id-"+key, "org-1", key, key, "", grants, t0)
	if err != nil {
		t.Fatalf("NewRole(%s): %v", key, err)
	}
	return r
}

func TestGrantSetAllows(t *testing.T) {
	t.Parallel()
	approver := mustRole(t, "approver", "invoices:approve")
	tests := []struct {
		name  string
		roles []*domain.Role
		give  string
		want  bool
	}{
		{name: "empty set", give: "organization:read"},
		{name: "member reads", roles: []*domain.Role{builtin(t, "member")}, give: "members:read", want: true},
		{name: "member cannot write", roles: []*domain.Role{builtin(t, "member")}, give: "members:write"},
		{name: "member and custom", roles: []*domain.Role{builtin(t, "member"), approver}, give: "invoices:approve", want: true},
		{name: "admin cannot delete", roles: []*domain.Role{builtin(t, "admin")}, give: "organization:delete"},
		{name: "admin and owner delete", roles: []*domain.Role{builtin(t, "admin"), builtin(t, "owner")}, give: "organization:delete", want: true},
		{name: "custom wildcard beats admin except", roles: []*domain.Role{builtin(t, "admin"), mustRole(t, "deleter", "organization:*")}, give: "organization:delete", want: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := domain.NewGrantSet(tt.roles...).Allows(mustKey(t, tt.give)); got != tt.want {
				t.Errorf("Allows(%s) = %v, want %v", tt.give, got, tt.want)
			}
		})
	}
}

func TestGrantSetGrantedBy(t *testing.T) {
	t.Parallel()
	set := domain.NewGrantSet(builtin(t, "owner"), builtin(t, "admin"), builtin(t, "member"), mustRole(t, "approver", "invoices:approve"))
	tests := []struct {
		give string
		want []domain.RoleKey
	}{
		{give: "organization:read", want: []domain.RoleKey{"owner", "admin", "member"}},
		{give: "organization:delete", want: []domain.RoleKey{"owner"}},
		{give: "identity_provider:write", want: []domain.RoleKey{"owner"}},
		{give: "identity_provider:read", want: []domain.RoleKey{"owner", "admin"}},
		{give: "members:write", want: []domain.RoleKey{"owner", "admin"}},
		{give: "invoices:approve", want: []domain.RoleKey{"owner", "admin", "approver"}},
	}
	for _, tt := range tests {
		t.Run(tt.give, func(t *testing.T) {
			t.Parallel()
			if got := set.GrantedBy(mustKey(t, tt.give)); !slices.Equal(got, tt.want) {
				t.Errorf("GrantedBy(%s) = %q, want %q", tt.give, got, tt.want)
			}
		})
	}
	if got := domain.NewGrantSet(builtin(t, "member")).GrantedBy(mustKey(t, "members:write")); len(got) != 0 {
		t.Errorf("member GrantedBy(members:write) = %q, want none", got)
	}
}

func TestGrantSetGrants(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		roles []*domain.Role
		want  []string
	}{
		{name: "empty", want: []string{}},
		{name: "owner and admin share *", roles: []*domain.Role{builtin(t, "owner"), builtin(t, "admin")}, want: []string{"*"}},
		{
			name:  "member and overlapping custom",
			roles: []*domain.Role{builtin(t, "member"), mustRole(t, "reader", "members:read", "invoices:*")},
			want:  []string{"organization:read", "members:read", "roles:read", "permissions:read", "invoices:*"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := grantStrings(domain.NewGrantSet(tt.roles...).Grants()); !slices.Equal(got, tt.want) {
				t.Errorf("Grants() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestGrantSetCovers(t *testing.T) {
	t.Parallel()
	approver := mustRole(t, "approver", "invoices:approve")
	invoicer := mustRole(t, "invoicer", "invoices:*")
	tests := []struct {
		name  string
		roles []*domain.Role
		give  string
		want  bool
	}{
		{name: "key covers itself", roles: []*domain.Role{approver}, give: "invoices:approve", want: true},
		{name: "key does not cover its resource", roles: []*domain.Role{approver}, give: "invoices:*"},
		{name: "key does not cover a sibling", roles: []*domain.Role{approver}, give: "invoices:read"},
		{name: "key does not cover everything", roles: []*domain.Role{approver}, give: "*"},
		{name: "resource covers a key", roles: []*domain.Role{invoicer}, give: "invoices:approve", want: true},
		{name: "resource covers itself", roles: []*domain.Role{invoicer}, give: "invoices:*", want: true},
		{name: "resource does not cover another", roles: []*domain.Role{invoicer}, give: "orders:read"},
		{name: "resource does not cover everything", roles: []*domain.Role{invoicer}, give: "*"},
		{name: "owner covers everything", roles: []*domain.Role{builtin(t, "owner")}, give: "*", want: true},
		{name: "owner covers organization:delete", roles: []*domain.Role{builtin(t, "owner")}, give: "organization:delete", want: true},
		{name: "admin does not cover everything", roles: []*domain.Role{builtin(t, "admin")}, give: "*"},
		{name: "admin does not cover organization:*", roles: []*domain.Role{builtin(t, "admin")}, give: "organization:*"},
		{name: "admin does not cover organization:delete", roles: []*domain.Role{builtin(t, "admin")}, give: "organization:delete"},
		{name: "admin covers organization:update", roles: []*domain.Role{builtin(t, "admin")}, give: "organization:update", want: true},
		{name: "admin covers members:*", roles: []*domain.Role{builtin(t, "admin")}, give: "members:*", want: true},
		{name: "admin covers invoices:*", roles: []*domain.Role{builtin(t, "admin")}, give: "invoices:*", want: true},
		{name: "member covers its reads", roles: []*domain.Role{builtin(t, "member")}, give: "roles:read", want: true},
		{name: "member does not cover writes", roles: []*domain.Role{builtin(t, "member")}, give: "roles:write"},
		{name: "empty set covers nothing", give: "invoices:approve"},
		{name: "admin with owner covers everything", roles: []*domain.Role{builtin(t, "admin"), builtin(t, "owner")}, give: "*", want: true},
		{name: "two keys do not make a resource", roles: []*domain.Role{approver, mustRole(t, "reader", "invoices:read")}, give: "invoices:*"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := domain.NewGrantSet(tt.roles...).Covers(mustGrant(t, tt.give)); got != tt.want {
				t.Errorf("Covers(%s) = %v, want %v", tt.give, got, tt.want)
			}
		})
	}
}

func TestGrantSetCoversRole(t *testing.T) {
	t.Parallel()
	owner, admin, member := builtin(t, "owner"), builtin(t, "admin"), builtin(t, "member")
	approver := mustRole(t, "approver", "invoices:approve", "members:read")
	tests := []struct {
		name   string
		holder []*domain.Role
		give   *domain.Role
		want   bool
	}{
		{name: "owner covers owner", holder: []*domain.Role{owner}, give: owner, want: true},
		{name: "owner covers admin", holder: []*domain.Role{owner}, give: admin, want: true},
		{name: "owner covers member", holder: []*domain.Role{owner}, give: member, want: true},
		{name: "admin covers admin", holder: []*domain.Role{admin}, give: admin, want: true},
		{name: "admin covers member", holder: []*domain.Role{admin}, give: member, want: true},
		{name: "admin does not cover owner", holder: []*domain.Role{admin}, give: owner},
		{name: "admin covers a custom role", holder: []*domain.Role{admin}, give: approver, want: true},
		{name: "member covers member", holder: []*domain.Role{member}, give: member, want: true},
		{name: "member does not cover admin", holder: []*domain.Role{member}, give: admin},
		{name: "member does not cover owner", holder: []*domain.Role{member}, give: owner},
		{name: "member does not cover a custom role beyond it", holder: []*domain.Role{member}, give: approver},
		{
			name:   "member with a custom key covers a role built from both",
			holder: []*domain.Role{member, mustRole(t, "ap", "invoices:approve")},
			give:   approver, want: true,
		},
		{name: "custom role does not cover member", holder: []*domain.Role{approver}, give: member},
		{name: "empty set covers an empty role", give: mustRole(t, "nothing"), want: true},
		{name: "empty set does not cover member", give: member},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := domain.NewGrantSet(tt.holder...).CoversRole(tt.give); got != tt.want {
				t.Errorf("CoversRole(%s) = %v, want %v", tt.give.Key(), got, tt.want)
			}
		})
	}
}

func TestGrantSetWithheld(t *testing.T) {
	owner, _ := domain.BuiltinRole(domain.RoleOwner)
	admin, _ := domain.BuiltinRole(domain.RoleAdmin)
	member, _ := domain.BuiltinRole(domain.RoleMember)
	tests := []struct {
		name string
		give []*domain.Role
		want []string
	}{
		{"admin withholds organization:delete", []*domain.Role{admin}, []string{"organization:delete", "identity_provider:write"}},
		{"admin and member still withhold it", []*domain.Role{admin, member}, []string{"organization:delete", "identity_provider:write"}},
		{"owner gives it back", []*domain.Role{admin, owner}, nil},
		{"member withholds nothing", []*domain.Role{member}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, k := range domain.NewGrantSet(tt.give...).Withheld() {
				got = append(got, k.String())
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("Withheld() = %v, want %v", got, tt.want)
			}
		})
	}
}
