package contract

import (
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/novadev/novadev/internal/catalog"
)

// ServiceEnv is the environment of service s on target t (docs/contracts.md):
// its name and port variables; for each store it uses (catalog.UsedStores),
// that store's variables (StoreVars); its gRPC dependencies (addresses, and
// the API each serves); what it serves itself (APIEnv); then the
// catalog's own env, which wins over a generated variable of the same name
// (it is what a person wrote for this service). On the Host target the
// addresses are the published ones, the proto folder is the catalog's own,
// and EnvHostMap maps the stores' announced addresses.
func ServiceEnv(c *catalog.Catalog, t Target, s *catalog.Service) Env {
	env := Env{{Name: EnvService, Value: Text(s.Name)}}
	for _, p := range s.Ports {
		env = env.add(PortVar(p.Name), Text(strconv.Itoa(p.Port)))
	}
	for _, u := range c.UsedStores(s) {
		for _, v := range StoreVars(c, t, s, u.Store) {
			env = env.add(v.Name, v.Value)
		}
	}
	var deps, routes []string
	for _, d := range c.ServiceDeps(s) {
		if c.Active(d.Profiles) {
			a := serviceAddr(t, d)
			if a == "" {
				continue // published nowhere the host reaches (Unreachable)
			}
			deps = append(deps, a)
			if d.API != "" {
				routes = append(routes, d.API+"="+a)
			}
		}
	}
	if len(deps) > 0 {
		env = env.add(EnvGRPCDependencies, Text(strings.Join(deps, ",")))
	}
	if len(routes) > 0 {
		env = env.add(EnvGRPCRoutes, Text(strings.Join(routes, ",")))
	}
	for _, v := range APIEnv(c, s) {
		if t == Host && v.Name == EnvProtoDir {
			v.Value = Text(hostProtoDir(c)) // the folder the stack mounts
		}
		env = env.add(v.Name, v.Value)
	}
	if t == Host {
		if m := HostMap(c, s); m != "" {
			env = env.add(EnvHostMap, Text(m))
		}
	}
	keys := make([]string, 0, len(s.Env))
	for k := range s.Env {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		env = env.set(k, Text(s.Env[k]))
	}
	return env
}

// MountsProtos reports whether service containers get the catalog's proto
// files at ProtoMount: whenever the catalog has any.
func MountsProtos(c *catalog.Catalog) bool {
	if c.Protos.Root == "" {
		return false
	}
	for _, s := range c.ActiveServices() {
		if len(s.Protos) > 0 {
			return true
		}
	}
	return false
}

// APIEnv says what a service serves: its API and where its proto files are
// (the renderers mount protos.root at ProtoMount when MountsProtos).
func APIEnv(c *catalog.Catalog, s *catalog.Service) Env {
	var env Env
	if s.API != "" {
		env = append(env, Var{Name: EnvGRPCAPI, Value: Text(s.API)})
	}
	if MountsProtos(c) {
		env = append(env, Var{Name: EnvProtoDir, Value: Text(ProtoMount)})
		if len(s.Protos) > 0 {
			env = append(env, Var{Name: EnvProtoFiles, Value: Text(strings.Join(s.Protos, ","))})
		}
	}
	return env
}

// StoreVars are what service s is told about one store st on target t:
//
//	postgres       <USER>_PASSWORD (the credential) and DATABASE_URL embedding
//	               it: its own database as its own user; only with a database
//	redis-cluster  REDIS_CLUSTER_NODES, every node
//	kafka          KAFKA_BROKERS, and KAFKA_TOPICS when it names topics
//	clickhouse     CLICKHOUSE_URL (HTTP); with uses.clickhouse also its own
//	               CLICKHOUSE_USER, CLICKHOUSE_PASSWORD (the credential) and
//	               CLICKHOUSE_DATABASE
//	elasticsearch  ELASTICSEARCH_URL
//	neo4j          NEO4J_URI
func StoreVars(c *catalog.Catalog, t Target, s *catalog.Service, st *catalog.Store) Env {
	var env Env
	switch st.Kind {
	case catalog.StorePostgres:
		addr := Address(t, st)
		if s.Database == nil || addr == "" {
			return nil
		}
		pw := Password(catalog.PasswordVar(s.Database.User))
		env = append(env,
			Var{Name: pw.Key, Value: Ref(pw)},
			Var{Name: EnvDatabaseURL, Value: Concat("postgres://"+s.Database.User+":", pw, "@"+addr+"/"+s.Database.Name+"?sslmode=disable")})
	case catalog.StoreRedisCluster:
		if a := Address(t, st); a != "" {
			env = append(env, Var{Name: EnvRedisNodes, Value: Text(a)})
		}
	case catalog.StoreKafka:
		a := Address(t, st)
		if a == "" {
			return nil
		}
		env = append(env, Var{Name: EnvKafkaBrokers, Value: Text(a)})
		if s.Uses.Kafka != nil && len(s.Uses.Kafka.Topics) > 0 {
			var topics []string
			for _, tp := range s.Uses.Kafka.Topics {
				topics = append(topics, tp.Value)
			}
			env = append(env, Var{Name: EnvKafkaTopics, Value: Text(strings.Join(topics, ","))})
		}
	case catalog.StoreClickHouse, catalog.StoreElasticsearch, catalog.StoreNeo4j:
		if st.Kind == catalog.StoreClickHouse && s.Uses.ClickHouse != nil && URL(t, st, "http") != "" {
			pw := Password(catalog.PasswordVar(ClickHouseUserName(s.Name)))
			env = append(env,
				Var{Name: EnvClickHouseUser, Value: Text(ClickHouseUserName(s.Name))},
				Var{Name: EnvClickHousePassword, Value: Ref(pw)},
				Var{Name: EnvClickHouseDatabase, Value: Text(s.Uses.ClickHouse.Database.Value)})
		}
		name := map[string]string{
			catalog.StoreClickHouse:    EnvClickHouseURL,
			catalog.StoreElasticsearch: EnvElasticsearchURL,
			catalog.StoreNeo4j:         EnvNeo4jURI,
		}[st.Kind]
		if u := URL(t, st, schemes[st.Kind]); u != "" {
			env = append(env, Var{Name: name, Value: Text(u)})
		}
	}
	return env
}

// StoreEnv is the contract part of a store container's environment: the
// PostgreSQL superuser's password for the first start; ClickHouse's admin
// identity and service users (clickHouseStoreEnv). Store settings that are
// not shared (PGDATA, single-node flags) are each renderer's.
func StoreEnv(c *catalog.Catalog, st *catalog.Store) Env {
	switch st.Kind {
	case catalog.StorePostgres:
		return Env{{Name: EnvPostgresPassword, Value: Ref(Password(catalog.SuperuserPasswordVar))}}
	case catalog.StoreClickHouse:
		return clickHouseStoreEnv(c)
	}
	return nil
}

// Invocation is how a bootstrap container runs `novadev bootstrap <step>`:
// the arguments after the image's novadev entrypoint and its environment.
type Invocation struct {
	Args []string
	Env  Env
}

// Bootstrap is the invocation of bootstrap bs on target t.
//
// Compose mounts the catalog folder with every environment file at
// ComposeCatalogMount and names the catalog and environment in
// NOVADEV_CATALOG and NOVADEV_ENV. A kind Job's volume holds the base
// catalog alone (it serves every overlay), so the Job passes --catalog and
// --env= (the bare catalog, said explicitly rather than by a missing file).
// On both, the store's address is in the bootstrap variables (NOVA_*_ADDR,
// ...), and the PostgreSQL steps get the superuser's and every service
// user's password (they create the users and log in as them).
func Bootstrap(c *catalog.Catalog, t Target, bs *catalog.Bootstrap) Invocation {
	inv := Invocation{Args: []string{"bootstrap", bs.Step}}
	file := path.Join(CatalogMount(t), filepath.Base(c.File))
	if t == Kind {
		inv.Args = append(inv.Args, "--catalog", file, "--env=")
	} else {
		inv.Env = append(inv.Env, Var{Name: EnvCatalog, Value: Text(file)})
		if c.Env != nil && c.Env.File != "" {
			inv.Env = append(inv.Env, Var{Name: EnvEnvironment, Value: Text(strings.TrimSuffix(filepath.Base(c.Env.File), filepath.Ext(c.Env.File)))})
		}
	}
	inv.Env = append(inv.Env, BootstrapStoreEnv(c, t, c.Stores[bs.Store.Value])...)
	return inv
}

// BootstrapStoreEnv are the bootstrap variables for one store (nil for a
// step without a store, or an external store).
func BootstrapStoreEnv(c *catalog.Catalog, t Target, st *catalog.Store) Env {
	if st == nil {
		return nil
	}
	a := Address(t, st)
	if a == "" {
		return nil
	}
	switch st.Kind {
	case catalog.StorePostgres:
		env := Env{{Name: EnvBootstrapPostgres, Value: Text(a)}}
		for _, cr := range postgresCredentials(c) {
			env = append(env, Var{Name: cr.Key, Value: Ref(cr)})
		}
		return env
	case catalog.StoreRedisCluster:
		return Env{{Name: EnvBootstrapRedisNodes, Value: Text(a)}}
	case catalog.StoreKafka:
		return Env{{Name: EnvBootstrapKafka, Value: Text(a)}}
	case catalog.StoreClickHouse:
		// the admin's password to log in, the service users' for a server
		// where clickhouse-init creates them (SQL-driven access control)
		env := Env{{Name: EnvBootstrapClickHouse, Value: Text(URL(t, st, "http"))}}
		for _, cr := range ClickHouseCredentials(c) {
			env = append(env, Var{Name: cr.Key, Value: Ref(cr)})
		}
		return env
	}
	return nil
}
