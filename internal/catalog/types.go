// Package catalog is the versioned, target-neutral model of an environment:
// services, stores, bootstraps and environment overlays. It loads YAML
// strictly, remembers where every field was written, fills defaults and
// validates everything at once so a person fixes all mistakes in one round.
// The compose, kind and Tilt renderers and the supervisor all read this model.
package catalog

import "sync"

// APIVersion is the catalog format this package reads.
const APIVersion = "novadev/v1alpha1"

// Kinds of catalog documents.
const (
	KindCatalog     = "Catalog"
	KindEnvironment = "Environment"
)

// Store kinds.
const (
	StorePostgres      = "postgres"
	StoreRedisCluster  = "redis-cluster"
	StoreKafka         = "kafka"
	StoreClickHouse    = "clickhouse"
	StoreNeo4j         = "neo4j"
	StoreElasticsearch = "elasticsearch"
)

// Bootstrap steps, in the staging guide's order.
const (
	StepPostgresInit     = "postgres-init"
	StepMigrations       = "migrations"
	StepRedisClusterInit = "redis-cluster-init"
	StepKafkaTopics      = "kafka-topics"
	StepClickHouseInit   = "clickhouse-init"
	StepProtoValidate    = "proto-validate"
)

// Readiness check types.
const (
	CheckGRPC = "grpc"
	CheckTCP  = "tcp"
	CheckHTTP = "http"
)

// StoreKinds lists every store kind, sorted.
var StoreKinds = []string{StoreClickHouse, StoreElasticsearch, StoreKafka, StoreNeo4j, StorePostgres, StoreRedisCluster}

// Steps lists every bootstrap step in the staging guide's order.
var Steps = []string{StepPostgresInit, StepMigrations, StepRedisClusterInit, StepKafkaTopics, StepClickHouseInit, StepProtoValidate}

// stepStore is the store kind each step works on ("" for none).
var stepStore = map[string]string{
	StepPostgresInit:     StorePostgres,
	StepMigrations:       StorePostgres,
	StepRedisClusterInit: StoreRedisCluster,
	StepKafkaTopics:      StoreKafka,
	StepClickHouseInit:   StoreClickHouse,
	StepProtoValidate:    "",
}

// Catalog is the whole environment model: the base catalog with one
// environment overlay applied.
type Catalog struct {
	Node         `yaml:"-"`
	APIVersion   string              `yaml:"apiVersion"`
	Kind         string              `yaml:"kind"`
	Metadata     Metadata            `yaml:"metadata"`
	Images       Images              `yaml:"images"`
	HostPortBase int                 `yaml:"hostPortBase"`
	Defaults     Defaults            `yaml:"defaults"`
	Stores       map[string]*Store   `yaml:"stores"`
	Bootstraps   []*Bootstrap        `yaml:"bootstraps"`
	Services     map[string]*Service `yaml:"services"`
	Protos       Protos              `yaml:"protos"`

	// File is the path the base catalog was read from.
	File string `yaml:"-"`
	// Env is the environment overlay applied, never nil after Load.
	Env *Environment `yaml:"-"`

	profiles  map[string]bool // every profile named anywhere
	graph     *Graph          // built by validation, or on first Graph()
	graphOnce sync.Once
}

// Metadata names a catalog or environment.
type Metadata struct {
	Node        `yaml:"-"`
	Name        string            `yaml:"name"`
	Description string            `yaml:"description"`
	Labels      map[string]string `yaml:"labels"`
}

// Images says where service images come from: Registry/Name:Tag.
type Images struct {
	Node     `yaml:"-"`
	Registry string `yaml:"registry"`
	Tag      string `yaml:"tag"`
}

// Defaults apply to every service that does not say otherwise.
type Defaults struct {
	Node      `yaml:"-"`
	Ports     []Port     `yaml:"ports"`
	Readiness *Readiness `yaml:"readiness"`
	Resources Resources  `yaml:"resources"`
}

// Port is a named container port, optionally published on the host.
type Port struct {
	Node `yaml:"-"`
	Name string `yaml:"name"`
	Port int    `yaml:"port"`
	// Host is the port published on 127.0.0.1 in the base catalog's block
	// (HostPortBase); an environment moves the whole block. 0: not published.
	Host int `yaml:"host"`

	inherited bool // copied from defaults.ports untouched: checked there
}

// Readiness says how to prove a service ready.
type Readiness struct {
	Node    `yaml:"-"`
	Type    string   `yaml:"type"` // grpc (default), tcp, http
	Port    string   `yaml:"port"` // a port name; default grpc
	Path    string   `yaml:"path"` // http only
	Timeout Duration `yaml:"timeout"`

	inherited bool // copied from defaults.readiness: checked there
}

// Resources are requests and limits, in Kubernetes quantity notation.
type Resources struct {
	Node     `yaml:"-"`
	Requests Quantities `yaml:"requests"`
	Limits   Quantities `yaml:"limits"`
}

// Quantities are CPU and memory amounts ("100m", "256Mi").
type Quantities struct {
	Node   `yaml:"-"`
	CPU    string `yaml:"cpu"`
	Memory string `yaml:"memory"`
}

// Build is a local image build.
type Build struct {
	Node       `yaml:"-"`
	Context    string `yaml:"context"`
	Dockerfile string `yaml:"dockerfile"`
	Target     string `yaml:"target"`
	// LiveUpdate lists local paths synced into the running container by
	// Tilt (sync from:to).
	LiveUpdate []Sync `yaml:"liveUpdate"`
}

// Sync maps a local path to a container path.
type Sync struct {
	Node `yaml:"-"`
	From string `yaml:"from"`
	To   string `yaml:"to"`
}

// Service is one gRPC microservice (or the gateway).
type Service struct {
	Node        `yaml:"-"`
	Name        string            `yaml:"-"`
	Description string            `yaml:"description"`
	Image       string            `yaml:"image"` // a repository under Images.Registry, or a full reference
	Build       *Build            `yaml:"build"`
	Ports       []Port            `yaml:"ports"`
	Env         map[string]string `yaml:"env"`
	DependsOn   []Name            `yaml:"dependsOn"` // services or stores
	Database    *Database         `yaml:"database"`
	Uses        Uses              `yaml:"uses"`
	Migrations  string            `yaml:"migrations"` // directory of sqlx migrations, relative to the catalog
	Protos      []string          `yaml:"protos"`     // proto files, relative to protos.root
	API         string            `yaml:"api"`        // fully-qualified gRPC service it serves, e.g. nova.user.v1.UserService
	Readiness   *Readiness        `yaml:"readiness"`
	Resources   Resources         `yaml:"resources"`
	Replicas    int               `yaml:"replicas"`
	Profiles    []string          `yaml:"profiles"`
}

// Database is a service's own PostgreSQL database and least-privilege user.
type Database struct {
	Node `yaml:"-"`
	Name string `yaml:"name"` // default nova_<service without -service, _ for ->
	User string `yaml:"user"` // default <name>_svc
	// DDL lets the service change its schema at run time (e.g. a migrator
	// at start-up): its user then acts as the database's owner role.
	DDL bool `yaml:"ddl"`
}

// Uses lists the shared stores a service talks to besides PostgreSQL.
type Uses struct {
	Node          `yaml:"-"`
	Redis         bool      `yaml:"redis"`
	Kafka         *KafkaUse `yaml:"kafka"`
	ClickHouse    *ClickUse `yaml:"clickhouse"`
	Neo4j         bool      `yaml:"neo4j"`
	Elasticsearch bool      `yaml:"elasticsearch"`
}

// KafkaUse names the topics a service produces to or consumes from.
type KafkaUse struct {
	Node   `yaml:"-"`
	Topics []Name `yaml:"topics"`
}

// ClickUse names the ClickHouse database a service writes to.
type ClickUse struct {
	Node     `yaml:"-"`
	Database Name `yaml:"database"`
}

// Store is a shared data store.
type Store struct {
	Node  `yaml:"-"`
	Name  string `yaml:"-"`
	Kind  string `yaml:"kind"`
	Image string `yaml:"image"`
	// Upstream is the public image staging runs, when image is not it (the
	// kafka store's image is the offline broker; staging runs Kafka).
	Upstream string `yaml:"upstream"`
	// Offline is the store's image in the offline set (scripts/images):
	// what environments with images.source run without a registry.
	Offline   string    `yaml:"offline"`
	Version   string    `yaml:"version"`
	Port      int       `yaml:"port"`     // the client port inside the network
	Host      int       `yaml:"host"`     // published host port (first node's for clusters)
	External  bool      `yaml:"external"` // runs elsewhere: not started, only referenced
	Optional  bool      `yaml:"optional"` // no image everywhere: services come up without it
	URI       string    `yaml:"uri"`      // where an external store lives
	Profiles  []string  `yaml:"profiles"`
	Resources Resources `yaml:"resources"`
	Storage   string    `yaml:"storage"` // volume size, e.g. 10Gi

	// postgres
	Extensions []string `yaml:"extensions"`
	// redis-cluster
	Nodes int `yaml:"nodes"`
	// kafka
	Topics []*Topic `yaml:"topics"`
	// clickhouse
	Databases []*ClickDatabase `yaml:"databases"`

	// Pull is the reference the Docker target pulls and runs (the upstream
	// image through the mirror, pinned by the images lock when the app
	// pins it); "" when the environment pulls nothing for this store.
	Pull string `yaml:"-"`
	// Fallback is the offline image auto falls back to when Pull fails.
	Fallback string `yaml:"-"`

	base string // image as the base catalog wrote it (applyEnv)
}

// Topic is a Kafka topic.
type Topic struct {
	Node        `yaml:"-"`
	Name        string   `yaml:"name"`
	Partitions  int      `yaml:"partitions"`
	Replication int      `yaml:"replication"`
	Retention   Duration `yaml:"retention"`
	Description string   `yaml:"description"`
}

// ClickDatabase is a ClickHouse database and its tables.
type ClickDatabase struct {
	Node   `yaml:"-"`
	Name   string        `yaml:"name"`
	Tables []*ClickTable `yaml:"tables"`
}

// ClickTable is a MergeTree table.
type ClickTable struct {
	Node        `yaml:"-"`
	Name        string   `yaml:"name"`
	Columns     []Column `yaml:"columns"`
	Engine      string   `yaml:"engine"` // default MergeTree()
	PartitionBy string   `yaml:"partitionBy"`
	OrderBy     string   `yaml:"orderBy"`
}

// Column is a ClickHouse column.
type Column struct {
	Node `yaml:"-"`
	Name string `yaml:"name"`
	Type string `yaml:"type"`
}

// Bootstrap is one one-shot setup step.
type Bootstrap struct {
	Node    `yaml:"-"`
	Name    string   `yaml:"name"`
	Step    string   `yaml:"step"`  // one of Steps; default Name
	Store   Name     `yaml:"store"` // the store it works on
	Needs   []Name   `yaml:"needs"` // other bootstraps that must finish first
	Timeout Duration `yaml:"timeout"`
}

// BreakingCategories are the values protos.breaking takes: buf's
// breaking-change rule categories, strictest first.
var BreakingCategories = []string{"FILE", "PACKAGE", "WIRE_JSON", "WIRE"}

// Protos describes the API contract registry.
type Protos struct {
	Node     `yaml:"-"`
	Version  string `yaml:"version"`  // the contract version, e.g. 1.0.0
	Root     string `yaml:"root"`     // import root, relative to the catalog
	Baseline string `yaml:"baseline"` // recorded previous descriptor set, for breaking-change checks
	Breaking string `yaml:"breaking"` // buf's rule category for the check: FILE, PACKAGE (default), WIRE_JSON, WIRE
}

// Environment is an overlay on the base catalog: local, ci, pr, ...
type Environment struct {
	Node         `yaml:"-"`
	APIVersion   string         `yaml:"apiVersion"`
	Kind         string         `yaml:"kind"`
	Metadata     Metadata       `yaml:"metadata"`
	Base         string         `yaml:"base"`    // base catalog, relative to this file
	Project      string         `yaml:"project"` // default nova-<name>
	HostPortBase int            `yaml:"hostPortBase"`
	Images       EnvImages      `yaml:"images"`
	Profiles     []string       `yaml:"profiles"`
	Resources    ResourcePolicy `yaml:"resources"`
	Namespace    string         `yaml:"namespace"` // kubernetes namespace; default the project name
	// KindOverlay names the kind overlay rendered from this environment
	// (kind/overlays/<name>: dev for a laptop cluster, pr for one namespace
	// per pull request); empty: none. It is how the kind renderer finds its
	// environments without hard-wiring their names.
	KindOverlay string `yaml:"kindOverlay"`
	// RequireInstance says the environment only runs as a named instance
	// (novadev --instance pr-123): one per pull request, never a shared one.
	RequireInstance bool `yaml:"requireInstance"`

	// File is where the overlay was read from ("" for the implicit default).
	File string `yaml:"-"`

	instance string // Options.Instance: appended to Project (applyEnv)
}

// EnvImages overrides where images come from.
type EnvImages struct {
	Node     `yaml:"-"`
	Registry string `yaml:"registry"`
	Tag      string `yaml:"tag"`
	// Placeholder, when set, runs this image for every service without a
	// build context (the real images are not available offline).
	Placeholder string            `yaml:"placeholder"`
	Services    map[string]string `yaml:"services"` // per-service full references
	Stores      map[string]string `yaml:"stores"`   // per-store full references
	// Source says where store images come from on the Docker target:
	// auto, upstream or offline (ImageSources); "" keeps stores' image as
	// written and pulls nothing. novadev --images overrides it.
	Source string `yaml:"source"`
	// Mirror rewrites pulls through a registry mirror, host[:port][/prefix]
	// (NOVADEV_IMAGE_MIRROR overrides it).
	Mirror string `yaml:"mirror"`
	// Lock is the images lock file, relative to the environment file
	// (default: images.lock beside the catalog).
	Lock string `yaml:"lock"`
}

// ResourcePolicy scales every request and limit.
type ResourcePolicy struct {
	Node  `yaml:"-"`
	Scale float64 `yaml:"scale"` // 0 or 1: unchanged
}
