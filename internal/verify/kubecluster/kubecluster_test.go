package kubecluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	krt "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	utilexec "k8s.io/client-go/util/exec"

	"github.com/novadev/novadev/internal/catalog"
	"github.com/novadev/novadev/internal/kubeforward"
	"github.com/novadev/novadev/internal/verify"
)

const ns = "nova-local"

func devCatalog(t *testing.T) *catalog.Catalog {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	c, err := catalog.Load(filepath.Join(filepath.Dir(file), "..", "..", "..", "envs", "nova.yaml"), catalog.Options{Env: "local"})
	require.NoError(t, err)
	return c
}

func meta(name string, labels map[string]string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: name, Namespace: ns, Labels: labels, Generation: 1}
}

func app(name string) map[string]string { return map[string]string{"app": name} }

func ptr[T any](v T) *T { return &v }

func readyPod(name, node string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: meta(name, app(node)),
		Spec: corev1.PodSpec{
			InitContainers: []corev1.Container{{Name: "wait-for-postgres"}},
			Containers:     []corev1.Container{{Name: node}},
		},
		Status: corev1.PodStatus{
			Phase:      corev1.PodRunning,
			Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}},
			InitContainerStatuses: []corev1.ContainerStatus{{Name: "wait-for-postgres",
				State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 0, Reason: "Completed"}}}},
			ContainerStatuses: []corev1.ContainerStatus{{Name: node, Ready: true,
				State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}},
		},
	}
}

// stuckPod is a service pod whose second init container keeps waiting.
func stuckPod(name, node string) *corev1.Pod {
	p := readyPod(name, node)
	p.Spec.InitContainers = append(p.Spec.InitContainers, corev1.Container{Name: "wait-for-kafka"}, corev1.Container{Name: "wait-for-migrations"})
	p.Status.Phase = corev1.PodPending
	p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionFalse}}
	p.Status.InitContainerStatuses = append(p.Status.InitContainerStatuses,
		corev1.ContainerStatus{Name: "wait-for-kafka", State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.NewTime(time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC))}}},
		corev1.ContainerStatus{Name: "wait-for-migrations", State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "PodInitializing"}}})
	p.Status.ContainerStatuses[0].Ready = false
	p.Status.ContainerStatuses[0].State = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "PodInitializing"}}
	return p
}

func deployment(name string, ready int32) *appsv1.Deployment {
	return &appsv1.Deployment{ObjectMeta: meta(name, app(name)), Spec: appsv1.DeploymentSpec{Replicas: ptr(int32(1))},
		Status: appsv1.DeploymentStatus{ObservedGeneration: 1, Replicas: 1, UpdatedReplicas: 1, ReadyReplicas: ready}}
}

func statefulSet(name string, replicas, ready int32) *appsv1.StatefulSet {
	return &appsv1.StatefulSet{ObjectMeta: meta(name, app(name)), Spec: appsv1.StatefulSetSpec{Replicas: ptr(replicas)},
		Status: appsv1.StatefulSetStatus{ObservedGeneration: 1, Replicas: ready, ReadyReplicas: ready, CurrentRevision: "r1", UpdateRevision: "r1"}}
}

func job(bootstrap string, cond batchv1.JobConditionType, reason string) *batchv1.Job {
	j := &batchv1.Job{ObjectMeta: meta(bootstrap, map[string]string{"app": bootstrap, "novadev.io/bootstrap": bootstrap})}
	if cond != "" {
		j.Status.Conditions = []batchv1.JobCondition{{Type: cond, Status: corev1.ConditionTrue, Reason: reason}}
	}
	if cond == batchv1.JobComplete {
		start := metav1.NewTime(time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC))
		j.Status.StartTime, j.Status.CompletionTime = &start, ptr(metav1.NewTime(start.Add(12*time.Second)))
	}
	return j
}

func TestNodeStates(t *testing.T) {
	cs := fake.NewClientset(
		deployment("user-service", 1), readyPod("user-service-a", "user-service"),
		deployment("feed-service", 0), stuckPod("feed-service-b", "feed-service"),
		statefulSet("postgres", 1, 1), readyPod("postgres-0", "postgres"),
		statefulSet("kafka", 0, 0),
		statefulSet("redis", 3, 2),
		job("postgres-init", batchv1.JobComplete, ""),
		job("migrations", batchv1.JobFailed, "BackoffLimitExceeded"),
		job("kafka-topics", "", ""),
	)
	inst, err := newInstance(devCatalog(t), cs, Options{Namespace: ns})
	require.NoError(t, err)
	ctx := context.Background()
	state := func(node string) verify.NodeState {
		t.Helper()
		s, err := inst.Node(ctx, node)
		require.NoError(t, err)
		return s
	}
	require.Equal(t, verify.NodeState{Ready: true, Detail: "1 of 1 pods Ready"}, state("user-service"))
	feed := state("feed-service")
	require.False(t, feed.Ready)
	require.Equal(t, "Deployment feed-service: 0 of 1 replicas Ready, 1 updated, 1 in all; pod feed-service-b: init container wait-for-kafka running since 10:00:00", feed.Detail)
	require.Equal(t, verify.NodeState{Ready: true, Detail: "1 of 1 pods Ready"}, state("postgres"))
	require.Equal(t, "StatefulSet kafka is scaled to 0", state("kafka").Detail)
	require.Equal(t, "StatefulSet redis: 2 of 3 replicas Ready", state("redis").Detail)
	require.Equal(t, verify.NodeState{Ready: true, Detail: "Job postgres-init complete in 12s"}, state("postgres-init"))
	require.Equal(t, verify.NodeState{Detail: "Job migrations failed: BackoffLimitExceeded "}, state("migrations"))
	require.Equal(t, "Job kafka-topics not complete: 0 active, 0 failed attempts", state("kafka-topics").Detail)
	require.Equal(t, "no Job labelled novadev.io/bootstrap=clickhouse-init in namespace nova-local (is the overlay applied?)", state("clickhouse-init").Detail)
	require.Equal(t, "no Deployment labelled app=auth-service in namespace nova-local (is the overlay applied?)", state("auth-service").Detail)
	require.Equal(t, "external store (bolt://neo4j:7687)", state("neo4j").Skip)
	require.Equal(t, "unavailable, its users run degraded: no offline image; use --images upstream or a mirror", state("elasticsearch").Skip, "the dev overlay deletes it")
	_, err = inst.Node(ctx, "no-such-node")
	require.ErrorContains(t, err, "no-such-node is not a node of this environment")
}

func TestInitContainers(t *testing.T) {
	terminating := readyPod("user-service-old", "user-service")
	terminating.DeletionTimestamp = ptr(metav1.Now())
	terminating.Finalizers = []string{"x"} // the fake keeps it
	cs := fake.NewClientset(readyPod("user-service-a", "user-service"), terminating, stuckPod("feed-service-b", "feed-service"),
		&corev1.Pod{ObjectMeta: meta("search-service-c", app("search-service")),
			Spec:   corev1.PodSpec{InitContainers: []corev1.Container{{Name: "wait-for-postgres"}}},
			Status: corev1.PodStatus{Phase: corev1.PodPending}})
	inst, err := newInstance(devCatalog(t), cs, Options{Namespace: ns})
	require.NoError(t, err)
	ctx := context.Background()

	ics, err := inst.InitContainers(ctx, "user-service")
	require.NoError(t, err)
	require.Equal(t, []verify.InitContainer{{Pod: "user-service-a", Name: "wait-for-postgres", Completed: true}}, ics, "a terminating pod is not counted")

	ics, err = inst.InitContainers(ctx, "feed-service")
	require.NoError(t, err)
	require.Equal(t, []verify.InitContainer{
		{Pod: "feed-service-b", Name: "wait-for-postgres", Completed: true},
		{Pod: "feed-service-b", Name: "wait-for-kafka", Detail: "running since 10:00:00"},
		{Pod: "feed-service-b", Name: "wait-for-migrations", Detail: "waiting: PodInitializing"},
	}, ics)

	ics, err = inst.InitContainers(ctx, "search-service")
	require.NoError(t, err)
	require.Equal(t, []verify.InitContainer{{Pod: "search-service-c", Name: "wait-for-postgres", Detail: "no status yet (pod Pending)"}}, ics)

	_, err = inst.InitContainers(ctx, "auth-service")
	require.EqualError(t, err, "no pods labelled app=auth-service in namespace nova-local")
}

// The kind-only checks over the fake cluster: the stuck init container and
// the missing policy fail by name; the overlay's name suffix is removed.
func TestClusterChecksOverFakeCluster(t *testing.T) {
	c := devCatalog(t)
	objs := []krt.Object{&networkingv1.NetworkPolicy{ObjectMeta: meta("default-deny-pr1", nil)}}
	for _, s := range c.ActiveServices() {
		if s.Name != "auth-service" {
			objs = append(objs, &networkingv1.NetworkPolicy{ObjectMeta: meta("allow-"+s.Name+"-pr1", nil)})
		}
		if s.Name == "feed-service" {
			objs = append(objs, stuckPod("feed-service-b", s.Name))
		} else {
			objs = append(objs, readyPod(s.Name+"-a", s.Name))
		}
	}
	objs = append(objs, readyPod("postgres-0", "postgres"))
	cs := fake.NewClientset(objs...)
	inst, err := newInstance(c, cs, Options{Namespace: ns, NameSuffix: "-pr1"})
	require.NoError(t, err)
	var (
		mu  sync.Mutex
		ran [][]string
	)
	inst.exec = func(_ context.Context, pod, container string, cmd []string) (string, string, error) {
		mu.Lock()
		ran = append(ran, append([]string{pod, container}, cmd...))
		mu.Unlock()
		if strings.HasPrefix(cmd[2], "search-service") {
			return "", "", utilexec.CodeExitError{Err: errors.New("command terminated with exit code 2"), Code: 2}
		}
		return "10.96.0.7       " + cmd[2] + "\n", "", nil
	}
	rep := verify.Run(context.Background(), ns, verify.ClusterChecks(c, inst), verify.Options{Parallel: 1})
	byID := map[string]verify.Result{}
	for _, r := range rep.Results {
		byID[r.ID] = r
	}
	require.Equal(t, "missing: allow-auth-service", byID["network-policies/present"].Message)
	require.Equal(t, "not completed: feed-service-b/wait-for-kafka: running since 10:00:00 (1 more after it)",
		byID["feed-service/init-containers"].Message)
	require.Equal(t, "user-service-pr1.nova-local.svc.cluster.local -> 10.96.0.7", byID["user-service/dns"].Message)
	require.Equal(t, "nslookup search-service-pr1.nova-local.svc.cluster.local: search-service-pr1.nova-local.svc.cluster.local does not resolve in pod postgres-0 (getent hosts exit 2)",
		byID["search-service/dns"].Message)
	require.Equal(t, 3, rep.Count(verify.Failed))
	require.Len(t, ran, 16)
	for _, r := range ran {
		require.Equal(t, []string{"postgres-0", "postgres", "getent", "hosts"}, r[:4], "getent runs in the store pod")
	}
}

func TestLookupTriesTheNextPodWithoutGetent(t *testing.T) {
	c := devCatalog(t)
	cs := fake.NewClientset(readyPod("postgres-0", "postgres"), readyPod("redis-0", "redis"))
	inst, err := newInstance(c, cs, Options{Namespace: ns})
	require.NoError(t, err)
	inst.exec = func(_ context.Context, pod, _ string, cmd []string) (string, string, error) {
		if pod == "postgres-0" {
			return "", "exec: \"getent\": executable file not found", utilexec.CodeExitError{Err: errors.New("exit 127"), Code: 127}
		}
		return "10.96.0.8 " + cmd[2] + "\n10.96.0.8 " + cmd[2] + "\n", "", nil
	}
	addrs, err := inst.LookupInCluster(context.Background(), "kafka")
	require.NoError(t, err)
	require.Equal(t, []string{"10.96.0.8"}, addrs)
	require.Equal(t, "redis-0", inst.lookupPod, "the pod that answered is tried first next time")

	inst.exec = func(context.Context, string, string, []string) (string, string, error) {
		return "", "not found", utilexec.CodeExitError{Err: errors.New("exit 127"), Code: 127}
	}
	_, err = inst.LookupInCluster(context.Background(), "kafka")
	require.ErrorContains(t, err, "no pod in namespace nova-local could run getent to resolve kafka: redis-0: exit 127 not found; postgres-0:")
}

func TestCredentialFromTheNewestGeneratedSecret(t *testing.T) {
	old := &corev1.Secret{ObjectMeta: meta("nova-db-credentials-aaaaaaaaaa", nil), Data: map[string][]byte{"NOVA_POSTGRES_PASSWORD": []byte("old")}}
	old.CreationTimestamp = metav1.NewTime(time.Unix(1000, 0))
	cur := &corev1.Secret{ObjectMeta: meta("nova-db-credentials-tmtfmk87dt", nil), Data: map[string][]byte{"NOVA_POSTGRES_PASSWORD": []byte("new")}}
	cur.CreationTimestamp = metav1.NewTime(time.Unix(2000, 0))
	other := &corev1.Secret{ObjectMeta: meta("nova-db-credentials-backup", nil), Data: map[string][]byte{"NOVA_POSTGRES_PASSWORD": []byte("no")}}
	inst, err := newInstance(devCatalog(t), fake.NewClientset(old, cur, other), Options{Namespace: ns})
	require.NoError(t, err)
	v, err := inst.Credential(catalog.SuperuserPasswordVar)
	require.NoError(t, err)
	require.Equal(t, "new", v)
	_, err = inst.Credential("NOVA_NOPE_PASSWORD")
	require.EqualError(t, err, "credential NOVA_NOPE_PASSWORD: not a key of Secret nova-db-credentials-tmtfmk87dt in namespace nova-local")

	empty, err := newInstance(devCatalog(t), fake.NewClientset(), Options{Namespace: ns})
	require.NoError(t, err)
	_, err = empty.Credential(catalog.SuperuserPasswordVar)
	require.ErrorContains(t, err, "no Secret nova-db-credentials in namespace nova-local (the overlay generates it from credentials.env")
}

func TestNetworkPoliciesAndNames(t *testing.T) {
	cs := fake.NewClientset(&networkingv1.NetworkPolicy{ObjectMeta: meta("default-deny", nil)}, &networkingv1.NetworkPolicy{ObjectMeta: meta("allow-kafka", nil)})
	inst, err := newInstance(devCatalog(t), cs, Options{Namespace: ns, ClusterDomain: "corp.example"})
	require.NoError(t, err)
	got, err := inst.NetworkPolicies(context.Background())
	require.NoError(t, err)
	require.Equal(t, []string{"allow-kafka", "default-deny"}, got)
	require.Equal(t, "user-service.nova-local.svc.corp.example", inst.ServiceDNSName("user-service"))
	require.Equal(t, ns, inst.Name())
	_, err = newInstance(devCatalog(t), cs, Options{})
	require.ErrorContains(t, err, "no namespace")
}

func TestParseClusterName(t *testing.T) {
	for _, tc := range []struct{ host, pod, service, err string }{
		{host: "kafka", service: "kafka"},
		{host: "kafka.nova-local", service: "kafka"},
		{host: "kafka.nova-local.svc", service: "kafka"},
		{host: "kafka.nova-local.svc.cluster.local", service: "kafka"},
		{host: "kafka.nova-local.svc.cluster.local.", service: "kafka"},
		{host: "Redis-1.Redis", pod: "redis-1", service: "redis"},
		{host: "redis-0.redis.nova-local.svc.cluster.local", pod: "redis-0", service: "redis"},
		{host: "kafka.other-ns.svc.cluster.local", err: `"kafka.other-ns.svc.cluster.local" is not a name in namespace nova-local (want service, pod.service`},
		{host: "a.b.c", err: "is not a name in namespace"},
		{host: "", err: `"" is not a name in namespace nova-local:`},
		{host: "bad_name", err: `"bad_name" is not a name in namespace nova-local:`},
	} {
		pod, service, err := ParseClusterName(tc.host, ns, "cluster.local")
		if tc.err != "" {
			require.ErrorContains(t, err, tc.err, tc.host)
			continue
		}
		require.NoError(t, err, tc.host)
		require.Equal(t, [2]string{tc.pod, tc.service}, [2]string{pod, service}, tc.host)
	}
}

func FuzzParseClusterName(f *testing.F) {
	for _, s := range []string{"kafka", "redis-0.redis.nova-local.svc.cluster.local", "a.b.c", "", ".", "x.nova-local.svc.", "-a.b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, host string) {
		pod, service, err := ParseClusterName(host, ns, "cluster.local")
		if err != nil {
			return
		}
		if service == "" || strings.Contains(service, ".") || strings.Contains(pod, ".") {
			t.Fatalf("%q -> pod %q service %q", host, pod, service)
		}
		// what it found, written in full, parses to the same
		full := service + "." + ns + ".svc.cluster.local"
		if pod != "" {
			full = pod + "." + full
		}
		p2, s2, err := ParseClusterName(full, ns, "cluster.local")
		if err != nil || p2 != pod || s2 != service {
			t.Fatalf("%q -> %q/%q, but %q -> %q/%q %v", host, pod, service, full, p2, s2, err)
		}
	})
}

func TestParseGetent(t *testing.T) {
	require.Equal(t, []string{"10.96.141.23"}, ParseGetent("10.96.141.23    user-service.nova-local.svc.cluster.local\n"))
	require.Equal(t, []string{"fd00::1", "10.0.0.2"}, ParseGetent("fd00::1 a\n10.0.0.2 a alias\nfd00::1 a\n"))
	require.Empty(t, ParseGetent("getent: not found\n\n"))
}

func FuzzParseGetent(f *testing.F) {
	f.Add("10.96.141.23    user-service.nova-local.svc.cluster.local\n")
	f.Add("fd00::1 a\n10.0.0.2 a alias\n")
	f.Add("garbage")
	f.Fuzz(func(t *testing.T, out string) {
		seen := map[string]bool{}
		for _, a := range ParseGetent(out) {
			if net.ParseIP(a) == nil || seen[a] {
				t.Fatalf("%q: %q is not a new IP address", out, a)
			}
			seen[a] = true
		}
	})
}

func TestIsGeneratedName(t *testing.T) {
	require.True(t, isGeneratedName("nova-db-credentials-tmtfmk87dt", "nova-db-credentials", ""))
	require.True(t, isGeneratedName("nova-db-credentials-pr1-tmtfmk87dt", "nova-db-credentials", "-pr1"))
	require.False(t, isGeneratedName("nova-db-credentials-backup", "nova-db-credentials", ""))
	require.False(t, isGeneratedName("nova-db-credentials-TMTFMK87DT", "nova-db-credentials", ""))
}

// Without a cluster connection (unit tests), Address and Dial say so
// instead of panicking.
func TestNoConnection(t *testing.T) {
	inst, err := newInstance(devCatalog(t), fake.NewClientset(readyPod("postgres-0", "postgres")), Options{Namespace: ns})
	require.NoError(t, err)
	_, err = inst.Address("postgres", 5432)
	require.EqualError(t, err, "port-forward needs a cluster connection")
	_, err = inst.Address("redis", 7009)
	require.EqualError(t, err, "redis has 3 nodes on port 7001; port 7009 names none of them")
	pod, port, err := inst.target(context.Background(), "redis", 7003)
	require.NoError(t, err)
	require.Equal(t, "redis-2:7001", pod+":"+strconv.Itoa(port))
	_, err = inst.Address("kafka", 9092)
	require.EqualError(t, err, "no pods labelled app=kafka in namespace nova-local")
	_, err = inst.Dial(context.Background(), "tcp", "kafka.elsewhere.svc.cluster.local:9092")
	require.ErrorContains(t, err, "is not a name in namespace nova-local")
	require.NoError(t, inst.Close())
}

// A context the kubeconfig does not have is an error naming it, with what
// to do.
func TestOpenUnknownContext(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "kubeconfig")
	require.NoError(t, os.WriteFile(cfg, []byte(`apiVersion: v1
kind: Config
clusters: [{name: kind-a, cluster: {server: "https://127.0.0.1:1"}}]
users: [{name: kind-a, user: {token: x}}]
contexts: [{name: kind-a, context: {cluster: kind-a, user: kind-a}}]
current-context: kind-a
`), 0o600))
	_, err := Open(devCatalog(t), Options{Kubeconfig: cfg, Context: "kind-b", Namespace: ns})
	require.ErrorContains(t, err, "kubeconfig context kind-b: ")
	require.ErrorContains(t, err, "kind get kubeconfig --name <cluster>")
	inst, err := Open(devCatalog(t), Options{Kubeconfig: cfg, Namespace: ns})
	require.NoError(t, err, "the current context")
	require.NoError(t, inst.Close())
}

// LogTail prefixes every line with pod/container, init containers that ran
// included, and names a node without pods.
func TestLogTail(t *testing.T) {
	inst, err := newInstance(devCatalog(t), fake.NewClientset(stuckPod("feed-service-b", "feed-service")), Options{Namespace: ns})
	require.NoError(t, err)
	tail, err := inst.LogTail(context.Background(), "feed-service", 5)
	require.NoError(t, err)
	// the fake clientset answers every log request with "fake logs"
	require.Equal(t, "feed-service-b/wait-for-postgres | fake logs\nfeed-service-b/wait-for-kafka | fake logs\n", tail, "the containers that have not started are not asked")
	inst, err = newInstance(devCatalog(t), fake.NewClientset(readyPod("user-service-a", "user-service")), Options{Namespace: ns})
	require.NoError(t, err)
	tail, err = inst.LogTail(context.Background(), "user-service", 5)
	require.NoError(t, err)
	require.Equal(t, "user-service-a/wait-for-postgres | fake logs\nuser-service-a/user-service | fake logs\n", tail)
	_, err = inst.LogTail(context.Background(), "auth-service", 5)
	require.EqualError(t, err, "no pods labelled app=auth-service in namespace nova-local")
}

// A check that read EOF through a port-forward is told the forward's own
// reason: by the local address its error names, or by its node; another
// node's failure, an older one, or a reason already in the message is
// not added.
func TestExplainAddsTheForwardsReason(t *testing.T) {
	cs := fake.NewClientset(readyPod("postgres-0", "postgres"), readyPod("redis-0", "redis"))
	inst, err := newInstance(devCatalog(t), cs, Options{Namespace: ns})
	require.NoError(t, err)
	inst.fwd = kubeforward.New(nil, cs, ns) // forwards bind; every connection fails
	defer inst.Close()
	before := time.Now()
	addr, err := inst.Address("postgres", 5432)
	require.NoError(t, err)
	c, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	_, err = c.Read(make([]byte, 1))
	require.ErrorIs(t, err, io.EOF)
	c.Close()
	const why = "port-forward needs a cluster connection"

	eof := fmt.Errorf("read tcp %s: EOF", addr)
	require.EqualError(t, inst.Explain("migrations", before, eof), eof.Error()+" ("+why+")", "named by its address")
	require.EqualError(t, inst.Explain("postgres", before, io.EOF), "EOF ("+why+")", "by its node")
	require.Equal(t, io.EOF, inst.Explain("redis", before, io.EOF), "another node's forward")
	require.Equal(t, eof, inst.Explain("postgres", time.Now().Add(time.Second), eof), "a failure before the check started")
	already := errors.New("dial: " + why)
	require.Equal(t, already, inst.Explain("postgres", before, already), "a reason already in the message")
	require.NoError(t, inst.Explain("postgres", before, nil))

}
