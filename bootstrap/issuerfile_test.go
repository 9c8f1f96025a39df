package bootstrap

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/orgstack/orgstack/adapters/jwks"
)

const fullFile = `# every key
issuers:
  - issuer: https://kc.example.com/realms/acme
    audiences: [orgstack, account]
    algorithms: [RS256, ES256]
    leeway: 1m
    required_type: at+jwt
    max_token_age: 1h
    required_claims:
      - claim: [hd]
        value: example.com
    claims:
      subject: [sub]
      email: [email]
      name: [profile, name]
      organization: [organization, id]
      platform_admin:
        claim: [realm_access, roles]
        value: orgstack-admin
  - issuer: https://auth.example.com/
    jwks_url: http://auth.internal:8080/jwks
    audiences: [api]
    claims:
      organization: ["https://example.com/org"]
    introspection:
      endpoint: http://auth.internal:8080/introspect
      client_id: orgstack
      client_secret_env: INTROSPECT_SECRET
`

// TestIssuerFileParses: every key lands in the verifier's configuration;
// the organization claim is off unless set; JSON is accepted.
func TestIssuerFileParses(t *testing.T) {
	ic, err := parseIssuerFile("orgstack.yaml", []byte(fullFile), map[string]string{"INTROSPECT_SECRET": "s3"})
	if err != nil {
		t.Fatal(err)
	}
	want := []jwks.Config{{
		Issuer: "https://kc.example.com/realms/acme", Audiences: []string{"orgstack", "account"},
		Algorithms: []string{"RS256", "ES256"}, Leeway: time.Minute, RequiredType: "at+jwt", MaxAge: time.Hour,
		RequiredClaims: []jwks.ClaimValue{{Path: jwks.ClaimPath{"hd"}, Value: "example.com"}},
		SubjectPath:    jwks.ClaimPath{"sub"}, EmailPath: jwks.ClaimPath{"email"}, NamePath: jwks.ClaimPath{"profile", "name"},
		OrgPath: jwks.ClaimPath{"organization", "id"}, AdminPath: jwks.ClaimPath{"realm_access", "roles"}, AdminValue: "orgstack-admin",
	}, {
		Issuer: "https://auth.example.com/", JWKSURL: "http://auth.internal:8080/jwks", Audiences: []string{"api"},
		OrgPath: jwks.ClaimPath{"https://example.com/org"},
	}}
	if !reflect.DeepEqual(ic.Issuers, want) {
		t.Errorf("issuers =\n%+v\nwant\n%+v", ic.Issuers, want)
	}
	wantIntro := &Introspection{Issuer: "https://auth.example.com/", Endpoint: "http://auth.internal:8080/introspect", ClientID: "orgstack", ClientSecret: "s3"}
	if !reflect.DeepEqual(ic.Introspection, wantIntro) {
		t.Errorf("introspection = %+v", ic.Introspection)
	}
	js := `{"issuers": [{"issuer": "https://a.example", "audiences": ["x"]}]}`
	ic, err = parseIssuerFile("orgstack.json", []byte(js), nil)
	if err != nil || len(ic.Issuers) != 1 || !ic.Issuers[0].OrgClaimOff || ic.Issuers[0].Issuer != "https://a.example" {
		t.Errorf("JSON: %+v, %v", ic, err)
	}
	secret := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secret, []byte("from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	f := strings.Replace(fullFile, "client_secret_env: INTROSPECT_SECRET", "client_secret_file: "+secret, 1)
	if ic, err := parseIssuerFile("orgstack.yaml", []byte(f), nil); err != nil || ic.Introspection.ClientSecret != "from-file" {
		t.Errorf("secret file: %+v, %v", ic.Introspection, err)
	}
}

// TestIssuerFileErrors: each mistake is reported with the file, the line
// and the key.
func TestIssuerFileErrors(t *testing.T) {
	one := func(extra string) string {
		return "issuers:\n  - issuer: https://a.example\n    audiences: [x]\n" + extra
	}
	tests := []struct {
		name, give, want string
	}{
		{"leeway over 5m", one("    leeway: 6m\n"), "orgstack.yaml:4: issuers[0].leeway: at most 5m"},
		{"leeway not a duration", one("    leeway: soon\n"), "orgstack.yaml:4: issuers[0].leeway: not a duration"},
		{"unknown key", one("    audience: x\n"), "orgstack.yaml:4: issuers[0].audience: unknown key"},
		{"unknown top-level key", "http_addr: :80\n" + one(""), "orgstack.yaml:1: http_addr: unknown key"},
		{"HS256", one("    algorithms: [RS256, HS256]\n"), `orgstack.yaml:4: issuers[0].algorithms[1]: "HS256" is not allowed`},
		{"none", one("    algorithms: [none]\n"), `issuers[0].algorithms[0]: "none" is not allowed`},
		{"dotted string path", one("    claims:\n      organization: realm.org\n"), "orgstack.yaml:5: issuers[0].claims.organization: must be a list of keys"},
		{"unknown claim mapping", one("    claims:\n      roles: [roles]\n"), "orgstack.yaml:5: issuers[0].claims.roles: unknown key"},
		{"admin without value", one("    claims:\n      platform_admin:\n        claim: [roles]\n"), "orgstack.yaml:6: issuers[0].claims.platform_admin.value: is required"},
		{"missing issuer", "issuers:\n  - audiences: [x]\n", "orgstack.yaml:2: issuers[0].issuer: is required"},
		{"missing audiences", "issuers:\n  - issuer: https://a.example\n", "orgstack.yaml:2: issuers[0].audiences: is required"},
		{"issuer not a URL", "issuers:\n  - issuer: a.example\n    audiences: [x]\n", "orgstack.yaml:2: issuers[0].issuer: must be an absolute http(s) URL"},
		{"same issuer twice", one("  - issuer: https://a.example\n    audiences: [y]\n"), "orgstack.yaml:4: issuers[1]: issuer \"https://a.example\" is already configured by issuers[0]"},
		{"empty issuers", "issuers: []\n", "orgstack.yaml:1: issuers: must be a non-empty list"},
		{"no issuers", "{}\n", "orgstack.yaml:1: issuers: is required"},
		{"inline client secret", one("    introspection:\n      endpoint: https://a.example/i\n      client_id: c\n      client_secret: hunter2\n"),
			"orgstack.yaml:7: issuers[0].introspection.client_secret: secrets are never written inline: use client_secret_env"},
		{"secret variable unset", one("    introspection:\n      endpoint: https://a.example/i\n      client_id: c\n      client_secret_env: NOPE\n"),
			"orgstack.yaml:7: issuers[0].introspection.client_secret_env: variable NOPE is not set"},
		{"two introspection issuers", one("    introspection: {endpoint: https://a.example/i, client_id: c, client_secret_env: S}\n  - issuer: https://b.example\n    audiences: [x]\n    introspection: {endpoint: https://b.example/i, client_id: c, client_secret_env: S}\n"),
			"orgstack.yaml:5: issuers[1].introspection: at most one issuer may use introspection"},
		{"required claim without value", one("    required_claims:\n      - claim: [tid]\n"), "orgstack.yaml:5: issuers[0].required_claims[0].value: is required"},
		{"key set twice", one("    leeway: 1s\n    leeway: 2s\n"), "orgstack.yaml:5: issuers[0].leeway: set twice"},
		{"number as issuer", "issuers:\n  - issuer: 42\n    audiences: [x]\n", "orgstack.yaml:2: issuers[0].issuer: must be a non-empty string"},
		{"not YAML", "issuers: [\n", "orgstack.yaml: yaml:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseIssuerFile("orgstack.yaml", []byte(tt.give), map[string]string{"S": "x"})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %v\nwant it to contain %q", err, tt.want)
			}
		})
	}
}

// TestIssuerFileAndVariablesConflict: ORGSTACK_CONFIG with any one-issuer
// variable is an error naming both; without the file, the variables are a
// one-issuer configuration.
func TestIssuerFileAndVariablesConflict(t *testing.T) {
	file := filepath.Join(t.TempDir(), "orgstack.yaml")
	if err := os.WriteFile(file, []byte("issuers:\n  - issuer: https://a.example\n    audiences: [x]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, v := range perIssuerVars {
		environ := map[string]string{"ORGSTACK_CONFIG": file, v: "x"}
		c, err := LoadConfig(environ)
		if err != nil {
			c = Config{ConfigFile: file}
		}
		_, err = resolveIssuers(c, environ)
		if err == nil || !strings.Contains(err.Error(), "ORGSTACK_CONFIG and "+v+" are both set") {
			t.Errorf("%s: %v", v, err)
		}
	}
	c, err := LoadConfig(map[string]string{"ORGSTACK_CONFIG": file})
	if err != nil {
		t.Fatal(err)
	}
	ic, err := resolveIssuers(c, map[string]string{"ORGSTACK_CONFIG": file})
	if err != nil || len(ic.Issuers) != 1 || ic.Issuers[0].RefreshInterval != 15*time.Minute {
		t.Errorf("file alone: %+v, %v", ic, err)
	}
	environ := map[string]string{"ORGSTACK_OIDC_ISSUER": "https://e.example", "ORGSTACK_AUDIENCE": "api"}
	c, _ = LoadConfig(environ)
	ic, err = resolveIssuers(c, environ)
	if err != nil || len(ic.Issuers) != 1 || ic.Issuers[0].Issuer != "https://e.example" || ic.Issuers[0].OrgClaim != "org_id" {
		t.Errorf("variables alone: %+v, %v", ic, err)
	}
}

// TestConfigCheckCommand: config check reports the file's errors and fails,
// or lists the issuers.
func TestConfigCheckCommand(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	good := filepath.Join(dir, "good.yaml")
	_ = os.WriteFile(bad, []byte("issuers:\n  - issuer: https://a.example\n    audiences: [x]\n    leeway: 10m\n"), 0o600)
	_ = os.WriteFile(good, []byte("issuers:\n  - issuer: https://a.example\n    audiences: [x]\n"), 0o600)
	run := func(environ map[string]string) (string, error) {
		var out bytes.Buffer
		root := newRootCommand(environ, "orgstack")
		root.SetArgs([]string{"config", "check"})
		root.SetOut(&out)
		root.SetErr(&out)
		err := root.Execute()
		return out.String(), err
	}
	if _, err := run(map[string]string{"ORGSTACK_CONFIG": bad}); err == nil || err.Error() != "bad.yaml:4: issuers[0].leeway: at most 5m" {
		t.Errorf("bad file: %v", err)
	}
	if out, err := run(map[string]string{"ORGSTACK_CONFIG": good}); err != nil || !strings.Contains(out, "1 issuer(s)") || !strings.Contains(out, "https://a.example (keys: discovery)") {
		t.Errorf("good file: %q, %v", out, err)
	}
	if _, err := run(map[string]string{"ORGSTACK_CONFIG": good, "ORGSTACK_AUDIENCE": "x"}); err == nil || !strings.Contains(err.Error(), "ORGSTACK_CONFIG and ORGSTACK_AUDIENCE are both set") {
		t.Errorf("both: %v", err)
	}
	if _, err := run(map[string]string{}); err == nil {
		t.Error("no issuer at all: accepted")
	}
}

// TestServingSettingsFromTheIssuersFile: serve takes its issuers from
// ORGSTACK_CONFIG, and the issuer that uses introspection gives the opaque
// verifier its audiences, leeway and claim paths, with the secret read from
// the variable the file names and the cache and rate from the environment.
func TestServingSettingsFromTheIssuersFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "orgstack.yaml")
	if err := os.WriteFile(file, []byte(fullFile), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{
		"ORGSTACK_CONFIG": file, "ORGSTACK_DATABASE_URL": "sqlite::memory:",
		"INTROSPECT_SECRET": "s3", "ORGSTACK_INTROSPECTION_RATE": "7",
	}
	c, err := LoadConfig(env)
	if err != nil {
		t.Fatal(err)
	}
	s, err := servingSettings(c, env)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Issuers) != 2 {
		t.Fatalf("issuers: %+v", s.Issuers)
	}
	in := s.Introspection
	if in.Endpoint != "http://auth.internal:8080/introspect" || in.Issuer != "https://auth.example.com/" ||
		in.ClientID != "orgstack" || in.ClientSecret != "s3" || s.IntrospectionSecretFile != "" {
		t.Errorf("introspection endpoint and client: %+v", in)
	}
	if !reflect.DeepEqual(in.Audiences, []string{"api"}) || !reflect.DeepEqual(in.OrgClaim, []string{"https://example.com/org"}) ||
		in.OrgClaimOff || in.Rate != 7 || in.Burst != 7 {
		t.Errorf("introspection mapping and bounds: %+v", in)
	}

	// Introspection variables beside the file are refused, naming both.
	env["ORGSTACK_INTROSPECTION_URL"] = "https://idp.example/introspect"
	c, err = LoadConfig(env)
	if err == nil {
		_, err = servingSettings(c, env)
	}
	if err == nil || !strings.Contains(err.Error(), "ORGSTACK_CONFIG and ORGSTACK_INTROSPECTION_URL") {
		t.Errorf("file and introspection variables: %v", err)
	}
}
