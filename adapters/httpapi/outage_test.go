package httpapi

import (
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/orgstack/orgstack/ports"
)

// switchableIdP serves the key set while up is true and 503 otherwise.
func switchableIdP(up *atomic.Bool) func([]byte) http.Handler {
	return func(keySet []byte) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			if !up.Load() {
				http.Error(w, "down", http.StatusServiceUnavailable)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(keySet)
		})
	}
}

// wantUnavailable checks a 503 unavailable problem with Retry-After.
func wantUnavailable(t testing.TB, res *http.Response, body []byte) obj {
	t.Helper()
	p := wantProblem(t, res, body, http.StatusServiceUnavailable, "unavailable")
	if ra := res.Header.Get("Retry-After"); ra == "" {
		t.Errorf("503 without Retry-After: %s", body)
	}
	return p
}

// TestIdentityProviderDownAtStart: the JWKS endpoint fails when the API
// starts. /readyz is 503; a well-formed token of the configured issuer is
// 503 unavailable (reason keys_unavailable, Retry-After), never 401, while a
// token the checks without keys can judge keeps its 401. When the provider
// comes back, /readyz turns 200 within seconds with no token sent.
func TestIdentityProviderDownAtStart(t *testing.T) {
	t.Parallel()
	var up atomic.Bool
	e := newEnv(t, withIdP(switchableIdP(&up)))
	res, body := e.do(t, http.MethodGet, "/readyz", "", nil)
	wantProblem(t, res, body, http.StatusServiceUnavailable, "not_ready")

	tok := e.token("alice")
	res, body = e.do(t, http.MethodGet, "/api/v1/me", tok, nil)
	p := wantUnavailable(t, res, body)
	if p["reason"] != string(ports.ReasonKeysUnavailable) {
		t.Errorf("reason %v, want keys_unavailable", p["reason"])
	}
	if strings.Contains(string(body), tok) {
		t.Error("the problem contains the token")
	}
	res, body = e.do(t, http.MethodGet, "/api/v1/me", e.token("alice", withClaim("iss", "https://other.test")), nil)
	if p := wantProblem(t, res, body, http.StatusUnauthorized, "invalid_token"); p["reason"] != "wrong_issuer" {
		t.Errorf("reason %v, want wrong_issuer", p["reason"])
	}

	time.Sleep(2 * time.Second) // down for a while: the retries have backed off
	up.Store(true)
	start := time.Now()
	for {
		res, body = e.do(t, http.MethodGet, "/readyz", "", nil)
		if res.StatusCode == http.StatusOK {
			break
		}
		if time.Since(start) > 6*time.Second {
			t.Fatalf("/readyz still %d 6 s after the provider came back: %s", res.StatusCode, body)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("ready %v after the identity provider came back", time.Since(start))
	res, body = e.do(t, http.MethodGet, "/api/v1/me", tok, nil)
	wantStatus(t, res, body, http.StatusOK)
}

// TestTokenReasons: each reason a 401 can carry, through the real router,
// with a human detail, the reason in the body and error_description in
// WWW-Authenticate; the token itself appears nowhere.
func TestTokenReasons(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	tests := []struct {
		name string
		give string
		want ports.TokenReason
	}{
		{"expired", e.token("alice", withClaim("exp", now.Add(-time.Hour).Unix())), ports.ReasonExpired},
		{"not yet valid", e.token("alice", withClaim("nbf", now.Add(time.Hour).Unix())), ports.ReasonNotYetValid},
		{"wrong audience", e.token("alice", withClaim("aud", "someone-else")), ports.ReasonWrongAudience},
		{"wrong issuer", e.token("alice", withClaim("iss", "https://evil.test")), ports.ReasonWrongIssuer},
		{"unknown key", e.sign(claimsFor("alice"), "no-such-kid", e.key), ports.ReasonUnknownKey},
		{"bad signature", e.sign(claimsFor("alice"), testKID, other), ports.ReasonBadSignature},
		{"malformed", "not.a.jwt", ports.ReasonMalformed},
		{"sub with NUL", e.token("alice\x00"), ports.ReasonMalformed},
		{"sub with a control character", e.token("al\x1bice"), ports.ReasonMalformed},
		{"empty sub", e.token(""), ports.ReasonMalformed},
		{"org claim with NUL", e.token("alice", withOrg("acme\x00")), ports.ReasonMalformed},
		{"iss with NUL", e.token("alice", withClaim("iss", testIssuer+"\x00")), ports.ReasonMalformed},
		{"two organizations", e.token("alice", withClaim("org_id", []string{"acme", "globex"})), ports.ReasonAmbiguousOrganization},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, body := e.do(t, http.MethodGet, "/api/v1/me", tt.give, nil)
			p := wantProblem(t, res, body, http.StatusUnauthorized, "invalid_token")
			if p["reason"] != string(tt.want) {
				t.Errorf("reason %v, want %s", p["reason"], tt.want)
			}
			detail, _ := p["detail"].(string)
			wantHeader := `Bearer realm="orgstack", error="invalid_token", error_description="` + detail + `"`
			if got := res.Header.Get("WWW-Authenticate"); got != wantHeader {
				t.Errorf("WWW-Authenticate %q, want %q", got, wantHeader)
			}
			if strings.Contains(string(body), tt.give) || strings.Contains(res.Header.Get("WWW-Authenticate"), tt.give) {
				t.Error("the response contains the token")
			}
		})
	}
	// Optional claims that are not acceptable text are ignored.
	res, body := e.do(t, http.MethodGet, "/api/v1/me", e.token("carol", withEmail("c@x.test\x00"), withName("Carol\x07")), nil)
	wantStatus(t, res, body, http.StatusOK)
	if d := data(t, body); d["email"] != nil && d["email"] != "" || d["name"] != nil && d["name"] != "" {
		t.Errorf("email %v, name %v: want the invalid claims ignored", d["email"], d["name"])
	}
}

// TestQuoteAuthParam: error_description holds only the characters RFC 6750
// allows, so a detail can never break the header.
func TestQuoteAuthParam(t *testing.T) {
	tests := []struct{ give, want string }{
		{"the token has expired (exp)", `"the token has expired (exp)"`},
		{`say "hi" \ bye`, `"say  hi    bye"`},
		{"line\r\nbreak é", `"line  break   "`},
	}
	for _, tt := range tests {
		if got := quoteAuthParam(tt.give); got != tt.want {
			t.Errorf("quoteAuthParam(%q) = %s, want %s", tt.give, got, tt.want)
		}
	}
}

// TestNoSniff: every response carries X-Content-Type-Options: nosniff.
func TestNoSniff(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tok := e.token("alice")
	for _, tt := range []struct{ method, path, token string }{
		{http.MethodGet, "/livez", ""},
		{http.MethodGet, "/readyz", ""},
		{http.MethodGet, "/api/v1/openapi.json", ""},
		{http.MethodGet, "/api/v1/me", tok},
		{http.MethodGet, "/api/v1/me", ""},
		{http.MethodGet, "/api/v1/nope", tok},
		{http.MethodDelete, "/api/v1/me", tok},
	} {
		res, _ := e.do(t, tt.method, tt.path, tt.token, nil)
		if got := res.Header.Get("X-Content-Type-Options"); got != "nosniff" {
			t.Errorf("%s %s (%d): X-Content-Type-Options %q, want nosniff", tt.method, tt.path, res.StatusCode, got)
		}
	}
}

// TestOutageLog: the first refusal of an outage is logged with its cause,
// later ones are counted into one line per interval, and a quiet interval
// ends the outage.
func TestOutageLog(t *testing.T) {
	core, logs := observer.New(zapcore.DebugLevel)
	o := newOutageLog(zap.New(core), 10*time.Second)
	now := time.Unix(1000, 0)
	o.now = func() time.Time { return now }
	cause := errors.New("connection refused")
	// 1,000 refusals a second for a minute.
	for i := range 60_000 {
		now = time.Unix(1000, 0).Add(time.Duration(i) * time.Millisecond)
		o.refused("database", cause)
	}
	lines := logs.TakeAll()
	if len(lines) != 1+5 {
		for _, l := range lines {
			t.Log(l.Message)
		}
		t.Fatalf("%d log lines for a minute of refusals, want 6 (once, then one count per 10 s)", len(lines))
	}
	if !strings.Contains(lines[0].Message, "database unavailable") || lines[0].ContextMap()["error"] != "connection refused" {
		t.Errorf("first line %q %v", lines[0].Message, lines[0].ContextMap())
	}
	if want := "database unavailable: 10000 requests refused in the last 10s"; lines[1].Message != want {
		t.Errorf("count line %q, want %q", lines[1].Message, want)
	}
	// After a quiet interval, a new outage is announced again (with the
	// count of what was left of the previous window first).
	now = now.Add(time.Minute)
	o.refused("database", cause)
	lines = logs.TakeAll()
	if len(lines) != 2 || !strings.Contains(lines[1].Message, "answering 503") {
		t.Errorf("after a quiet minute: %d lines, want the leftover count and a new announcement", len(lines))
	}
}

// TestOpenAPITokenReasons: the document's reason enum is ports.TokenReasons.
func TestOpenAPITokenReasons(t *testing.T) {
	s := mustSpec(t)
	prop := s.doc.Components.Schemas["Problem"].Value.Properties["reason"]
	if prop == nil {
		t.Fatal("the Problem schema has no reason property")
	}
	var got []string
	// The reason is open (clients treat an unknown one as malformed), so the
	// document lists the known values as examples, not as an enum.
	if len(prop.Value.Enum) > 0 {
		t.Errorf("reason is a closed enum %v; it must stay open", prop.Value.Enum)
	}
	for _, v := range prop.Value.Examples {
		got = append(got, v.(string))
	}
	var want []string
	for _, r := range ports.TokenReasons {
		want = append(want, string(r))
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("reason examples %v, want %v", got, want)
	}
}
