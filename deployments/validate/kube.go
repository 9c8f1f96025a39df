package validate

import (
	"fmt"
	"net"
	"path"
	"slices"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	psa "k8s.io/pod-security-admission/api"
	"k8s.io/pod-security-admission/policy"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"

	"github.com/orgstack/orgstack/bootstrap"
)

// Objects are the typed objects a kustomization builds, by kind.
type Objects struct {
	Namespaces      []*corev1.Namespace
	ConfigMaps      []*corev1.ConfigMap
	Secrets         []*corev1.Secret
	Services        []*corev1.Service
	Deployments     []*appsv1.Deployment
	Jobs            []*batchv1.Job
	HPAs            []*autoscalingv2.HorizontalPodAutoscaler
	PDBs            []*policyv1.PodDisruptionBudget
	NetworkPolicies []*networkingv1.NetworkPolicy
}

// BuildKustomization builds the kustomization in dir as `kubectl apply -k`
// would (offline: no remote bases, no plugins) and decodes every object
// strictly into its k8s.io/api type: an unknown field, a misspelt key, a
// value of the wrong type or a kind OrgStack does not use is an error.
func BuildKustomization(dir string) (*Objects, error) {
	m, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		return nil, err
	}
	objs := &Objects{}
	for _, r := range m.Resources() {
		y, err := r.AsYAML()
		if err != nil {
			return nil, err
		}
		gvk := r.GetGvk()
		id := fmt.Sprintf("%s %s", gvk.Kind, r.GetName())
		var into any
		switch gvk.ApiVersion() + " " + gvk.Kind {
		case "v1 Namespace":
			into = add(&objs.Namespaces)
		case "v1 ConfigMap":
			into = add(&objs.ConfigMaps)
		case "v1 Secret":
			into = add(&objs.Secrets)
		case "v1 Service":
			into = add(&objs.Services)
		case "apps/v1 Deployment":
			into = add(&objs.Deployments)
		case "batch/v1 Job":
			into = add(&objs.Jobs)
		case "autoscaling/v2 HorizontalPodAutoscaler":
			into = add(&objs.HPAs)
		case "policy/v1 PodDisruptionBudget":
			into = add(&objs.PDBs)
		case "networking.k8s.io/v1 NetworkPolicy":
			into = add(&objs.NetworkPolicies)
		default:
			return nil, fmt.Errorf("%s: %s is not a kind the validator knows", id, gvk.ApiVersion())
		}
		if err := yaml.UnmarshalStrict(y, into); err != nil {
			return nil, fmt.Errorf("%s: %w", id, err)
		}
	}
	return objs, nil
}

// add appends a new T to list and returns it for decoding.
func add[T any](list *[]*T) *T {
	v := new(T)
	*list = append(*list, v)
	return v
}

// CheckKubernetes returns what is wrong with the objects of a build:
//   - one Deployment running `orgstack serve`: startup and liveness probes on
//     /livez, readiness on /readyz, on the port ORGSTACK_HTTP_ADDR listens
//     on; CPU and memory requests and a memory limit; non-root, no privilege
//     escalation, read-only root with an emptyDir on the working directory
//     and /tmp, every capability dropped, seccomp RuntimeDefault, no service
//     account token; topology spread; a termination grace period longer
//     than the drain; no replicas when an autoscaler owns them;
//   - every container: a pinned image, a command line orgstack accepts,
//     only variables orgstack reads (literal, from ConfigMaps and Secrets
//     that exist, with the keys named), *_FILE paths inside a mounted
//     Secret that has the key, secrets only in Secrets; the server's whole
//     configuration one `orgstack serve` accepts;
//   - every pod passes the "restricted" Pod Security Standard, evaluated by
//     the library the API server's admission uses (k8s.io/pod-security-admission);
//   - a Job that runs `migrate up` with the same security context;
//   - a Service, a HorizontalPodAutoscaler (autoscaling/v2) and a
//     PodDisruptionBudget that all reach the Deployment's pods and not the
//     Job's;
//   - a NetworkPolicy over the servers and the Job, both directions, that
//     lets the API and metrics ports in and DNS (UDP and TCP 53),
//     PostgreSQL (5432), Redis (6379) and HTTPS (443) out, with no rule that
//     allows every port.
func CheckKubernetes(o *Objects) []string {
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	if len(o.Deployments) != 1 {
		bad("want one Deployment, have %d", len(o.Deployments))
		return problems
	}
	d := o.Deployments[0]
	pod := d.Spec.Template
	where := "Deployment " + d.Name
	problems = append(problems, checkPodSecurity(where, &pod.Spec)...)
	var server *corev1.Container
	for i := range pod.Spec.Containers {
		c := &pod.Spec.Containers[i]
		env, files, ps := containerEnv(o, where, &pod.Spec, c)
		problems = append(problems, ps...)
		if len(c.Args) > 0 && c.Args[0] == "serve" {
			server = c
			if err := checkServe(env, files); err != nil {
				bad("%s: orgstack serve would refuse this configuration: %v", where, err)
			}
			problems = append(problems, checkServer(where, &pod.Spec, c, env)...)
		}
	}
	if server == nil {
		bad("%s: no container runs `orgstack serve`", where)
	}
	if pod.Spec.TopologySpreadConstraints == nil {
		bad("%s: no topologySpreadConstraints", where)
	}
	for _, t := range pod.Spec.TopologySpreadConstraints {
		if !selects(t.LabelSelector, pod.Labels) {
			bad("%s: topology spread over %s does not select its own pods", where, t.TopologyKey)
		}
	}

	var jobPods []map[string]string
	migrates := 0
	for _, j := range o.Jobs {
		w := "Job " + j.Name
		jobPods = append(jobPods, j.Spec.Template.Labels)
		problems = append(problems, checkPodSecurity(w, &j.Spec.Template.Spec)...)
		if rp := j.Spec.Template.Spec.RestartPolicy; rp != corev1.RestartPolicyNever && rp != corev1.RestartPolicyOnFailure {
			bad("%s: restartPolicy %q", w, rp)
		}
		for i := range j.Spec.Template.Spec.Containers {
			c := &j.Spec.Template.Spec.Containers[i]
			_, _, ps := containerEnv(o, w, &j.Spec.Template.Spec, c)
			problems = append(problems, ps...)
			if slices.Equal(c.Args, []string{"migrate", "up"}) {
				migrates++
			}
		}
	}
	if migrates != 1 {
		bad("want one Job container that runs `migrate up`, have %d", migrates)
	}

	reaches := func(what string, sel *metav1.LabelSelector) {
		if !selects(sel, pod.Labels) {
			bad("%s does not select the Deployment's pods", what)
		}
		for _, l := range jobPods {
			if selects(sel, l) {
				bad("%s also selects the migration Job's pods", what)
			}
		}
	}
	if len(o.Services) == 0 {
		bad("no Service")
	}
	for _, s := range o.Services {
		reaches("Service "+s.Name, &metav1.LabelSelector{MatchLabels: s.Spec.Selector})
		for _, p := range s.Spec.Ports {
			if server != nil && !hasPort(server, p.TargetPort) {
				bad("Service %s: targetPort %s is no port of the server container", s.Name, p.TargetPort.String())
			}
		}
	}
	if len(o.HPAs) != 1 {
		bad("want one HorizontalPodAutoscaler, have %d", len(o.HPAs))
	}
	for _, h := range o.HPAs {
		ref := h.Spec.ScaleTargetRef
		if ref.Kind != "Deployment" || ref.Name != d.Name || ref.APIVersion != "apps/v1" {
			bad("HorizontalPodAutoscaler %s scales %s %s %s, not Deployment %s", h.Name, ref.APIVersion, ref.Kind, ref.Name, d.Name)
		}
		if h.Spec.MinReplicas == nil || *h.Spec.MinReplicas < 2 || *h.Spec.MinReplicas > h.Spec.MaxReplicas {
			bad("HorizontalPodAutoscaler %s: want 2 <= minReplicas <= maxReplicas", h.Name)
		}
		if d.Spec.Replicas != nil {
			bad("%s sets replicas, which HorizontalPodAutoscaler %s owns: every apply would reset them", where, h.Name)
		}
	}
	if len(o.PDBs) != 1 {
		bad("want one PodDisruptionBudget, have %d", len(o.PDBs))
	}
	for _, p := range o.PDBs {
		reaches("PodDisruptionBudget "+p.Name, p.Spec.Selector)
	}
	problems = append(problems, checkNetworkPolicies(o, pod.Labels, jobPods, server)...)
	for _, cm := range o.ConfigMaps {
		for k, v := range cm.Data {
			if secretName(k) || hasPassword(v) {
				bad("ConfigMap %s: %s looks like a secret: keep it in a Secret", cm.Name, k)
			}
		}
	}
	return problems
}

// checkServer checks the probes, resources and writable directories of the
// server container.
func checkServer(where string, spec *corev1.PodSpec, c *corev1.Container, env map[string]string) []string {
	var problems []string
	bad := func(format string, args ...any) {
		problems = append(problems, fmt.Sprintf("%s: container %s: %s", where, c.Name, fmt.Sprintf(format, args...)))
	}
	_, httpPort, _ := net.SplitHostPort(env["ORGSTACK_HTTP_ADDR"])
	if httpPort == "" {
		httpPort = "8080"
	}
	for _, pr := range []struct {
		name  string
		probe *corev1.Probe
		path  string
	}{
		{"startupProbe", c.StartupProbe, "/livez"},
		{"livenessProbe", c.LivenessProbe, "/livez"},
		{"readinessProbe", c.ReadinessProbe, "/readyz"},
	} {
		switch {
		case pr.probe == nil || pr.probe.HTTPGet == nil:
			bad("no HTTP %s", pr.name)
		case pr.probe.HTTPGet.Path != pr.path:
			bad("%s asks %s, want %s", pr.name, pr.probe.HTTPGet.Path, pr.path)
		case portNumber(c, pr.probe.HTTPGet.Port) != httpPort:
			bad("%s asks port %s, but orgstack listens on %s (ORGSTACK_HTTP_ADDR)", pr.name, pr.probe.HTTPGet.Port.String(), httpPort)
		}
	}
	for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		if _, ok := c.Resources.Requests[r]; !ok {
			bad("no %s request", r)
		}
	}
	if _, ok := c.Resources.Limits[corev1.ResourceMemory]; !ok {
		bad("no memory limit")
	}
	for _, dir := range []string{"/var/lib/orgstack", "/tmp"} {
		if !mountedOn(spec, c, dir, func(v corev1.Volume) bool { return v.EmptyDir != nil }) {
			bad("the read-only root needs an emptyDir on %s", dir)
		}
	}
	drain, err := drainTime(env)
	switch {
	case err != nil:
		bad("%v", err)
	case spec.TerminationGracePeriodSeconds == nil || float64(*spec.TerminationGracePeriodSeconds) <= drain.Seconds():
		bad("terminationGracePeriodSeconds must be longer than ORGSTACK_SHUTDOWN_DELAY + ORGSTACK_SHUTDOWN_TIMEOUT (%v)", drain)
	}
	return problems
}

// checkPodSecurity checks the security settings of a pod and each of its
// containers.
func checkPodSecurity(where string, spec *corev1.PodSpec) []string {
	var problems []string
	bad := func(format string, args ...any) {
		problems = append(problems, fmt.Sprintf("%s: %s", where, fmt.Sprintf(format, args...)))
	}
	problems = append(problems, checkRestricted(where, spec)...)
	psc := spec.SecurityContext
	if psc == nil || psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		bad("seccompProfile RuntimeDefault not set on the pod")
	}
	if spec.AutomountServiceAccountToken == nil || *spec.AutomountServiceAccountToken {
		bad("automountServiceAccountToken is not false (OrgStack does not call the Kubernetes API)")
	}
	for _, c := range append(slices.Clone(spec.InitContainers), spec.Containers...) {
		sc := c.SecurityContext
		if sc == nil {
			bad("container %s: no securityContext", c.Name)
			continue
		}
		nonRoot := (sc.RunAsNonRoot != nil && *sc.RunAsNonRoot) || (psc != nil && psc.RunAsNonRoot != nil && *psc.RunAsNonRoot)
		if !nonRoot {
			bad("container %s: runAsNonRoot is not true", c.Name)
		}
		if (sc.RunAsUser != nil && *sc.RunAsUser == 0) || (psc != nil && psc.RunAsUser != nil && *psc.RunAsUser == 0) {
			bad("container %s: runs as UID 0", c.Name)
		}
		if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
			bad("container %s: allowPrivilegeEscalation is not false", c.Name)
		}
		if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
			bad("container %s: readOnlyRootFilesystem is not true", c.Name)
		}
		if sc.Privileged != nil && *sc.Privileged {
			bad("container %s: privileged", c.Name)
		}
		if sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") || len(sc.Capabilities.Add) > 0 {
			bad("container %s: capabilities must drop ALL and add none", c.Name)
		}
		if p := imageProblem(c.Image); p != "" {
			bad("container %s: image %s: %s", c.Name, c.Image, p)
		}
		if len(c.Command) > 0 {
			bad("container %s: command replaces the image's entrypoint; set args", c.Name)
		}
		if err := bootstrap.CheckCommandLine(c.Args); err != nil {
			bad("container %s: args %q: %v", c.Name, c.Args, err)
		}
	}
	return problems
}

func imageProblem(image string) string {
	if _, digest, ok := strings.Cut(image, "@"); ok {
		if strings.HasPrefix(digest, "sha256:") && len(digest) == len("sha256:")+64 {
			return ""
		}
		return "malformed digest"
	}
	return tagProblem(image)
}

// containerEnv resolves a container's environment (envFrom, then env) to
// the values orgstack would see and checks every name and reference.
func containerEnv(o *Objects, where string, spec *corev1.PodSpec, c *corev1.Container) (env, files map[string]string, problems []string) {
	bad := func(format string, args ...any) {
		problems = append(problems, fmt.Sprintf("%s: container %s: %s", where, c.Name, fmt.Sprintf(format, args...)))
	}
	env, files = map[string]string{}, map[string]string{}
	for _, ef := range c.EnvFrom {
		switch {
		case ef.ConfigMapRef != nil:
			cm := findConfigMap(o, ef.ConfigMapRef.Name)
			if cm == nil {
				bad("envFrom: no ConfigMap %s", ef.ConfigMapRef.Name)
				continue
			}
			for k, v := range cm.Data {
				env[ef.Prefix+k] = v
			}
		case ef.SecretRef != nil:
			s := findSecret(o, ef.SecretRef.Name)
			if s == nil {
				bad("envFrom: no Secret %s", ef.SecretRef.Name)
				continue
			}
			for k, v := range s.Data {
				env[ef.Prefix+k] = string(v)
			}
		}
	}
	for _, e := range c.Env {
		switch {
		case e.ValueFrom == nil:
			env[e.Name] = e.Value
			if secretName(e.Name) || hasPassword(e.Value) {
				bad("%s is written in the manifest: take it from a Secret", e.Name)
			}
		case e.ValueFrom.SecretKeyRef != nil:
			ref := e.ValueFrom.SecretKeyRef
			s := findSecret(o, ref.Name)
			if s == nil {
				bad("%s: no Secret %s", e.Name, ref.Name)
				continue
			}
			v, ok := s.Data[ref.Key]
			if !ok {
				bad("%s: Secret %s has no key %s", e.Name, ref.Name, ref.Key)
			}
			env[e.Name] = string(v)
		case e.ValueFrom.ConfigMapKeyRef != nil:
			ref := e.ValueFrom.ConfigMapKeyRef
			cm := findConfigMap(o, ref.Name)
			if cm == nil {
				bad("%s: no ConfigMap %s", e.Name, ref.Name)
				continue
			}
			v, ok := cm.Data[ref.Key]
			if !ok {
				bad("%s: ConfigMap %s has no key %s", e.Name, ref.Name, ref.Key)
			}
			env[e.Name] = v
		default:
			env[e.Name] = "from-the-pod"
		}
	}
	for k, v := range env {
		if !KnownSetting(k) {
			bad("environment: orgstack reads no variable %s", k)
		}
		if strings.HasSuffix(k, "_FILE") {
			content, ok := fileInSecret(o, spec, c, v)
			if !ok {
				bad("%s=%s is no key of a Secret mounted in the container", k, v)
			}
			files[v] = content
		}
	}
	return env, files, problems
}

// fileInSecret returns the content of file when it is a key of a Secret
// volume mounted in c.
func fileInSecret(o *Objects, spec *corev1.PodSpec, c *corev1.Container, file string) (string, bool) {
	for _, m := range c.VolumeMounts {
		key, ok := strings.CutPrefix(path.Clean(file), path.Clean(m.MountPath)+"/")
		if !ok || m.SubPath != "" {
			continue
		}
		for _, v := range spec.Volumes {
			if v.Name != m.Name || v.Secret == nil {
				continue
			}
			s := findSecret(o, v.Secret.SecretName)
			if s == nil {
				return "", false
			}
			if len(v.Secret.Items) == 0 {
				b, ok := s.Data[key]
				return string(b), ok
			}
			for _, it := range v.Secret.Items {
				if it.Path == key {
					b, ok := s.Data[it.Key]
					return string(b), ok
				}
			}
		}
	}
	return "", false
}

// checkNetworkPolicies checks that a policy covers the servers and the Job
// both ways, with the ports OrgStack needs and no rule open to every port.
func checkNetworkPolicies(o *Objects, serverPods map[string]string, jobPods []map[string]string, server *corev1.Container) []string {
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	type port struct {
		proto string
		num   int
	}
	for _, pods := range append([]map[string]string{serverPods}, jobPods...) {
		var in, out []port
		covered := false
		for _, np := range o.NetworkPolicies {
			if !selects(&np.Spec.PodSelector, pods) {
				continue
			}
			covered = true
			if !slices.Contains(np.Spec.PolicyTypes, networkingv1.PolicyTypeIngress) || !slices.Contains(np.Spec.PolicyTypes, networkingv1.PolicyTypeEgress) {
				bad("NetworkPolicy %s: policyTypes must be Ingress and Egress", np.Name)
			}
			collect := func(list *[]port, ports []networkingv1.NetworkPolicyPort, what string) {
				if len(ports) == 0 {
					bad("NetworkPolicy %s: an %s rule without ports allows every port", np.Name, what)
				}
				for _, p := range ports {
					proto := "TCP"
					if p.Protocol != nil {
						proto = string(*p.Protocol)
					}
					if p.Port == nil || p.Port.Type != intstr.Int || p.EndPort != nil {
						bad("NetworkPolicy %s: %s port %v: name one port by number", np.Name, what, p.Port)
						continue
					}
					*list = append(*list, port{proto, p.Port.IntValue()})
				}
			}
			for _, r := range np.Spec.Ingress {
				collect(&in, r.Ports, "ingress")
			}
			for _, r := range np.Spec.Egress {
				collect(&out, r.Ports, "egress")
			}
		}
		if !covered {
			bad("no NetworkPolicy selects pods %v", pods)
			continue
		}
		for _, want := range []port{{"UDP", 53}, {"TCP", 53}, {"TCP", 5432}, {"TCP", 6379}, {"TCP", 443}} {
			if !slices.Contains(out, want) {
				bad("NetworkPolicy: pods %v may not reach %s %d", pods, want.proto, want.num)
			}
		}
		if server != nil && sameLabels(serverPods, pods) {
			for _, cp := range server.Ports {
				if !slices.Contains(in, port{string(cp.Protocol), int(cp.ContainerPort)}) {
					bad("NetworkPolicy: nothing may reach the server's port %s (%d)", cp.Name, cp.ContainerPort)
				}
			}
		}
	}
	return problems
}

func sameLabels(a, b map[string]string) bool { return labels.Equals(a, b) }

func selects(sel *metav1.LabelSelector, podLabels map[string]string) bool {
	if sel == nil {
		return false
	}
	s, err := metav1.LabelSelectorAsSelector(sel)
	return err == nil && !s.Empty() && s.Matches(labels.Set(podLabels))
}

func hasPort(c *corev1.Container, p intstr.IntOrString) bool {
	for _, cp := range c.Ports {
		if (p.Type == intstr.String && cp.Name == p.StrVal) || (p.Type == intstr.Int && cp.ContainerPort == p.IntVal) {
			return true
		}
	}
	return false
}

// portNumber resolves a probe's port (a number or a container port's name).
func portNumber(c *corev1.Container, p intstr.IntOrString) string {
	if p.Type == intstr.Int {
		return p.String()
	}
	for _, cp := range c.Ports {
		if cp.Name == p.StrVal {
			return fmt.Sprint(cp.ContainerPort)
		}
	}
	return "?" + p.StrVal
}

func mountedOn(spec *corev1.PodSpec, c *corev1.Container, dir string, kind func(corev1.Volume) bool) bool {
	for _, m := range c.VolumeMounts {
		if path.Clean(m.MountPath) != dir {
			continue
		}
		for _, v := range spec.Volumes {
			if v.Name == m.Name && kind(v) {
				return !m.ReadOnly
			}
		}
	}
	return false
}

func findConfigMap(o *Objects, name string) *corev1.ConfigMap {
	for _, cm := range o.ConfigMaps {
		if cm.Name == name {
			return cm
		}
	}
	return nil
}

func findSecret(o *Objects, name string) *corev1.Secret {
	for _, s := range o.Secrets {
		if s.Name == name {
			return s
		}
	}
	return nil
}

// checkRestricted evaluates a pod spec against the latest "restricted" Pod
// Security Standard with the checks the API server's admission runs.
func checkRestricted(where string, spec *corev1.PodSpec) []string {
	ev, err := policy.NewEvaluator(policy.DefaultChecks(), nil)
	if err != nil {
		return []string{fmt.Sprintf("%s: pod security evaluator: %v", where, err)}
	}
	lv := psa.LevelVersion{Level: psa.LevelRestricted, Version: psa.LatestVersion()}
	res := policy.AggregateCheckResults(ev.EvaluatePod(lv, &metav1.ObjectMeta{}, spec))
	var problems []string
	for i, reason := range res.ForbiddenReasons {
		problems = append(problems, fmt.Sprintf("%s: Pod Security Standard restricted: %s (%s)", where, reason, res.ForbiddenDetails[i]))
	}
	return problems
}
