package httpapi

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/gorilla/mux"
)

// The text rules (domain/text.go) through the real router, on the store
// newEnv gives (SQLite, or PostgreSQL with ORGSTACK_TEST_POSTGRES_URL): every
// body field, query parameter and path parameter of every documented
// operation gets text the rules refuse. PostgreSQL cannot store NUL or
// invalid UTF-8, so each of these was a 500 there before the rules.

// bodyBases are valid bodies for every documented operation with a request
// body, by method and path template (tenant routes in their explicit form),
// one per shape the body may take. Placeholders as in the matrix.
var bodyBases = map[string][]string{
	"POST /api/v1/organizations":               {`{"slug":"made-{n}","name":"Made","metadata":{"k":"v"}}`},
	"PATCH /api/v1/organizations/{orgId}":      {`{"name":"Renamed","slug":"renamed-{n}","status":"active","metadata":{"k":"v"}}`},
	"POST /api/v1/organizations/{orgId}/check": {`{"user_id":"{target}","permission":"{perm}"}`, `{"subject":"x","issuer":"y","permission":"{perm}"}`, `{"checks":[{"user_id":"{target}","permission":"{perm}"}]}`},
	"POST /api/v1/organizations/{orgId}/members": {
		`{"user_id":"{member}","roles":["member"]}`,
		`{"subject":"new-{n}","issuer":"https://other.test","email":"a@b.test","name":"New","roles":["member"]}`,
	},
	"PATCH /api/v1/organizations/{orgId}/members/{userId}":            {`{"roles":["member"],"status":"active"}`},
	"POST /api/v1/organizations/{orgId}/roles":                        {`{"key":"made-{n}","name":"Made","description":"d","permissions":["{perm}"]}`},
	"PATCH /api/v1/organizations/{orgId}/roles/{roleKey}":             {`{"name":"Renamed","description":"d","permissions":["{perm}"]}`},
	"POST /api/v1/organizations/{orgId}/permissions":                  {`{"key":"reports:run-{n}","description":"d"}`},
	"PATCH /api/v1/organizations/{orgId}/permissions/{permissionKey}": {`{"description":"d"}`},
	"POST /api/v1/admin/token-check":                                  {`{"token":"not-a-jwt"}`},
	"PATCH /api/v1/admin/users/{userId}":                              {`{"status":"active"}`},
	"PATCH /api/v1/me":                                                {`{"metadata":{"k":"v"}}`},
	"POST /api/v1/organizations/{orgId}/identity-provider/test": {
		`{"token":"not-a-jwt","provider":{"issuer":"https://idp-{n}.example.test/realms/x","jwks_url":"https://idp-{n}.example.test/keys?v=1","audiences":["orgstack"],"algorithms":["RS256"],` +
			`"required_typ":"at+jwt","required_claims":[{"claim":["tid"],"value":"t-1"}],` +
			`"claims":{"subject":["sub"],"email":["https://example.test/email"],"name":["profile","name"]},` +
			`"jit":{"enabled":true,"role_claim":["realm_access","roles"],"role_mapping":{"approvers":["{role}"]},"default_role":"member"}}}`,
	},
	"POST /api/v1/organizations/{orgId}/webhooks":                    {`{"url":"https://hooks-{n}.example.test/in","event_types":["member.*","role.created"],"description":"d"}`},
	"PATCH /api/v1/organizations/{orgId}/webhooks/{webhookId}":       {`{"url":"https://hooks-{n}.example.test/in","event_types":["*"],"description":"d","enabled":true}`},
	"POST /api/v1/organizations/{orgId}/webhooks/{webhookId}/replay": {`{"since":"2020-01-01T00:00:00Z"}`},
	"PUT /api/v1/organizations/{orgId}/identity-provider": {
		`{"issuer":"https://idp-{n}.example.test/realms/x","jwks_url":"https://idp-{n}.example.test/keys?v=1","audiences":["orgstack"],"algorithms":["RS256"],` +
			`"required_typ":"at+jwt","required_claims":[{"claim":["tid"],"value":"t-1"}],` +
			`"claims":{"subject":["sub"],"email":["https://example.test/email"],"name":["profile","name"]},` +
			`"jit":{"enabled":true,"role_claim":["realm_access","roles"],"role_mapping":{"approvers":["{role}"]},"default_role":"member"}}`,
	},
}

// explicitForm returns the explicit-form template of a tenant operation
// documented in its token form ("/api/v1/members" →
// "/api/v1/organizations/{orgId}/members"), else path unchanged.
func explicitForm(path string) string {
	rel, ok := strings.CutPrefix(path, BasePath)
	if !ok || strings.HasPrefix(rel, "/organizations") || rel == "/me" || strings.HasPrefix(rel, "/admin") || rel == "/openapi.json" {
		return path
	}
	return BasePath + "/organizations/{orgId}" + rel
}

// textSlot is one place in a body that holds a string: a JSON path (a map
// key is keySlot) and what the document says of it.
type textSlot struct {
	path      []string
	minLength uint64
	freeText  bool // descriptions, emails and metadata values: any character but NUL
	mapValue  any  // for a key slot: the valid value set under the bad key ("v" when nil)
}

// keySlot stands for a key of an object with additional properties.
const keySlot = "\x00key"

func (s textSlot) String() string { return strings.Join(s.path, "/") }

// textSlots walks a body schema and returns its string slots per shape: one
// list per oneOf branch (flattened), each a list of slots.
func textSlots(ref *openapi3.SchemaRef) [][]textSlot {
	sc := ref.Value
	if len(sc.OneOf) > 0 {
		var out [][]textSlot
		for _, b := range sc.OneOf {
			out = append(out, textSlots(b)...)
		}
		return out
	}
	return [][]textSlot{objectSlots(sc, nil)}
}

func objectSlots(sc *openapi3.Schema, prefix []string) []textSlot {
	var out []textSlot
	at := func(p ...string) []string { return append(slices.Clone(prefix), p...) }
	for _, name := range slices.Sorted(maps.Keys(sc.Properties)) {
		p := sc.Properties[name].Value
		switch {
		case p.Type.Is("string") || len(p.Enum) > 0:
			out = append(out, textSlot{path: at(name), minLength: p.MinLength, freeText: name == "description" || name == "email"})
		case p.Type.Is("array") && p.Items.Value.Type.Is("string"):
			out = append(out, textSlot{path: at(name, "0")})
		case p.Type.Is("array"):
			out = append(out, objectSlots(p.Items.Value, at(name, "0"))...)
		case p.Type.Is("object") && len(p.Properties) > 0:
			out = append(out, objectSlots(p, at(name))...) // a nested closed object
		case p.Type.Is("object") && p.AdditionalProperties.Schema != nil && p.AdditionalProperties.Schema.Value.Type.Is("array"):
			// A map of lists (a role mapping): a bad key with a valid list,
			// and a bad first element of a list.
			item := p.AdditionalProperties.Schema.Value.Items.Value
			valid := []any{"member"}
			if len(item.Enum) > 0 {
				valid = []any{item.Enum[0]}
			}
			out = append(out,
				textSlot{path: at(name, keySlot), minLength: 1, mapValue: valid},
				textSlot{path: at(name, "k", "0")})
		case p.Type.Is("object"):
			out = append(out,
				textSlot{path: at(name, keySlot), minLength: 1},
				textSlot{path: at(name, "k"), freeText: true})
		}
	}
	return out
}

// fits reports whether every key of base is a property of a shape whose
// slots are given.
func fits(base map[string]any, slots []textSlot) bool {
	for k := range base {
		if !slices.ContainsFunc(slots, func(s textSlot) bool { return s.path[0] == k }) {
			return false
		}
	}
	return true
}

// setSlot returns a deep copy of body with the slot set to v.
func setSlot(t *testing.T, body map[string]any, path []string, v string, values ...any) (map[string]any, string) {
	t.Helper()
	raw, _ := json.Marshal(body)
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatal(err)
	}
	var mapValue any
	if len(values) > 0 {
		mapValue = values[0]
	}
	var cur any = out
	ptr := ""
	for i, p := range path {
		last := i == len(path)-1
		switch c := cur.(type) {
		case map[string]any:
			if p == keySlot {
				c[v] = mapValue
				if mapValue == nil {
					c[v] = "v"
				}
				return out, ptr + "/" + escapePointer(v)
			}
			ptr += "/" + escapePointer(p)
			if last {
				c[p] = v
				return out, ptr
			}
			next, ok := c[p]
			if !ok {
				if path[i+1] == "0" {
					next = []any{map[string]any{}}
				} else {
					next = map[string]any{}
				}
				c[p] = next
			}
			cur = next
		case []any:
			ptr += "/0"
			if last {
				c[0] = v
				return out, ptr
			}
			cur = c[0]
		}
	}
	return out, ptr
}

// Text the rules refuse in a name, key or identifier, and in free text.
var (
	badKeyText  = []string{"a\x00b", "a\x01b", "a\x1fb", "a\x7fb", "a\nb"}
	badFreeText = []string{"a\x00b", "\x00"}
)

// TestTextRulesInEveryBodyField sends, for every documented operation with
// a body and every string slot of each of its shapes, text the rules refuse
// (and "" where the document says minLength 1, and whitespace-only display
// names). Each is a 400 validation_failed whose errors point at the slot.
func TestTextRulesInEveryBodyField(t *testing.T) {
	t.Parallel()
	s := mustSpec(t)
	e := newEnv(t)
	o := newSecFixtures(e, "txt").org(t, "txt")
	tok := e.token(subRoot, withAdmin()) // may change everything, the status included
	n := 0
	checked := 0
	for _, path := range slices.Sorted(maps.Keys(s.doc.Paths.Map())) {
		item := s.doc.Paths.Value(path)
		for method, op := range item.Operations() {
			if op.RequestBody == nil {
				continue
			}
			key := method + " " + explicitForm(path)
			bases, ok := bodyBases[key]
			if !ok {
				t.Errorf("%s: no valid base body in bodyBases", key)
				continue
			}
			if explicitForm(path) != path {
				continue // the token form shares the handler; its path form is tested below
			}
			shapes := textSlots(op.RequestBody.Value.Content.Get("application/json").Schema)
			target := strings.NewReplacer("{orgId}", o.ID, "{userId}", o.TargetID, "{roleKey}", o.Role, "{permissionKey}", o.Perm, "{webhookId}", o.Webhook, "{deliveryId}", o.Delivery).Replace(path)
			for _, baseText := range bases {
				n++
				var base map[string]any
				if err := json.Unmarshal([]byte(o.fill(baseText, fmt.Sprint(n))), &base); err != nil {
					t.Fatal(err)
				}
				for _, slots := range shapes {
					if !fits(base, slots) {
						continue
					}
					for _, slot := range slots {
						var values []string
						if slot.freeText {
							values = append(values, badFreeText...)
						} else {
							values = append(values, badKeyText...)
						}
						if slot.minLength > 0 {
							values = append(values, "")
						}
						if slot.path[len(slot.path)-1] == "name" && slot.minLength > 0 {
							values = append(values, " ", "\u3000\u00a0", "\ufeff", "\u2028\u202f")
						}
						for _, v := range values {
							body, ptr := setSlot(t, base, slot.path, v, slot.mapValue)
							checked++
							res, resBody := e.do(t, method, target, tok, body)
							if res.StatusCode != http.StatusBadRequest {
								t.Errorf("%s %s with %q at %s: status %d, want 400: %s", method, path, v, ptr, res.StatusCode, resBody)
								continue
							}
							p := wantProblem(t, res, resBody, http.StatusBadRequest, "validation_failed")
							if !slices.Contains(problemFields(p), ptr) {
								t.Errorf("%s %s with %q at %s: errors %q do not point at it", method, path, v, ptr, problemFields(p))
							}
						}
					}
				}
			}
		}
	}
	t.Logf("%d bad values sent", checked)
	if checked < 100 {
		t.Errorf("only %d bad values sent: the walk over the document found too little", checked)
	}
}

// documentedOps returns every documented operation as method and path
// template, sorted.
func documentedOps(s *apiSpec) [][2]string {
	var out [][2]string
	for _, path := range slices.Sorted(maps.Keys(s.doc.Paths.Map())) {
		for _, method := range slices.Sorted(maps.Keys(s.doc.Paths.Value(path).Operations())) {
			out = append(out, [2]string{method, path})
		}
	}
	return out
}

// TestTextRulesInEveryQueryParameter sends, for every documented query
// parameter of every operation, a value with NUL, one with a control
// character and one that is not UTF-8, and the parameter followed by ';'.
// Each is a 400 invalid_parameter naming the parameter.
func TestTextRulesInEveryQueryParameter(t *testing.T) {
	t.Parallel()
	s := mustSpec(t)
	e := newEnv(t)
	o := newSecFixtures(e, "qry").org(t, "qry")
	owner, root := e.token(o.OwnerSub), e.token(subRoot, withAdmin())
	checked := 0
	for _, mp := range documentedOps(s) {
		method, path := mp[0], mp[1]
		op := s.doc.Paths.Value(path).GetOperation(method)
		if !strings.HasPrefix(path, BasePath) || path == BasePath+"/openapi.json" {
			continue // health probes and the document read no API query
		}
		tok := owner
		if strings.HasPrefix(path, BasePath+"/admin") {
			tok = root
		}
		if explicitForm(path) != path {
			tok = e.token(o.OwnerSub, withOrg(o.ID))
		}
		target := strings.NewReplacer("{orgId}", o.ID, "{userId}", o.TargetID, "{roleKey}", o.Role, "{permissionKey}", o.Perm, "{webhookId}", o.Webhook, "{deliveryId}", o.Delivery).Replace(path)
		for _, pr := range op.Parameters {
			if pr.Value.In != openapi3.ParameterInQuery {
				continue
			}
			name := pr.Value.Name
			bad := []string{"a%00b", "%00", "%ff%fe", "x;y", "x%zz"}
			if name != "q" && name != "email" { // free text may hold other controls
				bad = append(bad, "a%01b", "%7f", "a%0Ab")
			}
			for _, raw := range bad {
				checked++
				res, body := e.do(t, method, target+"?"+url.QueryEscape(name)+"="+raw, tok, nil)
				p := wantProblem(t, res, body, http.StatusBadRequest, "invalid_parameter")
				if got := problemFields(p); !slices.Equal(got, []string{name}) {
					t.Errorf("%s %s?%s=%s: parameters %q, want [%s]", method, path, name, raw, got, name)
				}
			}
		}
	}
	if checked < 100 {
		t.Errorf("only %d bad values sent", checked)
	}
}

// TestTextRulesInEveryPathParameter replaces each path parameter of every
// documented operation with text the rules refuse and checks that the
// answer is exactly the one for a well-formed unknown value, for a caller
// allowed to act and for one who is not: 404 after the organization and
// permission checks, never a 500.
func TestTextRulesInEveryPathParameter(t *testing.T) {
	t.Parallel()
	s := mustSpec(t)
	e := newEnv(t)
	f := newSecFixtures(e, "pth")
	o := f.org(t, "pth")
	valid := map[string]string{"orgId": o.ID, "userId": o.TargetID, "roleKey": o.SpareRole, "permissionKey": o.SparePerm}
	unknown := map[string]string{"orgId": "no-such-org", "userId": nilUUIDForTest, "roleKey": "no-such-role", "permissionKey": "no:such"}
	checked := 0
	for _, mp := range documentedOps(s) {
		method, path := mp[0], mp[1]
		if !strings.Contains(path, "{") {
			continue
		}
		var body any
		if bases := bodyBases[method+" "+explicitForm(path)]; len(bases) > 0 {
			body = o.fill(bases[0], f.next())
		}
		for _, param := range []string{"orgId", "userId", "roleKey", "permissionKey"} {
			if !strings.Contains(path, "{"+param+"}") {
				continue
			}
			fill := func(v string) string {
				r := path
				for k, val := range valid {
					if k == param {
						val = v
					}
					r = strings.ReplaceAll(r, "{"+k+"}", val)
				}
				return r
			}
			for _, who := range []string{o.OwnerSub, o.MemberSub} {
				tok := e.token(who)
				if explicitForm(path) != path {
					tok = e.token(who, withOrg(o.ID))
				}
				res, wantBody := e.do(t, method, fill(unknown[param]), tok, body)
				want := res.StatusCode
				wantCode := decodeJSONBody[obj](t, wantBody)["code"]
				for _, bad := range []string{"a%00b", "%00", "a%01b", "%7F", "%FF%FE", "a%0Ab"} {
					checked++
					res, got := e.do(t, method, fill(bad), tok, body)
					if res.StatusCode != want || decodeJSONBody[obj](t, got)["code"] != wantCode {
						t.Errorf("%s %s with %s=%s as %s: %d %s, want %d %v as for an unknown value", method, path, param, bad, who, res.StatusCode, got, want, wantCode)
					}
				}
			}
		}
	}
	if checked < 100 {
		t.Errorf("only %d bad values sent", checked)
	}
}

const nilUUIDForTest = "00000000-0000-0000-0000-000000000000"

// TestHeadAnswersEveryGetRoute walks the router and, for every route that
// serves GET, sends HEAD and GET: the same status and headers, and no body.
func TestHeadAnswersEveryGetRoute(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	o := newSecFixtures(e, "head").org(t, "head")
	srv := &server{}
	srv.routes()
	var templates []string
	err := srv.router.Walk(func(route *mux.Route, _ *mux.Router, _ []*mux.Route) error {
		tpl, err1 := route.GetPathTemplate()
		methods, err2 := route.GetMethods()
		if err1 == nil && err2 == nil && slices.Contains(methods, http.MethodGet) {
			templates = append(templates, tpl)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(templates) < 15 {
		t.Fatalf("found only %d GET routes", len(templates))
	}
	ignore := map[string]bool{"Date": true, "X-Request-Id": true}
	for _, tpl := range templates {
		path := strings.NewReplacer("{orgId}", o.ID, "{userId}", o.TargetID, "{roleKey}", o.Role, "{permissionKey}", o.Perm, "{webhookId}", o.Webhook, "{deliveryId}", o.Delivery).Replace(tpl)
		tok := e.token(o.OwnerSub)
		if explicitForm(tpl) != tpl {
			tok = e.token(o.OwnerSub, withOrg(o.ID))
		}
		if strings.HasPrefix(tpl, BasePath+"/admin") {
			tok = e.token(subRoot, withAdmin())
		}
		get, _ := e.do(t, http.MethodGet, path, tok, nil)
		head, headBody := e.do(t, http.MethodHead, path, tok, nil)
		if head.StatusCode != get.StatusCode {
			t.Errorf("HEAD %s: status %d, GET %d", tpl, head.StatusCode, get.StatusCode)
		}
		if get.StatusCode != http.StatusOK {
			t.Errorf("GET %s: status %d, want 200 (the fixture should reach every read)", tpl, get.StatusCode)
		}
		if len(headBody) != 0 {
			t.Errorf("HEAD %s: %d body bytes", tpl, len(headBody))
		}
		for name := range get.Header {
			if ignore[name] {
				continue
			}
			if g, h := get.Header.Values(name), head.Header.Values(name); !slices.Equal(g, h) {
				t.Errorf("HEAD %s: header %s %q, GET %q", tpl, name, h, g)
			}
		}
		for name := range head.Header {
			if _, ok := get.Header[name]; !ok && !ignore[name] {
				t.Errorf("HEAD %s: header %s not sent on GET", tpl, name)
			}
		}
		if get.ContentLength != head.ContentLength {
			t.Errorf("HEAD %s: Content-Length %d, GET %d", tpl, head.ContentLength, get.ContentLength)
		}
	}
}
