package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"pgregory.net/rapid"

	"github.com/orgstack/orgstack/adapters/sqlstore"
	"github.com/orgstack/orgstack/adapters/sqlstore/sqlstoretest"
	"github.com/orgstack/orgstack/domain"
)

// The property-based walk of the OpenAPI document: for every operation it
// sends generated requests through the real stack and holds the server to
// four properties:
//
//  1. no response is a 5xx;
//  2. a request the document forbids is answered with a 4xx;
//  3. a request the document allows is never answered 400 (404, 403, 409
//     and 412 stay legitimate for unknown or conflicting input);
//  4. every response matches the (closed) document.
//
// Requests are drawn from the document's own schemas (patterns through
// rapid.StringMatching, lengths, enums, integer bounds, oneOf variants);
// invalid ones break exactly one constraint of a valid one. Whether a
// request is valid is decided by kin-openapi's request validator, so the
// generator's intent never decides the verdict. Entities the requests name
// (organization, users, roles, permissions) exist, so valid requests can
// succeed.
//
// PropertyChecksEnv sets the number of requests per operation (default
// defaultPropertyChecks, some 13 seconds per database; .ci/run uses 400,
// about 50 seconds per database, and 1000 takes about 2 minutes each);
// -rapid.checks overrides it too.
const (
	PropertyChecksEnv     = "ORGSTACK_PROPERTY_CHECKS"
	defaultPropertyChecks = 100
)

func TestPropertyOperations(t *testing.T) {
	if testing.Short() {
		t.Skip("property walk skipped in -short mode")
	}
	configureRapid(t)
	dbs := []struct {
		name string
		open func(testing.TB) *sqlstore.Store
	}{
		{"sqlite", sqlstoretest.NewSQLite},
		{"postgres", sqlstoretest.NewPostgres},
	}
	for _, db := range dbs {
		t.Run(db.name, func(t *testing.T) {
			if db.name == "postgres" && os.Getenv(sqlstoretest.PostgresURLEnv) == "" {
				t.Skip(sqlstoretest.PostgresURLEnv + " is not set")
			}
			start := time.Now()
			walkOperations(t, newPropertyFixture(t, db.open))
			t.Logf("%s: property walk took %s", db.name, time.Since(start).Round(time.Millisecond))
		})
	}
}

// configureRapid sets rapid's number of checks from PropertyChecksEnv unless
// -rapid.checks was given, and bounds shrinking so a failing property does
// not hold CI for long.
func configureRapid(t *testing.T) {
	set := map[string]bool{}
	flag.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if !set["rapid.checks"] {
		n := defaultPropertyChecks
		if v := os.Getenv(PropertyChecksEnv); v != "" {
			var err error
			if n, err = strconv.Atoi(v); err != nil || n < 1 {
				t.Fatalf("%s=%q: want a positive number", PropertyChecksEnv, v)
			}
		}
		mustSetFlag(t, "rapid.checks", strconv.Itoa(n))
	}
	if !set["rapid.shrinktime"] {
		mustSetFlag(t, "rapid.shrinktime", "5s")
	}
	if !set["rapid.failfile"] && !set["rapid.nofailfile"] {
		mustSetFlag(t, "rapid.nofailfile", "true") // the failure message shows the request
	}
}

func mustSetFlag(t *testing.T, name, value string) {
	if err := flag.Set(name, value); err != nil {
		t.Fatalf("set -%s: %v", name, err)
	}
}

// propertyFixture is one wired API with an organization, two members, a
// custom permission and a custom role, and the tokens of its owner.
type propertyFixture struct {
	tb                  testing.TB
	e                   *env
	s                   *apiSpec
	orgID, orgSlug      string
	free, bound, admin  string
	userIDs, roleKeys   []string
	permKeys, orgRefs   []string
	cursors             []string // cursors an audit list returned
	exchanges, invalids int
	statuses            map[int]int
}

func newPropertyFixture(t *testing.T, open func(testing.TB) *sqlstore.Store) *propertyFixture {
	e := newEnv(t, withStore(open))
	f := &propertyFixture{tb: t, e: e, s: mustSpec(t), statuses: map[int]int{}}
	f.free = e.token("prop-owner", withEmail("owner@example.com"), withName("Owner"))
	f.admin = e.token("prop-admin", withAdmin())
	f.orgSlug = "prop-acme"
	f.orgID = e.createOrg(t, f.free, f.orgSlug)
	f.bound = e.token("prop-owner", withOrg(f.orgID))
	ownerID := e.userID(t, f.free)
	bobID := e.addMember(t, f.free, f.orgID, "prop-bob", "member")
	base := "/api/v1/organizations/" + f.orgID
	res, body := e.do(t, http.MethodPost, base+"/permissions", f.free, obj{"key": "invoices:approve", "description": "Approve invoices"})
	wantStatus(t, res, body, http.StatusCreated)
	res, body = e.do(t, http.MethodPost, base+"/roles", f.free, obj{"key": "approver", "name": "Approver", "permissions": []string{"invoices:approve"}})
	wantStatus(t, res, body, http.StatusCreated)
	res, body = e.do(t, http.MethodPatch, base+"/members/"+bobID, f.free, obj{"roles": []string{"member", "approver"}})
	wantStatus(t, res, body, http.StatusOK)
	f.userIDs = []string{ownerID, bobID}
	f.roleKeys = []string{"owner", "admin", "member", "approver"}
	f.permKeys = []string{"invoices:approve", "members:read", "organization:delete", "roles:write"}
	f.orgRefs = []string{f.orgID, f.orgSlug}
	res, body = e.do(t, http.MethodGet, base+"/audit-events?size=1", f.free, nil)
	wantStatus(t, res, body, http.StatusOK)
	next, _ := decodeJSONBody[obj](t, body)["pagination"].(obj)["next_cursor"].(string)
	f.cursors = []string{next}
	return f
}

// operation is one documented operation to walk.
type operation struct {
	method, path string
	op           *openapi3.Operation
	params       openapi3.Parameters
}

// walkOperations runs the properties for every operation, creating ones
// first and deleting ones last, the organization's deletion very last, so
// that the fixture lives as long as possible.
func walkOperations(t *testing.T, f *propertyFixture) {
	var ops []operation
	for path, item := range f.s.closed.Paths.Map() {
		for method, op := range item.Operations() {
			params := append(openapi3.Parameters{}, item.Parameters...)
			params = append(params, op.Parameters...)
			ops = append(ops, operation{method: method, path: path, op: op, params: params})
		}
	}
	rank := func(o operation) int {
		switch {
		case o.op.OperationID == "deleteOrganization":
			return 3
		case o.method == http.MethodDelete:
			return 2
		case o.method == http.MethodPost:
			return 0
		}
		return 1
	}
	sort.Slice(ops, func(i, j int) bool {
		if ri, rj := rank(ops[i]), rank(ops[j]); ri != rj {
			return ri < rj
		}
		return ops[i].op.OperationID < ops[j].op.OperationID
	})
	for _, o := range ops {
		t.Run(o.op.OperationID, func(t *testing.T) {
			rapid.Check(t, func(rt *rapid.T) { f.exercise(rt, o) })
		})
	}
	t.Logf("%d exchanges (%d invalid requests); statuses %v", f.exchanges, f.invalids, f.statuses)
}

// request is one generated HTTP request.
type request struct {
	path    map[string]string
	query   url.Values
	header  http.Header
	body    any // nil: no body
	rawBody []byte
}

// exercise draws one request for o, sends it and checks the properties.
func (f *propertyFixture) exercise(rt *rapid.T, o operation) {
	req := f.drawValid(rt, o)
	if rapid.Bool().Draw(rt, "invalid") {
		f.breakOne(rt, o, req)
	}
	httpReq, body := f.build(rt, o, req)
	valid, why := f.documentAllows(httpReq, body)
	res, err := f.e.Server.Client().Do(httpReq)
	if err != nil {
		rt.Fatalf("send: %v", err)
	}
	resBody, err := io.ReadAll(res.Body)
	_ = res.Body.Close()
	if err != nil {
		rt.Fatalf("read: %v", err)
	}
	f.exchanges++
	f.statuses[res.StatusCode]++
	if !valid {
		f.invalids++
	}
	show := fmt.Sprintf("%s %s\nbody: %s\n→ %d %s", httpReq.Method, httpReq.URL.RequestURI(), truncate(body), res.StatusCode, truncate(resBody))
	switch {
	case res.StatusCode >= 500:
		rt.Fatalf("5xx: %s", show)
	case !valid && (res.StatusCode < 400 || res.StatusCode >= 500):
		rt.Fatalf("the document forbids this request (%s), but the server answered %d:\n%s", why, res.StatusCode, show)
	case valid && res.StatusCode == http.StatusBadRequest && !mergedMetadataTooLarge(resBody):
		rt.Fatalf("the document allows this request, but the server answered 400:\n%s", show)
	}
	rec := &collectingTB{TB: f.tb}
	validateExchange(rec, httpReq, body, res, resBody)
	if len(rec.msgs) > 0 {
		rt.Fatalf("%s\n%s", strings.Join(rec.msgs, "\n"), show)
	}
}

// collectingTB collects validateExchange's reports for rapid to fail with.
type collectingTB struct {
	testing.TB
	msgs []string
}

func (c *collectingTB) Errorf(format string, args ...any) {
	c.msgs = append(c.msgs, fmt.Sprintf(format, args...))
}
func (c *collectingTB) Helper() {}

// documentAllows reports whether the closed document accepts the request.
func (f *propertyFixture) documentAllows(r *http.Request, body []byte) (bool, string) {
	ctx := context.Background()
	c := r.Clone(ctx)
	c.Body = io.NopCloser(bytes.NewReader(body))
	route, params, err := f.s.router.FindRoute(c)
	if err != nil {
		return false, err.Error()
	}
	err = openapi3filter.ValidateRequest(ctx, &openapi3filter.RequestValidationInput{
		Request: c, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: bearerPresent, SkipSettingDefaults: true},
	})
	if err != nil {
		return false, firstLine(err.Error())
	}
	return true, ""
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// build turns a drawn request into an HTTP request with the right token.
func (f *propertyFixture) build(rt *rapid.T, o operation, req *request) (*http.Request, []byte) {
	path := o.path
	for name, v := range req.path {
		path = strings.ReplaceAll(path, "{"+name+"}", url.PathEscape(v))
	}
	u := f.e.Server.URL + path
	if len(req.query) > 0 {
		u += "?" + req.query.Encode()
	}
	var body []byte
	switch {
	case req.rawBody != nil:
		body = req.rawBody
	case req.body != nil:
		var err error
		if body, err = json.Marshal(req.body); err != nil {
			rt.Fatalf("marshal body: %v", err)
		}
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	r, err := http.NewRequest(strings.ToUpper(o.method), u, rd)
	if err != nil {
		rt.Fatalf("request: %v", err)
	}
	for k, vs := range req.header {
		r.Header[k] = vs
	}
	if body != nil && r.Header.Get("Content-Type") == "" {
		ct := "application/json"
		if o.op.RequestBody != nil && o.op.RequestBody.Value.Content.Get("application/merge-patch+json") != nil &&
			rapid.Bool().Draw(rt, "merge-patch") {
			ct = "application/merge-patch+json"
		}
		r.Header.Set("Content-Type", ct)
	}
	if o.op.Security == nil || len(*o.op.Security) > 0 {
		r.Header.Set("Authorization", "Bearer "+f.tokenFor(o))
	}
	return r, body
}

// tokenFor picks the caller: the platform admin for /admin routes, the
// owner with a token bound to the organization for the token form of tenant
// routes, the owner with an unbound token otherwise.
func (f *propertyFixture) tokenFor(o operation) string {
	switch {
	case strings.HasPrefix(o.path, "/api/v1/admin/"):
		return f.admin
	case strings.HasPrefix(o.path, "/api/v1/organizations") || o.path == "/api/v1/me":
		return f.free
	}
	return f.bound
}

// drawValid draws a request the document allows (as far as the schemas
// can say; the validator has the last word).
func (f *propertyFixture) drawValid(rt *rapid.T, o operation) *request {
	req := &request{path: map[string]string{}, query: url.Values{}, header: http.Header{}}
	for _, pr := range o.params {
		p := pr.Value
		switch p.In {
		case openapi3.ParameterInPath:
			req.path[p.Name] = f.drawPathValue(rt, p)
		case openapi3.ParameterInQuery:
			if !rapid.Bool().Draw(rt, "use "+p.Name) {
				continue
			}
			if p.Name == "cursor" {
				// An opaque cursor is valid only as a list returned it.
				req.query.Set(p.Name, rapid.SampledFrom(f.cursors).Draw(rt, p.Name))
				continue
			}
			req.query.Set(p.Name, fmt.Sprint(f.drawSchema(rt, p.Schema.Value, "query "+p.Name)))
		case openapi3.ParameterInHeader:
			if rapid.Bool().Draw(rt, "use "+p.Name) {
				v := rapid.SampledFrom([]string{"*", `"1"`, `"2"`, `W/"1"`}).Draw(rt, p.Name)
				req.header.Set(p.Name, v)
			}
		}
	}
	if rb := o.op.RequestBody; rb != nil {
		req.body = f.drawSchema(rt, rb.Value.Content.Get("application/json").Schema.Value, "body")
	}
	return req
}

// drawPathValue names an existing entity most of the time, and otherwise
// anything the parameter's schema allows.
func (f *propertyFixture) drawPathValue(rt *rapid.T, p *openapi3.Parameter) string {
	var pool []string
	switch p.Name {
	case "orgId":
		pool = f.orgRefs
	case "userId":
		pool = f.userIDs
	case "roleKey":
		pool = f.roleKeys
	case "permissionKey":
		pool = f.permKeys
	}
	if len(pool) > 0 && rapid.IntRange(0, 3).Draw(rt, "known "+p.Name) > 0 {
		return rapid.SampledFrom(pool).Draw(rt, p.Name)
	}
	return fmt.Sprint(f.drawSchema(rt, p.Schema.Value, "path "+p.Name))
}

// drawSchema draws a value valid against sc. Members that name other
// entities in a body (user_id, roles, a role's grants, a check's
// permission) are drawn from the entities that exist most of the time, and
// otherwise anything the schema allows: an unknown user, role or permission
// named in a body is well-formed input the state does not hold (409
// unknown_reference, never 400).
func (f *propertyFixture) drawSchema(rt *rapid.T, sc *openapi3.Schema, label string) any {
	if len(sc.OneOf) > 0 {
		i := rapid.IntRange(0, len(sc.OneOf)-1).Draw(rt, label+" variant")
		return f.drawSchema(rt, sc.OneOf[i].Value, label)
	}
	if len(sc.Enum) > 0 {
		return rapid.SampledFrom(sc.Enum).Draw(rt, label)
	}
	types := sc.Type.Slice()
	if len(types) == 0 {
		if len(sc.Properties) > 0 {
			types = []string{openapi3.TypeObject}
		} else {
			types = []string{openapi3.TypeString}
		}
	}
	switch typ := rapid.SampledFrom(types).Draw(rt, label+" type"); typ {
	case openapi3.TypeNull:
		return nil
	case openapi3.TypeBoolean:
		return rapid.Bool().Draw(rt, label)
	case openapi3.TypeInteger:
		lo, hi := -1000, 1000
		if sc.Min != nil {
			lo = int(*sc.Min)
		}
		if sc.Max != nil {
			hi = int(*sc.Max)
		}
		return rapid.IntRange(lo, hi).Draw(rt, label)
	case openapi3.TypeArray:
		lo, hi := int(sc.MinItems), 3
		if sc.MaxItems != nil && int(*sc.MaxItems) < hi {
			hi = int(*sc.MaxItems)
		}
		hi = max(hi, lo)
		n := rapid.IntRange(lo, hi).Draw(rt, label+" len")
		out := make([]any, n)
		for i := range out {
			if strings.HasSuffix(label, ".roles") && f.known(rt, label) {
				out[i] = rapid.SampledFrom(f.roleKeys).Draw(rt, label)
				continue
			}
			if strings.HasSuffix(label, ".permissions") && f.known(rt, label) {
				out[i] = rapid.SampledFrom(append([]string{"*", "invoices:*"}, f.permKeys...)).Draw(rt, label)
				continue
			}
			out[i] = f.drawSchema(rt, sc.Items.Value, label+"[]")
		}
		return out
	case openapi3.TypeObject:
		return f.drawObject(rt, sc, label)
	default:
		if sc.Format == "date-time" {
			return time.Unix(rapid.Int64Range(0, 4102444800).Draw(rt, label), 0).UTC().Format(time.RFC3339)
		}
		return f.drawString(rt, sc, label)
	}
}

// known decides whether a reference names an existing entity: three times
// in four.
func (f *propertyFixture) known(rt *rapid.T, label string) bool {
	return rapid.IntRange(0, 3).Draw(rt, "known "+label) > 0
}

func (f *propertyFixture) drawObject(rt *rapid.T, sc *openapi3.Schema, label string) map[string]any {
	out := map[string]any{}
	for _, name := range sortedKeys(sc.Properties) {
		if !slices.Contains(sc.Required, name) && !rapid.Bool().Draw(rt, label+"."+name+"?") {
			continue
		}
		switch {
		case name == "user_id" && f.known(rt, label+".user_id"):
			out[name] = rapid.SampledFrom(f.userIDs).Draw(rt, label+".user_id")
		case name == "permission" && f.known(rt, label+".permission"):
			out[name] = rapid.SampledFrom(f.permKeys).Draw(rt, label+".permission")
		default:
			out[name] = f.drawSchema(rt, sc.Properties[name].Value, label+"."+name)
		}
	}
	if ap := sc.AdditionalProperties.Schema; ap != nil && ap.Value != nil {
		hi := 3
		if sc.MaxProps != nil {
			hi = min(hi, int(*sc.MaxProps))
		}
		n := rapid.IntRange(0, hi).Draw(rt, label+" keys")
		for range n {
			k := f.drawString(rt, sc.PropertyNames.Value, label+" key")
			out[k] = f.drawSchema(rt, ap.Value, label+"["+k+"]")
		}
	}
	return out
}

var patternCache = map[string]*regexp.Regexp{}

func compiled(p string) *regexp.Regexp {
	re, ok := patternCache[p]
	if !ok {
		re = regexp.MustCompile(p)
		patternCache[p] = re
	}
	return re
}

// drawString draws a string of sc's length, pattern and not-pattern.
func (f *propertyFixture) drawString(rt *rapid.T, sc *openapi3.Schema, label string) string {
	lo, hi := int(sc.MinLength), 300
	if sc.MaxLength != nil {
		hi = int(*sc.MaxLength)
	}
	var g *rapid.Generator[string]
	if sc.Pattern != "" {
		g = rapid.StringMatching(sc.Pattern)
	} else {
		g = rapid.StringOfN(rapid.Rune(), lo, min(hi, 40), -1)
	}
	g = g.Filter(func(s string) bool {
		n := utf8.RuneCountInString(s)
		if n < lo || n > hi {
			return false
		}
		if sc.Not != nil && sc.Not.Value.Pattern != "" && compiled(sc.Not.Value.Pattern).MatchString(s) {
			return false
		}
		return true
	})
	return g.Draw(rt, label)
}

// breakOne makes the request break exactly one constraint of the document.
func (f *propertyFixture) breakOne(rt *rapid.T, o operation, req *request) {
	type mutation struct {
		name  string
		apply func()
	}
	var ms []mutation
	if bodyObj, ok := req.body.(map[string]any); ok {
		sc := o.op.RequestBody.Value.Content.Get("application/json").Schema.Value
		if len(sc.OneOf) > 0 {
			sc = variantOf(sc, bodyObj)
		}
		ms = append(ms,
			mutation{"unknown member", func() { bodyObj["x_"+rapid.StringMatching(`^[a-z]{1,8}$`).Draw(rt, "unknown")] = "x" }},
			mutation{"body not an object", func() { req.body = []any{bodyObj} }},
			mutation{"malformed JSON", func() { b, _ := json.Marshal(bodyObj); req.rawBody = b[:len(b)-1] }},
		)
		if sc != nil {
			for _, name := range sortedKeys(sc.Properties) {
				prop := sc.Properties[name].Value
				if slices.Contains(sc.Required, name) {
					ms = append(ms, mutation{"missing " + name, func() { delete(bodyObj, name) }})
				}
				ms = append(ms, mutation{"wrong type " + name, func() { bodyObj[name] = wrongType(prop) }})
				for _, bad := range badStrings(rt, prop, name) {
					ms = append(ms, mutation{bad.why + " " + name, func() { bodyObj[name] = bad.value }})
				}
				if prop.Type.Is(openapi3.TypeArray) && prop.MaxItems != nil {
					ms = append(ms, mutation{"too many " + name, func() {
						item := f.drawSchema(rt, prop.Items.Value, name+"[]")
						long := make([]any, int(*prop.MaxItems)+1)
						for i := range long {
							long[i] = item
						}
						bodyObj[name] = long
					}})
				}
				if prop.PropertyNames != nil && prop.PropertyNames.Value != nil {
					ms = append(ms, mutation{"control character in a key of " + name, func() {
						bodyObj[name] = map[string]any{"a\x01b": "x"}
					}})
				}
			}
		}
	}
	for _, pr := range o.params {
		p := pr.Value
		switch p.In {
		case openapi3.ParameterInQuery:
			for _, bad := range badStrings(rt, p.Schema.Value, p.Name) {
				ms = append(ms, mutation{bad.why + " ?" + p.Name, func() { req.query.Set(p.Name, fmt.Sprint(bad.value)) }})
			}
			if p.Schema.Value.Type.Is(openapi3.TypeInteger) {
				ms = append(ms,
					mutation{"not an integer ?" + p.Name, func() { req.query.Set(p.Name, "x1") }},
					mutation{"above maximum ?" + p.Name, func() { req.query.Set(p.Name, strconv.Itoa(int(*p.Schema.Value.Max)+1)) }},
					mutation{"below minimum ?" + p.Name, func() { req.query.Set(p.Name, strconv.Itoa(int(*p.Schema.Value.Min)-1)) }},
				)
			}
		case openapi3.ParameterInPath:
			if p.Schema.Value.Pattern != "" {
				ms = append(ms, mutation{"NUL in path " + p.Name, func() { req.path[p.Name] += "\x00" }})
			}
		}
	}
	if len(ms) == 0 {
		return
	}
	m := rapid.SampledFrom(ms).Draw(rt, "mutation")
	rt.Logf("mutation: %s", m.name)
	m.apply()
}

// variantOf returns the oneOf variant a drawn object was drawn from: the one
// whose required members it has and whose members it knows.
func variantOf(sc *openapi3.Schema, v map[string]any) *openapi3.Schema {
	for _, alt := range sc.OneOf {
		a := alt.Value
		ok := true
		for _, r := range a.Required {
			if _, has := v[r]; !has {
				ok = false
			}
		}
		for k := range v {
			if _, known := a.Properties[k]; !known {
				ok = false
			}
		}
		if ok {
			return a
		}
	}
	return nil
}

// wrongType is a JSON value of another type than sc allows.
func wrongType(sc *openapi3.Schema) any {
	switch {
	case sc.Type.Is(openapi3.TypeString) || len(sc.OneOf) > 0 || sc.Type == nil:
		return 12345
	case sc.Type.Is(openapi3.TypeArray):
		return "not-an-array"
	case sc.Type.Is(openapi3.TypeObject):
		return []any{"not-an-object"}
	default:
		return "wrong-type"
	}
}

type badString struct {
	why   string
	value any
}

// badStrings are strings that break one rule of a string schema: too long,
// too short (""), not in the enum, not matching the pattern (a NUL, a
// control character or only white space, as the pattern forbids).
func badStrings(rt *rapid.T, sc *openapi3.Schema, label string) []badString {
	if sc == nil || !sc.Type.Is(openapi3.TypeString) {
		return nil
	}
	var out []badString
	if sc.MaxLength != nil {
		out = append(out, badString{"too long", strings.Repeat("a", int(*sc.MaxLength)+1+rapid.IntRange(0, 5).Draw(rt, label+" excess"))})
	}
	if sc.MinLength > 0 {
		out = append(out, badString{"empty", ""})
	}
	if len(sc.Enum) > 0 {
		out = append(out, badString{"not in enum", "zz-not-a-value"})
	}
	if sc.Not != nil && sc.Not.Value.Pattern != "" {
		out = append(out, badString{"UUID-shaped", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"})
	}
	if sc.Pattern != "" {
		re := compiled(sc.Pattern)
		for _, cand := range []string{"ab\x00cd", "ab\x1fcd", "a\x7f", " \u00a0\u3000\t", "\u2028", "a;b", "Ab", "x"} {
			if !re.MatchString(cand) {
				out = append(out, badString{"pattern " + strconv.Quote(cand), cand})
			}
		}
	}
	return out
}

// mergedMetadataTooLarge reports whether a 400 is the one refusal a
// document-valid request may get that depends on the state: a metadata
// merge patch whose result would hold more than 50 keys (the patch itself
// is within the document's maxProperties; the operations' descriptions say
// so). Walks that patch the same organization or user many times reach it.
func mergedMetadataTooLarge(body []byte) bool {
	var p struct {
		Code   string `json:"code"`
		Errors []struct {
			Pointer string `json:"pointer"`
			Detail  string `json:"detail"`
		} `json:"errors"`
	}
	if json.Unmarshal(body, &p) != nil || p.Code != "validation_failed" || len(p.Errors) != 1 {
		return false
	}
	return p.Errors[0].Pointer == "/metadata" && p.Errors[0].Detail == fmt.Sprintf("must have at most %d keys", domain.MaxMetadataKeys)
}
