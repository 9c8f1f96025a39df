package application_test

import (
	"context"
	"slices"
	"testing"

	"github.com/orgstack/orgstack/application"
	"github.com/orgstack/orgstack/domain"
	"github.com/orgstack/orgstack/ports"
)

func TestRoleEscalation(t *testing.T) {
	t.Parallel()
	e := newEnv(t, application.Config{})
	ctx := context.Background()
	o := e.createOrg(t, principal("alice"), "acme")
	e.createPermission(t, o, "invoices:approve")
	e.createPermission(t, o, "invoices:read")
	e.createRole(t, o, "approver", "invoices:approve", "roles:write")
	e.createRole(t, o, "target", "invoices:approve")
	pat, bob := principal("pat"), principal("bob")
	e.addMember(t, o, pat, "approver")
	e.addMember(t, o, bob, "admin")

	tests := []struct {
		name   string
		give   ports.Principal
		grants []string
		want   error
	}{
		{"holder of invoices:approve grants invoices:*", pat, []string{"invoices:*"}, domain.ErrEscalation},
		{"holder of invoices:approve grants invoices:read", pat, []string{"invoices:read"}, domain.ErrEscalation},
		{"holder of invoices:approve grants it", pat, []string{"invoices:approve"}, nil},
		{"admin grants organization:delete", bob, []string{"organization:delete"}, domain.ErrEscalation},
		{"admin grants organization:*", bob, []string{"organization:*"}, domain.ErrEscalation},
		{"admin grants *", bob, []string{"*"}, domain.ErrEscalation},
		{"admin grants invoices:*", bob, []string{"invoices:*", "organization:update"}, nil},
		{"platform admin grants *", platformAdmin(), []string{"*"}, nil},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key := "r" + string(rune('a'+i))
			_, err := e.app.Roles.Create(ctx, tt.give, domain.ParseOrgRef(o.ID()), ports.CreateRole{Key: key, Name: "R", Permissions: tt.grants})
			checkErr(t, err, tt.want)
			_, err = e.app.Roles.Update(ctx, tt.give, domain.ParseOrgRef(o.ID()), "target", domain.RoleChanges{Grants: &tt.grants}, 0)
			checkErr(t, err, tt.want)
		})
	}
	// The refused edits left the role alone; the allowed ones changed it.
	r, err := e.app.Roles.Get(ctx, bob, domain.ParseOrgRef(o.ID()), "target")
	checkErr(t, err, nil)
	if got := r.Grants(); len(got) != 1 || got[0].String() != "*" {
		t.Fatalf("got grants %v, want [*] from the last allowed edit", got)
	}
}

func TestRoleRules(t *testing.T) {
	t.Parallel()
	e := newEnv(t, application.Config{})
	ctx := context.Background()
	alice := principal("alice")
	o := e.createOrg(t, alice, "acme")
	e.createPermission(t, o, "invoices:read")
	e.createRole(t, o, "reader", "invoices:read")
	e.createRole(t, o, "auditor", "organization:read")
	e.addMember(t, o, principal("bob"), "reader")
	other := e.createOrg(t, principal("eve"), "other")
	e.createRole(t, other, "secret", "organization:read")

	_, err := e.app.Roles.Create(ctx, alice, domain.ParseOrgRef(o.ID()), ports.CreateRole{Key: "x1", Name: "X", Permissions: []string{"invoices:read", "invoices:write"}})
	checkUnknownReference(t, err, "permissions/1")
	_, err = e.app.Roles.Create(ctx, alice, domain.ParseOrgRef(o.ID()), ports.CreateRole{Key: "x1", Name: "X", Permissions: []string{"nope"}})
	checkInvalid(t, err, "permissions/0")
	_, err = e.app.Roles.Create(ctx, alice, domain.ParseOrgRef(o.ID()), ports.CreateRole{Key: "x1", Name: "X", Permissions: []string{"billing:*", "members:read"}})
	checkErr(t, err, nil)
	_, err = e.app.Roles.Create(ctx, alice, domain.ParseOrgRef(o.ID()), ports.CreateRole{Key: "x1", Name: "X"})
	checkErr(t, err, domain.ErrRoleExists)
	_, err = e.app.Roles.Create(ctx, alice, domain.ParseOrgRef(o.ID()), ports.CreateRole{Key: "admin", Name: "X"})
	checkErr(t, err, domain.ErrBuiltinRole)
	_, err = e.app.Roles.Update(ctx, alice, domain.ParseOrgRef(o.ID()), "owner", domain.RoleChanges{Name: strp("Boss")}, 0)
	checkErr(t, err, domain.ErrBuiltinRole)
	checkErr(t, e.app.Roles.Delete(ctx, alice, domain.ParseOrgRef(o.ID()), "member", 0), domain.ErrBuiltinRole)
	checkErr(t, e.app.Roles.Delete(ctx, alice, domain.ParseOrgRef(o.ID()), "reader", 0), domain.ErrRoleInUse)
	checkErr(t, e.app.Roles.Delete(ctx, alice, domain.ParseOrgRef(o.ID()), "secret", 0), domain.ErrNotFound)
	_, err = e.app.Roles.Get(ctx, alice, domain.ParseOrgRef(o.ID()), "secret")
	checkErr(t, err, domain.ErrNotFound)
	checkErr(t, e.app.Roles.Delete(ctx, principal("bob"), domain.ParseOrgRef(o.ID()), "auditor", 0), domain.ErrForbidden)
	checkErr(t, e.app.Roles.Delete(ctx, alice, domain.ParseOrgRef(o.ID()), "auditor", 0), nil)

	page, err := e.app.Roles.List(ctx, alice, domain.ParseOrgRef(o.ID()), ports.RoleQuery{PageRequest: ports.PageRequest{Page: 1, Size: 4}})
	checkErr(t, err, nil)
	var keys []string
	for _, r := range page.Items {
		keys = append(keys, string(r.Key()))
	}
	if want := []string{"owner", "admin", "member", "reader"}; !slices.Equal(keys, want) || page.Total != 5 {
		t.Fatalf("got %v (total %d), want %v (total 5)", keys, page.Total, want)
	}
	page, err = e.app.Roles.List(ctx, alice, domain.ParseOrgRef(o.ID()), ports.RoleQuery{Q: "READ", PageRequest: ports.PageRequest{Sort: []ports.SortField{{Field: "key", Desc: true}}}})
	checkErr(t, err, nil)
	if page.Total != 1 || page.Items[0].Key() != "reader" {
		t.Fatalf("got %d roles, want only reader", page.Total)
	}
	_, err = e.app.Roles.List(ctx, alice, domain.ParseOrgRef(o.ID()), ports.RoleQuery{PageRequest: ports.PageRequest{Sort: []ports.SortField{{Field: "grants"}}}})
	checkInvalid(t, err, "sort")
}

func TestPermissionRules(t *testing.T) {
	t.Parallel()
	e := newEnv(t, application.Config{})
	ctx := context.Background()
	alice := principal("alice")
	o := e.createOrg(t, alice, "acme")
	e.createPermission(t, o, "invoices:read")
	e.createPermission(t, o, "invoices:pay")
	e.createRole(t, o, "reader", "invoices:read")
	e.createRole(t, o, "everything", "invoices:*")
	e.addMember(t, o, principal("bob"), "member")

	_, err := e.app.Permissions.Create(ctx, alice, domain.ParseOrgRef(o.ID()), ports.CreatePermission{Key: "invoices:read"})
	checkErr(t, err, domain.ErrPermissionExists)
	_, err = e.app.Permissions.Create(ctx, alice, domain.ParseOrgRef(o.ID()), ports.CreatePermission{Key: "members:steal"})
	checkInvalid(t, err, "key")
	_, err = e.app.Permissions.Create(ctx, principal("bob"), domain.ParseOrgRef(o.ID()), ports.CreatePermission{Key: "bad"})
	checkErr(t, err, domain.ErrForbidden)
	_, err = e.app.Permissions.Update(ctx, alice, domain.ParseOrgRef(o.ID()), "members:read", "x", 0)
	checkErr(t, err, domain.ErrSystemPermission)
	p, err := e.app.Permissions.Update(ctx, alice, domain.ParseOrgRef(o.ID()), "invoices:pay", "Pay invoices", 0)
	checkErr(t, err, nil)
	if p.Description() != "Pay invoices" {
		t.Fatalf("got description %q", p.Description())
	}
	checkErr(t, e.app.Permissions.Delete(ctx, alice, domain.ParseOrgRef(o.ID()), "roles:read", 0), domain.ErrSystemPermission)
	checkErr(t, e.app.Permissions.Delete(ctx, alice, domain.ParseOrgRef(o.ID()), "invoices:read", 0), domain.ErrPermissionInUse)
	// A pattern does not hold a permission by name.
	checkErr(t, e.app.Permissions.Delete(ctx, alice, domain.ParseOrgRef(o.ID()), "invoices:pay", 0), nil)
	_, err = e.app.Permissions.Get(ctx, alice, domain.ParseOrgRef(o.ID()), "invoices:pay")
	checkErr(t, err, domain.ErrNotFound)
	_, err = e.app.Permissions.Get(ctx, alice, domain.ParseOrgRef(o.ID()), "not a key")
	checkErr(t, err, domain.ErrNotFound)
	got, err := e.app.Permissions.Get(ctx, principal("bob"), domain.ParseOrgRef(o.ID()), "authz:check")
	checkErr(t, err, nil)
	if !got.IsSystem() {
		t.Fatal("authz:check is not a system permission")
	}

	tests := []struct {
		give  ports.PermissionQuery
		total int
		first string
	}{
		{ports.PermissionQuery{}, 16, "audit:read"},
		{ports.PermissionQuery{Type: "custom"}, 1, "invoices:read"},
		{ports.PermissionQuery{Type: "system"}, 15, "audit:read"},
		{ports.PermissionQuery{Q: "MEMBERS"}, 2, "members:read"},
		{ports.PermissionQuery{PageRequest: ports.PageRequest{Page: 2, Size: 10}}, 16, "permissions:read"},
		{ports.PermissionQuery{PageRequest: ports.PageRequest{Page: 3, Size: 10}}, 16, ""},
	}
	for _, tt := range tests {
		page, err := e.app.Permissions.List(ctx, principal("bob"), domain.ParseOrgRef(o.ID()), tt.give)
		checkErr(t, err, nil)
		first := ""
		if len(page.Items) > 0 {
			first = page.Items[0].Key().String()
		}
		if page.Total != tt.total || first != tt.first {
			t.Fatalf("%+v: got total %d first %q, want %d %q", tt.give, page.Total, first, tt.total, tt.first)
		}
	}
	_, err = e.app.Permissions.List(ctx, alice, domain.ParseOrgRef(o.ID()), ports.PermissionQuery{Type: "builtin"})
	checkInvalid(t, err, "type")
}
