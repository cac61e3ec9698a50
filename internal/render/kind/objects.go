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
)

// Labels every object carries. LabelApp is the selector label (the staging
// guide selects pods with -l app=<name>); LabelBootstrap names the bootstrap
// a Job runs, which `novadev wait job://<name>` looks up.
const (
	LabelApp       = "app"
	LabelName      = "app.kubernetes.io/name"
	LabelComponent = "app.kubernetes.io/component"
	LabelPartOf    = "app.kubernetes.io/part-of"
	LabelManagedBy = "app.kubernetes.io/managed-by"
	LabelBootstrap = "novadev.io/bootstrap"
)

// Components (values of LabelComponent).
const (
	ComponentService   = "service"
	ComponentStore     = "store"
	ComponentBootstrap = "bootstrap"
)

func labels(c *catalog.Catalog, name, component string) map[string]string {
	return map[string]string{
		LabelApp:       name,
		LabelName:      name,
		LabelComponent: component,
		LabelPartOf:    c.Metadata.Name,
		LabelManagedBy: "novadev",
	}
}

func selector(name string) map[string]string { return map[string]string{LabelApp: name} }

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

// redisNodes are the Redis Cluster seed addresses: one per StatefulSet pod,
// through the headless Service, each announcing that hostname.
func redisNodes(st *catalog.Store) []string {
	out := make([]string, st.Nodes)
	for i := range out {
		out[i] = fmt.Sprintf("%s-%d.%s:%d", st.Name, i, st.Name, st.Port)
	}
	return out
}

// storeAddr is how a pod reaches a store: host:port, or a URL for HTTP ones.
func storeAddr(st *catalog.Store) string {
	switch st.Kind {
	case catalog.StoreRedisCluster:
		return strings.Join(redisNodes(st), ",")
	case catalog.StoreClickHouse, catalog.StoreElasticsearch:
		return fmt.Sprintf("http://%s:%d", st.Name, st.Port)
	}
	if st.External {
		return st.URI
	}
	return fmt.Sprintf("%s:%d", st.Name, st.Port)
}

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
func grpcPort(s *catalog.Service) int {
	return portNamed(s, "grpc")
}

func portNamed(s *catalog.Service, name string) int {
	for _, p := range s.Ports {
		if p.Name == name {
			return p.Port
		}
	}
	return 0
}

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
		if st.Kind == catalog.StoreRedisCluster {
			var out []string
			for _, n := range redisNodes(st) {
				out = append(out, "tcp://"+n)
			}
			return out
		}
		return []string{fmt.Sprintf("tcp://%s:%d", st.Name, st.Port)}
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

func secretEnv(name, key string) corev1.EnvVar {
	return corev1.EnvVar{Name: name, ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
		LocalObjectReference: corev1.LocalObjectReference{Name: CredentialsSecret}, Key: key,
	}}}
}

func ptr[T any](v T) *T { return &v }

type metav1LabelSelector = metav1.LabelSelector

// podMeta is a pod template's metadata: the workload's labels, no name.
func podMeta(c *catalog.Catalog, name, component string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Labels: labels(c, name, component)}
}

func resourceQuantity(s string) (resource.Quantity, error) { return resource.ParseQuantity(s) }
