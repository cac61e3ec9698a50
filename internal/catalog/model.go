package catalog

import (
	"fmt"
	"slices"
	"strings"

	"github.com/novadev/novadev/internal/graph"
)

// NodeKind says what a graph node is.
type NodeKind string

// Node kinds of the dependency graph.
const (
	KindService   NodeKind = "service"
	KindStore     NodeKind = "store"
	KindBootstrap NodeKind = "bootstrap"
)

// Item is one node of the dependency graph.
type Item struct {
	Name      string
	Kind      NodeKind
	Service   *Service   // set when Kind is service
	Store     *Store     // set when Kind is store
	Bootstrap *Bootstrap // set when Kind is bootstrap
	// Unavailable, on an optional store, says why this environment has
	// no image for it (Catalog.Unavailable): nothing runs it.
	Unavailable string
	// Degraded, on a service, lists the unavailable stores it uses: it
	// starts without them (Catalog.Degradations).
	Degraded []Degradation
}

// Graph is the dependency graph of the active environment.
type Graph = graph.Graph[*Item]

// Active reports whether a service or store is in the environment: it names
// no profile, or one of the environment's profiles.
func (c *Catalog) Active(profiles []string) bool {
	if len(profiles) == 0 {
		return true
	}
	for _, p := range profiles {
		if slices.Contains(c.Env.Profiles, p) {
			return true
		}
	}
	return false
}

// ActiveServices returns the services this environment runs, sorted.
func (c *Catalog) ActiveServices() []*Service {
	var out []*Service
	for _, n := range c.ServiceNames() {
		if s := c.Services[n]; c.Active(s.Profiles) {
			out = append(out, s)
		}
	}
	return out
}

// ActiveStores returns the stores this environment references, sorted
// (external ones included: they are nodes, not containers).
func (c *Catalog) ActiveStores() []*Store {
	var out []*Store
	for _, n := range c.StoreNames() {
		if st := c.Stores[n]; c.Active(st.Profiles) {
			out = append(out, st)
		}
	}
	return out
}

// StoresOfKind returns the active stores of one kind, sorted.
func (c *Catalog) StoresOfKind(kind string) []*Store {
	var out []*Store
	for _, st := range c.ActiveStores() {
		if st.Kind == kind {
			out = append(out, st)
		}
	}
	return out
}

// StoreUse is a store a service talks to, and why.
type StoreUse struct {
	Store *Store
	Name  Name // where the use was written
}

// UsedStores returns the stores a service talks to: its database's
// PostgreSQL, Redis, Kafka, ClickHouse, Neo4j and Elasticsearch uses, and
// stores named in dependsOn. Sorted by store name, each once.
func (c *Catalog) UsedStores(s *Service) []StoreUse {
	seen := map[string]bool{}
	var out []StoreUse
	addKind := func(kind string, at Pos) {
		for _, st := range c.StoresOfKind(kind) {
			if !seen[st.Name] {
				seen[st.Name] = true
				out = append(out, StoreUse{st, Name{st.Name, at}})
			}
		}
	}
	if s.Database != nil {
		addKind(StorePostgres, s.PosOf("database"))
	}
	if s.Uses.Redis {
		addKind(StoreRedisCluster, s.Uses.PosOf("redis"))
	}
	if s.Uses.Kafka != nil {
		addKind(StoreKafka, s.Uses.PosOf("kafka"))
	}
	if s.Uses.ClickHouse != nil {
		addKind(StoreClickHouse, s.Uses.PosOf("clickhouse"))
	}
	if s.Uses.Neo4j {
		addKind(StoreNeo4j, s.Uses.PosOf("neo4j"))
	}
	if s.Uses.Elasticsearch {
		addKind(StoreElasticsearch, s.Uses.PosOf("elasticsearch"))
	}
	for _, d := range s.DependsOn {
		if st, ok := c.Stores[d.Value]; ok && c.Active(st.Profiles) && !seen[st.Name] {
			seen[st.Name] = true
			out = append(out, StoreUse{st, d})
		}
	}
	slices.SortFunc(out, func(a, b StoreUse) int { return strings.Compare(a.Store.Name, b.Store.Name) })
	return out
}

// ServiceDeps returns the services s depends on, sorted.
func (c *Catalog) ServiceDeps(s *Service) []*Service {
	var out []*Service
	for _, d := range s.DependsOn {
		if dep, ok := c.Services[d.Value]; ok {
			out = append(out, dep)
		}
	}
	slices.SortFunc(out, func(a, b *Service) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// FinalBootstraps returns the bootstraps of a store that no other bootstrap
// of the same store needs: once they are done, the store is ready for
// services (for PostgreSQL: migrations, which needs postgres-init).
func (c *Catalog) FinalBootstraps(store string) []*Bootstrap {
	var mine []*Bootstrap
	for _, b := range c.Bootstraps {
		if b.Store.Value == store {
			mine = append(mine, b)
		}
	}
	var out []*Bootstrap
	for _, b := range mine {
		needed := false
		for _, o := range mine {
			for _, n := range o.Needs {
				if n.Value == b.Name {
					needed = true
				}
			}
		}
		if !needed {
			out = append(out, b)
		}
	}
	return out
}

// BootstrapsOfStep returns the bootstraps running one step.
func (c *Catalog) BootstrapsOfStep(step string) []*Bootstrap {
	var out []*Bootstrap
	for _, b := range c.Bootstraps {
		if b.Step == step {
			out = append(out, b)
		}
	}
	return out
}

// edge is a graph edge with the place that caused it, for cycle reports.
type edge struct {
	from, to string
	at       Pos
	field    string
}

func (c *Catalog) edges() []edge {
	var out []edge
	for _, s := range c.ActiveServices() {
		for _, d := range s.DependsOn {
			if dep, ok := c.Services[d.Value]; ok && c.Active(dep.Profiles) {
				out = append(out, edge{s.Name, d.Value, d.At, "services." + s.Name + ".dependsOn"})
			}
		}
		for _, u := range c.UsedStores(s) {
			out = append(out, edge{s.Name, u.Store.Name, u.Name.At, "services." + s.Name})
			for _, b := range c.FinalBootstraps(u.Store.Name) {
				out = append(out, edge{s.Name, b.Name, u.Name.At, "services." + s.Name})
			}
		}
		if len(s.Protos) > 0 {
			for _, b := range c.BootstrapsOfStep(StepProtoValidate) {
				out = append(out, edge{s.Name, b.Name, s.PosOf("protos"), "services." + s.Name + ".protos"})
			}
		}
	}
	for _, b := range c.Bootstraps {
		if st, ok := c.Stores[b.Store.Value]; ok && c.Active(st.Profiles) {
			out = append(out, edge{b.Name, st.Name, b.Store.At, "bootstraps." + b.Name + ".store"})
		}
		for _, n := range b.Needs {
			out = append(out, edge{b.Name, n.Value, n.At, "bootstraps." + b.Name + ".needs"})
		}
	}
	return out
}

// Graph returns the dependency graph of the active environment: services,
// stores and bootstraps, with an edge from each node to what it needs. It is
// built once per loaded catalog and shared: do not modify it (Subgraph
// returns a new one).
func (c *Catalog) Graph() *Graph {
	c.graphOnce.Do(func() {
		if c.graph == nil {
			c.graph, _ = c.buildGraph(c.edges())
		}
	})
	return c.graph
}

func (c *Catalog) buildGraph(edges []edge) (*Graph, []edge) {
	g := graph.New[*Item]()
	for _, s := range c.ActiveServices() {
		g.Add(s.Name, &Item{Name: s.Name, Kind: KindService, Service: s, Degraded: c.Degradations(s)})
	}
	for _, st := range c.ActiveStores() {
		g.Add(st.Name, &Item{Name: st.Name, Kind: KindStore, Store: st, Unavailable: c.Unavailable(st.Name)})
	}
	for _, b := range c.Bootstraps {
		if st, ok := c.Stores[b.Store.Value]; ok && !c.Active(st.Profiles) {
			continue
		}
		g.Add(b.Name, &Item{Name: b.Name, Kind: KindBootstrap, Bootstrap: b})
	}
	var skipped []edge
	for _, e := range edges {
		if err := g.Connect(e.from, e.to); err != nil {
			skipped = append(skipped, e)
		}
	}
	return g, skipped
}

func validateGraph(c *Catalog, p *problems) {
	edges := c.edges()
	g, _ := c.buildGraph(edges)
	c.graph = g // validation built it from the final model: keep it
	// a service needing an inactive, non-optional store cannot run
	for _, s := range c.ActiveServices() {
		for _, d := range s.DependsOn {
			if dep, ok := c.Services[d.Value]; ok && !c.Active(dep.Profiles) {
				p.add(d.At, "services."+s.Name+".dependsOn", fmt.Sprintf("enable profile %s in the environment", strings.Join(dep.Profiles, " or ")),
					"%s depends on %s, which is not in this environment's profiles", s.Name, dep.Name)
			}
		}
	}
	for _, cyc := range g.Cycles() {
		// point at where the cycle's first edge was written
		for _, e := range edges {
			if e.from == cyc.Path[0] && e.to == cyc.Path[1] {
				p.add(e.at, e.field, "remove one of these dependencies", "%v", cyc)
				break
			}
		}
	}
}
