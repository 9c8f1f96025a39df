package httpapi

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestAuthentication(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	valid := e.token("alice")
	otherKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	b64 := base64.RawURLEncoding.EncodeToString
	noneToken := b64([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + b64([]byte(`{"iss":"`+testIssuer+`","aud":"`+testAudience+`","sub":"alice","exp":9999999999}`)) + "."

	const (
		ok      = 0
		missing = 1
		invalid = 2
	)
	tests := []struct {
		name    string
		path    string
		headers []string
		want    int
	}{
		{"valid", "/api/v1/me", []string{"Authorization", "Bearer " + valid}, ok},
		{"lower-case scheme", "/api/v1/me", []string{"Authorization", "bearer " + valid}, ok},
		{"upper-case scheme", "/api/v1/me", []string{"Authorization", "BEARER " + valid}, ok},
		{"no header", "/api/v1/me", nil, missing},
		{"token in query string only", "/api/v1/me?access_token=" + valid, nil, missing},
		{"basic scheme", "/api/v1/me", []string{"Authorization", "Basic YWxpY2U6cGFzcw=="}, invalid},
		{"scheme without token", "/api/v1/me", []string{"Authorization", "Bearer"}, invalid},
		{"scheme with blank token", "/api/v1/me", []string{"Authorization", "Bearer    "}, invalid},
		{"empty header", "/api/v1/me", []string{"Authorization", ""}, invalid},
		{"two headers", "/api/v1/me", []string{"Authorization", "Bearer " + valid, "Authorization", "Bearer " + valid}, invalid},
		{"two tokens in one header", "/api/v1/me", []string{"Authorization", "Bearer " + valid + ", Bearer " + valid}, invalid},
		{"garbage", "/api/v1/me", []string{"Authorization", "Bearer not.a.jwt"}, invalid},
		{"many dots", "/api/v1/me", []string{"Authorization", "Bearer " + strings.Repeat(".", 4096)}, invalid},
		{"oversized", "/api/v1/me", []string{"Authorization", "Bearer " + strings.Repeat("a", 9<<10)}, invalid},
		{"alg none", "/api/v1/me", []string{"Authorization", "Bearer " + noneToken}, invalid},
		{"foreign key", "/api/v1/me", []string{"Authorization", "Bearer " + e.sign(claimsFor("alice"), testKID, otherKey)}, invalid},
		{"expired", "/api/v1/me", []string{"Authorization", "Bearer " + e.token("alice", withClaim("exp", now.Add(-time.Hour).Unix()))}, invalid},
		{"no exp", "/api/v1/me", []string{"Authorization", "Bearer " + e.token("alice", withClaim("exp", nil))}, invalid},
		{"other issuer", "/api/v1/me", []string{"Authorization", "Bearer " + e.token("alice", withClaim("iss", "https://evil.test"))}, invalid},
		{"other audience", "/api/v1/me", []string{"Authorization", "Bearer " + e.token("alice", withClaim("aud", "other"))}, invalid},
		{"audience array", "/api/v1/me", []string{"Authorization", "Bearer " + e.token("alice", withClaim("aud", []string{"other", testAudience}))}, ok},
		{"tampered payload", "/api/v1/me", []string{"Authorization", "Bearer " + tamper(valid)}, invalid},
		{"tenant route", "/api/v1/organizations/acme/members", nil, missing},
		{"check route", "/api/v1/check", []string{"Authorization", "Bearer x"}, invalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			method := http.MethodGet
			var body any
			if strings.HasSuffix(tt.path, "/check") {
				method, body = http.MethodPost, obj{"permission": "a:b"}
			}
			res, resBody := e.do(t, method, tt.path, "", body, tt.headers...)
			switch tt.want {
			case ok:
				wantStatus(t, res, resBody, http.StatusOK)
			case missing:
				wantProblem(t, res, resBody, http.StatusUnauthorized, "unauthenticated")
				if got := res.Header.Get("WWW-Authenticate"); got != `Bearer realm="orgstack"` {
					t.Errorf("WWW-Authenticate %q", got)
				}
			case invalid:
				p := wantProblem(t, res, resBody, http.StatusUnauthorized, "invalid_token")
				want := `Bearer realm="orgstack", error="invalid_token", error_description="` + p["detail"].(string) + `"`
				if got := res.Header.Get("WWW-Authenticate"); got != want {
					t.Errorf("WWW-Authenticate %q, want %q", got, want)
				}
				if r, _ := p["reason"].(string); r == "" {
					t.Errorf("no reason in %s", resBody)
				}
			}
		})
	}
}

// tamper changes the subject of a signed token without re-signing it.
func tamper(tok string) string {
	parts := strings.Split(tok, ".")
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	payload = []byte(strings.Replace(string(payload), `"sub":"alice"`, `"sub":"mallory"`, 1))
	parts[1] = base64.RawURLEncoding.EncodeToString(payload)
	return strings.Join(parts, ".")
}

// TestCheckOrder pins the order in which failures are decided: 401, then
// 413/415/400 malformed JSON, then the organization (404/403), then the
// permission (403), then validation (400), then conflicts (409).
func TestCheckOrder(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	owner := e.token("owner")
	orgID := e.createOrg(t, owner, "acme")
	e.addMember(t, owner, orgID, "reader", "member")
	reader := e.token("reader")
	stranger := e.token("stranger")
	bound := e.token("owner", withOrg(orgID))
	otherID := e.createOrg(t, e.token("bob"), "other")
	rolesPath := "/api/v1/organizations/" + orgID + "/roles"
	huge := `{"key":"` + strings.Repeat("k", MaxBodyBytes) + `"}`

	tests := []struct {
		name       string
		token      string
		path       string
		body       any
		headers    []string
		wantStatus int
		wantCode   string
	}{
		{"401 before 413", "", rolesPath, huge, nil, 401, "unauthenticated"},
		{"401 before 415", "", rolesPath, "x", []string{"Content-Type", "text/plain"}, 401, "unauthenticated"},
		{"413 before 415", owner, rolesPath, huge, []string{"Content-Type", "text/plain"}, 413, "payload_too_large"},
		{"415 before malformed", owner, rolesPath, "{", []string{"Content-Type", "text/plain"}, 415, "unsupported_media_type"},
		{"malformed before 404", stranger, rolesPath, "{", nil, 400, "malformed_json"},
		{"unknown field before 403", reader, rolesPath, obj{"key": "x1", "name": "X", "org_id": otherID}, nil, 400, "malformed_json"},
		{"404 before validation", stranger, rolesPath, obj{"key": "!", "name": ""}, nil, 404, "not_found"},
		{"mismatch before 404", bound, "/api/v1/organizations/no-such-org/roles", obj{"key": "!"}, nil, 403, "organization_mismatch"},
		{"mismatch for an existing org", bound, "/api/v1/organizations/" + otherID + "/roles", obj{"key": "ok-key", "name": "N"}, nil, 403, "organization_mismatch"},
		{"403 before validation", reader, rolesPath, obj{"key": "!", "name": ""}, nil, 403, "forbidden"},
		{"create", owner, rolesPath, obj{"key": "dup", "name": "Dup"}, nil, 201, ""},
		{"validation before conflict", owner, rolesPath, obj{"key": "dup", "name": ""}, nil, 400, "validation_failed"},
		{"conflict", owner, rolesPath, obj{"key": "dup", "name": "Dup"}, nil, 409, "role_exists"},
	}
	for _, tt := range tests {
		res, body := e.do(t, http.MethodPost, tt.path, tt.token, tt.body, tt.headers...)
		if tt.wantCode == "" {
			wantStatus(t, res, body, tt.wantStatus)
			continue
		}
		t.Run(tt.name, func(t *testing.T) {
			wantProblem(t, res, body, tt.wantStatus, tt.wantCode)
		})
	}
}
