package httpapi

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/orgstack/orgstack/ports"
)

// FuzzUnmarshalStrict feeds arbitrary bodies to the shared decoder. It must
// never panic, and whatever it accepts must be an object that the standard
// library also decodes with unknown fields disallowed, with exactly the
// field names the request type declares.
func FuzzUnmarshalStrict(f *testing.F) {
	for _, seed := range []string{
		`{"slug":"acme","name":"Acme"}`, `{"slug":"acme","name":"Acme","metadata":{"a":"b"}}`,
		`{"slug":"a","slug":"b"}`, `{"Slug":"acme"}`, `{"slug":"acme"} {}`, `[]`, `null`, `{"metadata":{"a":null}}`,
		`{"name":"\u0000"}`, `{"metadata":{"a":{"b":1}}}`, strings.Repeat("[", 200), `{"name":"x","id":"y"}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var create createOrganizationRequest
		if err := unmarshalStrict(body, &create); err == nil {
			dec := json.NewDecoder(bytes.NewReader(body))
			dec.DisallowUnknownFields()
			var again createOrganizationRequest
			if err := dec.Decode(&again); err != nil {
				t.Fatalf("accepted %q, but encoding/json refuses it: %v", body, err)
			}
			var keys map[string]json.RawMessage
			if json.Unmarshal(body, &keys) != nil {
				t.Fatalf("accepted a body that is not an object: %q", body)
			}
			for k := range keys {
				if k != "slug" && k != "name" && k != "metadata" {
					t.Fatalf("accepted key %q in %q", k, body)
				}
			}
		}
		var patch updateOrganizationRequest
		_ = unmarshalStrict(body, &patch)
	})
}

// FuzzParseList feeds arbitrary query strings to the shared list parser: it
// never panics, and what it accepts is always within bounds.
func FuzzParseList(f *testing.F) {
	for _, seed := range []string{
		"", "page=2&size=50", "size=0", "size=101", "page=-1", "sort=name,-created_at", "sort=-", "sort=name,name",
		"q=%25_", "status=active&status=suspended", "unknown=1", "page=99999999999999999999", "sort=,", "q=" + strings.Repeat("x", 300),
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, rawQuery string) {
		if _, err := url.ParseQuery(rawQuery); err != nil {
			return
		}
		r := &http.Request{Method: http.MethodGet, URL: &url.URL{Path: "/api/v1/organizations", RawQuery: rawQuery}}
		q, err := parseList(r, ports.OrganizationList)
		if err != nil {
			return
		}
		if q.Page < 1 || q.Size < 1 || q.Size > ports.MaxPageSize {
			t.Fatalf("accepted %q as page %d size %d", rawQuery, q.Page, q.Size)
		}
		for _, s := range q.Sort {
			if !strings.Contains(strings.Join(ports.OrganizationList.Sorts, ","), s.Field) {
				t.Fatalf("accepted sort field %q from %q", s.Field, rawQuery)
			}
		}
	})
}

// FuzzBearerToken feeds arbitrary Authorization values to the header
// parser: a token it returns is never empty and never holds whitespace or a
// comma.
func FuzzBearerToken(f *testing.F) {
	for _, seed := range []string{"Bearer a.b.c", "bearer a.b.c", "Basic abc", "Bearer", "Bearer  a b", "Bearer a,b", ""} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, v string) {
		tok, ok := bearerToken([]string{v})
		if ok && (tok == "" || strings.ContainsAny(tok, " \t,")) {
			t.Fatalf("bearerToken(%q) = %q", v, tok)
		}
	})
}
