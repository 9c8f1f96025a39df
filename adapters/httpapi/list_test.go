package httpapi

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
)

func TestListPagination(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	alice := e.token("alice")
	for i := range 5 {
		e.createOrg(t, alice, fmt.Sprintf("org-%c", 'a'+i))
	}

	tests := []struct {
		name      string
		query     string
		wantSlugs []string
		wantPage  obj
		wantLinks []string
	}{
		{"defaults", "", []string{"org-a", "org-b", "org-c", "org-d", "org-e"},
			obj{"page": 1.0, "size": 20.0, "total_items": 5.0, "total_pages": 1.0},
			[]string{`</api/v1/organizations?page=1&size=20>; rel="first"`, `</api/v1/organizations?page=1&size=20>; rel="last"`}},
		{"second page of two", "?size=2&page=2&sort=slug", []string{"org-c", "org-d"},
			obj{"page": 2.0, "size": 2.0, "total_items": 5.0, "total_pages": 3.0},
			[]string{
				`</api/v1/organizations?page=1&size=2&sort=slug>; rel="first"`,
				`</api/v1/organizations?page=1&size=2&sort=slug>; rel="prev"`,
				`</api/v1/organizations?page=3&size=2&sort=slug>; rel="next"`,
				`</api/v1/organizations?page=3&size=2&sort=slug>; rel="last"`,
			}},
		{"descending", "?sort=-slug&size=2", []string{"org-e", "org-d"},
			obj{"page": 1.0, "size": 2.0, "total_items": 5.0, "total_pages": 3.0}, nil},
		{"filter keeps links", "?q=org-b", []string{"org-b"},
			obj{"page": 1.0, "size": 20.0, "total_items": 1.0, "total_pages": 1.0},
			[]string{`</api/v1/organizations?page=1&q=org-b&size=20>; rel="first"`, `</api/v1/organizations?page=1&q=org-b&size=20>; rel="last"`}},
		{"page past the end", "?page=9&size=2", []string{},
			obj{"page": 9.0, "size": 2.0, "total_items": 5.0, "total_pages": 3.0},
			[]string{
				`</api/v1/organizations?page=1&size=2>; rel="first"`,
				`</api/v1/organizations?page=3&size=2>; rel="prev"`,
				`</api/v1/organizations?page=3&size=2>; rel="last"`,
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, body := e.do(t, http.MethodGet, "/api/v1/organizations"+tt.query, alice, nil)
			wantStatus(t, res, body, http.StatusOK)
			var slugs []string
			for _, it := range listData(t, body) {
				slugs = append(slugs, it.(obj)["slug"].(string))
			}
			if strings.Join(slugs, ",") != strings.Join(tt.wantSlugs, ",") {
				t.Errorf("slugs %v, want %v", slugs, tt.wantSlugs)
			}
			pg := decodeJSONBody[obj](t, body)["pagination"].(obj)
			for k, v := range tt.wantPage {
				if pg[k] != v {
					t.Errorf("pagination.%s = %v, want %v", k, pg[k], v)
				}
			}
			if tt.wantLinks != nil {
				if got, want := res.Header.Get("Link"), strings.Join(tt.wantLinks, ", "); got != want {
					t.Errorf("Link\n got %s\nwant %s", got, want)
				}
			}
		})
	}
}

func TestListParameterErrors(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	alice := e.token("alice")
	id := e.createOrg(t, alice, "acme")

	tests := []struct {
		name string
		path string
		want []string // parameters named
	}{
		{"page zero", "/api/v1/organizations?page=0", []string{"page"}},
		{"page not a number", "/api/v1/organizations?page=abc", []string{"page"}},
		{"negative page", "/api/v1/organizations?page=-1", []string{"page"}},
		{"size zero", "/api/v1/organizations?size=0", []string{"size"}},
		{"size too large", "/api/v1/organizations?size=101", []string{"size"}},
		{"size float", "/api/v1/organizations?size=1.5", []string{"size"}},
		{"unknown sort field", "/api/v1/organizations?sort=password", []string{"sort"}},
		{"empty sort item", "/api/v1/organizations?sort=name,", []string{"sort"}},
		{"sort longer than documented", "/api/v1/organizations?sort=name" + strings.Repeat(",name", 40), []string{"sort"}},
		{"semicolon cuts the query", "/api/v1/organizations?size=5;page=2", []string{"size"}},
		{"semicolon alone", "/api/v1/organizations?;", []string{";"}},
		{"empty parameter name", "/api/v1/organizations?=x", []string{""}},
		{"bad percent-escape", "/api/v1/organizations?q=%zz", []string{"q"}},
		{"NUL in q", "/api/v1/organizations?q=a%00b", []string{"q"}},
		{"invalid UTF-8 in q", "/api/v1/organizations?q=%ff%fe", []string{"q"}},
		{"control in role filter", "/api/v1/organizations/" + id + "/members?role=ow%01ner", []string{"role"}},
		{"NUL in email filter", "/api/v1/organizations/" + id + "/users?email=a%00@x", []string{"email"}},
		{"bad status", "/api/v1/organizations?status=deleted", []string{"status"}},
		{"unknown parameter", "/api/v1/organizations?color=red", []string{"color"}},
		{"tenant override attempt", "/api/v1/organizations/" + id + "/members?org_id=" + id, []string{"org_id"}},
		{"repeated parameter", "/api/v1/organizations?page=1&page=2", []string{"page"}},
		{"token in query string", "/api/v1/organizations?access_token=x", []string{"access_token"}},
		{"several at once", "/api/v1/organizations?size=0&page=x&zzz=1", []string{"page", "size", "zzz"}},
		{"member sort", "/api/v1/organizations/" + id + "/members?sort=slug", []string{"sort"}},
		{"permission type", "/api/v1/organizations/" + id + "/permissions?type=other", []string{"type"}},
		{"role filter on users", "/api/v1/organizations/" + id + "/users?role=owner", []string{"role"}},
		{"semicolon on readiness", "/readyz?verbose;x", []string{"verbose;x"}},
		{"bad escape on readiness", "/readyz?verbose=%zz", []string{"verbose"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, body := e.do(t, http.MethodGet, tt.path, alice, nil)
			p := wantProblem(t, res, body, http.StatusBadRequest, "invalid_parameter")
			if got := problemFields(p); strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Errorf("parameters %v, want %v", got, tt.want)
			}
		})
	}
}
