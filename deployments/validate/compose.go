package validate

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"

	"github.com/orgstack/orgstack/bootstrap"
)

// LoadCompose loads a compose file as `docker compose` does (schema
// validation, interpolation, merge keys, normalization), with the variables
// of envFiles and nothing from this process's environment.
func LoadCompose(ctx context.Context, file string, envFiles ...string) (*types.Project, error) {
	opts, err := cli.NewProjectOptions([]string{file},
		cli.WithWorkingDirectory(filepath.Dir(file)),
		cli.WithEnvFiles(envFiles...),
		cli.WithDotEnv,
	)
	if err != nil {
		return nil, err
	}
	return opts.LoadProject(ctx)
}

// orgstackDockerfile is the image an OrgStack service is built from.
const orgstackDockerfile = "deployments/Dockerfile"

// CheckCompose returns what is wrong with a loaded compose project (an empty
// list when nothing is):
//   - every image pinned, every build's context and Dockerfile present;
//   - every service but the one-off migration has a health check and a
//     restart policy;
//   - OrgStack services (built from deployments/Dockerfile): every variable
//     is one orgstack reads, every command line one it accepts, the
//     configuration one serve accepts, no secret-looking value written in
//     the file unless it comes from a variable;
//   - one migration service runs `migrate up` once (restart "no"), after
//     PostgreSQL is healthy; at least three instances run serve, each after
//     the migration completed successfully, with a health check that is
//     `orgstack healthcheck`, and a stop grace period longer than
//     ORGSTACK_SHUTDOWN_DELAY + ORGSTACK_SHUTDOWN_TIMEOUT;
//   - PostgreSQL keeps its data in a named volume; Redis is there; the
//     database, Redis and issuer hosts the instances name are services;
//   - a load balancer (HAProxy) whose configuration sends to every instance
//     and checks /readyz, published on a port.
func CheckCompose(p *types.Project, repoRoot string) []string {
	var problems []string
	bad := func(svc, format string, args ...any) {
		problems = append(problems, fmt.Sprintf("service %s: %s", svc, fmt.Sprintf(format, args...)))
	}
	var instances, migrations []string
	for _, name := range p.ServiceNames() {
		s := p.Services[name]
		if s.Image != "" && s.Build == nil {
			if pr := tagProblem(s.Image); pr != "" {
				bad(name, "image %s: %s", s.Image, pr)
			}
		}
		if s.Build != nil {
			df := filepath.Join(s.Build.Context, s.Build.Dockerfile)
			if _, err := os.Stat(df); err != nil {
				bad(name, "build: %v", err)
			}
		}
		isOrgStack := s.Build != nil && sameFile(filepath.Join(s.Build.Context, s.Build.Dockerfile), filepath.Join(repoRoot, orgstackDockerfile))
		args := []string(s.Command)
		if isOrgStack && len(args) > 0 && args[0] == "migrate" {
			migrations = append(migrations, name)
			if s.Restart != "no" && s.Restart != "" {
				bad(name, "a migration runs once: restart %q, want \"no\"", s.Restart)
			}
		} else {
			if s.HealthCheck == nil || s.HealthCheck.Disable || len(s.HealthCheck.Test) == 0 {
				bad(name, "no health check")
			}
			if s.Restart == "" || s.Restart == "no" {
				bad(name, "no restart policy")
			}
		}
		if !isOrgStack {
			continue
		}
		if len(args) == 0 {
			args = []string{"serve"} // the image's CMD
		}
		if err := bootstrap.CheckCommandLine(args); err != nil {
			bad(name, "command %q: %v", args, err)
		}
		env := map[string]string{}
		for k, v := range s.Environment {
			if !KnownSetting(k) {
				bad(name, "environment: orgstack reads no variable %s", k)
			}
			if v != nil {
				env[k] = *v
			}
		}
		if args[0] == "serve" {
			instances = append(instances, name)
			problems = append(problems, checkComposeInstance(p, name, s, env)...)
		}
	}
	if len(migrations) != 1 {
		problems = append(problems, fmt.Sprintf("want one migration service (orgstack migrate up), have %v", migrations))
	}
	if len(instances) < 3 {
		problems = append(problems, fmt.Sprintf("want at least three instances (orgstack serve), have %v", instances))
	}
	for _, m := range migrations {
		if p.Services[m].DependsOn["postgres"].Condition != types.ServiceConditionHealthy {
			bad(m, "must wait for postgres to be healthy")
		}
		if !slices.Equal([]string(p.Services[m].Command), []string{"migrate", "up"}) {
			bad(m, "command %q, want migrate up", p.Services[m].Command)
		}
		for _, in := range instances {
			if p.Services[in].DependsOn[m].Condition != types.ServiceConditionCompletedSuccessfully {
				bad(in, "must wait for %s with condition %s", m, types.ServiceConditionCompletedSuccessfully)
			}
		}
	}
	problems = append(problems, checkComposeData(p)...)
	problems = append(problems, checkComposeBalancer(p, instances)...)
	return problems
}

// checkComposeInstance checks one `orgstack serve` service.
func checkComposeInstance(p *types.Project, name string, s types.ServiceConfig, env map[string]string) []string {
	var problems []string
	bad := func(format string, args ...any) {
		problems = append(problems, fmt.Sprintf("service %s: %s", name, fmt.Sprintf(format, args...)))
	}
	files := map[string]string{}
	for k, v := range env {
		if path, ok := composeSecretFile(p, s, v); strings.HasSuffix(k, "_FILE") && ok {
			if b, err := os.ReadFile(path); err == nil {
				files[v] = string(b)
			}
		}
	}
	if err := checkServe(env, files); err != nil {
		bad("orgstack serve would refuse this configuration: %v", err)
	}
	drain, err := drainTime(env)
	if err != nil {
		bad("%v", err)
	} else if s.StopGracePeriod == nil || time.Duration(*s.StopGracePeriod) <= drain {
		bad("stop_grace_period %v must be longer than ORGSTACK_SHUTDOWN_DELAY + ORGSTACK_SHUTDOWN_TIMEOUT (%v)", s.StopGracePeriod, drain)
	}
	if hc := s.HealthCheck; hc != nil && len(hc.Test) > 1 {
		test := []string(hc.Test)
		switch {
		case test[0] != "CMD" || filepath.Base(test[1]) != "orgstack":
			bad("health check %q: use [\"CMD\", \"/usr/local/bin/orgstack\", \"healthcheck\", …] (the image has no shell or curl)", test)
		default:
			if err := bootstrap.CheckCommandLine(test[2:]); err != nil || test[2] != "healthcheck" {
				bad("health check %q: %v", test, err)
			}
		}
	}
	for k, v := range env {
		if secretName(k) || hasPassword(v) {
			if raw := rawValue(p, name, k); raw != "" && !strings.Contains(raw, "${") {
				bad("%s is written in the file: take it from a variable or a *_FILE", k)
			}
		}
	}
	for k, v := range env {
		if _, ok := composeSecretFile(p, s, v); strings.HasSuffix(k, "_FILE") && !ok {
			bad("%s=%s is no compose secret of the service (/run/secrets/<name>) whose file exists", k, v)
		}
	}
	for _, k := range []string{"ORGSTACK_DATABASE_URL", "ORGSTACK_REDIS_URL"} {
		if host := urlHost(env[k]); host != "" {
			if _, ok := p.Services[host]; !ok {
				bad("%s names host %s, which is no service", k, host)
			}
		} else {
			bad("%s is not set", k)
		}
	}
	if host := urlHost(env["ORGSTACK_OIDC_ISSUER"]); host != "" {
		if _, ok := p.Services[host]; !ok {
			bad("ORGSTACK_OIDC_ISSUER names host %s, which is no service", host)
		}
		if s.DependsOn[host].Condition != types.ServiceConditionHealthy {
			bad("must wait for the identity provider %s to be healthy", host)
		}
	}
	return problems
}

// rawValue is a service's environment value as written in the file, before
// interpolation; compose-go keeps only the result, so the validator only
// knows whether the interpolated value came from a ${…}: it reloads
// nothing and answers "" when it cannot tell.
func rawValue(p *types.Project, service, key string) string {
	for _, f := range p.ComposeFiles {
		b, err := os.ReadFile(f)
		if err != nil {
			return ""
		}
		for _, line := range strings.Split(string(b), "\n") {
			t := strings.TrimSpace(line)
			if v, ok := strings.CutPrefix(t, key+":"); ok {
				return strings.TrimSpace(v)
			}
			if v, ok := strings.CutPrefix(t, "- "+key+"="); ok {
				return strings.TrimSpace(v)
			}
		}
	}
	return ""
}

// checkComposeData checks PostgreSQL and Redis.
func checkComposeData(p *types.Project) []string {
	var problems []string
	pg, ok := p.Services["postgres"]
	if !ok {
		problems = append(problems, "no postgres service")
	} else {
		named := false
		for _, v := range pg.Volumes {
			if v.Type == types.VolumeTypeVolume && v.Target == "/var/lib/postgresql/data" {
				if _, ok := p.Volumes[v.Source]; ok {
					named = true
				}
			}
		}
		if !named {
			problems = append(problems, "service postgres: keep /var/lib/postgresql/data in a named volume")
		}
	}
	if _, ok := p.Services["redis"]; !ok {
		problems = append(problems, "no redis service")
	}
	return problems
}

// checkComposeBalancer finds the HAProxy service and checks its
// configuration file against the instances.
func checkComposeBalancer(p *types.Project, instances []string) []string {
	for _, name := range p.ServiceNames() {
		s := p.Services[name]
		if !strings.HasPrefix(s.Image, "haproxy:") {
			continue
		}
		var cfg string
		for _, v := range s.Volumes {
			if v.Type == types.VolumeTypeBind && strings.HasSuffix(v.Target, "haproxy.cfg") {
				cfg = v.Source
			}
		}
		if cfg == "" {
			return []string{fmt.Sprintf("service %s: no haproxy.cfg mounted", name)}
		}
		b, err := os.ReadFile(cfg)
		if err != nil {
			return []string{fmt.Sprintf("service %s: %v", name, err)}
		}
		var problems []string
		for _, p := range CheckHAProxy(string(b), instances) {
			problems = append(problems, fmt.Sprintf("service %s: %s: %s", name, filepath.Base(cfg), p))
		}
		if len(s.Ports) == 0 {
			problems = append(problems, fmt.Sprintf("service %s: publishes no port", name))
		}
		return problems
	}
	return []string{"no load balancer (an haproxy service)"}
}

// CheckHAProxy checks that an HAProxy configuration sends to every instance
// on port 8080 and takes an instance out when its /readyz fails.
func CheckHAProxy(cfg string, instances []string) []string {
	var problems []string
	servers := map[string]bool{}
	var httpchk bool
	for _, line := range strings.Split(cfg, "\n") {
		f := strings.Fields(line)
		if len(f) >= 3 && f[0] == "server" {
			servers[f[2]] = true
		}
		if len(f) >= 4 && f[0] == "option" && f[1] == "httpchk" && f[3] == "/readyz" {
			httpchk = true
		}
	}
	for _, in := range instances {
		if !servers[in+":8080"] {
			problems = append(problems, fmt.Sprintf("no server %s:8080", in))
		}
	}
	if len(servers) != len(instances) {
		problems = append(problems, fmt.Sprintf("%d servers for %d instances", len(servers), len(instances)))
	}
	if !httpchk {
		problems = append(problems, "no `option httpchk GET /readyz`: a draining instance would keep its traffic")
	}
	return problems
}

// drainTime is ORGSTACK_SHUTDOWN_DELAY + ORGSTACK_SHUTDOWN_TIMEOUT, both of
// which a deployment must set explicitly.
func drainTime(env map[string]string) (time.Duration, error) {
	var total time.Duration
	for _, k := range []string{"ORGSTACK_SHUTDOWN_DELAY", "ORGSTACK_SHUTDOWN_TIMEOUT"} {
		v, ok := env[k]
		if !ok {
			return 0, fmt.Errorf("set %s explicitly: the grace period is computed from it", k)
		}
		d, err := time.ParseDuration(v)
		if err != nil {
			return 0, fmt.Errorf("%s: %v", k, err)
		}
		total += d
	}
	return total, nil
}

func urlHost(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	return u.Hostname()
}

func sameFile(a, b string) bool {
	fa, err1 := os.Stat(a)
	fb, err2 := os.Stat(b)
	return err1 == nil && err2 == nil && os.SameFile(fa, fb)
}

// composeSecretFile returns the file on disk of the service's secret that
// compose mounts at file, when there is one and it exists.
func composeSecretFile(p *types.Project, s types.ServiceConfig, file string) (string, bool) {
	for _, ref := range s.Secrets {
		target := ref.Target
		if target == "" {
			target = ref.Source
		}
		if !strings.HasPrefix(target, "/") {
			target = "/run/secrets/" + target
		}
		if target != file {
			continue
		}
		def, ok := p.Secrets[ref.Source]
		if !ok || def.File == "" {
			return "", false
		}
		_, err := os.Stat(def.File)
		return def.File, err == nil
	}
	return "", false
}
