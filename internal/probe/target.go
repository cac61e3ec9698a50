package probe

import (
	"fmt"
	"net/url"
	"strings"
)

// ParseTarget turns tcp://host:port, grpc://host:port[/service],
// http(s)://host:port/path or job://<bootstrap> into a readiness check
// (what `novadev wait` and the kind init containers use).
func ParseTarget(s string) (Check, error) {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("%q: want tcp://host:port, grpc://host:port[/service], http://host:port/path or job://<bootstrap>", s)
	}
	if u.Scheme == "job" {
		return jobCheck{name: u.Host, jobs: inClusterJobs}, nil
	}
	if u.Port() == "" {
		return nil, fmt.Errorf("%q: the address needs a port", s)
	}
	switch u.Scheme {
	case "tcp":
		return TCP{Addr: u.Host}, nil
	case "grpc":
		return GRPC{Addr: u.Host, Service: strings.TrimPrefix(u.Path, "/")}, nil
	case "http", "https":
		return HTTP{URL: s}, nil
	}
	return nil, fmt.Errorf("%q: unknown scheme %q (tcp, grpc, http, job)", s, u.Scheme)
}
