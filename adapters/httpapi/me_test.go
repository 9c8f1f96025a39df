package httpapi

import (
	"net/http"
	"testing"
)

func TestMeAndUsers(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	owner := e.token("owner", withEmail("owner@example.com"), withName("Olive"))
	orgID := e.createOrg(t, owner, "acme")
	botID := e.addMember(t, owner, orgID, "bot", "member")

	res, body := e.do(t, http.MethodGet, "/api/v1/me", owner, nil)
	wantStatus(t, res, body, http.StatusOK)
	me := data(t, body)
	if me["subject"] != "owner" || me["issuer"] != testIssuer || me["email"] != "owner@example.com" || me["name"] != "Olive" {
		t.Errorf("me %s", body)
	}
	ms := me["memberships"].([]any)
	if len(ms) != 1 {
		t.Fatalf("memberships %v", ms)
	}
	m := ms[0].(obj)
	if m["organization_id"] != orgID || m["organization_slug"] != "acme" || m["status"] != "active" ||
		len(toStrings(m["roles"])) != 1 || len(toStrings(m["permissions"])) == 0 {
		t.Errorf("membership %v", m)
	}

	// A machine client has neither email nor name: both null.
	res, body = e.do(t, http.MethodGet, "/api/v1/me", e.token("bot"), nil)
	wantStatus(t, res, body, http.StatusOK)
	if d := data(t, body); d["email"] != nil || d["name"] != nil || d["id"] != botID {
		t.Errorf("bot %s", body)
	}

	for form, base := range forms(orgID, "/users") {
		tok := owner
		if form == "token form" {
			tok = e.token("owner", withOrg(orgID))
		}
		res, body = e.do(t, http.MethodGet, base+"?sort=email", tok, nil)
		wantStatus(t, res, body, http.StatusOK)
		if n := len(listData(t, body)); n != 2 {
			t.Errorf("%s: %d users, want 2", form, n)
		}
		res, body = e.do(t, http.MethodGet, base+"?email=OWNER@example.com", tok, nil)
		wantStatus(t, res, body, http.StatusOK)
		if n := len(listData(t, body)); n != 1 {
			t.Errorf("%s: email filter found %d users, want 1", form, n)
		}
		res, body = e.do(t, http.MethodGet, base+"/"+botID, tok, nil)
		wantStatus(t, res, body, http.StatusOK)
		if u := data(t, body); u["id"] != botID || u["subject"] != "bot" {
			t.Errorf("%s: user %s", form, body)
		}
		res, body = e.do(t, http.MethodGet, base+"/xyz", tok, nil)
		wantProblem(t, res, body, http.StatusNotFound, "not_found")
	}

	res, body = e.do(t, http.MethodGet, "/api/v1/admin/users", owner, nil)
	wantProblem(t, res, body, http.StatusForbidden, "platform_admin_required")
	res, body = e.do(t, http.MethodGet, "/api/v1/admin/users?size=1", e.token("root", withAdmin()), nil)
	wantStatus(t, res, body, http.StatusOK)
	pg := decodeJSONBody[obj](t, body)["pagination"].(obj)
	if pg["total_items"].(float64) < 2 || len(listData(t, body)) != 1 {
		t.Errorf("admin users %s", body)
	}
}
