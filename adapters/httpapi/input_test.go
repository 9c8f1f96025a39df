package httpapi

import (
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// TestEmptyStringIsNotAbsent: where the document says minLength 1, a
// present "" is refused, never read as "absent" (an empty issuer used to
// fall back to the caller's).
func TestEmptyStringIsNotAbsent(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	o := newSecFixtures(e, "empty").org(t, "empty")
	tok := e.token(o.OwnerSub)
	tests := []struct {
		name, path string
		body       obj
		want       string // pointer
	}{
		{"check issuer", "/check", obj{"subject": o.TargetSub, "issuer": "", "permission": o.Perm}, "/issuer"},
		{"check subject beside user_id", "/check", obj{"user_id": o.TargetID, "subject": "", "permission": o.Perm}, "/subject"},
		{"check user_id beside subject", "/check", obj{"user_id": "", "subject": o.TargetSub, "permission": o.Perm}, "/user_id"},
		{"batch check issuer", "/check", obj{"checks": []obj{{"subject": o.TargetSub, "issuer": "", "permission": o.Perm}}}, "/checks/0/issuer"},
		{"member issuer", "/members", obj{"subject": "fresh", "issuer": "", "roles": []string{"member"}}, "/issuer"},
		{"member user_id beside subject", "/members", obj{"user_id": "", "subject": "fresh", "roles": []string{"member"}}, "/user_id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, body := e.do(t, http.MethodPost, o.path(tt.path), tok, tt.body)
			p := wantProblem(t, res, body, http.StatusBadRequest, "validation_failed")
			if got := problemFields(p); !slices.Contains(got, tt.want) {
				t.Errorf("errors %q, want one at %s", got, tt.want)
			}
		})
	}
	// Nothing was provisioned by the refused adds.
	res, body := e.do(t, http.MethodGet, o.path("/users?size=100"), tok, nil)
	wantStatus(t, res, body, http.StatusOK)
	if strings.Contains(string(body), `"fresh"`) {
		t.Errorf("a refused add left a user behind: %s", body)
	}
}

// TestRepeatedSortField: a field named again in sort is accepted and its
// first mention decides, as the document's pattern allows.
func TestRepeatedSortField(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tok := e.token("alice")
	for _, slug := range []string{"bravo", "alpha", "charlie"} {
		e.createOrg(t, tok, slug)
	}
	slugs := func(query string) []any {
		t.Helper()
		res, body := e.do(t, http.MethodGet, "/api/v1/organizations?"+query, tok, nil)
		wantStatus(t, res, body, http.StatusOK)
		var out []any
		for _, it := range listData(t, body) {
			out = append(out, it.(obj)["slug"])
		}
		return out
	}
	for _, tt := range []struct{ give, same string }{
		{"sort=slug,-slug", "sort=slug"},
		{"sort=-slug,slug,slug", "sort=-slug"},
		{"sort=-name,created_at,-name", "sort=-name,created_at"},
	} {
		if got, want := slugs(tt.give), slugs(tt.same); !reflect.DeepEqual(got, want) {
			t.Errorf("%s: %v, want %v as for %s", tt.give, got, want, tt.same)
		}
	}
}

// TestIfMatchLength: the documented maxLength of If-Match (64) is enforced:
// a longer value is a 400 naming the header; up to it, a value that is no
// version of the organization fails the precondition.
func TestIfMatchLength(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tok := e.token("alice")
	id := e.createOrg(t, tok, "acme")
	long := `"` + strings.Repeat("1", 63) + `"`    // 65 characters
	atLimit := `"` + strings.Repeat("9", 62) + `"` // 64 characters
	for _, tt := range []struct {
		method string
		body   any
	}{{http.MethodPatch, obj{"name": "Renamed"}}, {http.MethodDelete, nil}} {
		res, body := e.do(t, tt.method, "/api/v1/organizations/"+id, tok, tt.body, "If-Match", long)
		p := wantProblem(t, res, body, http.StatusBadRequest, "invalid_parameter")
		if got := problemFields(p); !slices.Equal(got, []string{"If-Match"}) {
			t.Errorf("%s: errors %q, want [If-Match]", tt.method, got)
		}
		res, body = e.do(t, tt.method, "/api/v1/organizations/"+id, tok, tt.body, "If-Match", atLimit)
		wantProblem(t, res, body, http.StatusPreconditionFailed, "version_mismatch")
	}
}

// TestRoutesWithoutQueryParametersIgnoreTheQuery records a decision: a route
// that takes no query parameter never reads the query string, so a ';' or a
// bad escape there cuts nothing and is not refused (proxies and caches may
// append their own parameters). Routes that take parameters refuse both
// (TestListParameterErrors).
func TestRoutesWithoutQueryParametersIgnoreTheQuery(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tok := e.token("alice")
	id := e.createOrg(t, tok, "acme")
	for _, path := range []string{"/api/v1/me", "/api/v1/organizations/" + id, "/livez", "/api/v1/openapi.json"} {
		for _, q := range []string{"?a;b", "?%zz", "?=x", "?cache=1"} {
			res, body := e.do(t, http.MethodGet, path+q, tok, nil)
			wantStatus(t, res, body, http.StatusOK)
		}
	}
}
