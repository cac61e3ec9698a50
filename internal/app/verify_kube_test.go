package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	krt "k8s.io/apimachinery/pkg/runtime"
	kfake "k8s.io/client-go/kubernetes/fake"

	"github.com/novadev/novadev/internal/app"
	"github.com/novadev/novadev/internal/backend"
	"github.com/novadev/novadev/internal/backend/fake"
	"github.com/novadev/novadev/internal/catalog"
	"github.com/novadev/novadev/internal/cli"
	"github.com/novadev/novadev/internal/verify/kubecluster"
)

// namespacedFake is the fake backend standing for the kube backend: an
// instance that is one namespace.
type namespacedFake struct {
	*fake.Backend
	ns string
}

func (n namespacedFake) Namespace() string { return n.ns }

// kubeVerifyApp runs novadev verify with --target kube and kind on a fake
// backend, with verify's cluster view over client-go's fake clientset
// holding objs; opened records what the verifier was opened with.
type kubeVerifyApp struct {
	t      *testing.T
	root   string
	objs   []krt.Object
	opened []kubecluster.Options
}

func newKubeVerifyApp(t *testing.T, objs ...krt.Object) *kubeVerifyApp {
	root := t.TempDir()
	require.NoError(t, os.CopyFS(filepath.Join(root, "envs"), os.DirFS("../../envs")))
	return &kubeVerifyApp{t: t, root: root, objs: objs}
}

func (k *kubeVerifyApp) run(args ...string) result {
	k.t.Helper()
	var out, errb bytes.Buffer
	s := cli.Streams{In: strings.NewReader(""), Out: &out, Err: &errb, Getenv: func(string) string { return "" }}
	open := func(_ context.Context, env *app.Env) (backend.Backend, error) {
		be := fake.New()
		be.AddCatalog(env.Catalog)
		return namespacedFake{be, "nova-local"}, nil
	}
	o := app.Options{
		Backends: map[string]app.BackendFactory{"kube": open, "kind": open},
		ClusterVerifier: func(_ context.Context, c *catalog.Catalog, o kubecluster.Options) (*kubecluster.Instance, error) {
			k.opened = append(k.opened, o)
			return kubecluster.NewClientset(c, kfake.NewClientset(k.objs...), o)
		},
		StateDir: k.t.TempDir(),
	}
	code := app.RunWith(context.Background(), s, append([]string{"--catalog", filepath.Join(k.root, "envs", "nova.yaml"), "--env", "local"}, args...), o)
	return result{code, out.String(), errb.String()}
}

func objMeta(name, app string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: name, Namespace: "nova-local", Labels: map[string]string{"app": app}, Generation: 1}
}

// servicePod is a pod of a service whose init containers ran, or whose
// second one (wait-for-kafka) still waits.
func servicePod(name, service string, stuck bool) *corev1.Pod {
	done := corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 0, Reason: "Completed"}}
	p := &corev1.Pod{ObjectMeta: objMeta(name, service),
		Spec: corev1.PodSpec{InitContainers: []corev1.Container{{Name: "wait-for-postgres"}, {Name: "wait-for-kafka"}}, Containers: []corev1.Container{{Name: service}}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning,
			Conditions:            []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}},
			InitContainerStatuses: []corev1.ContainerStatus{{Name: "wait-for-postgres", State: done}, {Name: "wait-for-kafka", State: done}},
			ContainerStatuses:     []corev1.ContainerStatus{{Name: service, Ready: true, State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}}}}
	if stuck {
		p.Status.Phase = corev1.PodPending
		p.Status.Conditions[0].Status = corev1.ConditionFalse
		p.Status.InitContainerStatuses[1].State = corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.NewTime(time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC))}}
		p.Status.ContainerStatuses[0] = corev1.ContainerStatus{Name: service, State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "PodInitializing"}}}
	}
	return p
}

func readyDeployment(name string, ready int32) *appsv1.Deployment {
	one := int32(1)
	return &appsv1.Deployment{ObjectMeta: objMeta(name, name), Spec: appsv1.DeploymentSpec{Replicas: &one},
		Status: appsv1.DeploymentStatus{ObservedGeneration: 1, Replicas: 1, UpdatedReplicas: 1, ReadyReplicas: ready}}
}

type jsonReport struct {
	Results []struct {
		ID      string `json:"id"`
		Status  string `json:"status"`
		Message string `json:"message"`
	} `json:"results"`
}

// verify --target kube runs the cluster's own checks beside the staging
// guide's, through kubecluster on the backend's namespace and the
// --context given (kind: kind-<catalog name>), in verify's usual -o json
// shape; each failure names the object (the pod and init container
// holding a service up, the missing NetworkPolicies). An empty namespace
// is refused with the up command that fills it.
func TestVerifyOnAClusterRunsTheClusterChecks(t *testing.T) {
	empty := newKubeVerifyApp(t)
	r := empty.run("verify", "--target", "kube", "--context", "kind-x")
	require.Equal(t, 1, r.code, r.out+r.err)
	assert.Contains(t, r.err, "nova-local: nothing runs in namespace nova-local (novadev up --target kube --context kind-x starts it)")
	assert.Equal(t, []kubecluster.Options{{Context: "kind-x", Namespace: "nova-local"}}, empty.opened)

	k := newKubeVerifyApp(t,
		readyDeployment("user-service", 1), servicePod("user-service-a", "user-service", false),
		readyDeployment("feed-service", 0), servicePod("feed-service-b", "feed-service", true),
		&networkingv1.NetworkPolicy{ObjectMeta: objMeta("default-deny", "")},
		&networkingv1.NetworkPolicy{ObjectMeta: objMeta("allow-user-service", "")})
	r = k.run("verify", "--target", "kube", "--context", "kind-x", "-o", "json", "--check-timeout", "2s")
	require.Equal(t, 1, r.code, r.out+r.err)
	var rep jsonReport
	require.NoError(t, json.Unmarshal([]byte(r.out), &rep), r.out)
	status, msg := map[string]string{}, map[string]string{}
	for _, res := range rep.Results {
		status[res.ID], msg[res.ID] = res.Status, res.Message
	}
	assert.Equal(t, "passed", status["user-service/init-containers"], msg["user-service/init-containers"])
	assert.Equal(t, "2 init containers completed", msg["user-service/init-containers"])
	assert.Equal(t, "failed", status["feed-service/init-containers"])
	assert.True(t, strings.HasPrefix(msg["feed-service/init-containers"], "not completed: feed-service-b/wait-for-kafka: running since 10:00:00; failing upstream of feed-service: "), msg["feed-service/init-containers"])
	assert.Equal(t, "failed", status["network-policies/present"])
	assert.True(t, strings.HasPrefix(msg["network-policies/present"], "missing: allow-analytics-service, allow-auth-service, "), msg["network-policies/present"])
	assert.NotContains(t, msg["network-policies/present"], "allow-user-service")
	// the guide's checks run on the same view: states from the workloads
	assert.Equal(t, "passed", status["user-service/ready"], msg["user-service/ready"])
	assert.Equal(t, "failed", status["feed-service/ready"])
	assert.Contains(t, msg["feed-service/ready"], "pod feed-service-b: init container wait-for-kafka running since 10:00:00")
	// the in-cluster lookup needs an exec into a pod: the fake has no
	// connection, and the check says so instead of passing
	assert.Equal(t, "failed", status["user-service/dns"])
	assert.Contains(t, msg["user-service/dns"], "nslookup user-service.nova-local.svc.cluster.local: ")
	assert.Equal(t, "failed", status["postgres/up"], "no StatefulSet in the fake namespace")
	assert.Contains(t, msg["postgres/up"], "no StatefulSet labelled app=postgres in namespace nova-local")

	k.opened = nil
	r = k.run("verify", "--target", "kind", "--only", "user-service")
	require.Equal(t, 1, r.code, r.out+r.err)
	assert.Equal(t, []kubecluster.Options{{Context: "kind-nova", Namespace: "nova-local"}}, k.opened, "kind: the catalog's cluster context")
	assert.Contains(t, r.out, "user-service/init-containers")
	assert.Contains(t, r.out, "network-policies/present")
	assert.NotContains(t, r.out, "feed-service/init-containers", "--only selects the cluster checks too")
}
