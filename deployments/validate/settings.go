package validate

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/orgstack/orgstack/bootstrap"
)

// KnownSetting reports whether orgstack reads the environment variable name:
// one of bootstrap's settings or an OpenTelemetry standard variable (OTEL_…).
func KnownSetting(name string) bool {
	return slices.Contains(bootstrap.SettingNames(), name) || strings.HasPrefix(name, "OTEL_")
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

// checkServe runs bootstrap.CheckServeEnvironment on env, with every *_FILE variable whose file the deployment provides
// pointed at a temporary copy of it (files: path in the container →
// content), since the configuration reads those files.
func checkServe(env map[string]string, files map[string]string) error {
	env = maps.Clone(env) // the *_FILE paths are rewritten below
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
