package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"github.com/gorilla/mux"
	"go.uber.org/zap"

	"github.com/orgstack/orgstack/ports"
)

// The OpenAPI document is kept true by validating every request and response
// the HTTP test suite makes against it: the harness calls exchangeHook after
// each exchange, and this file sets it.
func init() {
	exchangeHook = validateExchange
	openapi3filter.RegisterBodyDecoder(ndjson, decodeNDJSON)
}

// decodeNDJSON checks an NDJSON export against the document: every line is
// one JSON value that must match the media type's schema (the schema of
// one line). It returns the first line for the validator to check again
// (an empty export has none: an empty object, which the check then refuses
// unless the schema allows it).
func decodeNDJSON(body io.Reader, _ http.Header, schema *openapi3.SchemaRef, _ openapi3filter.EncodingFn) (any, error) {
	dec := json.NewDecoder(body)
	var first any = map[string]any{}
	for i := 0; ; i++ {
		var v any
		if err := dec.Decode(&v); errors.Is(err, io.EOF) {
			return first, nil
		} else if err != nil {
			return nil, fmt.Errorf("line %d: %w", i+1, err)
		}
		if err := schema.Value.VisitJSON(v); err != nil {
			return nil, fmt.Errorf("line %d: %w", i+1, err)
		}
		if i == 0 {
			first = v
		}
	}
}

// apiSpec is openapi.json loaded, validated and routed once per test binary.
// doc is the document as published (responses open, so clients must ignore
// members they do not know); closed is the copy exchanges are validated
// against, with every response object closed, so the server can never emit
// a member the document does not name.
type apiSpec struct {
	raw    []byte
	doc    *openapi3.T
	closed *openapi3.T
	router routers.Router
}

var (
	specOnce sync.Once
	spec     *apiSpec
	specErr  error
)

// loadSpec reads openapi.json from the package directory, checks that it is
// a valid OpenAPI document and builds a router over its paths.
func loadSpec() (*apiSpec, error) {
	specOnce.Do(func() {
		raw, err := os.ReadFile("openapi.json")
		if err != nil {
			specErr = err
			return
		}
		doc, err := loadDocument(raw)
		if err != nil {
			specErr = fmt.Errorf("openapi.json: %w", err)
			return
		}
		closedRaw, err := closeResponses(raw)
		if err != nil {
			specErr = fmt.Errorf("close openapi.json: %w", err)
			return
		}
		closed, err := loadDocument(closedRaw)
		if err != nil {
			specErr = fmt.Errorf("closed copy of openapi.json: %w", err)
			return
		}
		router, err := gorillamux.NewRouter(closed)
		if err != nil {
			specErr = fmt.Errorf("route openapi.json: %w", err)
			return
		}
		spec = &apiSpec{raw: raw, doc: doc, closed: closed, router: router}
	})
	return spec, specErr
}

// loadDocument loads and validates an OpenAPI document (its examples
// included).
func loadDocument(raw []byte) (*openapi3.T, error) {
	doc, err := openapi3.NewLoader().LoadFromData(raw)
	if err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	if err := doc.Validate(context.Background(), openapi3.EnableExamplesValidation()); err != nil {
		return nil, fmt.Errorf("validate: %w", err)
	}
	return doc, nil
}

// closeResponses returns a copy of the document in which every object schema
// a response uses, directly or through $ref, has additionalProperties:false
// unless it says otherwise (a map such as Metadata keeps its value schema).
// The published document leaves responses open for evolution; the test
// suite validates against this copy so an undocumented member is caught.
func closeResponses(raw []byte) ([]byte, error) {
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, err
	}
	components, _ := doc["components"].(map[string]any)
	schemas, _ := components["schemas"].(map[string]any)
	seen := map[string]bool{}
	var walk func(node any, inSchema bool)
	walk = func(node any, inSchema bool) {
		switch n := node.(type) {
		case map[string]any:
			if ref, ok := n["$ref"].(string); ok {
				if name, ok := strings.CutPrefix(ref, "#/components/schemas/"); ok && !seen[name] {
					seen[name] = true
					walk(schemas[name], true)
				}
				if name, ok := strings.CutPrefix(ref, "#/components/responses/"); ok {
					walk(components["responses"].(map[string]any)[name], false)
				}
			}
			if inSchema {
				if _, props := n["properties"]; props {
					if _, set := n["additionalProperties"]; !set {
						n["additionalProperties"] = false
					}
				}
			}
			for k, v := range n {
				switch k {
				case "examples", "example":
					continue
				case "schema":
					walk(v, true)
				default:
					walk(v, inSchema)
				}
			}
		case []any:
			for _, v := range n {
				walk(v, inSchema)
			}
		}
	}
	paths, _ := doc["paths"].(map[string]any)
	for _, item := range paths {
		for _, op := range item.(map[string]any) {
			if o, ok := op.(map[string]any); ok {
				walk(o["responses"], false)
			}
		}
	}
	return json.Marshal(doc)
}

func mustSpec(t testing.TB) *apiSpec {
	t.Helper()
	s, err := loadSpec()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// bearerPresent is the authentication function of request validation: the
// token itself was verified by the server, so here it only has to be there.
func bearerPresent(_ context.Context, in *openapi3filter.AuthenticationInput) error {
	if in.SecurityScheme == nil || in.SecurityScheme.Type != "http" || !strings.EqualFold(in.SecurityScheme.Scheme, "bearer") {
		return fmt.Errorf("unexpected security scheme %q", in.SecuritySchemeName)
	}
	scheme, token, ok := strings.Cut(in.RequestValidationInput.Request.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return errors.New("no bearer token")
	}
	return nil
}

// validateExchange checks one exchange against the document. The request is
// validated unless the server refused it with a 4xx (tests send invalid
// requests on purpose); the response is always validated, including its
// status, headers and body. A request no documented route serves must be
// answered with a 404 or 405 problem.
func validateExchange(t testing.TB, req *http.Request, reqBody []byte, res *http.Response, resBody []byte) {
	t.Helper()
	s, err := loadSpec()
	if err != nil {
		t.Errorf("openapi: %v", err)
		return
	}
	ctx := context.Background()
	where := req.Method + " " + req.URL.RequestURI() + " → " + res.Status
	if req.Method == http.MethodHead {
		// HEAD is GET without a body (RFC 9110), not a documented
		// operation: TestHeadAnswersEveryGetRoute compares it with its GET,
		// which this hook validates.
		if len(resBody) > 0 {
			t.Errorf("openapi: %s: a HEAD response has a body", where)
		}
		return
	}
	r := req.Clone(ctx)
	r.Body = io.NopCloser(bytes.NewReader(reqBody))
	route, params, err := s.router.FindRoute(r)
	if err != nil {
		want := http.StatusNotFound
		if errors.Is(err, routers.ErrMethodNotAllowed) {
			want = http.StatusMethodNotAllowed
			if res.Header.Get("Allow") == "" {
				t.Errorf("openapi: %s: 405 without an Allow header", where)
			}
		}
		if res.StatusCode != want && res.StatusCode != http.StatusUnauthorized {
			t.Errorf("openapi: %s: the document has no such operation (%v), so the status must be %d", where, err, want)
		}
		validateProblemBody(t, s, where, res, resBody)
		return
	}
	normalizeJSONMediaType(r, route.Operation)
	in := &openapi3filter.RequestValidationInput{
		Request:    r,
		PathParams: params,
		Route:      route,
		Options: &openapi3filter.Options{
			AuthenticationFunc:  bearerPresent,
			MultiError:          true,
			SkipSettingDefaults: true,
		},
	}
	if res.StatusCode < 400 || res.StatusCode >= 500 {
		if err := openapi3filter.ValidateRequest(ctx, in); err != nil {
			t.Errorf("openapi: %s (%s): the server accepted a request the document forbids: %v\nrequest body: %s",
				where, route.Operation.OperationID, err, truncate(reqBody))
		}
	}
	out := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in,
		Status:                 res.StatusCode,
		Header:                 res.Header,
		Body:                   io.NopCloser(bytes.NewReader(resBody)),
		Options:                &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	if err := openapi3filter.ValidateResponse(ctx, out); err != nil {
		t.Errorf("openapi: %s (%s): response does not match the document: %v\nresponse body: %s",
			where, route.Operation.OperationID, err, truncate(resBody))
	}
	checkKnownProblem(t, s, where, res, resBody)
	if resp := route.Operation.Responses.Status(res.StatusCode); resp != nil && resp.Value != nil && len(resp.Value.Content) == 0 && len(resBody) != 0 {
		t.Errorf("openapi: %s: the document gives this response no body, got %q", where, truncate(resBody))
	}
	recordCoverage(route.Operation.OperationID, res.StatusCode)
}

// normalizeJSONMediaType reads a request body sent as a */*+json type the
// operation does not list as application/json, as the server does (the
// request body descriptions say so).
func normalizeJSONMediaType(r *http.Request, op *openapi3.Operation) {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || op.RequestBody == nil || op.RequestBody.Value == nil {
		return
	}
	content := op.RequestBody.Value.Content
	if content.Get(mt) == nil && strings.HasSuffix(mt, "+json") && content.Get("application/json") != nil {
		r.Header.Set("Content-Type", "application/json")
	}
}

// validateProblemBody checks a response to a request no operation covers.
func validateProblemBody(t testing.TB, s *apiSpec, where string, res *http.Response, body []byte) {
	t.Helper()
	if mt, _, _ := mime.ParseMediaType(res.Header.Get("Content-Type")); mt != "application/problem+json" {
		t.Errorf("openapi: %s: Content-Type %q, want application/problem+json", where, res.Header.Get("Content-Type"))
		return
	}
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		t.Errorf("openapi: %s: problem body is not JSON: %v", where, err)
		return
	}
	if err := s.closed.Components.Schemas["Problem"].Value.VisitJSON(v, openapi3.EnableJSONSchema2020()); err != nil {
		t.Errorf("openapi: %s: problem body does not match the Problem schema: %v", where, err)
	}
	checkKnownProblem(t, s, where, res, body)
}

// checkKnownProblem holds the server to the codes and 401 reasons the
// document lists. The document leaves both open so that clients tolerate
// new ones, but this server may only send what it documents: a code of
// x-error-codes with its status, and a reason among Problem.reason's
// examples.
func checkKnownProblem(t testing.TB, s *apiSpec, where string, res *http.Response, body []byte) {
	t.Helper()
	if mt, _, _ := mime.ParseMediaType(res.Header.Get("Content-Type")); mt != "application/problem+json" {
		return
	}
	var p struct {
		Code   string  `json:"code"`
		Reason *string `json:"reason"`
	}
	if err := json.Unmarshal(body, &p); err != nil {
		return // the schema validation reports it
	}
	status, ok := s.errorCodes()[p.Code]
	if !ok {
		t.Errorf("openapi: %s: problem code %q is not in x-error-codes", where, p.Code)
	} else if status != res.StatusCode {
		t.Errorf("openapi: %s: problem code %q is documented with status %d", where, p.Code, status)
	}
	if p.Reason != nil {
		var known []string
		for _, v := range s.doc.Components.Schemas["Problem"].Value.Properties["reason"].Value.Examples {
			known = append(known, fmt.Sprint(v))
		}
		if !slices.Contains(known, *p.Reason) {
			t.Errorf("openapi: %s: problem reason %q is not documented (%v)", where, *p.Reason, known)
		}
	}
}

// errorCodes returns the x-error-codes table: status by code.
func (s *apiSpec) errorCodes() map[string]int {
	var table []struct {
		Code   string `json:"code"`
		Status int    `json:"status"`
	}
	raw, _ := json.Marshal(s.doc.Extensions["x-error-codes"])
	_ = json.Unmarshal(raw, &table)
	out := make(map[string]int, len(table))
	for _, row := range table {
		out[row.Code] = row.Status
	}
	return out
}

func truncate(b []byte) string {
	if len(b) > 2000 {
		return string(b[:2000]) + "…"
	}
	return string(b)
}

// coverage records which documented responses the suite produced.
var coverage = struct {
	sync.Mutex
	seen map[string]map[int]bool
}{seen: map[string]map[int]bool{}}

func recordCoverage(opID string, status int) {
	coverage.Lock()
	defer coverage.Unlock()
	if coverage.seen[opID] == nil {
		coverage.seen[opID] = map[int]bool{}
	}
	coverage.seen[opID][status] = true
}

func TestOpenAPIDocumentIsValid(t *testing.T) {
	s := mustSpec(t)
	if got := s.doc.OpenAPI; got != "3.1.1" {
		t.Errorf("openapi = %q, want 3.1.1", got)
	}
	// Every /api/v1 operation but the document itself needs a bearer token;
	// every operation documents its success and its 401/500 problems.
	for path, item := range s.doc.Paths.Map() {
		for method, op := range item.Operations() {
			public := path == "/livez" || path == "/readyz" || path == "/api/v1/openapi.json" ||
				path == "/.well-known/oauth-protected-resource"
			sec := s.doc.Security
			if op.Security != nil {
				sec = *op.Security
			}
			if public && len(sec) != 0 {
				t.Errorf("%s %s: must not require authentication", method, path)
			}
			if !public {
				if len(sec) != 1 || sec[0]["bearerAuth"] == nil {
					t.Errorf("%s %s: must require bearerAuth, has %v", method, path, sec)
				}
				for _, st := range []int{401, 500} {
					if op.Responses.Status(st) == nil {
						t.Errorf("%s %s: no %d response", method, path, st)
					}
				}
			}
			if op.OperationID == "" {
				t.Errorf("%s %s: no operationId", method, path)
			}
		}
	}
}

// TestOpenAPIErrorCodes keeps the known codes of the Problem schema (its
// examples) and the x-error-codes table in step with the adapter's
// ErrorCodes table, and keeps the code open: a closed enum would make a
// generated client fail on the first code a later release adds.
func TestOpenAPIErrorCodes(t *testing.T) {
	s := mustSpec(t)
	codeSchema := s.doc.Components.Schemas["Problem"].Value.Properties["code"].Value
	if len(codeSchema.Enum) != 0 {
		t.Errorf("Problem.code is a closed enum %v; it must stay open", codeSchema.Enum)
	}
	var examples []string
	for _, v := range codeSchema.Examples {
		examples = append(examples, fmt.Sprint(v))
	}
	var table []struct {
		Code   string `json:"code"`
		Status int    `json:"status"`
	}
	raw, err := json.Marshal(s.doc.Extensions["x-error-codes"])
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &table); err != nil {
		t.Fatal(err)
	}
	documented := map[string]int{}
	for _, row := range table {
		documented[row.Code] = row.Status
	}
	var code []string
	for _, c := range ErrorCodes {
		code = append(code, c.Code)
		if st, ok := documented[c.Code]; !ok || st != c.Status {
			t.Errorf("code %s: status %d in the code, %d (present %v) in x-error-codes", c.Code, c.Status, st, ok)
		}
		if !strings.Contains(codeSchema.Description, c.Code) {
			t.Errorf("code %s is not named in Problem.code's description", c.Code)
		}
	}
	slices.Sort(examples)
	slices.Sort(code)
	if !slices.Equal(examples, code) {
		t.Errorf("Problem.code examples %v\n != ErrorCodes %v", examples, code)
	}
	if len(table) != len(code) {
		t.Errorf("x-error-codes has %d rows, ErrorCodes %d", len(table), len(code))
	}
}

// TestOpenAPIServedDocument checks that GET /api/v1/openapi.json serves
// exactly this file, without authentication.
func TestOpenAPIServedDocument(t *testing.T) {
	s := mustSpec(t)
	env := newEnv(t)
	res, body := env.do(t, http.MethodGet, "/api/v1/openapi.json", "", nil)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("status %d, want 200: %s", res.StatusCode, body)
	}
	if mt, _, _ := mime.ParseMediaType(res.Header.Get("Content-Type")); mt != "application/json" {
		t.Errorf("Content-Type %q, want application/json", res.Header.Get("Content-Type"))
	}
	if !bytes.Equal(body, s.raw) {
		t.Errorf("served document (%d bytes) differs from openapi.json (%d bytes)", len(body), len(s.raw))
	}
}

// TestOpenAPIRoutesMatchRouter checks that every route registered on the
// router is documented and every documented operation is registered.
func TestOpenAPIRoutesMatchRouter(t *testing.T) {
	s := mustSpec(t)
	srv := &server{log: zap.NewNop()}
	srv.routes()
	registered := map[string]bool{}
	err := srv.router.Walk(func(route *mux.Route, _ *mux.Router, _ []*mux.Route) error {
		tpl, err := route.GetPathTemplate()
		if err != nil {
			return nil //nolint:nilerr // a route without a path (none today) is not an operation
		}
		methods, err := route.GetMethods()
		if err != nil {
			return nil //nolint:nilerr // subrouter prefixes have no methods: not operations
		}
		for _, m := range methods {
			registered[m+" "+tpl] = true
		}
		if slices.Contains(methods, http.MethodGet) != slices.Contains(methods, http.MethodHead) {
			t.Errorf("route %s %v: HEAD must be served exactly where GET is", tpl, methods)
		}
		return nil
	})
	for k := range registered {
		if strings.HasPrefix(k, http.MethodHead+" ") {
			delete(registered, k) // implied by GET (RFC 9110), not a documented operation
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	documented := map[string]bool{}
	for path, item := range s.doc.Paths.Map() {
		for method := range item.Operations() {
			documented[method+" "+path] = true
		}
	}
	for _, k := range sortedKeys(registered) {
		if !documented[k] {
			t.Errorf("route %s is registered but not documented", k)
		}
	}
	for _, k := range sortedKeys(documented) {
		if !registered[k] {
			t.Errorf("operation %s is documented but not registered", k)
		}
	}
	t.Logf("%d routes registered, %d operations documented", len(registered), len(documented))
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// TestOpenAPIValidatorRejectsDrift proves the exchange validator can fail: a
// response that breaks the document is reported.
func TestOpenAPIValidatorRejectsDrift(t *testing.T) {
	tests := []struct {
		name   string
		method string
		path   string
		status int
		ctype  string
		body   string
	}{
		{"unknown problem member", "GET", "/api/v1/organizations/x", 404, "application/problem+json",
			`{"type":"about:blank","title":"t","status":404,"code":"not_found","request_id":"r","secret":"x"}`},
		{"undocumented reason", "GET", "/api/v1/me", 401, "application/problem+json",
			`{"type":"about:blank","title":"t","status":401,"code":"invalid_token","reason":"bored","request_id":"r"}`},
		{"code with another status", "GET", "/api/v1/organizations/x", 404, "application/problem+json",
			`{"type":"about:blank","title":"t","status":404,"code":"forbidden","request_id":"r"}`},
		{"unknown field", "GET", "/api/v1/me", 200, "application/json",
			`{"data":{"id":"u","issuer":"i","subject":"s","email":null,"name":null,"memberships":[],"org_id":"x"}}`},
		{"undocumented status", "GET", "/api/v1/me", 418, "application/problem+json",
			`{"type":"about:blank","title":"t","status":418,"code":"internal","request_id":"r"}`},
		{"unknown problem code", "GET", "/api/v1/organizations/x", 404, "application/problem+json",
			`{"type":"about:blank","title":"t","status":404,"code":"nope","request_id":"r"}`},
		{"bad slug", "GET", "/api/v1/organizations/x", 200, "application/json",
			`{"data":{"id":"x","slug":"A--b","name":"n","status":"active","metadata":{},"created_at":"2025-01-01T00:00:00Z","updated_at":"2025-01-01T00:00:00Z","version":1}}`},
		{"missing Link", "GET", "/api/v1/organizations", 200, "application/json",
			`{"data":[],"pagination":{"page":1,"size":20,"total_items":0,"total_pages":0}}`},
		{"wrong content type", "GET", "/api/v1/roles/admin", 404, "application/json",
			`{"type":"about:blank","title":"t","status":404,"code":"not_found","request_id":"r"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(tt.method, "http://api.test"+tt.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Authorization", "Bearer x")
			res := &http.Response{StatusCode: tt.status, Status: fmt.Sprint(tt.status), Header: http.Header{
				"Content-Type": {tt.ctype}, "X-Request-Id": {"r"},
			}}
			rec := &recordingTB{TB: t}
			validateExchange(rec, req, nil, res, []byte(tt.body))
			if !rec.failed {
				t.Errorf("validator accepted a response that breaks the document")
			}
		})
	}
}

// recordingTB records failures instead of failing the test.
type recordingTB struct {
	testing.TB
	failed bool
}

func (r *recordingTB) Errorf(string, ...any) { r.failed = true }
func (r *recordingTB) Fatal(...any)          { r.failed = true }
func (r *recordingTB) Helper()               {}

// TestOpenAPIHookValidatesRealExchanges checks that the hook is installed,
// finds the operation of a real exchange and rejects that exchange once its
// body drifts from the document.
func TestOpenAPIHookValidatesRealExchanges(t *testing.T) {
	t.Parallel()
	if exchangeHook == nil {
		t.Fatal("exchangeHook is not set")
	}
	e := newEnv(t)
	tok := e.token("hook-user", withEmail("hook@example.com"))
	res, body := e.do(t, http.MethodGet, "/api/v1/me", tok, nil)
	wantStatus(t, res, body, http.StatusOK)
	coverage.Lock()
	seen := coverage.seen["getMe"][http.StatusOK]
	coverage.Unlock()
	if !seen {
		t.Error("the hook did not validate GET /api/v1/me as operation getMe")
	}
	tampered := strings.Replace(string(body), `"memberships"`, `"secret":"x","memberships"`, 1)
	rec := &recordingTB{TB: t}
	validateExchange(rec, res.Request, nil, res, []byte(tampered))
	if !rec.failed {
		t.Error("a real response with an undocumented member passed validation")
	}
	res.Header.Del("X-Request-ID")
	rec = &recordingTB{TB: t}
	validateExchange(rec, res.Request, nil, res, body)
	if !rec.failed {
		t.Error("a response without X-Request-ID passed validation")
	}
}

// TestOpenAPIListParameters keeps each list operation's documented query
// parameters in step with the list spec its handler parses: the same
// filters (with the same values for enumerated ones) and sort fields, as
// ports states them for every adapter.
func TestOpenAPIListParameters(t *testing.T) {
	s := mustSpec(t)
	specs := map[string]ports.ListRules{
		"listOrganizations": ports.OrganizationList,
		"listMembers":       ports.MemberList,
		"listUsers":         ports.UserList,
		"listAllUsers":      ports.UserList,
		"listRoles":         ports.RoleList,
		"listPermissions":   ports.PermissionList,
	}
	checked := 0
	for _, item := range s.doc.Paths.Map() {
		for method, op := range item.Operations() {
			if method != http.MethodGet {
				continue
			}
			ls, ok := specs[strings.TrimSuffix(op.OperationID, "InOrganization")]
			if !ok {
				continue
			}
			checked++
			filters := map[string]*openapi3.Parameter{}
			var paging []string
			for _, pr := range op.Parameters {
				p := pr.Value
				if p.In != openapi3.ParameterInQuery {
					continue
				}
				switch p.Name {
				case "page", "size":
					paging = append(paging, p.Name)
				case "sort":
					var fields []string
					raw, _ := json.Marshal(p.Extensions["x-sort-fields"])
					_ = json.Unmarshal(raw, &fields)
					if !slices.Equal(fields, ls.Sorts) {
						t.Errorf("%s: documented sort fields %v, handler sorts %v", op.OperationID, fields, ls.Sorts)
					}
				default:
					filters[p.Name] = p
				}
			}
			if len(paging) != 2 {
				t.Errorf("%s: page and size not both documented", op.OperationID)
			}
			for name, fs := range ls.Filters {
				p, ok := filters[name]
				if !ok {
					t.Errorf("%s: filter %s is parsed but not documented", op.OperationID, name)
					continue
				}
				var enum []string
				for _, v := range p.Schema.Value.Enum {
					enum = append(enum, fmt.Sprint(v))
				}
				if !slices.Equal(enum, fs.Values) {
					t.Errorf("%s: filter %s documents values %v, handler accepts %v", op.OperationID, name, enum, fs.Values)
				}
				if fs.Values == nil {
					if ml := p.Schema.Value.MaxLength; ml == nil || int(*ml) != fs.MaxLen {
						t.Errorf("%s: filter %s maxLength %v, handler %d", op.OperationID, name, ml, fs.MaxLen)
					}
				}
			}
			for name := range filters {
				if _, ok := ls.Filters[name]; !ok {
					t.Errorf("%s: filter %s is documented but not parsed", op.OperationID, name)
				}
			}
		}
	}
	if checked != 10 {
		t.Errorf("checked %d list operations, want 10", checked)
	}
}

// TestOpenAPIDocumentShape holds the document to what generated clients
// need: named request bodies and oneOf variants, a server URL, examples on
// every operation, closed request bodies and open responses, the 503 and
// rate-limit headers on every authenticated operation, and the method rules
// in info.description.
func TestOpenAPIDocumentShape(t *testing.T) {
	s := mustSpec(t)
	if len(s.doc.Servers) != 1 || s.doc.Servers[0].URL != "/" {
		t.Errorf("servers = %v, want one with url /", s.doc.Servers)
	}
	for _, want := range []string{"405", "Allow", "HEAD", "ignore"} {
		if !strings.Contains(s.doc.Info.Description, want) {
			t.Errorf("info.description does not mention %q", want)
		}
	}
	if _, ok := s.doc.Components.Responses["MethodNotAllowed"]; ok {
		t.Error("the unused MethodNotAllowed response is still a component")
	}
	// Every oneOf, wherever it is, lists named schemas only.
	for name, sr := range s.doc.Components.Schemas {
		for i, v := range sr.Value.OneOf {
			if v.Ref == "" {
				t.Errorf("schema %s: oneOf variant %d is inline; name it in components/schemas", name, i)
			}
		}
		for prop, p := range sr.Value.Properties {
			if p.Ref == "" && len(p.Value.OneOf) > 0 {
				t.Errorf("schema %s.%s: inline oneOf", name, prop)
			}
		}
	}
	for path, item := range s.doc.Paths.Map() {
		for method, op := range item.Operations() {
			where := method + " " + path
			authed := path != "/livez" && path != "/readyz" && path != "/api/v1/openapi.json" &&
				path != "/.well-known/oauth-protected-resource"
			examples := 0
			if rb := op.RequestBody; rb != nil {
				for mt, media := range rb.Value.Content {
					if media.Schema.Ref == "" {
						t.Errorf("%s: request body %s is inline; name it in components/schemas", where, mt)
						continue
					}
					if len(media.Examples) == 0 {
						t.Errorf("%s: request body %s has no examples", where, mt)
					}
					requireClosed(t, where+" request "+mt, media.Schema.Value, map[*openapi3.Schema]bool{})
				}
			}
			for code, rr := range op.Responses.Map() {
				for _, media := range rr.Value.Content {
					examples += len(media.Examples)
					if media.Schema.Value.AdditionalProperties.Has != nil && !*media.Schema.Value.AdditionalProperties.Has {
						t.Errorf("%s %s: response schema is closed; responses stay open", where, code)
					}
				}
				if authed {
					for _, h := range []string{"RateLimit-Policy", "RateLimit"} {
						if rr.Value.Headers[h] == nil {
							t.Errorf("%s %s: header %s not documented", where, code, h)
						}
					}
				}
				if code == "429" || code == "503" && authed {
					if h := rr.Value.Headers["Retry-After"]; h == nil || !h.Value.Required {
						t.Errorf("%s %s: Retry-After not documented as required", where, code)
					}
				}
			}
			if examples == 0 {
				t.Errorf("%s: no response examples", where)
			}
			if authed && op.Responses.Status(http.StatusServiceUnavailable) == nil {
				t.Errorf("%s: no 503 unavailable response", where)
			}
		}
	}
}

// requireClosed fails unless every object schema of a request body refuses
// unknown members (oneOf variants included).
func requireClosed(t *testing.T, where string, sc *openapi3.Schema, seen map[*openapi3.Schema]bool) {
	t.Helper()
	if seen[sc] {
		return
	}
	seen[sc] = true
	for _, v := range sc.OneOf {
		requireClosed(t, where, v.Value, seen)
	}
	if len(sc.Properties) > 0 && (sc.AdditionalProperties.Has == nil || *sc.AdditionalProperties.Has) {
		t.Errorf("%s: an object schema accepts unknown members", where)
	}
	for _, p := range sc.Properties {
		requireClosed(t, where, p.Value, seen)
	}
	if sc.Items != nil {
		requireClosed(t, where, sc.Items.Value, seen)
	}
}
