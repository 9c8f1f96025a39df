package storetest

import (
	"testing"

	"github.com/orgstack/orgstack/domain"
	"github.com/orgstack/orgstack/ports"
)

var roleTests = []contract{
	{"CreateGet", func(t *testing.T, f *fixture) {
		o := f.org("acme-corp", "Acme")
		want := f.role(o, "approver", "Approver", "invoices:approve", "bills:*", "*", "audit.log:read")
		got, err := f.s.Roles().Get(f.ctx, o.ID(), "approver")
		must(t, err)
		sameRole(t, got, want) // grants keep their order
		empty := f.role(o, "nobody", "Nobody")
		got, err = f.s.Roles().Get(f.ctx, o.ID(), "nobody")
		must(t, err)
		sameRole(t, got, empty)
	}},
	{"CreateDuplicate", func(t *testing.T, f *fixture) {
		a, b := f.org("org-a", "A"), f.org("org-b", "B")
		f.role(a, "approver", "Approver")
		r, err := domain.NewRole(f.id(), a.ID(), "approver", "Again", "", nil, f.now())
		must(t, err)
		wantErr(t, f.s.Roles().Create(f.ctx, r), domain.ErrRoleExists)
		f.role(b, "approver", "Approver in B") // keys are unique per organization
	}},
	{"TenantScoped", func(t *testing.T, f *fixture) {
		a, b := f.org("org-a", "A"), f.org("org-b", "B")
		ra := f.role(a, "approver", "Approver", "invoices:approve")
		_, err := f.s.Roles().Get(f.ctx, b.ID(), "approver")
		wantErr(t, err, domain.ErrNotFound)
		moved := domain.UnmarshalRoleFromDatabase(ra.ID(), b.ID(), "approver", "Hijack", "", []string{"*"}, f.now(), f.now())
		wantErr(t, f.s.Roles().Update(f.ctx, moved), domain.ErrNotFound)
		wantErr(t, f.s.Roles().Delete(f.ctx, b.ID(), "approver"), domain.ErrNotFound)
		got, err := f.s.Roles().Get(f.ctx, a.ID(), "approver")
		must(t, err)
		sameRole(t, got, ra)
		many, err := f.s.Roles().GetMany(f.ctx, b.ID(), []domain.RoleKey{"approver"})
		must(t, err)
		if len(many) != 0 {
			t.Errorf("GetMany in another organization: got %d roles, want 0", len(many))
		}
	}},
	{"GetMany", func(t *testing.T, f *fixture) {
		o := f.org("acme-corp", "Acme")
		x := f.role(o, "xray", "X", "x:read")
		y := f.role(o, "yankee", "Y", "y:*")
		f.role(o, "zulu", "Z")
		got, err := f.s.Roles().GetMany(f.ctx, o.ID(), []domain.RoleKey{"yankee", "missing", "xray", "owner"})
		must(t, err)
		byKey := map[domain.RoleKey]*domain.Role{}
		for _, r := range got {
			byKey[r.Key()] = r
		}
		if len(got) != 2 {
			t.Fatalf("GetMany: got %q, want xray and yankee", roleIDs(got))
		}
		sameRole(t, byKey["xray"], x)
		sameRole(t, byKey["yankee"], y)
		none, err := f.s.Roles().GetMany(f.ctx, o.ID(), nil)
		must(t, err)
		if len(none) != 0 {
			t.Errorf("GetMany(nil): got %d roles, want 0", len(none))
		}
	}},
	{"Update", func(t *testing.T, f *fixture) {
		o := f.org("acme-corp", "Acme")
		r := f.role(o, "approver", "Approver", "invoices:approve", "bills:pay")
		name, desc, grants := "Chief approver", "", []string{"bills:pay", "invoices:*", "audit:read"}
		must(t, r.Apply(domain.RoleChanges{Name: &name, Description: &desc, Grants: &grants}, f.now()))
		must(t, f.s.Roles().Update(f.ctx, r))
		got, err := f.s.Roles().Get(f.ctx, o.ID(), "approver")
		must(t, err)
		sameRole(t, got, r)
		ghost, err := domain.NewRole(f.id(), o.ID(), "ghost", "Ghost", "", nil, f.now())
		must(t, err)
		wantErr(t, f.s.Roles().Update(f.ctx, ghost), domain.ErrNotFound)
	}},
	{"Delete", func(t *testing.T, f *fixture) {
		o := f.org("acme-corp", "Acme")
		f.role(o, "approver", "Approver", "invoices:approve")
		must(t, f.s.Roles().Delete(f.ctx, o.ID(), "approver"))
		_, err := f.s.Roles().Get(f.ctx, o.ID(), "approver")
		wantErr(t, err, domain.ErrNotFound)
		wantErr(t, f.s.Roles().Delete(f.ctx, o.ID(), "approver"), domain.ErrNotFound)
		n, err := f.s.Roles().CountGranting(f.ctx, o.ID(), pkey(t, "invoices:approve"))
		must(t, err)
		if n != 0 {
			t.Errorf("grants left after delete: got %d, want 0", n)
		}
		again := f.role(o, "approver", "Approver again", "bills:pay") // the key is free again
		got, err := f.s.Roles().Get(f.ctx, o.ID(), "approver")
		must(t, err)
		sameRole(t, got, again)
	}},
	{"CountGranting", func(t *testing.T, f *fixture) {
		o, other := f.org("acme-corp", "Acme"), f.org("other", "Other")
		f.role(o, "one", "One", "invoices:approve", "bills:pay")
		f.role(o, "two", "Two", "invoices:approve")
		f.role(o, "pattern", "Pattern", "invoices:*", "*")
		f.role(other, "three", "Three", "invoices:approve")
		tests := []struct {
			give string
			want int
		}{{"invoices:approve", 2}, {"bills:pay", 1}, {"audit:read", 0}}
		for _, tt := range tests {
			n, err := f.s.Roles().CountGranting(f.ctx, o.ID(), pkey(t, tt.give))
			must(t, err)
			if n != tt.want {
				t.Errorf("CountGranting(%s): got %d, want %d", tt.give, n, tt.want)
			}
		}
	}},
	{"List", func(t *testing.T, f *fixture) {
		o, other := f.org("acme-corp", "Acme"), f.org("other", "Other")
		f.role(o, "bravo", "beta Role")
		f.role(o, "alpha", "Zeta_role")
		f.role(o, "charlie", "ALPHA 100%")
		f.role(other, "delta", "Delta")
		tests := []struct {
			name string
			give ports.RoleFilter
			want []string
		}{
			{"default by key", ports.RoleFilter{}, []string{"alpha", "bravo", "charlie"}},
			{"q key", ports.RoleFilter{Q: "BRAV"}, []string{"bravo"}},
			{"q name", ports.RoleFilter{Q: "alpha"}, []string{"alpha", "charlie"}},
			{"q underscore literal", ports.RoleFilter{Q: "a_r"}, []string{"alpha"}},
			{"q percent literal", ports.RoleFilter{Q: "0%"}, []string{"charlie"}},
			{"q other org", ports.RoleFilter{Q: "delta"}, nil},
			{"sort name", ports.RoleFilter{PageRequest: pr(1, 100, "name")}, []string{"charlie", "bravo", "alpha"}},
			{"sort key desc", ports.RoleFilter{PageRequest: pr(1, 100, "-key")}, []string{"charlie", "bravo", "alpha"}},
			{"sort created_at", ports.RoleFilter{PageRequest: pr(1, 100, "created_at")}, []string{"bravo", "alpha", "charlie"}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				tt.give.OrgID = o.ID()
				got, err := f.s.Roles().List(f.ctx, tt.give)
				must(t, err)
				wantStrings(t, "roles", roleIDs(got), tt.want)
			})
		}
	}},
}

var permissionTests = []contract{
	{"CreateGet", func(t *testing.T, f *fixture) {
		o := f.org("acme-corp", "Acme")
		want := f.perm(o, "invoices:approve", "Approve invoices")
		got, err := f.s.Permissions().Get(f.ctx, o.ID(), pkey(t, "invoices:approve"))
		must(t, err)
		samePermission(t, got, want)
	}},
	{"CreateDuplicate", func(t *testing.T, f *fixture) {
		a, b := f.org("org-a", "A"), f.org("org-b", "B")
		f.perm(a, "invoices:approve", "")
		p, err := domain.NewCustomPermission(f.id(), a.ID(), "invoices:approve", "again", f.now())
		must(t, err)
		wantErr(t, f.s.Permissions().Create(f.ctx, p), domain.ErrPermissionExists)
		f.perm(b, "invoices:approve", "") // keys are unique per organization
	}},
	{"TenantScoped", func(t *testing.T, f *fixture) {
		a, b := f.org("org-a", "A"), f.org("org-b", "B")
		pa := f.perm(a, "invoices:approve", "Approve")
		k := pkey(t, "invoices:approve")
		_, err := f.s.Permissions().Get(f.ctx, b.ID(), k)
		wantErr(t, err, domain.ErrNotFound)
		moved := domain.UnmarshalPermissionFromDatabase(pa.ID(), b.ID(), "invoices:approve", "Hijack", f.now(), f.now())
		wantErr(t, f.s.Permissions().Update(f.ctx, moved), domain.ErrNotFound)
		wantErr(t, f.s.Permissions().Delete(f.ctx, b.ID(), k), domain.ErrNotFound)
		got, err := f.s.Permissions().Get(f.ctx, a.ID(), k)
		must(t, err)
		samePermission(t, got, pa)
		existing, err := f.s.Permissions().Existing(f.ctx, b.ID(), []domain.PermissionKey{k})
		must(t, err)
		if len(existing) != 0 {
			t.Errorf("Existing in another organization: got %v, want none", existing)
		}
	}},
	{"Existing", func(t *testing.T, f *fixture) {
		o := f.org("acme-corp", "Acme")
		f.perm(o, "invoices:approve", "")
		f.perm(o, "bills:pay", "")
		f.perm(o, "audit:read", "")
		got, err := f.s.Permissions().Existing(f.ctx, o.ID(), []domain.PermissionKey{
			pkey(t, "invoices:approve"), pkey(t, "bills:pay"), pkey(t, "nope:nope"), pkey(t, "organization:read"),
		})
		must(t, err)
		set := map[string]bool{}
		for _, k := range got {
			set[k.String()] = true
		}
		if len(got) != 2 || !set["invoices:approve"] || !set["bills:pay"] {
			t.Errorf("Existing: got %v, want invoices:approve and bills:pay", got)
		}
		none, err := f.s.Permissions().Existing(f.ctx, o.ID(), nil)
		must(t, err)
		if len(none) != 0 {
			t.Errorf("Existing(nil): got %v, want none", none)
		}
	}},
	{"UpdateDelete", func(t *testing.T, f *fixture) {
		o := f.org("acme-corp", "Acme")
		p := f.perm(o, "invoices:approve", "Approve")
		must(t, p.Describe("Approve any invoice", f.now()))
		must(t, f.s.Permissions().Update(f.ctx, p))
		got, err := f.s.Permissions().Get(f.ctx, o.ID(), p.Key())
		must(t, err)
		samePermission(t, got, p)
		must(t, f.s.Permissions().Delete(f.ctx, o.ID(), p.Key()))
		_, err = f.s.Permissions().Get(f.ctx, o.ID(), p.Key())
		wantErr(t, err, domain.ErrNotFound)
		wantErr(t, f.s.Permissions().Delete(f.ctx, o.ID(), p.Key()), domain.ErrNotFound)
		wantErr(t, f.s.Permissions().Update(f.ctx, p), domain.ErrNotFound)
	}},
	{"List", func(t *testing.T, f *fixture) {
		o, other := f.org("acme-corp", "Acme"), f.org("other", "Other")
		f.perm(o, "invoices:approve", "Approve INVOICES")
		f.perm(o, "bills:pay", "Pay 100% of bills")
		f.perm(o, "audit_log:read", "Read the audit log")
		f.perm(o, "auditxlog:read", "Read the other log")
		f.perm(other, "reports:read", "Reports")
		tests := []struct {
			name string
			give string
			want []string
		}{
			{"all by key", "", []string{"audit_log:read", "auditxlog:read", "bills:pay", "invoices:approve"}},
			{"q key", "BILLS", []string{"bills:pay"}},
			{"q description case-insensitive", "invoices", []string{"invoices:approve"}},
			{"q underscore literal", "t_l", []string{"audit_log:read"}},
			{"q percent literal", "0%", []string{"bills:pay"}},
			{"q other org", "reports", nil},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				got, err := f.s.Permissions().List(f.ctx, ports.PermissionFilter{OrgID: o.ID(), Q: tt.give})
				must(t, err)
				keys := make([]string, len(got))
				for i, p := range got {
					keys[i] = p.Key().String()
				}
				wantStrings(t, "permissions", keys, tt.want)
			})
		}
	}},
}
