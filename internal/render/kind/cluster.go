package kind

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/kind/pkg/apis/config/v1alpha4"

	"github.com/novadev/novadev/internal/catalog"
)

// The local registry, the way ctlptl sets it up: a registry container on
// the kind network, published on the host at RegistryHost; containerd in the
// node mirrors RegistryHost to it, and the local-registry-hosting ConfigMap
// (KEP-1755) tells tools (Tilt, ctlptl, skaffold) where to push.
const (
	RegistryName      = "novadev-registry"
	RegistryHostPort  = 5005
	registryPort      = 5000
	nodePortBase      = 30000
	nodePortRangeSize = 2768 // 30000-32767
)

// RegistryHost is where the host pushes images.
var RegistryHost = fmt.Sprintf("localhost:%d", RegistryHostPort)

// registryInCluster is the registry as the node's containerd reaches it.
var registryInCluster = fmt.Sprintf("%s:%d", RegistryName, registryPort)

// gatewayPort is a published http port of a service: reached from the host
// through a NodePort and kind's extraPortMappings.
type gatewayPort struct {
	service  string
	port     int // container port
	host     int // host port (the environment's block)
	nodePort int
}

// gatewayPorts are the http ports, published on the host, of the dev
// environment's services (the GraphQL gateway).
func gatewayPorts(dev *catalog.Catalog) []gatewayPort {
	var out []gatewayPort
	for _, s := range dev.ActiveServices() {
		for _, p := range s.Ports {
			if p.Name == "http" && p.Host != 0 {
				out = append(out, gatewayPort{service: s.Name, port: p.Port, host: p.Host, nodePort: nodePortBase + p.Host%1000%nodePortRangeSize})
			}
		}
	}
	return out
}

// clusterConfig is kind/cluster.yaml: one control-plane node publishing the
// gateway on 127.0.0.1 and mirroring the local registry.
func clusterConfig(base, dev *catalog.Catalog) ([]byte, error) {
	node := v1alpha4.Node{Role: v1alpha4.ControlPlaneRole}
	for _, gp := range gatewayPorts(dev) {
		node.ExtraPortMappings = append(node.ExtraPortMappings, v1alpha4.PortMapping{
			ContainerPort: int32(gp.nodePort), HostPort: int32(gp.host), ListenAddress: "127.0.0.1", Protocol: v1alpha4.PortMappingProtocolTCP,
		})
	}
	cfg := &v1alpha4.Cluster{
		TypeMeta: v1alpha4.TypeMeta{APIVersion: "kind.x-k8s.io/v1alpha4", Kind: "Cluster"},
		Name:     base.Metadata.Name,
		Nodes:    []v1alpha4.Node{node},
		ContainerdConfigPatches: []string{fmt.Sprintf(
			"[plugins.\"io.containerd.grpc.v1.cri\".registry.mirrors.%q]\n  endpoint = [\"http://%s\"]\n", RegistryHost, registryInCluster)},
	}
	data, err := encode(cfg)
	if err != nil {
		return nil, err
	}
	return data, nil
}

// localRegistryHosting is KEP-1755's ConfigMap in kube-public.
func localRegistryHosting() *corev1.ConfigMap {
	return &corev1.ConfigMap{
		TypeMeta:   typeMeta("v1", "ConfigMap"),
		ObjectMeta: metav1.ObjectMeta{Name: "local-registry-hosting", Namespace: "kube-public"},
		Data: map[string]string{"localRegistryHosting.v1": fmt.Sprintf(
			"host: %q\nhostFromContainerRuntime: %q\nhostFromClusterNetwork: %q\nhelp: \"https://github.com/novadev/novadev/blob/main/docs/kind.md\"\n",
			RegistryHost, registryInCluster, registryInCluster)},
	}
}
