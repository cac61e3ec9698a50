package compose

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/compose-spec/compose-go/v2/types"

	"github.com/novadev/novadev/internal/catalog"
	"github.com/novadev/novadev/internal/contract"
	"github.com/novadev/novadev/internal/state"
)

// Ownership labels on every container, volume and network: state is
// rediscovered from them (docs/compose.md). The keys are declared in
// internal/state with every other label.
const (
	LabelProject = state.LabelEnvProject // the environment's project, e.g. nova-local
	LabelEnv     = state.LabelEnv        // the environment's name, e.g. local
	LabelNode    = state.LabelNode       // the catalog graph node, e.g. redis for redis-2
	LabelKind    = state.LabelKind       // service, store or bootstrap
)

// BootstrapImage runs `novadev bootstrap <step>` (docs/contracts.md).
const BootstrapImage = contract.ToolImage

// CatalogMount is where bootstrap containers see the catalog folder
// (read-only): the catalog, its environments, migrations and protos.
const CatalogMount = contract.ComposeCatalogMount

// NetworkKey is the compose key of the one network; its name is the project.
const NetworkKey = "default"

// Health check timing. Engine 20.10 (CI) refuses start_interval, so one
// interval serves both start-up and steady state: 2s keeps a 23-container
// stack's start-up near the measured 1s figure (each dependency level waits
// half an interval on average) at about half its idle CPU cost. A generous
// timeout and retries keep `docker compose up --wait` from calling a slow
// but healthy container unhealthy on a loaded 2-core machine (measured: 6
// of 10 runs failed with 2s and 3 retries; docs/benchmarks.md).
const (
	healthInterval = 2 * time.Second
	healthTimeout  = 5 * time.Second
	healthRetries  = 10
	storeStart     = 60 * time.Second  // start_period of stores: failures before it do not count
	serviceStart   = 120 * time.Second // when the catalog gives no readiness timeout
)

// Stop grace periods: stores flush to their volumes, services and
// bootstraps only need to close connections.
const (
	storeGrace     = 30 * time.Second
	serviceGrace   = 10 * time.Second
	bootstrapGrace = 10 * time.Second
)

// loopback is where every published port is bound: nothing is reachable from
// other machines.
const loopback = "127.0.0.1"

// MissingCredential is the message docker compose prints, and refuses to
// start with, when a credential is not in compose/.env: what creates it.
const MissingCredential = "run novadev render compose or novadev up to create it in compose/.env"

// secretRef is how a credential appears in the file: docker compose fills it
// from compose/.env (its key is the variable there) and refuses to start
// with MissingCredential when it is missing. The secret's name does not
// matter here: compose/.env is the one secret on Docker.
func secretRef(cr contract.Credential) string {
	return "${" + cr.Key + ":?" + MissingCredential + "}"
}

// escape makes literal text survive compose interpolation.
func escape(v string) string { return strings.ReplaceAll(v, "$", "$$") }

// value writes a contract value in compose syntax.
func value(v contract.Value) string { return v.Render(escape, secretRef) }

// environment is a contract environment as a compose mapping.
func environment(e contract.Env) types.MappingWithEquals {
	if len(e) == 0 {
		return nil
	}
	out := types.MappingWithEquals{}
	for _, v := range e {
		s := value(v.Value)
		out[v.Name] = &s
	}
	return out
}

// Project builds the compose project of one environment (c.Env): every
// started store (a Redis Cluster as one service per node), every bootstrap as
// a one-shot service and every active service, on one network named after
// the project. External stores are not services; optional stores keep their
// catalog profiles. Bind-mount sources are absolute (WorkingDir is the
// compose folder next to the catalog's folder); Marshal makes them relative.
func Project(c *catalog.Catalog) (*types.Project, error) {
	b := &builder{c: c, g: c.Graph(), p: &types.Project{
		Name:     c.Env.Project,
		Services: types.Services{},
		Networks: types.Networks{},
		Volumes:  types.Volumes{},
	}}
	abs, err := filepath.Abs(c.File)
	if err != nil {
		return nil, err
	}
	b.catalogDir = filepath.Dir(abs)
	b.p.WorkingDir = filepath.Join(filepath.Dir(b.catalogDir), Dir)
	b.p.Networks[NetworkKey] = types.NetworkConfig{Name: c.Env.Project, Labels: b.labels("", "")}
	for _, st := range c.ActiveStores() {
		if err := b.store(st); err != nil {
			return nil, err
		}
	}
	for _, bs := range c.Bootstraps {
		if _, ok := b.g.Node(bs.Name); ok {
			if err := b.bootstrap(bs); err != nil {
				return nil, err
			}
		}
	}
	for _, s := range c.ActiveServices() {
		if err := b.service(s); err != nil {
			return nil, err
		}
	}
	return b.p, nil
}

type builder struct {
	c          *catalog.Catalog
	g          *catalog.Graph
	p          *types.Project
	catalogDir string
}

func (b *builder) labels(node string, kind catalog.NodeKind) types.Labels {
	l := types.Labels{LabelProject: b.c.Env.Project, LabelEnv: b.c.Env.Metadata.Name}
	if node != "" {
		l[LabelNode] = node
		l[LabelKind] = string(kind)
	}
	return l
}

func (b *builder) add(s types.ServiceConfig) error {
	if _, dup := b.p.Services[s.Name]; dup {
		return fmt.Errorf("two compose services would be named %q (a Redis Cluster node is <store>-<n>): rename one in the catalog", s.Name)
	}
	s.Networks = map[string]*types.ServiceNetworkConfig{NetworkKey: nil}
	b.p.Services[s.Name] = s
	return nil
}

func (b *builder) volume(key string) {
	b.p.Volumes[key] = types.VolumeConfig{Name: b.c.Env.Project + "_" + key, Labels: b.labels("", "")}
}

// redisNodes returns the compose service names and in-network addresses of a
// Redis Cluster's nodes (contract.Endpoints: <store>-1 ... <store>-N on ports
// port ... port+N-1).
func redisNodes(st *catalog.Store) (names, addrs []string) {
	for _, e := range contract.Endpoints(contract.Compose, st) {
		names = append(names, e.Name)
		addrs = append(addrs, e.Addr())
	}
	return names, addrs
}

// started reports whether a store runs as compose service(s).
func started(st *catalog.Store) bool { return !st.External }

// containers returns the compose services a graph node stands for (none for
// an external store).
func (b *builder) containers(name string) []string {
	it, ok := b.g.Node(name)
	if !ok {
		return nil
	}
	if it.Kind == catalog.KindStore {
		if !started(it.Store) {
			return nil
		}
		if it.Store.Kind == catalog.StoreRedisCluster {
			names, _ := redisNodes(it.Store)
			return names
		}
	}
	return []string{name}
}

// dependsOn turns the graph edges out of node into compose conditions: a
// bootstrap must have completed, a store or service must be healthy. An
// optional store is not required: the dependent starts without it.
func (b *builder) dependsOn(node string) types.DependsOnConfig {
	out := types.DependsOnConfig{}
	for _, need := range b.g.Needs(node) {
		it, _ := b.g.Node(need)
		dep := types.ServiceDependency{Condition: types.ServiceConditionHealthy, Required: true}
		switch it.Kind {
		case catalog.KindBootstrap:
			dep.Condition = types.ServiceConditionCompletedSuccessfully
			if st := b.c.Stores[it.Bootstrap.Store.Value]; st != nil && st.Optional {
				dep.Required = false
			}
		case catalog.KindStore:
			dep.Required = !it.Store.Optional
			if !hasHealthcheck(it.Store) {
				dep.Condition = types.ServiceConditionStarted
			}
		}
		for _, name := range b.containers(need) {
			out[name] = dep
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

func duration(d time.Duration) *types.Duration {
	v := types.Duration(d)
	return &v
}

func healthcheck(test []string, start time.Duration) *types.HealthCheckConfig {
	retries := uint64(healthRetries)
	return &types.HealthCheckConfig{
		Test:        append([]string{"CMD"}, test...),
		Interval:    duration(healthInterval),
		Timeout:     duration(healthTimeout),
		Retries:     &retries,
		StartPeriod: duration(start),
	}
}

func port(container, host int) types.ServicePortConfig {
	return types.ServicePortConfig{Target: uint32(container), Published: strconv.Itoa(host), HostIP: loopback, Protocol: "tcp"}
}

// resources maps catalog requests and limits onto deploy.resources, which
// docker compose applies to plain containers (no swarm needed): limits as
// memory and NanoCPUs, the memory request as a soft reservation. The CPU
// request is left out: outside swarm compose ignores CPU reservations.
func resources(r catalog.Resources) (*types.DeployConfig, error) {
	lim, err := resource(r.Limits)
	if err != nil {
		return nil, err
	}
	res, err := resource(catalog.Quantities{Memory: r.Requests.Memory})
	if err != nil {
		return nil, err
	}
	if lim == nil && res == nil {
		return nil, nil
	}
	return &types.DeployConfig{Resources: types.Resources{Limits: lim, Reservations: res}}, nil
}

func resource(q catalog.Quantities) (*types.Resource, error) {
	if q.CPU == "" && q.Memory == "" {
		return nil, nil
	}
	r := &types.Resource{}
	if q.CPU != "" {
		cpu, err := parseCPU(q.CPU)
		if err != nil {
			return nil, err
		}
		r.NanoCPUs = types.NanoCPUs(cpu)
	}
	if q.Memory != "" {
		mem, err := parseMemory(q.Memory)
		if err != nil {
			return nil, err
		}
		r.MemoryBytes = types.UnitBytes(mem)
	}
	return r, nil
}

// parseCPU reads a Kubernetes CPU quantity (250m, 0.5, 1) as cores.
func parseCPU(v string) (float64, error) {
	if m, ok := strings.CutSuffix(v, "m"); ok {
		n, err := strconv.ParseFloat(m, 64)
		if err != nil {
			return 0, fmt.Errorf("cpu %q: %w", v, err)
		}
		return n / 1000, nil
	}
	n, err := strconv.ParseFloat(v, 64)
	if err != nil {
		return 0, fmt.Errorf("cpu %q: %w", v, err)
	}
	return n, nil
}

// parseMemory reads a Kubernetes memory quantity (256Mi, 1Gi, 1G, 1000) as bytes.
func parseMemory(v string) (int64, error) {
	units := []struct {
		suffix string
		bytes  float64
	}{{"Ki", 1 << 10}, {"Mi", 1 << 20}, {"Gi", 1 << 30}, {"Ti", 1 << 40}, {"k", 1e3}, {"M", 1e6}, {"G", 1e9}, {"T", 1e12}}
	num, mult := v, 1.0
	for _, u := range units {
		if n, ok := strings.CutSuffix(v, u.suffix); ok {
			num, mult = n, u.bytes
			break
		}
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil {
		return 0, fmt.Errorf("memory %q: %w", v, err)
	}
	return int64(f * mult), nil
}
