package kindcluster

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/kubernetes"
)

// AnnotationHash is the annotation holding the sha256 of an addon object as
// rendered: the same name the Kubernetes backend gives its objects, so one
// `kubectl get -o yaml` reads the same way everywhere.
const AnnotationHash = "novadev.io/hash"

// Addon is a cluster-wide manifest the kind target applies once the
// cluster exists, such as the NetworkPolicy engine
// (kind/addons/network-policy.yaml).
type Addon struct {
	// Name is what progress lines call it ("NetworkPolicy engine").
	Name string
	// Manifest is the rendered YAML stream.
	Manifest []byte
	// DaemonSet, namespace/name, is the workload whose pods must all be
	// Ready before ApplyAddon returns (empty: none).
	DaemonSet string
	// ReadyTimeout bounds that wait (default 2m).
	ReadyTimeout time.Duration
	// Image is the image the addon runs as the Docker engine names it
	// (novadev/kube-router:v2.1.0), pushed to the local registry with the
	// environment's images; empty: the addon needs none of ours.
	Image string
	// Build is the command that builds Image when the engine lacks it.
	Build string
	// Without says what the cluster lacks while the addon is not
	// installed ("NetworkPolicies are rendered but NOT enforced").
	Without string
}

// AddonReport says what ApplyAddon did.
type AddonReport struct {
	// Applied are the objects sent (their hash differed or they were
	// missing), as Kind/namespace/name; Unchanged the ones left alone.
	Applied, Unchanged []string
	// Ready is how long the DaemonSet took to have every pod Ready (0 when
	// it was already).
	Ready time.Duration
}

// addonKinds are the kinds an addon may hold, with their resources: what
// the rendered addons use. A fixed table rather than API discovery, which
// would cost a round of requests on every up.
var addonKinds = map[string]struct {
	gvr        schema.GroupVersionResource
	namespaced bool
}{
	"ServiceAccount":     {schema.GroupVersionResource{Version: "v1", Resource: "serviceaccounts"}, true},
	"ConfigMap":          {schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}, true},
	"ClusterRole":        {schema.GroupVersionResource{Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "clusterroles"}, false},
	"ClusterRoleBinding": {schema.GroupVersionResource{Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "clusterrolebindings"}, false},
	"DaemonSet":          {schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "daemonsets"}, true},
}

// addonObject is one decoded object of an addon, with its hash.
type addonObject struct {
	u    *unstructured.Unstructured
	gvr  schema.GroupVersionResource
	hash string
}

func (o addonObject) key() string {
	if ns := o.u.GetNamespace(); ns != "" {
		return o.u.GetKind() + "/" + ns + "/" + o.u.GetName()
	}
	return o.u.GetKind() + "/" + o.u.GetName()
}

// decodeAddon decodes an addon manifest (a YAML stream) into its objects,
// each with the hash of its rendered form. Every object must have a kind
// of addonKinds, a name, and a namespace exactly when its kind is
// namespaced; errors name the document (1-based) and what is wrong.
func decodeAddon(manifest []byte) ([]addonObject, error) {
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(manifest), 4096)
	var out []addonObject
	for doc := 1; ; doc++ {
		var m map[string]any
		err := dec.Decode(&m)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("document %d: %w", doc, err)
		}
		if len(m) == 0 {
			continue // an empty document between two ---
		}
		u := &unstructured.Unstructured{Object: m}
		k, ok := addonKinds[u.GetKind()]
		switch {
		case u.GetKind() == "":
			return nil, fmt.Errorf("document %d: no kind", doc)
		case !ok:
			return nil, fmt.Errorf("document %d: kind %q is not one an addon may hold (%s)", doc, u.GetKind(), strings.Join(addonKindNames(), ", "))
		case u.GetName() == "":
			return nil, fmt.Errorf("document %d: %s without metadata.name", doc, u.GetKind())
		case k.namespaced && u.GetNamespace() == "":
			return nil, fmt.Errorf("document %d: %s %s without metadata.namespace", doc, u.GetKind(), u.GetName())
		case !k.namespaced && u.GetNamespace() != "":
			return nil, fmt.Errorf("document %d: %s %s is cluster-wide but has metadata.namespace %q", doc, u.GetKind(), u.GetName(), u.GetNamespace())
		}
		if gv, err := schema.ParseGroupVersion(u.GetAPIVersion()); err != nil || gv.Group != k.gvr.Group || gv.Version != k.gvr.Version {
			return nil, fmt.Errorf("document %d: %s %s: apiVersion %q, want %s", doc, u.GetKind(), u.GetName(), u.GetAPIVersion(), k.gvr.GroupVersion())
		}
		data, err := json.Marshal(u.Object)
		if err != nil {
			return nil, fmt.Errorf("document %d: %w", doc, err)
		}
		sum := sha256.Sum256(data)
		o := addonObject{u: u, gvr: k.gvr, hash: hex.EncodeToString(sum[:])}
		ann := u.GetAnnotations()
		if ann == nil {
			ann = map[string]string{}
		}
		ann[AnnotationHash] = o.hash
		u.SetAnnotations(ann)
		out = append(out, o)
	}
	if len(out) == 0 {
		return nil, errors.New("no objects")
	}
	return out, nil
}

func addonKindNames() []string {
	names := slices.Collect(maps.Keys(addonKinds))
	slices.Sort(names)
	return names
}

// ApplyAddon server-side applies an addon's objects (field manager novadev,
// conflicts forced: novadev owns what it renders) whose hash on the cluster
// differs from the rendered one, so an unchanged addon costs one GET per
// object and writes nothing, then waits until its DaemonSet has every pod
// Ready.
func (p *Provisioner) ApplyAddon(ctx context.Context, a Addon) (AddonReport, error) {
	var rep AddonReport
	objs, err := decodeAddon(a.Manifest)
	if err != nil {
		return rep, fmt.Errorf("addon %s: %w (run novadev render kind)", a.Name, err)
	}
	cs, err := p.client()
	if err != nil {
		return rep, err
	}
	dyn, err := p.dynamicClient()
	if err != nil {
		return rep, err
	}
	force := true
	for _, o := range objs {
		var r = dyn.Resource(o.gvr)
		get, patch := r.Get, r.Patch
		if ns := o.u.GetNamespace(); ns != "" {
			get, patch = r.Namespace(ns).Get, r.Namespace(ns).Patch
		}
		have, err := get(ctx, o.u.GetName(), metav1.GetOptions{})
		switch {
		case err == nil && have.GetAnnotations()[AnnotationHash] == o.hash:
			rep.Unchanged = append(rep.Unchanged, o.key())
			continue
		case err != nil && !apierrors.IsNotFound(err):
			return rep, fmt.Errorf("addon %s: reading %s: %w", a.Name, o.key(), err)
		}
		data, err := json.Marshal(o.u.Object)
		if err != nil {
			return rep, err
		}
		if _, err := patch(ctx, o.u.GetName(), types.ApplyPatchType, data, metav1.PatchOptions{FieldManager: FieldManager, Force: &force}); err != nil {
			return rep, fmt.Errorf("addon %s: applying %s: %w", a.Name, o.key(), err)
		}
		rep.Applied = append(rep.Applied, o.key())
	}
	if len(rep.Applied) > 0 {
		p.progress(fmt.Sprintf("%s: applied %s", a.Name, strings.Join(rep.Applied, ", ")))
	} else {
		p.progress(fmt.Sprintf("%s: unchanged (%d objects)", a.Name, len(rep.Unchanged)))
	}
	if a.DaemonSet == "" {
		return rep, nil
	}
	ns, name, ok := strings.Cut(a.DaemonSet, "/")
	if !ok {
		return rep, fmt.Errorf("addon %s: DaemonSet %q: want namespace/name", a.Name, a.DaemonSet)
	}
	timeout := a.ReadyTimeout
	if timeout == 0 {
		timeout = 2 * time.Minute
	}
	start := time.Now()
	waited, err := waitDaemonSet(ctx, cs, ns, name, timeout)
	if err != nil {
		return rep, fmt.Errorf("addon %s: %w", a.Name, err)
	}
	if waited {
		rep.Ready = time.Since(start)
		p.progress(fmt.Sprintf("%s: DaemonSet %s ready in %.1fs", a.Name, a.DaemonSet, rep.Ready.Seconds()))
	}
	return rep, nil
}

// AddonInstalled reports whether the addon's DaemonSet exists on the
// cluster (an earlier up installed it), for what up says when it cannot
// install or update it.
func (p *Provisioner) AddonInstalled(ctx context.Context, a Addon) (bool, error) {
	ns, name, ok := strings.Cut(a.DaemonSet, "/")
	if !ok {
		return false, nil
	}
	cs, err := p.client()
	if err != nil {
		return false, err
	}
	_, err = cs.AppsV1().DaemonSets(ns).Get(ctx, name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("addon %s: reading DaemonSet %s: %w", a.Name, a.DaemonSet, err)
	}
	return true, nil
}

// daemonSetReady says whether every scheduled pod of the DaemonSet runs
// its current template and is Ready, and if not what it is at.
func daemonSetReady(ds *appsv1.DaemonSet) (bool, string) {
	st := ds.Status
	state := fmt.Sprintf("desired %d, updated %d, ready %d", st.DesiredNumberScheduled, st.UpdatedNumberScheduled, st.NumberReady)
	if st.ObservedGeneration < ds.Generation {
		return false, state + " (controller has not seen the new template yet)"
	}
	if st.DesiredNumberScheduled == 0 {
		return false, state + " (no node to run on yet)"
	}
	return st.UpdatedNumberScheduled == st.DesiredNumberScheduled && st.NumberReady == st.DesiredNumberScheduled && st.NumberUnavailable == 0, state
}

// waitDaemonSet polls the DaemonSet until daemonSetReady; waited is false
// when it was ready at the first look. A timeout names what was seen and
// why its pods are not Ready.
func waitDaemonSet(ctx context.Context, cs kubernetes.Interface, ns, name string, timeout time.Duration) (waited bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	last := "not found"
	for first := true; ; first = false {
		ds, err := cs.AppsV1().DaemonSets(ns).Get(ctx, name, metav1.GetOptions{})
		switch {
		case err == nil:
			var ok bool
			if ok, last = daemonSetReady(ds); ok {
				return !first, nil
			}
		case apierrors.IsNotFound(err):
			last = "not found"
		case ctx.Err() == nil:
			last = err.Error()
		}
		select {
		case <-ctx.Done():
			return true, fmt.Errorf("DaemonSet %s/%s not ready after %s: %s%s", ns, name, timeout, last, podWaits(cs, ns, ds))
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// podWaits describes why the DaemonSet's pods are not Ready (waiting
// reasons, such as ErrImagePull), for a timeout's message.
func podWaits(cs kubernetes.Interface, ns string, ds *appsv1.DaemonSet) string {
	if ds == nil || ds.Spec.Selector == nil {
		return ""
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	sel, err := metav1.LabelSelectorAsSelector(ds.Spec.Selector)
	if err != nil {
		return ""
	}
	pods, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
	if err != nil {
		return ""
	}
	var b strings.Builder
	for _, pod := range pods.Items {
		fmt.Fprintf(&b, "; pod %s %s", pod.Name, pod.Status.Phase)
		for _, c := range pod.Status.ContainerStatuses {
			if w := c.State.Waiting; w != nil {
				fmt.Fprintf(&b, " (%s: %s %s)", c.Name, w.Reason, w.Message)
			}
		}
	}
	return b.String()
}
