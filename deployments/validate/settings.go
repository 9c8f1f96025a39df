package validate

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/orgstack/orgstack/bootstrap"
)

// pendingSettings are variables that other Stage 5 work adds to bootstrap's
// Config in parallel; the deployment files name them already.
// TODO(lead): remove this list once those branches are merged.
var pendingSettings = []string{
	"ORGSTACK_REDIS_URL",
	"ORGSTACK_REDIS_KEY_PREFIX",
	"ORGSTACK_TRUSTED_PROXIES",
}

// pendingPrefixes are families of pending variables (see pendingSettings).
// TODO(lead): remove with pendingSettings.
var pendingPrefixes = []string{"ORGSTACK_RATE_LIMIT_"}

// KnownSetting reports whether orgstack reads the environment variable name:
// one of bootstrap's settings, an OpenTelemetry standard variable (OTEL_…),
// or a setting still being added (pendingSettings).
func KnownSetting(name string) bool {
	if slices.Contains(bootstrap.SettingNames(), name) || strings.HasPrefix(name, "OTEL_") {
		return true
	}
	if slices.Contains(pendingSettings, name) {
		return true
	}
	for _, p := range pendingPrefixes {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// withoutPending returns env less the pending variables, which bootstrap
// cannot check yet.
func withoutPending(env map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range env {
		if !slices.Contains(bootstrap.SettingNames(), k) && KnownSetting(k) && !strings.HasPrefix(k, "OTEL_") {
			continue
		}
		out[k] = v
	}
	return out
}

// secretName reports whether a variable or key name looks like it holds a
// secret (the rule BuildKit's SecretsUsedInArgOrEnv check uses: a word such
// as password, secret, token or key between underscores). *_FILE names hold
// a path, not the secret.
func secretName(name string) bool {
	if strings.HasSuffix(strings.ToUpper(name), "_FILE") {
		return false
	}
	for _, w := range strings.FieldsFunc(strings.ToLower(name), func(r rune) bool { return r == '_' || r == '-' || r == '.' }) {
		switch w {
		case "apikey", "auth", "credential", "credentials", "key", "password", "pword", "passwd", "secret", "token":
			return true
		}
	}
	return false
}

// hasPassword reports whether a URL-like value carries a password
// (scheme://user:password@host).
func hasPassword(v string) bool {
	_, rest, ok := strings.Cut(v, "://")
	if !ok {
		return false
	}
	userinfo, _, ok := strings.Cut(rest, "@")
	return ok && !strings.Contains(userinfo, "/") && strings.Contains(userinfo, ":")
}

// checkServe runs bootstrap.CheckServeEnvironment on env (less the pending
// variables), with every *_FILE variable whose file the deployment provides
// pointed at a temporary copy of it (files: path in the container →
// content), since the configuration reads those files.
func checkServe(env map[string]string, files map[string]string) error {
	env = withoutPending(env)
	dir, err := os.MkdirTemp("", "orgstack-validate-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	n := 0
	for k, v := range env {
		content, ok := files[v]
		if !strings.HasSuffix(k, "_FILE") || !ok {
			continue
		}
		n++
		f := filepath.Join(dir, fmt.Sprint(n))
		if err := os.WriteFile(f, []byte(content), 0o600); err != nil {
			return err
		}
		env[k] = f
	}
	return bootstrap.CheckServeEnvironment(env)
}
