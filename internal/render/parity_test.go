package render_test

import (
	"bytes"
	"fmt"
	"net/url"
	"path"
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

	"github.com/novadev/novadev/internal/bootstrap"
	"github.com/novadev/novadev/internal/catalog"
	"github.com/novadev/novadev/internal/render/compose"
	"github.com/novadev/novadev/internal/render/kind"
)

// Parity: for every node of the nova catalog, the compose rendering (the
// local environment's compose project) and the kind rendering (the dev
// overlay, built with kustomize) agree, aspect by aspect. Each aspect turns
// both sides into a set of strings; a value only one side has fails unless
// a listed difference below (every one of its patterns matching) explains
// it, and a listed difference that no longer occurs fails too: the table is
// kept honest both ways.

// difference is one on-purpose difference between the renderings.
type difference struct {
	aspect string
	nodes  []string // the graph nodes it applies to; nil: any node showing it
	// the values only compose has and only kind has; path.Match patterns
	compose, kind []string
	reason        string
}

var differences = []difference{
	{
		aspect: "env names", compose: nil, kind: []string{"NOVA_*_SVC_PASSWORD"},
		reason: "kind reads the service user's password from the nova-db-credentials Secret into its own variable " +
			"(secretKeyRef) and the kubelet expands $(NOVA_X_SVC_PASSWORD) into DATABASE_URL; compose interpolates " +
			"${NOVA_X_SVC_PASSWORD} from compose/.env straight into DATABASE_URL",
	},
	{
		aspect: "dependency wait", compose: []string{"*: store healthcheck"}, kind: []string{"*: tcp open"},
		reason: "an init container cannot see another pod's readinessProbe, so kind waits until the store's port accepts " +
			"TCP (novadev wait tcp://); compose waits for the store container's healthcheck (service_healthy). The " +
			"bootstrap Jobs behind every store dependency (migrations, redis-cluster-init, ...) do the real readiness work",
	},
	{
		aspect: "store addresses", nodes: []string{"redis"},
		compose: []string{"redis-1:7001", "redis-2:7002", "redis-3:7003"},
		kind:    []string{"redis-0.redis:7001", "redis-1.redis:7001", "redis-2.redis:7001"},
		reason: "compose has no per-pod DNS as a StatefulSet has: each node is its own compose service redis-N " +
			"(numbered from 1) on its own port 700N, the same inside and on the host, so MOVED redirections work from " +
			"the host too; in the cluster the StatefulSet's pods redis-N (from 0) are reached through the headless " +
			"Service as redis-N.redis, all on 7001",
	},
	{
		aspect: "store ports", nodes: []string{"redis"}, compose: []string{"7002", "7003"}, kind: []string{"17001"},
		reason: "compose publishes each node's client port (7001..7003, see store addresses); kind declares one client " +
			"port for every pod, plus the cluster bus 17001 that the NetworkPolicy opens between nodes (compose " +
			"containers reach each other's bus on the network without a declaration)",
	},
	{
		aspect: "store ports", nodes: []string{"clickhouse"}, kind: []string{"9000"},
		reason: "compose lists only ports published on the host (HTTP 8123, what the bootstrap and services use); " +
			"kind declares the native protocol port too, as the staging ClickHouseInstallation exposes it",
	},
	{
		aspect: "bootstrap catalog", compose: []string{"/catalog/nova.yaml (local)"}, kind: []string{"/etc/novadev/catalog/nova.yaml"},
		reason: "compose bind-mounts envs/ at /catalog and names the catalog and environment in NOVADEV_CATALOG and " +
			"NOVADEV_ENV; the Job projects the catalog ConfigMaps at /etc/novadev/catalog and passes --catalog: " +
			"only nova.yaml is there, so novadev loads the bare catalog, and the store addresses come from the " +
			"Job's environment",
	},
	{
		aspect: "bootstrap targets", nodes: []string{"redis-cluster-init"},
		compose: []string{"redis=redis-1:7001,redis-2:7002,redis-3:7003"},
		kind:    []string{"redis=redis-0.redis:7001,redis-1.redis:7001,redis-2.redis:7001"},
		reason:  "the Redis node addresses differ as in store addresses",
	},
	{
		aspect: "bootstrap runs as", compose: []string{"one-shot service, restart no"}, kind: []string{"Job, restartPolicy OnFailure, backoffLimit 6"},
		reason: "compose starts a bootstrap only once its dependencies are healthy and `novadev up` must fail on the " +
			"first failed step; in the cluster a Job is the one-shot unit (the staging guide's kafka-topics, " +
			"migrations, ... Jobs), its init containers only see TCP, and it retries while stores finish starting",
	},
}

// contractPorts are the port names docs/contracts.md gives a variable (<NAME>_PORT).
var contractPorts = []string{"grpc", "metrics"}

func TestComposeAndKindAgree(t *testing.T) {
	set, err := catalog.LoadSet("../../envs/nova.yaml")
	require.NoError(t, err)
	local := set.Envs[kind.EnvDev]
	require.NotNil(t, local)
	proj, err := compose.Project(local)
	require.NoError(t, err)
	files, err := kind.Render(set)
	require.NoError(t, err)
	k := buildDev(t, set, files)
	c := composeSide{proj: proj}

	diffs := &diffTable{t: t, used: make([]bool, len(differences))}
	g := local.Graph()
	var nodes []string
	for _, name := range g.Names() {
		it, _ := g.Node(name)
		switch it.Kind {
		case catalog.KindService:
			nodes = append(nodes, "service/"+name)
			cs := c.one(t, name)
			d := k.deployments[name]
			require.NotNil(t, d, "no Deployment %s", name)
			kc := d.Spec.Template.Spec.Containers[0]
			diffs.check(name, "image", []string{cs.Image}, []string{kc.Image})
			diffs.check(name, "ports", composePorts(cs), kindPorts(kc))
			diffs.check(name, "env names", sortedKeys(cs.Environment), envNames(kc))
			diffs.check(name, "readiness", []string{composeReadiness(t, cs)}, []string{kindReadiness(t, kc)})
			checkDeps(t, diffs, local, name, cs, d.Spec.Template.Spec.InitContainers)
		case catalog.KindStore:
			st := it.Store
			if st.External {
				require.Empty(t, c.of(name), "external store %s runs nowhere", name)
				continue
			}
			nodes = append(nodes, "store/"+name)
			sts := k.statefulSets[name]
			require.NotNil(t, sts, "no StatefulSet %s", name)
			containers := c.of(name)
			require.NotEmpty(t, containers, name)
			var images, ports, addrs []string
			for _, cs := range containers {
				images = appendNew(images, cs.Image)
				for _, p := range cs.Ports {
					ports = appendNew(ports, strconv.Itoa(int(p.Target)))
				}
				addrs = append(addrs, fmt.Sprintf("%s:%d", cs.Name, cs.Ports[0].Target))
			}
			kc := sts.Spec.Template.Spec.Containers[0]
			var kports []string
			for _, p := range kc.Ports {
				kports = append(kports, strconv.Itoa(int(p.ContainerPort)))
			}
			diffs.check(name, "store image", images, []string{kc.Image})
			diffs.check(name, "store ports", ports, kports)
			diffs.check(name, "store addresses", addrs, k.storeAddrs(t, sts))
			diffs.check(name, "dependencies", c.deps(name), waitNodes(t, local, sts.Spec.Template.Spec.InitContainers))
		case catalog.KindBootstrap:
			nodes = append(nodes, "bootstrap/"+name)
			cs := c.one(t, name)
			job := k.jobs[name]
			require.NotNil(t, job, "no Job %s", name)
			kc := job.Spec.Template.Spec.Containers[0]
			require.GreaterOrEqual(t, len(kc.Args), 4, name)
			diffs.check(name, "bootstrap command", []string{strings.Join(cs.Command, " ")}, []string{strings.Join(kc.Args[:2], " ")})
			require.Equal(t, []string{"bootstrap", it.Bootstrap.Step}, []string(cs.Command), name)
			require.Equal(t, "--catalog", kc.Args[2], name)
			diffs.check(name, "bootstrap catalog",
				[]string{fmt.Sprintf("%s (%s)", value(cs.Environment, "NOVADEV_CATALOG"), value(cs.Environment, "NOVADEV_ENV"))},
				[]string{kc.Args[3]})
			diffs.check(name, "bootstrap targets", composeTargets(t, cs), kindTargets(t, kc))
			diffs.check(name, "bootstrap runs as", []string{"one-shot service, restart " + cs.Restart},
				[]string{fmt.Sprintf("Job, restartPolicy %s, backoffLimit %d", job.Spec.Template.Spec.RestartPolicy, *job.Spec.BackoffLimit)})
			checkDeps(t, diffs, local, name, cs, job.Spec.Template.Spec.InitContainers)
		}
	}
	// the same graph nodes run on both sides, and nothing else
	sort.Strings(nodes)
	require.Equal(t, nodes, c.nodes(), "compose services by node")
	require.Equal(t, nodes, k.nodes(), "kind workloads by node")
	require.Len(t, nodes, 16+4+6, "16 services, 4 stores, 6 bootstraps")
	for i, used := range diffs.used {
		require.True(t, used, "listed difference %d (%s %v) no longer occurs: remove it from the table", i, differences[i].aspect, differences[i].nodes)
	}
}

// diffTable checks computed differences against differences.
type diffTable struct {
	t    *testing.T
	used []bool
}

func (d *diffTable) check(node, aspect string, composeVals, kindVals []string) {
	d.t.Helper()
	onlyC, onlyK := minus(composeVals, kindVals), minus(kindVals, composeVals)
	for i, diff := range differences {
		if diff.aspect != aspect || (diff.nodes != nil && !slices.Contains(diff.nodes, node)) {
			continue
		}
		// an entry applies when each of its patterns matches a value
		if restC, ok := explain(diff.compose, onlyC); ok {
			if restK, ok := explain(diff.kind, onlyK); ok {
				onlyC, onlyK, d.used[i] = restC, restK, true
			}
		}
	}
	if len(onlyC) > 0 || len(onlyK) > 0 {
		d.t.Errorf("%s: %s differ and no listed difference explains it:\n  only compose: %q\n  only kind:    %q", node, aspect, onlyC, onlyK)
	}
}

// explain reports whether every pattern matches some value, and returns the
// values no pattern matches.
func explain(patterns, values []string) (rest []string, ok bool) {
	for _, p := range patterns {
		hit := false
		for _, v := range values {
			if m, _ := path.Match(p, v); m {
				hit = true
			}
		}
		if !hit {
			return values, false
		}
	}
	for _, v := range values {
		matched := false
		for _, p := range patterns {
			if m, _ := path.Match(p, v); m {
				matched = true
			}
		}
		if !matched {
			rest = append(rest, v)
		}
	}
	return rest, true
}

func minus(a, b []string) []string {
	var out []string
	for _, v := range a {
		if !slices.Contains(b, v) {
			out = append(out, v)
		}
	}
	sort.Strings(out)
	return out
}

func appendNew(s []string, v string) []string {
	if slices.Contains(s, v) {
		return s
	}
	return append(s, v)
}

// composeSide indexes the compose project by graph node (its labels).
type composeSide struct{ proj *types.Project }

func (c composeSide) of(node string) []types.ServiceConfig {
	var out []types.ServiceConfig
	for _, name := range sortedKeys(c.proj.Services) {
		if s := c.proj.Services[name]; s.Labels[compose.LabelNode] == node {
			out = append(out, s)
		}
	}
	return out
}

func (c composeSide) one(t *testing.T, node string) types.ServiceConfig {
	t.Helper()
	out := c.of(node)
	require.Len(t, out, 1, "compose services of %s", node)
	return out[0]
}

func (c composeSide) nodes() []string {
	var out []string
	for _, s := range c.proj.Services {
		out = appendNew(out, s.Labels[compose.LabelKind]+"/"+s.Labels[compose.LabelNode])
	}
	sort.Strings(out)
	return out
}

// deps are the graph nodes a node's compose service(s) depend on.
func (c composeSide) deps(node string) []string {
	var out []string
	for _, s := range c.of(node) {
		for dep := range s.DependsOn {
			out = appendNew(out, c.proj.Services[dep].Labels[compose.LabelNode])
		}
	}
	sort.Strings(out)
	return out
}

// kindSide are the dev overlay's workloads, built by kustomize.
type kindSide struct {
	deployments  map[string]*appsv1.Deployment
	statefulSets map[string]*appsv1.StatefulSet
	jobs         map[string]*batchv1.Job
	services     map[string]*corev1.Service
}

func (k kindSide) nodes() []string {
	var out []string
	for n := range k.deployments {
		out = append(out, "service/"+n)
	}
	for n := range k.statefulSets {
		out = append(out, "store/"+n)
	}
	for n := range k.jobs {
		out = append(out, "bootstrap/"+n)
	}
	sort.Strings(out)
	return out
}

// storeAddrs are host:port of every pod of a StatefulSet as a client reaches
// it: the Service's name for one pod, <pod>.<governing service> for several.
func (k kindSide) storeAddrs(t *testing.T, sts *appsv1.StatefulSet) []string {
	t.Helper()
	svc := k.services[sts.Spec.ServiceName]
	require.NotNil(t, svc, "no governing Service %s", sts.Spec.ServiceName)
	port := svc.Spec.Ports[0].Port
	if *sts.Spec.Replicas == 1 {
		return []string{fmt.Sprintf("%s:%d", svc.Name, port)}
	}
	var out []string
	for i := range int(*sts.Spec.Replicas) {
		out = append(out, fmt.Sprintf("%s-%d.%s:%d", sts.Name, i, svc.Name, port))
	}
	return out
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
		jobs: map[string]*batchv1.Job{}, services: map[string]*corev1.Service{}}
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
		default:
			continue
		}
		require.NoError(t, yaml.UnmarshalStrict(doc, v), head.Metadata.Name)
	}
	return k
}

// composePorts are the container ports compose publishes, and the contract's
// named ones as the service's <NAME>_PORT variables give them.
func composePorts(s types.ServiceConfig) []string {
	var out []string
	for _, p := range s.Ports {
		out = append(out, strconv.Itoa(int(p.Target)))
	}
	for _, name := range contractPorts {
		if v := value(s.Environment, strings.ToUpper(name)+"_PORT"); v != "" {
			out = append(out, name+"="+v)
		}
	}
	return out
}

// kindPorts are the container's ports, and the contract's named ones by name.
func kindPorts(c corev1.Container) []string {
	var out []string
	for _, p := range c.Ports {
		out = append(out, strconv.Itoa(int(p.ContainerPort)))
		if slices.Contains(contractPorts, p.Name) {
			out = append(out, fmt.Sprintf("%s=%d", p.Name, p.ContainerPort))
		}
	}
	return out
}

func envNames(c corev1.Container) []string {
	var out []string
	for _, e := range c.Env {
		out = append(out, e.Name)
	}
	return out
}

func value(m types.MappingWithEquals, k string) string {
	if v := m[k]; v != nil {
		return *v
	}
	return ""
}

// composeReadiness is what a compose healthcheck checks, as type:port.
func composeReadiness(t *testing.T, s types.ServiceConfig) string {
	t.Helper()
	require.NotNil(t, s.HealthCheck, s.Name)
	test := []string(s.HealthCheck.Test)
	require.Equal(t, "CMD", test[0], s.Name)
	switch {
	case slices.Equal(test[1:], compose.PlaceholderHealthcheck):
		// the placeholder checks its own grpc.health.v1 on GRPC_PORT
		return "grpc:" + value(s.Environment, "GRPC_PORT")
	case test[1] == "grpc_health_probe" && len(test) == 3 && strings.HasPrefix(test[2], "-addr=127.0.0.1:"):
		return "grpc:" + strings.TrimPrefix(test[2], "-addr=127.0.0.1:")
	case test[1] == "wget":
		u, err := url.Parse(test[len(test)-1])
		require.NoError(t, err)
		return "http:" + u.Port() + u.Path
	case test[1] == "bash" && strings.HasPrefix(test[3], "exec 3<>/dev/tcp/127.0.0.1/"):
		return "tcp:" + strings.TrimPrefix(test[3], "exec 3<>/dev/tcp/127.0.0.1/")
	}
	t.Fatalf("%s: unknown healthcheck %q", s.Name, test)
	return ""
}

// kindReadiness is what a readinessProbe checks, as type:port.
func kindReadiness(t *testing.T, c corev1.Container) string {
	t.Helper()
	p := c.ReadinessProbe
	require.NotNil(t, p, c.Name)
	switch {
	case p.GRPC != nil:
		require.Nil(t, p.GRPC.Service, "the overall health, as the compose checks ask for")
		return fmt.Sprintf("grpc:%d", p.GRPC.Port)
	case p.HTTPGet != nil:
		return fmt.Sprintf("http:%s%s", p.HTTPGet.Port.String(), p.HTTPGet.Path)
	case p.TCPSocket != nil:
		return "tcp:" + p.TCPSocket.Port.String()
	}
	t.Fatalf("%s: unknown probe", c.Name)
	return ""
}

// checkDeps compares what a node waits for: the graph nodes (strictly) and
// how each is waited for.
func checkDeps(t *testing.T, diffs *diffTable, c *catalog.Catalog, node string, cs types.ServiceConfig, inits []corev1.Container) {
	t.Helper()
	var composeNodes, composeHow []string
	g := c.Graph()
	require.Equal(t, node, cs.Labels[compose.LabelNode])
	for _, dep := range sortedKeys(cs.DependsOn) {
		cond := cs.DependsOn[dep]
		depNode := nodeOfCompose(t, g, dep)
		composeNodes = appendNew(composeNodes, depNode)
		it, _ := g.Node(depNode)
		how := map[string]string{
			types.ServiceConditionHealthy:               "healthy",
			types.ServiceConditionCompletedSuccessfully: "completed",
			types.ServiceConditionStarted:               "started",
		}[cond.Condition]
		switch {
		case it.Kind == catalog.KindService && how == "healthy":
			how = "grpc health SERVING" // its healthcheck: see the readiness aspect
		case it.Kind == catalog.KindStore && how == "healthy":
			how = "store healthcheck"
		case it.Kind == catalog.KindBootstrap && how == "completed":
			how = "completed"
		}
		composeHow = appendNew(composeHow, depNode+": "+how)
	}
	kindNodes := waitNodes(t, c, inits)
	var kindHow []string
	for _, ic := range inits {
		for _, target := range ic.Args[1:] {
			u, err := url.Parse(target)
			require.NoError(t, err)
			depNode := targetNode(u)
			how := map[string]string{"grpc": "grpc health SERVING", "tcp": "tcp open", "job": "completed"}[u.Scheme]
			it, _ := g.Node(depNode)
			switch it.Kind {
			case catalog.KindService:
				require.Equal(t, "grpc", u.Scheme, target)
				require.Equal(t, strconv.Itoa(portNamed(it.Service, "grpc")), u.Port(), target)
			case catalog.KindStore:
				require.Equal(t, "tcp", u.Scheme, target)
				require.Equal(t, strconv.Itoa(it.Store.Port), u.Port(), target)
			case catalog.KindBootstrap:
				require.Equal(t, "job", u.Scheme, target)
			}
			kindHow = appendNew(kindHow, depNode+": "+how)
		}
	}
	diffs.check(node, "dependencies", composeNodes, kindNodes)
	diffs.check(node, "dependency wait", composeHow, kindHow)
}

// nodeOfCompose maps a compose service name to its graph node.
func nodeOfCompose(t *testing.T, g *catalog.Graph, name string) string {
	t.Helper()
	if _, ok := g.Node(name); ok {
		return name
	}
	// a Redis Cluster node: <store>-<n>
	i := strings.LastIndex(name, "-")
	require.Positive(t, i, name)
	_, err := strconv.Atoi(name[i+1:])
	require.NoError(t, err, name)
	return name[:i]
}

// waitNodes are the graph nodes the init containers wait for.
func waitNodes(t *testing.T, c *catalog.Catalog, inits []corev1.Container) []string {
	t.Helper()
	var out []string
	for _, ic := range inits {
		require.Equal(t, "wait", ic.Args[0], ic.Name)
		for _, target := range ic.Args[1:] {
			u, err := url.Parse(target)
			require.NoError(t, err, target)
			n := targetNode(u)
			_, ok := c.Graph().Node(n)
			require.True(t, ok, "%s waits for %s, which is no graph node", ic.Name, target)
			require.Equal(t, "wait-for-"+n, ic.Name)
			out = appendNew(out, n)
		}
	}
	sort.Strings(out)
	return out
}

// targetNode is the graph node of a `novadev wait` target: grpc://svc:port,
// tcp://store:port, tcp://<pod>.<store>:port, job://bootstrap.
func targetNode(u *url.URL) string {
	h := u.Hostname()
	if _, svc, ok := strings.Cut(h, "."); ok {
		return svc // a StatefulSet pod through its headless Service
	}
	return h
}

func portNamed(s *catalog.Service, name string) int {
	for _, p := range s.Ports {
		if p.Name == name {
			return p.Port
		}
	}
	return 0
}

// composeTargets are the store addresses a compose bootstrap container's
// environment gives `novadev bootstrap` (bootstrap.TargetsFromEnv).
func composeTargets(t *testing.T, s types.ServiceConfig) []string {
	t.Helper()
	tg, err := bootstrap.TargetsFromEnv(func(k string) string { return value(s.Environment, k) })
	require.NoError(t, err)
	return targetStrings(tg)
}

// kindTargets is composeTargets for a Job's container (Secret values are
// dummies; $(VAR) references are expanded as the kubelet does).
func kindTargets(t *testing.T, c corev1.Container) []string {
	t.Helper()
	env := map[string]string{}
	for _, e := range c.Env {
		if e.ValueFrom != nil {
			env[e.Name] = "dummy"
			continue
		}
		v := e.Value
		for name, val := range env {
			v = strings.ReplaceAll(v, "$("+name+")", val)
		}
		env[e.Name] = v
	}
	tg, err := bootstrap.TargetsFromEnv(func(k string) string { return env[k] })
	require.NoError(t, err)
	return targetStrings(tg)
}

func targetStrings(tg bootstrap.Targets) []string {
	var out []string
	add := func(k string, v string) {
		if v != "" {
			out = append(out, k+"="+v)
		}
	}
	add("postgres", tg.Postgres)
	add("redis", strings.Join(tg.RedisNodes, ","))
	add("kafka", strings.Join(tg.KafkaBrokers, ","))
	add("clickhouse", tg.ClickHouseURL)
	add("migrations", tg.MigrationsDir)
	add("protos", tg.ProtosDir)
	add("baseline", tg.Baseline)
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
