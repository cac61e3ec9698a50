// Package contract is the service runtime contract: for a workload (a
// service, a bootstrap, a store) on a target (compose, kind), the
// environment variables it receives, the addresses in them and the
// credentials they reference. Every variable name is declared here once; the
// compose renderer, the kind renderer (Deployments and Jobs), the bootstrap
// steps' TargetsFromEnv and the placeholder's configuration all read it.
//
// Credentials stay abstract: a Credential names a secret and a key, and
// each renderer turns it into its own reference (${KEY} filled from
// compose/.env, a Secret keyRef in the cluster). A contract value never holds
// a password.
package contract

import "strings"

// Target is where a workload runs; it decides the addresses in the contract.
type Target string

// Targets the renderers produce.
const (
	// Compose is a docker-compose project: one network, every container
	// reached by its compose service name, each Redis Cluster node its own
	// service on its own port.
	Compose Target = "compose"
	// Kind is a Kubernetes namespace (kind or any cluster): Services by
	// name, StatefulSet pods by <pod>.<governing service>.
	Kind Target = "kind"
)

// Targets lists every target, in a fixed order.
var Targets = []Target{Compose, Kind}

// The service environment (docs/contracts.md): what every service receives,
// what the placeholder reads.
const (
	EnvService          = "NOVA_SERVICE"           // the service's own name
	EnvDatabaseURL      = "DATABASE_URL"           // its own database as its own user
	EnvRedisNodes       = "REDIS_CLUSTER_NODES"    // seed nodes of the Redis Cluster, host:port,...
	EnvKafkaBrokers     = "KAFKA_BROKERS"          // bootstrap brokers, host:port,...
	EnvKafkaTopics      = "KAFKA_TOPICS"           // the topics it uses, in catalog order
	EnvClickHouseURL    = "CLICKHOUSE_URL"         // ClickHouse HTTP endpoint
	EnvElasticsearchURL = "ELASTICSEARCH_URL"      // optional store: set even where it is unavailable
	EnvNeo4jURI         = "NEO4J_URI"              // external store: may be absent
	EnvGRPCDependencies = "NOVA_GRPC_DEPENDENCIES" // gRPC services it depends on, host:port,...
	// EnvRequireOptional, set to 1 by a person (no renderer sets it), makes
	// the placeholder require its optional stores too.
	EnvRequireOptional = "NOVA_REQUIRE_OPTIONAL"
)

// The served API (read by the placeholder to serve the service's own gRPC
// API from the catalog's proto files, and by the GraphQL gateway).
const (
	// EnvGRPCAPI is the fully qualified gRPC service it serves (`api`).
	EnvGRPCAPI = "NOVA_GRPC_API"
	// EnvProtoDir is where the catalog's proto files (protos.root) are
	// mounted read-only in the container: ProtoMount.
	EnvProtoDir = "NOVA_PROTO_DIR"
	// EnvProtoFiles are its own proto files, relative to EnvProtoDir
	// (`protos`); unset for a service without any (the gateway), which
	// then loads every file under EnvProtoDir.
	EnvProtoFiles = "NOVA_PROTO_FILES"
	// EnvGRPCRoutes maps each gRPC dependency's API to its address
	// (nova.user.v1.UserService=user-service:50051,...), for a service
	// that calls them by API (the gateway).
	EnvGRPCRoutes = "NOVA_GRPC_ROUTES"
	// EnvFixturesDir, set by a person (no renderer sets it), is the root
	// of the placeholder's response fixtures.
	EnvFixturesDir = "NOVA_FIXTURES_DIR"
)

// A service's own ClickHouse identity and database (uses.clickhouse):
// ClickHouseUserName, its password credential, uses.clickhouse.database.
// The placeholder logs in with them.
const (
	EnvClickHouseUser     = "CLICKHOUSE_USER"
	EnvClickHousePassword = "CLICKHOUSE_PASSWORD"
	EnvClickHouseDatabase = "CLICKHOUSE_DATABASE"
)

// ProtoMount is where every service container sees the catalog's proto
// files (protos.root), read-only, on every target.
const ProtoMount = "/etc/novadev/proto"

// Port variables: every named container port P of a service is announced as
// PortVar(P) (grpc -> GRPC_PORT, metrics -> METRICS_PORT, http -> HTTP_PORT).
const (
	EnvGRPCPort    = "GRPC_PORT"
	EnvMetricsPort = "METRICS_PORT"
	EnvHTTPPort    = "HTTP_PORT"
)

// PortVar is the variable announcing the container port named name.
func PortVar(name string) string {
	return strings.ToUpper(strings.ReplaceAll(name, "-", "_")) + "_PORT"
}

// The bootstrap environment: what `novadev bootstrap <step>` reads
// (internal/bootstrap TargetsFromEnv, the CLI's flag defaults).
const (
	EnvCatalog     = "NOVADEV_CATALOG" // the catalog file
	EnvEnvironment = "NOVADEV_ENV"     // the environment overlay next to it

	EnvBootstrapPostgres   = "NOVA_POSTGRES_ADDR"  // host:port
	EnvBootstrapRedisNodes = "NOVA_REDIS_NODES"    // host:port,host:port,...
	EnvBootstrapKafka      = "NOVA_KAFKA_BROKERS"  // host:port,...
	EnvBootstrapClickHouse = "NOVA_CLICKHOUSE_URL" // http://host:8123

	EnvMigrationsDir = "NOVA_MIGRATIONS_DIR" // root holding <service>/<version>_<description>.sql
	EnvProtosDir     = "NOVA_PROTOS_DIR"     // replaces protos.root
	EnvBaseline      = "NOVA_PROTO_BASELINE" // replaces protos.baseline
	EnvDialMap       = "NOVA_DIAL_MAP"       // from=to,... remap of advertised host:port
)

// EnvPostgresPassword is the PostgreSQL store's own variable for the
// superuser's password on first start (both the offline and the official
// image read it).
const EnvPostgresPassword = "POSTGRES_PASSWORD"

// ToolImage holds the novadev binary: bootstrap one-shots and Jobs, and the
// init containers that wait for dependencies, run it.
const ToolImage = "novadev/novadev:dev"

// Where bootstrap containers see the catalog folder (read-only).
const (
	// ComposeCatalogMount is the catalog folder (envs/, with every
	// environment file) bind-mounted into compose one-shots.
	ComposeCatalogMount = "/catalog"
	// KindCatalogMount is the projected volume of the catalog ConfigMaps in
	// bootstrap Jobs: the base catalog alone, its protos and migrations.
	KindCatalogMount = "/etc/novadev/catalog"
)

// CatalogMount is where a bootstrap on target t finds the catalog folder.
func CatalogMount(t Target) string {
	if t == Kind {
		return KindCatalogMount
	}
	return ComposeCatalogMount
}
