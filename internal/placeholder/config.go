package placeholder

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
)

// Config is what the placeholder reads from the service environment of
// docs/contracts.md.
type Config struct {
	Service         string
	GRPCPort        int
	MetricsPort     int
	DatabaseURL     string
	RedisNodes      []string
	KafkaBrokers    []string
	KafkaTopics     []string
	ClickHouseURL   string
	ElasticURL      string
	Neo4jURI        string
	GRPCDeps        []string
	RequireOptional bool
}

// FromEnv reads the configuration through getenv (os.Getenv in main) and
// reports every problem at once.
func FromEnv(getenv func(string) string) (Config, error) {
	var errs []error
	port := func(name string, def int) int {
		v := getenv(name)
		if v == "" {
			return def
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > 65535 {
			errs = append(errs, fmt.Errorf("%s=%q: not a port", name, v))
		}
		return n
	}
	c := Config{
		Service:         getenv("NOVA_SERVICE"),
		GRPCPort:        port("GRPC_PORT", 50051),
		MetricsPort:     port("METRICS_PORT", 9090),
		DatabaseURL:     getenv("DATABASE_URL"),
		RedisNodes:      list(getenv("REDIS_CLUSTER_NODES")),
		KafkaBrokers:    list(getenv("KAFKA_BROKERS")),
		KafkaTopics:     list(getenv("KAFKA_TOPICS")),
		ClickHouseURL:   getenv("CLICKHOUSE_URL"),
		ElasticURL:      getenv("ELASTICSEARCH_URL"),
		Neo4jURI:        getenv("NEO4J_URI"),
		GRPCDeps:        list(getenv("NOVA_GRPC_DEPENDENCIES")),
		RequireOptional: getenv("NOVA_REQUIRE_OPTIONAL") == "1",
	}
	if c.Service == "" {
		c.Service = "placeholder"
	}
	if len(c.KafkaTopics) > 0 && len(c.KafkaBrokers) == 0 {
		errs = append(errs, errors.New("KAFKA_TOPICS is set but KAFKA_BROKERS is empty"))
	}
	for _, hp := range append(append([]string{}, c.RedisNodes...), append(c.KafkaBrokers, c.GRPCDeps...)...) {
		if _, _, err := net.SplitHostPort(hp); err != nil {
			errs = append(errs, fmt.Errorf("%q: want host:port", hp))
		}
	}
	for name, raw := range map[string]string{"DATABASE_URL": c.DatabaseURL, "CLICKHOUSE_URL": c.ClickHouseURL, "ELASTICSEARCH_URL": c.ElasticURL, "NEO4J_URI": c.Neo4jURI} {
		if raw == "" {
			continue
		}
		if u, err := url.Parse(raw); err != nil || u.Host == "" {
			errs = append(errs, fmt.Errorf("%s: not a URL with a host", name))
		}
	}
	return c, errors.Join(errs...)
}

// Dependencies builds one Check per dependency the environment names, and
// notes on the optional stores (Elasticsearch, Neo4j): those are checked, and
// required, only when RequireOptional is set; otherwise the notes say whether
// they are configured and that they were not checked.
func (c Config) Dependencies() (deps []Dependency, notes []string, err error) {
	if c.DatabaseURL != "" {
		deps = append(deps, Dependency{Check: PostgresCheck{URL: c.DatabaseURL}, Required: true})
	}
	if len(c.RedisNodes) > 0 {
		deps = append(deps, Dependency{Check: NewRedisClusterCheck(c.RedisNodes), Required: true})
	}
	if len(c.KafkaBrokers) > 0 {
		k, err := NewKafkaCheck(c.KafkaBrokers, c.KafkaTopics)
		if err != nil {
			return nil, nil, err
		}
		deps = append(deps, Dependency{Check: k, Required: true})
	}
	if c.ClickHouseURL != "" {
		deps = append(deps, Dependency{Check: NewClickHouseCheck(c.ClickHouseURL), Required: true})
	}
	optional := func(name, env, raw string, check func() Check) {
		switch {
		case raw == "":
			notes = append(notes, fmt.Sprintf("%s: absent (%s unset)", name, env))
		case !c.RequireOptional:
			notes = append(notes, fmt.Sprintf("%s: optional, not checked (NOVA_REQUIRE_OPTIONAL!=1)", name))
		default:
			deps = append(deps, Dependency{Check: check(), Required: true})
		}
	}
	optional("elasticsearch", "ELASTICSEARCH_URL", c.ElasticURL, func() Check {
		return HTTPCheck{Dep: "elasticsearch", URL: c.ElasticURL}
	})
	optional("neo4j", "NEO4J_URI", c.Neo4jURI, func() Check {
		u, _ := url.Parse(c.Neo4jURI)
		addr := u.Host
		if u.Port() == "" {
			addr = net.JoinHostPort(u.Hostname(), "7687")
		}
		return TCPCheck{Dep: "neo4j", Addr: addr}
	})
	for _, target := range c.GRPCDeps {
		g, err := NewGRPCHealthCheck(target)
		if err != nil {
			return nil, nil, err
		}
		deps = append(deps, Dependency{Check: g, Required: true})
	}
	return deps, notes, nil
}

func list(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}
