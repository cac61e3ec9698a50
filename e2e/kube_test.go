package e2e

import (
	"context"
	"encoding/json"
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
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/novadev/novadev/internal/backend/docker/dockertest"
	"github.com/novadev/novadev/internal/catalog"
	"github.com/novadev/novadev/internal/kindcluster"
	"github.com/novadev/novadev/internal/render/kind"
	"github.com/novadev/novadev/internal/verify"
	"github.com/novadev/novadev/internal/verify/kubecluster"
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

// kindCluster returns a kubeconfig file, context and name of a kind
// cluster: NOVADEV_KIND_CLUSTER (default novadev-e2e-kube) when it exists
// (reused, left running), else created under that name from the offline
// node image (no host ports published) and deleted afterwards. The dev
// overlay's images and the NetworkPolicy engine's are side-loaded.
func kindCluster(t *testing.T) (kubeconfig, kubeContext, name string) {
	t.Helper()
	kindBin := kindCLI(t)
	kubeconfig = filepath.Join(t.TempDir(), "kubeconfig")
	name = os.Getenv("NOVADEV_KIND_CLUSTER")
	if name == "" {
		name = "novadev-e2e-kube"
	}
	run := func(args ...string) {
		t.Helper()
		start := time.Now()
		out, err := exec.Command(kindBin, args...).CombinedOutput()
		require.NoError(t, err, "kind %s: %s", strings.Join(args, " "), out)
		t.Logf("kind %s: %s", args[0]+" "+args[1], time.Since(start).Round(100*time.Millisecond))
	}
	out, err := exec.Command(kindBin, "get", "clusters").Output()
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
			_ = exec.Command(kindBin, "delete", "cluster", "--name", name).Run()
			t.Logf("kind delete cluster: %s", time.Since(start).Round(100*time.Millisecond))
		})
		run("create", "cluster", "--name", name, "--image", image, "--config", cfg, "--kubeconfig", kubeconfig)
	}
	// the dev overlay names its images under the local registry the
	// rendered cluster config mirrors (localhost:5005/<name>); this test
	// side-loads them under both names instead of pushing
	load := []string{"load", "docker-image", "--name", name}
	for _, img := range append(slices.Clone(kindImages), kind.NetworkPolicyEngineImage) {
		out, err := exec.Command("docker", "tag", img, devRegistry+"/"+img).CombinedOutput()
		require.NoError(t, err, "docker tag %s: %s", img, out)
		load = append(load, img, devRegistry+"/"+img)
	}
	run(load...)
	return kubeconfig, "kind-" + name, name
}

// enforcePolicies installs the NetworkPolicy engine addon on the test's
// cluster, as a cluster with a policy-enforcing CNI would have it: the
// Kubernetes target (any cluster) never installs it, kind's CNI enforces
// nothing, and the point is that Nova comes up and verifies with every
// rendered policy enforced. Applied with the kind target's own code
// (kindcluster.ApplyAddon; test machinery here, not the path under test).
func enforcePolicies(t *testing.T, ctx context.Context, name, kubeconfig string) {
	t.Helper()
	manifest, err := os.ReadFile(filepath.Join(repoRoot(t), kind.Dir, kind.NetworkPolicyAddon))
	require.NoError(t, err)
	p := kindcluster.New(kindcluster.Options{Name: name, Kubeconfig: kubeconfig, Progress: func(s string) { t.Log("addon: " + s) }})
	defer p.Close()
	start := time.Now()
	_, err = p.ApplyAddon(ctx, kindcluster.Addon{Name: "NetworkPolicy engine", Manifest: manifest, DaemonSet: "kube-system/" + kind.NetworkPolicyEngineName})
	require.NoError(t, err)
	t.Logf("NetworkPolicy engine ready in %s", time.Since(start).Round(100*time.Millisecond))
}

// podCPURequest is what the scheduler counts for a pod: the larger of its
// biggest init container's request and the sum of its containers', plus
// its overhead.
func podCPURequest(p *corev1.Pod) int64 {
	var sum, initMax int64
	for _, c := range p.Spec.Containers {
		sum += c.Resources.Requests.Cpu().MilliValue()
	}
	for _, c := range p.Spec.InitContainers {
		initMax = max(initMax, c.Resources.Requests.Cpu().MilliValue())
	}
	req := max(sum, initMax)
	if p.Spec.Overhead != nil {
		req += p.Spec.Overhead.Cpu().MilliValue()
	}
	return req
}

// assertFitsTheNode checks the 2-CPU fit of issue 8: no pod of the
// namespace Pending, and the CPU requests of every pod on each node
// (finished ones excepted: they hold nothing) within its allocatable. The
// figures are printed.
func assertFitsTheNode(t *testing.T, ctx context.Context, cs kubernetes.Interface, ns string) {
	t.Helper()
	pods, err := cs.CoreV1().Pods("").List(ctx, metav1.ListOptions{})
	require.NoError(t, err)
	nodes, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	require.NoError(t, err)
	for _, p := range pods.Items {
		if p.Namespace == ns && p.Status.Phase == corev1.PodPending && p.Spec.NodeName == "" {
			var why []string
			for _, c := range p.Status.Conditions {
				if c.Type == corev1.PodScheduled && c.Status != corev1.ConditionTrue {
					why = append(why, c.Reason+": "+c.Message)
				}
			}
			t.Errorf("pod %s/%s is Pending unscheduled: %v", p.Namespace, p.Name, why)
		}
	}
	for _, n := range nodes.Items {
		var total, nova int64
		count := 0
		for _, p := range pods.Items {
			if p.Spec.NodeName != n.Name || p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
				continue
			}
			r := podCPURequest(&p)
			total += r
			count++
			if p.Namespace == ns {
				nova += r
			}
		}
		alloc := n.Status.Allocatable.Cpu().MilliValue()
		t.Logf("node %s: %d pods request %dm CPU (Nova's %dm), allocatable %dm", n.Name, count, total, nova, alloc)
		assert.LessOrEqual(t, total, alloc, "node %s: CPU requests of its pods exceed its allocatable", n.Name)
	}
}

// probePolicies let the test's own probe pod (label e2e=dns-probe) look
// user-service up and call it under the namespace's default-deny: egress
// to kube-dns and to user-service's gRPC port, and ingress to user-service
// from the probe (the rendered allow-user-service admits its graph
// dependents only). Owned by the pod, so they go with it.
func probePolicies(ns string, owner *corev1.Pod) []*networkingv1.NetworkPolicy {
	tcp, udp := corev1.ProtocolTCP, corev1.ProtocolUDP
	dns, grpc := intstr.FromInt32(53), intstr.FromInt32(50051)
	probe := metav1.LabelSelector{MatchLabels: map[string]string{"e2e": "dns-probe"}}
	svc := metav1.LabelSelector{MatchLabels: map[string]string{"app": "user-service"}}
	own := []metav1.OwnerReference{{APIVersion: "v1", Kind: "Pod", Name: owner.Name, UID: owner.UID}}
	return []*networkingv1.NetworkPolicy{
		{ObjectMeta: metav1.ObjectMeta{Name: "e2e-dns-probe", Namespace: ns, OwnerReferences: own}, Spec: networkingv1.NetworkPolicySpec{
			PodSelector: probe, PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeEgress},
			Egress: []networkingv1.NetworkPolicyEgressRule{
				{To: []networkingv1.NetworkPolicyPeer{{
					NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": "kube-system"}},
					PodSelector:       &metav1.LabelSelector{MatchLabels: map[string]string{"k8s-app": "kube-dns"}},
				}}, Ports: []networkingv1.NetworkPolicyPort{{Protocol: &udp, Port: &dns}, {Protocol: &tcp, Port: &dns}}},
				{To: []networkingv1.NetworkPolicyPeer{{PodSelector: &svc}}, Ports: []networkingv1.NetworkPolicyPort{{Protocol: &tcp, Port: &grpc}}},
			},
		}},
		{ObjectMeta: metav1.ObjectMeta{Name: "e2e-dns-probe-to-user-service", Namespace: ns, OwnerReferences: own}, Spec: networkingv1.NetworkPolicySpec{
			PodSelector: svc, PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress},
			Ingress: []networkingv1.NetworkPolicyIngressRule{{From: []networkingv1.NetworkPolicyPeer{{PodSelector: &probe}},
				Ports: []networkingv1.NetworkPolicyPort{{Protocol: &tcp, Port: &grpc}}}},
		}},
	}
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
// path), with the NetworkPolicy engine enforcing every rendered policy:
// every service Deployment Available, the 6 bootstrap Jobs complete, no
// pod Pending and the node's CPU requests within its allocatable (the
// 2-CPU fit), search-service reported degraded (no Elasticsearch on the
// offline set) by up, status and -o json, verify passes from outside
// including the cluster checks (init containers, in-cluster DNS, the
// policies present), user-service answers at its cluster DNS name from a
// pod; a second up changes no object and restarts no pod; down --volumes
// leaves no namespace.
func TestIntegrationKubeUpTwiceDown(t *testing.T) {
	d := dockertest.New(t)
	needImages(t, d)
	if _, err := d.ImageID(context.Background(), kind.NetworkPolicyEngineImage); err != nil {
		skipOrFail(t, "image %s missing: build it with scripts/netpol/build.sh", kind.NetworkPolicyEngineImage)
	}
	kubeconfig, kctx, clusterName := kindCluster(t)
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
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	enforcePolicies(t, ctx, clusterName, kubeconfig)

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

	assertFitsTheNode(t, ctx, cs, ns)

	// search-service runs without Elasticsearch (no offline image) and is
	// reported degraded as on Docker, not as something with nothing to run
	const degraded = "elasticsearch unavailable (no offline image; use --images upstream or a mirror)"
	assert.Contains(t, out, "elasticsearch          skipped: unavailable, its users run degraded: no offline image; use --images upstream or a mirror\n")
	assert.Regexp(t, `(?m)^search-service +\S+ +degraded +[0-9.]+s$`, out)
	assert.Contains(t, out, "\nrunning without optional stores:\n  search-service           degraded: "+degraded+"\n")
	assert.NotContains(t, out, "nothing to run")
	st, code := kube("status")
	require.Equal(t, 0, code, st)
	assert.Contains(t, st, "\n  degraded: "+degraded+"\n")
	assert.Contains(t, st, "\nelasticsearch            skipped: unavailable (no offline image; use --images upstream or a mirror)\n")
	js, code := kube("status", "-o", "json")
	require.Equal(t, 0, code, js)
	var rep struct {
		Containers []struct {
			Node     string `json:"node"`
			Degraded string `json:"degraded"`
		} `json:"containers"`
		Unavailable []struct{ Node, Reason string } `json:"unavailable"`
	}
	require.NoError(t, json.Unmarshal([]byte(js), &rep), js)
	for _, c := range rep.Containers {
		if c.Node == "search-service" {
			assert.Equal(t, degraded, c.Degraded, js)
		} else {
			assert.Empty(t, c.Degraded, c.Node)
		}
	}
	if assert.Len(t, rep.Unavailable, 1, js) {
		assert.Equal(t, "elasticsearch", rep.Unavailable[0].Node)
	}
	ps, code := kube("ps")
	require.Equal(t, 0, code, ps)
	assert.Regexp(t, `(?m)^search-service\S* +search-service .*degraded`, ps)

	// the staging guide's checks from outside, through the port-forwards:
	// logins and refusals per database, migrations, Redis Cluster with 3
	// masters, the 9 topics, the ClickHouse tables, gRPC health of all 16
	out, code = kube("verify")
	require.Equal(t, 0, code, out)
	assert.Contains(t, out, "3 masters")
	assert.Contains(t, out, "9 topics listed")

	// and the cluster checks, under enforcement: every init container
	// completed, each service's name resolved in the cluster (getent in a
	// store pod, whose rendered policy allows DNS), the policies present
	c, err := catalog.Load(filepath.Join(repoRoot(t), "envs", "nova.yaml"), catalog.Options{Env: env})
	require.NoError(t, err)
	inst, err := kubecluster.Open(c, kubecluster.Options{Kubeconfig: kubeconfig, Context: kctx, Namespace: ns})
	require.NoError(t, err)
	defer inst.Close()
	vrep := verify.Run(ctx, inst.Name(), verify.Checks(inst), verify.Options{Parallel: 8, Timeout: 30 * time.Second, LogTail: inst.LogTail, LogLines: 5})
	kinds := map[verify.Kind]int{}
	for _, r := range vrep.Results {
		if r.Status != verify.Passed && r.Status != verify.Skipped {
			t.Errorf("verify under enforcement: %s %s: %s", r.ID, r.Status, r.Message)
		}
		if r.Status == verify.Passed {
			kinds[r.Kind]++
		}
		if r.Status == verify.Skipped {
			t.Logf("verify skipped %s: %s", r.ID, r.Message)
		}
	}
	t.Logf("verify through kubecluster under enforcement: %d checks, %d passed, %d skipped", len(vrep.Results), vrep.Count(verify.Passed), vrep.Count(verify.Skipped))
	assert.Equal(t, 16, kinds[verify.KindInitContainers], "init-container checks passed")
	assert.Equal(t, 16, kinds[verify.KindServiceDNS], "in-cluster DNS checks passed")
	assert.Equal(t, 1, kinds[verify.KindNetworkPolicies], "policies present")

	before := versions(t, ctx, cs, ns)
	start = time.Now()
	out, code = kube("up")
	warm := time.Since(start)
	require.Equal(t, 0, code, out)
	t.Logf("warm up: %s", warm.Round(10*time.Millisecond))
	assert.Equal(t, before, versions(t, ctx, cs, ns), "the second up changed an object or restarted a pod")
	assert.Regexp(t, `(?m)^postgres-init +keep +unchanged `, out, "the second up keeps postgres-init's Job and says so (decision 46)")
	assert.NotRegexp(t, `(?m)^\S+ +(create|recreate|start|run) `, out, "the second up says it changed nothing")
	assert.Less(t, warm, 20*time.Second, "a second up with nothing changed (goal: 3 s on an idle machine)")

	// in-cluster DNS and the Service: a pod of the test's own (not
	// novadev's: no inventory label) reaches user-service by its FQDN,
	// through policies of its own (default-deny refuses anything else)
	probe := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "e2e-dns-probe", Labels: map[string]string{"e2e": "dns-probe"}}, Spec: corev1.PodSpec{
		RestartPolicy: corev1.RestartPolicyNever, EnableServiceLinks: new(bool),
		Containers: []corev1.Container{{Name: "wait", Image: "novadev/novadev:dev", ImagePullPolicy: corev1.PullNever,
			Args: []string{"wait", "--timeout", "60s", "grpc://user-service." + ns + ".svc.cluster.local:50051"}}}}}
	probe, err = cs.CoreV1().Pods(ns).Create(ctx, probe, metav1.CreateOptions{})
	require.NoError(t, err)
	for _, pol := range probePolicies(ns, probe) {
		_, err = cs.NetworkingV1().NetworkPolicies(ns).Create(ctx, pol, metav1.CreateOptions{})
		require.NoError(t, err)
	}
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
