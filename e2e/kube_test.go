package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/novadev/novadev/internal/backend/docker/dockertest"
)

// devRegistry is the registry host the dev overlay's images are named under.
const devRegistry = "localhost:5005"

// kindImages are what the dev overlay runs: the offline set and novadev's
// own image (init containers, bootstrap Jobs).
var kindImages = []string{"novadev/postgres:15", "novadev/redis:7", "novadev/kafka:kfake", "novadev/clickhouse:18.16", "novadev/placeholder:dev", "novadev/novadev:dev"}

// skipOrFail skips with the reason, or fails under NOVADEV_E2E=1 (CI).
func skipOrFail(t *testing.T, format string, args ...any) {
	t.Helper()
	if os.Getenv("NOVADEV_E2E") == "1" {
		t.Fatalf("NOVADEV_E2E=1 but "+format, args...)
	}
	t.Skipf(format, args...)
}

// kindCLI finds the kind CLI: $NOVADEV_KIND, `kind` on PATH, or the one
// scripts/kind-node/smoke.sh builds into the cache. Test machinery only:
// the product path under test (--target kube) never calls kind.
func kindCLI(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("NOVADEV_KIND"); p != "" {
		return p
	}
	if p, err := exec.LookPath("kind"); err == nil {
		return p
	}
	cache := os.Getenv("NOVADEV_CACHE")
	if cache == "" {
		home, _ := os.UserHomeDir()
		cache = filepath.Join(home, ".cache", "novadev")
	}
	if m, _ := filepath.Glob(filepath.Join(cache, "bin", "kind-*", "kind")); len(m) > 0 {
		return m[len(m)-1]
	}
	skipOrFail(t, "no kind CLI (NOVADEV_KIND, PATH, or the cache scripts/kind-node/smoke.sh fills)")
	return ""
}

// kindCluster returns a kubeconfig file and context of a kind cluster:
// NOVADEV_KIND_CLUSTER (default novadev-e2e-kube) when it exists (reused,
// left running), else created under that name from the offline node image
// (no host ports published) and deleted afterwards.
func kindCluster(t *testing.T) (kubeconfig, kubeContext string) {
	t.Helper()
	kind := kindCLI(t)
	kubeconfig = filepath.Join(t.TempDir(), "kubeconfig")
	name := os.Getenv("NOVADEV_KIND_CLUSTER")
	if name == "" {
		name = "novadev-e2e-kube"
	}
	run := func(args ...string) {
		t.Helper()
		start := time.Now()
		out, err := exec.Command(kind, args...).CombinedOutput()
		require.NoError(t, err, "kind %s: %s", strings.Join(args, " "), out)
		t.Logf("kind %s: %s", args[0]+" "+args[1], time.Since(start).Round(100*time.Millisecond))
	}
	out, err := exec.Command(kind, "get", "clusters").Output()
	require.NoError(t, err)
	if slices.Contains(strings.Fields(string(out)), name) {
		run("export", "kubeconfig", "--name", name, "--kubeconfig", kubeconfig)
	} else {
		image := os.Getenv("NOVADEV_KIND_NODE_IMAGE")
		if image == "" {
			image = "novadev/kind-node:v1.34.4"
		}
		if err := exec.Command("docker", "image", "inspect", image).Run(); err != nil {
			skipOrFail(t, "node image %s missing (scripts/kind-node/build.sh)", image)
		}
		cfg := filepath.Join(t.TempDir(), "cluster.yaml")
		require.NoError(t, os.WriteFile(cfg, []byte("apiVersion: kind.x-k8s.io/v1alpha4\nkind: Cluster\nnodes:\n- role: control-plane\n"), 0o644))
		t.Cleanup(func() {
			start := time.Now()
			_ = exec.Command(kind, "delete", "cluster", "--name", name).Run()
			t.Logf("kind delete cluster: %s", time.Since(start).Round(100*time.Millisecond))
		})
		run("create", "cluster", "--name", name, "--image", image, "--config", cfg, "--kubeconfig", kubeconfig)
	}
	// the dev overlay names its images under the local registry the
	// rendered cluster config mirrors (localhost:5005/<name>); this test
	// side-loads them under both names instead of pushing
	load := []string{"load", "docker-image", "--name", name}
	for _, img := range kindImages {
		out, err := exec.Command("docker", "tag", img, devRegistry+"/"+img).CombinedOutput()
		require.NoError(t, err, "docker tag %s: %s", img, out)
		load = append(load, img, devRegistry+"/"+img)
	}
	run(load...)
	return kubeconfig, "kind-" + name
}

// kubeEnvFile is the local environment under its own project and
// namespace (nova-e2e-kube): the dev overlay, moved there.
func kubeEnvFile(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot(t), "envs", "local.yaml"))
	require.NoError(t, err)
	s := strings.Replace(string(data), "name: local", "name: e2e-kube", 1)
	s = strings.Replace(s, "project: nova-local", "project: nova-e2e-kube\nnamespace: nova-e2e-kube", 1)
	s = strings.Replace(s, "base: nova.yaml", "base: "+filepath.Join(repoRoot(t), "envs", "nova.yaml"), 1)
	path := filepath.Join(t.TempDir(), "e2e-kube.yaml")
	require.NoError(t, os.WriteFile(path, []byte(s), 0o644))
	return path
}

// versions maps every object in the namespace (and every pod's restart
// count) to its resourceVersion.
func versions(t *testing.T, ctx context.Context, cs kubernetes.Interface, ns string) map[string]string {
	t.Helper()
	out := map[string]string{}
	add := func(kind string, ms ...metav1.ObjectMeta) {
		for _, m := range ms {
			out[kind+"/"+m.Name] = m.ResourceVersion
		}
	}
	deps, err := cs.AppsV1().Deployments(ns).List(ctx, metav1.ListOptions{})
	require.NoError(t, err)
	for _, d := range deps.Items {
		add("Deployment", d.ObjectMeta)
	}
	sets, err := cs.AppsV1().StatefulSets(ns).List(ctx, metav1.ListOptions{})
	require.NoError(t, err)
	for _, s := range sets.Items {
		add("StatefulSet", s.ObjectMeta)
	}
	jobs, err := cs.BatchV1().Jobs(ns).List(ctx, metav1.ListOptions{})
	require.NoError(t, err)
	for _, j := range jobs.Items {
		add("Job", j.ObjectMeta)
	}
	cms, err := cs.CoreV1().ConfigMaps(ns).List(ctx, metav1.ListOptions{})
	require.NoError(t, err)
	for _, c := range cms.Items {
		add("ConfigMap", c.ObjectMeta)
	}
	secs, err := cs.CoreV1().Secrets(ns).List(ctx, metav1.ListOptions{})
	require.NoError(t, err)
	for _, s := range secs.Items {
		add("Secret", s.ObjectMeta)
	}
	svcs, err := cs.CoreV1().Services(ns).List(ctx, metav1.ListOptions{})
	require.NoError(t, err)
	for _, s := range svcs.Items {
		add("Service", s.ObjectMeta)
	}
	pols, err := cs.NetworkingV1().NetworkPolicies(ns).List(ctx, metav1.ListOptions{})
	require.NoError(t, err)
	for _, p := range pols.Items {
		add("NetworkPolicy", p.ObjectMeta)
	}
	pods, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
	require.NoError(t, err)
	for _, p := range pods.Items {
		restarts := 0
		for _, c := range p.Status.ContainerStatuses {
			restarts += int(c.RestartCount)
		}
		out["Pod/"+p.Name] = fmt.Sprintf("%s restarts=%d", p.UID, restarts)
	}
	return out
}

// `novadev up --target kube --context kind-…` brings the dev overlay up on
// a real cluster through its kubeconfig context alone (no kind call on that
// path): every service Deployment Available, the 6 bootstrap Jobs
// complete, verify passes from outside, user-service answers at its
// cluster DNS name from a pod; a second up changes no object and restarts no pod; down
// --volumes leaves no namespace.
func TestIntegrationKubeUpTwiceDown(t *testing.T) {
	d := dockertest.New(t)
	needImages(t, d)
	kubeconfig, kctx := kindCluster(t)
	t.Setenv("KUBECONFIG", kubeconfig)
	const ns = "nova-e2e-kube"
	env := kubeEnvFile(t)
	kube := func(args ...string) (string, int) {
		return novadevEnv(t, env, append(args, "--target", "kube", "--context", kctx)...)
	}
	t.Cleanup(func() {
		if out, code := kube("down", "--volumes"); code != 0 {
			t.Logf("cleanup down: %s", out)
		}
	})
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(&clientcmd.ClientConfigLoadingRules{ExplicitPath: kubeconfig},
		&clientcmd.ConfigOverrides{CurrentContext: kctx}).ClientConfig()
	require.NoError(t, err)
	cs, err := kubernetes.NewForConfig(cfg)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()

	start := time.Now()
	out, code := kube("up")
	cold := time.Since(start)
	require.Equal(t, 0, code, out)
	t.Logf("cold up: %s", cold.Round(100*time.Millisecond))
	_, endpoints, ok := strings.Cut(out, "\nendpoints:")
	require.True(t, ok, out)
	assert.Contains(t, endpoints, "user-service.nova-e2e-kube.svc.cluster.local:50051", "endpoints are the in-cluster addresses")
	assert.NotContains(t, endpoints, "127.0.0.1:", "no endpoint that dies with the command is printed")

	deps, err := cs.AppsV1().Deployments(ns).List(ctx, metav1.ListOptions{LabelSelector: "app.kubernetes.io/component=service"})
	require.NoError(t, err)
	require.Len(t, deps.Items, 16)
	for _, dep := range deps.Items {
		assert.True(t, condition(dep.Status.Conditions), "Deployment %s Available", dep.Name)
	}
	jobs, err := cs.BatchV1().Jobs(ns).List(ctx, metav1.ListOptions{LabelSelector: "novadev.io/bootstrap"})
	require.NoError(t, err)
	require.Len(t, jobs.Items, 6)
	for _, j := range jobs.Items {
		assert.True(t, jobComplete(j), "Job %s Complete", j.Name)
	}

	// the staging guide's checks from outside, through the port-forwards:
	// logins and refusals per database, migrations, Redis Cluster with 3
	// masters, the 9 topics, the ClickHouse tables, gRPC health of all 16
	out, code = kube("verify")
	require.Equal(t, 0, code, out)
	assert.Contains(t, out, "3 masters")
	assert.Contains(t, out, "9 topics listed")

	before := versions(t, ctx, cs, ns)
	start = time.Now()
	out, code = kube("up")
	warm := time.Since(start)
	require.Equal(t, 0, code, out)
	t.Logf("warm up: %s", warm.Round(10*time.Millisecond))
	assert.Equal(t, before, versions(t, ctx, cs, ns), "the second up changed an object or restarted a pod")
	assert.Less(t, warm, 20*time.Second, "a second up with nothing changed (goal: 3 s on an idle machine)")

	// in-cluster DNS and the Service: a pod of the test's own (not
	// novadev's: no inventory label) reaches user-service by its FQDN
	probe := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "e2e-dns-probe"}, Spec: corev1.PodSpec{
		RestartPolicy: corev1.RestartPolicyNever, EnableServiceLinks: new(bool),
		Containers: []corev1.Container{{Name: "wait", Image: "novadev/novadev:dev", ImagePullPolicy: corev1.PullNever,
			Args: []string{"wait", "--timeout", "60s", "grpc://user-service." + ns + ".svc.cluster.local:50051"}}}}}
	_, err = cs.CoreV1().Pods(ns).Create(ctx, probe, metav1.CreateOptions{})
	require.NoError(t, err)
	var phase corev1.PodPhase
	require.Eventually(t, func() bool {
		p, err := cs.CoreV1().Pods(ns).Get(ctx, probe.Name, metav1.GetOptions{})
		if err == nil {
			phase = p.Status.Phase
		}
		return phase == corev1.PodSucceeded || phase == corev1.PodFailed
	}, 90*time.Second, time.Second)
	if phase != corev1.PodSucceeded {
		logs, _ := cs.CoreV1().Pods(ns).GetLogs(probe.Name, &corev1.PodLogOptions{}).DoRaw(ctx)
		t.Fatalf("user-service.%s.svc.cluster.local from a pod: %s\n%s", ns, phase, logs)
	}

	out, code = kube("status")
	require.Equal(t, 0, code, out)
	assert.Contains(t, out, "user-service")

	out, code = kube("down", "--volumes")
	require.Equal(t, 0, code, out)
	_, err = cs.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
	assert.True(t, apierrors.IsNotFound(err), "namespace %s still there after down --volumes: %v", ns, err)
}

func condition(cs []appsv1.DeploymentCondition) bool {
	for _, c := range cs {
		if c.Type == appsv1.DeploymentAvailable {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func jobComplete(j batchv1.Job) bool {
	for _, c := range j.Status.Conditions {
		if c.Type == batchv1.JobComplete && c.Status == corev1.ConditionTrue {
			return true
		}
	}
	return false
}
