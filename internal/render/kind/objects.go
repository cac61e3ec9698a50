package kind

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/novadev/novadev/internal/catalog"
	"github.com/novadev/novadev/internal/contract"
	"github.com/novadev/novadev/internal/state"
)

// Components (values of state.LabelAppComponent).
const (
	ComponentService   = "service"
	ComponentStore     = "store"
	ComponentBootstrap = "bootstrap"
)

func labels(c *catalog.Catalog, name, component string) map[string]string {
	return map[string]string{
		state.LabelApp:          name,
		state.LabelAppName:      name,
		state.LabelAppComponent: component,
		state.LabelAppPartOf:    c.Metadata.Name,
		state.LabelAppManagedBy: state.ManagedBy,
	}
}

func selector(name string) map[string]string { return map[string]string{state.LabelApp: name} }

func meta(c *catalog.Catalog, name, component string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: name, Namespace: c.Env.Namespace, Labels: labels(c, name, component)}
}

func typeMeta(apiVersion, kind string) metav1.TypeMeta {
	return metav1.TypeMeta{APIVersion: apiVersion, Kind: kind}
}

func resources(r catalog.Resources) (corev1.ResourceRequirements, error) {
	out := corev1.ResourceRequirements{}
	list := func(q catalog.Quantities) (corev1.ResourceList, error) {
		l := corev1.ResourceList{}
		for name, v := range map[corev1.ResourceName]string{corev1.ResourceCPU: q.CPU, corev1.ResourceMemory: q.Memory} {
			if v == "" {
				continue
			}
			qty, err := resource.ParseQuantity(v)
			if err != nil {
				return nil, fmt.Errorf("%s %q: %w", name, v, err)
			}
			l[name] = qty
		}
		if len(l) == 0 {
			return nil, nil
		}
		return l, nil
	}
	var err error
	if out.Requests, err = list(r.Requests); err != nil {
		return out, err
	}
	if out.Limits, err = list(r.Limits); err != nil {
		return out, err
	}
	return out, nil
}

// storePorts are a store's container ports inside the cluster.
func storePorts(st *catalog.Store) []corev1.ContainerPort {
	p := func(name string, port int) corev1.ContainerPort {
		return corev1.ContainerPort{Name: name, ContainerPort: int32(port), Protocol: corev1.ProtocolTCP}
	}
	switch st.Kind {
	case catalog.StorePostgres:
		return []corev1.ContainerPort{p("postgres", st.Port)}
	case catalog.StoreRedisCluster:
		return []corev1.ContainerPort{p("redis", st.Port), p("cluster-bus", st.Port+10000)}
	case catalog.StoreKafka:
		return []corev1.ContainerPort{p("kafka", st.Port)}
	case catalog.StoreClickHouse:
		return []corev1.ContainerPort{p("http", st.Port), p("native", 9000)}
	case catalog.StoreElasticsearch:
		return []corev1.ContainerPort{p("http", st.Port)}
	}
	return []corev1.ContainerPort{p("client", st.Port)}
}

// storeAddr is how a pod reaches a store (contract.Address): host:port,
// every node of a Redis Cluster.
func storeAddr(st *catalog.Store) string { return contract.Address(contract.Kind, st) }

// externalPort is the port an external store listens on, from its URI.
func externalPort(st *catalog.Store) int {
	if u, err := url.Parse(st.URI); err == nil {
		if n, err := strconv.Atoi(u.Port()); err == nil {
			return n
		}
	}
	return st.Port
}

// grpcPort is a service's gRPC port.
func grpcPort(s *catalog.Service) int { return portNamed(s, "grpc") }

func portNamed(s *catalog.Service, name string) int { return contract.PortOf(s, name) }

// waitTargets are the `novadev wait` targets proving one dependency ready,
// or nil when nothing should wait for it (external and optional stores:
// services start without them).
func waitTargets(it *catalog.Item) []string {
	switch it.Kind {
	case catalog.KindService:
		return []string{fmt.Sprintf("grpc://%s:%d", it.Name, grpcPort(it.Service))}
	case catalog.KindBootstrap:
		return []string{"job://" + it.Name}
	case catalog.KindStore:
		st := it.Store
		if st.External || st.Optional {
			return nil
		}
		var out []string
		for _, e := range contract.Endpoints(contract.Kind, st) {
			out = append(out, "tcp://"+e.Addr())
		}
		return out
	}
	return nil
}

// waitContainers are the init containers of a workload: one per dependency
// in the graph, in the graph's (sorted) order.
func waitContainers(c *catalog.Catalog, g *catalog.Graph, name string) []corev1.Container {
	var out []corev1.Container
	for _, dep := range g.Needs(name) {
		it, _ := g.Node(dep)
		targets := waitTargets(it)
		if len(targets) == 0 {
			continue
		}
		out = append(out, corev1.Container{
			Name:            "wait-for-" + dep,
			Image:           ToolImage,
			ImagePullPolicy: corev1.PullIfNotPresent,
			Args:            append([]string{"wait"}, targets...),
			Resources:       toolResources(),
		})
	}
	return out
}

// needsJobs reports whether a workload waits for a bootstrap Job, and so
// needs to read Jobs through the API.
func needsJobs(g *catalog.Graph, name string) bool {
	for _, dep := range g.Needs(name) {
		if it, _ := g.Node(dep); it.Kind == catalog.KindBootstrap {
			return true
		}
	}
	return false
}

func toolResources() corev1.ResourceRequirements {
	return corev1.ResourceRequirements{
		Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("10m"), corev1.ResourceMemory: resource.MustParse("32Mi")},
		Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("200m"), corev1.ResourceMemory: resource.MustParse("128Mi")},
	}
}

// escape keeps literal text literal: the kubelet expands $(VAR) in env
// values and reduces $$ to $.
func escape(s string) string { return strings.ReplaceAll(s, "$", "$$") }

// envVars turns a contract environment into container variables: a value
// that is one credential whole becomes a Secret keyRef; a value embedding
// credentials refers to the variable holding each, $(VAR), which the
// kubelet expands (the contract orders holders first).
func envVars(e contract.Env) ([]corev1.EnvVar, error) {
	var out []corev1.EnvVar
	for i, v := range e {
		if cr, ok := v.Value.Whole(); ok {
			out = append(out, corev1.EnvVar{Name: v.Name, ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
				LocalObjectReference: corev1.LocalObjectReference{Name: cr.Secret}, Key: cr.Key,
			}}})
			continue
		}
		var missing error
		val := v.Value.Render(escape, func(cr contract.Credential) string {
			holder := e.Holder(cr, i)
			if holder == "" {
				missing = fmt.Errorf("%s embeds the credential %s/%s, but no variable before it holds it", v.Name, cr.Secret, cr.Key)
			}
			return "$(" + holder + ")"
		})
		if missing != nil {
			return nil, missing
		}
		out = append(out, corev1.EnvVar{Name: v.Name, Value: val})
	}
	return out, nil
}

func ptr[T any](v T) *T { return &v }

type metav1LabelSelector = metav1.LabelSelector

// podMeta is a pod template's metadata: the workload's labels, no name.
func podMeta(c *catalog.Catalog, name, component string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Labels: labels(c, name, component)}
}

func resourceQuantity(s string) (resource.Quantity, error) { return resource.ParseQuantity(s) }
