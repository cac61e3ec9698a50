// Package kube is the Kubernetes backend: it runs one environment instance
// in one namespace of any cluster a kubeconfig context names (a kind
// cluster is one such cluster; nothing here knows kind). It applies the
// environment's built kustomize overlay with server-side apply (field
// manager "novadev"), per graph node, and prunes what it applied earlier
// and no longer renders; it observes pods, their readiness and their UIDs;
// it runs the rendered bootstrap Jobs (RunBootstrap); and it reaches pods
// from 127.0.0.1 through port-forwards that live as long as the process.
//
// It imports no other backend, no supervisor and no renderer: the
// composition root (internal/app) renders and hands it the files.
package kube

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/novadev/novadev/internal/state"
)

// FieldManager owns every field novadev applies.
const FieldManager = "novadev"

// Annotations and labels this backend adds to what it applies.
const (
	// AnnotationHash is the sha256 of the rendered object (before this
	// annotation was added): equal hashes mean nothing to apply.
	AnnotationHash = "novadev.io/hash"
	// AnnotationRecord holds, on a bootstrap's Job, what the bootstrap
	// last completed against (backend.Backend.Record).
	AnnotationRecord = "novadev.io/record"
	// AnnotationRanAgainst holds, on a bootstrap's Job, the generation of
	// what it needs when it was created: a Job complete against another
	// store instance is run again.
	AnnotationRanAgainst = "novadev.io/ran-against"
	// LabelInventory marks every object this backend applied: prune
	// selects by it (and by the managed-by label), never anything else.
	LabelInventory = "novadev.io/applied"
)

// NodeKind is how a graph node runs on Kubernetes.
type NodeKind string

// Node kinds (catalog.NodeKind values, without importing the catalog).
const (
	Service   NodeKind = "service"
	Store     NodeKind = "store"
	Bootstrap NodeKind = "bootstrap"
)

// NodeSpec is what the backend needs to know of one graph node beyond its
// objects.
type NodeSpec struct {
	Kind NodeKind
	// Needs are the graph nodes it needs (a bootstrap's Job is run again
	// when one of them was recreated since).
	Needs []string
	// Ports are the container ports reachable from 127.0.0.1 (a store's
	// client port, a service's catalog ports); others (Redis's cluster
	// bus) are not forwarded.
	Ports []int
}

// Spec is one environment instance on a cluster: its namespace, its built
// objects, and its graph nodes.
type Spec struct {
	Namespace string
	Objects   []*unstructured.Unstructured
	Nodes     map[string]NodeSpec
}

// Build runs kustomize (krusty, in-process, on an in-memory file system
// holding files) over the overlay directory dir and returns its objects.
func Build(files map[string][]byte, dir string) ([]*unstructured.Unstructured, error) {
	fs := filesys.MakeFsInMemory()
	for p, data := range files {
		p = path.Join("/", p)
		if err := fs.MkdirAll(path.Dir(p)); err != nil {
			return nil, err
		}
		if err := fs.WriteFile(p, data); err != nil {
			return nil, err
		}
	}
	m, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(fs, path.Join("/", dir))
	if err != nil {
		return nil, fmt.Errorf("kustomize build %s: %w", dir, err)
	}
	var out []*unstructured.Unstructured
	for _, r := range m.Resources() {
		// through JSON: kustomize's maps hold Go ints, which unstructured
		// objects (JSON numbers: int64, float64) cannot deep-copy
		data, err := r.MarshalJSON()
		if err != nil {
			return nil, fmt.Errorf("kustomize build %s: %s: %w", dir, r.CurId(), err)
		}
		u := &unstructured.Unstructured{}
		if err := u.UnmarshalJSON(data); err != nil {
			return nil, fmt.Errorf("kustomize build %s: %s: %w", dir, r.CurId(), err)
		}
		out = append(out, u)
	}
	return out, nil
}

// BuildCached is Build with its result kept in cacheDir, keyed by a hash of
// every input file and dir: kustomize spends seconds loading its schemas
// on each build, which would be most of a second `up` with nothing changed.
// The cache files hold the generated Secret, so they are written 0600 in a
// 0700 directory; "" disables the cache.
func BuildCached(files map[string][]byte, dir, cacheDir string) ([]*unstructured.Unstructured, error) {
	if cacheDir == "" {
		return Build(files, dir)
	}
	h := sha256.New()
	fmt.Fprintf(h, "kustomize-build v1\x00%s\x00", dir)
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(h, "%s\x00%d\x00", n, len(files[n]))
		h.Write(files[n])
	}
	file := filepath.Join(cacheDir, hex.EncodeToString(h.Sum(nil))+".json")
	if data, err := os.ReadFile(file); err == nil {
		var list unstructured.UnstructuredList
		if err := list.UnmarshalJSON(data); err == nil {
			out := make([]*unstructured.Unstructured, len(list.Items))
			for i := range list.Items {
				out[i] = &list.Items[i]
			}
			return out, nil
		}
	}
	objs, err := Build(files, dir)
	if err != nil {
		return nil, err
	}
	list := unstructured.UnstructuredList{Object: map[string]any{"apiVersion": "v1", "kind": "List"}}
	for _, o := range objs {
		list.Items = append(list.Items, *o.DeepCopy())
	}
	if data, err := list.MarshalJSON(); err == nil && os.MkdirAll(cacheDir, 0o700) == nil {
		tmp := file + ".tmp"
		if os.WriteFile(tmp, data, 0o600) == nil {
			_ = os.Rename(tmp, file)
		}
	}
	return objs, nil
}

// Retarget moves the objects into namespace ns: every namespaced object,
// the Namespace object itself, and RoleBinding subjects that named the old
// namespace (what kustomize's namespace transformer does), so one overlay
// runs as several instances side by side.
func Retarget(objs []*unstructured.Unstructured, ns string) {
	old := ""
	for _, o := range objs {
		if o.GetKind() == "Namespace" {
			old = o.GetName()
			o.SetName(ns)
		}
	}
	for _, o := range objs {
		if o.GetKind() == "Namespace" {
			continue
		}
		if o.GetNamespace() != "" || old == "" {
			o.SetNamespace(ns)
		}
		if o.GetKind() == "RoleBinding" {
			subs, _, _ := unstructured.NestedSlice(o.Object, "subjects")
			for _, s := range subs {
				if m, ok := s.(map[string]any); ok && (m["namespace"] == old || m["namespace"] == nil) && m["kind"] == "ServiceAccount" {
					m["namespace"] = ns
				}
			}
			_ = unstructured.SetNestedSlice(o.Object, subs, "subjects")
		}
	}
}

// object is one wanted object with its identity and hash.
type object struct {
	u    *unstructured.Unstructured
	hash string
}

func (o object) key() string { return key(o.u.GetKind(), o.u.GetName()) }

func key(kind, name string) string { return kind + "/" + name }

// Hash is the sha256 of an object's JSON form (map keys sorted).
func Hash(u *unstructured.Unstructured) string {
	b, _ := json.Marshal(u.Object)
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// prepared is the spec split by graph node, every object labelled and
// hashed.
type prepared struct {
	ns        *object
	nodes     map[string][]object // node -> its objects (workload, Services, ...)
	shared    []object            // ConfigMaps, Secrets, RBAC, policies, ...
	byKey     map[string]object
	nodeNames []string
}

// nodeOf says which graph node an object belongs to: a bootstrap's Job by
// its bootstrap label, a workload and its Services/ServiceAccount by the
// app label. NetworkPolicies, shared ConfigMaps and RBAC are shared.
func nodeOf(u *unstructured.Unstructured, nodes map[string]NodeSpec) string {
	l := u.GetLabels()
	if b := l[state.LabelBootstrap]; b != "" {
		if _, ok := nodes[b]; ok && u.GetKind() == "Job" {
			return b
		}
	}
	switch u.GetKind() {
	case "Deployment", "StatefulSet", "Service", "ServiceAccount":
	default:
		return ""
	}
	if n := l[state.LabelApp]; n != "" {
		if sp, ok := nodes[n]; ok && sp.Kind != Bootstrap {
			return n
		}
	}
	return ""
}

func prepare(sp Spec) (*prepared, error) {
	p := &prepared{nodes: map[string][]object{}, byKey: map[string]object{}}
	for n := range sp.Nodes {
		p.nodeNames = append(p.nodeNames, n)
	}
	sort.Strings(p.nodeNames)
	for _, u := range sp.Objects {
		u = u.DeepCopy()
		if u.GetKind() != "Namespace" && u.GetNamespace() != sp.Namespace {
			return nil, fmt.Errorf("%s %s is in namespace %q, not the instance's %q (cluster-scoped objects are not applied per instance)", u.GetKind(), u.GetName(), u.GetNamespace(), sp.Namespace)
		}
		l := u.GetLabels()
		if l == nil {
			l = map[string]string{}
		}
		l[state.LabelAppManagedBy] = state.ManagedBy
		l[LabelInventory] = "true"
		u.SetLabels(l)
		o := object{u: u, hash: Hash(u)}
		a := u.GetAnnotations()
		if a == nil {
			a = map[string]string{}
		}
		a[AnnotationHash] = o.hash
		u.SetAnnotations(a)
		if _, dup := p.byKey[o.key()]; dup {
			return nil, fmt.Errorf("%s is rendered twice", o.key())
		}
		p.byKey[o.key()] = o
		switch n := nodeOf(u, sp.Nodes); {
		case u.GetKind() == "Namespace":
			if u.GetName() != sp.Namespace {
				return nil, fmt.Errorf("namespace %s rendered, the instance's is %s", u.GetName(), sp.Namespace)
			}
			oo := o
			p.ns = &oo
		case n != "":
			p.nodes[n] = append(p.nodes[n], o)
		default:
			p.shared = append(p.shared, o)
		}
	}
	if p.ns == nil {
		ns := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Namespace",
			"metadata": map[string]any{"name": sp.Namespace, "labels": map[string]any{state.LabelAppManagedBy: state.ManagedBy, LabelInventory: "true"}}}}
		h := Hash(ns)
		ns.SetAnnotations(map[string]string{AnnotationHash: h})
		p.ns = &object{u: ns, hash: h}
	}
	// workloads first, so a node's Service never waits for its workload
	for _, objs := range p.nodes {
		slices.SortStableFunc(objs, func(a, b object) int { return kindRank(a.u.GetKind()) - kindRank(b.u.GetKind()) })
	}
	return p, nil
}

func kindRank(k string) int {
	switch k {
	case "ServiceAccount":
		return 0
	case "Service":
		return 1
	}
	return 2
}

// nodeHash is the configuration hash wanted for a node: over its objects'
// hashes, in order.
func nodeHash(objs []object) string {
	var b strings.Builder
	for _, o := range objs {
		b.WriteString(o.key() + "=" + o.hash + "\n")
	}
	s := sha256.Sum256([]byte(b.String()))
	return hex.EncodeToString(s[:12])
}

// workload returns a node's Deployment, StatefulSet or Job.
func workload(objs []object) *object {
	for i := range objs {
		switch objs[i].u.GetKind() {
		case "Deployment", "StatefulSet", "Job":
			return &objs[i]
		}
	}
	return nil
}
