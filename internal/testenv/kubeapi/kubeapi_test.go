package kubeapi_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"

	"github.com/novadev/novadev/internal/testenv/kubeapi"
)

func TestMain(m *testing.M) { os.Exit(kubeapi.Main(m)) }

const namespace = "nova"

// validSet is shaped like a rendered overlay: one of each kind we emit.
const validSet = `
apiVersion: v1
kind: Namespace
metadata:
  name: nova
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: feed-config
  namespace: nova
data:
  LOG_LEVEL: debug
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: feed-service
  namespace: nova
  labels: {app: feed-service}
spec:
  replicas: 2
  selector:
    matchLabels: {app: feed-service}
  template:
    metadata:
      labels: {app: feed-service}
    spec:
      containers:
        - name: feed-service
          image: nova/feed-service:dev
          ports: [{name: grpc, containerPort: 9090}]
          envFrom: [{configMapRef: {name: feed-config}}]
          resources:
            requests: {cpu: 100m, memory: 64Mi}
            limits: {memory: 256Mi}
          readinessProbe:
            grpc: {port: 9090}
---
apiVersion: v1
kind: Service
metadata:
  name: feed-service
  namespace: nova
spec:
  selector: {app: feed-service}
  ports: [{name: grpc, port: 9090, targetPort: grpc}]
---
apiVersion: v1
kind: Service
metadata:
  name: redis
  namespace: nova
spec:
  clusterIP: None
  selector: {app: redis}
  ports: [{name: redis, port: 6379}]
---
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: redis
  namespace: nova
spec:
  serviceName: redis
  replicas: 3
  selector:
    matchLabels: {app: redis}
  template:
    metadata:
      labels: {app: redis}
    spec:
      containers:
        - name: redis
          image: nova/redis:7.0
          args: ["--cluster-enabled", "yes"]
          ports: [{name: redis, containerPort: 6379}]
          volumeMounts: [{name: data, mountPath: /data}]
  volumeClaimTemplates:
    - metadata: {name: data}
      spec:
        accessModes: [ReadWriteOnce]
        resources: {requests: {storage: 1Gi}}
---
apiVersion: batch/v1
kind: Job
metadata:
  name: postgres-init
  namespace: nova
spec:
  backoffLimit: 3
  template:
    spec:
      restartPolicy: OnFailure
      containers:
        - name: bootstrap
          image: nova/novadev:dev
          args: [bootstrap, postgres-init]
`

func decode(t *testing.T, yaml string) []*unstructured.Unstructured {
	t.Helper()
	objs, err := kubeapi.DecodeYAMLStream([]byte(yaml))
	if err != nil {
		t.Fatalf("DecodeYAMLStream: %v", err)
	}
	return objs
}

func setup(t *testing.T) (*kubeapi.Env, context.Context) {
	t.Helper()
	env := kubeapi.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	if err := env.EnsureNamespace(ctx, namespace); err != nil {
		t.Fatal(err)
	}
	return env, ctx
}

func TestDryRunApplyAcceptsValidSet(t *testing.T) {
	env, ctx := setup(t)
	objs := decode(t, validSet)
	if len(objs) != 7 {
		t.Fatalf("decoded %d objects, want 7", len(objs))
	}
	if errs := env.DryRunApply(ctx, objs); len(errs) != 0 {
		t.Fatalf("DryRunApply rejected a valid set:\n%v", errs)
	}

	// A dry run must leave nothing behind.
	dyn, err := dynamic.NewForConfig(env.Config())
	if err != nil {
		t.Fatal(err)
	}
	deployments := schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}
	_, err = dyn.Resource(deployments).Namespace(namespace).Get(ctx, "feed-service", metav1.GetOptions{})
	if !apierrors.IsNotFound(err) {
		t.Fatalf("Get deployment after dry run: err = %v, want NotFound", err)
	}
}

// deployment returns a valid Deployment named name after edit has changed it.
func deployment(t *testing.T, name string, edit func(spec map[string]any)) *unstructured.Unstructured {
	t.Helper()
	d := decode(t, `
apiVersion: apps/v1
kind: Deployment
metadata:
  name: NAME
  namespace: nova
spec:
  selector:
    matchLabels: {app: api}
  template:
    metadata:
      labels: {app: api}
    spec:
      containers:
        - name: api
          image: nova/api:dev
          resources:
            limits: {memory: 128Mi}
`)[0]
	d.SetName(name)
	edit(d.Object["spec"].(map[string]any))
	return d
}

func container(spec map[string]any) map[string]any {
	tmpl := spec["template"].(map[string]any)["spec"].(map[string]any)
	return tmpl["containers"].([]any)[0].(map[string]any)
}

func TestDryRunApplyRejects(t *testing.T) {
	env, ctx := setup(t)
	tests := []struct {
		name string
		obj  *unstructured.Unstructured
		want []string // substrings of the one error
	}{
		{
			name: "unknown field",
			obj: deployment(t, "unknown-field", func(spec map[string]any) {
				container(spec)["imagePullPolicyy"] = "Always"
			}),
			want: []string{"Deployment nova/unknown-field:", `.spec.template.spec.containers[name="api"].imagePullPolicyy: field not declared in schema`},
		},
		{
			name: "selector does not match template labels",
			obj: deployment(t, "selector-mismatch", func(spec map[string]any) {
				spec["selector"] = map[string]any{"matchLabels": map[string]any{"app": "other"}}
			}),
			want: []string{"Deployment nova/selector-mismatch:", "spec.template.metadata.labels", "`selector` does not match template `labels`"},
		},
		{
			name: "bad quantity",
			obj: deployment(t, "bad-quantity", func(spec map[string]any) {
				container(spec)["resources"] = map[string]any{"limits": map[string]any{"memory": "12 gigs"}}
			}),
			want: []string{"Deployment nova/bad-quantity:", "quantities must match the regular expression"},
		},
		{
			name: "label value parsed as a boolean",
			obj: decode(t, `
apiVersion: v1
kind: ConfigMap
metadata:
  name: yes-label
  namespace: nova
  labels: {enabled: y}
`)[0],
			want: []string{"ConfigMap nova/yes-label:", ".metadata.labels.enabled: expected string"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			errs := env.DryRunApply(ctx, []*unstructured.Unstructured{tc.obj})
			if len(errs) != 1 {
				t.Fatalf("got %d errors, want 1: %v", len(errs), errs)
			}
			msg := errs[0].Error()
			t.Log(msg)
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error does not contain %q:\n%s", w, msg)
				}
			}
		})
	}

	// In one batch, only the bad objects come back, in order.
	batch := append(decode(t, validSet), tests[0].obj, tests[1].obj, tests[2].obj)
	errs := env.DryRunApply(ctx, batch)
	var got []string
	for _, err := range errs {
		got = append(got, strings.SplitN(err.Error(), ":", 2)[0])
	}
	want := []string{"Deployment nova/unknown-field", "Deployment nova/selector-mismatch", "Deployment nova/bad-quantity"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("batch errors name %q, want %q; errors:\n%v", got, want, errs)
	}
}

func TestInstallCRDs(t *testing.T) {
	env, ctx := setup(t)
	crd, err := os.ReadFile("testdata/clickhouse-crd.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := env.InstallCRDs(ctx, crd); err != nil {
		t.Fatal(err)
	}
	// A second install (another test sharing the apiserver) is a no-op.
	if err := env.InstallCRDs(ctx, crd); err != nil {
		t.Fatalf("second InstallCRDs: %v", err)
	}

	chi := decode(t, `
apiVersion: clickhouse.altinity.com/v1
kind: ClickHouseInstallation
metadata:
  name: analytics
  namespace: nova
spec:
  configuration:
    clusters:
      - name: main
        layout: {shardsCount: 1, replicasCount: 1}
    users:
      nova/password: secret
`)
	if errs := env.DryRunApply(ctx, chi); len(errs) != 0 {
		t.Fatalf("DryRunApply rejected a ClickHouseInstallation: %v", errs)
	}

	// The schema is enforced outside the open spec: strict validation
	// rejects a field the CRD does not declare.
	chi[0].Object["specc"] = map[string]any{}
	errs := env.DryRunApply(ctx, chi)
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), `ClickHouseInstallation nova/analytics:`) ||
		!strings.Contains(errs[0].Error(), `.specc: field not declared in schema`) {
		t.Fatalf("want one unknown-field error naming the object, got %v", errs)
	}
}

func TestInstallCRDsRejectsOtherKinds(t *testing.T) {
	env, ctx := setup(t)
	err := env.InstallCRDs(ctx, []byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x, namespace: nova}\n"))
	if err == nil || !strings.Contains(err.Error(), "ConfigMap nova/x: not a CustomResourceDefinition") {
		t.Fatalf("err = %v, want a not-a-CRD error", err)
	}
}

func TestDecodeYAMLStream(t *testing.T) {
	objs, err := kubeapi.DecodeYAMLStream([]byte(`
# leading comment
---
apiVersion: v1
kind: ConfigMap
metadata: {name: a}
data: {k: v}
---
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: b}
spec: {replicas: 3}
`))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, o := range objs {
		names = append(names, o.GetKind()+"/"+o.GetName())
	}
	if got := strings.Join(names, ","); got != "ConfigMap/a,Deployment/b" {
		t.Fatalf("decoded %s", got)
	}
	// Integers stay integers (unstructured helpers and the server expect int64).
	if r, ok := objs[1].Object["spec"].(map[string]any)["replicas"].(int64); !ok || r != 3 {
		t.Fatalf("replicas = %#v, want int64(3)", objs[1].Object["spec"].(map[string]any)["replicas"])
	}

	_, err = kubeapi.DecodeYAMLStream([]byte("apiVersion: v1\nkind: ConfigMap\n---\nmetadata: {name: nokind}\n"))
	if err == nil || !strings.Contains(err.Error(), "document 2") {
		t.Fatalf("err = %v, want an error naming document 2", err)
	}
}
