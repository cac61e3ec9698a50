package placeholder

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"

	"github.com/novadev/novadev/internal/contract"
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

	// API and ClickHouse: the block at the end of this file.
	API        APIConfig
	ClickHouse ClickHouseIdentity
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
		Service:         getenv(contract.EnvService),
		GRPCPort:        port(contract.EnvGRPCPort, 50051),
		MetricsPort:     port(contract.EnvMetricsPort, 9090),
		DatabaseURL:     getenv(contract.EnvDatabaseURL),
		RedisNodes:      list(getenv(contract.EnvRedisNodes)),
		KafkaBrokers:    list(getenv(contract.EnvKafkaBrokers)),
		KafkaTopics:     list(getenv(contract.EnvKafkaTopics)),
		ClickHouseURL:   getenv(contract.EnvClickHouseURL),
		ElasticURL:      getenv(contract.EnvElasticsearchURL),
		Neo4jURI:        getenv(contract.EnvNeo4jURI),
		GRPCDeps:        list(getenv(contract.EnvGRPCDependencies)),
		RequireOptional: getenv(contract.EnvRequireOptional) == "1",
	}
	if c.Service == "" {
		c.Service = "placeholder"
	}
	var apiErrs []error
	c.API, c.ClickHouse, apiErrs = apiFromEnv(getenv)
	errs = append(errs, apiErrs...)
	if len(c.KafkaTopics) > 0 && len(c.KafkaBrokers) == 0 {
		errs = append(errs, errors.New(contract.EnvKafkaTopics+" is set but "+contract.EnvKafkaBrokers+" is empty"))
	}
	for _, hp := range append(append([]string{}, c.RedisNodes...), append(c.KafkaBrokers, c.GRPCDeps...)...) {
		if _, _, err := net.SplitHostPort(hp); err != nil {
			errs = append(errs, fmt.Errorf("%q: want host:port", hp))
		}
	}
	for name, raw := range map[string]string{contract.EnvDatabaseURL: c.DatabaseURL, contract.EnvClickHouseURL: c.ClickHouseURL, contract.EnvElasticsearchURL: c.ElasticURL, contract.EnvNeo4jURI: c.Neo4jURI} {
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
		deps = append(deps, Dependency{Check: NewClickHouseCheck(c.ClickHouseURL, c.ClickHouse), Required: true})
	}
	optional := func(name, env, raw string, check func() Check) {
		switch {
		case raw == "":
			notes = append(notes, fmt.Sprintf("%s: absent (%s unset)", name, env))
		case !c.RequireOptional:
			notes = append(notes, fmt.Sprintf("%s: optional, not checked (%s!=1)", name, contract.EnvRequireOptional))
		default:
			deps = append(deps, Dependency{Check: check(), Required: true})
		}
	}
	optional("elasticsearch", contract.EnvElasticsearchURL, c.ElasticURL, func() Check {
		return HTTPCheck{Dep: "elasticsearch", URL: c.ElasticURL}
	})
	optional("neo4j", contract.EnvNeo4jURI, c.Neo4jURI, func() Check {
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

// ---- The served API, the GraphQL gateway and store identities ----
//
// Variables for contract-true placeholders (issue 10) and for checks made
// with the service's own identity (issue 11); the names are the runtime
// contract's (internal/contract), which the renderers set; docs/contracts.md
// lists them.
const (
	// EnvProtoDir is the import root of the catalog's proto files inside the
	// container (the catalog's protos.root, mounted read-only).
	EnvProtoDir = contract.EnvProtoDir
	// EnvProtoFiles lists the proto files to load, relative to EnvProtoDir
	// (the service's `protos`); empty loads every *.proto under it.
	EnvProtoFiles = contract.EnvProtoFiles
	// EnvGRPCAPI names the fully qualified gRPC services to serve (the
	// service's `api`, comma-separated).
	EnvGRPCAPI = contract.EnvGRPCAPI
	// EnvFixturesDir is the root of the response fixtures:
	// <dir>/<NOVA_SERVICE>/<Method>.json (protojson).
	EnvFixturesDir = contract.EnvFixturesDir
	// EnvHTTPPort is the container port named http: where the GraphQL
	// gateway answers (POST /graphql, GET /healthz). Unset: no gateway.
	EnvHTTPPort = contract.EnvHTTPPort
	// EnvGRPCRoutes pins services to addresses for the gateway
	// (nova.user.v1.UserService=user-service:50051,...); services without a
	// route are found through the server reflection of NOVA_GRPC_DEPENDENCIES.
	EnvGRPCRoutes = contract.EnvGRPCRoutes
	// EnvClickHouseUser, EnvClickHousePassword and EnvClickHouseDatabase are
	// the service's own ClickHouse identity and database. Optional: the
	// runtime contract does not carry ClickHouse credentials yet; user and
	// password in CLICKHOUSE_URL's userinfo work too.
	EnvClickHouseUser     = contract.EnvClickHouseUser
	EnvClickHousePassword = contract.EnvClickHousePassword
	EnvClickHouseDatabase = contract.EnvClickHouseDatabase
)

// APIConfig is the part of the environment that says which API a
// placeholder serves and whether it is the GraphQL gateway.
type APIConfig struct {
	ProtoDir    string
	ProtoFiles  []string
	APIs        []string
	FixturesDir string
	HTTPPort    int
	Routes      map[string]string
}

// Notes say what the placeholder cannot serve as configured. A missing
// proto mount is a note, not a start error: the placeholder still stands in
// (health, and a gateway that answers) while a renderer catches up.
func (a APIConfig) Notes() []string {
	if a.ProtoDir != "" {
		return nil
	}
	var notes []string
	if len(a.APIs) > 0 {
		notes = append(notes, fmt.Sprintf("%s=%s but %s is unset: serving health and reflection only (mount the catalog's proto root and set %s)", EnvGRPCAPI, strings.Join(a.APIs, ","), EnvProtoDir, EnvProtoDir))
	}
	if a.HTTPPort != 0 {
		notes = append(notes, fmt.Sprintf("%s=%d but %s is unset: the GraphQL schema has no service fields", EnvHTTPPort, a.HTTPPort, EnvProtoDir))
	}
	return notes
}

// ClickHouseIdentity is the service's own ClickHouse login and database.
type ClickHouseIdentity struct {
	User, Password, Database string
}

// apiFromEnv reads the APIConfig block; problems are returned, not joined,
// so FromEnv reports them with the others.
func apiFromEnv(getenv func(string) string) (APIConfig, ClickHouseIdentity, []error) {
	var errs []error
	a := APIConfig{
		ProtoDir:    getenv(EnvProtoDir),
		ProtoFiles:  list(getenv(EnvProtoFiles)),
		APIs:        list(getenv(EnvGRPCAPI)),
		FixturesDir: getenv(EnvFixturesDir),
	}
	if v := getenv(EnvHTTPPort); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 || n > 65535 {
			errs = append(errs, fmt.Errorf("%s=%q: not a port", EnvHTTPPort, v))
		}
		a.HTTPPort = n
	}
	routes, err := ParseRoutes(getenv(EnvGRPCRoutes))
	if err != nil {
		errs = append(errs, err)
	}
	a.Routes = routes
	if a.ProtoDir == "" && len(a.ProtoFiles) > 0 {
		errs = append(errs, fmt.Errorf("%s is set but %s is empty", EnvProtoFiles, EnvProtoDir))
	}
	ch := ClickHouseIdentity{User: getenv(EnvClickHouseUser), Password: getenv(EnvClickHousePassword), Database: getenv(EnvClickHouseDatabase)}
	if ch.Password != "" && ch.User == "" {
		errs = append(errs, fmt.Errorf("%s is set but %s is empty", EnvClickHousePassword, EnvClickHouseUser))
	}
	return a, ch, errs
}

// ParseRoutes reads NOVA_GRPC_ROUTES: service=host:port pairs, comma-separated.
func ParseRoutes(s string) (map[string]string, error) {
	routes := map[string]string{}
	var errs []error
	for i, item := range list(s) {
		svc, target, ok := strings.Cut(item, "=")
		svc, target = strings.TrimSpace(svc), strings.TrimSpace(target)
		if !ok || svc == "" || strings.ContainsAny(svc, " /=") {
			errs = append(errs, fmt.Errorf("%s item %d %q: want service=host:port (nova.user.v1.UserService=user-service:50051)", EnvGRPCRoutes, i+1, item))
			continue
		}
		if _, _, err := net.SplitHostPort(target); err != nil {
			errs = append(errs, fmt.Errorf("%s item %d %q: address %q: want host:port", EnvGRPCRoutes, i+1, item, target))
			continue
		}
		if old, dup := routes[svc]; dup && old != target {
			errs = append(errs, fmt.Errorf("%s item %d: %s routed twice (%s and %s)", EnvGRPCRoutes, i+1, svc, old, target))
			continue
		}
		routes[svc] = target
	}
	return routes, errors.Join(errs...)
}
