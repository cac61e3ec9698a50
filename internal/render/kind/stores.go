package kind

import (
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/novadev/novadev/internal/catalog"
	"github.com/novadev/novadev/internal/contract"
)

// storeSpec is what differs between store kinds.
type storeSpec struct {
	command   []string
	args      []string
	env       []corev1.EnvVar
	mountPath string
	probe     *corev1.Probe
}

func storeSpecOf(c *catalog.Catalog, st *catalog.Store) (storeSpec, error) {
	creds, err := envVars(contract.StoreEnv(c, st))
	if err != nil {
		return storeSpec{}, fmt.Errorf("store %s: %w", st.Name, err)
	}
	tcp := func(port int) *corev1.Probe {
		return &corev1.Probe{PeriodSeconds: 5, TimeoutSeconds: 2, FailureThreshold: 3,
			ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(int32(port))}}}
	}
	switch st.Kind {
	case catalog.StorePostgres:
		return storeSpec{
			env: append(creds,
				// a subdirectory: the volume's root holds lost+found, which initdb refuses
				corev1.EnvVar{Name: "PGDATA", Value: "/var/lib/postgresql/data/pgdata"}),
			mountPath: "/var/lib/postgresql/data",
			probe: &corev1.Probe{PeriodSeconds: 5, TimeoutSeconds: 2, FailureThreshold: 3,
				ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"pg_isready", "-h", "127.0.0.1", "-p", fmt.Sprint(st.Port), "-U", "postgres"}}}},
		}, nil
	case catalog.StoreRedisCluster:
		return storeSpec{
			command: []string{"redis-server"},
			args: []string{
				"--port", fmt.Sprint(st.Port),
				"--cluster-enabled", "yes",
				"--cluster-config-file", "/data/nodes.conf",
				"--cluster-node-timeout", "5000",
				"--cluster-announce-hostname", "$(POD_NAME)." + st.Name,
				"--cluster-preferred-endpoint-type", "hostname",
				"--appendonly", "yes",
				"--dir", "/data",
				"--protected-mode", "no",
			},
			env:       []corev1.EnvVar{{Name: "POD_NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}}},
			mountPath: "/data",
			probe:     tcp(st.Port),
		}, nil
	case catalog.StoreKafka:
		return storeSpec{
			args:      []string{"--listen", fmt.Sprintf("0.0.0.0:%d", st.Port), "--advertise", storeAddr(st), "--data-dir", "/data"},
			mountPath: "/data",
			probe:     tcp(st.Port),
		}, nil
	case catalog.StoreClickHouse:
		return storeSpec{
			env:       creds,
			mountPath: "/var/lib/clickhouse",
			probe: &corev1.Probe{PeriodSeconds: 5, TimeoutSeconds: 2, FailureThreshold: 3,
				ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/ping", Port: intstr.FromInt32(int32(st.Port))}}},
		}, nil
	case catalog.StoreElasticsearch:
		return storeSpec{
			env: []corev1.EnvVar{
				{Name: "discovery.type", Value: "single-node"},
				{Name: "xpack.security.enabled", Value: "false"},
			},
			mountPath: "/usr/share/elasticsearch/data",
			probe:     tcp(st.Port),
		}, nil
	}
	return storeSpec{}, fmt.Errorf("store %s: kind %s does not run in the cluster", st.Name, st.Kind)
}

// storeObjects are a store's headless Service and StatefulSet (one pod per
// Redis Cluster node), with a volume claim of the catalog's storage size.
func storeObjects(c *catalog.Catalog, st *catalog.Store) ([]any, error) {
	spec, err := storeSpecOf(c, st)
	if err != nil {
		return nil, err
	}
	res, err := resources(st.Resources)
	if err != nil {
		return nil, fmt.Errorf("store %s: %w", st.Name, err)
	}
	ports := storePorts(st)
	svc := &corev1.Service{
		TypeMeta:   typeMeta("v1", "Service"),
		ObjectMeta: meta(c, st.Name, ComponentStore),
		Spec: corev1.ServiceSpec{
			ClusterIP: corev1.ClusterIPNone,
			Selector:  selector(st.Name),
			// Redis Cluster nodes must resolve each other before they are ready
			PublishNotReadyAddresses: st.Kind == catalog.StoreRedisCluster,
		},
	}
	for _, p := range ports {
		svc.Spec.Ports = append(svc.Spec.Ports, corev1.ServicePort{Name: p.Name, Port: p.ContainerPort, TargetPort: intstr.FromString(p.Name), Protocol: corev1.ProtocolTCP})
	}
	replicas := int32(1)
	if st.Kind == catalog.StoreRedisCluster {
		replicas = int32(st.Nodes)
	}
	storage := st.Storage
	if storage == "" {
		storage = "1Gi"
	}
	size, err := resource.ParseQuantity(storage)
	if err != nil {
		return nil, fmt.Errorf("store %s: storage %q: %w", st.Name, storage, err)
	}
	sts := &appsv1.StatefulSet{
		TypeMeta:   typeMeta("apps/v1", "StatefulSet"),
		ObjectMeta: meta(c, st.Name, ComponentStore),
		Spec: appsv1.StatefulSetSpec{
			ServiceName:         st.Name,
			Replicas:            &replicas,
			PodManagementPolicy: appsv1.ParallelPodManagement,
			Selector:            &metav1LabelSelector{MatchLabels: selector(st.Name)},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: podMeta(c, st.Name, ComponentStore),
				Spec: corev1.PodSpec{
					AutomountServiceAccountToken: ptr(false),
					EnableServiceLinks:           ptr(false),
					Containers: []corev1.Container{{
						Name:            st.Name,
						Image:           st.Image,
						ImagePullPolicy: corev1.PullIfNotPresent,
						Command:         spec.command,
						Args:            spec.args,
						Env:             spec.env,
						Ports:           ports,
						ReadinessProbe:  spec.probe,
						Resources:       res,
						VolumeMounts:    []corev1.VolumeMount{{Name: "data", MountPath: spec.mountPath}},
					}},
				},
			},
			VolumeClaimTemplates: []corev1.PersistentVolumeClaim{{
				ObjectMeta: podMeta(c, st.Name, ComponentStore),
				Spec: corev1.PersistentVolumeClaimSpec{
					AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
					Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: size}},
				},
			}},
		},
	}
	sts.Spec.VolumeClaimTemplates[0].Name = "data"
	sts.Spec.VolumeClaimTemplates[0].Labels = nil
	return []any{svc, sts}, nil
}

// clusterStores are the stores that run as pods in this environment: active,
// not external.
func clusterStores(c *catalog.Catalog) []*catalog.Store {
	var out []*catalog.Store
	for _, st := range c.ActiveStores() {
		if !st.External && c.Unavailable(st.Name) == "" {
			out = append(out, st)
		}
	}
	return out
}
