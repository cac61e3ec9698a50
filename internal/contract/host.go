package contract

import (
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/novadev/novadev/internal/catalog"
)

// Host is the developer's machine beside a compose stack: a process run
// there (`eval "$(novadev env feed-service)" && cargo run`) reaches every
// store and service at 127.0.0.1 on the port the catalog publishes for it
// (catalog Store.Host, Port.Host, already moved into the environment's
// port block). It is not one of Targets: no renderer writes it.
const Host Target = "host"

// Loopback is where compose publishes every port (and so where the host
// target addresses them).
const Loopback = "127.0.0.1"

// EnvHostMap maps the addresses the stores announce inside the stack to
// where the host reaches them: from=to,... (redis-2:7002=127.0.0.1:30012,
// kafka:9092=127.0.0.1:30092). A Redis Cluster answers MOVED with the
// announced name and port of the node owning a slot, and Kafka's metadata
// names its advertised listener; neither is reachable from the host, and
// the published port differs from the announced one, so a host-side
// client maps them in its dialer (the format of NOVA_DIAL_MAP).
const EnvHostMap = "NOVA_HOST_MAP"

// hostEndpoints are where the host reaches a store's instances: each
// in-stack endpoint (compose names) at 127.0.0.1 on its published port;
// nil when the store publishes nothing (or runs elsewhere).
func hostEndpoints(st *catalog.Store) []Endpoint {
	if st.Host == 0 {
		return nil
	}
	in := Endpoints(Compose, st)
	out := make([]Endpoint, len(in))
	for i, e := range in {
		out[i] = Endpoint{Name: e.Name, Host: Loopback, Port: st.Host + i}
	}
	return out
}

// serviceAddr is where a workload on target t reaches service s's gRPC
// port: its name on compose and kind, its published port on the host (""
// when not published).
func serviceAddr(t Target, s *catalog.Service) string {
	if t != Host {
		return ServiceAddr(s)
	}
	for _, p := range s.Ports {
		if p.Name == "grpc" && p.Host != 0 {
			return net.JoinHostPort(Loopback, strconv.Itoa(p.Host))
		}
	}
	return ""
}

// HostMap is EnvHostMap's value for service s: the announced address of
// every published Redis Cluster node and Kafka broker it uses, in store
// order; "" when none.
func HostMap(c *catalog.Catalog, s *catalog.Service) string {
	var pairs []string
	for _, u := range c.UsedStores(s) {
		st := u.Store
		if st.External || (st.Kind != catalog.StoreRedisCluster && st.Kind != catalog.StoreKafka) {
			continue
		}
		in, host := Endpoints(Compose, st), hostEndpoints(st)
		for i := range host {
			pairs = append(pairs, in[i].Addr()+"="+host[i].Addr())
		}
	}
	return strings.Join(pairs, ",")
}

// hostProtoDir is the catalog's protos.root on the host (the directory the
// stack mounts at ProtoMount).
func hostProtoDir(c *catalog.Catalog) string {
	dir := filepath.Join(filepath.Dir(c.File), filepath.FromSlash(c.Protos.Root))
	if abs, err := filepath.Abs(dir); err == nil {
		return abs
	}
	return dir
}

// Unreachable lists what service s receives in the stack that has no
// host address (a store or dependency that publishes no port): the host
// environment leaves those variables out, and `novadev env` says so.
func Unreachable(c *catalog.Catalog, s *catalog.Service) []string {
	var out []string
	for _, u := range c.UsedStores(s) {
		if st := u.Store; !st.External && len(Endpoints(Compose, st)) > 0 && st.Host == 0 {
			out = append(out, fmt.Sprintf("store %s publishes no host port", st.Name))
		}
	}
	for _, d := range c.ServiceDeps(s) {
		if c.Active(d.Profiles) && serviceAddr(Host, d) == "" {
			out = append(out, fmt.Sprintf("service %s publishes no grpc port", d.Name))
		}
	}
	return out
}
