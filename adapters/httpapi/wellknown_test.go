package httpapi

import (
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
)

func TestProtectedResourceMetadata(t *testing.T) {
	const public = "https://api.orgstack.test"
	e := newEnv(t, withPublicURL(public))
	res, body := e.do(t, http.MethodGet, "/.well-known/oauth-protected-resource", "", nil)
	var got struct {
		Resource               string   `json:"resource"`
		AuthorizationServers   []string `json:"authorization_servers"`
		BearerMethodsSupported []string `json:"bearer_methods_supported"`
	}
	if err := json.Unmarshal(body, &got); err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("got %d %s, want 200 JSON", res.StatusCode, body)
	}
	if got.Resource != public || !slices.Equal(got.AuthorizationServers, []string{testIssuer}) ||
		!slices.Equal(got.BearerMethodsSupported, []string{"header"}) {
		t.Errorf("got %+v, want resource %s, the test issuer, header", got, public)
	}

	// A hostile Host header changes neither URL.
	for _, path := range []string{"/.well-known/oauth-protected-resource", "/api/v1/me"} {
		req, _ := http.NewRequest(http.MethodGet, e.Server.URL+path, nil)
		req.Host = "evil.example"
		req.Header.Set("X-Forwarded-Host", "evil.example")
		req.Header.Set("X-Forwarded-Proto", "http")
		r, err := e.Server.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(r.Body)
		r.Body.Close()
		all := string(b) + r.Header.Get("WWW-Authenticate")
		if strings.Contains(all, "evil") {
			t.Errorf("%s: got %q, want nothing from the Host header", path, all)
		}
	}

	// 401s point to the metadata (RFC 9728 section 5.1), both kinds.
	want := `resource_metadata="` + public + `/.well-known/oauth-protected-resource"`
	res, _ = e.do(t, http.MethodGet, "/api/v1/me", "", nil, "Host", "evil.example")
	if h := res.Header.Get("WWW-Authenticate"); res.StatusCode != http.StatusUnauthorized || !strings.HasSuffix(h, ", "+want) {
		t.Errorf("got %d %q, want 401 with %s", res.StatusCode, h, want)
	}
	res, _ = e.do(t, http.MethodGet, "/api/v1/me", "not-a-jwt", nil)
	if h := res.Header.Get("WWW-Authenticate"); res.StatusCode != http.StatusUnauthorized ||
		!strings.Contains(h, `error="invalid_token"`) || !strings.HasSuffix(h, ", "+want) {
		t.Errorf("got %d %q, want 401 invalid_token with %s", res.StatusCode, h, want)
	}
}

func TestProtectedResourceMetadataWithoutPublicURL(t *testing.T) {
	e := newEnv(t)
	res, body := e.do(t, http.MethodGet, "/.well-known/oauth-protected-resource", "", nil)
	if res.StatusCode != http.StatusOK || strings.Contains(string(body), `"resource"`) {
		t.Errorf("got %d %s, want 200 without resource", res.StatusCode, body)
	}
	res, _ = e.do(t, http.MethodGet, "/api/v1/me", "", nil)
	if h := res.Header.Get("WWW-Authenticate"); h != `Bearer realm="orgstack"` {
		t.Errorf("got %q, want no resource_metadata without ORGSTACK_PUBLIC_URL", h)
	}
}
