// Package kubeapi runs a real etcd and kube-apiserver for tests, so rendered
// Kubernetes manifests can be checked by the server itself (schema, defaults,
// validation) with a server-side dry-run apply. There is no kubelet or
// controller-manager: nothing is scheduled and nothing progresses.
//
// Import it from _test files only. Binaries come from scripts/kube-tools.sh;
// without them tests skip, except in CI (CI=true) or with NOVADEV_E2E=1.
//
// Starting costs seconds, so a package should share one apiserver:
//
//	func TestMain(m *testing.M) { os.Exit(kubeapi.Main(m)) }
//
//	func TestSomething(t *testing.T) {
//		env := kubeapi.Start(t)
//		...
//	}
package kubeapi

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
)

// FieldManager is the server-side apply field manager used for every write.
const FieldManager = "novadev"

// Env is a running kube-apiserver with clients for it.
type Env struct {
	cluster *cluster
	cfg     *rest.Config
	dyn     dynamic.Interface
	mapper  meta.ResettableRESTMapper
}

// shared is the one Env of a test binary whose TestMain calls Main.
var shared struct {
	enabled bool
	once    sync.Once
	env     *Env
	err     error
}

// Main runs the tests and then stops the apiserver they shared. Call it from
// TestMain; without it every Start starts (and cleans up) its own apiserver.
func Main(m *testing.M) int {
	shared.enabled = true
	code := m.Run()
	if shared.env != nil {
		shared.env.cluster.stop()
	}
	return code
}

// Start returns a ready apiserver: the test binary's shared one when TestMain
// uses Main, otherwise a new one stopped by t.Cleanup. Without binaries it
// skips the test, or fails it in CI and with NOVADEV_E2E=1.
func Start(t testing.TB) *Env {
	t.Helper()
	a, err := findAssets()
	if err != nil {
		skipOrFatal(t, err)
	}
	if !shared.enabled {
		env, err := start(t, a)
		if err != nil {
			t.Fatalf("kubeapi: %v", err)
		}
		t.Cleanup(env.cluster.stop)
		return env
	}
	shared.once.Do(func() { shared.env, shared.err = start(t, a) })
	if shared.err != nil {
		t.Fatalf("kubeapi: %v", shared.err)
	}
	return shared.env
}

func start(t testing.TB, a assets) (*Env, error) {
	t.Helper()
	begin := time.Now()
	c, err := startCluster(a)
	if err != nil {
		return nil, err
	}
	t.Logf("kubeapi: kube-apiserver ready at %s in %s (binaries: %s)", c.host, time.Since(begin).Round(time.Millisecond), a.apiserver)
	cfg := &rest.Config{
		Host:            c.host,
		BearerToken:     c.token,
		TLSClientConfig: rest.TLSClientConfig{CAData: c.caPEM},
		// Tests send bursts of dry-runs; the client-side default of 5 QPS
		// would make them wait on a throttle rather than on the server.
		QPS:   200,
		Burst: 400,
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		c.stop()
		return nil, err
	}
	disc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		c.stop()
		return nil, err
	}
	return &Env{
		cluster: c,
		cfg:     cfg,
		dyn:     dyn,
		mapper:  restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(disc)),
	}, nil
}

// Config returns a copy of the admin client configuration.
func (e *Env) Config() *rest.Config {
	return rest.CopyConfig(e.cfg)
}

var namespaceGVR = schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}

// EnsureNamespace creates the namespace for real if it does not exist yet.
// A dry-run of a Namespace creates nothing, and namespaced objects are
// rejected unless their namespace exists.
func (e *Env) EnsureNamespace(ctx context.Context, name string) error {
	ns := &unstructured.Unstructured{}
	ns.SetAPIVersion("v1")
	ns.SetKind("Namespace")
	ns.SetName(name)
	_, err := e.dyn.Resource(namespaceGVR).Create(ctx, ns, metav1.CreateOptions{FieldManager: FieldManager})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create namespace %s: %w", name, err)
	}
	return nil
}

var crdGVR = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}

// InstallCRDs applies the CustomResourceDefinitions in a YAML stream for real
// and waits until each is Established and served. Applying (rather than
// creating) lets tests sharing one apiserver install the same CRDs.
func (e *Env) InstallCRDs(ctx context.Context, yamlBytes []byte) error {
	objs, err := DecodeYAMLStream(yamlBytes)
	if err != nil {
		return err
	}
	for _, o := range objs {
		if o.GroupVersionKind().GroupKind() != (schema.GroupKind{Group: "apiextensions.k8s.io", Kind: "CustomResourceDefinition"}) {
			return fmt.Errorf("%s: not a CustomResourceDefinition", ref(o))
		}
		data, err := json.Marshal(o.Object)
		if err != nil {
			return err
		}
		force := true
		_, err = e.dyn.Resource(crdGVR).Patch(ctx, o.GetName(), types.ApplyPatchType, data, metav1.PatchOptions{
			FieldManager:    FieldManager,
			Force:           &force,
			FieldValidation: metav1.FieldValidationStrict,
		})
		if err != nil {
			return fmt.Errorf("%s: %w", ref(o), err)
		}
	}
	for _, o := range objs {
		if err := e.waitEstablished(ctx, o.GetName()); err != nil {
			return err
		}
	}
	e.mapper.Reset()
	return nil
}

func (e *Env) waitEstablished(ctx context.Context, name string) error {
	var last string
	err := wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		crd, err := e.dyn.Resource(crdGVR).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		conds, _, _ := unstructured.NestedSlice(crd.Object, "status", "conditions")
		for _, c := range conds {
			m, _ := c.(map[string]any)
			if m["type"] == "NamesAccepted" && m["status"] == "False" {
				return false, fmt.Errorf("names not accepted: %v", m["message"])
			}
			if m["type"] == "Established" && m["status"] == "True" {
				return true, nil
			}
		}
		last = fmt.Sprint(conds)
		return false, nil
	})
	if err != nil {
		return fmt.Errorf("CustomResourceDefinition %s not established: %w (conditions: %s)", name, err, last)
	}
	return nil
}

// DryRunApply server-side applies each object with dryRun=All, field manager
// novadev and strict field validation, so unknown or duplicate fields fail as
// well as everything the apiserver validates. It returns one error per
// rejected object, each naming kind, namespace and name; none when all pass.
// Namespaced objects without a namespace go to "default", as with kubectl.
func (e *Env) DryRunApply(ctx context.Context, objs []*unstructured.Unstructured) []error {
	var errs []error
	for _, o := range objs {
		if err := e.apply(ctx, o, true); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", ref(o), err))
		}
	}
	return errs
}

// restMapping resolves a kind, rediscovering for a few seconds when it is
// unknown: a freshly established CRD can take a moment to show in discovery.
func (e *Env) restMapping(ctx context.Context, gvk schema.GroupVersionKind) (*meta.RESTMapping, error) {
	var mapping *meta.RESTMapping
	err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 5*time.Second, true, func(context.Context) (bool, error) {
		var err error
		mapping, err = e.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		if meta.IsNoMatchError(err) {
			e.mapper.Reset()
			return false, nil
		}
		return err == nil, err
	})
	if err != nil {
		if wait.Interrupted(err) {
			return nil, fmt.Errorf("the server does not serve %s", gvk)
		}
		return nil, err
	}
	return mapping, nil
}

// ref names an object for error messages: "Deployment nova/api", or
// "Namespace nova" when it has no namespace.
func ref(o *unstructured.Unstructured) string {
	if ns := o.GetNamespace(); ns != "" {
		return fmt.Sprintf("%s %s/%s", o.GetKind(), ns, o.GetName())
	}
	return fmt.Sprintf("%s %s", o.GetKind(), o.GetName())
}
