package httpapi

import (
	"net/http"
	"os"
	"sync"
	"testing"

	"github.com/orgstack/orgstack/adapters/sqlstore/sqlstoretest"
)

// preconditionFixture is an organization with a member (bob), a custom
// role and a custom permission, all at version 1, and the paths of each.
type preconditionFixture struct {
	e                *env
	alice, bob       string
	orgID, bobID     string
	member, role, pm string // paths
}

func newPreconditionFixture(t *testing.T, e *env, slug string) preconditionFixture {
	t.Helper()
	f := preconditionFixture{e: e, alice: e.token("alice-" + slug)}
	f.orgID = e.createOrg(t, f.alice, slug)
	f.bobID = e.addMember(t, f.alice, f.orgID, "bob-"+slug, "member")
	f.bob = e.token("bob-" + slug)
	base := "/api/v1/organizations/" + f.orgID
	res, body := e.do(t, http.MethodPost, base+"/permissions", f.alice, obj{"key": "invoices:approve", "description": "Approve"})
	wantStatus(t, res, body, http.StatusCreated)
	if got := res.Header.Get("ETag"); got != `"1"` {
		t.Errorf("created permission: ETag %q, want \"1\"", got)
	}
	res, body = e.do(t, http.MethodPost, base+"/roles", f.alice, obj{"key": "approver", "name": "Approver", "permissions": []string{"invoices:approve"}})
	wantStatus(t, res, body, http.StatusCreated)
	if got := res.Header.Get("ETag"); got != `"1"` {
		t.Errorf("created role: ETag %q, want \"1\"", got)
	}
	f.member, f.role, f.pm = base+"/members/"+f.bobID, base+"/roles/approver", base+"/permissions/invoices:approve"
	return f
}

// patches are a valid change of each resource.
func (f preconditionFixture) patches() map[string]struct {
	path string
	body obj
} {
	return map[string]struct {
		path string
		body obj
	}{
		"member":     {f.member, obj{"roles": []string{"member", "approver"}}},
		"role":       {f.role, obj{"name": "Approvers"}},
		"permission": {f.pm, obj{"description": "Approve invoices"}},
	}
}

func wantETag(t *testing.T, res *http.Response, want string) {
	t.Helper()
	if got := res.Header.Get("ETag"); got != want {
		t.Errorf("%s %s: ETag %q, want %q", res.Request.Method, res.Request.URL.Path, got, want)
	}
}

// TestPreconditionsOnEveryAggregate: members, custom roles and custom
// permissions carry a version and ETag (list items the version too); a
// stale or weak If-Match on PATCH and DELETE is 412 and changes nothing; the
// current tag or * succeeds and moves the tag on; If-None-Match on GET is 304
// with the ETag and no body while the version is current. Runs on SQLite,
// and on PostgreSQL when ORGSTACK_TEST_POSTGRES_URL is set.
func TestPreconditionsOnEveryAggregate(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	f := newPreconditionFixture(t, e, "pre")
	for name, p := range f.patches() {
		t.Run(name, func(t *testing.T) {
			res, body := e.do(t, http.MethodGet, p.path, f.alice, nil)
			wantStatus(t, res, body, http.StatusOK)
			wantETag(t, res, `"1"`)
			if v := data(t, body)["version"]; v != float64(1) {
				t.Errorf("version %v, want 1", v)
			}
			// If-None-Match: weak comparison, lists and * match.
			for _, inm := range []string{`"1"`, `W/"1"`, `"7", "1"`, `*`} {
				res, body = e.do(t, http.MethodGet, p.path, f.alice, nil, "If-None-Match", inm)
				wantStatus(t, res, body, http.StatusNotModified)
				wantETag(t, res, `"1"`)
				if len(body) != 0 {
					t.Errorf("304 with a body: %q", body)
				}
			}
			res, body = e.do(t, http.MethodGet, p.path, f.alice, nil, "If-None-Match", `"2"`)
			wantStatus(t, res, body, http.StatusOK)

			// Stale, weak (strong comparison) and malformed If-Match: 412, nothing changes.
			for _, im := range []string{`"2"`, `W/"1"`, `1`, `"1", "2"`} {
				res, body = e.do(t, http.MethodPatch, p.path, f.alice, p.body, "If-Match", im)
				wantProblem(t, res, body, http.StatusPreconditionFailed, "version_mismatch")
				res, body = e.do(t, http.MethodDelete, p.path, f.alice, nil, "If-Match", im)
				wantProblem(t, res, body, http.StatusPreconditionFailed, "version_mismatch")
			}
			res, body = e.do(t, http.MethodGet, p.path, f.alice, nil)
			wantStatus(t, res, body, http.StatusOK)
			wantETag(t, res, `"1"`)

			// The current tag: 200 with the next one; then * matches any.
			res, body = e.do(t, http.MethodPatch, p.path, f.alice, p.body, "If-Match", `"1"`)
			wantStatus(t, res, body, http.StatusOK)
			wantETag(t, res, `"2"`)
			if v := data(t, body)["version"]; v != float64(2) {
				t.Errorf("version after PATCH %v, want 2", v)
			}
			res, body = e.do(t, http.MethodPatch, p.path, f.alice, p.body, "If-Match", `*`)
			wantStatus(t, res, body, http.StatusOK)
			wantETag(t, res, `"3"`)
			res, body = e.do(t, http.MethodGet, p.path, f.alice, nil, "If-None-Match", `"2"`)
			wantStatus(t, res, body, http.StatusOK)
		})
	}

	// List items carry the version.
	base := "/api/v1/organizations/" + f.orgID
	for _, list := range []string{"/members", "/roles", "/permissions"} {
		res, body := e.do(t, http.MethodGet, base+list, f.alice, nil)
		wantStatus(t, res, body, http.StatusOK)
		for _, it := range listData(t, body) {
			if _, ok := it.(map[string]any)["version"].(float64); !ok {
				t.Errorf("%s: item without a version: %v", list, it)
			}
		}
	}

	// An empty change keeps the version (as for organizations).
	res, body := e.do(t, http.MethodPatch, f.role, f.alice, obj{}, "If-Match", `"3"`)
	wantStatus(t, res, body, http.StatusOK)
	wantETag(t, res, `"3"`)

	// DELETE with the current tag: the member first (it holds the role,
	// which grants the permission), then the role, then the permission.
	res, body = e.do(t, http.MethodDelete, f.member, f.alice, nil, "If-Match", `"3"`)
	wantStatus(t, res, body, http.StatusNoContent)
	res, body = e.do(t, http.MethodDelete, f.role, f.alice, nil, "If-Match", `"3"`)
	wantStatus(t, res, body, http.StatusNoContent)
	res, body = e.do(t, http.MethodDelete, f.pm, f.alice, nil, "If-Match", `"3"`)
	wantStatus(t, res, body, http.StatusNoContent)

	// The organization answers If-None-Match too.
	res, body = e.do(t, http.MethodGet, base, f.alice, nil, "If-None-Match", `"1"`)
	wantStatus(t, res, body, http.StatusNotModified)
	wantETag(t, res, `"1"`)
}

// TestPreconditionsFixedTagsOfBuiltins: built-in roles and system
// permissions have the fixed tag "1" and answer If-None-Match with 304.
func TestPreconditionsFixedTagsOfBuiltins(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	alice := e.token("alice")
	orgID := e.createOrg(t, alice, "builtins")
	base := "/api/v1/organizations/" + orgID
	for _, path := range []string{"/roles/owner", "/roles/admin", "/roles/member", "/permissions/members:read", "/permissions/organization:delete"} {
		res, body := e.do(t, http.MethodGet, base+path, alice, nil)
		wantStatus(t, res, body, http.StatusOK)
		wantETag(t, res, `"1"`)
		if v := data(t, body)["version"]; v != float64(1) {
			t.Errorf("%s: version %v, want 1", path, v)
		}
		res, body = e.do(t, http.MethodGet, base+path, alice, nil, "If-None-Match", `"1"`)
		wantStatus(t, res, body, http.StatusNotModified)
	}
	res, body := e.do(t, http.MethodGet, base+"/roles", alice, nil)
	wantStatus(t, res, body, http.StatusOK)
	for _, it := range listData(t, body) {
		if v := it.(map[string]any)["version"]; v != float64(1) {
			t.Errorf("built-in role in the list: version %v, want 1", v)
		}
	}
}

// TestPreconditionsMemberTagFollowsUserProfile: when a user's email or name
// changes (the next token carries new claims), the member's tag changes in
// every organization, so an If-Match taken before the change is 412.
func TestPreconditionsMemberTagFollowsUserProfile(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	alice := e.token("alice")
	orgID := e.createOrg(t, alice, "profile")
	bob := e.token("bob", withEmail("bob@example.com"), withName("Bob"))
	bobID := e.userID(t, bob)
	path := "/api/v1/organizations/" + orgID + "/members/" + e.addMember(t, alice, orgID, "bob", "member")
	if path != "/api/v1/organizations/"+orgID+"/members/"+bobID {
		t.Fatalf("bob's member path %s, want user %s", path, bobID)
	}
	res, body := e.do(t, http.MethodGet, path, alice, nil)
	wantStatus(t, res, body, http.StatusOK)
	before := res.Header.Get("ETag")

	renamed := e.token("bob", withEmail("robert@example.com"), withName("Robert"))
	e.userID(t, renamed) // the token refreshes the profile
	res, body = e.do(t, http.MethodGet, path, alice, nil, "If-None-Match", before)
	wantStatus(t, res, body, http.StatusOK)
	after := res.Header.Get("ETag")
	if after == before {
		t.Fatalf("ETag %s unchanged after the user's profile changed", after)
	}
	if got := data(t, body)["email"]; got != "robert@example.com" {
		t.Errorf("email %v, want the new one", got)
	}
	res, body = e.do(t, http.MethodPatch, path, alice, obj{"status": "suspended"}, "If-Match", before)
	wantProblem(t, res, body, http.StatusPreconditionFailed, "version_mismatch")
	res, body = e.do(t, http.MethodPatch, path, alice, obj{"status": "suspended"}, "If-Match", after)
	wantStatus(t, res, body, http.StatusOK)
}

// TestPreconditionsAfterAuthorization: a stale tag does not tell anything
// the caller may not know: another tenant's member is 404, a missing
// permission 403, an unknown resource 404, as without the header.
func TestPreconditionsAfterAuthorization(t *testing.T) {
	t.Parallel()
	e := newEnv(t, withOptions(func(o *Options) { o.RequireIfMatch = true }))
	f := newPreconditionFixture(t, e, "authz")
	g := newPreconditionFixture(t, e, "other")
	// Another tenant: bob's member in org "other" through org "authz".
	foreign := "/api/v1/organizations/" + f.orgID + "/members/" + g.bobID
	for _, hdr := range [][]string{{"If-Match", `"9"`}, nil} {
		res, body := e.do(t, http.MethodPatch, foreign, f.alice, obj{"status": "suspended"}, hdr...)
		wantProblem(t, res, body, http.StatusNotFound, "not_found")
		res, body = e.do(t, http.MethodDelete, foreign, f.alice, nil, hdr...)
		wantProblem(t, res, body, http.StatusNotFound, "not_found")
		res, body = e.do(t, http.MethodGet, foreign, f.alice, nil, "If-None-Match", "*")
		wantProblem(t, res, body, http.StatusNotFound, "not_found")
		// A plain member may not change roles, whatever the tag.
		for name, p := range f.patches() {
			res, body = e.do(t, http.MethodPatch, p.path, f.bob, p.body, hdr...)
			wantProblem(t, res, body, http.StatusForbidden, "forbidden")
			res, body = e.do(t, http.MethodDelete, p.path, f.bob, nil, hdr...)
			if name == "member" && res.StatusCode == http.StatusNoContent {
				t.Fatal("a plain member removed itself through a stale tag")
			}
			wantProblem(t, res, body, http.StatusForbidden, "forbidden")
		}
		// The organization of another tenant is 404 too.
		res, body = e.do(t, http.MethodPatch, "/api/v1/organizations/"+g.orgID, f.alice, obj{"name": "X"}, hdr...)
		wantProblem(t, res, body, http.StatusNotFound, "not_found")
	}
}

// TestPreconditionsRequired: with RequireIfMatch (ORGSTACK_REQUIRE_IF_MATCH)
// every PATCH and DELETE of an organization, member, role or permission
// without If-Match is 428 precondition_required; with it, as usual.
func TestPreconditionsRequired(t *testing.T) {
	t.Parallel()
	e := newEnv(t, withOptions(func(o *Options) { o.RequireIfMatch = true }))
	f := newPreconditionFixture(t, e, "required")
	org := "/api/v1/organizations/" + f.orgID
	for name, p := range f.patches() {
		res, body := e.do(t, http.MethodPatch, p.path, f.alice, p.body)
		wantProblem(t, res, body, http.StatusPreconditionRequired, "precondition_required")
		res, body = e.do(t, http.MethodDelete, p.path, f.alice, nil)
		wantProblem(t, res, body, http.StatusPreconditionRequired, "precondition_required")
		res, body = e.do(t, http.MethodPatch, p.path, f.alice, p.body, "If-Match", `"1"`)
		wantStatus(t, res, body, http.StatusOK)
		if name == "member" {
			res, body = e.do(t, http.MethodPatch, p.path, f.alice, p.body, "If-Match", `"1"`)
			wantProblem(t, res, body, http.StatusPreconditionFailed, "version_mismatch")
		}
	}
	res, body := e.do(t, http.MethodPatch, org, f.alice, obj{"name": "Renamed"})
	wantProblem(t, res, body, http.StatusPreconditionRequired, "precondition_required")
	res, body = e.do(t, http.MethodDelete, org, f.alice, nil)
	wantProblem(t, res, body, http.StatusPreconditionRequired, "precondition_required")
	res, body = e.do(t, http.MethodPatch, org, f.alice, obj{"name": "Renamed"}, "If-Match", "*")
	wantStatus(t, res, body, http.StatusOK)
	// Reads and creations need no precondition.
	res, body = e.do(t, http.MethodGet, f.member, f.alice, nil)
	wantStatus(t, res, body, http.StatusOK)
	res, body = e.do(t, http.MethodPost, org+"/permissions", f.alice, obj{"key": "invoices:void", "description": "Void"})
	wantStatus(t, res, body, http.StatusCreated)
}

// TestPreconditionsRaceOverHTTP: two PATCHes of the same resource naming the
// same tag at the same moment: exactly one is 200, the other 412 — the
// version is compared in the transaction that writes. Needs PostgreSQL,
// where the requests really run in parallel on separate connections.
func TestPreconditionsRaceOverHTTP(t *testing.T) {
	if os.Getenv(sqlstoretest.PostgresURLEnv) == "" {
		t.Skipf("set %s to race requests on PostgreSQL", sqlstoretest.PostgresURLEnv)
	}
	t.Parallel()
	e := newEnv(t)
	f := newPreconditionFixture(t, e, "race")
	bodies := map[string][2]obj{
		"member":     {{"roles": []string{"member", "approver"}}, {"status": "suspended"}},
		"role":       {{"name": "Approvers A"}, {"name": "Approvers B"}},
		"permission": {{"description": "A"}, {"description": "B"}},
	}
	for name, p := range f.patches() {
		t.Run(name, func(t *testing.T) {
			for round := range 5 {
				res, body := e.do(t, http.MethodGet, p.path, f.alice, nil)
				wantStatus(t, res, body, http.StatusOK)
				tag := res.Header.Get("ETag")
				status := make([]int, 2)
				var wg sync.WaitGroup
				start := make(chan struct{})
				for i := range 2 {
					wg.Add(1)
					go func() {
						defer wg.Done()
						<-start
						res, _ := e.do(t, http.MethodPatch, p.path, f.alice, bodies[name][i], "If-Match", tag)
						status[i] = res.StatusCode
					}()
				}
				close(start)
				wg.Wait()
				ok, failed := 0, 0
				for _, s := range status {
					switch s {
					case http.StatusOK:
						ok++
					case http.StatusPreconditionFailed:
						failed++
					}
				}
				if ok != 1 || failed != 1 {
					t.Fatalf("round %d: statuses %v, want one 200 and one 412", round, status)
				}
				if name == "member" {
					// put bob back as an active approver for the next round
					res, body = e.do(t, http.MethodPatch, p.path, f.alice, obj{"status": "active", "roles": []string{"member"}})
					wantStatus(t, res, body, http.StatusOK)
				}
			}
		})
	}
}

// TestPreconditionsRequiredIdentityProvider: with RequireIfMatch, creating
// the identity provider needs no tag (there is no version to name), but
// replacing or deleting it without If-Match is 428, and a stale tag 412.
func TestPreconditionsRequiredIdentityProvider(t *testing.T) {
	t.Parallel()
	e := newEnv(t, withOptions(func(o *Options) { o.RequireIfMatch = true }))
	owner := e.token("idp-req-owner")
	orgID := e.createOrg(t, owner, "idp-required")
	path := "/api/v1/organizations/" + orgID + "/identity-provider"
	spec := providerBody("https://login.required.test/realms/a", "orgstack")
	res, body := e.do(t, http.MethodDelete, path, owner, nil)
	wantProblem(t, res, body, http.StatusNotFound, "not_found") // existence before the precondition
	res, body = e.do(t, http.MethodPut, path, owner, spec)
	wantStatus(t, res, body, http.StatusCreated)
	res, body = e.do(t, http.MethodPut, path, owner, spec)
	wantProblem(t, res, body, http.StatusPreconditionRequired, "precondition_required")
	res, body = e.do(t, http.MethodDelete, path, owner, nil)
	wantProblem(t, res, body, http.StatusPreconditionRequired, "precondition_required")
	res, body = e.do(t, http.MethodPut, path, owner, spec, "If-Match", `"2"`)
	wantProblem(t, res, body, http.StatusPreconditionFailed, "version_mismatch")
	res, body = e.do(t, http.MethodPut, path, owner, spec, "If-Match", `"1"`)
	wantStatus(t, res, body, http.StatusOK)
	res, body = e.do(t, http.MethodDelete, path, owner, nil, "If-Match", `"2"`)
	wantStatus(t, res, body, http.StatusNoContent)
}
