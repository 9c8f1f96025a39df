package httpapi

import (
	"net/http"
	"testing"

	"github.com/orgstack/orgstack/domain"
	"github.com/orgstack/orgstack/ports"
)

// TestErrorCodesCoverDomain keeps the one error-code table in step with the
// sentinel errors of the domain and the ports: each code is listed with its
// kind's status.
func TestErrorCodesCoverDomain(t *testing.T) {
	kindStatus := map[domain.Kind]int{
		domain.KindInvalid: 400, domain.KindForbidden: 403,
		domain.KindNotFound: 404, domain.KindConflict: 409, domain.KindPrecondition: 412,
	}
	for _, e := range []*domain.Error{
		domain.ErrForbidden, domain.ErrOwnerRequired,
		domain.ErrEscalation, domain.ErrOrganizationMismatch, domain.ErrOrganizationSuspended,
		domain.ErrPlatformAdminRequired, ports.ErrOrgContextRequired, domain.ErrNotFound,
		domain.ErrSlugTaken, domain.ErrLastOwner, domain.ErrAlreadyMember, domain.ErrUserExists, domain.ErrUserDeactivated, domain.ErrUserErased,
		domain.ErrRoleExists, domain.ErrBuiltinRole, domain.ErrRoleInUse, domain.ErrPermissionExists,
		domain.ErrSystemPermission, domain.ErrPermissionInUse, domain.ErrVersionMismatch,
	} {
		c, ok := codeIndex[e.Code]
		if !ok {
			t.Errorf("domain code %s is missing from ErrorCodes", e.Code)
			continue
		}
		if c.Status != kindStatus[e.Kind] {
			t.Errorf("code %s: status %d, want %d for its kind", e.Code, c.Status, kindStatus[e.Kind])
		}
	}
	seen := map[string]bool{}
	for _, c := range ErrorCodes {
		if seen[c.Code] {
			t.Errorf("code %s listed twice", c.Code)
		}
		seen[c.Code] = true
		if c.Title == "" || http.StatusText(c.Status) == "" {
			t.Errorf("code %s: title %q, status %d", c.Code, c.Title, c.Status)
		}
	}
}

func TestPointerOf(t *testing.T) {
	tests := []struct{ give, want string }{
		{"slug", "/slug"},
		{"metadata/color", "/metadata/color"},
		{"checks/3/permission", "/checks/3/permission"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := pointerOf(tt.give); got != tt.want {
			t.Errorf("pointerOf(%q) = %q, want %q", tt.give, got, tt.want)
		}
	}
}
