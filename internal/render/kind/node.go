package kind

import (
	"fmt"
	"math"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/novadev/novadev/internal/catalog"
	"github.com/novadev/novadev/internal/contract"
)

// The dev overlay runs on one kind node: a laptop's 2 CPUs, of which
// kind's control plane (apiserver, controller-manager, scheduler, etcd,
// CoreDNS) requests about 850m (measured on these machines). The scheduler
// places pods by requests, so Nova's pods must request no more than what is
// left, with headroom for what kind or the user adds (a registry, a debug
// pod). Limits are not scaled: they cap bursts and do not block scheduling.
const (
	DevNodeCPUMilli      = 2000
	ControlPlaneCPUMilli = 850
	DevHeadroomCPUMilli  = 250
)

// DevCPUBudgetMilli is what every Nova pod of the dev overlay may request
// together: services, stores and the bootstrap Jobs (all are scheduled at
// once; the Jobs' init containers wait).
const DevCPUBudgetMilli = DevNodeCPUMilli - ControlPlaneCPUMilli - DevHeadroomCPUMilli

// minCPUMilli is the least a scaled request becomes: a pod requesting
// nothing would default to its limit.
const minCPUMilli = 5

// fitCPU returns the environment's resources with every CPU request scaled
// by one factor so that the environment's pods request at most budget
// millicores (the tool containers' requests are fixed and counted first),
// the way the compose rendering leaves CPU requests out: locally they only
// decide scheduling, and a laptop node must take the whole platform. It
// returns the function applying the factor (identity when it fits).
func fitCPU(env *catalog.Catalog, budget int64) (func(catalog.Resources) (catalog.Resources, error), error) {
	var scalable int64
	add := func(r catalog.Resources, pods int) error {
		m, err := milliCPU(r.Requests.CPU)
		if err != nil {
			return err
		}
		scalable += m * int64(pods)
		return nil
	}
	for _, s := range env.ActiveServices() {
		if err := add(s.Resources, max(s.Replicas, 1)); err != nil {
			return nil, fmt.Errorf("service %s: %w", s.Name, err)
		}
	}
	for _, st := range clusterStores(env) {
		pods := 1
		if st.Kind == catalog.StoreRedisCluster {
			pods = st.Nodes
		}
		if err := add(st.Resources, pods); err != nil {
			return nil, fmt.Errorf("store %s: %w", st.Name, err)
		}
	}
	tool := toolResources().Requests[corev1.ResourceCPU]
	fixed := tool.MilliValue() * int64(len(env.Bootstraps))
	if scalable == 0 || scalable+fixed <= budget {
		return func(r catalog.Resources) (catalog.Resources, error) { return r, nil }, nil
	}
	factor := float64(budget-fixed) / float64(scalable)
	return func(r catalog.Resources) (catalog.Resources, error) {
		if r.Requests.CPU == "" {
			return r, nil
		}
		m, err := milliCPU(r.Requests.CPU)
		if err != nil {
			return r, err
		}
		r.Requests.CPU = fmt.Sprintf("%dm", max(int64(math.Floor(float64(m)*factor)), minCPUMilli))
		return r, nil
	}, nil
}

func milliCPU(q string) (int64, error) {
	if q == "" {
		return 0, nil
	}
	v, err := resource.ParseQuantity(q)
	if err != nil {
		return 0, fmt.Errorf("cpu %q: %w", q, err)
	}
	return v.MilliValue(), nil
}

// VolumeOwnerContainer is the init container that gives a non-root store
// its data directory.
const VolumeOwnerContainer = "volume-owner"

// runAsPatches are strategic-merge patches for the stores whose image (in
// this environment) runs as a non-root user (contract.ImageUser): the pod
// runs as that user with its group as fsGroup, which makes volumes that
// support ownership management (most CSI and cloud volumes) writable; and
// an init container running as root gives the data directory to that user,
// because host-path volumes (kind's local storage) ignore fsGroup and are
// created root-owned. Images that start as root and fix their own data
// directory (the upstream Redis and ClickHouse images, the offline
// PostgreSQL image) get nothing.
func runAsPatches(base, env *catalog.Catalog) ([]any, error) {
	var out []any
	for _, st := range clusterStores(base) {
		e := env.Stores[st.Name]
		if e == nil {
			continue
		}
		u, ok := contract.ImageUser(e.Image)
		if !ok {
			continue
		}
		spec, err := storeSpecOf(base, st)
		if err != nil {
			return nil, err
		}
		owner := fmt.Sprintf("%d:%d", u.UID, u.GID)
		out = append(out, map[string]any{
			"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": patchMeta(base, st.Name),
			"spec": map[string]any{"template": map[string]any{"spec": map[string]any{
				"securityContext": &corev1.PodSecurityContext{
					RunAsUser: ptr(u.UID), RunAsGroup: ptr(u.GID), RunAsNonRoot: ptr(true),
					FSGroup: ptr(u.GID), FSGroupChangePolicy: ptr(corev1.FSGroupChangeOnRootMismatch),
				},
				"initContainers": []corev1.Container{{
					Name:            VolumeOwnerContainer,
					Image:           e.Image,
					ImagePullPolicy: corev1.PullIfNotPresent,
					Command:         []string{"chown", "-R", owner, spec.mountPath},
					SecurityContext: &corev1.SecurityContext{RunAsUser: ptr(int64(0)), RunAsNonRoot: ptr(false)},
					Resources:       toolResources(),
					VolumeMounts:    []corev1.VolumeMount{{Name: "data", MountPath: spec.mountPath}},
				}},
			}}},
		})
	}
	return out, nil
}
