package kube

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/kubernetes"

	"github.com/novadev/novadev/internal/backend"
	"github.com/novadev/novadev/internal/state"
	"github.com/novadev/novadev/internal/testenv/kubeapi"
)

func TestMain(m *testing.M) { os.Exit(kubeapi.Main(m)) }

func obj(kind, apiVersion, name string, labels map[string]any, rest map[string]any) *unstructured.Unstructured {
	o := map[string]any{"apiVersion": apiVersion, "kind": kind, "metadata": map[string]any{"name": name, "labels": labels}}
	for k, v := range rest {
		o[k] = v
	}
	return &unstructured.Unstructured{Object: o}
}

// fixture is a small instance: a shared ConfigMap, a Deployment node with
// its Service, and a bootstrap Job.
func fixture(ns, cmValue string, extra ...*unstructured.Unstructured) Spec {
	app := func(n, comp string) map[string]any {
		return map[string]any{state.LabelApp: n, state.LabelAppComponent: comp, state.LabelAppManagedBy: state.ManagedBy}
	}
	pod := func(n string) map[string]any {
		return map[string]any{"metadata": map[string]any{"labels": map[string]any{state.LabelApp: n, state.LabelAppManagedBy: state.ManagedBy}},
			"spec": map[string]any{"restartPolicy": "Never", "containers": []any{map[string]any{"name": n, "image": "novadev/placeholder:dev"}}}}
	}
	objs := []*unstructured.Unstructured{
		obj("Namespace", "v1", ns, app(ns, "namespace"), nil),
		obj("ConfigMap", "v1", "settings", app("settings", "config"), map[string]any{"data": map[string]any{"k": cmValue}}),
		obj("Deployment", "apps/v1", "api", app("api", "service"), map[string]any{"spec": map[string]any{
			"selector": map[string]any{"matchLabels": map[string]any{state.LabelApp: "api"}}, "template": func() map[string]any {
				p := pod("api")
				p["spec"].(map[string]any)["restartPolicy"] = "Always"
				return p
			}()}}),
		obj("Service", "v1", "api", app("api", "service"), map[string]any{"spec": map[string]any{
			"selector": map[string]any{state.LabelApp: "api"}, "ports": []any{map[string]any{"port": int64(50051)}}}}),
		func() *unstructured.Unstructured {
			l := app("seed", "bootstrap")
			l[state.LabelBootstrap] = "seed"
			return obj("Job", "batch/v1", "seed", l, map[string]any{"spec": map[string]any{"backoffLimit": int64(1), "template": pod("seed")}})
		}(),
	}
	objs = append(objs, extra...)
	for _, o := range objs[1:] {
		o.SetNamespace("placeholder")
	}
	Retarget(objs, ns)
	return Spec{Namespace: ns, Objects: objs, Nodes: map[string]NodeSpec{
		"api":  {Kind: Service, Ports: []int{50051}},
		"seed": {Kind: Bootstrap, Needs: []string{"api"}},
	}}
}

func setup(t *testing.T, sp Spec) (*Backend, kubernetes.Interface, context.Context) {
	t.Helper()
	env := kubeapi.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	b, err := New(env.Config(), sp)
	require.NoError(t, err)
	t.Cleanup(func() { b.Close() })
	b.Poll = 50 * time.Millisecond
	return b, b.cs, ctx
}

// applyNode applies a node's objects without waiting for its workload (a
// bare API server runs no controllers).
func applyNode(t *testing.T, ctx context.Context, b *Backend, node string) {
	t.Helper()
	l, err := b.list(ctx)
	require.NoError(t, err)
	require.NoError(t, b.applyAll(ctx, b.p.nodes[node], l))
}

func versions(t *testing.T, ctx context.Context, b *Backend) map[string]string {
	t.Helper()
	l, err := b.list(ctx)
	require.NoError(t, err)
	out := map[string]string{"Namespace/" + b.ns: l.ns.ResourceVersion}
	for k, m := range l.objs {
		out[k] = m.ResourceVersion
	}
	return out
}

// Server-side apply under the novadev field manager, and a second apply of
// the same objects writes nothing: no resourceVersion moves.
func TestApplyTwiceChangesNothing(t *testing.T) {
	b, cs, ctx := setup(t, fixture("kube-noop", "v1"))
	snap, err := b.Observe(ctx)
	require.NoError(t, err)
	assert.False(t, snap.Resources[0].Exists, "namespace before the first apply")
	require.Equal(t, backend.Missing, snap.Nodes["api"].Units[0].State)
	require.NoError(t, b.Prepare(ctx, snap, nil))
	applyNode(t, ctx, b, "api")

	cm, err := cs.CoreV1().ConfigMaps("kube-noop").Get(ctx, "settings", metav1.GetOptions{})
	require.NoError(t, err)
	assert.Equal(t, "true", cm.Labels[LabelInventory])
	assert.NotEmpty(t, cm.Annotations[AnnotationHash])
	require.NotEmpty(t, cm.ManagedFields)
	assert.Equal(t, FieldManager, cm.ManagedFields[0].Manager)
	assert.Equal(t, metav1.ManagedFieldsOperationApply, cm.ManagedFields[0].Operation)

	snap, err = b.Observe(ctx)
	require.NoError(t, err)
	u := snap.Nodes["api"].Units[0]
	assert.Equal(t, u.Want, u.Have, "applied node: wanted hash found")
	assert.Equal(t, backend.Created, u.State, "applied, no pod (no controllers here)")
	before := versions(t, ctx, b)
	require.Len(t, before, 4) // namespace, ConfigMap, Deployment, Service: the Job waits for RunBootstrap
	require.NoError(t, b.Prepare(ctx, snap, nil))
	applyNode(t, ctx, b, "api")
	assert.Equal(t, before, versions(t, ctx, b))

	// a changed object is applied, and only that one
	b2, _, _ := setup(t, fixture("kube-noop", "v2"))
	snap, err = b2.Observe(ctx)
	require.NoError(t, err)
	require.NoError(t, b2.Prepare(ctx, snap, nil))
	after := versions(t, ctx, b2)
	for k, v := range before {
		if k == "ConfigMap/settings" {
			assert.NotEqual(t, v, after[k], k)
		} else {
			assert.Equal(t, v, after[k], k)
		}
	}
}

// Prune deletes what novadev applied and no longer renders, never an
// object without its inventory label.
func TestPruneOnlyWhatNovadevApplied(t *testing.T) {
	old := obj("ConfigMap", "v1", "retired", map[string]any{state.LabelApp: "retired"}, map[string]any{"data": map[string]any{"a": "b"}})
	b, cs, ctx := setup(t, fixture("kube-prune", "v1", old))
	snap, err := b.Observe(ctx)
	require.NoError(t, err)
	require.NoError(t, b.Prepare(ctx, snap, nil))
	_, err = cs.CoreV1().ConfigMaps("kube-prune").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "handmade",
		Labels: map[string]string{state.LabelAppManagedBy: state.ManagedBy}}}, metav1.CreateOptions{})
	require.NoError(t, err)

	b2, _, _ := setup(t, fixture("kube-prune", "v1"))
	snap, err = b2.Observe(ctx)
	require.NoError(t, err)
	var orphans []string
	for _, o := range snap.Orphans {
		orphans = append(orphans, o.Name)
	}
	assert.Equal(t, []string{"ConfigMap/retired"}, orphans)
	require.NoError(t, b2.Prepare(ctx, snap, nil))
	_, err = cs.CoreV1().ConfigMaps("kube-prune").Get(ctx, "retired", metav1.GetOptions{})
	assert.True(t, err != nil, "retired ConfigMap pruned")
	_, err = cs.CoreV1().ConfigMaps("kube-prune").Get(ctx, "handmade", metav1.GetOptions{})
	assert.NoError(t, err, "an object novadev did not apply stays")
}

// startBootstrap runs bootstrap seed of the fixture in namespace ns in the
// background and returns once its Job exists (no Job controller runs
// here: the test sets the Job's or its pod's status), with RunBootstrap's
// outcome to come on done.
func startBootstrap(t *testing.T, ns string) (*Backend, kubernetes.Interface, context.Context, *batchv1.Job, chan error) {
	t.Helper()
	b, cs, ctx := setup(t, fixture(ns, "v1"))
	snap, err := b.Observe(ctx)
	require.NoError(t, err)
	require.NoError(t, b.Prepare(ctx, snap, nil))
	done := make(chan error, 1)
	go func() { done <- b.RunBootstrap(ctx, "seed", func(string, ...any) {}) }()
	var j *batchv1.Job
	require.Eventually(t, func() bool {
		j, err = cs.BatchV1().Jobs(ns).Get(ctx, "seed", metav1.GetOptions{})
		return err == nil
	}, 20*time.Second, 50*time.Millisecond)
	return b, cs, ctx, j, done
}

// A bootstrap is its Job: complete = done (and the record is kept on it);
// run again, complete with the same configuration against the same
// instances, it writes nothing; a failed Job fails with its reason.
func TestRunBootstrapAsJob(t *testing.T) {
	b, cs, ctx, j, done := startBootstrap(t, "kube-job")
	var err error
	now := metav1.Now()
	j.Status = batchv1.JobStatus{StartTime: &now, CompletionTime: &now, Succeeded: 1, Conditions: []batchv1.JobCondition{
		{Type: batchv1.JobSuccessCriteriaMet, Status: corev1.ConditionTrue, LastTransitionTime: now},
		{Type: batchv1.JobComplete, Status: corev1.ConditionTrue, LastTransitionTime: now}}}
	_, err = cs.BatchV1().Jobs("kube-job").UpdateStatus(ctx, j, metav1.UpdateOptions{})
	require.NoError(t, err)
	require.NoError(t, <-done)
	require.NoError(t, b.Record(ctx, "seed", "sum-1"))
	snap, err := b.Observe(ctx)
	require.NoError(t, err)
	assert.Equal(t, "sum-1", snap.Records["seed"])

	before := versions(t, ctx, b)
	var lines []string
	require.NoError(t, b.RunBootstrap(ctx, "seed", func(f string, a ...any) { lines = append(lines, f) }))
	assert.Equal(t, before, versions(t, ctx, b), "a complete Job is not touched")
	assert.Contains(t, lines[0], "completed before")
}

// A Job whose pod has succeeded is done at once, before the Job controller
// sets Complete (2-4 s later on a real cluster); a pod still running is not.
func TestRunBootstrapDoneWhenItsPodSucceeded(t *testing.T) {
	_, cs, ctx, j, done := startBootstrap(t, "kube-jobpod")
	var err error
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "seed-abcde", Labels: map[string]string{"batch.kubernetes.io/controller-uid": string(j.UID), "batch.kubernetes.io/job-name": "seed"}},
		Spec:       corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever, Containers: []corev1.Container{{Name: "seed", Image: "novadev/novadev:dev"}}},
	}
	pod, err = cs.CoreV1().Pods("kube-jobpod").Create(ctx, pod, metav1.CreateOptions{})
	require.NoError(t, err)
	pod.Status.Phase = corev1.PodRunning
	pod, err = cs.CoreV1().Pods("kube-jobpod").UpdateStatus(ctx, pod, metav1.UpdateOptions{})
	require.NoError(t, err)
	select {
	case err := <-done:
		t.Fatalf("done while its pod runs: %v", err)
	case <-time.After(300 * time.Millisecond):
	}
	pod.Status.Phase = corev1.PodSucceeded
	_, err = cs.CoreV1().Pods("kube-jobpod").UpdateStatus(ctx, pod, metav1.UpdateOptions{})
	require.NoError(t, err)
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("not done 10 s after its pod succeeded")
	}
	j, err = cs.BatchV1().Jobs("kube-jobpod").Get(ctx, "seed", metav1.GetOptions{})
	require.NoError(t, err)
	assert.False(t, jobDone(j, batchv1.JobComplete), "done before the Job says Complete")
}

// A Failed Job fails its bootstrap with the reason; the next run deletes it
// and creates it again rather than reporting the old failure.
func TestRunBootstrapFailedJob(t *testing.T) {
	b, cs, ctx, j, done := startBootstrap(t, "kube-jobfail")
	var err error
	uid := j.UID
	now := metav1.Now()
	j.Status = batchv1.JobStatus{StartTime: &now, Failed: 1, Conditions: []batchv1.JobCondition{
		{Type: batchv1.JobFailureTarget, Status: corev1.ConditionTrue, LastTransitionTime: now, Reason: "BackoffLimitExceeded"},
		{Type: batchv1.JobFailed, Status: corev1.ConditionTrue, LastTransitionTime: now, Reason: "BackoffLimitExceeded"}}}
	_, err = cs.BatchV1().Jobs("kube-jobfail").UpdateStatus(ctx, j, metav1.UpdateOptions{})
	require.NoError(t, err)
	err = <-done
	require.Error(t, err)
	assert.Contains(t, err.Error(), "job seed failed")

	// no garbage collector runs here: foreground deletion would wait on
	// it forever, so the rerun is observed up to the delete
	rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	var lines []string
	_ = b.RunBootstrap(rctx, "seed", func(f string, a ...any) { lines = append(lines, f) })
	require.NotEmpty(t, lines)
	assert.Contains(t, lines[0], "running again")
	j, err = cs.BatchV1().Jobs("kube-jobfail").Get(ctx, "seed", metav1.GetOptions{})
	require.NoError(t, err, "foreground deletion keeps it until its dependents are gone")
	assert.Equal(t, uid, j.UID)
	assert.NotNil(t, j.DeletionTimestamp, "the failed Job is being deleted, to be created again")
}
