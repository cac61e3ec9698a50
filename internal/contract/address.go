package contract

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"

	"github.com/novadev/novadev/internal/catalog"
)

// Endpoint is one running instance of a store as its clients reach it: a
// compose service or a pod.
type Endpoint struct {
	// Name is the compose service or the pod (redis-1 on compose, redis-0
	// on kind; the store's name when it runs once).
	Name string
	// Host and Port are what a client on the same network dials.
	Host string
	Port int
}

// Addr is host:port.
func (e Endpoint) Addr() string { return net.JoinHostPort(e.Host, strconv.Itoa(e.Port)) }

// Endpoints are where a store's instances are reached on target t, in
// order; nil for an external store (see Address).
//
// A Redis Cluster differs by target on purpose. On compose there is no
// per-pod DNS: node i is its own service <store>-i (from 1) on its own port
// port+i-1 and announces that name and port (MOVED redirections name
// them); the host reaches node i at its published port Host+i-1, which
// differs, hence EnvHostMap. On kind the StatefulSet's pods
// <store>-i (from 0) share the port behind the headless Service and are
// reached as <store>-i.<store>. On the host every endpoint is 127.0.0.1
// at its published port.
func Endpoints(t Target, st *catalog.Store) []Endpoint {
	if st == nil || st.External {
		return nil
	}
	if t == Host {
		return hostEndpoints(st)
	}
	if st.Kind != catalog.StoreRedisCluster {
		return []Endpoint{{Name: st.Name, Host: st.Name, Port: st.Port}}
	}
	out := make([]Endpoint, st.Nodes)
	for i := range out {
		if t == Kind {
			pod := fmt.Sprintf("%s-%d", st.Name, i)
			out[i] = Endpoint{Name: pod, Host: pod + "." + st.Name, Port: st.Port}
		} else {
			n := fmt.Sprintf("%s-%d", st.Name, i+1)
			out[i] = Endpoint{Name: n, Host: n, Port: st.Port + i}
		}
	}
	return out
}

// Address is the store's client address list (host:port,...) on target t:
// its endpoints, or for an external store the host:port of its URI.
func Address(t Target, st *catalog.Store) string {
	if st.External {
		return externalAddr(st)
	}
	var addrs []string
	for _, e := range Endpoints(t, st) {
		addrs = append(addrs, e.Addr())
	}
	return strings.Join(addrs, ",")
}

// URL is where an HTTP or URI-addressed store is reached: its URI when it
// has one (external stores), else scheme://<first endpoint>.
func URL(t Target, st *catalog.Store, scheme string) string {
	if st.URI != "" {
		return st.URI
	}
	eps := Endpoints(t, st)
	if len(eps) == 0 {
		return ""
	}
	return scheme + "://" + eps[0].Addr()
}

// externalAddr is host:port of an external store's URI (the store's port
// when the URI names none), or "" when the URI has no host.
func externalAddr(st *catalog.Store) string {
	u, err := url.Parse(st.URI)
	if err != nil || u.Hostname() == "" {
		return ""
	}
	port := u.Port()
	if port == "" {
		port = strconv.Itoa(st.Port)
	}
	return net.JoinHostPort(u.Hostname(), port)
}

// schemes are the URL schemes of stores whose variable is a URL.
var schemes = map[string]string{
	catalog.StoreClickHouse:    "http",
	catalog.StoreElasticsearch: "http",
	catalog.StoreNeo4j:         "bolt",
}

// ServiceAddr is host:port of a service's gRPC port (the same on every
// target: a compose service and a Kubernetes Service share the name).
func ServiceAddr(s *catalog.Service) string {
	return net.JoinHostPort(s.Name, strconv.Itoa(PortOf(s, "grpc")))
}

// PortOf is the container port of a service's port named name (0 if none).
func PortOf(s *catalog.Service, name string) int {
	for _, p := range s.Ports {
		if p.Name == name {
			return p.Port
		}
	}
	return 0
}
