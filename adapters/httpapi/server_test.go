package httpapi

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/orgstack/orgstack/domain"
	"github.com/orgstack/orgstack/ports"
)

func TestUnknownRoutes(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tok := e.token("alice")
	for _, path := range []string{
		"/api/v1/nope", "/api/v2/organizations", "/api/v1/organizations/", "/api/v1//organizations",
		"/api/v1/organizations/x/y/z", "/", "/api/v1/../v1/me",
	} {
		res, body := e.do(t, http.MethodGet, path, tok, nil)
		wantProblem(t, res, body, http.StatusNotFound, "not_found")
	}
	// Unknown routes are 404 without a token too.
	res, body := e.do(t, http.MethodGet, "/api/v1/nope", "", nil)
	wantProblem(t, res, body, http.StatusNotFound, "not_found")
}

func TestMethodNotAllowed(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tok := e.token("alice")
	tests := []struct {
		method, path, allow string
	}{
		{"DELETE", "/api/v1/organizations", "GET, HEAD, POST"},
		{"PUT", "/api/v1/organizations/acme", "GET, HEAD, PATCH, DELETE"},
		{"POST", "/api/v1/me", "GET, HEAD, PATCH"},
		{"GET", "/api/v1/check", "POST"},
		{"HEAD", "/api/v1/check", "POST"},
		{"GET", "/api/v1/organizations/acme/check", "POST"},
		{"PUT", "/api/v1/organizations/acme/members/x", "GET, HEAD, PATCH, DELETE"},
		{"DELETE", "/api/v1/roles", "GET, HEAD, POST"},
		{"POST", "/api/v1/users/x", "GET, HEAD"},
		{"DELETE", "/api/v1/admin/users", "GET, HEAD"},
		{"POST", "/livez", "GET, HEAD"},
		{"POST", "/api/v1/openapi.json", "GET, HEAD"},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			res, body := e.do(t, tt.method, tt.path, tok, nil)
			if tt.method == http.MethodHead {
				wantStatus(t, res, body, http.StatusMethodNotAllowed)
			} else {
				wantProblem(t, res, body, http.StatusMethodNotAllowed, "method_not_allowed")
			}
			if got := res.Header.Get("Allow"); got != tt.allow {
				t.Errorf("Allow %q, want %q", got, tt.allow)
			}
		})
	}
}

func TestRequestID(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	generated := regexp.MustCompile(`^[0-9a-f]{32}$`)
	tests := []struct {
		name, give string
		echo       bool
	}{
		{"well-formed", "req-42.A_b", true},
		{"128 characters", strings.Repeat("a", 128), true},
		{"too long", strings.Repeat("a", 129), false},
		{"bad characters", "id with spaces", false},
		{"header injection attempt", "abc\"def", false},
		{"missing", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var headers []string
			if tt.give != "" {
				headers = []string{"X-Request-ID", tt.give}
			}
			for _, path := range []string{"/livez", "/api/v1/me", "/api/v1/nope"} {
				res, _ := e.do(t, http.MethodGet, path, "", nil, headers...)
				got := res.Header.Get("X-Request-ID")
				if tt.echo && got != tt.give {
					t.Errorf("%s: X-Request-ID %q, want the incoming %q", path, got, tt.give)
				}
				if !tt.echo && !generated.MatchString(got) {
					t.Errorf("%s: X-Request-ID %q, want a new one", path, got)
				}
			}
		})
	}
	// Two incoming IDs: neither is echoed.
	res, _ := e.do(t, http.MethodGet, "/livez", "", nil, "X-Request-ID", "a", "X-Request-ID", "b")
	if got := res.Header.Get("X-Request-ID"); !generated.MatchString(got) {
		t.Errorf("X-Request-ID %q with two incoming IDs, want a new one", got)
	}
}

func TestHealth(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	res, body := e.do(t, http.MethodGet, "/livez", "", nil)
	wantStatus(t, res, body, http.StatusOK)

	res, body = e.do(t, http.MethodGet, "/readyz", "", nil)
	wantStatus(t, res, body, http.StatusOK)
	if _, ok := decodeJSONBody[obj](t, body)["checks"]; ok {
		t.Errorf("checks listed without ?verbose: %s", body)
	}
	res, body = e.do(t, http.MethodGet, "/readyz?verbose", "", nil)
	wantStatus(t, res, body, http.StatusOK)
	if checks, _ := decodeJSONBody[obj](t, body)["checks"].([]any); len(checks) != 2 {
		t.Errorf("want the database and jwks checks listed: %s", body)
	}

	failing := newEnv(t, withReadiness("cache", func(context.Context) error { return errors.New("secret-host:6379 refused") }))
	res, body = failing.do(t, http.MethodGet, "/readyz?verbose", "", nil)
	p := wantProblem(t, res, body, http.StatusServiceUnavailable, "not_ready")
	if strings.Contains(string(body), "secret-host") {
		t.Errorf("readiness failure cause shown: %s", body)
	}
	var failed []string
	for _, c := range p["checks"].([]any) {
		if c.(obj)["status"] != "ok" {
			failed = append(failed, c.(obj)["name"].(string))
		}
	}
	if strings.Join(failed, ",") != "cache" {
		t.Errorf("failed checks %v, want [cache]", failed)
	}
	// Liveness does not depend on the failing check.
	res, body = failing.do(t, http.MethodGet, "/livez", "", nil)
	wantStatus(t, res, body, http.StatusOK)
}

func TestOpenAPIWithoutAuthentication(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	res, body := e.do(t, http.MethodGet, "/api/v1/openapi.json", "", nil)
	wantStatus(t, res, body, http.StatusOK)
	if !strings.Contains(string(body), `"openapi"`) {
		t.Errorf("not an OpenAPI document: %.100s", body)
	}
}

// brokenOrganizations fails every call in a way only the server can be
// blamed for: with an internal error, or a panic.
type brokenOrganizations struct {
	ports.Organizations
	panics bool
}

func (b brokenOrganizations) List(context.Context, ports.Principal, ports.OrganizationQuery) (ports.Page[*domain.Organization], error) {
	if b.panics {
		panic("boom: secret state")
	}
	return ports.Page[*domain.Organization]{}, errors.New("dial tcp 10.0.0.7:5432: secret connection failure")
}

func TestInternalErrorsHideTheCause(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, panics := range []bool{false, true} {
		core, logs := observer.New(zapcore.DebugLevel)
		h := NewHandler(Services{Organizations: brokenOrganizations{panics: panics}}, Options{Verifier: e.Verifier, Logger: zap.New(core)})
		req := httptest.NewRequest(http.MethodGet, "/api/v1/organizations", nil)
		req.Header.Set("Authorization", "Bearer "+e.token("alice"))
		req.Header.Set("X-Request-ID", "trace-1")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		res := rec.Result()
		body := rec.Body.Bytes()
		res.Request = req
		p := wantProblem(t, res, body, http.StatusInternalServerError, "internal")
		if p["detail"] != "internal error" || strings.Contains(string(body), "secret") {
			t.Errorf("panics=%v: cause shown: %s", panics, body)
		}
		var errorLogs int
		for _, entry := range logs.All() {
			if entry.Level == zapcore.ErrorLevel {
				errorLogs++
				if entry.ContextMap()["request_id"] != "trace-1" {
					t.Errorf("error logged without the request id: %v", entry.ContextMap())
				}
			}
			for k, v := range entry.ContextMap() {
				if s, ok := v.(string); ok && strings.Contains(s, req.Header.Get("Authorization")[7:]) {
					t.Errorf("token logged in field %s", k)
				}
			}
		}
		if errorLogs != 1 {
			t.Errorf("panics=%v: %d error log entries, want exactly 1", panics, errorLogs)
		}
	}
}

func TestAccessLog(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tok := e.token("alice")
	id := e.createOrg(t, tok, "acme")
	e.do(t, http.MethodGet, "/api/v1/organizations/"+id, tok, nil, "X-Request-ID", "log-test-1")
	var found bool
	for _, entry := range e.Logs.FilterMessage("request").All() {
		f := entry.ContextMap()
		for _, v := range f {
			if s, ok := v.(string); ok && strings.Contains(s, tok) {
				t.Fatalf("access log contains the token: %v", f)
			}
		}
		if f["request_id"] != "log-test-1" {
			continue
		}
		found = true
		if f["method"] != "GET" || f["route"] != "/api/v1/organizations/{orgId}" || f["status"] != int64(200) {
			t.Errorf("access log fields %v", f)
		}
		if f["bytes"].(int64) <= 0 {
			t.Errorf("bytes %v", f["bytes"])
		}
		if _, ok := f["duration"]; !ok {
			t.Errorf("no duration: %v", f)
		}
	}
	if !found {
		t.Error("no access log line for the request")
	}
}
