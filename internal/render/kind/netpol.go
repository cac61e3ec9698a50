package kind

import (
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/novadev/novadev/internal/catalog"
	"github.com/novadev/novadev/internal/state"
)

// DefaultDeny is the NetworkPolicy denying all traffic in the namespace;
// the allow-<workload> policies open exactly the dependency graph's edges.
const DefaultDeny = "default-deny"

// apiServerPorts are where pods reach the Kubernetes API (the kubernetes
// Service's 443 and the apiserver's own 6443 after DNAT, which is what
// policies see on most CNIs).
var apiServerPorts = []int{443, 6443}

// netPorts are the ports a graph edge to this node opens; nil for nodes
// that are not reached over the network (bootstraps are read through the
// API; external stores are outside the cluster).
func netPorts(it *catalog.Item) []int32 {
	switch it.Kind {
	case catalog.KindService:
		return []int32{int32(grpcPort(it.Service))}
	case catalog.KindStore:
		if it.Store.External {
			return nil
		}
		var out []int32
		for _, p := range storePorts(it.Store) {
			if p.Name != "cluster-bus" {
				out = append(out, p.ContainerPort)
			}
		}
		return out
	}
	return nil
}

func policyPorts(ports []int32) []networkingv1.NetworkPolicyPort {
	var out []networkingv1.NetworkPolicyPort
	for _, p := range ports {
		out = append(out, networkingv1.NetworkPolicyPort{Protocol: ptr(corev1.ProtocolTCP), Port: ptr(intstr.FromInt32(p))})
	}
	return out
}

func peer(name string) []networkingv1.NetworkPolicyPeer {
	return []networkingv1.NetworkPolicyPeer{{PodSelector: &metav1.LabelSelector{MatchLabels: selector(name)}}}
}

// dnsEgress allows DNS to the cluster's resolver in kube-system.
func dnsEgress() networkingv1.NetworkPolicyEgressRule {
	return networkingv1.NetworkPolicyEgressRule{
		To: []networkingv1.NetworkPolicyPeer{{
			NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": "kube-system"}},
			PodSelector:       &metav1.LabelSelector{MatchLabels: map[string]string{"k8s-app": "kube-dns"}},
		}},
		Ports: []networkingv1.NetworkPolicyPort{
			{Protocol: ptr(corev1.ProtocolUDP), Port: ptr(intstr.FromInt32(53))},
			{Protocol: ptr(corev1.ProtocolTCP), Port: ptr(intstr.FromInt32(53))},
		},
	}
}

// networkPolicies are default-deny plus one allow policy per pod workload:
// ingress from the graph nodes that need it, egress to the nodes it needs,
// DNS; Redis Cluster nodes also talk to each other (client and bus ports),
// and a service's http port (the gateway's) is open to everyone.
func networkPolicies(c *catalog.Catalog, g *catalog.Graph) []any {
	deny := &networkingv1.NetworkPolicy{
		TypeMeta:   typeMeta("networking.k8s.io/v1", "NetworkPolicy"),
		ObjectMeta: meta(c, DefaultDeny, ComponentService),
		Spec: networkingv1.NetworkPolicySpec{
			PodSelector: metav1.LabelSelector{},
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress},
		},
	}
	delete(deny.Labels, state.LabelApp)
	out := []any{deny}
	for _, name := range g.Names() {
		it, _ := g.Node(name)
		if it.Kind == catalog.KindStore && it.Store.External {
			continue
		}
		out = append(out, allowPolicy(c, g, it))
	}
	return out
}

func allowPolicy(c *catalog.Catalog, g *catalog.Graph, it *catalog.Item) *networkingv1.NetworkPolicy {
	component := map[catalog.NodeKind]string{catalog.KindService: ComponentService, catalog.KindStore: ComponentStore, catalog.KindBootstrap: ComponentBootstrap}[it.Kind]
	np := &networkingv1.NetworkPolicy{
		TypeMeta:   typeMeta("networking.k8s.io/v1", "NetworkPolicy"),
		ObjectMeta: meta(c, "allow-"+it.Name, component),
		Spec: networkingv1.NetworkPolicySpec{
			PodSelector: metav1.LabelSelector{MatchLabels: selector(it.Name)},
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress},
			Ingress:     []networkingv1.NetworkPolicyIngressRule{},
			Egress:      []networkingv1.NetworkPolicyEgressRule{dnsEgress()},
		},
	}
	if ports := netPorts(it); len(ports) > 0 {
		for _, u := range g.Users(it.Name) {
			np.Spec.Ingress = append(np.Spec.Ingress, networkingv1.NetworkPolicyIngressRule{From: peer(u), Ports: policyPorts(ports)})
		}
	}
	if it.Kind == catalog.KindStore && it.Store.Kind == catalog.StoreRedisCluster {
		var all []int32
		for _, p := range storePorts(it.Store) {
			all = append(all, p.ContainerPort)
		}
		np.Spec.Ingress = append(np.Spec.Ingress, networkingv1.NetworkPolicyIngressRule{From: peer(it.Name), Ports: policyPorts(all)})
		np.Spec.Egress = append(np.Spec.Egress, networkingv1.NetworkPolicyEgressRule{To: peer(it.Name), Ports: policyPorts(all)})
	}
	if it.Kind == catalog.KindService {
		if p := portNamed(it.Service, "http"); p != 0 {
			np.Spec.Ingress = append(np.Spec.Ingress, networkingv1.NetworkPolicyIngressRule{Ports: policyPorts([]int32{int32(p)})})
		}
	}
	api := false
	for _, d := range g.Needs(it.Name) {
		dep, _ := g.Node(d)
		switch {
		case dep.Kind == catalog.KindBootstrap:
			api = true
		case dep.Kind == catalog.KindStore && dep.Store.External:
			np.Spec.Egress = append(np.Spec.Egress, networkingv1.NetworkPolicyEgressRule{Ports: policyPorts([]int32{int32(externalPort(dep.Store))})})
		default:
			np.Spec.Egress = append(np.Spec.Egress, networkingv1.NetworkPolicyEgressRule{To: peer(d), Ports: policyPorts(netPorts(dep))})
		}
	}
	if api {
		var ports []int32
		for _, p := range apiServerPorts {
			ports = append(ports, int32(p))
		}
		np.Spec.Egress = append(np.Spec.Egress, networkingv1.NetworkPolicyEgressRule{Ports: policyPorts(ports)})
	}
	return np
}
