package httpapi

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// massAssignTarget is one POST or PATCH route with a body it accepts; every
// test adds a read-only or foreign key to that body, or re-cases one of its
// keys. Placeholders: {org}, {target}, {spareRole}, {sparePerm}.
type massAssignTarget struct {
	method string
	path   string // tenant routes are relative to the tenant prefix
	tenant bool
	body   obj    // a body the route accepts
	key    string // a key of body, re-cased by the tests
}

var massAssignTargets = []massAssignTarget{
	{"POST", "/api/v1/organizations", false, obj{"slug": "ma-new", "name": "New"}, "slug"},
	{"PATCH", "/api/v1/organizations/{org}", false, obj{"name": "Changed"}, "name"},
	{"POST", "/members", true, obj{"subject": "ma-new", "roles": []string{"member"}}, "roles"},
	{"PATCH", "/members/{target}", true, obj{"status": "suspended"}, "status"},
	{"POST", "/roles", true, obj{"key": "ma-new", "name": "New"}, "key"},
	{"PATCH", "/roles/{spareRole}", true, obj{"name": "Changed"}, "name"},
	{"POST", "/permissions", true, obj{"key": "ma:new"}, "key"},
	{"PATCH", "/permissions/{sparePerm}", true, obj{"description": "changed"}, "description"},
	{"POST", "/check", true, obj{"user_id": "{target}", "permission": "invoices:approve"}, "permission"},
}

// The keys no client may set: read-only fields and tenant selectors.
var massAssignKeys = map[string]any{
	"org_id":          "{other}",
	"organization_id": "{other}",
	"id":              "01900000-0000-7000-8000-0000000000aa",
	"builtin":         true,
	"created_at":      "2000-01-01T00:00:00Z",
	"updated_at":      "2000-01-01T00:00:00Z",
	"version":         99,
	"joined_at":       "2000-01-01T00:00:00Z",
	"type":            "system",
}

// TestMassAssignment sends every POST and PATCH, in both path forms, with an
// extra read-only or tenant key, with a key in other case (alone, and next
// to the right one): each is 400 and nothing changes anywhere.
func TestMassAssignment(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	f := newSecFixtures(e, "ma")
	o := f.org(t, "ma")
	other := f.org(t, "ma-other")
	fill := strings.NewReplacer("{org}", o.ID, "{target}", o.TargetID, "{spareRole}", o.SpareRole,
		"{sparePerm}", o.SparePerm, "{other}", other.ID).Replace

	before, otherBefore := o.snapshot(t, e), other.snapshot(t, e)
	ownerOrgs := func() []any {
		res, body := e.do(t, http.MethodGet, "/api/v1/organizations?size=100", e.token(o.OwnerSub), nil)
		wantStatus(t, res, body, http.StatusOK)
		return listData(t, body)
	}
	orgsBefore := ownerOrgs()

	cases := 0
	for _, tg := range massAssignTargets {
		forms := []struct{ prefix, tok string }{{"", e.token(o.OwnerSub)}}
		if tg.tenant {
			forms = []struct{ prefix, tok string }{
				{"/api/v1/organizations/{org}", e.token(o.OwnerSub)},
				{"/api/v1", e.token(o.OwnerSub, withOrg(o.ID))},
			}
		}
		for _, form := range forms {
			path := fill(form.prefix + tg.path)
			bodies := map[string]string{}
			for k, v := range massAssignKeys {
				if _, ok := tg.body[k]; ok {
					continue
				}
				b := cloneObj(tg.body)
				b[k] = v
				bodies["extra "+k] = encodeFilled(t, b, fill)
			}
			for name, key := range map[string]string{
				"title-cased " + tg.key: strings.ToUpper(tg.key[:1]) + tg.key[1:],
				"upper-cased " + tg.key: strings.ToUpper(tg.key),
			} {
				b := cloneObj(tg.body)
				v := b[tg.key]
				delete(b, tg.key)
				b[key] = v
				bodies[name+" alone"] = encodeFilled(t, b, fill)
				b[tg.key] = v
				bodies[name+" beside "+tg.key] = encodeFilled(t, b, fill)
			}
			// The same key twice: the first value must not slip through.
			dup := encodeFilled(t, tg.body, fill)
			first, _ := json.Marshal(obj{tg.key: "x"})
			bodies["duplicate "+tg.key] = "{" + strings.TrimSuffix(strings.TrimPrefix(string(first), "{"), "}") + "," + dup[1:]
			for _, name := range sortedKeys(bodies) {
				cases++
				t.Run(tg.method+" "+path+" "+name, func(t *testing.T) {
					res, body := e.do(t, tg.method, path, form.tok, bodies[name])
					if res.StatusCode != http.StatusBadRequest {
						t.Fatalf("status %d, want 400 for %s: %s", res.StatusCode, bodies[name], body)
					}
					code, _ := decodeJSONBody[obj](t, body)["code"].(string)
					if code != "malformed_json" && code != "validation_failed" {
						t.Errorf("code %q, want malformed_json or validation_failed", code)
					}
				})
			}
		}
	}
	t.Logf("%d mass-assignment requests", cases)

	wantUnchanged(t, before, o.snapshot(t, e))
	wantUnchanged(t, otherBefore, other.snapshot(t, e))
	wantUnchanged(t, map[string][]any{"organizations": orgsBefore}, map[string][]any{"organizations": ownerOrgs()})

	// Control: each body without the extra key is accepted, so the
	// refusals above were about that key alone.
	for _, tg := range massAssignTargets {
		path := fill(tg.path)
		if tg.tenant {
			path = o.path(path)
		}
		res, body := e.do(t, tg.method, path, e.token(o.OwnerSub), encodeFilled(t, tg.body, fill))
		if res.StatusCode >= 300 {
			t.Errorf("control %s %s: status %d: %s", tg.method, path, res.StatusCode, body)
		}
	}
}

func cloneObj(o obj) obj {
	c := make(obj, len(o)+1)
	for k, v := range o {
		c[k] = v
	}
	return c
}

// encodeFilled encodes b as JSON with its placeholders filled.
func encodeFilled(t testing.TB, b obj, fill func(string) string) string {
	t.Helper()
	raw, err := json.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	return fill(string(raw))
}
