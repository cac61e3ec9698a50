package render_test

import (
	"bytes"
	"context"
	"fmt"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"

	"github.com/novadev/novadev/internal/catalog"
	"github.com/novadev/novadev/internal/contract"
	"github.com/novadev/novadev/internal/render/compose"
	"github.com/novadev/novadev/internal/render/kind"
	"github.com/novadev/novadev/internal/state"
)

// Both renderers read the runtime contract (internal/contract), so what a
// workload is told is no longer compared renderer against renderer. What is
// left to check here:
//
//  1. each renderer conveys the contract exactly: the environment of every
//     service and bootstrap, resolved the way its runtime resolves it
//     (compose-go's interpolation; the kubelet's $(VAR) expansion, Secret
//     keys as dummies), equals the contract's, and the stores run where
//     the contract's endpoints say;
//  2. both run the same graph: the same nodes, each waiting for the same
//     dependencies in the way its target can (dependencyWait), with the
//     same readiness check, image and ports.

// dummy is a credential's stand-in value on both sides.
func dummy(cr contract.Credential) string { return "dummy-" + strings.ToLower(cr.Key) }

func TestRenderersConveyTheContract(t *testing.T) {
	set, local, proj, k := renderBoth(t)
	secrets := map[string]string{}
	for _, cr := range contract.Credentials(local) {
		secrets[cr.Key] = dummy(cr)
	}
	data, err := compose.Marshal(proj)
	require.NoError(t, err)
	loaded, err := compose.Load(context.Background(), data, proj.WorkingDir, secrets)
	require.NoError(t, err)

	for _, s := range local.ActiveServices() {
		want := contract.ServiceEnv(local, contract.Compose, s).Resolve(dummy)
		require.Equal(t, want, composeEnv(loaded.Services[s.Name]), "compose env of %s", s.Name)
		d := k.deployments[s.Name]
		require.NotNil(t, d, s.Name)
		kc := d.Spec.Template.Spec.Containers[0]
		require.Equal(t, contract.ServiceEnv(set.Base, contract.Kind, s).Resolve(dummy), kubeletEnv(t, kc), "kind env of %s", s.Name)
	}
	for _, bs := range local.Bootstraps {
		inv := contract.Bootstrap(local, contract.Compose, bs)
		cs := loaded.Services[bs.Name]
		require.Equal(t, inv.Args, []string(cs.Command), bs.Name)
		require.Equal(t, inv.Env.Resolve(dummy), composeEnv(cs), "compose env of %s", bs.Name)
		inv = contract.Bootstrap(set.Base, contract.Kind, bs)
		kc := k.jobs[bs.Name].Spec.Template.Spec.Containers[0]
		require.Equal(t, inv.Args, kc.Args, bs.Name)
		require.Equal(t, inv.Env.Resolve(dummy), kubeletEnv(t, kc), "kind env of %s", bs.Name)
	}
	for _, st := range local.ActiveStores() {
		// compose: one service per contract endpoint, on the endpoint's port
		var got []string
		for _, cs := range byNode(proj, st.Name) {
			got = append(got, fmt.Sprintf("%s:%d", cs.Name, portOf(cs, st)))
		}
		var want []string
		for _, e := range contract.Endpoints(contract.Compose, st) {
			want = append(want, e.Addr())
		}
		require.Equal(t, want, got, "compose services of store %s", st.Name)
		if st.External {
			require.Nil(t, k.statefulSets[st.Name], "external store %s runs nowhere", st.Name)
			continue
		}
		if why := local.Unavailable(st.Name); why != "" {
			// no image of it here: compose starts it only with --profile,
			// the dev overlay deletes it; its users keep its address (above)
			require.Nil(t, k.statefulSets[st.Name], "unavailable store %s (%s): the dev overlay deletes it", st.Name, why)
			require.Nil(t, k.services[st.Name], st.Name)
			for _, cs := range byNode(proj, st.Name) {
				require.Equal(t, []string{st.Name}, cs.Profiles, "compose: %s behind its own profile", cs.Name)
			}
			continue
		}
		// kind: the StatefulSet's pods behind their governing Service
		sts := k.statefulSets[st.Name]
		require.NotNil(t, sts, st.Name)
		svc := k.services[sts.Spec.ServiceName]
		require.NotNil(t, svc, sts.Spec.ServiceName)
		got = nil
		for i := range int(*sts.Spec.Replicas) {
			host := svc.Name
			if *sts.Spec.Replicas > 1 {
				host = fmt.Sprintf("%s-%d.%s", sts.Name, i, svc.Name)
			}
			got = append(got, fmt.Sprintf("%s:%d", host, svc.Spec.Ports[0].Port))
		}
		want = nil
		for _, e := range contract.Endpoints(contract.Kind, st) {
			want = append(want, e.Addr())
		}
		require.Equal(t, want, got, "kind pods of store %s", st.Name)
		require.Equal(t, contract.StoreEnv(local, st).Resolve(dummy), pick(kubeletEnv(t, sts.Spec.Template.Spec.Containers[0]), contract.StoreEnv(local, st).Names()), st.Name)
		require.Equal(t, contract.StoreEnv(local, st).Resolve(dummy), pick(composeEnv(loaded.Services[byNode(proj, st.Name)[0].Name]), contract.StoreEnv(local, st).Names()), st.Name)
	}
}

// TestServicesFindTheirProtos: where the contract says a service's proto
// files are (NOVA_PROTO_DIR, NOVA_PROTO_FILES), each target mounts them, and
// each file declares the API the service serves (NOVA_GRPC_API); the
// gateway, which has none of its own, sees every service's.
func TestServicesFindTheirProtos(t *testing.T) {
	_, local, proj, k := renderBoth(t)
	for _, s := range local.ActiveServices() {
		env := contract.ServiceEnv(local, contract.Compose, s).Resolve(dummy)
		require.Equal(t, contract.ProtoMount, env[contract.EnvProtoDir], s.Name)
		files := strings.Split(env[contract.EnvProtoFiles], ",")
		if env[contract.EnvProtoFiles] == "" {
			files = nil
			for _, o := range local.ActiveServices() {
				files = append(files, o.Protos...)
			}
		}
		// compose: a read-only bind mount of protos.root
		var src string
		for _, v := range proj.Services[s.Name].Volumes {
			if v.Target == contract.ProtoMount {
				require.True(t, v.ReadOnly)
				src = v.Source
			}
		}
		require.NotEmpty(t, src, "%s: nothing mounted at %s", s.Name, contract.ProtoMount)
		// kind: the projected nova-protos items
		d := k.deployments[s.Name]
		var items map[string]string // path -> content
		for _, v := range d.Spec.Template.Spec.Volumes {
			for _, m := range d.Spec.Template.Spec.Containers[0].VolumeMounts {
				if m.Name == v.Name && m.MountPath == contract.ProtoMount {
					items = map[string]string{}
					for _, src := range v.Projected.Sources {
						cm := k.configMaps[src.ConfigMap.Name]
						require.NotNil(t, cm, src.ConfigMap.Name)
						for _, it := range src.ConfigMap.Items {
							items[it.Path] = cm.Data[it.Key]
						}
					}
				}
			}
		}
		require.NotNil(t, items, "%s: nothing mounted at %s", s.Name, contract.ProtoMount)
		for _, f := range files {
			onDisk, err := os.ReadFile(filepath.Join(src, filepath.FromSlash(f)))
			require.NoError(t, err, "compose: %s", s.Name)
			require.Equal(t, string(onDisk), items[f], "kind: %s sees %s", s.Name, f)
		}
		if api := env[contract.EnvGRPCAPI]; api != "" {
			pkg, svc := api[:strings.LastIndex(api, ".")], api[strings.LastIndex(api, ".")+1:]
			declared := false
			for _, f := range files {
				declared = declared || strings.Contains(items[f], "package "+pkg+";") && strings.Contains(items[f], "service "+svc+" ")
			}
			require.True(t, declared, "%s: %s is declared in none of %v", s.Name, api, files)
		}
	}
}

// dependencyWait is how each target waits for a dependency of each kind:
// compose's depends_on condition and the init container's `novadev wait`
// scheme. A store is only "tcp open" in the cluster because an init container
// cannot see another pod's readiness; the bootstrap Jobs behind every store
// dependency (migrations, redis-cluster-init, ...) do the real readiness work.
var dependencyWait = map[catalog.NodeKind][2]string{
	catalog.KindService:   {types.ServiceConditionHealthy, "grpc"},
	catalog.KindStore:     {types.ServiceConditionHealthy, "tcp"},
	catalog.KindBootstrap: {types.ServiceConditionCompletedSuccessfully, "job"},
}

func TestComposeAndKindRunTheSameGraph(t *testing.T) {
	_, local, proj, k := renderBoth(t)
	g := local.Graph()
	var composeNodes, kindNodes []string
	for _, s := range proj.Services {
		if len(s.Profiles) > 0 {
			continue // not started by `docker compose up` (an unavailable optional store)
		}
		composeNodes = appendNew(composeNodes, s.Labels[state.LabelKind]+"/"+s.Labels[state.LabelNode])
	}
	for n := range k.deployments {
		kindNodes = append(kindNodes, "service/"+n)
	}
	for n := range k.statefulSets {
		kindNodes = append(kindNodes, "store/"+n)
	}
	for n := range k.jobs {
		kindNodes = append(kindNodes, "bootstrap/"+n)
	}
	sort.Strings(composeNodes)
	sort.Strings(kindNodes)
	require.Equal(t, composeNodes, kindNodes, "graph nodes")
	require.Len(t, kindNodes, 16+4+6, "16 services, 4 stores (not neo4j, external; not elasticsearch, unavailable), 6 bootstraps")
	_, inGraph := g.Node("elasticsearch")
	require.True(t, inGraph, "elasticsearch stays a graph node; only what starts differs")

	for _, node := range kindNodes {
		kindOf, name, _ := strings.Cut(node, "/")
		var spec corev1.PodSpec
		switch kindOf {
		case "service":
			spec = k.deployments[name].Spec.Template.Spec
		case "store":
			spec = k.statefulSets[name].Spec.Template.Spec
		default:
			spec = k.jobs[name].Spec.Template.Spec
		}
		// compose: depends_on, by graph node, with its condition
		composeDeps := map[string]string{}
		for _, cs := range byNode(proj, name) {
			for dep, cond := range cs.DependsOn {
				composeDeps[proj.Services[dep].Labels[state.LabelNode]] = cond.Condition
			}
		}
		// kind: the init containers' `novadev wait` targets, by graph node
		kindDeps := map[string]string{}
		for _, ic := range spec.InitContainers {
			if ic.Name == kind.VolumeOwnerContainer {
				continue // prepares the pod's own volume, waits for nothing
			}
			require.Equal(t, "wait", ic.Args[0], ic.Name)
			for _, target := range ic.Args[1:] {
				u, err := url.Parse(target)
				require.NoError(t, err)
				dep := u.Hostname()
				if _, svc, ok := strings.Cut(dep, "."); ok {
					dep = svc // a StatefulSet pod through its headless Service
				}
				require.Equal(t, "wait-for-"+dep, ic.Name)
				kindDeps[dep] = u.Scheme
			}
		}
		for dep, cond := range composeDeps {
			it, ok := g.Node(dep)
			require.True(t, ok, dep)
			if it.Kind == catalog.KindStore && (it.Store.Optional || it.Store.External) {
				continue // nothing waits for it in the cluster; compose does not require it
			}
			require.Contains(t, kindDeps, dep, "%s waits for %s on compose, not on kind", name, dep)
			require.Equal(t, dependencyWait[it.Kind], [2]string{cond, kindDeps[dep]}, "%s waits for %s", name, dep)
		}
		for dep := range kindDeps {
			require.Contains(t, composeDeps, dep, "%s waits for %s on kind, not on compose", name, dep)
		}
		cs := byNode(proj, name)[0]
		kc := spec.Containers[0]
		// dev pulls every image from the local registry (localhost:5005/<name>):
		// the same image, pushed there by the kind target.
		kimg := strings.TrimPrefix(kc.Image, kind.RegistryHost+"/")
		if st := local.Stores[name]; st != nil && st.Pull != "" {
			// images.source auto: compose names the upstream image (up
			// falls back to the offline one per image), kind's dev overlay
			// the offline image (docs/images.md)
			require.Equal(t, st.DockerImage(), cs.Image, name)
			require.Equal(t, st.Image, kimg, "%s: kind runs the offline image", name)
		} else {
			require.Equal(t, cs.Image, kimg, "%s: the same image (kind: after the overlay's images)", name)
		}
		if kindOf != "service" {
			continue
		}
		s := local.Services[name]
		require.Equal(t, composeReadiness(t, s, cs), kindReadiness(t, kc), name)
		var ports []string
		for _, p := range kc.Ports {
			ports = append(ports, fmt.Sprintf("%s=%d", p.Name, p.ContainerPort))
		}
		var want []string
		for _, p := range s.Ports {
			want = append(want, fmt.Sprintf("%s=%d", p.Name, p.Port))
		}
		require.Equal(t, want, ports, name)
	}
}

// renderBoth renders the nova catalog's local environment for compose and
// the kind dev overlay (built with kustomize).
func renderBoth(t *testing.T) (*catalog.Set, *catalog.Catalog, *types.Project, kindSide) {
	t.Helper()
	set, err := catalog.LoadSet("../../envs/nova.yaml")
	require.NoError(t, err)
	local := set.ForKindOverlay(kind.OverlayDev)
	require.NotNil(t, local)
	proj, err := compose.Project(local)
	require.NoError(t, err)
	files, err := kind.Render(set)
	require.NoError(t, err)
	return set, local, proj, buildDev(t, set, files)
}

func byNode(p *types.Project, node string) []types.ServiceConfig {
	var out []types.ServiceConfig
	for _, name := range p.ServiceNames() {
		if s := p.Services[name]; s.Labels[state.LabelNode] == node {
			out = append(out, s)
		}
	}
	return out
}

// portOf is the container port a compose service of store st listens on:
// its published target, or the port in its command line (--port).
func portOf(s types.ServiceConfig, st *catalog.Store) int {
	if i := slices.Index(s.Command, "--port"); i >= 0 {
		n, _ := strconv.Atoi(s.Command[i+1])
		return n
	}
	if len(s.Ports) > 0 {
		return int(s.Ports[0].Target)
	}
	return st.Port
}

func composeEnv(s types.ServiceConfig) map[string]string {
	out := map[string]string{}
	for k, v := range s.Environment {
		if v != nil {
			out[k] = *v
		}
	}
	return out
}

func pick(m map[string]string, names []string) map[string]string {
	out := map[string]string{}
	for _, n := range names {
		out[n] = m[n]
	}
	return out
}

var kubeletRef = regexp.MustCompile(`\$\$|\$\(([A-Za-z_][A-Za-z0-9_]*)\)`)

// kubeletEnv is a container's environment as the kubelet hands it over:
// Secret keys as dummies, $(VAR) of an earlier variable expanded, $$ -> $.
func kubeletEnv(t *testing.T, c corev1.Container) map[string]string {
	t.Helper()
	env := map[string]string{}
	for _, e := range c.Env {
		if e.ValueFrom != nil {
			if ref := e.ValueFrom.SecretKeyRef; ref != nil {
				require.True(t, strings.HasPrefix(ref.Name, contract.CredentialsSecret), "%s: Secret %s", e.Name, ref.Name)
				env[e.Name] = dummy(contract.Credential{Secret: contract.CredentialsSecret, Key: ref.Key})
			}
			continue
		}
		env[e.Name] = kubeletRef.ReplaceAllStringFunc(e.Value, func(ref string) string {
			if ref == "$$" {
				return "$"
			}
			v, ok := env[kubeletRef.FindStringSubmatch(ref)[1]]
			require.True(t, ok, "%s refers to %s, which is not defined before it", e.Name, ref)
			return v
		})
	}
	return env
}

// composeReadiness is what a compose healthcheck checks, as type:port.
func composeReadiness(t *testing.T, s *catalog.Service, cs types.ServiceConfig) string {
	t.Helper()
	require.NotNil(t, cs.HealthCheck, cs.Name)
	test := []string(cs.HealthCheck.Test)
	switch {
	case slices.Equal(test[1:], compose.PlaceholderHealthcheck):
		// the placeholder checks its own grpc.health.v1 on GRPC_PORT
		return "grpc:" + strconv.Itoa(contract.PortOf(s, "grpc"))
	case test[1] == "grpc_health_probe":
		return "grpc:" + strings.TrimPrefix(test[2], "-addr=127.0.0.1:")
	}
	t.Fatalf("%s: unexpected healthcheck %q", cs.Name, test)
	return ""
}

// kindReadiness is what a readinessProbe checks, as type:port.
func kindReadiness(t *testing.T, c corev1.Container) string {
	t.Helper()
	p := c.ReadinessProbe
	require.NotNil(t, p, c.Name)
	require.NotNil(t, p.GRPC, "%s: every Nova service is ready by gRPC health", c.Name)
	require.Nil(t, p.GRPC.Service, "the overall health, as the compose checks ask for")
	return fmt.Sprintf("grpc:%d", p.GRPC.Port)
}

func appendNew(s []string, v string) []string {
	if slices.Contains(s, v) {
		return s
	}
	return append(s, v)
}

// kindSide are the dev overlay's workloads, built by kustomize.
type kindSide struct {
	deployments  map[string]*appsv1.Deployment
	statefulSets map[string]*appsv1.StatefulSet
	jobs         map[string]*batchv1.Job
	services     map[string]*corev1.Service
	configMaps   map[string]*corev1.ConfigMap
}

// buildDev builds kind/overlays/dev with kustomize on an in-memory file
// system (the rendered files and a fake credentials.env) and decodes its
// workloads.
func buildDev(t *testing.T, set *catalog.Set, files map[string][]byte) kindSide {
	t.Helper()
	fs := filesys.MakeFsInMemory()
	for p, data := range files {
		require.NoError(t, fs.MkdirAll(path.Dir("/"+p)))
		require.NoError(t, fs.WriteFile("/"+p, data))
	}
	dev := path.Join("/", kind.Dir, "overlays", "dev")
	creds := kind.CredentialsEnv(set.Base, func(k string) string { return "test-" + strings.ToLower(k) })
	require.NoError(t, fs.WriteFile(path.Join(dev, kind.CredentialsFile), creds))
	m, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(fs, dev)
	require.NoError(t, err)
	out, err := m.AsYaml()
	require.NoError(t, err)
	k := kindSide{deployments: map[string]*appsv1.Deployment{}, statefulSets: map[string]*appsv1.StatefulSet{},
		jobs: map[string]*batchv1.Job{}, services: map[string]*corev1.Service{}, configMaps: map[string]*corev1.ConfigMap{}}
	for _, doc := range bytes.Split(out, []byte("\n---\n")) {
		var head struct {
			Kind     string `json:"kind"`
			Metadata struct {
				Name string `json:"name"`
			} `json:"metadata"`
		}
		require.NoError(t, yaml.Unmarshal(doc, &head))
		var v any
		switch head.Kind {
		case "Deployment":
			d := &appsv1.Deployment{}
			k.deployments[head.Metadata.Name], v = d, d
		case "StatefulSet":
			s := &appsv1.StatefulSet{}
			k.statefulSets[head.Metadata.Name], v = s, s
		case "Job":
			j := &batchv1.Job{}
			k.jobs[head.Metadata.Name], v = j, j
		case "Service":
			s := &corev1.Service{}
			k.services[head.Metadata.Name], v = s, s
		case "ConfigMap":
			c := &corev1.ConfigMap{}
			k.configMaps[head.Metadata.Name], v = c, c
		default:
			continue
		}
		require.NoError(t, yaml.UnmarshalStrict(doc, v), head.Metadata.Name)
	}
	return k
}
