package domain_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/orgstack/orgstack/domain"
)

func mustKey(t *testing.T, v string) domain.PermissionKey {
	t.Helper()
	k, err := domain.ParsePermissionKey(v)
	if err != nil {
		t.Fatalf("ParsePermissionKey(%q): %v", v, err)
	}
	return k
}

func mustGrant(t *testing.T, v string) domain.Grant {
	t.Helper()
	g, err := domain.ParseGrant(v)
	if err != nil {
		t.Fatalf("ParseGrant(%q): %v", v, err)
	}
	return g
}

func TestParsePermissionKey(t *testing.T) {
	t.Parallel()
	p63 := "p" + strings.Repeat("x", 62)
	p64 := "p" + strings.Repeat("x", 63)
	tests := []struct {
		name         string
		give         string
		wantResource string
		wantAction   string
		wantErr      bool
	}{
		{name: "plain", give: "invoices:approve", wantResource: "invoices", wantAction: "approve"},
		{name: "one-char parts", give: "a:b", wantResource: "a", wantAction: "b"},
		{name: "63-char parts", give: p63 + ":" + p63, wantResource: p63, wantAction: p63},
		{name: "64-char resource", give: p64 + ":read", wantErr: true},
		{name: "64-char action", give: "invoices:" + p64, wantErr: true},
		{name: "allowed punctuation", give: "billing.invoices_v2-x:re_ad.all-1", wantResource: "billing.invoices_v2-x", wantAction: "re_ad.all-1"},
		{name: "digits after the first letter", give: "s3:put2", wantResource: "s3", wantAction: "put2"},
		{name: "missing colon", give: "invoices", wantErr: true},
		{name: "empty", give: "", wantErr: true},
		{name: "only colon", give: ":", wantErr: true},
		{name: "empty resource", give: ":read", wantErr: true},
		{name: "empty action", give: "invoices:", wantErr: true},
		{name: "two colons", give: "a:b:c", wantErr: true},
		{name: "resource starts with digit", give: "1nvoices:read", wantErr: true},
		{name: "action starts with digit", give: "invoices:2read", wantErr: true},
		{name: "resource starts with underscore", give: "_invoices:read", wantErr: true},
		{name: "action starts with dot", give: "invoices:.read", wantErr: true},
		{name: "resource starts with hyphen", give: "-invoices:read", wantErr: true},
		{name: "uppercase resource", give: "Invoices:read", wantErr: true},
		{name: "uppercase action", give: "invoices:Read", wantErr: true},
		{name: "space", give: "invoices: read", wantErr: true},
		{name: "other punctuation", give: "invoices:re@d", wantErr: true},
		{name: "slash", give: "invoices/x:read", wantErr: true},
		{name: "unicode", give: "rechnungen:prüfen", wantErr: true},
		{name: "wildcard action is not a key", give: "invoices:*", wantErr: true},
		{name: "wildcard resource is not a key", give: "*:read", wantErr: true},
		{name: "star is not a key", give: "*", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := domain.ParsePermissionKey(tt.give)
			if tt.wantErr {
				checkFields(t, err, []string{""})
				if !got.IsZero() {
					t.Errorf("ParsePermissionKey(%q) = %v, want the zero key on error", tt.give, got)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParsePermissionKey(%q) error = %v, want nil", tt.give, err)
			}
			if got.Resource() != tt.wantResource || got.Action() != tt.wantAction {
				t.Errorf("ParsePermissionKey(%q) = (%q, %q), want (%q, %q)",
					tt.give, got.Resource(), got.Action(), tt.wantResource, tt.wantAction)
			}
			if got.String() != tt.give {
				t.Errorf("String() = %q, want %q", got.String(), tt.give)
			}
			if got.IsZero() {
				t.Errorf("IsZero() = true, want false")
			}
		})
	}
}

// systemKeys are the system permissions the issue lists, in its order.
var systemKeys = []string{
	"organization:read", "organization:update", "organization:delete",
	"members:read", "members:write",
	"roles:read", "roles:write",
	"permissions:read", "permissions:write",
	"authz:check",
	"identity_provider:read", "identity_provider:write",
	"audit:read",
	"webhooks:read", "webhooks:write",
}

func TestSystemPermissions(t *testing.T) {
	t.Parallel()
	ps := domain.SystemPermissions()
	got := make([]string, len(ps))
	for i, p := range ps {
		got[i] = p.Key().String()
		if !p.IsSystem() {
			t.Errorf("%s: IsSystem() = false, want true", got[i])
		}
		if !p.Key().IsSystem() {
			t.Errorf("%s: Key().IsSystem() = false, want true", got[i])
		}
		if p.ID() != "" || p.OrgID() != "" {
			t.Errorf("%s: ID, OrgID = %q, %q, want empty", got[i], p.ID(), p.OrgID())
		}
		if p.Description() == "" {
			t.Errorf("%s: Description() is empty", got[i])
		}
	}
	if !slices.Equal(got, systemKeys) {
		t.Errorf("SystemPermissions() = %q, want %q", got, systemKeys)
	}

	// The returned slice is a copy.
	ps[0] = nil
	if again := domain.SystemPermissions(); again[0] == nil {
		t.Errorf("changing the returned slice changed the system permissions")
	}

	vars := []domain.PermissionKey{
		domain.PermOrganizationRead, domain.PermOrganizationUpdate, domain.PermOrganizationDelete,
		domain.PermMembersRead, domain.PermMembersWrite, domain.PermRolesRead, domain.PermRolesWrite,
		domain.PermPermissionsRead, domain.PermPermissionsWrite, domain.PermAuthzCheck,
	}
	for i, k := range vars {
		if k.String() != systemKeys[i] {
			t.Errorf("exported system key #%d = %q, want %q", i, k, systemKeys[i])
		}
	}
}

func TestSystemPermissionLookup(t *testing.T) {
	t.Parallel()
	tests := []struct {
		give string
		want bool
	}{
		{give: "organization:read", want: true},
		{give: "authz:check", want: true},
		{give: "members:write", want: true},
		{give: "organization:create"},
		{give: "members:delete"},
		{give: "invoices:approve"},
		{give: "authz:read"},
	}
	for _, tt := range tests {
		t.Run(tt.give, func(t *testing.T) {
			t.Parallel()
			k := mustKey(t, tt.give)
			p, ok := domain.SystemPermission(k)
			if ok != tt.want {
				t.Fatalf("SystemPermission(%s) ok = %v, want %v", tt.give, ok, tt.want)
			}
			if ok && p.Key() != k {
				t.Errorf("SystemPermission(%s).Key() = %v, want %v", tt.give, p.Key(), k)
			}
			if got := k.IsSystem(); got != tt.want {
				t.Errorf("IsSystem(%s) = %v, want %v", tt.give, got, tt.want)
			}
		})
	}
}

func TestIsSystemResource(t *testing.T) {
	t.Parallel()
	tests := []struct {
		give string
		want bool
	}{
		{give: "organization", want: true},
		{give: "members", want: true},
		{give: "roles", want: true},
		{give: "permissions", want: true},
		{give: "authz", want: true},
		{give: "organizations"},
		{give: "member"},
		{give: "invoices"},
		{give: ""},
	}
	for _, tt := range tests {
		t.Run(tt.give, func(t *testing.T) {
			t.Parallel()
			if got := domain.IsSystemResource(tt.give); got != tt.want {
				t.Errorf("IsSystemResource(%q) = %v, want %v", tt.give, got, tt.want)
			}
		})
	}
}

func TestNewCustomPermission(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		key  string
		desc string
		want []string
	}{
		{name: "valid", key: "invoices:approve", desc: "Approve invoices"},
		{name: "empty description", key: "invoices:approve", desc: ""},
		{name: "description 500 chars", key: "invoices:approve", desc: strings.Repeat("d", 500)},
		{name: "description 500 multibyte runes", key: "invoices:approve", desc: strings.Repeat("ß", 500)},
		{name: "description 501 chars", key: "invoices:approve", desc: strings.Repeat("d", 501), want: []string{"description"}},
		{name: "description invalid utf-8", key: "invoices:approve", desc: "\xff", want: []string{"description"}},
		{name: "resource like a system one", key: "organizations:read"},
		{name: "system resource organization", key: "organization:archive", want: []string{"key"}},
		{name: "system resource members", key: "members:invite", want: []string{"key"}},
		{name: "system resource roles", key: "roles:assign", want: []string{"key"}},
		{name: "system resource permissions", key: "permissions:list", want: []string{"key"}},
		{name: "system resource authz", key: "authz:check", want: []string{"key"}},
		{name: "a system key itself", key: "members:read", want: []string{"key"}},
		{name: "invalid key", key: "Invoices:approve", want: []string{"key"}},
		{name: "wildcard key", key: "invoices:*", want: []string{"key"}},
		{name: "key and description bad", key: "invoices", desc: strings.Repeat("d", 501), want: []string{"key", "description"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, err := domain.NewCustomPermission("perm-1", "org-1", tt.key, tt.desc, t0)
			checkFields(t, err, tt.want)
			if len(tt.want) > 0 {
				if p != nil {
					t.Errorf("NewCustomPermission returned %v with an error, want nil", p)
				}
				return
			}
			if p.ID() != "perm-1" || p.OrgID() != "org-1" || p.Key().String() != tt.key ||
				p.Description() != tt.desc || p.IsSystem() || !p.CreatedAt().Equal(t0) || !p.UpdatedAt().Equal(t0) {
				t.Errorf("NewCustomPermission = {%q %q %q %q system=%v %v %v}, want {perm-1 org-1 %q %q system=false %v %v}",
					p.ID(), p.OrgID(), p.Key(), p.Description(), p.IsSystem(), p.CreatedAt(), p.UpdatedAt(),
					tt.key, tt.desc, t0, t0)
			}
		})
	}
}

func TestPermissionDescribe(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		give       string
		wantFields []string
	}{
		{name: "new text", give: "Approve any invoice"},
		{name: "cleared", give: ""},
		{name: "500 chars", give: strings.Repeat("d", 500)},
		{name: "501 chars", give: strings.Repeat("d", 501), wantFields: []string{"description"}},
		{name: "501 multibyte runes", give: strings.Repeat("é", 501), wantFields: []string{"description"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, err := domain.NewCustomPermission("perm-1", "org-1", "invoices:approve", "old", t0)
			if err != nil {
				t.Fatal(err)
			}
			err = p.Describe(tt.give, t1)
			checkFields(t, err, tt.wantFields)
			wantDesc, wantUpdated := tt.give, t1
			if len(tt.wantFields) > 0 {
				wantDesc, wantUpdated = "old", t0
			}
			if p.Description() != wantDesc {
				t.Errorf("Description() = %q, want %q", p.Description(), wantDesc)
			}
			if !p.UpdatedAt().Equal(wantUpdated) {
				t.Errorf("UpdatedAt() = %v, want %v", p.UpdatedAt(), wantUpdated)
			}
		})
	}
}

func TestPermissionDescribeSystemRefused(t *testing.T) {
	t.Parallel()
	for _, p := range domain.SystemPermissions() {
		t.Run(p.Key().String(), func(t *testing.T) {
			t.Parallel()
			before := p.Description()
			err := p.Describe("changed", t1)
			if !errors.Is(err, domain.ErrSystemPermission) {
				t.Errorf("Describe on a system permission = %v, want ErrSystemPermission", err)
			}
			if got := p.Description(); got != before {
				t.Errorf("Description() = %q after a refused Describe, want %q", got, before)
			}
		})
	}
}

func TestUnmarshalPermissionFromDatabase(t *testing.T) {
	t.Parallel()
	p := domain.UnmarshalPermissionFromDatabase("perm-1", "org-1", "invoices:approve", "Approve", t0, t1)
	if p.ID() != "perm-1" || p.OrgID() != "org-1" || p.Key() != mustKey(t, "invoices:approve") ||
		p.Description() != "Approve" || p.IsSystem() || !p.CreatedAt().Equal(t0) || !p.UpdatedAt().Equal(t1) {
		t.Errorf("UnmarshalPermissionFromDatabase = {%q %q %v %q %v %v %v}, want {perm-1 org-1 invoices:approve Approve false %v %v}",
			p.ID(), p.OrgID(), p.Key(), p.Description(), p.IsSystem(), p.CreatedAt(), p.UpdatedAt(), t0, t1)
	}
}

func TestParseGrant(t *testing.T) {
	t.Parallel()
	tests := []struct {
		give        string
		wantPattern bool
		wantKey     string // the key of a non-pattern grant
		wantErr     bool
	}{
		{give: "*", wantPattern: true},
		{give: "invoices:*", wantPattern: true},
		{give: "organization:*", wantPattern: true},
		{give: "invoices:approve", wantKey: "invoices:approve"},
		{give: "organization:delete", wantKey: "organization:delete"},
		{give: "a:b", wantKey: "a:b"},
		{give: "*:read", wantErr: true},
		{give: "*:*", wantErr: true},
		{give: "res:", wantErr: true},
		{give: ":*", wantErr: true},
		{give: ":", wantErr: true},
		{give: "", wantErr: true},
		{give: "invoices", wantErr: true},
		{give: "**", wantErr: true},
		{give: " *", wantErr: true},
		{give: "* ", wantErr: true},
		{give: "invoices:**", wantErr: true},
		{give: "invoices:app*", wantErr: true},
		{give: "inv*:read", wantErr: true},
		{give: "Invoices:*", wantErr: true},
		{give: "1nvoices:*", wantErr: true},
		{give: "invoices:*:*", wantErr: true},
		{give: "a:b:c", wantErr: true},
		{give: strings.Repeat("r", 64) + ":*", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.give, func(t *testing.T) {
			t.Parallel()
			got, err := domain.ParseGrant(tt.give)
			if tt.wantErr {
				checkFields(t, err, []string{""})
				return
			}
			if err != nil {
				t.Fatalf("ParseGrant(%q) error = %v, want nil", tt.give, err)
			}
			if got.String() != tt.give {
				t.Errorf("String() = %q, want %q", got.String(), tt.give)
			}
			if got.IsPattern() != tt.wantPattern {
				t.Errorf("IsPattern() = %v, want %v", got.IsPattern(), tt.wantPattern)
			}
			k, ok := got.Key()
			if ok != !tt.wantPattern {
				t.Errorf("Key() ok = %v, want %v", ok, !tt.wantPattern)
			}
			if ok && k.String() != tt.wantKey {
				t.Errorf("Key() = %q, want %q", k, tt.wantKey)
			}
			if !ok && !k.IsZero() {
				t.Errorf("Key() of a pattern = %q, want the zero key", k)
			}
		})
	}
}

func TestGrantOf(t *testing.T) {
	t.Parallel()
	k := mustKey(t, "invoices:approve")
	if got, want := domain.GrantOf(k), mustGrant(t, "invoices:approve"); got != want {
		t.Errorf("GrantOf(%v) = %v, want %v", k, got, want)
	}
}

func TestGrantAllows(t *testing.T) {
	t.Parallel()
	keys := []string{"invoices:approve", "invoices:read", "orders:approve", "organization:delete"}
	tests := []struct {
		give string
		want []bool // one per key above
	}{
		{give: "*", want: []bool{true, true, true, true}},
		{give: "invoices:*", want: []bool{true, true, false, false}},
		{give: "invoices:approve", want: []bool{true, false, false, false}},
		{give: "orders:approve", want: []bool{false, false, true, false}},
		{give: "organization:*", want: []bool{false, false, false, true}},
		{give: "organization:read", want: []bool{false, false, false, false}},
	}
	for _, tt := range tests {
		t.Run(tt.give, func(t *testing.T) {
			t.Parallel()
			g := mustGrant(t, tt.give)
			for i, k := range keys {
				if got := g.Allows(mustKey(t, k)); got != tt.want[i] {
					t.Errorf("%s.Allows(%s) = %v, want %v", tt.give, k, got, tt.want[i])
				}
			}
		})
	}
}

func TestGrantIncludes(t *testing.T) {
	t.Parallel()
	others := []string{"*", "invoices:*", "invoices:approve", "invoices:read", "orders:*", "orders:approve"}
	tests := []struct {
		give string
		want []bool // one per grant in others
	}{
		{give: "*", want: []bool{true, true, true, true, true, true}},
		{give: "invoices:*", want: []bool{false, true, true, true, false, false}},
		{give: "invoices:approve", want: []bool{false, false, true, false, false, false}},
		{give: "invoices:read", want: []bool{false, false, false, true, false, false}},
		{give: "orders:*", want: []bool{false, false, false, false, true, true}},
		{give: "orders:approve", want: []bool{false, false, false, false, false, true}},
	}
	for _, tt := range tests {
		t.Run(tt.give, func(t *testing.T) {
			t.Parallel()
			g := mustGrant(t, tt.give)
			for i, o := range others {
				if got := g.Includes(mustGrant(t, o)); got != tt.want[i] {
					t.Errorf("%s.Includes(%s) = %v, want %v", tt.give, o, got, tt.want[i])
				}
			}
		})
	}
}

func TestParseGrants(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		give       []string
		want       []string
		wantFields []string
	}{
		{name: "nil", give: nil, want: []string{}},
		{name: "keeps order", give: []string{"orders:*", "*", "invoices:read"}, want: []string{"orders:*", "*", "invoices:read"}},
		{name: "drops duplicates", give: []string{"invoices:read", "*", "invoices:read", "*"}, want: []string{"invoices:read", "*"}},
		{name: "names the bad indexes", give: []string{"invoices:read", "*:read", "ok:go", "res:"}, wantFields: []string{"1", "3"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			gs, err := domain.ParseGrants(tt.give)
			checkFields(t, err, tt.wantFields)
			if len(tt.wantFields) > 0 {
				return
			}
			got := make([]string, len(gs))
			for i, g := range gs {
				got[i] = g.String()
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("ParseGrants(%q) = %q, want %q", tt.give, got, tt.want)
			}
		})
	}
}
