package kind

import (
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/novadev/novadev/internal/state"
)

// NetworkPolicyAddon is the engine that enforces the rendered
// NetworkPolicies on a kind cluster, relative to Dir. kind's default CNI
// (kindnetd) and the offline node image's static bridge enforce none, so
// without it the policies are applied but change nothing. It is cluster-wide
// (kube-system), so it sits outside the overlays like
// local-registry-hosting.yaml: kustomize's namespace: would move it.
const NetworkPolicyAddon = "addons/network-policy.yaml"

// NetworkPolicyEngineVersion is the kube-router release the addon runs; it
// must equal the version hack/kube-router/go.mod pins (a test checks), which
// is what scripts/netpol/build.sh builds and tags.
const NetworkPolicyEngineVersion = "v2.1.0"

// NetworkPolicyEngineImage is the addon's image as the Docker engine names
// it, built offline by scripts/netpol/build.sh (it is on no registry).
const NetworkPolicyEngineImage = "novadev/kube-router:" + NetworkPolicyEngineVersion

// NetworkPolicyEngineRef is the image the addon's DaemonSet runs: the
// engine image in the local registry, where up --target kind pushes it with
// the dev overlay's images (only when its digest changed), so the node pulls
// it through the rendered containerd mirror like everything else. By hand,
// `kind load docker-image` of the image under this name works as well
// (imagePullPolicy IfNotPresent).
var NetworkPolicyEngineRef = RegistryHost + "/" + NetworkPolicyEngineImage

// NetworkPolicyEngineName names the addon's DaemonSet, ServiceAccount,
// ClusterRole and ClusterRoleBinding, and is its pods' k8s-app label.
const NetworkPolicyEngineName = "kube-router"

// networkPolicyEngineHealthPort is kube-router's /healthz on the node's
// network (the DaemonSet runs with hostNetwork); metrics stay off.
const networkPolicyEngineHealthPort = 20244

// networkPolicyAddon is kube-router's network-policy controller alone, as a
// DaemonSet with the read-only RBAC that part needs. Routing (BGP) and the
// service proxy stay off: the node image's bridge CNI routes and kube-proxy
// serves Services; kube-router only writes the filter chains and ipsets.
func networkPolicyAddon() []any {
	const ns = "kube-system"
	name := NetworkPolicyEngineName
	lbl := map[string]string{
		"k8s-app":               name,
		state.LabelAppName:      name,
		state.LabelAppComponent: "network-policy",
		state.LabelAppManagedBy: state.ManagedBy,
	}
	om := func(namespace string) metav1.ObjectMeta {
		return metav1.ObjectMeta{Name: name, Namespace: namespace, Labels: lbl}
	}
	read := []string{"get", "list", "watch"}
	sa := &corev1.ServiceAccount{TypeMeta: typeMeta("v1", "ServiceAccount"), ObjectMeta: om(ns)}
	role := &rbacv1.ClusterRole{
		TypeMeta:   typeMeta("rbac.authorization.k8s.io/v1", "ClusterRole"),
		ObjectMeta: om(""),
		Rules: []rbacv1.PolicyRule{
			// Pods and namespaces are what policies select; nodes give the
			// node's own IP and pod CIDR; services and endpoints let the
			// controller tell service traffic from pod traffic.
			{APIGroups: []string{""}, Resources: []string{"namespaces", "pods", "services", "endpoints", "nodes"}, Verbs: read},
			{APIGroups: []string{"networking.k8s.io"}, Resources: []string{"networkpolicies"}, Verbs: read},
			{APIGroups: []string{"discovery.k8s.io"}, Resources: []string{"endpointslices"}, Verbs: read},
		},
	}
	binding := &rbacv1.ClusterRoleBinding{
		TypeMeta:   typeMeta("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"),
		ObjectMeta: om(""),
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: name},
		Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Name: name, Namespace: ns}},
	}
	podLabels := map[string]string{"k8s-app": name}
	ds := &appsv1.DaemonSet{
		TypeMeta:   typeMeta("apps/v1", "DaemonSet"),
		ObjectMeta: om(ns),
		Spec: appsv1.DaemonSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: podLabels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: podLabels},
				Spec: corev1.PodSpec{
					ServiceAccountName: name,
					PriorityClassName:  "system-node-critical",
					// The filter rules live in the node's network namespace.
					HostNetwork: true,
					DNSPolicy:   corev1.DNSClusterFirstWithHostNet,
					// Every node, control plane included: kind's single node is one.
					Tolerations: []corev1.Toleration{{Operator: corev1.TolerationOpExists}},
					Containers: []corev1.Container{{
						Name:            name,
						Image:           NetworkPolicyEngineRef,
						ImagePullPolicy: corev1.PullIfNotPresent,
						Args: []string{
							"--run-firewall=true",
							"--run-router=false",
							"--run-service-proxy=false",
							"--metrics-port=0",
							"--health-port=" + strconv.Itoa(networkPolicyEngineHealthPort),
						},
						Env: []corev1.EnvVar{{
							Name:      "NODE_NAME",
							ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "spec.nodeName"}},
						}},
						// iptables and ipset need the node's netfilter: privileged.
						SecurityContext: &corev1.SecurityContext{Privileged: ptr(true)},
						// Ready once the controller has answered its health
						// check, i.e. its informers synced and it runs.
						ReadinessProbe: &corev1.Probe{
							ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{
								Path: "/healthz", Port: intstr.FromInt32(networkPolicyEngineHealthPort),
							}},
							PeriodSeconds: 2,
						},
						LivenessProbe: &corev1.Probe{
							ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{
								Path: "/healthz", Port: intstr.FromInt32(networkPolicyEngineHealthPort),
							}},
							InitialDelaySeconds: 10,
							PeriodSeconds:       5,
						},
						Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{
							corev1.ResourceCPU:    resource.MustParse("10m"),
							corev1.ResourceMemory: resource.MustParse("32Mi"),
						}},
						// kube-proxy and the kubelet take the same lock.
						VolumeMounts: []corev1.VolumeMount{{Name: "xtables-lock", MountPath: "/run/xtables.lock"}},
					}},
					Volumes: []corev1.Volume{{
						Name: "xtables-lock",
						VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{
							Path: "/run/xtables.lock", Type: ptr(corev1.HostPathFileOrCreate),
						}},
					}},
				},
			},
		},
	}
	return []any{sa, role, binding, ds}
}
