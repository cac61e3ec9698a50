package kube

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sort"
	"strings"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/novadev/novadev/internal/backend"
	"github.com/novadev/novadev/internal/state"
)

// Backend runs one environment instance in one namespace.
type Backend struct {
	cfg *rest.Config
	cs  kubernetes.Interface
	dyn dynamic.Interface
	sp  Spec
	p   *prepared
	ns  string
	fwd *forwarder
	// WaitTimeout bounds how long Apply waits for a workload to become
	// Available/Ready before failing with what it saw.
	WaitTimeout time.Duration
	// Poll is how often waits look again.
	Poll time.Duration

	mu       sync.Mutex
	applied  map[string]string // key -> hash applied or observed this run
	deleting map[string]bool   // nodes this backend deletes or replaces (Watch stays quiet)
}

var (
	_ backend.Backend   = (*Backend)(nil)
	_ backend.Explainer = (*Backend)(nil)
)

// New returns the backend of sp on the cluster cfg reaches.
func New(cfg *rest.Config, sp Spec) (*Backend, error) {
	if sp.Namespace == "" {
		return nil, errors.New("kube: no namespace")
	}
	p, err := prepare(sp)
	if err != nil {
		return nil, err
	}
	cfg = rest.CopyConfig(cfg)
	if cfg.QPS == 0 {
		// a second up reads a dozen lists and probes through a few dozen
		// port-forwards; the client default (5 QPS) would be the bottleneck
		cfg.QPS, cfg.Burst = 100, 200
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	b := &Backend{cfg: cfg, cs: cs, dyn: dyn, sp: sp, p: p, ns: sp.Namespace, WaitTimeout: 5 * time.Minute,
		Poll: 500 * time.Millisecond, applied: map[string]string{}, deleting: map[string]bool{}}
	b.fwd = newForwarder(b)
	return b, nil
}

// Namespace is where the instance runs.
func (b *Backend) Namespace() string { return b.ns }

// Info implements backend.Backend: the API server's version and the nodes'
// allocatable CPUs and memory.
func (b *Backend) Info(ctx context.Context) (backend.Info, error) {
	v, err := b.cs.Discovery().ServerVersion()
	if err != nil {
		return backend.Info{}, fmt.Errorf("kube: the API server at %s does not answer: %w", b.cfg.Host, err)
	}
	info := backend.Info{Target: "kube", Engine: "Kubernetes", ServerVersion: v.GitVersion, APIVersion: v.Major + "." + v.Minor, OS: v.Platform}
	nodes, err := b.cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err == nil {
		for _, n := range nodes.Items {
			info.CPUs += int(n.Status.Allocatable.Cpu().Value())
			info.MemoryBytes += n.Status.Allocatable.Memory().Value()
		}
	}
	return info, nil
}

// listed is one observation of the namespace.
type listed struct {
	ns   *corev1.Namespace
	objs map[string]*metav1.ObjectMeta // key -> meta of novadev's objects
	pods []corev1.Pod
	deps map[string]*appsv1.Deployment
	sets map[string]*appsv1.StatefulSet
	jobs map[string]*batchv1.Job
}

// kinds lists what novadev applies and prunes, with their resources.
var kinds = []struct {
	kind string
	gvr  schema.GroupVersionResource
}{
	{"ConfigMap", schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}},
	{"Secret", schema.GroupVersionResource{Version: "v1", Resource: "secrets"}},
	{"Service", schema.GroupVersionResource{Version: "v1", Resource: "services"}},
	{"ServiceAccount", schema.GroupVersionResource{Version: "v1", Resource: "serviceaccounts"}},
	{"Deployment", schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}},
	{"StatefulSet", schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "statefulsets"}},
	{"Job", schema.GroupVersionResource{Group: "batch", Version: "v1", Resource: "jobs"}},
	{"Role", schema.GroupVersionResource{Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "roles"}},
	{"RoleBinding", schema.GroupVersionResource{Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "rolebindings"}},
	{"NetworkPolicy", schema.GroupVersionResource{Group: "networking.k8s.io", Version: "v1", Resource: "networkpolicies"}},
}

func gvrOf(kind string) (schema.GroupVersionResource, bool) {
	if kind == "Namespace" {
		return schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}, true
	}
	for _, k := range kinds {
		if k.kind == kind {
			return k.gvr, true
		}
	}
	return schema.GroupVersionResource{}, false
}

var inventory = metav1.ListOptions{LabelSelector: state.LabelAppManagedBy + "=" + state.ManagedBy + "," + LabelInventory + "=true"}

// list reads the namespace: novadev's objects (by its inventory label)
// and every pod of the instance, concurrently.
func (b *Backend) list(ctx context.Context) (*listed, error) {
	l := &listed{objs: map[string]*metav1.ObjectMeta{}, deps: map[string]*appsv1.Deployment{},
		sets: map[string]*appsv1.StatefulSet{}, jobs: map[string]*batchv1.Job{}}
	ns, err := b.cs.CoreV1().Namespaces().Get(ctx, b.ns, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return l, nil
	case err != nil:
		return nil, fmt.Errorf("kube: reading namespace %s: %w", b.ns, err)
	}
	l.ns = ns
	var mu sync.Mutex
	var wg sync.WaitGroup
	var errs []error
	add := func(kind string, m *metav1.ObjectMeta) {
		mu.Lock()
		l.objs[key(kind, m.Name)] = m
		mu.Unlock()
	}
	fail := func(err error) { mu.Lock(); errs = append(errs, err); mu.Unlock() }
	for _, k := range kinds {
		wg.Add(1)
		go func() {
			defer wg.Done()
			switch k.kind {
			case "Deployment":
				xs, err := b.cs.AppsV1().Deployments(b.ns).List(ctx, inventory)
				if err != nil {
					fail(err)
					return
				}
				keepTyped(&mu, l.deps, xs.Items, func(x *appsv1.Deployment) *metav1.ObjectMeta { return &x.ObjectMeta }, func(m *metav1.ObjectMeta) { add(k.kind, m) })
			case "StatefulSet":
				xs, err := b.cs.AppsV1().StatefulSets(b.ns).List(ctx, inventory)
				if err != nil {
					fail(err)
					return
				}
				keepTyped(&mu, l.sets, xs.Items, func(x *appsv1.StatefulSet) *metav1.ObjectMeta { return &x.ObjectMeta }, func(m *metav1.ObjectMeta) { add(k.kind, m) })
			case "Job":
				xs, err := b.cs.BatchV1().Jobs(b.ns).List(ctx, inventory)
				if err != nil {
					fail(err)
					return
				}
				keepTyped(&mu, l.jobs, xs.Items, func(x *batchv1.Job) *metav1.ObjectMeta { return &x.ObjectMeta }, func(m *metav1.ObjectMeta) { add(k.kind, m) })
			default:
				xs, err := b.dyn.Resource(k.gvr).Namespace(b.ns).List(ctx, inventory)
				if err != nil {
					fail(err)
					return
				}
				for i := range xs.Items {
					u := &xs.Items[i]
					m := &metav1.ObjectMeta{Name: u.GetName(), UID: u.GetUID(), ResourceVersion: u.GetResourceVersion(),
						Labels: u.GetLabels(), Annotations: u.GetAnnotations(), DeletionTimestamp: u.GetDeletionTimestamp()}
					add(k.kind, m)
				}
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		pods, err := b.cs.CoreV1().Pods(b.ns).List(ctx, metav1.ListOptions{LabelSelector: state.LabelAppManagedBy + "=" + state.ManagedBy})
		if err != nil {
			fail(err)
			return
		}
		mu.Lock()
		l.pods = pods.Items
		mu.Unlock()
	}()
	wg.Wait()
	if len(errs) > 0 {
		return nil, fmt.Errorf("kube: reading namespace %s: %w", b.ns, errors.Join(errs...))
	}
	return l, nil
}

// keepTyped records typed objects listed: each by name in into (under mu)
// and its metadata through add.
func keepTyped[T any](mu *sync.Mutex, into map[string]*T, items []T, meta func(*T) *metav1.ObjectMeta, add func(*metav1.ObjectMeta)) {
	for i := range items {
		x := &items[i]
		m := meta(x)
		mu.Lock()
		into[m.Name] = x
		mu.Unlock()
		add(m)
	}
}

// podsOf returns the node's pods (not its Jobs'), by name.
func (l *listed) podsOf(node string) []corev1.Pod {
	var out []corev1.Pod
	for _, p := range l.pods {
		if p.Labels[state.LabelApp] == node && p.Labels["job-name"] == "" && p.Labels["batch.kubernetes.io/job-name"] == "" {
			out = append(out, p)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Observe implements backend.Backend.
func (b *Backend) Observe(ctx context.Context) (*backend.Snapshot, error) {
	l, err := b.list(ctx)
	if err != nil {
		return nil, err
	}
	return b.snapshot(l), nil
}

func (b *Backend) snapshot(l *listed) *backend.Snapshot {
	snap := &backend.Snapshot{Instance: b.ns, Nodes: map[string]*backend.Node{}, Records: map[string]string{}, BootstrapsAreJobs: true}
	snap.Resources = append(snap.Resources, backend.Resource{Kind: "namespace", Name: b.ns, Exists: l.ns != nil && l.ns.DeletionTimestamp == nil})
	for _, o := range b.p.shared {
		m := l.objs[o.key()]
		snap.Resources = append(snap.Resources, backend.Resource{Kind: strings.ToLower(o.u.GetKind()), Name: o.u.GetName(),
			Exists: m != nil && m.Annotations[AnnotationHash] == o.hash})
	}
	wanted := map[string]bool{}
	for _, o := range b.p.byKey {
		wanted[o.key()] = true
	}
	for k, m := range l.objs {
		if !wanted[k] {
			snap.Orphans = append(snap.Orphans, backend.Unit{Name: k, Service: m.Name, Node: m.Labels[state.LabelApp], ID: string(m.UID), State: backend.Exited})
		}
	}
	sort.Slice(snap.Orphans, func(i, j int) bool { return snap.Orphans[i].Name < snap.Orphans[j].Name })
	for name, objs := range b.p.nodes {
		sp := b.sp.Nodes[name]
		if sp.Kind == Bootstrap {
			if j := l.jobs[objs[0].u.GetName()]; j != nil && j.Annotations[AnnotationRecord] != "" {
				snap.Records[name] = j.Annotations[AnnotationRecord]
			}
			continue
		}
		snap.Nodes[name] = b.node(name, objs, l)
	}
	return snap
}

// node is one node's units: a pod per replica, identified by pod UID.
func (b *Backend) node(name string, objs []object, l *listed) *backend.Node {
	want := nodeHash(objs)
	have := haveHash(objs, l)
	n := &backend.Node{Name: name}
	w := workload(objs)
	if w == nil {
		return n
	}
	pods := l.podsOf(name)
	byName := map[string]*corev1.Pod{}
	for i := range pods {
		byName[pods[i].Name] = &pods[i]
	}
	var unitNames []string
	switch w.u.GetKind() {
	case "StatefulSet":
		for i := 0; i < replicas(w.u); i++ {
			unitNames = append(unitNames, fmt.Sprintf("%s-%d", w.u.GetName(), i))
		}
	default:
		unitNames = []string{w.u.GetName()}
	}
	for _, un := range unitNames {
		u := backend.Unit{Name: un, Service: un, Node: name, State: backend.Missing, Want: want, Have: have, Image: image(w.u)}
		// no Ports: the 127.0.0.1 forwards end with the command, so status
		// and ps must not print them as where the unit is reachable
		var p *corev1.Pod
		if w.u.GetKind() == "StatefulSet" {
			p = byName[un]
		} else {
			p = newestPod(pods)
		}
		if have != "" {
			u.State = backend.Created
		}
		if p != nil {
			u.ID = string(p.UID)
			u.Name = p.Name
			if p.Status.StartTime != nil {
				u.Started = p.Status.StartTime.Time
			}
			if p.Status.Phase == corev1.PodRunning && podReady(p) && p.DeletionTimestamp == nil {
				u.State = backend.Running
			}
		}
		n.Units = append(n.Units, u)
	}
	return n
}

// haveHash is the node hash of what is applied, "" when an object is
// missing.
func haveHash(objs []object, l *listed) string {
	for _, o := range objs {
		m := l.objs[o.key()]
		if m == nil || m.Annotations[AnnotationHash] == "" || m.DeletionTimestamp != nil {
			return ""
		}
	}
	objs2 := make([]object, len(objs))
	for i, o := range objs {
		objs2[i] = object{u: o.u, hash: l.objs[o.key()].Annotations[AnnotationHash]}
	}
	return nodeHash(objs2)
}

func replicas(u *unstructured.Unstructured) int {
	r, ok, _ := unstructured.NestedInt64(u.Object, "spec", "replicas")
	if !ok {
		return 1
	}
	return int(r)
}

func image(u *unstructured.Unstructured) string {
	cs, _, _ := unstructured.NestedSlice(u.Object, "spec", "template", "spec", "containers")
	if len(cs) == 0 {
		return ""
	}
	m, _ := cs[0].(map[string]any)
	s, _ := m["image"].(string)
	return s
}

// newestPod is the pod a Deployment's unit stands for: the newest one not
// being deleted, a ready one first.
func newestPod(pods []corev1.Pod) *corev1.Pod {
	var best *corev1.Pod
	for i := range pods {
		p := &pods[i]
		if p.DeletionTimestamp != nil || p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
			continue
		}
		switch {
		case best == nil:
			best = p
		case podReady(p) != podReady(best):
			if podReady(p) {
				best = p
			}
		case p.CreationTimestamp.After(best.CreationTimestamp.Time):
			best = p
		}
	}
	return best
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// Ports implements backend.Backend: every forwarded port of the node's
// units, on 127.0.0.1 ports this process listens on (bound on first use;
// connections are forwarded to the unit's current pod).
func (b *Backend) Ports(node string) []backend.Port {
	objs := b.p.nodes[node]
	w := workload(objs)
	sp := b.sp.Nodes[node]
	if w == nil || w.u.GetKind() == "Job" || len(sp.Ports) == 0 {
		return nil
	}
	var out []backend.Port
	svc := w.u.GetName()
	if s, ok, _ := unstructured.NestedString(w.u.Object, "spec", "serviceName"); ok && s != "" {
		svc = s
	}
	n := 1
	multi := w.u.GetKind() == "StatefulSet" && replicas(w.u) > 1
	if w.u.GetKind() == "StatefulSet" {
		n = replicas(w.u)
	}
	for i := 0; i < n; i++ {
		unit := w.u.GetName()
		if w.u.GetKind() == "StatefulSet" {
			unit = fmt.Sprintf("%s-%d", w.u.GetName(), i)
		}
		for _, port := range sp.Ports {
			host := svc
			var aliases []string
			if multi {
				host = unit + "." + svc
			} else if unit != svc {
				aliases = []string{unit}
			}
			lp, err := b.fwd.port(node, unit, w.u.GetKind() == "StatefulSet", port)
			if err != nil {
				continue
			}
			out = append(out, backend.Port{Unit: unit, Internal: fmt.Sprintf("%s:%d", host, port), Container: port,
				HostIP: "127.0.0.1", HostPort: lp, Aliases: aliases})
		}
	}
	return out
}

// ClusterAddress is where a port is reachable inside the cluster, by DNS
// name: what `up` prints on this target (the 127.0.0.1 forwards end with
// the command).
func (b *Backend) ClusterAddress(p backend.Port) string {
	h, port, err := net.SplitHostPort(p.Internal)
	if err != nil {
		return p.Internal
	}
	return net.JoinHostPort(h+"."+b.ns+".svc.cluster.local", port)
}

// Preflight implements backend.Backend: a namespace being deleted cannot
// take new objects.
func (b *Backend) Preflight(ctx context.Context, snap *backend.Snapshot, apply []string) error {
	ns, err := b.cs.CoreV1().Namespaces().Get(ctx, b.ns, metav1.GetOptions{})
	if err == nil && ns.DeletionTimestamp != nil {
		return fmt.Errorf("namespace %s is being deleted (a down still running?); wait for it to go, then run up again", b.ns)
	}
	return nil
}

// Usage implements backend.Backend; pod metrics need metrics-server,
// which a plain cluster does not run.
func (b *Backend) Usage(ctx context.Context, unitID string) (uint64, error) {
	return 0, errors.New("memory use is not measured on kube (no metrics API)")
}

// Close implements backend.Backend: the port-forwards end.
func (b *Backend) Close() error {
	b.fwd.close()
	return nil
}

// Objects lists the objects a graph node owns on this target
// ("Kind/name", workloads last); none for a node the target does not run.
func (b *Backend) Objects(node string) []string {
	var out []string
	for _, o := range b.p.nodes[node] {
		out = append(out, o.key())
	}
	return out
}

// GatesServiceNeeds is true: the rendering gives every service Deployment an
// init container per service it needs (wait grpc://<need>:<port>), so the
// supervisor may apply a service once those are applied and let the pods
// start while their needs come up (backend.NeedGater).
func (b *Backend) GatesServiceNeeds() bool { return true }
