package httpapi

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/orgstack/orgstack/domain"
)

// TestSlugShapedLikeUUID: a slug of the form of a UUID could never be found
// by slug (such a reference is read as an ID), so creating or renaming to
// one is a validation error on /slug. An organization that already has one
// stays reachable by ID and can be renamed.
func TestSlugShapedLikeUUID(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	alice := e.token("alice")
	acme := e.createOrg(t, alice, "acme")
	const uuidSlug = "deadbeef-0000-7000-8000-000000000001"

	for _, tt := range []struct {
		name, method, path string
		body               obj
	}{
		{"create", http.MethodPost, "/api/v1/organizations", obj{"slug": uuidSlug, "name": "U"}},
		{"create, ending in a letter", http.MethodPost, "/api/v1/organizations", obj{"slug": "deadbeef-0000-7000-8000-00000000000a", "name": "U"}},
		{"rename", http.MethodPatch, "/api/v1/organizations/" + acme, obj{"slug": uuidSlug}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			res, body := e.do(t, tt.method, tt.path, alice, tt.body)
			p := wantProblem(t, res, body, http.StatusBadRequest, "validation_failed")
			if got := problemFields(p); strings.Join(got, ",") != "/slug" {
				t.Errorf("errors name %v, want [/slug]", got)
			}
		})
	}

	// An organization stored with such a slug before the rule.
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Microsecond)
	const legacyID = "0190a5c4-0000-7000-8000-00000000abcd"
	legacy := domain.UnmarshalOrganizationFromDatabase(legacyID, uuidSlug, "Legacy", "active", nil, now, now, 1)
	if err := e.Store.Organizations().Create(ctx, legacy); err != nil {
		t.Fatal(err)
	}
	m, err := domain.NewMembership(legacyID, e.userID(t, alice), []string{"owner"}, now)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Store.Memberships().Create(ctx, m); err != nil {
		t.Fatal(err)
	}
	res, body := e.do(t, http.MethodGet, "/api/v1/organizations/"+legacyID, alice, nil)
	wantStatus(t, res, body, http.StatusOK)
	if got := data(t, body)["slug"]; got != uuidSlug {
		t.Errorf("legacy slug: got %v, want %s", got, uuidSlug)
	}
	res, body = e.do(t, http.MethodPatch, "/api/v1/organizations/"+legacyID, alice, obj{"name": "Legacy Inc"})
	wantStatus(t, res, body, http.StatusOK) // other changes keep the old slug
	res, body = e.do(t, http.MethodPatch, "/api/v1/organizations/"+legacyID, alice, obj{"slug": "legacy"})
	wantStatus(t, res, body, http.StatusOK)
	res, body = e.do(t, http.MethodGet, "/api/v1/organizations/legacy", alice, nil)
	wantStatus(t, res, body, http.StatusOK)
	if got := data(t, body)["id"]; got != legacyID {
		t.Errorf("renamed legacy organization by slug: got ID %v, want %s", got, legacyID)
	}
}
