package httpapi

import (
	"net/http"
	"slices"
	"testing"
)

// TestExcludedPermissions pins that "*" is never shown as more than it
// gives: the built-in admin role and an admin's /me membership list
// organization:delete as excluded, and an owner's do not.
func TestExcludedPermissions(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	owner := e.token("excl-owner")
	orgID := e.createOrg(t, owner, "excl")
	admin := e.token("excl-admin")
	e.addMember(t, owner, orgID, "excl-admin", "admin")

	excluded := func(v any) []string {
		var out []string
		for _, x := range v.([]any) {
			out = append(out, x.(string))
		}
		return out
	}
	tests := []struct {
		role string
		want []string
	}{
		{"admin", []string{"organization:delete", "identity_provider:write"}},
		{"owner", nil},
		{"member", nil},
	}
	for _, tt := range tests {
		res, body := e.do(t, http.MethodGet, "/api/v1/organizations/"+orgID+"/roles/"+tt.role, owner, nil)
		wantStatus(t, res, body, http.StatusOK)
		if got := excluded(data(t, body)["excluded_permissions"]); !slices.Equal(got, tt.want) {
			t.Errorf("role %s: excluded_permissions = %v, want %v", tt.role, got, tt.want)
		}
	}

	for tok, want := range map[string][]string{admin: {"organization:delete", "identity_provider:write"}, owner: nil} {
		res, body := e.do(t, http.MethodGet, "/api/v1/me", tok, nil)
		wantStatus(t, res, body, http.StatusOK)
		ms := data(t, body)["memberships"].([]any)
		if len(ms) != 1 {
			t.Fatalf("got %d memberships, want 1: %s", len(ms), body)
		}
		if got := excluded(ms[0].(map[string]any)["excluded_permissions"]); !slices.Equal(got, want) {
			t.Errorf("/me excluded_permissions = %v, want %v", got, want)
		}
	}
}
