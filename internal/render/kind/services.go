package kind

import (
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/novadev/novadev/internal/catalog"
	"github.com/novadev/novadev/internal/contract"
	"github.com/novadev/novadev/internal/state"
)

// GRPCServicesName is the headless Service every service's pods answer
// behind (the staging guide's DNS-based discovery).
const GRPCServicesName = "nova-grpc-services"

// serviceObjects are one service's ServiceAccount, Service and Deployment.
func serviceObjects(c *catalog.Catalog, g *catalog.Graph, s *catalog.Service, cms catalogConfigMaps) ([]any, error) {
	sa := &corev1.ServiceAccount{
		TypeMeta:                     typeMeta("v1", "ServiceAccount"),
		ObjectMeta:                   meta(c, s.Name, ComponentService),
		AutomountServiceAccountToken: ptr(needsJobs(g, s.Name)),
	}
	svc := &corev1.Service{
		TypeMeta:   typeMeta("v1", "Service"),
		ObjectMeta: meta(c, s.Name, ComponentService),
		Spec:       corev1.ServiceSpec{Selector: selector(s.Name)},
	}
	var ports []corev1.ContainerPort
	for _, p := range s.Ports {
		ports = append(ports, corev1.ContainerPort{Name: p.Name, ContainerPort: int32(p.Port), Protocol: corev1.ProtocolTCP})
		svc.Spec.Ports = append(svc.Spec.Ports, corev1.ServicePort{
			Name: p.Name, Port: int32(p.Port), TargetPort: intstr.FromString(p.Name), Protocol: corev1.ProtocolTCP,
		})
	}
	res, err := resources(s.Resources)
	if err != nil {
		return nil, fmt.Errorf("service %s: %w", s.Name, err)
	}
	probe, err := readinessProbe(s)
	if err != nil {
		return nil, err
	}
	// the contract's environment with the cluster's addresses; passwords
	// come from the credentials Secret and the kubelet expands them into
	// DATABASE_URL ($(VAR) references)
	env, err := envVars(contract.ServiceEnv(c, contract.Kind, s))
	if err != nil {
		return nil, fmt.Errorf("service %s: %w", s.Name, err)
	}
	var volumes []corev1.Volume
	var mounts []corev1.VolumeMount
	if contract.MountsProtos(c) {
		// the API it serves (NOVA_PROTO_DIR): the catalog's proto files
		v := cms.protoVolume(c)
		volumes = append(volumes, v)
		mounts = append(mounts, corev1.VolumeMount{Name: v.Name, MountPath: contract.ProtoMount, ReadOnly: true})
	}
	dep := &appsv1.Deployment{
		TypeMeta:   typeMeta("apps/v1", "Deployment"),
		ObjectMeta: meta(c, s.Name, ComponentService),
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr(int32(s.Replicas)),
			Selector: &metav1LabelSelector{MatchLabels: selector(s.Name)},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: podMeta(c, s.Name, ComponentService),
				Spec: corev1.PodSpec{
					ServiceAccountName: s.Name,
					EnableServiceLinks: ptr(false),
					InitContainers:     waitContainers(c, g, s.Name),
					Containers: []corev1.Container{{
						Name:            s.Name,
						Image:           s.Image,
						ImagePullPolicy: corev1.PullIfNotPresent,
						Ports:           ports,
						Env:             env,
						ReadinessProbe:  probe,
						Resources:       res,
						VolumeMounts:    mounts,
					}},
					Volumes: volumes,
				},
			},
		},
	}
	return []any{sa, svc, dep}, nil
}

// readinessProbe is the catalog's readiness check as a native probe: gRPC
// health for grpc (Kubernetes' built-in grpc probe), TCP or HTTP GET.
func readinessProbe(s *catalog.Service) (*corev1.Probe, error) {
	r := s.Readiness
	port := portNamed(s, r.Port)
	if port == 0 {
		return nil, fmt.Errorf("service %s: readiness port %q is not one of its ports", s.Name, r.Port)
	}
	p := &corev1.Probe{PeriodSeconds: 5, TimeoutSeconds: 2, FailureThreshold: 3}
	switch r.Type {
	case catalog.CheckGRPC:
		p.GRPC = &corev1.GRPCAction{Port: int32(port)}
	case catalog.CheckTCP:
		p.TCPSocket = &corev1.TCPSocketAction{Port: intstr.FromInt32(int32(port))}
	case catalog.CheckHTTP:
		p.HTTPGet = &corev1.HTTPGetAction{Path: r.Path, Port: intstr.FromInt32(int32(port))}
	default:
		return nil, fmt.Errorf("service %s: readiness type %q has no Kubernetes probe", s.Name, r.Type)
	}
	return p, nil
}

// grpcServices is the headless Service over every service's gRPC port (the
// catalog's default grpc port).
func grpcServices(c *catalog.Catalog) *corev1.Service {
	m := meta(c, GRPCServicesName, ComponentService)
	port := int32(50051)
	for _, p := range c.Defaults.Ports {
		if p.Name == "grpc" {
			port = int32(p.Port)
		}
	}
	return &corev1.Service{
		TypeMeta:   typeMeta("v1", "Service"),
		ObjectMeta: m,
		Spec: corev1.ServiceSpec{
			ClusterIP: corev1.ClusterIPNone,
			Selector:  map[string]string{state.LabelAppComponent: ComponentService, state.LabelAppPartOf: c.Metadata.Name},
			Ports:     []corev1.ServicePort{{Name: "grpc", Port: port, TargetPort: intstr.FromString("grpc"), Protocol: corev1.ProtocolTCP}},
		},
	}
}
