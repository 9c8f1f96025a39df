package validate

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/orgstack/orgstack/bootstrap"
)

// repo is the repository root, seen from deployments/validate.
var repo = filepath.Join("..", "..")

func deployments(p ...string) string {
	return filepath.Join(append([]string{repo, "deployments"}, p...)...)
}

func lintFile(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	problems, err := LintDockerfile(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return problems
}

func wantNone(t *testing.T, what string, problems []string) {
	t.Helper()
	if len(problems) > 0 {
		t.Errorf("%s:\n  %s", what, strings.Join(problems, "\n  "))
	}
}

// TestDockerfiles: both images pass the lint, and the OrgStack image is
// built static, stamps the version into bootstrap and checks its health
// with a command orgstack has.
func TestDockerfiles(t *testing.T) {
	for _, f := range []string{deployments("Dockerfile"), deployments("idp", "Dockerfile")} {
		wantNone(t, f, lintFile(t, f))
	}
	b, err := os.ReadFile(deployments("Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	for _, want := range []string{
		"ENV CGO_ENABLED=0",
		"-X github.com/orgstack/orgstack/bootstrap.version=${VERSION}",
		"ARG VERSION",
		"FROM scratch",
		`CMD ["/usr/local/bin/orgstack", "healthcheck"`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("deployments/Dockerfile lacks %q", want)
		}
	}
	// The health check's command line is one orgstack accepts.
	for _, line := range strings.Split(text, "\n") {
		if _, cmd, ok := strings.Cut(line, `CMD ["/usr/local/bin/orgstack", `); ok {
			args := strings.Split(strings.Trim(strings.TrimSuffix(strings.TrimSpace(cmd), "]"), `"`), `", "`)
			if err := bootstrap.CheckCommandLine(args); err != nil {
				t.Errorf("%s: %v", line, err)
			}
		}
	}
	// The version variable the ldflags name exists (bootstrap/version.go).
	v, err := os.ReadFile(filepath.Join(repo, "bootstrap", "version.go"))
	if err != nil || !strings.Contains(string(v), "\nvar version = ") {
		t.Errorf("bootstrap/version.go has no package variable version for -X: %v", err)
	}
}

// TestLintCatchesBadDockerfiles: each rule of LintDockerfile fires.
func TestLintCatchesBadDockerfiles(t *testing.T) {
	const good = "FROM golang:1.26.8-bookworm AS build\nRUN true\n" +
		"FROM scratch\nCOPY --from=build --chown=0:0 /a /a\nUSER 65532:65532\nWORKDIR /w\n" +
		"HEALTHCHECK CMD [\"/a\", \"healthcheck\"]\nENTRYPOINT [\"/a\"]\nCMD [\"serve\"]\n"
	if p, err := LintDockerfile(strings.NewReader(good)); err != nil || len(p) > 0 {
		t.Fatalf("the good Dockerfile: %v %v", p, err)
	}
	tests := []struct {
		name, old, new, want string
	}{
		{"unpinned base", "golang:1.26.8-bookworm", "golang", "no tag"},
		{"latest", "golang:1.26.8-bookworm", "golang:latest", `tag "latest"`},
		{"named tag", "golang:1.26.8-bookworm", "golang:bookworm", "names no version"},
		{"ARG in FROM", "golang:1.26.8-bookworm", "golang:${GO}", "literally"},
		{"digest", "golang:1.26.8-bookworm", "golang@sha256:" + strings.Repeat("a", 64), ""},
		{"root", "USER 65532:65532", "USER 0", "root"},
		{"named user", "USER 65532:65532", "USER nonroot", "numeric UID"},
		{"no user", "USER 65532:65532\n", "", "no USER"},
		{"no healthcheck", "HEALTHCHECK CMD [\"/a\", \"healthcheck\"]\n", "", "no HEALTHCHECK"},
		{"shell healthcheck", "HEALTHCHECK CMD [\"/a\", \"healthcheck\"]", "HEALTHCHECK CMD curl -f http://x/", "exec form"},
		{"shell cmd", "CMD [\"serve\"]", "CMD serve", "shell form"},
		{"no workdir", "WORKDIR /w\n", "", "WORKDIR"},
		{"no chown", "--chown=0:0 ", "", "--chown"},
		{"ADD URL", "RUN true", "ADD https://example.com/x.tgz /x", "ADD https://"},
		{"secret ENV", "RUN true", "ENV DB_PASSWORD=x", "ENV DB_PASSWORD"},
		{"password in a URL", "RUN true", "ENV DSN=postgres://u:p@db/x", "password"},
		{"secret ARG", "RUN true", "ARG API_TOKEN", "ARG API_TOKEN"},
		{"BuildKit's own rules", "AS build", "as build", "FromAsCasing"},
		{"parser warnings", "RUN true", "RUN true \\\n\n  && false", "Empty continuation"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := strings.Replace(good, tt.old, tt.new, 1)
			if src == good {
				t.Fatalf("%q is not in the good Dockerfile", tt.old)
			}
			p, err := LintDockerfile(strings.NewReader(src))
			if err != nil {
				t.Fatal(err)
			}
			joined := strings.Join(p, "\n")
			if tt.want == "" && len(p) > 0 || tt.want != "" && !strings.Contains(joined, tt.want) {
				t.Errorf("got %q; want a problem containing %q", p, tt.want)
			}
		})
	}
}

// TestDockerignore: the build context (the repository root) leaves out
// history, databases, keys, npm installs and CI output, and keeps what the
// two images build from.
func TestDockerignore(t *testing.T) {
	f, err := os.Open(filepath.Join(repo, ".dockerignore"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	patterns, err := ignorefile.ReadAll(f)
	if err != nil {
		t.Fatal(err)
	}
	m, err := patternmatcher.New(patterns)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{
		".git", ".git/config", "orgstack-dev.db", "orgstack-dev.db-wal", "adapters/sqlstore/x.db", "orgstack-dev.key",
		"certs/tls.pem", ".ci/idp/node_modules/oidc-provider/package.json", ".ci/lint/node_modules/x",
		".ci/perf/run.sh", "deployments/.env", "orgstack", "tmp/x", "bootstrap/bootstrap.test",
	} {
		if ok, _ := m.MatchesOrParentMatches(p); !ok {
			t.Errorf("%s is in the build context", p)
		}
	}
	for _, p := range []string{
		"go.mod", "go.sum", "main.go", "bootstrap/cli.go", "adapters/sqlstore/migrations/postgres/x.sql",
		"adapters/httpapi/openapi.json", ".ci/idp/package.json", ".ci/idp/package-lock.json", ".ci/idp/idp.mjs",
	} {
		if ok, _ := m.MatchesOrParentMatches(p); ok {
			t.Errorf("%s is left out of the build context, but an image needs it", p)
		}
	}
}

func loadCompose(t *testing.T, envFiles ...string) *types.Project {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	p, err := LoadCompose(ctx, deployments("compose.yaml"), envFiles...)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestCompose: the compose file loads as `docker compose` would load it,
// with its defaults and with the example .env, and passes every check.
func TestCompose(t *testing.T) {
	root, err := filepath.Abs(repo)
	if err != nil {
		t.Fatal(err)
	}
	for _, env := range [][]string{nil, {deployments("compose.env.example")}} {
		p := loadCompose(t, env...)
		wantNone(t, "compose.yaml with env "+strings.Join(env, ","), CheckCompose(p, root))
		if p.Services["orgstack-1"].Build == nil || len(p.Services) != 8 {
			t.Errorf("services %v", p.ServiceNames())
		}
	}
}

// TestComposeEnvExample: deployments/compose.env.example lists exactly the
// variables compose.yaml interpolates, so that it documents every knob.
func TestComposeEnvExample(t *testing.T) {
	yml, err := os.ReadFile(deployments("compose.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	used := map[string]bool{}
	for _, m := range regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)`).FindAllStringSubmatch(string(yml), -1) {
		used[m[1]] = true
	}
	example, err := os.ReadFile(deployments("compose.env.example"))
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]bool{}
	for _, line := range strings.Split(string(example), "\n") {
		if k, _, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(line, "#") {
			listed[k] = true
			if !used[k] {
				t.Errorf("compose.env.example lists %s, which compose.yaml does not use", k)
			}
		}
	}
	for k := range used {
		if !listed[k] {
			t.Errorf("compose.yaml uses ${%s}, which compose.env.example does not list", k)
		}
	}
}

// TestComposeCatchesMistakes: each check of CheckCompose fires.
func TestComposeCatchesMistakes(t *testing.T) {
	root, _ := filepath.Abs(repo)
	str := func(s string) *string { return &s }
	tests := []struct {
		name   string
		break_ func(p *types.Project)
		want   string
	}{
		{"unknown variable", func(p *types.Project) { p.Services["orgstack-2"].Environment["ORGSTACK_DATABASE_URI"] = str("x") }, "no variable ORGSTACK_DATABASE_URI"},
		{"bad value", func(p *types.Project) { p.Services["orgstack-1"].Environment["ORGSTACK_SHUTDOWN_DELAY"] = str("soon") }, "ORGSTACK_SHUTDOWN_DELAY"},
		{"short grace", func(p *types.Project) {
			s := p.Services["orgstack-3"]
			d := types.Duration(25 * time.Second)
			s.StopGracePeriod = &d
			p.Services["orgstack-3"] = s
		}, "stop_grace_period"},
		{"unknown command", func(p *types.Project) {
			s := p.Services["migrate"]
			s.Command = types.ShellCommand{"migrate", "upp"}
			p.Services["migrate"] = s
		}, "migrate upp"},
		{"no wait for migration", func(p *types.Project) { delete(p.Services["orgstack-1"].DependsOn, "migrate") }, "must wait for migrate"},
		{"no health check", func(p *types.Project) {
			s := p.Services["redis"]
			s.HealthCheck = nil
			p.Services["redis"] = s
		}, "service redis: no health check"},
		{"curl health check", func(p *types.Project) {
			s := p.Services["orgstack-2"]
			s.HealthCheck = &types.HealthCheckConfig{Test: types.HealthCheckTest{"CMD-SHELL", "curl -f http://127.0.0.1:8080/readyz"}}
			p.Services["orgstack-2"] = s
		}, "no shell or curl"},
		{"two instances", func(p *types.Project) { delete(p.Services, "orgstack-3") }, "at least three"},
		{"unpinned image", func(p *types.Project) {
			s := p.Services["redis"]
			s.Image = "redis"
			p.Services["redis"] = s
		}, "image redis: no tag"},
		{"no volume", func(p *types.Project) {
			s := p.Services["postgres"]
			s.Volumes = nil
			p.Services["postgres"] = s
		}, "named volume"},
		{"_FILE without a secret", func(p *types.Project) {
			s := p.Services["orgstack-1"]
			s.Secrets = nil
			p.Services["orgstack-1"] = s
		}, "ORGSTACK_INTROSPECTION_CLIENT_SECRET_FILE=/run/secrets/introspection_client_secret is no compose secret"},
		{"unknown host", func(p *types.Project) {
			p.Services["orgstack-1"].Environment["ORGSTACK_REDIS_URL"] = str("redis://cache:6379")
		}, "host cache"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := loadCompose(t)
			tt.break_(p)
			got := CheckCompose(p, root)
			if !strings.Contains(strings.Join(got, "\n"), tt.want) {
				t.Errorf("got %q; want a problem containing %q", got, tt.want)
			}
		})
	}
	if got := CheckHAProxy("backend x\n    server a a:8080\n", []string{"a", "b"}); len(got) != 3 {
		t.Errorf("CheckHAProxy with a missing server and no httpchk: %q", got)
	}
}

// TestKubernetes: the base and every overlay build offline, decode strictly
// into k8s.io/api types and pass every check; production also runs in a
// namespace that enforces the restricted Pod Security Standard, with a
// larger autoscaler and another image tag.
func TestKubernetes(t *testing.T) {
	overlays, err := filepath.Glob(deployments("kubernetes", "overlays", "*"))
	if err != nil || len(overlays) == 0 {
		t.Fatalf("no overlays: %v", err)
	}
	built := map[string]*Objects{}
	for _, dir := range append([]string{deployments("kubernetes", "base")}, overlays...) {
		o, err := BuildKustomization(dir)
		if err != nil {
			t.Fatalf("%s: %v", dir, err)
		}
		built[filepath.Base(dir)] = o
		wantNone(t, dir, CheckKubernetes(o))
	}
	prod := built["production"]
	if len(prod.Namespaces) != 1 || prod.Namespaces[0].Labels["pod-security.kubernetes.io/enforce"] != "restricted" {
		t.Errorf("production: want its own namespace enforcing the restricted Pod Security Standard")
	}
	if *prod.HPAs[0].Spec.MinReplicas < 3 {
		t.Errorf("production: minReplicas %d, want at least 3 (one per zone)", *prod.HPAs[0].Spec.MinReplicas)
	}
	if a, b := built["base"].Deployments[0].Spec.Template.Spec.Containers[0].Image, prod.Deployments[0].Spec.Template.Spec.Containers[0].Image; a == b {
		t.Errorf("production runs the base's placeholder image %s", a)
	}
	for _, d := range prod.Deployments {
		if d.Namespace != "orgstack" {
			t.Errorf("production Deployment in namespace %q", d.Namespace)
		}
	}
}

// TestKubernetesStrictDecoding: a misspelt field fails the build's
// decoding, as the API server would refuse it.
func TestKubernetesStrictDecoding(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("kustomization.yaml", "resources: [svc.yaml]\n")
	write("svc.yaml", "apiVersion: v1\nkind: Service\nmetadata: {name: x}\nspec:\n  selectr: {app: x}\n  ports: [{port: 80}]\n")
	if _, err := BuildKustomization(dir); err == nil || !strings.Contains(err.Error(), `unknown field "selectr"`) {
		t.Errorf("got %v; want the unknown field named", err)
	}
	write("svc.yaml", "apiVersion: v1\nkind: Service\nmetadata: {name: x}\nspec:\n  ports: [{port: eighty}]\n")
	if _, err := BuildKustomization(dir); err == nil {
		t.Errorf("a port that is not a number decoded")
	}
	write("svc.yaml", "apiVersion: v1\nkind: Pod\nmetadata: {name: x}\n")
	if _, err := BuildKustomization(dir); err == nil || !strings.Contains(err.Error(), "not a kind") {
		t.Errorf("got %v; want a kind OrgStack does not use refused", err)
	}
}

// TestKubernetesCatchesMistakes: each check of CheckKubernetes fires.
func TestKubernetesCatchesMistakes(t *testing.T) {
	server := func(o *Objects) *corev1.Container { return &o.Deployments[0].Spec.Template.Spec.Containers[0] }
	tests := []struct {
		name   string
		break_ func(o *Objects)
		want   string
	}{
		{"unknown variable", func(o *Objects) {
			server(o).Env = append(server(o).Env, corev1.EnvVar{Name: "ORGSTACK_LOGLEVEL", Value: "debug"})
		}, "no variable ORGSTACK_LOGLEVEL"},
		{"unknown command", func(o *Objects) { o.Jobs[0].Spec.Template.Spec.Containers[0].Args = []string{"migrate", "upward"} }, "upward"},
		{"probe path", func(o *Objects) { server(o).ReadinessProbe.HTTPGet.Path = "/healthz" }, "asks /healthz"},
		{"probe port", func(o *Objects) { server(o).LivenessProbe.HTTPGet.Port = intstr.FromInt32(9090) }, "port 9090"},
		{"root", func(o *Objects) {
			server(o).SecurityContext.RunAsNonRoot = nil
			o.Deployments[0].Spec.Template.Spec.SecurityContext.RunAsNonRoot = nil
		}, "runAsNonRoot"},
		{"writable root", func(o *Objects) { f := false; server(o).SecurityContext.ReadOnlyRootFilesystem = &f }, "readOnlyRootFilesystem"},
		{"capabilities", func(o *Objects) { server(o).SecurityContext.Capabilities.Drop = []corev1.Capability{"NET_RAW"} }, "drop ALL"},
		{"no emptyDir", func(o *Objects) { server(o).VolumeMounts = server(o).VolumeMounts[1:] }, "emptyDir on /var/lib/orgstack"},
		{"short grace", func(o *Objects) {
			g := int64(30)
			o.Deployments[0].Spec.Template.Spec.TerminationGracePeriodSeconds = &g
		}, "terminationGracePeriodSeconds"},
		{"replicas with an HPA", func(o *Objects) { n := int32(3); o.Deployments[0].Spec.Replicas = &n }, "owns"},
		{"missing secret key", func(o *Objects) {
			server(o).Env = append(server(o).Env, corev1.EnvVar{Name: "ORGSTACK_REDIS_URL", ValueFrom: &corev1.EnvVarSource{
				SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: o.Secrets[0].Name}, Key: "db"}}})
		}, "has no key db"},
		{"_FILE outside a secret", func(o *Objects) {
			server(o).Env = append(server(o).Env, corev1.EnvVar{Name: "ORGSTACK_INTROSPECTION_CLIENT_SECRET_FILE", Value: "/etc/secret"})
		}, "no key of a Secret mounted"},
		{"secret in a ConfigMap", func(o *Objects) { o.ConfigMaps[0].Data["ORGSTACK_INTROSPECTION_CLIENT_SECRET"] = "x" }, "looks like a secret"},
		{"no Redis egress", func(o *Objects) {
			np := o.NetworkPolicies[0]
			np.Spec.Egress = slices.DeleteFunc(np.Spec.Egress, func(r networkingv1.NetworkPolicyEgressRule) bool { return r.Ports[0].Port.IntValue() == 6379 })
		}, "may not reach TCP 6379"},
		{"allow-all egress", func(o *Objects) {
			np := o.NetworkPolicies[0]
			np.Spec.Egress = append(np.Spec.Egress, networkingv1.NetworkPolicyEgressRule{})
		}, "allows every port"},
		{"PDB on the Job", func(o *Objects) { delete(o.PDBs[0].Spec.Selector.MatchLabels, "app.kubernetes.io/component") }, "also selects the migration Job"},
		{"HPA target", func(o *Objects) { o.HPAs[0].Spec.ScaleTargetRef.Name = "orgstak" }, "not Deployment orgstack"},
		{"host network (restricted)", func(o *Objects) { o.Deployments[0].Spec.Template.Spec.HostNetwork = true }, "restricted: host namespaces"},
		{"latest", func(o *Objects) { server(o).Image = "registry.example.com/orgstack/orgstack:latest" }, `tag "latest"`},
		{"bad configuration", func(o *Objects) { o.ConfigMaps[0].Data["ORGSTACK_JWT_ALGORITHMS"] = "HS256" }, "HS256"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := BuildKustomization(deployments("kubernetes", "base"))
			if err != nil {
				t.Fatal(err)
			}
			tt.break_(o)
			got := CheckKubernetes(o)
			if !strings.Contains(strings.Join(got, "\n"), tt.want) {
				t.Errorf("got %q; want a problem containing %q", got, tt.want)
			}
		})
	}
}
