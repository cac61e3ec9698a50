package kindcluster

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/client"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/kind/pkg/apis/config/v1alpha4"
	"sigs.k8s.io/yaml"
)

// The integration tests' own names, so they never collide with the
// product's (nova, novadev-registry, 127.0.0.1:5005) or with the e2e lock's
// host port 20080 (their config has no host port mappings).
// NOVADEV_KINDCLUSTER_TEST_SUFFIX (default k2) and
// NOVADEV_KINDCLUSTER_TEST_PORT (default 5105) rename them, so a developer
// can run the tests beside a CI run that holds nova-k2.
var (
	testSuffix       = envOr("NOVADEV_KINDCLUSTER_TEST_SUFFIX", "k2")
	testCluster      = "nova-" + testSuffix
	testRegistry     = "novadev-registry-" + testSuffix
	testRegistryPort = atoiOr(os.Getenv("NOVADEV_KINDCLUSTER_TEST_PORT"), 5105)
	testRegistryHost = fmt.Sprintf("localhost:%d", testRegistryPort)
)

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

func atoiOr(s string, def int) int {
	if n, err := strconv.Atoi(s); err == nil && n > 0 {
		return n
	}
	return def
}

// integration returns an engine, or skips with the reason (fails under
// NOVADEV_E2E=1, as every integration test of the project) when the
// machinery is absent: a Docker engine, the offline node image, the
// registry image and the images to load.
func integration(t testing.TB, images ...string) *Moby {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test: skipped in -short mode")
	}
	skip := func(format string, args ...any) {
		t.Helper()
		if os.Getenv("NOVADEV_E2E") == "1" {
			t.Fatalf("NOVADEV_E2E=1 but "+format, args...)
		}
		t.Skipf("integration test skipped: "+format, args...)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	eng, err := ConnectEngine(ctx)
	if err != nil {
		skip("%v", err)
	}
	t.Cleanup(func() { eng.Close() })
	for _, img := range append([]string{OfflineNodeImage, DefaultRegistryImage}, images...) {
		if _, err := eng.ImageInspect(ctx, img); err != nil {
			skip("image %s is not built (scripts/kind-node/build.sh; scripts/images/build.sh registry and the offline set): %v", img, err)
		}
	}
	return eng
}

// testConfig is the rendered kind/cluster.yaml as the product renders it,
// with the test's cluster and registry names and no host port mappings: the
// containerd mirror patch is the rendered one, only renamed.
func testConfig(t testing.TB) (cluster, hosting []byte) {
	t.Helper()
	raw, err := os.ReadFile("../../kind/cluster.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var c v1alpha4.Cluster
	if err := yaml.UnmarshalStrict(raw, &c); err != nil {
		t.Fatalf("kind/cluster.yaml: %v", err)
	}
	c.Name = testCluster
	for i := range c.Nodes {
		c.Nodes[i].ExtraPortMappings = nil
	}
	if len(c.ContainerdConfigPatches) == 0 {
		t.Fatal("kind/cluster.yaml has no containerd mirror patch")
	}
	rename := strings.NewReplacer("localhost:5005", testRegistryHost, DefaultRegistryName+":5000", testRegistry+":5000")
	for i, p := range c.ContainerdConfigPatches {
		if !strings.Contains(p, `mirrors."localhost:5005"`) {
			t.Fatalf("containerd patch %d does not mirror localhost:5005: %s", i, p)
		}
		c.ContainerdConfigPatches[i] = rename.Replace(p)
	}
	out, err := yaml.Marshal(&c)
	if err != nil {
		t.Fatal(err)
	}
	h, err := os.ReadFile("../../kind/local-registry-hosting.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return out, []byte(rename.Replace(string(h)))
}

// progressLog collects progress lines and logs them.
type progressLog struct {
	t     testing.TB
	mu    sync.Mutex
	lines []string
}

func (l *progressLog) add(s string) {
	l.mu.Lock()
	l.lines = append(l.lines, s)
	l.mu.Unlock()
	l.t.Log("progress: " + s)
}

func (l *progressLog) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.lines
	l.lines = nil
	return out
}

func newTestCluster(t testing.TB, eng Engine) (*Provisioner, *progressLog, string) {
	cfg, hosting := testConfig(t)
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	log := &progressLog{t: t}
	p := New(Options{
		Name: testCluster, Config: cfg, RegistryHosting: hosting,
		RegistryName: testRegistry, RegistryPort: testRegistryPort,
		Kubeconfig: kubeconfig, Progress: log.add, Engine: eng,
		Addons: []Addon{testAddon(t)},
	})
	return p, log, kubeconfig
}

// engineImage is the NetworkPolicy engine the rendered addon runs
// (kind.NetworkPolicyEngineImage; this package does not import the renderer).
const engineImage = "novadev/kube-router:v2.1.0"

// testAddon is the rendered NetworkPolicy addon as internal/app configures
// it, pulling from the test's registry.
func testAddon(t testing.TB) Addon {
	t.Helper()
	raw, err := os.ReadFile("../../kind/addons/network-policy.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(raw), "image: localhost:5005/"+engineImage) {
		t.Fatalf("kind/addons/network-policy.yaml does not run localhost:5005/%s", engineImage)
	}
	return Addon{
		Name: "NetworkPolicy engine", Manifest: []byte(strings.ReplaceAll(string(raw), "localhost:5005/", testRegistryHost+"/")),
		DaemonSet: "kube-system/kube-router", Image: engineImage, Build: "scripts/netpol/build.sh",
		Without: "NetworkPolicies are rendered but NOT enforced",
	}
}

// TestIntegrationKindCluster proves the Provisioner on a real kind cluster
// of its own (nova-k2, registry novadev-registry-k2 on 127.0.0.1:5105):
// create with six images pushed meanwhile (Provision); reuse (the same
// node container); the registry-hosting ConfigMap; LoadImages then pushing
// nothing; a pod pulling
// localhost:5105/novadev/placeholder:dev through the rendered containerd
// mirror; Doctor all ok; a stopped node started again by Ensure; Delete
// removing cluster, context and registry.
func TestIntegrationKindCluster(t *testing.T) {
	eng := integration(t, append(slices.Clone(offline), engineImage)...)
	p, log, kubeconfig := newTestCluster(t, eng)
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	// A run killed before its cleanup leaves its cluster behind; it is ours.
	if err := p.Delete(ctx); err != nil {
		t.Fatal(err)
	}
	log.take()
	t.Cleanup(func() {
		if err := p.Delete(context.Background()); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	node := testCluster + "-control-plane"

	// Provision on no cluster: the registry first, the six images pushed
	// while kind creates the cluster
	start := time.Now()
	kctx, r, err := p.Provision(ctx, offline)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("create with %d images pushed meanwhile: %.1fs", len(offline), time.Since(start).Seconds())
	if kctx != "kind-"+testCluster {
		t.Errorf("context %q", kctx)
	}
	if pushed, _ := r.Counts(); pushed != len(offline) {
		t.Fatalf("pushed during the create: %v, want all %d", r, len(offline))
	}
	lines := log.take()
	at := func(prefix string) int {
		return slices.IndexFunc(lines, func(s string) bool { return strings.HasPrefix(s, prefix) })
	}
	created, registry, images := at("creating cluster "+testCluster+" (node image "+OfflineNodeImage+": the offline node image"), at("creating registry "+testRegistry), at("images: ")
	if created < 0 || registry < 0 || images < 0 || registry > created {
		t.Errorf("progress %q: want the registry created, then the cluster (its node image and which one), and the images line", lines)
	}
	kc, err := clientcmd.LoadFromFile(kubeconfig)
	if err != nil || kc.Contexts[kctx] == nil {
		t.Fatalf("kubeconfig %s: context %s missing (%v)", kubeconfig, kctx, err)
	}
	first, err := eng.ContainerInspect(ctx, node)
	if err != nil || !first.Running {
		t.Fatalf("node container %s: %+v %v", node, first, err)
	}
	reg, err := eng.ContainerInspect(ctx, testRegistry)
	if err != nil || !reg.Running || !slices.Equal(reg.HostPorts, []string{fmt.Sprintf("127.0.0.1:%d", testRegistryPort)}) || !slices.Contains(reg.Networks, KindNetwork) {
		t.Fatalf("registry container: %+v %v", reg, err)
	}

	cs, err := p.client()
	if err != nil {
		t.Fatal(err)
	}
	// a pod can be created at once: the default ServiceAccount is there
	// (CI once created one before the controller manager had made it)
	if _, err := cs.CoreV1().ServiceAccounts("default").Get(ctx, "default", metav1.GetOptions{}); err != nil {
		t.Fatalf("right after Provision: %v", err)
	}
	cm, err := cs.CoreV1().ConfigMaps("kube-public").Get(ctx, "local-registry-hosting", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("KEP-1755 ConfigMap: %v", err)
	}
	if h := cm.Data["localRegistryHosting.v1"]; !strings.Contains(h, `host: "`+testRegistryHost+`"`) || !strings.Contains(h, testRegistry+":5000") {
		t.Errorf("local-registry-hosting: %q", h)
	}

	// Reuse: a second Ensure does not recreate.
	start = time.Now()
	if _, err := p.Ensure(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("reuse: %.1fs", time.Since(start).Seconds())
	again, err := eng.ContainerInspect(ctx, node)
	if err != nil || again.ID != first.ID {
		t.Fatalf("second Ensure: node container %s, want %s (reused) (%v)", again.ID, first.ID, err)
	}
	if lines := log.take(); !slices.ContainsFunc(lines, func(s string) bool { return strings.HasPrefix(s, "reusing cluster "+testCluster+" (1 node(s) Ready") }) {
		t.Errorf("reuse progress %q", lines)
	}

	// Images: pushed during the create, so none now.
	start = time.Now()
	r, err = p.Load(ctx, offline)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("second push, nothing changed: %.2fs", time.Since(start).Seconds())
	if pushed, unchanged := r.Counts(); pushed != 0 || unchanged != len(offline) {
		t.Fatalf("second load: %v, want nothing pushed", r)
	}
	log.take()

	// A pod pulls through the rendered containerd mirror: the image was
	// never loaded into the node, only pushed to the registry.
	pullThroughMirror(ctx, t, p, testRegistryHost+"/novadev/placeholder:dev")

	for _, f := range p.Doctor(ctx) {
		t.Log("doctor: " + f.String())
		if f.Check == "NetworkPolicy engine" {
			if f.Status != Warn || !strings.Contains(f.Detail, "not installed on cluster "+testCluster) {
				t.Errorf("doctor before the addon is applied: %s, want a warning that it is not installed", f)
			}
			continue
		}
		if f.Status != OK {
			t.Errorf("doctor on a healthy cluster: %s", f)
		}
	}

	// A stopped node (a laptop reboot without restart policies, a docker
	// stop) is started again by Ensure, and the cluster answers again.
	stopNode(ctx, t, eng, node)
	if f := p.Doctor(ctx); !slices.ContainsFunc(f, func(f Finding) bool { return f.Check == "cluster" && f.Status == Fail }) {
		t.Errorf("doctor with the node stopped: %v, want the cluster check failing", f)
	}
	start = time.Now()
	if _, err := p.Ensure(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("restart of a stopped node: %.1fs", time.Since(start).Seconds())
	if lines := log.take(); !slices.ContainsFunc(lines, func(s string) bool {
		return strings.HasPrefix(s, "starting stopped node "+testCluster+"-control-plane")
	}) {
		t.Errorf("restart progress %q", lines)
	}
	if c, err := eng.ContainerInspect(ctx, node); err != nil || c.ID != first.ID || !c.Running {
		t.Errorf("after restart: %+v %v, want the same container running", c, err)
	}

	// The NetworkPolicy engine, as up --target kind installs it: its image
	// pushed like the others, the addon applied, its DaemonSet ready; a
	// second apply writes nothing.
	// (After the restart above: a node restarted with the engine running
	// once left a pod's runc init frozen in the cgroup v1 freezer here, and
	// the node container could not be removed; that is not what this
	// checks.)
	addon := p.Addons()[0]
	cs, err = p.client() // the restart may have moved the API server's host port
	if err != nil {
		t.Fatal(err)
	}
	if there, err := p.AddonInstalled(ctx, addon); err != nil || there {
		t.Errorf("AddonInstalled before the apply: %v %v, want false", there, err)
	}
	start = time.Now()
	if r, err := p.Load(ctx, []string{addon.Image}); err != nil {
		t.Fatal(err)
	} else if pushed, _ := r.Counts(); pushed != 1 {
		t.Fatalf("engine image load: %v, want it pushed", r)
	}
	rep, err := p.ApplyAddon(ctx, addon)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("engine pushed, applied and ready in %.1fs (DaemonSet ready after %.1fs)", time.Since(start).Seconds(), rep.Ready.Seconds())
	want := []string{"ServiceAccount/kube-system/kube-router", "ClusterRole/kube-router", "ClusterRoleBinding/kube-router", "DaemonSet/kube-system/kube-router"}
	if !slices.Equal(rep.Applied, want) || len(rep.Unchanged) != 0 {
		t.Errorf("first apply: %+v, want %v applied", rep, want)
	}
	ds, err := cs.AppsV1().DaemonSets("kube-system").Get(ctx, "kube-router", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if ds.Status.NumberReady != 1 || ds.Spec.Template.Spec.Containers[0].Image != testRegistryHost+"/"+engineImage || ds.Annotations[AnnotationHash] == "" {
		t.Errorf("DaemonSet after apply: ready %d, image %s, hash %q", ds.Status.NumberReady, ds.Spec.Template.Spec.Containers[0].Image, ds.Annotations[AnnotationHash])
	}
	if mf := ds.ManagedFields; len(mf) == 0 || !slices.ContainsFunc(mf, func(m metav1.ManagedFieldsEntry) bool {
		return m.Manager == FieldManager && m.Operation == metav1.ManagedFieldsOperationApply
	}) {
		t.Errorf("DaemonSet managed fields %v: want a server-side apply by %s", mf, FieldManager)
	}
	rep, err = p.ApplyAddon(ctx, addon)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Applied) != 0 || len(rep.Unchanged) != 4 || rep.Ready != 0 {
		t.Errorf("second apply: %+v, want 4 unchanged, nothing applied, no wait", rep)
	}
	again2, err := cs.AppsV1().DaemonSets("kube-system").Get(ctx, "kube-router", metav1.GetOptions{})
	if err != nil || again2.ResourceVersion != ds.ResourceVersion {
		t.Errorf("second apply moved the DaemonSet's resourceVersion %s -> %s (%v)", ds.ResourceVersion, again2.ResourceVersion, err)
	}
	if there, err := p.AddonInstalled(ctx, addon); err != nil || !there {
		t.Errorf("AddonInstalled after the apply: %v %v, want true", there, err)
	}
	log.take()
	if f := p.addonFinding(ctx, eng, addon, true, true); f.Status != OK {
		t.Errorf("doctor with the addon applied: %s", f)
	}

	start = time.Now()
	if err := p.Delete(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("delete: %.1fs", time.Since(start).Seconds())
	if exists, err := p.exists(); err != nil || exists {
		t.Errorf("after Delete: cluster exists=%v (%v)", exists, err)
	}
	for _, name := range []string{node, testRegistry} {
		if _, err := eng.ContainerInspect(ctx, name); !errors.Is(err, ErrNotFound) {
			t.Errorf("after Delete: container %s: %v, want not found", name, err)
		}
	}
	if kc, err := clientcmd.LoadFromFile(kubeconfig); err == nil && kc.Contexts[kctx] != nil {
		t.Errorf("after Delete: context %s still in %s", kctx, kubeconfig)
	}
}

// pullThroughMirror runs a pod of image with the placeholder's gRPC
// readiness probe and waits for it Ready: containerd pulled image from the
// registry through the mirror.
func pullThroughMirror(ctx context.Context, t *testing.T, p *Provisioner, image string) {
	t.Helper()
	cs, err := p.client()
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "pull-from-mirror", Namespace: "default"},
		Spec: corev1.PodSpec{
			Containers: []corev1.Container{{
				Name: "placeholder", Image: image, ImagePullPolicy: corev1.PullAlways,
				Env: []corev1.EnvVar{{Name: "NOVA_SERVICE", Value: "hello"}, {Name: "GRPC_PORT", Value: "50051"}, {Name: "METRICS_PORT", Value: "9090"}},
				ReadinessProbe: &corev1.Probe{
					ProbeHandler:  corev1.ProbeHandler{GRPC: &corev1.GRPCAction{Port: 50051}},
					PeriodSeconds: 1,
				},
				Ports: []corev1.ContainerPort{{ContainerPort: 50051, Name: "grpc"}},
			}},
		},
	}
	if _, err := cs.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	for {
		got, err := cs.CoreV1().Pods("default").Get(wctx, pod.Name, metav1.GetOptions{})
		if err == nil {
			for _, c := range got.Status.Conditions {
				if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
					t.Logf("pod of %s Ready in %.1fs (image %s)", image, time.Since(start).Seconds(), got.Status.ContainerStatuses[0].ImageID)
					return
				}
			}
		}
		select {
		case <-wctx.Done():
			var why []string
			if got != nil {
				for _, s := range got.Status.ContainerStatuses {
					if s.State.Waiting != nil {
						why = append(why, s.State.Waiting.Reason+": "+s.State.Waiting.Message)
					}
				}
			}
			evs, _ := cs.CoreV1().Events("default").List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.name=" + pod.Name})
			if evs != nil {
				for _, e := range evs.Items {
					why = append(why, e.Reason+": "+e.Message)
				}
			}
			t.Fatalf("pod of %s not Ready after 2m: %v; %s", image, err, strings.Join(why, "; "))
		case <-time.After(time.Second):
		}
	}
}

// stopNode stops a node container as `docker stop` does.
func stopNode(ctx context.Context, t *testing.T, eng *Moby, node string) {
	t.Helper()
	timeout := 10
	if _, err := eng.c.ContainerStop(ctx, node, client.ContainerStopOptions{Timeout: &timeout}); err != nil {
		t.Fatalf("docker stop %s: %v", node, err)
	}
}
