package deploy

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

// manifests is every object of deploy/k8s, decoded.
type manifests struct {
	configMaps   []*corev1.ConfigMap
	services     []*corev1.Service
	statefulSets []*appsv1.StatefulSet
	deployments  []*appsv1.Deployment
}

// kinds maps each kind the manifests may hold to its apiVersion and a
// constructor of its typed object. Any other kind fails the test: a new
// kind needs its checks here.
var kinds = map[string]struct {
	apiVersion string
	add        func(m *manifests) any
}{
	"ConfigMap":   {"v1", func(m *manifests) any { return appendNew(&m.configMaps) }},
	"Service":     {"v1", func(m *manifests) any { return appendNew(&m.services) }},
	"StatefulSet": {"apps/v1", func(m *manifests) any { return appendNew(&m.statefulSets) }},
	"Deployment":  {"apps/v1", func(m *manifests) any { return appendNew(&m.deployments) }},
}

// appendNew appends a new zero object to list and returns it, to decode
// into.
func appendNew[T any](list *[]*T) *T {
	o := new(T)
	*list = append(*list, o)
	return o
}

// decodeAll reads every *.yaml of dir, splits it into documents and
// decodes each strictly (an unknown or duplicate field is an error) into
// the Kubernetes API type of its kind.
func decodeAll(t *testing.T, dir string) *manifests {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests in %s (%v)", dir, err)
	}
	m := &manifests{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for i, doc := range splitDocuments(data) {
			var tm metav1.TypeMeta
			if err := yaml.Unmarshal(doc, &tm); err != nil {
				t.Fatalf("%s document %d: %v", f, i, err)
			}
			k, ok := kinds[tm.Kind]
			if !ok {
				t.Fatalf("%s document %d: kind %q is not one this test checks", f, i, tm.Kind)
			}
			if tm.APIVersion != k.apiVersion {
				t.Fatalf("%s document %d: %s has apiVersion %q, want %q", f, i, tm.Kind, tm.APIVersion, k.apiVersion)
			}
			if err := decodeStrict(doc, k.add(m)); err != nil {
				t.Fatalf("%s document %d (%s): %v", f, i, tm.Kind, err)
			}
		}
	}
	return m
}

// decodeStrict decodes one YAML document into obj as the API server does:
// field names match case-sensitively, and an unknown or duplicate field is
// an error. (sigs.k8s.io/yaml's own UnmarshalStrict uses encoding/json,
// which would accept "clusterIp" for "clusterIP".)
func decodeStrict(doc []byte, obj any) error {
	j, err := yaml.YAMLToJSONStrict(doc)
	if err != nil {
		return err
	}
	strict, err := kjson.UnmarshalStrict(j, obj)
	if err != nil {
		return err
	}
	return errors.Join(strict...)
}

// splitDocuments splits a YAML stream at its "---" lines, dropping
// documents that hold only comments or blanks.
func splitDocuments(data []byte) [][]byte {
	var docs [][]byte
	var cur bytes.Buffer
	flush := func() {
		for _, l := range strings.Split(cur.String(), "\n") {
			if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
				docs = append(docs, slices.Clone(cur.Bytes()))
				break
			}
		}
		cur.Reset()
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		if strings.TrimRight(sc.Text(), " ") == "---" {
			flush()
			continue
		}
		cur.WriteString(sc.Text() + "\n")
	}
	flush()
	return docs
}

func TestStrictDecodingRejectsUnknownFields(t *testing.T) {
	// The check the manifests rely on: a misspelt field must fail.
	doc := []byte("apiVersion: v1\nkind: Service\nmetadata: {name: x}\nspec:\n  clusterIp: None\n")
	if err := decodeStrict(doc, &corev1.Service{}); err == nil || !strings.Contains(err.Error(), "clusterIp") {
		t.Fatalf("strict decoding of a misspelt field: err = %v, want an unknown-field error naming clusterIp", err)
	}
	dup := []byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata: {a: b}\ndata: {c: d}\n")
	if err := decodeStrict(dup, &corev1.ConfigMap{}); err == nil {
		t.Fatal("strict decoding of a duplicate field succeeded")
	}
	if got := len(splitDocuments([]byte("# only a comment\n---\na: 1\n---\n\n"))); got != 1 {
		t.Fatalf("splitDocuments found %d documents, want 1", got)
	}
}

func TestKubernetesManifests(t *testing.T) {
	m := decodeAll(t, "k8s")
	if len(m.statefulSets) != 1 || len(m.deployments) != 2 || len(m.configMaps) != 1 {
		t.Fatalf("want one seed StatefulSet, the peer and dashboard Deployments and one ConfigMap; got %d, %d, %d",
			len(m.statefulSets), len(m.deployments), len(m.configMaps))
	}
	sts, cm := m.statefulSets[0], m.configMaps[0]
	dep, dashDep := findDeployment(t, m, "peer"), findDeployment(t, m, "dashboard")

	// No object pins a namespace: config.txt's short names
	// (seed-0.seed) resolve in whichever namespace the files are applied to.
	for _, o := range allObjects(m) {
		if o.Namespace != "" {
			t.Errorf("%s sets namespace %q; the files are applied with kubectl -n", o.Name, o.Namespace)
		}
	}

	// The StatefulSet's headless Service: it exists, selects exactly the
	// seed pods and exposes the seed port.
	svc := findService(t, m, sts.Spec.ServiceName)
	if svc.Spec.ClusterIP != corev1.ClusterIPNone {
		t.Errorf("service %s: clusterIP %q, want None (headless, for stable pod names)", svc.Name, svc.Spec.ClusterIP)
	}
	seedPod, peerPod, dashPod := &sts.Spec.Template, &dep.Spec.Template, &dashDep.Spec.Template
	if !selects(svc.Spec.Selector, seedPod.Labels) {
		t.Errorf("service %s selector %v does not select the seed pods' labels %v", svc.Name, svc.Spec.Selector, seedPod.Labels)
	}
	if selects(svc.Spec.Selector, peerPod.Labels) {
		t.Errorf("service %s selector %v also selects the peers", svc.Name, svc.Spec.Selector)
	}
	for _, w := range []struct {
		name     string
		selector *metav1.LabelSelector
		pod      *corev1.PodTemplateSpec
	}{{"statefulset " + sts.Name, sts.Spec.Selector, seedPod}, {"deployment " + dep.Name, dep.Spec.Selector, peerPod},
		{"deployment " + dashDep.Name, dashDep.Spec.Selector, dashPod}} {
		sel, err := metav1.LabelSelectorAsSelector(w.selector)
		if err != nil || sel.Empty() || !sel.Matches(labels.Set(w.pod.Labels)) {
			t.Errorf("%s: selector %v does not match its pod template's labels %v (%v)", w.name, w.selector, w.pod.Labels, err)
		}
	}

	seed := onlyContainer(t, "seed", seedPod)
	peer := onlyContainer(t, "peer", peerPod)
	dash := onlyContainer(t, "dashboard", dashPod)

	// Every Service selects the pods of exactly one workload, and its
	// target ports are ports their container declares.
	pods := map[string]*corev1.PodTemplateSpec{"seed": seedPod, "peer": peerPod, "dashboard": dashPod}
	for _, sv := range m.services {
		var hit []string
		for name, pod := range pods {
			if selects(sv.Spec.Selector, pod.Labels) {
				hit = append(hit, name)
			}
		}
		if len(hit) != 1 {
			t.Errorf("service %s selects the pods of %q, want exactly one workload", sv.Name, hit)
			continue
		}
		for _, sp := range sv.Spec.Ports {
			if _, err := containerPort(&pods[hit[0]].Spec.Containers[0], sp.TargetPort); err != nil {
				t.Errorf("service %s port %s: %v", sv.Name, sp.Name, err)
			}
		}
	}
	seedPort := servicePort(t, svc, seed, "--listen")

	// Every node and the dashboard: probes on /healthz at the port --http
	// serves, the ConfigMap mounted where --config points, every $(VAR) in
	// args defined, and a non-root user; the nodes also Prometheus
	// annotations on that port (the dashboard has no whispernet_* series).
	for _, n := range []struct {
		name, command string
		pod           *corev1.PodTemplateSpec
		c             *corev1.Container
	}{{"seed", "seed", seedPod, seed}, {"peer", "peer", peerPod, peer}, {"dashboard", "watch", dashPod, dash}} {
		httpPort := flagPort(t, n.c, "--http")
		for _, p := range []struct {
			kind  string
			probe *corev1.Probe
		}{{"readiness", n.c.ReadinessProbe}, {"liveness", n.c.LivenessProbe}} {
			if p.probe == nil || p.probe.HTTPGet == nil {
				t.Errorf("%s: no %s probe with httpGet", n.name, p.kind)
				continue
			}
			if p.probe.HTTPGet.Path != "/healthz" {
				t.Errorf("%s: %s probe path %q, want /healthz", n.name, p.kind, p.probe.HTTPGet.Path)
			}
			if port, err := containerPort(n.c, p.probe.HTTPGet.Port); err != nil || port != httpPort {
				t.Errorf("%s: %s probe port %s is %d (%v), but --http serves %d", n.name, p.kind, p.probe.HTTPGet.Port.String(), port, err, httpPort)
			}
		}
		if a := n.pod.Annotations; n.name != "dashboard" && (a["prometheus.io/scrape"] != "true" || a["prometheus.io/path"] != "/metrics" || a["prometheus.io/port"] != strconv.Itoa(httpPort)) {
			t.Errorf("%s: prometheus annotations %v, want scrape true, path /metrics, port %d", n.name, a, httpPort)
		}
		checkConfigMount(t, n.name, n.pod, n.c, cm.Name)
		checkEnvRefs(t, n.name, n.c)
		sc := n.pod.Spec.SecurityContext
		if sc == nil || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot || sc.RunAsUser == nil || *sc.RunAsUser == 0 {
			t.Errorf("%s: pod security context %+v does not run as a non-root user", n.name, sc)
		}
		if len(n.c.Args) == 0 || n.c.Args[0] != n.command {
			t.Errorf("%s: args %q do not start with the %q subcommand", n.name, n.c.Args, n.command)
		}
	}
	if seed.Image != peer.Image || dash.Image != peer.Image {
		t.Errorf("images differ: seed %q, peer %q, dashboard %q", seed.Image, peer.Image, dash.Image)
	}
	// The dashboard asks each peer for /status on the peers' --http port.
	if sp, hp := flagValue(dash, "--status-port"), flagPort(t, peer, "--http"); sp != strconv.Itoa(hp) {
		t.Errorf("dashboard --status-port %q, but the peers serve /status on %d", sp, hp)
	}

	// config.txt names exactly the StatefulSet pods' DNS names on the seed
	// port, and each seed advertises its own entry.
	text, ok := cm.Data["config.txt"]
	if !ok {
		t.Fatalf("configmap %s has no config.txt", cm.Name)
	}
	var want []string
	for i := range int(ptrOr(sts.Spec.Replicas, 1)) {
		want = append(want, net.JoinHostPort(fmt.Sprintf("%s-%d.%s", sts.Name, i, svc.Name), strconv.Itoa(seedPort)))
	}
	if got := configEntries(text); !slices.Equal(got, want) {
		t.Errorf("config.txt lists %q, want the StatefulSet's pods %q", got, want)
	}
	adv := flagValue(seed, "--advertise")
	if wantAdv := "$(POD_NAME)." + svc.Name + ":" + strconv.Itoa(seedPort); adv != wantAdv {
		t.Errorf("seed --advertise %q, want %q (its config.txt entry)", adv, wantAdv)
	}
	if !envFrom(seed, "POD_NAME", "metadata.name") {
		t.Errorf("seed: POD_NAME is not the pod's metadata.name")
	}
	if adv := flagValue(peer, "--advertise"); adv != "$(POD_IP):"+strconv.Itoa(flagPort(t, peer, "--listen")) {
		t.Errorf("peer --advertise %q, want $(POD_IP) on its --listen port", adv)
	}
	if !envFrom(peer, "POD_IP", "status.podIP") {
		t.Errorf("peer: POD_IP is not the pod's status.podIP")
	}
}

func allObjects(m *manifests) []metav1.ObjectMeta {
	var out []metav1.ObjectMeta
	for _, o := range m.configMaps {
		out = append(out, o.ObjectMeta)
	}
	for _, o := range m.services {
		out = append(out, o.ObjectMeta)
	}
	for _, o := range m.statefulSets {
		out = append(out, o.ObjectMeta)
	}
	for _, o := range m.deployments {
		out = append(out, o.ObjectMeta)
	}
	return out
}

func findDeployment(t *testing.T, m *manifests, name string) *appsv1.Deployment {
	t.Helper()
	for _, d := range m.deployments {
		if d.Name == name {
			return d
		}
	}
	t.Fatalf("no deployment %q", name)
	return nil
}

func findService(t *testing.T, m *manifests, name string) *corev1.Service {
	t.Helper()
	for _, s := range m.services {
		if s.Name == name {
			return s
		}
	}
	t.Fatalf("no service %q (the StatefulSet's serviceName)", name)
	return nil
}

// selects reports whether a Service selector (a non-empty label subset)
// selects a pod with these labels.
func selects(sel, podLabels map[string]string) bool {
	return len(sel) > 0 && labels.SelectorFromSet(sel).Matches(labels.Set(podLabels))
}

func onlyContainer(t *testing.T, name string, pod *corev1.PodTemplateSpec) *corev1.Container {
	t.Helper()
	if len(pod.Spec.Containers) != 1 {
		t.Fatalf("%s pod: %d containers, want 1", name, len(pod.Spec.Containers))
	}
	return &pod.Spec.Containers[0]
}

// containerPort resolves a named or numbered port to one the container
// declares.
func containerPort(c *corev1.Container, p intstr.IntOrString) (int, error) {
	for _, cp := range c.Ports {
		if (p.Type == intstr.String && cp.Name == p.StrVal) || (p.Type == intstr.Int && cp.ContainerPort == p.IntVal) {
			return int(cp.ContainerPort), nil
		}
	}
	return 0, fmt.Errorf("container %s declares no port %s", c.Name, p.String())
}

// servicePort returns the port of flag (--listen) and checks that the
// service exposes it on the same number, as config.txt's entries use it.
func servicePort(t *testing.T, svc *corev1.Service, c *corev1.Container, flag string) int {
	t.Helper()
	port := flagPort(t, c, flag)
	for _, sp := range svc.Spec.Ports {
		if tp, err := containerPort(c, sp.TargetPort); err == nil && tp == port {
			if int(sp.Port) != port {
				t.Errorf("service %s maps port %d to the seed's %d: config.txt's names use the pod port", svc.Name, sp.Port, port)
			}
			return port
		}
	}
	t.Fatalf("service %s exposes no port for %s %d", svc.Name, flag, port)
	return 0
}

// flagValue returns the value of --name=value or --name value in args.
func flagValue(c *corev1.Container, name string) string {
	for i, a := range c.Args {
		if v, ok := strings.CutPrefix(a, name+"="); ok {
			return v
		}
		if a == name && i+1 < len(c.Args) {
			return c.Args[i+1]
		}
	}
	return ""
}

// flagPort returns the port of a HOST:PORT flag and checks that the
// container declares it.
func flagPort(t *testing.T, c *corev1.Container, name string) int {
	t.Helper()
	v := flagValue(c, name)
	_, ps, err := net.SplitHostPort(v)
	port, perr := strconv.Atoi(ps)
	if err != nil || perr != nil {
		t.Fatalf("container %s: %s %q is not HOST:PORT", c.Name, name, v)
	}
	if _, err := containerPort(c, intstr.FromInt32(int32(port))); err != nil {
		t.Errorf("%s %d: %v", name, port, err)
	}
	return port
}

// checkConfigMount checks that --config names config.txt inside a
// read-only mount of the ConfigMap.
func checkConfigMount(t *testing.T, name string, pod *corev1.PodTemplateSpec, c *corev1.Container, cmName string) {
	t.Helper()
	path := flagValue(c, "--config")
	if filepath.Base(path) != "config.txt" {
		t.Errorf("%s: --config %q does not name config.txt", name, path)
		return
	}
	for _, vm := range c.VolumeMounts {
		if vm.MountPath != filepath.Dir(path) {
			continue
		}
		for _, v := range pod.Spec.Volumes {
			if v.Name == vm.Name && v.ConfigMap != nil && v.ConfigMap.Name == cmName && vm.ReadOnly {
				return
			}
		}
	}
	t.Errorf("%s: --config %q is not in a read-only mount of configmap %s", name, path, cmName)
}

var envRef = regexp.MustCompile(`\$\(([A-Za-z_][A-Za-z0-9_]*)\)`)

// checkEnvRefs checks that every $(VAR) in args names an env variable of
// the container: Kubernetes leaves an undefined reference as it is.
func checkEnvRefs(t *testing.T, name string, c *corev1.Container) {
	t.Helper()
	for _, a := range c.Args {
		for _, m := range envRef.FindAllStringSubmatch(a, -1) {
			if !slices.ContainsFunc(c.Env, func(e corev1.EnvVar) bool { return e.Name == m[1] }) {
				t.Errorf("%s: argument %q uses $(%s), which the container does not define", name, a, m[1])
			}
		}
	}
}

func envFrom(c *corev1.Container, name, fieldPath string) bool {
	return slices.ContainsFunc(c.Env, func(e corev1.EnvVar) bool {
		return e.Name == name && e.ValueFrom != nil && e.ValueFrom.FieldRef != nil && e.ValueFrom.FieldRef.FieldPath == fieldPath
	})
}

// configEntries returns config.txt's seed entries: blank lines and #
// comments skipped, as the config package reads it.
func configEntries(text string) []string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if l, _, _ = strings.Cut(l, "#"); strings.TrimSpace(l) != "" {
			out = append(out, strings.TrimSpace(l))
		}
	}
	return out
}

func ptrOr[T any](p *T, d T) T {
	if p == nil {
		return d
	}
	return *p
}
