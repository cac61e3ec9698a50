package kind

import (
	"context"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	k8slabels "k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/kind/pkg/apis/config/v1alpha4"
	"sigs.k8s.io/yaml"

	"github.com/novadev/novadev/internal/backend/docker/dockertest"
	"github.com/novadev/novadev/internal/catalog"
	"github.com/novadev/novadev/internal/contract"
	"github.com/novadev/novadev/internal/render/compose"
)

// podCPU is what the scheduler reserves for a pod: the larger of its
// biggest init container and the sum of its containers (requests, in
// millicores).
func podCPU(spec corev1.PodSpec) int64 {
	var sum, initMax int64
	for _, c := range spec.Containers {
		sum += c.Resources.Requests.Cpu().MilliValue()
	}
	for _, c := range spec.InitContainers {
		initMax = max(initMax, c.Resources.Requests.Cpu().MilliValue())
	}
	return max(sum, initMax)
}

// devRequests totals the CPU and memory requests of every pod the built dev
// overlay schedules: Deployments and StatefulSets times their replicas, and
// every bootstrap Job (all are scheduled at once).
func devRequests(t *testing.T, objs []object) (cpuMilli, memMiB int64) {
	t.Helper()
	add := func(spec corev1.PodSpec, pods int32) {
		cpuMilli += podCPU(spec) * int64(pods)
		for _, c := range spec.Containers {
			memMiB += c.Resources.Requests.Memory().Value() >> 20 * int64(pods)
		}
	}
	for _, o := range objs {
		switch o.Kind {
		case "Deployment":
			d := find[appsv1.Deployment](t, objs, o.Kind, o.Metadata.Name)
			add(d.Spec.Template.Spec, *d.Spec.Replicas)
		case "StatefulSet":
			s := find[appsv1.StatefulSet](t, objs, o.Kind, o.Metadata.Name)
			add(s.Spec.Template.Spec, *s.Spec.Replicas)
		case "Job":
			j := find[batchv1.Job](t, objs, o.Kind, o.Metadata.Name)
			add(j.Spec.Template.Spec, 1)
		}
	}
	return cpuMilli, memMiB
}

// TestDevOverlayFitsOneKindNode computes what the built dev overlay asks
// the scheduler for and checks it fits one 2-CPU kind node beside the
// control plane, with headroom; and that the environment's own (scaled)
// requests would not, so the fit is what makes it schedule.
func TestDevOverlayFitsOneKindNode(t *testing.T) {
	set, files := renderFiles(t, novaCatalog)
	objs := build(t, set, files, "dev")
	cpu, mem := devRequests(t, objs)
	t.Logf("dev overlay requests: %dm CPU, %d MiB memory (budget %dm = %dm node - %dm control plane - %dm headroom)",
		cpu, mem, DevCPUBudgetMilli, DevNodeCPUMilli, ControlPlaneCPUMilli, DevHeadroomCPUMilli)
	require.LessOrEqual(t, cpu, int64(DevCPUBudgetMilli))
	require.LessOrEqual(t, cpu+ControlPlaneCPUMilli, int64(DevNodeCPUMilli-DevHeadroomCPUMilli))
	require.Greater(t, cpu, int64(DevCPUBudgetMilli*8/10), "the budget is used, not wasted: requests still say who needs more")

	// without the fit: the local environment's requests as written
	var unfitted int64
	dev := set.ForKindOverlay(OverlayDev)
	for _, s := range dev.ActiveServices() {
		m, err := milliCPU(s.Resources.Requests.CPU)
		require.NoError(t, err)
		unfitted += m
	}
	for _, st := range clusterStores(dev) {
		m, err := milliCPU(st.Resources.Requests.CPU)
		require.NoError(t, err)
		if st.Kind == catalog.StoreRedisCluster {
			m *= int64(st.Nodes)
		}
		unfitted += m
	}
	t.Logf("the local environment's own requests: %dm", unfitted)
	require.Greater(t, unfitted+ControlPlaneCPUMilli, int64(DevNodeCPUMilli), "the case the fit exists for")

	// limits are the environment's, untouched
	feed := find[appsv1.Deployment](t, objs, "Deployment", "feed-service").Spec.Template.Spec.Containers[0].Resources
	require.Equal(t, dev.Services["feed-service"].Resources.Limits.CPU, feed.Limits.Cpu().String())
	require.LessOrEqual(t, feed.Requests.Cpu().MilliValue(), feed.Limits.Cpu().MilliValue())

	// the pr overlay runs on a cluster sized for it: no fit
	pr := build(t, set, files, "pr")
	search := find[appsv1.Deployment](t, pr, "Deployment", "search-service-pr").Spec.Template.Spec.Containers[0].Resources
	require.Equal(t, set.ForKindOverlay(OverlayPR).Services["search-service"].Resources.Requests.CPU, search.Requests.Cpu().String())
}

func TestFitCPUScalesOnlyWhenNeeded(t *testing.T) {
	dev := loadSet(t, novaCatalog).ForKindOverlay(OverlayDev)
	fit, err := fitCPU(dev, 100000)
	require.NoError(t, err)
	r, err := fit(dev.Services["feed-service"].Resources)
	require.NoError(t, err)
	require.Equal(t, dev.Services["feed-service"].Resources.Requests.CPU, r.Requests.CPU, "fits: unchanged")
	fit, err = fitCPU(dev, 1)
	require.NoError(t, err)
	r, err = fit(dev.Services["feed-service"].Resources)
	require.NoError(t, err)
	require.Equal(t, "5m", r.Requests.CPU, "never below the minimum (a request of nothing defaults to the limit)")
	bad := loadSet(t, novaCatalog).ForKindOverlay(OverlayDev)
	bad.Services["feed-service"].Resources.Requests.CPU = "lots"
	_, err = fitCPU(bad, 1)
	require.ErrorContains(t, err, `service feed-service: cpu "lots"`)
}

// TestNonRootStoresOwnTheirVolume: in the dev overlay the stores whose
// offline image runs as non-root (Redis, ClickHouse) run as that user, with
// its group as fsGroup, and an init container running as root hands the
// data volume's mount point to that user (host-path volumes ignore
// fsGroup); the other stores and the pr overlay (upstream images) get none.
func TestNonRootStoresOwnTheirVolume(t *testing.T) {
	set, files := renderFiles(t, novaCatalog)
	objs := build(t, set, files, "dev")
	nonRoot := map[string]bool{}
	for _, o := range ofKind(objs, "StatefulSet") {
		sts := find[appsv1.StatefulSet](t, objs, "StatefulSet", o.Metadata.Name)
		spec := sts.Spec.Template.Spec
		main := spec.Containers[0]
		u, ok := contract.ImageUser(strings.TrimPrefix(main.Image, RegistryHost+"/")) // dev pulls from the local registry
		if !ok {
			require.Nil(t, spec.SecurityContext, o.Metadata.Name)
			require.Empty(t, spec.InitContainers, o.Metadata.Name)
			continue
		}
		nonRoot[o.Metadata.Name] = true
		sc := spec.SecurityContext
		require.NotNil(t, sc, o.Metadata.Name)
		require.Equal(t, u.UID, *sc.RunAsUser)
		require.Equal(t, u.GID, *sc.RunAsGroup)
		require.Equal(t, u.GID, *sc.FSGroup)
		require.True(t, *sc.RunAsNonRoot)
		require.Len(t, spec.InitContainers, 1)
		ic := spec.InitContainers[0]
		require.Equal(t, VolumeOwnerContainer, ic.Name)
		require.Equal(t, main.Image, ic.Image, "chown from the store's own image")
		require.Equal(t, int64(0), *ic.SecurityContext.RunAsUser)
		require.Equal(t, main.VolumeMounts, ic.VolumeMounts, "the same volume at the same path")
		require.Equal(t, []string{"chown", "-R", strconv.FormatInt(u.UID, 10) + ":" + strconv.FormatInt(u.GID, 10), main.VolumeMounts[0].MountPath}, ic.Command)
	}
	require.Equal(t, map[string]bool{"redis": true, "clickhouse": true}, nonRoot)
	for _, o := range ofKind(build(t, set, files, "pr"), "StatefulSet") {
		require.NotContains(t, string(o.raw), VolumeOwnerContainer, o.Metadata.Name)
	}
}

// TestIntegrationOfflineImageUsers checks contract.ImageUser against the
// built offline images: the user each runs as (`id`), and that the image
// has the chown the init container runs.
func TestIntegrationOfflineImageUsers(t *testing.T) {
	dockertest.New(t) // skips without an engine (fails under NOVADEV_E2E=1)
	for image, want := range contract.NonRootImages() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		if err := exec.CommandContext(ctx, "docker", "image", "inspect", image).Run(); err != nil {
			cancel()
			if os.Getenv("NOVADEV_E2E") == "1" {
				t.Fatalf("NOVADEV_E2E=1 but %s is not built (scripts/images/build.sh)", image)
			}
			t.Skipf("%s is not built (scripts/images/build.sh)", image)
		}
		out, err := exec.CommandContext(ctx, "docker", "run", "--rm", "--entrypoint", "id", image).CombinedOutput()
		require.NoError(t, err, "%s: %s", image, out)
		id := strings.TrimSpace(string(out))
		t.Logf("%s: %s", image, id)
		require.True(t, strings.HasPrefix(id, "uid="+strconv.FormatInt(want.UID, 10)+"("), "%s runs as %s, the contract says uid %d", image, id, want.UID)
		require.Contains(t, id, " gid="+strconv.FormatInt(want.GID, 10)+"(", image)
		out, err = exec.CommandContext(ctx, "docker", "run", "--rm", "--entrypoint", "chown", image, "--version").CombinedOutput()
		require.NoError(t, err, "%s has no chown: %s", image, out)
		cancel()
	}
}

// TestGatewayHostPortChain follows the gateway from the host to the
// process, through the rendered objects: kind's extraPortMappings host port
// (the same as compose publishes) -> the node port of a NodePort Service in
// the dev overlay -> the pods its selector picks (the gateway's, ready by
// its readiness probe) -> the container port its targetPort names -> the
// port the process is told to listen on (HTTP_PORT), open to every peer in
// the gateway's NetworkPolicy (NodePort traffic arrives from the node).
func TestGatewayHostPortChain(t *testing.T) {
	set, files := renderFiles(t, novaCatalog)
	var cluster v1alpha4.Cluster
	require.NoError(t, yaml.Unmarshal(files[Dir+"/cluster.yaml"], &cluster))
	require.Len(t, cluster.Nodes, 1)
	mappings := cluster.Nodes[0].ExtraPortMappings
	require.NotEmpty(t, mappings)
	objs := build(t, set, files, "dev")
	local := set.ForKindOverlay(OverlayDev)
	proj, err := compose.Project(local)
	require.NoError(t, err)

	for _, m := range mappings {
		require.Equal(t, "127.0.0.1", m.ListenAddress)
		require.GreaterOrEqual(t, m.ContainerPort, int32(30000))
		require.LessOrEqual(t, m.ContainerPort, int32(32767))
		// the NodePort Service behind the node port
		var svc *corev1.Service
		var port corev1.ServicePort
		for _, o := range ofKind(objs, "Service") {
			s := find[corev1.Service](t, objs, "Service", o.Metadata.Name)
			for _, p := range s.Spec.Ports {
				if p.NodePort == m.ContainerPort {
					require.Nil(t, svc, "two Services on node port %d", m.ContainerPort)
					svc, port = s, p
				}
			}
		}
		require.NotNil(t, svc, "no Service on node port %d", m.ContainerPort)
		require.Equal(t, corev1.ServiceTypeNodePort, svc.Spec.Type)
		// the pods it selects
		sel := k8slabels.SelectorFromSet(svc.Spec.Selector)
		var dep *appsv1.Deployment
		for _, o := range ofKind(objs, "Deployment") {
			d := find[appsv1.Deployment](t, objs, "Deployment", o.Metadata.Name)
			if sel.Matches(k8slabels.Set(d.Spec.Template.Labels)) {
				require.Nil(t, dep, "%s selects two Deployments", svc.Name)
				dep = d
			}
		}
		require.NotNil(t, dep, "%s selects no pods", svc.Name)
		c := dep.Spec.Template.Spec.Containers[0]
		require.NotNil(t, c.ReadinessProbe, "endpoints only list ready pods")
		// the container port the target port names, and the process's port
		var target int32
		for _, p := range c.Ports {
			if p.Name == port.TargetPort.String() || (port.TargetPort.IntVal != 0 && p.ContainerPort == port.TargetPort.IntVal) {
				target = p.ContainerPort
			}
		}
		require.NotZero(t, target, "%s targets %s, which %s does not declare", svc.Name, port.TargetPort.String(), c.Name)
		s := local.Services[dep.Name]
		require.NotNil(t, s, dep.Name)
		var listen string
		for _, e := range c.Env {
			if e.Name == contract.PortVar(port.TargetPort.String()) {
				listen = e.Value
			}
		}
		require.Equal(t, strconv.Itoa(int(target)), listen, "%s is told to listen on %s", dep.Name, contract.PortVar(port.TargetPort.String()))
		// the same host port as on Docker
		var published []string
		for _, p := range proj.Services[dep.Name].Ports {
			if int32(p.Target) == target {
				published = append(published, p.Published)
			}
		}
		require.Equal(t, []string{strconv.Itoa(int(m.HostPort))}, published, "compose publishes %s on the same host port", dep.Name)
		// the NetworkPolicy admits it from anywhere
		np := find[networkingv1.NetworkPolicy](t, objs, "NetworkPolicy", "allow-"+dep.Name)
		open := false
		for _, rule := range np.Spec.Ingress {
			if len(rule.From) == 0 {
				for _, p := range rule.Ports {
					if p.Port.IntVal == target {
						open = true
					}
				}
			}
		}
		require.True(t, open, "allow-%s admits port %d from any peer", dep.Name, target)
		t.Logf("127.0.0.1:%d -> node port %d -> Service %s -> %s:%d (%s=%s)", m.HostPort, m.ContainerPort, svc.Name, dep.Name, target, contract.PortVar(port.TargetPort.String()), listen)
	}
}
