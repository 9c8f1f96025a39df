package httpapi

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap/zaptest/observer"

	"github.com/orgstack/orgstack/adapters/sqlstore"
	"github.com/orgstack/orgstack/adapters/sqlstore/sqlstoretest"
	"github.com/orgstack/orgstack/adapters/telemetry"
	"github.com/orgstack/orgstack/ports"
)

// withMetrics reports to m, as bootstrap wires it.
func withMetrics(m *telemetry.Metrics) envOption {
	return withOptions(func(o *Options) { o.Requests, o.Auth, o.Checks = m, m, m })
}

// documentedRoutes are the route templates of the OpenAPI document plus
// the unversioned probes.
func documentedRoutes(t *testing.T) map[string]bool {
	t.Helper()
	var doc struct {
		Paths map[string]any `json:"paths"`
	}
	if err := json.Unmarshal(openAPIDocument, &doc); err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{"/livez": true, "/readyz": true, resourceMetadataPath: true}
	for p := range doc.Paths {
		out[p] = true
		out[BasePath+p] = true
	}
	return out
}

// TestMetricsLabelsBounded sends traffic with hostile paths, organizations
// and subjects and proves that none of it reaches a label: routes are
// templates or "unmatched", methods a known set or "other", reasons the
// token reasons; no organization ID, slug, subject or raw path appears in
// the scrape.
func TestMetricsLabelsBounded(t *testing.T) {
	t.Parallel()
	m := telemetry.NewMetrics(telemetry.Options{Issuers: []string{testIssuer}})
	e := newEnv(t, withMetrics(m))

	const marker = "zzhostile"
	owner := e.token(marker + "-owner-subject")
	orgID := e.createOrg(t, owner, marker+"-slug")
	e.addMember(t, owner, orgID, marker+"-member-subject", "member")
	secrets := []string{marker, orgID}

	base := "/api/v1/organizations/" + orgID
	for i := range 30 {
		n := strings.Repeat("x", i)
		e.do(t, http.MethodGet, base+"/members/"+marker+n, owner, nil)
		e.do(t, http.MethodGet, "/api/v1/organizations/"+marker+"-slug/roles/"+marker+n, owner, nil)
		e.do(t, http.MethodGet, "/"+marker+"/path/"+n, "", nil)
		e.do(t, http.MethodGet, "/api/v1/organizations/"+marker+"-nope"+n+"/members", owner, nil)
	}
	e.do(t, http.MethodPost, base+"/check", owner, obj{"subject": marker + "-member-subject", "permission": "members:read"})
	e.do(t, http.MethodPost, base+"/check", owner, obj{"subject": marker + "-member-subject", "permission": "organization:delete"})
	e.do(t, http.MethodPost, base+"/check", owner, obj{"checks": []obj{{"subject": marker + "-x", "permission": "members:read"}}})
	e.do(t, http.MethodGet, "/api/v1/me", "", nil)
	e.do(t, http.MethodGet, "/api/v1/me", e.token(marker+"-late", withClaim("exp", time.Now().Add(-time.Hour).Unix())), nil)
	e.do(t, http.MethodGet, "/api/v1/me", marker+"-not-a-jwt", nil)
	// A method no route knows (sent raw: the OpenAPI hook would refuse it).
	req, _ := http.NewRequest("BREW"+strings.ToUpper(marker), e.Server.URL+"/api/v1/me", nil)
	if res, err := e.Server.Client().Do(req); err == nil {
		res.Body.Close()
	}

	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	res, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	scrape, _ := io.ReadAll(res.Body)
	res.Body.Close()
	for _, s := range secrets {
		if strings.Contains(strings.ToLower(string(scrape)), strings.ToLower(s)) {
			t.Errorf("the scrape contains %q:\n%s", s, grepLines(string(scrape), s))
		}
	}

	families, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	routes := documentedRoutes(t)
	allowed := map[string]func(string) bool{
		"http_route": func(v string) bool { return v == "unmatched" || routes[v] },
		"http_request_method": func(v string) bool {
			return map[string]bool{"GET": true, "HEAD": true, "POST": true, "PUT": true, "PATCH": true, "DELETE": true, "OPTIONS": true, "other": true}[v]
		},
		"http_response_status_code": regexp.MustCompile(`^[1-5][0-9][0-9]$`).MatchString,
		"reason": func(v string) bool {
			for _, r := range ports.TokenReasons {
				if string(r) == v {
					return true
				}
			}
			return v == ports.ReasonMissing || v == "other"
		},
		"decision": func(v string) bool { return v == "allowed" || v == "denied" || v == "refused" },
		"issuer":   func(v string) bool { return v == testIssuer || v == ports.TenantIssuerLabel || v == "other" },
		"result":   func(v string) bool { return v == "ok" || v == "error" },
		"policy": func(v string) bool {
			return map[string]bool{"principal": true, "organization": true, "ip": true, "auth_failures": true, "other": true}[v]
		},
	}
	seen := map[string]float64{}
	for _, f := range families {
		if strings.HasPrefix(f.GetName(), "go_") || strings.HasPrefix(f.GetName(), "process_") || strings.HasPrefix(f.GetName(), "promhttp_") {
			continue
		}
		for _, mt := range f.GetMetric() {
			for _, l := range mt.GetLabel() {
				ok, known := allowed[l.GetName()]
				if !known {
					t.Errorf("%s has an unexpected label %s", f.GetName(), l.GetName())
				} else if !ok(l.GetValue()) {
					t.Errorf("%s{%s=%q}: not in the label's closed set", f.GetName(), l.GetName(), l.GetValue())
				}
			}
			seen[f.GetName()+labelsOf(mt)] += value(mt)
		}
	}
	for _, want := range []string{
		`http_server_request_duration_seconds{http_request_method="GET",http_response_status_code="404",http_route="unmatched"}`,
		`http_server_request_duration_seconds{http_request_method="POST",http_response_status_code="200",http_route="/api/v1/organizations/{orgId}/check"}`,
		`http_server_request_duration_seconds{http_request_method="other",http_response_status_code="405",http_route="unmatched"}`,
		`orgstack_auth_failures_total{reason="missing"}`,
		`orgstack_auth_failures_total{reason="expired"}`,
		`orgstack_auth_failures_total{reason="malformed"}`,
		`orgstack_check_decisions_total{decision="allowed"}`,
		`orgstack_check_decisions_total{decision="denied"}`,
		`orgstack_jwks_refreshes_total{issuer="https://issuer.orgstack.test",result="ok"}`,
	} {
		if seen[want] == 0 && !strings.HasPrefix(want, "orgstack_jwks") {
			t.Errorf("no %s in the scrape", want)
		}
	}
	if seen[`orgstack_check_decisions_total{decision="denied"}`] != 2 || seen[`orgstack_check_decisions_total{decision="allowed"}`] != 1 {
		t.Errorf("check decisions: allowed %v, denied %v; want 1, 2", seen[`orgstack_check_decisions_total{decision="allowed"}`], seen[`orgstack_check_decisions_total{decision="denied"}`])
	}
	if v := seen["http_server_active_requests"]; v != 0 {
		t.Errorf("http_server_active_requests = %v after the traffic, want 0", v)
	}
}

func labelsOf(m *dto.Metric) string {
	if len(m.GetLabel()) == 0 {
		return ""
	}
	var parts []string
	for _, l := range m.GetLabel() {
		parts = append(parts, l.GetName()+`="`+l.GetValue()+`"`)
	}
	return "{" + strings.Join(parts, ",") + "}"
}

func value(m *dto.Metric) float64 {
	switch {
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	case m.Histogram != nil:
		return float64(m.Histogram.GetSampleCount())
	}
	return 0
}

func grepLines(text, s string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(strings.ToLower(l), strings.ToLower(s)) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// logText renders every logged entry (message and fields) as text.
func logText(logs *observer.ObservedLogs) string {
	var b strings.Builder
	for _, en := range logs.All() {
		b.WriteString(en.Message)
		b.WriteByte(' ')
		j, _ := json.Marshal(en.ContextMap())
		b.Write(j)
		b.WriteByte('\n')
	}
	return b.String()
}

// TestTokenNeverLogged sends accepted, expired, wrongly-signed and
// malformed tokens and proves that no token, nor a part of one, reaches the
// log at any level (the observer records debug too).
func TestTokenNeverLogged(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	good := e.token("logger-alice")
	orgID := e.createOrg(t, good, "log-acme")
	expired := e.token("logger-bob", withClaim("exp", time.Now().Add(-time.Hour).Unix()))
	forged := good[:strings.LastIndex(good, ".")+1] + "AAAA" + good[strings.LastIndex(good, ".")+1:]
	garbage := "opaque-secret-token-value-123456"
	for _, tok := range []string{good, expired, forged, garbage} {
		e.do(t, http.MethodGet, "/api/v1/me", tok, nil)
		e.do(t, http.MethodGet, "/api/v1/organizations/"+orgID+"/members", tok, nil)
	}
	e.do(t, http.MethodGet, "/api/v1/me", "", nil, "Authorization", "Basic "+garbage)
	text := logText(e.Logs)
	for _, tok := range []string{good, expired, forged, garbage} {
		// Any of the token's three parts (the signature alone is secret enough).
		for _, part := range strings.Split(tok, ".") {
			if len(part) >= 16 && strings.Contains(text, part) {
				t.Fatalf("the log holds part of a token (%.20s…):\n%s", part, text)
			}
		}
	}
	if !strings.Contains(text, `"subject":"logger-alice"`) || !strings.Contains(text, `"organization":"`+orgID+`"`) {
		t.Errorf("the access log lacks the subject or the resolved organization:\n%s", text)
	}
}

// TestAccessLogFields checks the access log line: client IP, sanitized and
// bounded user agent, route template, status, organization resolved from a
// slug, subject, request and trace IDs.
func TestAccessLogFields(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tok := e.token("fields-carol")
	orgID := e.createOrg(t, tok, "fields-acme")
	const traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	ua := "agent\t\xff" + strings.Repeat("é", 400)
	e.do(t, http.MethodGet, "/api/v1/organizations/fields-acme/members", tok, nil,
		"User-Agent", ua, "traceparent", traceparent, "X-Request-ID", "req-fields-1")
	var line map[string]any
	for _, en := range e.Logs.FilterMessage("request").All() {
		if m := en.ContextMap(); m["request_id"] == "req-fields-1" {
			line = m
		}
	}
	if line == nil {
		t.Fatal("no access-log line for the request")
	}
	want := map[string]any{
		"route": "/api/v1/organizations/{orgId}/members", "status": int64(200), "client_ip": "127.0.0.1",
		"organization": orgID, "subject": "fields-carol", "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736",
	}
	for k, v := range want {
		if line[k] != v {
			t.Errorf("%s = %v, want %v", k, line[k], v)
		}
	}
	got, _ := line["user_agent"].(string)
	if len(got) > maxUserAgent || !strings.HasPrefix(got, "agent??é") {
		t.Errorf("user_agent = %q (%d bytes), want it sanitized and at most %d bytes", got, len(got), maxUserAgent)
	}
}

// TestTraceIDWithoutTracing: with tracing off, a problem carries the
// caller's trace ID from a valid traceparent, and none without one (or with
// an invalid one).
func TestTraceIDWithoutTracing(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tests := []struct {
		give string
		want any
	}{
		{"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "4bf92f3577b34da6a3ce929d0e0e4736"},
		{"", nil},
		{"00-00000000000000000000000000000000-00f067aa0ba902b7-01", nil},
		{"not a traceparent", nil},
	}
	for _, tt := range tests {
		var headers []string
		if tt.give != "" {
			headers = []string{"traceparent", tt.give}
		}
		res, body := e.do(t, http.MethodGet, "/api/v1/me", "", nil, headers...)
		p := wantProblem(t, res, body, http.StatusUnauthorized, "unauthenticated")
		if p["trace_id"] != tt.want {
			t.Errorf("traceparent %q: trace_id = %v, want %v", tt.give, p["trace_id"], tt.want)
		}
	}
}

// TestTracing runs the API behind the tracing middleware with an in-memory
// exporter: a request with traceparent produces a server span of the same
// trace, child of the caller's span, named by the route template; on
// PostgreSQL each statement is a child span without its text; the trace ID
// is in problem bodies and the access log.
func TestTracing(t *testing.T) {
	t.Parallel()
	exp := tracetest.NewInMemoryExporter()
	tr, err := telemetry.NewTracingWith(context.Background(), telemetry.TraceSettings{Sampler: sdktrace.ParentBased(sdktrace.AlwaysSample())},
		"test", sdktrace.NewSimpleSpanProcessor(exp))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tr.Shutdown(context.Background()) })
	opts := []envOption{withWrap(tr.Middleware)}
	onPostgres := os.Getenv(sqlstoretest.PostgresURLEnv) != ""
	if onPostgres {
		opts = append(opts, withStore(func(tb testing.TB) *sqlstore.Store {
			ctx := context.Background()
			s, err := sqlstore.OpenWith(ctx, sqlstoretest.PostgresSchemaURL(tb), sqlstore.Options{TracerProvider: tr.Provider()})
			if err != nil {
				tb.Fatal(err)
			}
			tb.Cleanup(func() { _ = s.Close() })
			if _, err := s.MigrateUp(ctx); err != nil {
				tb.Fatal(err)
			}
			return s
		}))
	}
	e := newEnv(t, opts...)
	tok := e.token("trace-dave")
	orgID := e.createOrg(t, tok, "trace-secret-slug")
	exp.Reset()

	const (
		traceID = "0af7651916cd43dd8448eb211c80319c"
		parent  = "b7ad6b7169203331"
	)
	res, body := e.do(t, http.MethodPost, "/api/v1/organizations/"+orgID+"/check", tok,
		obj{"subject": "trace-dave", "permission": "members:read"}, "traceparent", "00-"+traceID+"-"+parent+"-01")
	wantStatus(t, res, body, http.StatusOK)

	var server tracetest.SpanStub
	for _, s := range exp.GetSpans() {
		if s.SpanKind == trace.SpanKindServer {
			server = s
		}
	}
	if server.SpanContext.TraceID().String() != traceID || server.Parent.SpanID().String() != parent {
		t.Fatalf("server span %s in trace %s with parent %s; want trace %s, parent %s",
			server.Name, server.SpanContext.TraceID(), server.Parent.SpanID(), traceID, parent)
	}
	if server.Name != "POST /api/v1/organizations/{orgId}/check" {
		t.Errorf("server span name = %q, want the route template", server.Name)
	}
	dbSpans := 0
	for _, s := range exp.GetSpans() {
		if s.SpanKind != trace.SpanKindClient {
			continue
		}
		dbSpans++
		if s.Parent.SpanID() != server.SpanContext.SpanID() {
			t.Errorf("database span %s is not a child of the server span", s.Name)
		}
		for _, a := range s.Attributes {
			if v := a.Value.Emit(); strings.Contains(v, "trace-") || strings.Contains(v, orgID) || strings.Contains(strings.ToUpper(v), " FROM ") {
				t.Errorf("database span %s holds %s=%q: statement text or arguments", s.Name, a.Key, v)
			}
		}
	}
	if onPostgres && dbSpans == 0 {
		t.Error("no database span under the server span")
	}
	for _, s := range exp.GetSpans() {
		if strings.Contains(s.Name, orgID) || strings.Contains(s.Name, "trace-") {
			t.Errorf("span name %q holds request data", s.Name)
		}
	}

	// The trace ID in a problem and in the access log.
	res, body = e.do(t, http.MethodGet, "/api/v1/organizations/"+orgID+"/roles/nope", tok, nil,
		"traceparent", "00-"+traceID+"-"+parent+"-01", "X-Request-ID", "req-trace-1")
	p := wantProblem(t, res, body, http.StatusNotFound, "not_found")
	if p["trace_id"] != traceID {
		t.Errorf("problem trace_id = %v, want %s", p["trace_id"], traceID)
	}
	found := false
	for _, en := range e.Logs.FilterMessage("request").All() {
		if m := en.ContextMap(); m["request_id"] == "req-trace-1" {
			found = m["trace_id"] == traceID
		}
	}
	if !found {
		t.Error("the access-log line lacks the trace ID")
	}

	// Without traceparent, the server starts a trace of its own and reports it.
	res, body = e.do(t, http.MethodGet, "/api/v1/me", "", nil)
	p = wantProblem(t, res, body, http.StatusUnauthorized, "unauthenticated")
	if id, _ := p["trace_id"].(string); len(id) != 32 || id == traceID {
		t.Errorf("trace_id = %q, want a new trace's ID", id)
	}
	// Probes are not traced.
	exp.Reset()
	e.do(t, http.MethodGet, "/livez", "", nil)
	if n := len(exp.GetSpans()); n != 0 {
		t.Errorf("/livez made %d spans, want none", n)
	}
}

// TestCORS checks preflights and actual requests from configured and
// unknown origins.
func TestCORS(t *testing.T) {
	t.Parallel()
	cors, err := NewCORS([]string{"https://app.example.com", "http://localhost:3000"})
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, withOptions(func(o *Options) { o.CORS = cors }))
	tok := e.token("cors-erin")
	send := func(method, path, origin string, headers ...string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(method, e.Server.URL+path, nil)
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		for i := 0; i+1 < len(headers); i += 2 {
			req.Header.Set(headers[i], headers[i+1])
		}
		res, err := e.Server.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res
	}
	pre := send(http.MethodOptions, "/api/v1/organizations/x/members/y", "https://app.example.com",
		"Access-Control-Request-Method", "PATCH", "Access-Control-Request-Headers", "authorization, if-match")
	if pre.StatusCode != http.StatusNoContent || pre.Header.Get("Access-Control-Allow-Origin") != "https://app.example.com" ||
		!strings.Contains(pre.Header.Get("Access-Control-Allow-Headers"), "Authorization") ||
		!strings.Contains(pre.Header.Get("Access-Control-Allow-Headers"), "traceparent") ||
		!strings.Contains(pre.Header.Get("Access-Control-Allow-Methods"), "PATCH") || pre.Header.Get("Access-Control-Max-Age") == "" ||
		pre.Header.Get("Access-Control-Allow-Credentials") != "" {
		t.Errorf("preflight: %d %v", pre.StatusCode, pre.Header)
	}
	bad := send(http.MethodOptions, "/api/v1/me", "https://evil.example", "Access-Control-Request-Method", "GET")
	if bad.StatusCode != http.StatusMethodNotAllowed || bad.Header.Get("Access-Control-Allow-Origin") != "" || bad.Header.Get("Vary") != "Origin" {
		t.Errorf("preflight of an unknown origin: %d %v", bad.StatusCode, bad.Header)
	}
	got := send(http.MethodGet, "/api/v1/me", "http://localhost:3000", "Authorization", "Bearer "+tok)
	if got.StatusCode != http.StatusOK || got.Header.Get("Access-Control-Allow-Origin") != "http://localhost:3000" ||
		!strings.Contains(got.Header.Get("Access-Control-Expose-Headers"), "RateLimit-Policy") ||
		!strings.Contains(got.Header.Get("Access-Control-Expose-Headers"), "ETag") || got.Header.Get("Vary") != "Origin" {
		t.Errorf("actual request: %d %v", got.StatusCode, got.Header)
	}
	other := send(http.MethodGet, "/api/v1/me", "https://evil.example", "Authorization", "Bearer "+tok)
	if other.Header.Get("Access-Control-Allow-Origin") != "" || other.Header.Get("Access-Control-Expose-Headers") != "" {
		t.Errorf("an unknown origin got CORS fields: %v", other.Header)
	}
}

func TestNewCORS(t *testing.T) {
	t.Parallel()
	tests := []struct {
		give    []string
		wantErr bool
	}{
		{nil, false},
		{[]string{"https://app.example.com"}, false},
		{[]string{"http://localhost:3000", "https://a.example"}, false},
		{[]string{"*"}, false},
		{[]string{"*", "https://a.example"}, true},
		{[]string{"https://app.example.com/"}, true},
		{[]string{"https://app.example.com/path"}, true},
		{[]string{"app.example.com"}, true},
		{[]string{"https://App.example.com"}, true},
		{[]string{"ftp://a.example"}, true},
	}
	for _, tt := range tests {
		if _, err := NewCORS(tt.give); (err != nil) != tt.wantErr {
			t.Errorf("NewCORS(%q) error = %v, want error %v", tt.give, err, tt.wantErr)
		}
	}
}

// BenchmarkTelemetry compares the handler with and without metrics on the
// hot check route and on /livez (no database): the cost of the
// instrumentation per request.
func BenchmarkTelemetry(b *testing.B) {
	for _, variant := range []string{"off", "metrics", "metrics+tracing"} {
		var opts []envOption
		if variant != "off" {
			opts = append(opts, withMetrics(telemetry.NewMetrics(telemetry.Options{Issuers: []string{testIssuer}})))
		}
		if variant == "metrics+tracing" {
			// As in the perf runs: parentbased_traceidratio 0.01, spans
			// batched to an exporter that drops them.
			tr, err := telemetry.NewTracingWith(context.Background(),
				telemetry.TraceSettings{Sampler: sdktrace.ParentBased(sdktrace.TraceIDRatioBased(0.01))}, "bench",
				sdktrace.NewBatchSpanProcessor(tracetest.NewNoopExporter()))
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = tr.Shutdown(context.Background()) })
			opts = append(opts, withWrap(tr.Middleware))
		}
		e := newEnv(b, opts...)
		tok := e.token("bench-owner")
		orgID := e.createOrg(b, tok, "bench-"+strings.ReplaceAll(variant, "+", "-"))
		body := `{"subject":"bench-owner","permission":"members:read"}`
		for _, route := range []struct{ name, method, path, body string }{
			{"livez", http.MethodGet, "/livez", ""},
			{"check", http.MethodPost, "/api/v1/organizations/" + orgID + "/check", body},
		} {
			b.Run(route.name+"/"+variant, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					req := httptest.NewRequest(route.method, route.path, strings.NewReader(route.body))
					req.Header.Set("Authorization", "Bearer "+tok)
					req.Header.Set("Content-Type", "application/json")
					w := httptest.NewRecorder()
					e.Handler.ServeHTTP(w, req)
					if w.Code != http.StatusOK {
						b.Fatalf("%d %s", w.Code, w.Body)
					}
				}
			})
		}
	}
}
