package httpapi

import (
	"net/http"
	"strings"
	"testing"
)

func TestDecoderRejections(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	alice := e.token("alice")
	id := e.createOrg(t, alice, "acme")
	orgPath := "/api/v1/organizations/" + id

	tests := []struct {
		name       string
		method     string
		path       string
		body       any
		headers    []string
		wantStatus int
		wantCode   string
		wantField  string // pointer named in errors[], if any
	}{
		{"unknown field", "POST", "/api/v1/organizations", `{"slug":"new-org","name":"N","owner":"me"}`, nil, 400, "malformed_json", "/owner"},
		{"case-mismatched key", "POST", "/api/v1/organizations", `{"Slug":"new-org","name":"N"}`, nil, 400, "malformed_json", "/Slug"},
		{"upper-case key", "POST", "/api/v1/organizations", `{"slug":"new-org","NAME":"N"}`, nil, 400, "malformed_json", "/NAME"},
		{"duplicate key", "POST", "/api/v1/organizations", `{"slug":"new-org","name":"N","slug":"other"}`, nil, 400, "malformed_json", "/slug"},
		{"nested duplicate key", "POST", "/api/v1/organizations", `{"slug":"new-org","name":"N","metadata":{"a":"1","a":"2"}}`, nil, 400, "malformed_json", "/metadata/a"},
		{"trailing data", "POST", "/api/v1/organizations", `{"slug":"new-org","name":"N"} {}`, nil, 400, "malformed_json", ""},
		{"trailing garbage", "POST", "/api/v1/organizations", `{"slug":"new-org","name":"N"}x`, nil, 400, "malformed_json", ""},
		{"syntax error", "POST", "/api/v1/organizations", `{"slug":"new-org",`, nil, 400, "malformed_json", ""},
		{"trailing comma", "POST", "/api/v1/organizations", `{"slug":"new-org","name":"N",}`, nil, 400, "malformed_json", ""},
		{"empty body", "POST", "/api/v1/organizations", "", nil, 400, "malformed_json", ""},
		{"array instead of object", "POST", "/api/v1/organizations", `[]`, nil, 400, "malformed_json", ""},
		{"wrong type", "POST", "/api/v1/organizations", `{"slug":42,"name":"N"}`, nil, 400, "malformed_json", "/slug"},
		{"wrong nested type", "POST", "/api/v1/organizations", `{"slug":"new-org","name":"N","metadata":{"a":1}}`, nil, 400, "malformed_json", "/metadata/a"},
		{"null field", "POST", "/api/v1/organizations", `{"slug":null,"name":"N"}`, nil, 400, "malformed_json", "/slug"},
		{"null metadata value on create", "POST", "/api/v1/organizations", `{"slug":"new-org","name":"N","metadata":{"a":null}}`, nil, 400, "malformed_json", "/metadata/a"},
		{"id field", "PATCH", orgPath, obj{"id": "x"}, nil, 400, "malformed_json", "/id"},
		{"created_at field", "PATCH", orgPath, obj{"created_at": "2020-01-01T00:00:00Z"}, nil, 400, "malformed_json", "/created_at"},
		{"no content type", "POST", "/api/v1/organizations", `{"slug":"new-org","name":"N"}`, []string{"Content-Type", ""}, 415, "unsupported_media_type", ""},
		{"text/plain", "POST", "/api/v1/organizations", `{"slug":"new-org","name":"N"}`, []string{"Content-Type", "text/plain"}, 415, "unsupported_media_type", ""},
		{"form", "POST", "/api/v1/organizations", `slug=x`, []string{"Content-Type", "application/x-www-form-urlencoded"}, 415, "unsupported_media_type", ""},
		{"too large", "POST", "/api/v1/organizations", `{"slug":"new-org","name":"` + strings.Repeat("n", MaxBodyBytes) + `"}`, nil, 413, "payload_too_large", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, body := e.do(t, tt.method, tt.path, alice, tt.body, tt.headers...)
			p := wantProblem(t, res, body, tt.wantStatus, tt.wantCode)
			if tt.wantField != "" {
				if got := problemFields(p); len(got) != 1 || got[0] != tt.wantField {
					t.Errorf("errors name %v, want [%s]", got, tt.wantField)
				}
			}
		})
	}

	// Nothing was created or changed.
	res, body := e.do(t, http.MethodGet, "/api/v1/organizations", alice, nil)
	wantStatus(t, res, body, http.StatusOK)
	if n := len(listData(t, body)); n != 1 {
		t.Errorf("%d organizations after rejected requests, want 1", n)
	}
}

func TestDecoderAcceptsJSONMediaTypes(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	alice := e.token("alice")
	for i, ct := range []string{"application/json", "application/json; charset=utf-8", "Application/JSON"} {
		slug := "org-" + string(rune('a'+i))
		res, body := e.do(t, http.MethodPost, "/api/v1/organizations", alice, obj{"slug": slug, "name": "N"}, "Content-Type", ct)
		wantStatus(t, res, body, http.StatusCreated)
	}
	res, body := e.do(t, http.MethodPatch, "/api/v1/organizations/org-a", alice, obj{"name": "M"}, "Content-Type", "application/merge-patch+json")
	wantStatus(t, res, body, http.StatusOK)
}

func TestJSONMediaType(t *testing.T) {
	tests := []struct {
		give string
		want bool
	}{
		{"application/json", true},
		{"application/json; charset=utf-8", true},
		{"application/merge-patch+json", true},
		{"application/problem+json", true},
		{"application/vnd.orgstack+json; version=1", true},
		{"", false},
		{"text/plain", false},
		{"application/jsonx", false},
		{"+json", false},
		{"application/json; charset", false},
		{"multipart/form-data; boundary=x", false},
	}
	for _, tt := range tests {
		if got := jsonMediaType(tt.give); got != tt.want {
			t.Errorf("jsonMediaType(%q) = %v, want %v", tt.give, got, tt.want)
		}
	}
}

func TestUnmarshalStrict(t *testing.T) {
	type inner struct {
		A string `json:"a"`
	}
	type target struct {
		Name  string             `json:"name"`
		List  []inner            `json:"list"`
		Patch map[string]*string `json:"patch"`
		Any   any                `json:"any"`
	}
	tests := []struct {
		give    string
		wantErr string // "" for success, else the pointer named (or "-" for none)
	}{
		{`{"name":"x","list":[{"a":"1"}],"patch":{"k":null,"j":"v"}}`, ""},
		{`{"list":[{"a":"1","A":"2"}]}`, "/list/0/A"},
		{`{"list":[{"b":"1"}]}`, "/list/0/b"},
		{`{"any":{"x":1,"x":2}}`, "/any/x"},
		{`{"any":[{"deep":{"k":1,"k":1}}]}`, "/any/0/deep/k"},
		{`{"patch":{"a/b":1}}`, "/patch/a~1b"},
		{`{"list":null}`, "/list"},
		{`{"name":"x"}  `, ""},
		{`{"name":"x"} null`, "-"},
		{strings.Repeat(`{"any":`, 40) + `1` + strings.Repeat(`}`, 40), "-"},
	}
	for _, tt := range tests {
		t.Run(tt.give, func(t *testing.T) {
			var dst target
			err := unmarshalStrict([]byte(tt.give), &dst)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("got %v, want success", err)
				}
				return
			}
			ae, ok := err.(*apiError)
			if !ok || ae.code != "malformed_json" {
				t.Fatalf("got %v, want a malformed_json error", err)
			}
			if tt.wantErr != "-" && (len(ae.fields) != 1 || ae.fields[0].Pointer != tt.wantErr) {
				t.Errorf("fields %+v, want pointer %s", ae.fields, tt.wantErr)
			}
		})
	}
}
