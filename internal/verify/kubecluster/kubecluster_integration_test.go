package kubecluster_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/novadev/novadev/internal/app"
	"github.com/novadev/novadev/internal/backend/docker/dockertest"
	"github.com/novadev/novadev/internal/catalog"
	"github.com/novadev/novadev/internal/cli"
	"github.com/novadev/novadev/internal/contract"
	"github.com/novadev/novadev/internal/verify"
	"github.com/novadev/novadev/internal/verify/kubecluster"
)

// The cluster the test creates when NOVADEV_KIND_CLUSTER names none, and
// the dev overlay's namespace.
const (
	ownCluster   = "nova-k3"
	devNamespace = "nova-local"
	// defaultNodeImage is what scripts/kind-node/build.sh tags.
	defaultNodeImage = "novadev/kind-node:v1.34.4"
)

// offlineImages are the images the dev overlay runs, loaded into the
// cluster as a user of the rendered files would (`kind load docker-image`).
// devRegistry is the registry host the dev overlay's images name.
const devRegistry = "localhost:5005"

var offlineImages = []string{"novadev/postgres:15", "novadev/redis:7", "novadev/kafka:kfake", "novadev/clickhouse:18.16", "novadev/placeholder:dev", "novadev/novadev:dev"}

func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "..")
}

// need skips the test with the reason, or fails it under NOVADEV_E2E=1
// (dockertest.Skip, the project's one such helper).
func need(t *testing.T, format string, args ...any) {
	t.Helper()
	dockertest.Skip(t, "integration test skipped: "+format, args...)
}

// kindEnv is a kind cluster to test against and the tools to drive it.
type kindEnv struct {
	kind, kubectl, cluster, kubeconfig string
}

func (e *kindEnv) context() string { return "kind-" + e.cluster }

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s %s:\n%s", filepath.Base(name), strings.Join(args, " "), out)
	return string(out)
}

func (e *kindEnv) kubectlRun(t *testing.T, args ...string) string {
	t.Helper()
	return run(t, e.kubectl, append([]string{"--kubeconfig", e.kubeconfig, "--context", e.context()}, args...)...)
}

// findKind returns the kind CLI go.mod pins, built into the cache by
// scripts/kind-node/smoke.sh (.ci/run runs it first), NOVADEV_KIND, or PATH.
func findKind(t *testing.T) string {
	if p := os.Getenv("NOVADEV_KIND"); p != "" {
		return p
	}
	mod, err := os.ReadFile(filepath.Join(repoRoot(), "go.mod"))
	require.NoError(t, err)
	sc := bufio.NewScanner(strings.NewReader(string(mod)))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 2 && f[0] == "sigs.k8s.io/kind" {
			cache := os.Getenv("NOVADEV_CACHE")
			if cache == "" {
				home, _ := os.UserHomeDir()
				cache = filepath.Join(home, ".cache", "novadev")
			}
			p := filepath.Join(cache, "bin", "kind-"+f[1], "kind")
			if _, err := os.Stat(p); err == nil {
				return p
			}
		}
	}
	if p, err := exec.LookPath("kind"); err == nil {
		return p
	}
	need(t, "no kind CLI: scripts/kind-node/smoke.sh builds the pinned one into ~/.cache/novadev/bin (or set NOVADEV_KIND)")
	return ""
}

// findKubectl returns kubectl from NOVADEV_KUBE_ASSETS (scripts/kube-tools.sh),
// the newest cached Kubernetes build, or PATH.
func findKubectl(t *testing.T) string {
	if dir := os.Getenv("NOVADEV_KUBE_ASSETS"); dir != "" {
		if _, err := os.Stat(filepath.Join(dir, "kubectl")); err == nil {
			return filepath.Join(dir, "kubectl")
		}
	}
	home, _ := os.UserHomeDir()
	matches, _ := filepath.Glob(filepath.Join(home, ".cache", "novadev", "kube", "*", "kubectl"))
	if len(matches) > 0 {
		slices.SortFunc(matches, func(a, b string) int {
			fa, _ := os.Stat(a)
			fb, _ := os.Stat(b)
			return fb.ModTime().Compare(fa.ModTime())
		})
		return matches[0]
	}
	if p, err := exec.LookPath("kubectl"); err == nil {
		return p
	}
	need(t, "no kubectl: export NOVADEV_KUBE_ASSETS=$(scripts/kube-tools.sh)")
	return ""
}

// setupKind returns the cluster NOVADEV_KIND_CLUSTER names, or creates
// nova-k3 from the offline node image (no host ports: the rendered config's
// 127.0.0.1:20080 belongs to the e2e lock) and deletes it at the end.
func setupKind(t *testing.T) *kindEnv {
	dockertest.New(t) // skips without an engine (fails under NOVADEV_E2E=1)
	e := &kindEnv{kind: findKind(t), kubectl: findKubectl(t), kubeconfig: filepath.Join(t.TempDir(), "kubeconfig")}
	for _, img := range offlineImages {
		if err := exec.Command("docker", "image", "inspect", img).Run(); err != nil {
			need(t, "%s is not built (scripts/images/build.sh)", img)
		}
	}
	if name := os.Getenv("NOVADEV_KIND_CLUSTER"); name != "" {
		e.cluster = name
		cfg := run(t, e.kind, "get", "kubeconfig", "--name", name)
		require.NoError(t, os.WriteFile(e.kubeconfig, []byte(cfg), 0o600))
		t.Logf("reusing kind cluster %s", name)
	} else {
		e.cluster = ownCluster
		image := os.Getenv("NOVADEV_KIND_NODE_IMAGE")
		if image == "" {
			image = defaultNodeImage
		}
		if err := exec.Command("docker", "image", "inspect", image).Run(); err != nil {
			need(t, "node image %s is not built (scripts/kind-node/build.sh)", image)
		}
		config := filepath.Join(t.TempDir(), "cluster.yaml")
		require.NoError(t, os.WriteFile(config, []byte(clusterConfig(t, e.cluster)), 0o644))
		// a run killed before its cleanup leaves its cluster behind; it is ours
		_ = exec.Command(e.kind, "delete", "cluster", "--name", e.cluster).Run()
		t0 := time.Now()
		run(t, e.kind, "create", "cluster", "--name", e.cluster, "--image", image, "--config", config, "--kubeconfig", e.kubeconfig, "--wait", "180s")
		t.Logf("kind create cluster %s: %s", e.cluster, time.Since(t0).Round(time.Second))
		t.Cleanup(func() {
			if out, err := exec.Command(e.kind, "delete", "cluster", "--name", e.cluster).CombinedOutput(); err != nil {
				t.Errorf("kind delete cluster %s: %v\n%s", e.cluster, err, out)
			}
		})
	}
	t0 := time.Now()
	// The dev overlay pulls every image from the local registry
	// (localhost:5005/<name>, the mirror kind/cluster.yaml configures; see
	// docs/kind.md); this test side-loads them instead, under those names.
	var loaded []string
	for _, img := range offlineImages {
		run(t, "docker", "tag", img, devRegistry+"/"+img)
		loaded = append(loaded, devRegistry+"/"+img)
	}
	run(t, e.kind, append([]string{"load", "docker-image", "--name", e.cluster}, loaded...)...)
	t.Logf("kind load docker-image (%d images): %s", len(offlineImages), time.Since(t0).Round(time.Second))
	return e
}

// clusterConfig is the rendered kind/cluster.yaml under another name and
// without its host-port mappings.
func clusterConfig(t *testing.T, name string) string {
	raw, err := os.ReadFile(filepath.Join(repoRoot(), "kind", "cluster.yaml"))
	require.NoError(t, err)
	var out []string
	skip := false
	for _, line := range strings.Split(string(raw), "\n") {
		switch {
		case strings.HasPrefix(line, "name: "):
			line = "name: " + name
		case strings.HasPrefix(line, "- extraPortMappings:"):
			skip = true
			continue
		case skip && strings.HasPrefix(line, "  role: "):
			skip = false
			line = "- " + strings.TrimPrefix(line, "  ")
		case skip:
			continue
		}
		out = append(out, line)
	}
	cfg := strings.Join(out, "\n")
	require.NotContains(t, cfg, "hostPort", "the test cluster publishes no host port")
	require.Contains(t, cfg, "role: control-plane")
	return cfg
}

// applyDev applies the committed dev overlay as its docs say: a copy of
// kind/ with credentials.env written (the Secret's values when the
// namespace already has one, so a reused cluster keeps its passwords), the
// KEP-1755 ConfigMap, `kubectl apply -k`, then waits for the Jobs, the
// StatefulSets and the Deployments when wait is set.
func applyDev(t *testing.T, e *kindEnv, c *catalog.Catalog, wait bool) {
	dir := filepath.Join(t.TempDir(), "kind")
	require.NoError(t, os.CopyFS(dir, os.DirFS(filepath.Join(repoRoot(), "kind"))))
	inst, err := kubecluster.Open(c, kubecluster.Options{Kubeconfig: e.kubeconfig, Context: e.context(), Namespace: devNamespace})
	require.NoError(t, err)
	defer inst.Close()
	var env strings.Builder
	for _, cr := range contract.Credentials(c) {
		v, err := inst.Credential(cr.Key)
		if err != nil {
			b := make([]byte, 16)
			_, _ = rand.Read(b)
			v = hex.EncodeToString(b)
		}
		fmt.Fprintf(&env, "%s=%s\n", cr.Key, v)
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, "overlays", "dev", "credentials.env"), []byte(env.String()), 0o600))
	t0 := time.Now()
	e.kubectlRun(t, "apply", "-f", filepath.Join(dir, "local-registry-hosting.yaml"))
	e.kubectlRun(t, "apply", "-k", filepath.Join(dir, "overlays", "dev"))
	if !wait {
		return
	}
	waitDev(t, e, c)
	t.Logf("kubectl apply -k kind/overlays/dev until everything is ready: %s", time.Since(t0).Round(time.Second))
}

// waitDev waits, with kubectl, for the six Jobs, every StatefulSet and
// every Deployment of the dev overlay.
func waitDev(t *testing.T, e *kindEnv, c *catalog.Catalog) {
	ns := []string{"-n", devNamespace}
	e.kubectlRun(t, append(ns, "wait", "--for=condition=complete", "job", "--all", "--timeout=600s")...)
	for _, st := range c.ActiveStores() {
		if !st.External && c.Unavailable(st.Name) == "" { // an unavailable store: the overlay deletes it
			e.kubectlRun(t, append(ns, "rollout", "status", "statefulset/"+st.Name, "--timeout=300s")...)
		}
	}
	e.kubectlRun(t, append(ns, "wait", "--for=condition=available", "deployment", "--all", "--timeout=600s")...)
}

func loadDev(t *testing.T) *catalog.Catalog {
	c, err := catalog.Load(filepath.Join(repoRoot(), "envs", "nova.yaml"), catalog.Options{Env: "local"})
	require.NoError(t, err)
	return c
}

func runChecks(t *testing.T, inst *kubecluster.Instance, checks []verify.Check) *verify.Report {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	t0 := time.Now()
	rep := verify.Run(ctx, inst.Name(), checks, verify.Options{Parallel: 8, Timeout: 30 * time.Second, LogTail: inst.LogTail, LogLines: 5})
	t.Logf("verify: %d checks, %d passed, %d failed, %d skipped in %s", len(rep.Results), rep.Count(verify.Passed), rep.Count(verify.Failed), rep.Count(verify.Skipped), time.Since(t0).Round(time.Millisecond))
	return rep
}

func results(rep *verify.Report) map[string]verify.Result {
	out := map[string]verify.Result{}
	for _, r := range rep.Results {
		out[r.ID] = r
	}
	return out
}

// TestIntegrationKubeVerify applies the dev overlay to a real kind cluster
// and runs `novadev verify --target kube` on it (the command's path, which
// verifies through kubecluster whoever applied the overlay): every check
// of the catalog passes by name (the kind-only ones and the item-7 checks
// from outside, over port-forwards), then a deleted NetworkPolicy and a
// stopped store each fail the checks concerned by name while the rest
// pass.
func TestIntegrationKubeVerify(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: skipped in -short mode")
	}
	e := setupKind(t)
	c := loadDev(t)
	applyDev(t, e, c, true)
	inst, err := kubecluster.Open(c, kubecluster.Options{Kubeconfig: e.kubeconfig, Context: e.context(), Namespace: devNamespace})
	require.NoError(t, err)
	t.Cleanup(func() { inst.Close() })

	// the command's own path: the kube backend opened on the context (no
	// request made), its namespace handed to kubecluster, the report as
	// -o json prints it
	rep := verifyCommand(t, e)
	require.Equal(t, devNamespace, rep.Instance)
	require.Len(t, rep.Results, len(verify.Checks(inst)), "the command runs every check, the cluster's own included")
	byID := results(rep)
	for _, r := range rep.Results {
		switch {
		case r.Status == verify.Skipped && c.Stores[r.Node] != nil && c.Stores[r.Node].External:
			// neo4j is external: nothing of it runs in the cluster
		case r.Status == verify.Skipped && c.Unavailable(r.Node) != "":
			// elasticsearch: no offline image, the dev overlay deletes it
		case r.Status != verify.Passed:
			t.Errorf("%s %s: %s\n%s", r.ID, r.Status, r.Message, r.LogTail)
		default:
			t.Logf("ok %s: %s", r.ID, r.Message)
		}
	}
	// the oracle for the in-cluster lookups: each Service's ClusterIP as
	// kubectl reads it from the API
	clusterIP := map[string]string{}
	for _, line := range strings.Fields(e.kubectlRun(t, "-n", devNamespace, "get", "services", "-o", `jsonpath={range .items[*]}{.metadata.name}={.spec.clusterIP}{"\n"}{end}`)) {
		name, ip, _ := strings.Cut(line, "=")
		clusterIP[name] = ip
	}
	services := c.ActiveServices()
	require.Len(t, services, 16)
	for _, s := range services {
		require.Equal(t, s.Name+"."+devNamespace+".svc.cluster.local -> "+clusterIP[s.Name], byID[s.Name+"/dns"].Message, "resolves to the Service's ClusterIP")
		for _, id := range []string{"/ready", "/grpc", "/metrics", "/init-containers", "/dns"} {
			require.Equal(t, verify.Passed, byID[s.Name+id].Status, s.Name+id)
		}
		require.Contains(t, byID[s.Name+"/grpc"].Message, "SERVING")
	}
	for _, id := range []string{"network-policies/present", "postgres/databases", "redis/cluster", "kafka/topics", "clickhouse/schema",
		"user-service/database-login", "user-service/migrations", "postgres-init/completed", "migrations/completed", "proto-validate/completed"} {
		require.Equal(t, verify.Passed, byID[id].Status, id)
	}
	require.Contains(t, byID["redis/cluster"].Message, "3 masters connected")
	require.Contains(t, byID["user-service/database-login"].Message, "permission denied")
	require.Contains(t, byID["kafka/topics"].Message, "9 topics listed")
	require.Contains(t, byID["feed-service/init-containers"].Message, "7 init containers completed")

	t.Run("a deleted NetworkPolicy fails network-policies/present by name", func(t *testing.T) {
		e.kubectlRun(t, "-n", devNamespace, "delete", "networkpolicy", "allow-user-service")
		t.Cleanup(func() { applyDev(t, e, c, false) }) // only the policy changed: nothing to wait for
		rep := runChecks(t, inst, verify.ClusterChecks(c, inst))
		r := results(rep)["network-policies/present"]
		require.Equal(t, verify.Failed, r.Status)
		require.Equal(t, "missing: allow-user-service", r.Message)
		require.Equal(t, verify.Passed, results(rep)["user-service/dns"].Status)
	})

	t.Run("a stopped store and an init container waiting for it fail by name", func(t *testing.T) {
		// kafka down, and a pod of a service that needs it recreated: its
		// first init container waits for kafka
		e.kubectlRun(t, "-n", devNamespace, "scale", "statefulset/kafka", "--replicas=0")
		t.Cleanup(func() {
			e.kubectlRun(t, "-n", devNamespace, "scale", "statefulset/kafka", "--replicas=1")
			waitDev(t, e, c)
		})
		e.kubectlRun(t, "-n", devNamespace, "wait", "--for=delete", "pod/kafka-0", "--timeout=120s")
		e.kubectlRun(t, "-n", devNamespace, "delete", "pod", "-l", "app=trust-safety-service", "--wait=true")
		waitInitStatus(t, inst, "trust-safety-service")

		rep := runChecks(t, inst, verify.Checks(inst))
		byID := results(rep)
		for _, r := range rep.Results {
			if r.Status == verify.Failed {
				t.Logf("FAIL %s: %s", r.ID, r.Message)
			}
		}
		require.Equal(t, verify.Failed, byID["kafka/up"].Status)
		require.Contains(t, byID["kafka/up"].Message, "StatefulSet kafka is scaled to 0")
		require.Equal(t, verify.Failed, byID["kafka/topics"].Status)
		require.Equal(t, "kafka", byID["kafka/topics"].Blocked)
		ts := byID["trust-safety-service/ready"]
		require.Equal(t, verify.Failed, ts.Status)
		require.Contains(t, ts.Message, "init container wait-for-kafka running since ")
		ic := byID["trust-safety-service/init-containers"]
		require.Equal(t, verify.Failed, ic.Status)
		require.Empty(t, ic.Blocked, "the init-containers check explains why the service is not ready")
		require.Contains(t, ic.Message, "not completed: trust-safety-service-")
		require.Contains(t, ic.Message, "/wait-for-kafka: running since ")
		require.Contains(t, ic.Message, "(5 more after it)")
		// what does not need kafka still passes
		for _, id := range []string{"postgres/databases", "redis/cluster", "clickhouse/schema", "user-service/grpc", "user-service/init-containers", "network-policies/present"} {
			require.Equal(t, verify.Passed, byID[id].Status, id+": "+byID[id].Message)
		}
	})
}

// verifyCommand runs `novadev verify --target kube --context kind-<cluster>
// -o json` in-process (app.Run) on the dev environment and returns its
// report.
func verifyCommand(t *testing.T, e *kindEnv) *verify.Report {
	t.Helper()
	t.Setenv("KUBECONFIG", e.kubeconfig)
	var out, errb bytes.Buffer
	s := cli.Streams{In: strings.NewReader(""), Out: &out, Err: &errb, Getenv: os.Getenv}
	t0 := time.Now()
	code := app.Run(context.Background(), s, []string{"--catalog", filepath.Join(repoRoot(), "envs", "nova.yaml"), "--env", "local",
		"verify", "--target", "kube", "--context", e.context(), "-o", "json", "--parallel", "8", "--check-timeout", "30s", "--log-lines", "5"})
	var rep verify.Report
	require.NoError(t, json.Unmarshal(out.Bytes(), &rep), "exit %d\n%s\n%s", code, out.String(), errb.String())
	t.Logf("novadev verify --target kube: exit %d, %d checks, %d passed, %d failed, %d skipped in %s", code, len(rep.Results),
		rep.Count(verify.Passed), rep.Count(verify.Failed), rep.Count(verify.Skipped), time.Since(t0).Round(time.Millisecond))
	require.Equal(t, code == 0, rep.Count(verify.Failed) == 0, "exit %d with %d failures: %s", code, rep.Count(verify.Failed), errb.String())
	return &rep
}

// waitInitStatus waits until a service's new pod runs an init container
// (the kubelet has started the one that will keep waiting).
func waitInitStatus(t *testing.T, inst *kubecluster.Instance, service string) {
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		ics, err := inst.InitContainers(context.Background(), service)
		if err == nil && slices.ContainsFunc(ics, func(ic verify.InitContainer) bool { return strings.HasPrefix(ic.Detail, "running") }) {
			return
		}
		time.Sleep(time.Second)
	}
	t.Fatalf("%s's pod never reported its init containers", service)
}
