package httpapi

import (
	"net/http"
	"strings"
	"testing"
)

// escalationAttempt is one request a caller makes to gain or hand out more
// than it holds. Placeholders: {self}, {owner}, {member}.
type escalationAttempt struct {
	name   string
	method string
	path   string
	body   string
	codes  []string // acceptable problem codes (403)
}

var (
	escalation = []string{"privilege_escalation"}
	ownerOnly  = []string{"owner_required", "privilege_escalation"}
)

// TestEscalationAdmin: an admin holds everything but organization:delete,
// so it may not grant organization:delete, organization:* or *, in a role it
// creates or edits or in roles it assigns (to others or itself), may not make
// itself or anyone owner, and may not remove, suspend or demote an owner.
func TestEscalationAdmin(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	o := newSecFixtures(e, "esc").org(t, "esc")
	ownerTok := e.token(o.OwnerSub)
	// Roles only the owner could make: they carry what the admin lacks.
	for key, grants := range map[string][]string{"deleter": {"organization:delete"}, "org-all": {"organization:*"}, "everything": {"*"}} {
		res, body := e.do(t, http.MethodPost, o.path("/roles"), ownerTok, obj{"key": key, "name": key, "permissions": grants})
		wantStatus(t, res, body, http.StatusCreated)
	}
	var attempts []escalationAttempt
	for _, g := range []string{"organization:delete", "organization:*", "*"} {
		attempts = append(attempts,
			escalationAttempt{"create role granting " + g, "POST", "/roles",
				`{"key":"esc-new","name":"New","permissions":["` + g + `"]}`, escalation},
			escalationAttempt{"edit role to grant " + g, "PATCH", "/roles/spare",
				`{"permissions":["` + g + `"]}`, escalation},
			escalationAttempt{"edit role to add " + g, "PATCH", "/roles/approver",
				`{"permissions":["invoices:approve","` + g + `"]}`, escalation},
		)
	}
	for _, r := range []string{"deleter", "org-all", "everything"} {
		attempts = append(attempts,
			escalationAttempt{"assign " + r + " to a member", "PATCH", "/members/{member}",
				`{"roles":["member","` + r + `"]}`, escalation},
			escalationAttempt{"add a member with " + r, "POST", "/members",
				`{"subject":"esc-new","roles":["` + r + `"]}`, escalation},
			escalationAttempt{"assign " + r + " to itself", "PATCH", "/members/{self}",
				`{"roles":["admin","` + r + `"]}`, escalation},
		)
	}
	attempts = append(attempts,
		escalationAttempt{"make itself owner", "PATCH", "/members/{self}", `{"roles":["owner"]}`, ownerOnly},
		escalationAttempt{"add owner to itself", "PATCH", "/members/{self}", `{"roles":["admin","owner"]}`, ownerOnly},
		escalationAttempt{"make a member owner", "PATCH", "/members/{member}", `{"roles":["owner"]}`, ownerOnly},
		escalationAttempt{"add a new owner", "POST", "/members", `{"subject":"esc-new","roles":["owner"]}`, ownerOnly},
		escalationAttempt{"remove the owner", "DELETE", "/members/{owner}", "", ownerOnly},
		escalationAttempt{"suspend the owner", "PATCH", "/members/{owner}", `{"status":"suspended"}`, ownerOnly},
		escalationAttempt{"demote the owner", "PATCH", "/members/{owner}", `{"roles":["member"]}`, ownerOnly},
		escalationAttempt{"demote the owner to admin", "PATCH", "/members/{owner}", `{"roles":["admin"]}`, ownerOnly},
		escalationAttempt{"re-add itself as owner", "POST", "/members", `{"user_id":"{self}","roles":["owner"]}`, ownerOnly},
		escalationAttempt{"re-add itself with deleter", "POST", "/members", `{"user_id":"{self}","roles":["deleter"]}`, escalation},
		escalationAttempt{"pre-provision the owner's subject as owner", "POST", "/members", `{"subject":"esc-owner","roles":["owner"]}`, ownerOnly},
	)
	fill := strings.NewReplacer("{self}", o.AdminID, "{owner}", o.OwnerID, "{member}", o.MemberID).Replace
	before := o.snapshot(t, e)
	for _, form := range []struct{ name, prefix, tok string }{
		{"explicit", "/api/v1/organizations/" + o.ID, e.token(o.AdminSub)},
		{"token", "/api/v1", e.token(o.AdminSub, withOrg(o.ID))},
	} {
		for _, a := range attempts {
			t.Run(form.name+"/"+a.name, func(t *testing.T) {
				var body any
				if a.body != "" {
					body = fill(a.body)
				}
				res, resBody := e.do(t, a.method, form.prefix+fill(a.path), form.tok, body)
				wantForbidden(t, res, resBody, a.codes)
			})
		}
	}
	wantUnchanged(t, before, o.snapshot(t, e))

	// The organization still cannot be deleted by the admin, and the owner
	// still holds it.
	res, body := e.do(t, http.MethodDelete, o.path(""), e.token(o.AdminSub), nil)
	wantProblem(t, res, body, http.StatusForbidden, "forbidden")
	res, body = e.do(t, http.MethodGet, o.path("/members/"+o.OwnerID), ownerTok, nil)
	wantStatus(t, res, body, http.StatusOK)
	if m := data(t, body); m["status"] != "active" || !hasRole(m, "owner") {
		t.Errorf("owner membership changed: %s", body)
	}

	// Control: what the admin's grants do cover is allowed, so the refusals
	// above are about the grants, not the requests.
	res, body = e.do(t, http.MethodPost, o.path("/roles"), e.token(o.AdminSub),
		obj{"key": "esc-ok", "name": "OK", "permissions": []string{"members:write", "invoices:*"}})
	wantStatus(t, res, body, http.StatusCreated)
	res, body = e.do(t, http.MethodPatch, o.path("/members/"+o.MemberID), e.token(o.AdminSub),
		obj{"roles": []string{"member", "esc-ok"}})
	wantStatus(t, res, body, http.StatusOK)
}

// TestEscalationCustomGrants: a caller holding invoices:approve (through a
// custom role, with members:write and roles:write) can hand out
// invoices:approve but not invoices:* nor *.
func TestEscalationCustomGrants(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	o := newSecFixtures(e, "inv").org(t, "inv")
	ownerTok := e.token(o.OwnerSub)
	for _, r := range []struct {
		key    string
		grants []string
	}{
		{"inv-manager", []string{"invoices:approve", "members:read", "members:write", "roles:read", "roles:write"}},
		{"inv-all", []string{"invoices:*"}},
	} {
		res, body := e.do(t, http.MethodPost, o.path("/roles"), ownerTok, obj{"key": r.key, "name": r.key, "permissions": r.grants})
		wantStatus(t, res, body, http.StatusCreated)
	}
	mgrID := e.addMember(t, ownerTok, o.ID, "inv-mgr", "inv-manager")
	mgr := e.token("inv-mgr")

	fill := strings.NewReplacer("{self}", mgrID, "{member}", o.MemberID).Replace
	attempts := []escalationAttempt{
		{"create role granting invoices:*", "POST", "/roles", `{"key":"mgr-new","name":"N","permissions":["invoices:*"]}`, escalation},
		{"create role granting *", "POST", "/roles", `{"key":"mgr-new","name":"N","permissions":["*"]}`, escalation},
		{"create role granting invoices:spare", "POST", "/roles", `{"key":"mgr-new","name":"N","permissions":["invoices:spare"]}`, escalation},
		{"create role granting members:write and organization:update", "POST", "/roles",
			`{"key":"mgr-new","name":"N","permissions":["members:write","organization:update"]}`, escalation},
		{"edit role to grant invoices:*", "PATCH", "/roles/spare", `{"permissions":["invoices:*"]}`, escalation},
		{"widen the role it holds", "PATCH", "/roles/inv-manager",
			`{"permissions":["invoices:*","members:read","members:write","roles:read","roles:write"]}`, escalation},
		{"assign inv-all to a member", "PATCH", "/members/{member}", `{"roles":["member","inv-all"]}`, escalation},
		{"add a member with inv-all", "POST", "/members", `{"subject":"inv-new","roles":["inv-all"]}`, escalation},
		{"assign inv-all to itself", "PATCH", "/members/{self}", `{"roles":["inv-manager","inv-all"]}`, escalation},
		{"assign admin to itself", "PATCH", "/members/{self}", `{"roles":["inv-manager","admin"]}`, escalation},
		{"assign admin to a member", "PATCH", "/members/{member}", `{"roles":["admin"]}`, escalation},
	}
	before := o.snapshot(t, e)
	for _, a := range attempts {
		t.Run(a.name, func(t *testing.T) {
			res, body := e.do(t, a.method, o.path(fill(a.path)), mgr, fill(a.body))
			wantForbidden(t, res, body, a.codes)
		})
	}
	wantUnchanged(t, before, o.snapshot(t, e))

	// Control: invoices:approve itself may be handed out.
	res, body := e.do(t, http.MethodPost, o.path("/roles"), mgr, obj{"key": "mgr-ok", "name": "OK", "permissions": []string{"invoices:approve"}})
	wantStatus(t, res, body, http.StatusCreated)
	res, body = e.do(t, http.MethodPatch, o.path("/members/"+o.MemberID), mgr, obj{"roles": []string{"member", o.Role}})
	wantStatus(t, res, body, http.StatusOK)
}

// wantForbidden checks a 403 problem with one of codes.
func wantForbidden(t testing.TB, res *http.Response, body []byte, codes []string) {
	t.Helper()
	if res.StatusCode != http.StatusForbidden {
		t.Fatalf("%s %s: status %d, want 403: %s", res.Request.Method, res.Request.URL.Path, res.StatusCode, body)
	}
	code, _ := decodeJSONBody[obj](t, body)["code"].(string)
	for _, c := range codes {
		if c == code {
			return
		}
	}
	t.Errorf("code %q, want one of %v", code, codes)
}

// hasRole reports whether a member representation holds role.
func hasRole(m obj, role string) bool {
	roles, _ := m["roles"].([]any)
	for _, r := range roles {
		if r == role {
			return true
		}
	}
	return false
}
