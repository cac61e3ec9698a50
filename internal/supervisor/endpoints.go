package supervisor

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/novadev/novadev/internal/backend"
	"github.com/novadev/novadev/internal/bootstrap"
	"github.com/novadev/novadev/internal/catalog"
	"github.com/novadev/novadev/internal/contract"
	"github.com/novadev/novadev/internal/probe"
)

// Default readiness timeouts when the catalog gives none.
const (
	StoreTimeout   = 90 * time.Second
	ServiceTimeout = 120 * time.Second
	// CheckTimeout bounds the check after a bootstrap (the cluster
	// converging, topics listed).
	CheckTimeout = 60 * time.Second
)

// Endpoints is the supervisor's view of a running environment: every store
// and service where the backend says its ports are reachable (on Docker,
// the ports published on 127.0.0.1, which works wherever container IPs are
// unreachable from the host, as on Docker Desktop for macOS). Names the
// stores advertise inside the environment (redis-2:7002, kafka:9092) are
// remapped to those addresses by Dial.
type Endpoints struct {
	c        *catalog.Catalog
	ports    map[string][]backend.Port // node -> ports
	remap    map[string]string
	password func(string) string
}

// NewEndpoints returns the endpoints of the catalog's nodes on b; password
// returns a credential by variable name (catalog.SuperuserPasswordVar,
// catalog.PasswordVar(user)).
func NewEndpoints(c *catalog.Catalog, b backend.Backend, password func(string) string) *Endpoints {
	e := &Endpoints{c: c, ports: map[string][]backend.Port{}, remap: map[string]string{}, password: password}
	for _, n := range c.Graph().Names() {
		ps := b.Ports(n)
		e.ports[n] = ps
		for _, p := range ps {
			if p.HostPort == 0 {
				continue
			}
			e.remap[p.Internal] = p.Host()
			for _, a := range p.Aliases {
				e.remap[fmt.Sprintf("%s:%d", a, p.Container)] = p.Host()
			}
		}
	}
	return e
}

// Endpoint is one address people reach a node at.
type Endpoint struct {
	Node      string `json:"node"`
	Unit      string `json:"unit"`
	Host      string `json:"host"`
	Container int    `json:"container"`
}

// Reachable lists the endpoints of the nodes that res left running (ready
// or unchanged), in graph order: an interrupted or failed up lists nothing
// for a node it did not start.
func (e *Endpoints) Reachable(res *Result) []Endpoint {
	var out []Endpoint
	for _, n := range e.c.Graph().Names() {
		if res != nil && !res.Started(n) {
			continue
		}
		for _, p := range e.ports[n] {
			if p.HostPort != 0 {
				out = append(out, Endpoint{Node: n, Unit: p.Unit, Host: p.Host(), Container: p.Container})
			}
		}
	}
	return out
}

// Dial connects to addr, or to the published port standing for it.
func (e *Endpoints) Dial(ctx context.Context, network, addr string) (net.Conn, error) {
	if to, ok := e.remap[addr]; ok {
		addr = to
	}
	var d net.Dialer
	return d.DialContext(ctx, network, addr)
}

// storeAddrs returns the in-environment addresses of a store's units
// (unit:port), in unit order: for a Redis Cluster one per cluster node, else
// the store's own port.
func (e *Endpoints) storeAddrs(st *catalog.Store) []string {
	var out []string
	for _, p := range e.ports[st.Name] {
		if st.Kind == catalog.StoreRedisCluster || p.Container == st.Port || len(e.ports[st.Name]) == 1 {
			out = append(out, p.Internal)
		}
	}
	return out
}

// hostPort returns where a node's container port is reachable, or "".
func (e *Endpoints) hostPort(node string, container int) string {
	for _, p := range e.ports[node] {
		if p.Container == container && p.HostPort != 0 {
			return p.Host()
		}
	}
	return ""
}

// host returns the published host address of an in-network address.
func (e *Endpoints) host(addr string) string {
	if to, ok := e.remap[addr]; ok {
		return to
	}
	return addr
}

func (e *Endpoints) firstStore(kind string) *catalog.Store {
	for _, st := range e.c.StoresOfKind(kind) {
		if !st.External && len(e.ports[st.Name]) > 0 {
			return st
		}
	}
	return nil
}

// Targets are where in-process bootstraps reach the stores.
func (e *Endpoints) Targets() bootstrap.Targets {
	t := bootstrap.Targets{Dial: e.Dial, Password: e.password}
	if st := e.firstStore(catalog.StorePostgres); st != nil {
		if a := e.storeAddrs(st); len(a) > 0 {
			t.Postgres = e.host(a[0])
		}
	}
	if st := e.firstStore(catalog.StoreRedisCluster); st != nil {
		t.RedisNodes = e.storeAddrs(st)
	}
	if st := e.firstStore(catalog.StoreKafka); st != nil {
		t.KafkaBrokers = e.storeAddrs(st)
	}
	if st := e.firstStore(catalog.StoreClickHouse); st != nil {
		if a := e.storeAddrs(st); len(a) > 0 {
			t.ClickHouseURL = "http://" + e.host(a[0])
		}
	}
	return t
}

// Readiness returns the check that proves a node ready, and its timeout.
func (e *Endpoints) Readiness(node string) (probe.Check, time.Duration) {
	it, ok := e.c.Graph().Node(node)
	if !ok {
		return nil, 0
	}
	switch it.Kind {
	case catalog.KindStore:
		return e.storeCheck(it.Store), StoreTimeout
	case catalog.KindBootstrap:
		st := e.c.Stores[it.Bootstrap.Store.Value]
		if st == nil {
			return nil, 0
		}
		if len(e.storeAddrs(st)) == 0 {
			return nil, 0
		}
		switch it.Bootstrap.Step {
		case catalog.StepRedisClusterInit:
			var hosts []string
			for _, a := range e.storeAddrs(st) {
				hosts = append(hosts, e.host(a))
			}
			return probe.RedisCluster{Addrs: hosts, Masters: st.Nodes, Dial: e.Dial}, CheckTimeout
		case catalog.StepKafkaTopics:
			var topics []string
			for _, t := range st.Topics {
				topics = append(topics, t.Name)
			}
			return probe.Kafka{Brokers: e.storeAddrs(st), Topics: topics, Dial: e.Dial}, CheckTimeout
		}
		return nil, 0
	case catalog.KindService:
		return e.serviceCheck(it.Service)
	}
	return nil, 0
}

// Recheck is Readiness for a node found running unchanged: a service is
// asked for its gRPC health only (its own database login was proven when
// it started, and its health covers its dependencies).
func (e *Endpoints) Recheck(node string) (probe.Check, time.Duration) {
	c, timeout := e.Readiness(node)
	if all, ok := c.(probe.All); ok {
		return all[len(all)-1], timeout
	}
	return c, timeout
}

func (e *Endpoints) storeCheck(st *catalog.Store) probe.Check {
	addrs := e.storeAddrs(st)
	if len(addrs) == 0 {
		return nil
	}
	first := e.host(addrs[0])
	switch st.Kind {
	case catalog.StorePostgres:
		return probe.Postgres{Addr: first, User: bootstrap.PostgresSuperuser, Password: e.password(catalog.SuperuserPasswordVar), Database: "postgres"}
	case catalog.StoreRedisCluster:
		var hosts []string
		for _, a := range addrs {
			hosts = append(hosts, e.host(a))
		}
		return probe.Redis{Addrs: hosts}
	case catalog.StoreKafka:
		return probe.Kafka{Brokers: addrs, Dial: e.Dial}
	case catalog.StoreClickHouse:
		return probe.ClickHouse{URL: "http://" + first, User: contract.ClickHouseAdminUser,
			Password: e.password(catalog.PasswordVar(contract.ClickHouseAdminUser))}
	case catalog.StoreElasticsearch:
		return probe.Elasticsearch{URL: "http://" + first}
	}
	if first != addrs[0] {
		return probe.TCP{Addr: first}
	}
	return nil
}

func (e *Endpoints) serviceCheck(s *catalog.Service) (probe.Check, time.Duration) {
	timeout := ServiceTimeout
	var checks probe.All
	if s.Database != nil {
		if st := e.firstStore(catalog.StorePostgres); st != nil {
			if a := e.storeAddrs(st); len(a) > 0 {
				checks = append(checks, probe.Postgres{Addr: e.host(a[0]), User: s.Database.User, Password: e.password(catalog.PasswordVar(s.Database.User)), Database: s.Database.Name})
			}
		}
	}
	if r := s.Readiness; r != nil {
		if r.Timeout.Duration > 0 {
			timeout = r.Timeout.Duration
		}
		port := 0
		for _, p := range s.Ports {
			if p.Name == r.Port {
				port = p.Port
			}
		}
		if hp := e.hostPort(s.Name, port); hp != "" {
			switch r.Type {
			case catalog.CheckHTTP:
				checks = append(checks, probe.HTTP{URL: "http://" + hp + r.Path})
			case catalog.CheckTCP:
				checks = append(checks, probe.TCP{Addr: hp})
			default:
				checks = append(checks, probe.GRPC{Addr: hp})
			}
		}
	}
	switch len(checks) {
	case 0:
		return nil, 0
	case 1:
		return checks[0], timeout
	}
	return checks, timeout
}

// Bootstraps returns the Bootstrapper that runs the catalog's steps
// in-process against the stores where e reaches them.
func (e *Endpoints) Bootstraps() Bootstrapper {
	targets := e.Targets()
	return func(ctx context.Context, b *catalog.Bootstrap, log func(string, ...any)) error {
		step, ok := bootstrap.Lookup(b.Step)
		if !ok {
			return fmt.Errorf("unknown bootstrap step %q", b.Step)
		}
		return step.Run(ctx, e.c, targets, log)
	}
}
