package bootstrap

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
	"time"
)

// TestConfigErrorsNameTheVariable: a value that cannot be read is reported
// by its environment variable, in words, never by Go field or type.
func TestConfigErrorsNameTheVariable(t *testing.T) {
	tests := []struct {
		give map[string]string
		want []string
	}{
		{map[string]string{"ORGSTACK_RATE_LIMIT": "ten"}, []string{`ORGSTACK_RATE_LIMIT: not a number: "ten"`}},
		{map[string]string{"ORGSTACK_JWT_LEEWAY": "30"}, []string{`ORGSTACK_JWT_LEEWAY: not a duration`}},
		{map[string]string{"ORGSTACK_AUTO_MIGRATE": "yes"}, []string{`ORGSTACK_AUTO_MIGRATE: not true or false: "yes"`}},
		{
			map[string]string{"ORGSTACK_DATABASE_MAX_CONNS": "many", "ORGSTACK_SHUTDOWN_DELAY": "soon"},
			[]string{"ORGSTACK_DATABASE_MAX_CONNS: not a number", "ORGSTACK_SHUTDOWN_DELAY: not a duration"},
		},
	}
	for _, tt := range tests {
		_, err := LoadConfig(tt.give)
		if err == nil {
			t.Errorf("%v: got no error", tt.give)
			continue
		}
		for _, w := range tt.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%v: got %q, want it to contain %q", tt.give, err, w)
			}
		}
		for _, leak := range []string{"field", "RateLimit", "type", "int", "time.Duration", "strconv", "env:"} {
			if strings.Contains(err.Error(), leak) {
				t.Errorf("%v: %q mentions %q", tt.give, err, leak)
			}
		}
	}
}

// TestEverySettingIsDescribed: each Config field names its variable, the
// commands that read it and what it means, so help text cannot lag behind.
func TestEverySettingIsDescribed(t *testing.T) {
	ct := reflect.TypeFor[Config]()
	if got := len(allSettings()); got != ct.NumField() {
		t.Fatalf("allSettings has %d settings, Config %d fields", got, ct.NumField())
	}
	for _, s := range allSettings() {
		if s.Meaning == "" || len(s.Cmds) == 0 {
			t.Errorf("%s: needs desc and cmds tags", s.Name)
		}
	}
}

// TestServeHelpListsItsSettings: `serve --help` lists every variable serve
// reads, with its default and meaning.
func TestServeHelpListsItsSettings(t *testing.T) {
	out, errOut, code := runCLI(t, map[string]string{}, "serve", "--help")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	lines := strings.Split(out, "\n")
	for _, s := range allSettings() {
		var line string
		for _, l := range lines {
			if f := strings.Fields(l); len(f) > 0 && f[0] == s.Name {
				line = l
			}
		}
		serves := strings.Contains(" "+strings.Join(s.Cmds, " ")+" ", " serve ")
		switch {
		case serves && line == "":
			t.Errorf("serve --help does not list %s", s.Name)
		case serves && (!strings.Contains(line, s.Meaning) || (s.Default != "" && !strings.Contains(line, s.Default))):
			t.Errorf("serve --help: got %q, want the default %q and meaning %q", line, s.Default, s.Meaning)
		case !serves && line != "":
			t.Errorf("serve --help lists %s, which serve does not read", s.Name)
		}
	}
	for _, want := range []string{"ORGSTACK_DATABASE_URL", "required", "ORGSTACK_RATE_LIMIT", "0 (off)", "ORGSTACK_HTTP_ADDR", ":8080"} {
		if !strings.Contains(out, want) {
			t.Errorf("serve --help lacks %q:\n%s", want, out)
		}
	}
}

// TestREADMEConfigurationTable: README.md's table has a row for every
// variable, with the same default, and no default database for serve.
func TestREADMEConfigurationTable(t *testing.T) {
	raw, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]string{}
	for _, l := range strings.Split(string(raw), "\n") {
		cells := strings.Split(l, "|")
		if len(cells) > 3 && strings.HasPrefix(strings.TrimSpace(cells[1]), "`ORGSTACK_") {
			rows[strings.Trim(strings.TrimSpace(cells[1]), "`")] = cells[2]
		}
	}
	ct := reflect.TypeFor[Config]()
	for i := range ct.NumField() {
		f := ct.Field(i)
		name := envPrefix + f.Tag.Get("env")
		def, ok := rows[name]
		switch {
		case !ok:
			t.Errorf("README.md has no row for %s", name)
		case f.Tag.Get("envDefault") != "" && !strings.Contains(def, "`"+f.Tag.Get("envDefault")+"`"):
			t.Errorf("README.md: %s default %q, want `%s`", name, def, f.Tag.Get("envDefault"))
		}
	}
	if strings.Contains(rows["ORGSTACK_DATABASE_URL"], "sqlite:orgstack.db") {
		t.Errorf("README.md still gives ORGSTACK_DATABASE_URL a default: %q", rows["ORGSTACK_DATABASE_URL"])
	}
}

// TestServeAndMigrateNeedAnExplicitDatabase: neither command falls back to a
// local SQLite file; both name the variable and create nothing.
func TestServeAndMigrateNeedAnExplicitDatabase(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	env := map[string]string{"ORGSTACK_OIDC_ISSUER": "https://idp.example", "ORGSTACK_AUDIENCE": "api", "ORGSTACK_HTTP_ADDR": "127.0.0.1:0"}
	for _, args := range [][]string{{"serve"}, {"migrate", "up"}, {"migrate", "status"}} {
		_, errOut, code := runCLI(t, env, args...)
		if code == 0 || !strings.Contains(errOut, "ORGSTACK_DATABASE_URL is required") {
			t.Errorf("%v: exit %d, stderr %q", args, code, errOut)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("files created: %v", entries)
	}
}

func TestFormatVersion(t *testing.T) {
	info := func(version string, settings ...debug.BuildSetting) *debug.BuildInfo {
		return &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: version}, Settings: settings}
	}
	rev := debug.BuildSetting{Key: "vcs.revision", Value: "0123456789abcdef0123456789abcdef01234567"}
	tests := []struct {
		name     string
		give     *debug.BuildInfo
		override string
		want     string
	}{
		{"checkout build", info("(devel)", rev, debug.BuildSetting{Key: "vcs.modified", Value: "false"}), "", "orgstack (devel), commit 0123456789abcdef0123456789abcdef01234567, go1.26.8"},
		{"modified tree", info("(devel)", rev, debug.BuildSetting{Key: "vcs.modified", Value: "true"}), "", "orgstack (devel), commit 0123456789abcdef0123456789abcdef01234567 (modified), go1.26.8"},
		{"go install @version", info("v1.4.0"), "", "orgstack v1.4.0, commit unknown, go1.26.8"},
		{"ldflags override", info("(devel)", rev), "v2.0.0", "orgstack v2.0.0, commit 0123456789abcdef0123456789abcdef01234567, go1.26.8"},
		{"no build info", nil, "", "orgstack (devel), commit unknown, " + runtime.Version()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := formatVersion(tt.give, tt.override); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

// TestVersionCommand: `version` and `--version` print the same one line.
func TestVersionCommand(t *testing.T) {
	a, _, codeA := runCLI(t, nil, "version")
	b, _, codeB := runCLI(t, nil, "--version")
	if codeA != 0 || codeB != 0 || a != b || !strings.HasPrefix(a, "orgstack ") || !strings.HasSuffix(a, runtime.Version()+"\n") {
		t.Fatalf("version: %q (exit %d); --version: %q (exit %d)", a, codeA, b, codeB)
	}
}

// TestTokenNeedsTheDevKey: where no development key exists, `token` says so
// and suggests `dev`, in the form the user invoked, and creates nothing.
func TestTokenNeedsTheDevKey(t *testing.T) {
	key := filepath.Join(t.TempDir(), "dev.key")
	var out, errOut bytes.Buffer
	root := newRootCommand(map[string]string{}, "go run .")
	root.SetArgs([]string{"token", "--sub", "alice", "--key", key})
	root.SetOut(&out)
	root.SetErr(&errOut)
	err := root.Execute()
	if err == nil || !strings.Contains(err.Error(), "no development signing key at "+key) || !strings.Contains(err.Error(), "run `go run . dev` first") {
		t.Fatalf("got %v, want the missing-key message", err)
	}
	if out.Len() != 0 {
		t.Errorf("printed %q", out.String())
	}
	if _, err := os.Stat(key); !os.IsNotExist(err) {
		t.Errorf("a key was created at %s", key)
	}
}

func TestInvokedAs(t *testing.T) {
	tests := []struct{ give, want string }{
		{"/tmp/go-build123456/b001/exe/orgstack", "go run ."},
		{"/root/.cache/go-build/76/7697b9b65bf9bbb323d6aa4e6b36455ac2854a10ab3042644e0e37b89296a391-d/orgstack", "go run ."},
		{"/srv/cache/76/7697b9b65bf9bbb323d6aa4e6b36455ac2854a10ab3042644e0e37b89296a391-d/orgstack", "go run ."},
		{"/opt/76/not-a-hash-d/orgstack", "/opt/76/not-a-hash-d/orgstack"},
		{"/home/me/exe/orgstack", "/home/me/exe/orgstack"},
		{filepath.Join(os.TempDir(), "go-build42", "b001", "exe", "orgstack"), "go run ."},
		{"orgstack", "orgstack"},
		{"./orgstack", "./orgstack"},
		{"/usr/local/bin/orgstack", "/usr/local/bin/orgstack"},
		{"", "orgstack"},
	}
	for _, tt := range tests {
		if got := invokedAs(tt.give); got != tt.want {
			t.Errorf("invokedAs(%q) = %q, want %q", tt.give, got, tt.want)
		}
	}
}

// TestDevBannerNamesTheInvokedCommand: the banner's "more tokens" hint is
// runnable as shown.
func TestDevBannerNamesTheInvokedCommand(t *testing.T) {
	for _, prog := range []string{"go run .", "orgstack", "./bin/orgstack"} {
		var b bytes.Buffer
		printDevBanner(&b, prog, settings{HTTPAddr: ":8080", DatabaseURL: "sqlite:dev.db"}, "dev.key", "TOKEN")
		if !strings.Contains(b.String(), "more with: "+prog+" token --sub alice") {
			t.Errorf("banner for %q:\n%s", prog, b.String())
		}
	}
}

// TestBinary builds the real program (with a version set by -ldflags) and
// runs it as a newcomer would: version, serve without a database, serve on
// a schema that is behind (one line, no fx output), token without a key.
func TestBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "orgstack")
	build := exec.Command("go", "build", "-o", bin, "-ldflags", "-X github.com/orgstack/orgstack/bootstrap.version=v9.9.9-test", "..")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	run := func(env []string, args ...string) (stdout, stderr string, code int) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, bin, args...)
		cmd.Dir = dir
		cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir}, env...)
		var o, e bytes.Buffer
		cmd.Stdout, cmd.Stderr = &o, &e
		err := cmd.Run()
		if ee, ok := err.(*exec.ExitError); ok {
			return o.String(), e.String(), ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return o.String(), e.String(), 0
	}

	out, _, code := run(nil, "--version")
	if code != 0 || !strings.HasPrefix(out, "orgstack v9.9.9-test, commit ") || !strings.HasSuffix(out, runtime.Version()+"\n") {
		t.Errorf("--version: exit %d, %q", code, out)
	}

	idp := []string{"ORGSTACK_OIDC_ISSUER=https://idp.example", "ORGSTACK_AUDIENCE=api", "ORGSTACK_JWKS_URL=http://127.0.0.1:1/jwks.json", "ORGSTACK_HTTP_ADDR=127.0.0.1:0"}
	_, errOut, code := run(idp, "serve")
	if code == 0 || !strings.HasPrefix(errOut, "orgstack: ORGSTACK_DATABASE_URL is required") {
		t.Errorf("serve without a database: exit %d, stderr %q", code, errOut)
	}

	behind := []string{"sqlite:" + filepath.Join(dir, "behind.db")}
	if pg := os.Getenv("ORGSTACK_TEST_POSTGRES_URL"); pg != "" {
		behind = append(behind, emptyPostgresSchema(t, pg))
	}
	for _, db := range behind {
		_, errOut, code = run(append(idp, "ORGSTACK_DATABASE_URL="+db), "serve")
		if code == 0 || strings.Count(errOut, "\n") != 1 || !strings.HasPrefix(errOut, "orgstack: the database schema is behind") {
			t.Errorf("serve on an empty %s database: exit %d, want one line; stderr (%d bytes):\n%s", db[:6], code, len(errOut), errOut)
		}
	}

	badFile := filepath.Join(dir, "orgstack.yaml")
	if err := os.WriteFile(badFile, []byte("issuers:\n  - issuer: https://a.example\n    audiences: [x]\n    leeway: 6m\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, errOut, code = run([]string{"ORGSTACK_CONFIG=" + badFile}, "config", "check")
	if code == 0 || errOut != "orgstack: orgstack.yaml:4: issuers[0].leeway: at most 5m\n" {
		t.Errorf("config check on a bad file: exit %d, stderr %q", code, errOut)
	}

	_, errOut, code = run(nil, "token", "--sub", "alice")
	if code == 0 || !strings.Contains(errOut, "no development signing key") || !strings.Contains(errOut, "dev` first") {
		t.Errorf("token without a key: exit %d, stderr %q", code, errOut)
	}
}

func TestPublicURLAndOutboundAllowAreValidated(t *testing.T) {
	tests := []struct {
		give map[string]string
		want string // "" when valid
	}{
		{map[string]string{"ORGSTACK_PUBLIC_URL": "https://api.example.com"}, ""},
		{map[string]string{"ORGSTACK_PUBLIC_URL": "https://api.example.com/orgstack/"}, ""},
		{map[string]string{"ORGSTACK_PUBLIC_URL": "http://localhost:8080"}, ""},
		{map[string]string{"ORGSTACK_PUBLIC_URL": "http://127.0.0.1:8080"}, ""},
		{map[string]string{"ORGSTACK_PUBLIC_URL": "http://api.example.com"}, "ORGSTACK_PUBLIC_URL"},
		{map[string]string{"ORGSTACK_PUBLIC_URL": "https://api.example.com/?a=b"}, "ORGSTACK_PUBLIC_URL"},
		{map[string]string{"ORGSTACK_PUBLIC_URL": "https://api.example.com/#x"}, "ORGSTACK_PUBLIC_URL"},
		{map[string]string{"ORGSTACK_PUBLIC_URL": "/relative"}, "ORGSTACK_PUBLIC_URL"},
		{map[string]string{"ORGSTACK_PUBLIC_URL": "https://user:pw@api.example.com"}, "ORGSTACK_PUBLIC_URL"},
		{map[string]string{"ORGSTACK_OUTBOUND_ALLOW": "idp.internal:8443,127.0.0.1:9000"}, ""},
		{map[string]string{"ORGSTACK_OUTBOUND_ALLOW": "idp.internal"}, "ORGSTACK_OUTBOUND_ALLOW"},
	}
	for _, tt := range tests {
		c, err := LoadConfig(tt.give)
		if err != nil {
			t.Fatal(err)
		}
		err = c.validateCommon()
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%v: got %v, want valid", tt.give, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("%v: got %v, want an error naming %s", tt.give, err, tt.want)
		}
	}
}
