package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
)

// adminUser is the path of one user under the platform routes.
func adminUser(id string) string { return "/api/v1/admin/users/" + id }

// wantTokenRefused checks a 401 invalid_token with reason.
func wantTokenRefused(t *testing.T, res *http.Response, body []byte, reason string) {
	t.Helper()
	p := wantProblem(t, res, body, http.StatusUnauthorized, "invalid_token")
	if p["reason"] != reason {
		t.Errorf("reason %v, want %s: %s", p["reason"], reason, body)
	}
}

// allowed asks, as tok, whether userID may do perm in orgID: one check and
// the same check second in a batch (the batch reads later checks apart).
func allowed(t *testing.T, e *env, tok, orgID, userID, perm string) (bool, bool) {
	t.Helper()
	res, body := e.do(t, http.MethodPost, "/api/v1/organizations/"+orgID+"/check", tok,
		obj{"user_id": userID, "permission": perm})
	wantStatus(t, res, body, http.StatusOK)
	one := data(t, body)["allowed"] == true
	res, body = e.do(t, http.MethodPost, "/api/v1/organizations/"+orgID+"/check", tok,
		obj{"checks": []obj{{"user_id": userID, "permission": "members:read"}, {"user_id": userID, "permission": perm}}})
	wantStatus(t, res, body, http.StatusOK)
	results, _ := data(t, body)["results"].([]any)
	if len(results) != 2 {
		t.Fatalf("batch results: %s", body)
	}
	second, _ := results[1].(obj)
	return one, second["allowed"] == true
}

// TestUserDeactivateActivate: a deactivated user's tokens are refused with
// reason user_deactivated on every kind of route (tokens already verified
// and cached too: the status is read per request), checks about it answer
// not allowed, and activating it restores everything.
func TestUserDeactivateActivate(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	root := e.token("ul-root", withAdmin())
	owner := e.token("ul-owner")
	orgID := e.createOrg(t, owner, "ul-org")
	bobID := e.addMember(t, owner, orgID, "ul-bob", "member")
	bob := e.token("ul-bob")

	res, body := e.do(t, http.MethodGet, "/api/v1/me", bob, nil)
	wantStatus(t, res, body, http.StatusOK)
	if d := data(t, body); d["status"] != "active" || d["version"] != float64(1) {
		t.Fatalf("me before: %s", body)
	}
	if one, batch := allowed(t, e, owner, orgID, bobID, "members:read"); !one || !batch {
		t.Fatalf("check before deactivation: %v %v, want true", one, batch)
	}

	// Refusals come first: no token, not a platform administrator, no such user.
	res, body = e.do(t, http.MethodPatch, adminUser(bobID), "", obj{"status": "deactivated"})
	wantProblem(t, res, body, http.StatusUnauthorized, "unauthenticated")
	res, body = e.do(t, http.MethodPatch, adminUser(bobID), owner, obj{"status": "deactivated"})
	wantProblem(t, res, body, http.StatusForbidden, "platform_admin_required")
	res, body = e.do(t, http.MethodDelete, adminUser(bobID), owner, nil)
	wantProblem(t, res, body, http.StatusForbidden, "platform_admin_required")
	res, body = e.do(t, http.MethodGet, adminUser(bobID), bob, nil)
	wantProblem(t, res, body, http.StatusForbidden, "platform_admin_required")
	for _, id := range []string{"01900000-0000-7000-8000-000000000000", "not-a-uuid"} {
		res, body = e.do(t, http.MethodPatch, adminUser(id), root, obj{"status": "deactivated"})
		wantProblem(t, res, body, http.StatusNotFound, "not_found")
		res, body = e.do(t, http.MethodDelete, adminUser(id), root, nil)
		wantProblem(t, res, body, http.StatusNotFound, "not_found")
	}
	// Bad bodies name the field.
	for _, tt := range []struct {
		give obj
		want string
	}{
		{obj{"status": "erased"}, "/status"},
		{obj{"status": "gone"}, "/status"},
		{obj{}, "/status"},
		{obj{"status": "deactivated", "email": "x@example.com"}, "/email"},
	} {
		res, body = e.do(t, http.MethodPatch, adminUser(bobID), root, tt.give)
		code := "validation_failed"
		if tt.want == "/email" {
			code = "malformed_json"
		}
		p := wantProblem(t, res, body, http.StatusBadRequest, code)
		if f := problemFields(p); !slices.Contains(f, tt.want) {
			t.Errorf("PATCH %v: fields %v, want %s", tt.give, f, tt.want)
		}
	}
	// A stale If-Match is 412 and changes nothing.
	res, body = e.do(t, http.MethodPatch, adminUser(bobID), root, obj{"status": "deactivated"}, "If-Match", `"7"`)
	wantProblem(t, res, body, http.StatusPreconditionFailed, "version_mismatch")

	res, body = e.do(t, http.MethodPatch, adminUser(bobID), root, obj{"status": "deactivated"}, "If-Match", `"1"`)
	wantStatus(t, res, body, http.StatusOK)
	if d := data(t, body); d["status"] != "deactivated" || d["version"] != float64(2) || res.Header.Get("ETag") != `"2"` {
		t.Fatalf("deactivated: %s (ETag %s)", body, res.Header.Get("ETag"))
	}
	// Deactivating again changes nothing.
	res, body = e.do(t, http.MethodPatch, adminUser(bobID), root, obj{"status": "deactivated"})
	wantStatus(t, res, body, http.StatusOK)
	if d := data(t, body); d["version"] != float64(2) {
		t.Fatalf("deactivated twice: %s", body)
	}
	res, body = e.do(t, http.MethodGet, adminUser(bobID), root, nil, "If-None-Match", `"2"`)
	wantStatus(t, res, body, http.StatusNotModified)

	// The same token (verified and cached before) and a new one are refused
	// everywhere: /me, tenant routes in both forms, checks, organization lists.
	bobAgain := e.token("ul-bob", withOrg(orgID))
	for _, req := range []struct{ method, path, tok string }{
		{http.MethodGet, "/api/v1/me", bob},
		{http.MethodPatch, "/api/v1/me", bob},
		{http.MethodGet, "/api/v1/organizations", bob},
		{http.MethodGet, "/api/v1/organizations/" + orgID + "/members", bob},
		{http.MethodGet, "/api/v1/members", bobAgain},
		{http.MethodPost, "/api/v1/check", bobAgain},
		{http.MethodPost, "/api/v1/organizations/" + orgID + "/check", bob},
	} {
		var b any
		switch {
		case req.method == http.MethodPatch:
			b = obj{"metadata": obj{"k": "v"}}
		case strings.HasSuffix(req.path, "/check"):
			b = obj{"user_id": bobID, "permission": "members:read"}
		}
		res, body = e.do(t, req.method, req.path, req.tok, b)
		wantTokenRefused(t, res, body, "user_deactivated")
	}
	if one, batch := allowed(t, e, owner, orgID, bobID, "members:read"); one || batch {
		t.Fatalf("check about a deactivated user: %v %v, want false", one, batch)
	}
	// The operator's dry run answers as authentication does.
	for _, tok := range []string{bob, bobAgain} {
		res, body = e.do(t, http.MethodPost, "/api/v1/admin/token-check", root, obj{"token": tok})
		wantStatus(t, res, body, http.StatusOK)
		if got := decodeJSONBody[obj](t, body); got["accepted"] != false || got["reason"] != "user_deactivated" {
			t.Errorf("dry run of a deactivated user's token: %s", body)
		}
	}
	res, body = e.do(t, http.MethodPost, "/api/v1/organizations/"+orgID+"/check", owner,
		obj{"subject": "ul-bob", "permission": "members:read"})
	wantStatus(t, res, body, http.StatusOK)
	if data(t, body)["allowed"] != false {
		t.Fatalf("check by subject about a deactivated user: %s", body)
	}
	// The member record is kept, and shows up in admin lists with its status.
	res, body = e.do(t, http.MethodGet, "/api/v1/admin/users?email=&q=", root, nil)
	wantStatus(t, res, body, http.StatusOK)
	found := false
	for _, it := range listData(t, body) {
		if u := it.(obj); u["id"] == bobID {
			found = u["status"] == "deactivated"
		}
	}
	if !found {
		t.Errorf("admin list does not show bob deactivated: %s", body)
	}

	res, body = e.do(t, http.MethodPatch, adminUser(bobID), root, obj{"status": "active"})
	wantStatus(t, res, body, http.StatusOK)
	if d := data(t, body); d["status"] != "active" || d["version"] != float64(3) {
		t.Fatalf("activated: %s", body)
	}
	res, body = e.do(t, http.MethodGet, "/api/v1/organizations/"+orgID+"/members", bob, nil)
	wantStatus(t, res, body, http.StatusOK)
	if one, batch := allowed(t, e, owner, orgID, bobID, "members:read"); !one || !batch {
		t.Fatalf("check after activation: %v %v, want true", one, batch)
	}
}

// TestUserDeactivatedProviderToken: a token of an organization's own
// identity provider for a deactivated user is refused, and just-in-time
// membership neither re-activates the user nor re-creates its membership.
func TestUserDeactivatedProviderToken(t *testing.T) {
	t.Parallel()
	pe := newProviderEnv(t)
	root := pe.token("ulp-root", withAdmin())
	tok := pe.providerToken("dora", "admins")
	res, body := pe.do(t, http.MethodGet, "/api/v1/members", tok, nil)
	wantStatus(t, res, body, http.StatusOK)
	uid := pe.userIDOf(t, "dora")
	res, body = pe.do(t, http.MethodDelete, "/api/v1/organizations/"+pe.orgA+"/members/"+uid, pe.owner, nil)
	wantStatus(t, res, body, http.StatusNoContent)
	res, body = pe.do(t, http.MethodPatch, adminUser(uid), root, obj{"status": "deactivated"})
	wantStatus(t, res, body, http.StatusOK)

	for _, path := range []string{"/api/v1/members", "/api/v1/me"} {
		res, body = pe.do(t, http.MethodGet, path, pe.providerToken("dora", "admins"), nil)
		wantTokenRefused(t, res, body, "user_deactivated")
	}
	if r, st := pe.roles(t, "dora"); r != nil || st != "" {
		t.Fatalf("membership re-created for a deactivated user: %v %s", r, st)
	}
	u, err := pe.Store.Users().Get(context.Background(), uid)
	if err != nil || u.Status().String() != "deactivated" {
		t.Fatalf("user after provider tokens: %v %v", u, err)
	}
	// Erased: refused too, and never created again.
	res, body = pe.do(t, http.MethodDelete, adminUser(uid), root, nil)
	wantStatus(t, res, body, http.StatusNoContent)
	res, body = pe.do(t, http.MethodGet, "/api/v1/members", pe.providerToken("dora", "admins"), nil)
	wantTokenRefused(t, res, body, "user_erased")
	if r, st := pe.roles(t, "dora"); r != nil || st != "" {
		t.Fatalf("membership re-created for an erased user: %v %s", r, st)
	}
}

// TestUserErase: erasure removes the memberships and the personal fields
// (read back from the table), keeps a tombstone that refuses the next token
// instead of creating the user again, and is 409 last_owner naming every
// organization whose last active owner the user is.
func TestUserErase(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	root := e.token("ue-root", withAdmin())
	owner := e.token("ue-owner")
	shared := e.createOrg(t, owner, "ue-shared")
	carol := e.token("ue-carol", withEmail("carol@example.com"), withName("Carol"))
	carolID := e.userID(t, carol)
	e.addMember(t, owner, shared, "ue-carol", "admin")
	res, body := e.do(t, http.MethodPatch, "/api/v1/me", carol, obj{"metadata": obj{"team": "payments"}})
	wantStatus(t, res, body, http.StatusOK)
	// Carol alone owns two organizations.
	first := e.createOrg(t, carol, "ue-first")
	second := e.createOrg(t, carol, "ue-second")

	res, body = e.do(t, http.MethodDelete, adminUser(carolID), root, nil)
	p := wantProblem(t, res, body, http.StatusConflict, "last_owner")
	orgs, _ := p["organizations"].([]any)
	var slugs []string
	for _, o := range orgs {
		m := o.(obj)
		slugs = append(slugs, fmt.Sprint(m["slug"]))
		if m["id"] != first && m["id"] != second {
			t.Errorf("last_owner names %v, want %s or %s", m["id"], first, second)
		}
	}
	if !slices.Equal(slugs, []string{"ue-first", "ue-second"}) {
		t.Fatalf("last_owner organizations %v, want ue-first, ue-second: %s", slugs, body)
	}
	// Nothing changed.
	res, body = e.do(t, http.MethodGet, "/api/v1/me", carol, nil)
	wantStatus(t, res, body, http.StatusOK)
	if d := data(t, body); len(d["memberships"].([]any)) != 3 || d["email"] != "carol@example.com" {
		t.Fatalf("after a refused erasure: %s", body)
	}

	// Another owner for one organization, the other deleted: erasure goes through.
	e.addMember(t, carol, first, "ue-dave", "owner")
	res, body = e.do(t, http.MethodDelete, "/api/v1/organizations/"+second, carol, nil)
	wantStatus(t, res, body, http.StatusNoContent)
	res, body = e.do(t, http.MethodDelete, adminUser(carolID), root, nil, "If-Match", `"1"`)
	wantProblem(t, res, body, http.StatusPreconditionFailed, "version_mismatch")
	res, body = e.do(t, http.MethodGet, adminUser(carolID), root, nil)
	wantStatus(t, res, body, http.StatusOK)
	res, body = e.do(t, http.MethodDelete, adminUser(carolID), root, nil, "If-Match", res.Header.Get("ETag"))
	wantStatus(t, res, body, http.StatusNoContent)

	// The table holds the tombstone only.
	var (
		n                                    int
		email, name, status, metadata, issue string
	)
	db := e.Store.DB()
	if scanAll(t, e.Store, "SELECT count(*) FROM memberships WHERE user_id = ?", []any{carolID}, &n); n != 0 {
		t.Fatalf("memberships left: %d", n)
	}
	if err := db.NewRaw("SELECT email, name, status, metadata, issuer FROM users WHERE id = ?", carolID).
		Scan(ctx, &email, &name, &status, &metadata, &issue); err != nil {
		t.Fatal(err)
	}
	if email != "" || name != "" || status != "erased" || metadata != "{}" || issue != testIssuer {
		t.Fatalf("users row after erasure: %q %q %q %q %q", email, name, status, metadata, issue)
	}
	res, body = e.do(t, http.MethodGet, adminUser(carolID), root, nil)
	wantStatus(t, res, body, http.StatusOK)
	if d := data(t, body); d["status"] != "erased" || d["email"] != nil || d["name"] != nil || d["subject"] != "ue-carol" {
		t.Fatalf("tombstone: %s", body)
	}

	// The next token is refused, with the claims it carries, and no user is
	// created again.
	for _, tok := range []string{carol, e.token("ue-carol", withEmail("carol@new.example"), withName("Carol"))} {
		res, body = e.do(t, http.MethodGet, "/api/v1/me", tok, nil)
		wantTokenRefused(t, res, body, "user_erased")
		res, body = e.do(t, http.MethodGet, "/api/v1/organizations/"+shared, tok, nil)
		wantTokenRefused(t, res, body, "user_erased")
	}
	if err := db.NewRaw("SELECT count(*) FROM users WHERE subject = ?", "ue-carol").Scan(ctx, &n); err != nil || n != 1 {
		t.Fatalf("users for the erased identity: %d %v", n, err)
	}
	if err := db.NewRaw("SELECT email FROM users WHERE id = ?", carolID).Scan(ctx, &email); err != nil || email != "" {
		t.Fatalf("email after a token of the erased user: %q %v", email, err)
	}
	// Nobody adds the tombstone back; checks about it are not allowed.
	res, body = e.do(t, http.MethodPost, "/api/v1/organizations/"+shared+"/members", owner, obj{"subject": "ue-carol", "roles": []string{"member"}})
	wantProblem(t, res, body, http.StatusConflict, "user_erased")
	res, body = e.do(t, http.MethodPost, "/api/v1/organizations/"+shared+"/members", owner, obj{"user_id": carolID, "roles": []string{"member"}})
	wantProblem(t, res, body, http.StatusConflict, "user_erased")
	if one, batch := allowed(t, e, owner, shared, carolID, "members:read"); one || batch {
		t.Fatalf("check about an erased user: %v %v", one, batch)
	}
	// Erasure is final.
	res, body = e.do(t, http.MethodDelete, adminUser(carolID), root, nil)
	wantProblem(t, res, body, http.StatusConflict, "user_erased")
	res, body = e.do(t, http.MethodPatch, adminUser(carolID), root, obj{"status": "active"})
	wantProblem(t, res, body, http.StatusConflict, "user_erased")
}

// TestPatchMeMetadata: the caller changes its own metadata only, under the
// organization metadata rules; other members are 400 naming them.
func TestPatchMeMetadata(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tok := e.token("pm-erin", withEmail("erin@example.com"))
	res, body := e.do(t, http.MethodPatch, "/api/v1/me", "", obj{"metadata": obj{"a": "b"}})
	wantProblem(t, res, body, http.StatusUnauthorized, "unauthenticated")

	res, body = e.do(t, http.MethodPatch, "/api/v1/me", tok, obj{"metadata": obj{"team": "payments", "desk": "4"}})
	wantStatus(t, res, body, http.StatusOK)
	d := data(t, body)
	if md := d["metadata"].(obj); md["team"] != "payments" || md["desk"] != "4" || d["version"] != float64(2) {
		t.Fatalf("after set: %s", body)
	}
	res, body = e.do(t, http.MethodPatch, "/api/v1/me", tok, obj{"metadata": obj{"desk": nil}}, "If-Match", `"2"`)
	wantStatus(t, res, body, http.StatusOK)
	if md := data(t, body)["metadata"].(obj); len(md) != 1 || md["team"] != "payments" {
		t.Fatalf("after removing a key: %s", body)
	}
	res, body = e.do(t, http.MethodPatch, "/api/v1/me", tok, obj{"metadata": obj{"x": "y"}}, "If-Match", `"2"`)
	wantProblem(t, res, body, http.StatusPreconditionFailed, "version_mismatch")
	// Unchanged: no new version.
	res, body = e.do(t, http.MethodPatch, "/api/v1/me", tok, obj{"metadata": obj{"team": "payments"}})
	wantStatus(t, res, body, http.StatusOK)
	if data(t, body)["version"] != float64(3) {
		t.Fatalf("an unchanged patch: %s", body)
	}

	many := obj{}
	for i := range 51 {
		many[fmt.Sprintf("k%d", i)] = "v"
	}
	tests := []struct {
		name string
		give any
		code string
		want string
	}{
		{"email is the token's", obj{"email": "other@example.com"}, "malformed_json", "/email"},
		{"name is the token's", obj{"name": "Other"}, "malformed_json", "/name"},
		{"status is the administrator's", obj{"status": "active"}, "malformed_json", "/status"},
		{"unknown member", obj{"metadata": obj{}, "roles": []string{"owner"}}, "malformed_json", "/roles"},
		{"empty key", obj{"metadata": obj{"": "x"}}, "validation_failed", "/metadata/"},
		{"long key", obj{"metadata": obj{strings.Repeat("k", 41): "x"}}, "validation_failed", "/metadata/" + strings.Repeat("k", 41)},
		{"long value", obj{"metadata": obj{"k": strings.Repeat("v", 501)}}, "validation_failed", "/metadata/k"},
		{"control character", obj{"metadata": obj{"k": "a\u0000b"}}, "validation_failed", "/metadata/k"},
		{"too many keys", obj{"metadata": many}, "validation_failed", "/metadata"},
		{"not an object", obj{"metadata": "x"}, "malformed_json", "/metadata"},
		{"non-string value", obj{"metadata": obj{"k": 1}}, "malformed_json", "/metadata/k"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, body := e.do(t, http.MethodPatch, "/api/v1/me", tok, tt.give)
			p := wantProblem(t, res, body, http.StatusBadRequest, tt.code)
			if f := problemFields(p); !slices.Contains(f, tt.want) {
				t.Errorf("fields %v, want %s: %s", f, tt.want, body)
			}
		})
	}
	res, body = e.do(t, http.MethodGet, "/api/v1/me", tok, nil)
	wantStatus(t, res, body, http.StatusOK)
	if d := data(t, body); d["email"] != "erin@example.com" || len(d["metadata"].(obj)) != 1 || d["status"] != "active" {
		t.Fatalf("after refused patches: %s", body)
	}
}
