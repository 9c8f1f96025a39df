package httpapi

import (
	"bytes"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/orgstack/orgstack/adapters/sqlstore"
	"github.com/orgstack/orgstack/adapters/sqlstore/sqlstoretest"
)

// hostileStrings are texts that turn into SQL when a store writes them into
// a statement carelessly: quotes and backslashes (an escape when PostgreSQL
// runs with standard_conforming_strings=off), comment and statement
// markers, dollar quotes, LIKE wildcards and their escape character,
// Unicode quotes (which some encodings fold into ASCII ones), an E-string
// and a text ending in a backslash.
var hostileStrings = []string{
	`'`, `''`, `\'`, `\\`, `\`, `--`, `$$`, `$tag$`, `%`, `_`, `!`, `/*`, `*/`, `;`,
	"‘’“”ʼ", `E'\''`, `ends with a backslash\`,
	`x' OR '1'='1`, `\'; DELETE FROM organizations; --`,
	`\'||(SELECT string_agg(name, ',') FROM users)||'`,
	`$$; DROP TABLE users; $$`, `%_!%\_\%`,
}

// TestHostileTextIsData drives every hostile string through every text
// input of the API, on a PostgreSQL database whose sessions default to
// standard_conforming_strings=off (and on the default test store): body
// fields, token claims on first use, filters, sorts, path IDs and keys.
// Every stored value comes back verbatim, filters match it literally, no
// request is answered 5xx, and another tenant's data is untouched.
func TestHostileTextIsData(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		open func(testing.TB) *sqlstore.Store
	}{
		{"postgres standard_conforming_strings off", func(tb testing.TB) *sqlstore.Store {
			return sqlstoretest.NewPostgresAt(tb, sqlstoretest.NonConformingDatabase(tb))
		}},
		{"default store", sqlstoretest.New},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			hostileRun(t, newEnv(t, withStore(tt.open)))
		})
	}
}

// victimViews is everything the victim tenant's owner can read.
func victimViews(t *testing.T, e *env, tok, org string) []byte {
	t.Helper()
	var all bytes.Buffer
	for _, p := range []string{
		"/api/v1/organizations/" + org,
		"/api/v1/organizations/" + org + "/members?size=100",
		"/api/v1/organizations/" + org + "/users?size=100",
		"/api/v1/organizations/" + org + "/roles?size=100",
		"/api/v1/organizations/" + org + "/permissions?size=100",
		"/api/v1/organizations?size=100",
		"/api/v1/me",
	} {
		res, body := e.do(t, http.MethodGet, p, tok, nil)
		wantStatus(t, res, body, http.StatusOK)
		all.WriteString(p + "\n")
		all.Write(body)
		all.WriteString("\n")
	}
	return all.Bytes()
}

func hostileRun(t *testing.T, e *env) {
	// The victim: another tenant with members, a role, a permission and
	// metadata, and its view of itself before the attack.
	victor := e.token("victor", withEmail("victor@victim.test"), withName("Victor"))
	victim := e.createOrg(t, victor, "victim")
	res, body := e.do(t, http.MethodPatch, "/api/v1/organizations/"+victim, victor, obj{"metadata": obj{"secret": "s3cr3t"}})
	wantStatus(t, res, body, http.StatusOK)
	res, body = e.do(t, http.MethodPost, "/api/v1/organizations/"+victim+"/permissions", victor, obj{"key": "vault:open", "description": "Open the vault"})
	wantStatus(t, res, body, http.StatusCreated)
	res, body = e.do(t, http.MethodPost, "/api/v1/organizations/"+victim+"/roles", victor,
		obj{"key": "keeper", "name": "Keeper", "permissions": []string{"vault:open"}})
	wantStatus(t, res, body, http.StatusCreated)
	res, body = e.do(t, http.MethodPost, "/api/v1/organizations/"+victim+"/members", victor,
		obj{"subject": "vera", "email": "vera@victim.test", "name": "Vera", "roles": []string{"member", "keeper"}})
	wantStatus(t, res, body, http.StatusCreated)
	before := victimViews(t, e, victor, victim)

	mallory := e.token("mallory")
	attack := e.createOrg(t, mallory, "attack")
	ap := func(p string) string { return "/api/v1/organizations/" + attack + p }

	// noServerError fails on any 5xx and returns the response.
	do := func(t *testing.T, method, path, tok string, body any) (*http.Response, []byte) {
		t.Helper()
		res, b := e.do(t, method, path, tok, body)
		if res.StatusCode >= 500 {
			t.Fatalf("%s %s: %d: %s", method, path, res.StatusCode, b)
		}
		return res, b
	}
	verbatim := func(t *testing.T, what string, got any, want string) {
		t.Helper()
		if got != want {
			t.Errorf("%s: got %#v, want %q", what, got, want)
		}
	}

	for i, h := range hostileStrings {
		t.Run(strconv.Itoa(i), func(t *testing.T) {
			n := strconv.Itoa(i)

			// Token claims on first use: sub, email and name.
			sub := "u" + n + ":" + h
			tok := e.token(sub, withEmail(h), withName(h))
			res, body := do(t, http.MethodGet, "/api/v1/me", tok, nil)
			wantStatus(t, res, body, http.StatusOK)
			me := data(t, body)
			verbatim(t, "me subject", me["subject"], sub)
			verbatim(t, "me email", me["email"], h)
			verbatim(t, "me name", me["name"], h)
			// A changed claim is stored on the next request.
			tok2 := e.token(sub, withEmail(h+"2"), withName("2"+h))
			res, body = do(t, http.MethodGet, "/api/v1/me", tok2, nil)
			wantStatus(t, res, body, http.StatusOK)
			verbatim(t, "refreshed email", data(t, body)["email"], h+"2")
			verbatim(t, "refreshed name", data(t, body)["name"], "2"+h)

			// Organization name and metadata (key and value; keys have at
			// most 40 characters).
			mk := string([]rune(h)[:min(len([]rune(h)), 39)])
			res, body = do(t, http.MethodPost, "/api/v1/organizations", mallory, obj{"slug": "hostile-" + n, "name": h, "metadata": obj{mk: h}})
			wantStatus(t, res, body, http.StatusCreated)
			org := data(t, body)
			verbatim(t, "organization name", org["name"], h)
			verbatim(t, "metadata value", org["metadata"].(obj)[mk], h)
			res, body = do(t, http.MethodPatch, "/api/v1/organizations/hostile-"+n, mallory, obj{"name": h + h, "metadata": obj{"k" + mk: h + "v"}})
			wantStatus(t, res, body, http.StatusOK)
			res, body = do(t, http.MethodGet, "/api/v1/organizations/hostile-"+n, mallory, nil)
			wantStatus(t, res, body, http.StatusOK)
			org = data(t, body)
			verbatim(t, "renamed organization", org["name"], h+h)
			verbatim(t, "metadata value", org["metadata"].(obj)[mk], h)
			verbatim(t, "added metadata value", org["metadata"].(obj)["k"+mk], h+"v")
			res, body = do(t, http.MethodPost, "/api/v1/organizations", mallory, obj{"slug": h, "name": "x"})
			wantProblem(t, res, body, http.StatusBadRequest, "validation_failed")
			res, body = do(t, http.MethodPatch, "/api/v1/organizations/hostile-"+n, mallory, obj{"slug": h})
			wantProblem(t, res, body, http.StatusBadRequest, "validation_failed")

			// A member by identity: subject, issuer, email and name.
			msub, miss := "m"+n+h, "https://idp.test/"+h
			res, body = do(t, http.MethodPost, ap("/members"), mallory,
				obj{"subject": msub, "issuer": miss, "email": h, "name": h, "roles": []string{"member"}})
			wantStatus(t, res, body, http.StatusCreated)
			mem := data(t, body)
			uid, _ := mem["user_id"].(string)
			res, body = do(t, http.MethodGet, ap("/members/"+uid), mallory, nil)
			wantStatus(t, res, body, http.StatusOK)
			mem = data(t, body)
			verbatim(t, "member subject", mem["subject"], msub)
			verbatim(t, "member issuer", mem["issuer"], miss)
			verbatim(t, "member email", mem["email"], h)
			verbatim(t, "member name", mem["name"], h)

			// A custom permission and a role (keys allow '_', '.', '-' only;
			// names and descriptions anything).
			pkey := "res_" + n + "--x:act_y." + n
			res, body = do(t, http.MethodPost, ap("/permissions"), mallory, obj{"key": pkey, "description": h})
			wantStatus(t, res, body, http.StatusCreated)
			rkey := "r_" + n + "--x"
			res, body = do(t, http.MethodPost, ap("/roles"), mallory,
				obj{"key": rkey, "name": h, "description": h, "permissions": []string{pkey}})
			wantStatus(t, res, body, http.StatusCreated)
			res, body = do(t, http.MethodPatch, ap("/roles/"+rkey), mallory, obj{"description": h + "!"})
			wantStatus(t, res, body, http.StatusOK)
			res, body = do(t, http.MethodGet, ap("/roles/"+rkey), mallory, nil)
			wantStatus(t, res, body, http.StatusOK)
			verbatim(t, "role name", data(t, body)["name"], h)
			verbatim(t, "role description", data(t, body)["description"], h+"!")
			res, body = do(t, http.MethodPatch, ap("/permissions/"+pkey), mallory, obj{"description": "!" + h})
			wantStatus(t, res, body, http.StatusOK)
			res, body = do(t, http.MethodGet, ap("/permissions/"+pkey), mallory, nil)
			wantStatus(t, res, body, http.StatusOK)
			verbatim(t, "permission description", data(t, body)["description"], "!"+h)
			res, body = do(t, http.MethodPatch, ap("/members/"+uid), mallory, obj{"roles": []string{"member", rkey}})
			wantStatus(t, res, body, http.StatusOK)

			// Checks by identity with hostile subject and issuer.
			res, body = do(t, http.MethodPost, ap("/check"), mallory, obj{"subject": msub, "issuer": miss, "permission": pkey})
			wantStatus(t, res, body, http.StatusOK)
			if data(t, body)["allowed"] != true {
				t.Errorf("check of the member's own permission: %s", body)
			}
			res, body = do(t, http.MethodPost, ap("/check"), mallory, obj{"subject": h, "issuer": h, "permission": "vault:open"})
			wantStatus(t, res, body, http.StatusOK)
			if data(t, body)["allowed"] != false {
				t.Errorf("check of an unknown identity: %s", body)
			}
			res, body = do(t, http.MethodPost, ap("/check"), mallory, obj{"user_id": h, "permission": pkey})
			if res.StatusCode != http.StatusOK && res.StatusCode != http.StatusBadRequest {
				t.Errorf("check with user_id %q: %d %s", h, res.StatusCode, body)
			}
			res, body = do(t, http.MethodPost, ap("/check"), mallory, obj{"checks": []obj{
				{"subject": msub, "issuer": miss, "permission": pkey},
				{"subject": h, "issuer": miss, "permission": pkey},
			}})
			wantStatus(t, res, body, http.StatusOK)

			// Filters match the text literally, within the tenant.
			q := url.QueryEscape(h)
			res, body = do(t, http.MethodGet, "/api/v1/organizations?size=100&q="+q, mallory, nil)
			wantStatus(t, res, body, http.StatusOK)
			var slugs []string
			for _, it := range listData(t, body) {
				o := it.(obj)
				slugs = append(slugs, o["slug"].(string))
				if !strings.Contains(strings.ToLower(o["name"].(string)+"\x00"+o["slug"].(string)), strings.ToLower(h)) {
					t.Errorf("q=%q matched organization %v", h, o)
				}
			}
			if !slices.Contains(slugs, "hostile-"+n) {
				t.Errorf("q=%q: got %v, want hostile-%s among them", h, slugs, n)
			}
			res, body = do(t, http.MethodGet, ap("/members?size=100&q=")+q, mallory, nil)
			wantStatus(t, res, body, http.StatusOK)
			found := false
			for _, it := range listData(t, body) {
				m := it.(obj)
				found = found || m["user_id"] == uid
				if !strings.Contains(strings.ToLower(fmt.Sprint(m["email"], "\x00", m["name"])), strings.ToLower(h)) {
					t.Errorf("members q=%q matched %v", h, m)
				}
			}
			if !found {
				t.Errorf("members q=%q did not find the member named %q", h, h)
			}
			res, body = do(t, http.MethodGet, ap("/users?size=100&email=")+q, mallory, nil)
			wantStatus(t, res, body, http.StatusOK)
			if users := listData(t, body); len(users) != 1 || users[0].(obj)["id"] != uid {
				t.Errorf("users email=%q: got %v, want only %s", h, users, uid)
			}
			for _, p := range []string{"/users?q=", "/roles?q=", "/permissions?q=", "/members?role=", "/members?q=x&role="} {
				res, body = do(t, http.MethodGet, ap(p)+q, mallory, nil)
				wantStatus(t, res, body, http.StatusOK)
			}
			res, body = do(t, http.MethodGet, ap("/roles?q=")+q, mallory, nil)
			wantStatus(t, res, body, http.StatusOK)
			if roles := listData(t, body); !slices.ContainsFunc(roles, func(r any) bool { return r.(obj)["key"] == rkey }) {
				t.Errorf("roles q=%q did not find role %s", h, rkey)
			}
			admin := e.token("root", withAdmin())
			for _, p := range []string{"/api/v1/admin/users?q=", "/api/v1/admin/users?email="} {
				res, body = do(t, http.MethodGet, p+q, admin, nil)
				wantStatus(t, res, body, http.StatusOK)
			}
			res, body = do(t, http.MethodGet, "/api/v1/admin/users?size=100&email="+q, admin, nil)
			wantStatus(t, res, body, http.StatusOK)
			for _, u := range listData(t, body) {
				if !strings.EqualFold(fmt.Sprint(u.(obj)["email"]), h) {
					t.Errorf("admin users email=%q matched %v", h, u)
				}
			}
			for _, p := range []string{"/members?status=", "/permissions?type=", "/members?sort=", "/users?sort=", "/roles?sort=", "/permissions?sort="} {
				res, body = do(t, http.MethodGet, ap(p)+q, mallory, nil)
				wantProblem(t, res, body, http.StatusBadRequest, "invalid_parameter")
			}
			for _, p := range []string{"/api/v1/organizations?sort=", "/api/v1/organizations?status="} {
				res, body = do(t, http.MethodGet, p+q, mallory, nil)
				wantProblem(t, res, body, http.StatusBadRequest, "invalid_parameter")
			}

			// Path IDs and keys (escaped, '/' as %2F): not found, whatever
			// they hold.
			seg := url.PathEscape(h)
			for _, p := range []string{
				"/api/v1/organizations/" + seg, ap("/members/" + seg), ap("/users/" + seg),
				ap("/roles/" + seg), ap("/permissions/" + seg),
				"/api/v1/organizations/" + seg + "/members",
			} {
				res, body = do(t, http.MethodGet, p, mallory, nil)
				wantProblem(t, res, body, http.StatusNotFound, "not_found")
			}
			res, body = do(t, http.MethodDelete, ap("/roles/"+seg), mallory, nil)
			wantProblem(t, res, body, http.StatusNotFound, "not_found")
			res, body = do(t, http.MethodDelete, ap("/permissions/"+seg), mallory, nil)
			wantProblem(t, res, body, http.StatusNotFound, "not_found")
			res, body = do(t, http.MethodPatch, ap("/members/"+seg), mallory, obj{"status": "suspended"})
			wantProblem(t, res, body, http.StatusNotFound, "not_found")
			// A token bound to a hostile organization reference.
			res, body = do(t, http.MethodGet, "/api/v1/members", e.token("mallory", withOrg(h)), nil)
			wantProblem(t, res, body, http.StatusNotFound, "not_found")
		})
	}

	// Mallory sees only her organizations; the victim's view is unchanged.
	res, body = e.do(t, http.MethodGet, "/api/v1/organizations?size=100", mallory, nil)
	wantStatus(t, res, body, http.StatusOK)
	for _, it := range listData(t, body) {
		if it.(obj)["id"] == victim {
			t.Errorf("mallory lists the victim organization")
		}
	}
	if after := victimViews(t, e, victor, victim); !bytes.Equal(after, before) {
		t.Errorf("the victim tenant changed:\nbefore:\n%s\nafter:\n%s", before, after)
	}
}
