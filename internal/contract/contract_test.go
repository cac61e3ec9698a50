package contract

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/novadev/novadev/internal/catalog"
)

func nova(t *testing.T, env string) *catalog.Catalog {
	t.Helper()
	c, err := catalog.Load("../../envs/nova.yaml", catalog.Options{Env: env})
	require.NoError(t, err)
	return c
}

func dummy(cr Credential) string { return "pw-" + strings.ToLower(cr.Key) }

func TestServiceEnvOfFeedService(t *testing.T) {
	c := nova(t, "local")
	feed := c.Services["feed-service"]
	for _, target := range Targets {
		env := ServiceEnv(c, target, feed)
		require.Equal(t, []string{
			EnvService, EnvGRPCPort, EnvMetricsPort,
			EnvKafkaBrokers, EnvKafkaTopics, "NOVA_FEED_SVC_PASSWORD", EnvDatabaseURL, // stores by name
			EnvGRPCDependencies, EnvGRPCRoutes, EnvGRPCAPI, EnvProtoDir, EnvProtoFiles,
		}, env.Names(), target)
		got := env.Resolve(dummy)
		require.Equal(t, "postgres://nova_feed_svc:pw-nova_feed_svc_password@postgres:5432/nova_feed?sslmode=disable", got[EnvDatabaseURL], target)
		require.Equal(t, "feed.post-published,feed.fanout-requests,feed.impressions", got[EnvKafkaTopics])
		require.Equal(t, "content-service:50051,user-service:50051", got[EnvGRPCDependencies])
		require.Equal(t, "kafka:9092", got[EnvKafkaBrokers])
		require.Equal(t, "nova.content.v1.ContentService=content-service:50051,nova.user.v1.UserService=user-service:50051", got[EnvGRPCRoutes])
		require.Equal(t, "nova.feed.v1.FeedService", got[EnvGRPCAPI])
		require.Equal(t, ProtoMount, got[EnvProtoDir])
		require.Equal(t, "nova/feed/v1/feed.proto", got[EnvProtoFiles])
		// the password is a reference, never a value
		pw, _ := env.Get("NOVA_FEED_SVC_PASSWORD")
		cr, whole := pw.Whole()
		require.True(t, whole)
		require.Equal(t, Credential{Secret: CredentialsSecret, Key: "NOVA_FEED_SVC_PASSWORD"}, cr)
		url, _ := env.Get(EnvDatabaseURL)
		require.Equal(t, []Credential{cr}, url.Credentials())
		require.Equal(t, "NOVA_FEED_SVC_PASSWORD", env.Holder(cr, 6), "the holder comes before DATABASE_URL")
	}
}

func TestAddressesDifferByTargetOnlyForRedis(t *testing.T) {
	c := nova(t, "local")
	for name, want := range map[string][2]string{
		"postgres":   {"postgres:5432", "postgres:5432"},
		"redis":      {"redis-1:7001,redis-2:7002,redis-3:7003", "redis-0.redis:7001,redis-1.redis:7001,redis-2.redis:7001"},
		"kafka":      {"kafka:9092", "kafka:9092"},
		"clickhouse": {"clickhouse:8123", "clickhouse:8123"},
		"neo4j":      {"neo4j:7687", "neo4j:7687"}, // external: the URI's host and port
	} {
		st := c.Stores[name]
		require.Equal(t, want[0], Address(Compose, st), name)
		require.Equal(t, want[1], Address(Kind, st), name)
	}
	require.Nil(t, Endpoints(Kind, c.Stores["neo4j"]), "an external store runs nowhere")
	require.Equal(t, "bolt://neo4j:7687", URL(Kind, c.Stores["neo4j"], "bolt"))
	eps := Endpoints(Kind, c.Stores["redis"])
	require.Equal(t, Endpoint{Name: "redis-0", Host: "redis-0.redis", Port: 7001}, eps[0])
}

func TestGatewayGetsEveryPortVariable(t *testing.T) {
	c := nova(t, "local")
	env := ServiceEnv(c, Kind, c.Services["graphql-gateway"]).Resolve(dummy)
	require.Equal(t, "8080", env[EnvHTTPPort], "the placeholder must know where to answer HTTP")
	require.Equal(t, "50051", env[EnvGRPCPort])
	require.Equal(t, "9090", env[EnvMetricsPort])
	require.Equal(t, "MY_ADMIN_PORT", PortVar("my-admin"))
	require.Equal(t, ProtoMount, env[EnvProtoDir], "the gateway builds its schema from every proto file")
	require.NotContains(t, env, EnvProtoFiles, "none of its own: it loads them all")
	require.Len(t, strings.Split(env[EnvGRPCRoutes], ","), 15, "every service it calls, by API")
}

// The contract names an optional store's address everywhere, also where the
// environment has no image of it (search-service then runs degraded): a
// service is never silently rewired.
func TestOptionalStoreAddressEverywhere(t *testing.T) {
	search := "search-service"
	for _, env := range []string{"local", "ci", "pr"} {
		c := nova(t, env)
		v, ok := ServiceEnv(c, Compose, c.Services[search]).Get(EnvElasticsearchURL)
		require.True(t, ok, env)
		require.Equal(t, "http://elasticsearch:9200", v.String(), env)
	}
}

func TestCatalogEnvWinsInPlace(t *testing.T) {
	c := nova(t, "local")
	s := *c.Services["user-service"]
	s.Env = map[string]string{"KAFKA_BROKERS": "elsewhere:1", "GRPC_PORT": "1234", "PRICE": "$1"}
	env := ServiceEnv(c, Kind, &s)
	n := 0
	for _, name := range env.Names() {
		if name == EnvGRPCPort {
			n++
		}
	}
	require.Equal(t, 1, n, "a catalog variable replaces the generated one, it is not a second one")
	got := env.Resolve(dummy)
	require.Equal(t, "1234", got[EnvGRPCPort])
	require.Equal(t, "$1", got["PRICE"], "the contract holds literal text; renderers escape it")
}

func TestBootstrapInvocations(t *testing.T) {
	c := nova(t, "local")
	var pgInit, redis *catalog.Bootstrap
	for _, b := range c.Bootstraps {
		switch b.Name {
		case "postgres-init":
			pgInit = b
		case "redis-cluster-init":
			redis = b
		}
	}
	inv := Bootstrap(c, Compose, pgInit)
	require.Equal(t, []string{"bootstrap", "postgres-init"}, inv.Args)
	got := inv.Env.Resolve(dummy)
	require.Equal(t, "/catalog/nova.yaml", got[EnvCatalog])
	require.Equal(t, "local", got[EnvEnvironment])
	require.Equal(t, "postgres:5432", got[EnvBootstrapPostgres])
	require.Len(t, postgresCredentials(c), 16)
	for _, cr := range postgresCredentials(c) {
		require.Equal(t, dummy(cr), got[cr.Key], "postgres-init creates and logs in as every user")
	}
	require.NotContains(t, got, "NOVA_CH_ADMIN_PASSWORD", "PostgreSQL steps get no ClickHouse secret")
	inv = Bootstrap(c, Kind, redis)
	require.Equal(t, []string{"bootstrap", "redis-cluster-init", "--catalog", "/etc/novadev/catalog/nova.yaml", "--env="}, inv.Args)
	require.Equal(t, map[string]string{EnvBootstrapRedisNodes: "redis-0.redis:7001,redis-1.redis:7001,redis-2.redis:7001"}, inv.Env.Resolve(dummy))
}

func TestStoreEnv(t *testing.T) {
	c := nova(t, "local")
	require.Equal(t, map[string]string{EnvPostgresPassword: "pw-nova_postgres_password"}, StoreEnv(c, c.Stores["postgres"]).Resolve(dummy))
	require.Nil(t, StoreEnv(c, c.Stores["redis"]))
}

// TestClickHouseCredentials: the consuming service (analytics-service, the
// only one with uses.clickhouse) gets its own user, password reference and
// database; the store container gets the admin and the users list; the
// bootstrap gets the admin's and the users' passwords; every one is a
// credential of the stack (so compose/.env and the kind Secret hold it).
func TestClickHouseCredentials(t *testing.T) {
	c := nova(t, "local")
	users := ClickHouseUsers(c)
	require.Equal(t, []ClickHouseUser{{Service: "analytics-service", User: "nova_ch_analytics_service", Database: "nova_analytics",
		Password: Password("NOVA_CH_ANALYTICS_SERVICE_PASSWORD")}}, users)
	require.Equal(t, []Credential{Password("NOVA_CH_ADMIN_PASSWORD"), Password("NOVA_CH_ANALYTICS_SERVICE_PASSWORD")}, ClickHouseCredentials(c))
	all := Credentials(c)
	require.Len(t, all, 18)
	require.Equal(t, ClickHouseCredentials(c), all[16:])

	ch := c.Stores["clickhouse"]
	for _, tg := range Targets {
		env := ServiceEnv(c, tg, c.Services["analytics-service"]).Resolve(dummy)
		require.Equal(t, "nova_ch_analytics_service", env[EnvClickHouseUser], tg)
		require.Equal(t, "pw-nova_ch_analytics_service_password", env[EnvClickHousePassword], tg)
		require.Equal(t, "nova_analytics", env[EnvClickHouseDatabase], tg)
		pw, _ := ServiceEnv(c, tg, c.Services["analytics-service"]).Get(EnvClickHousePassword)
		cr, whole := pw.Whole()
		require.True(t, whole, "the password is a reference, never a value")
		require.Equal(t, Password("NOVA_CH_ANALYTICS_SERVICE_PASSWORD"), cr)
		other := ServiceEnv(c, tg, c.Services["feed-service"]).Resolve(dummy)
		require.NotContains(t, other, EnvClickHouseUser, "only a service that uses ClickHouse gets an identity")

		inv := BootstrapStoreEnv(c, tg, ch).Resolve(dummy)
		require.Equal(t, "pw-nova_ch_admin_password", inv["NOVA_CH_ADMIN_PASSWORD"], tg)
		require.Equal(t, "pw-nova_ch_analytics_service_password", inv["NOVA_CH_ANALYTICS_SERVICE_PASSWORD"], tg)
	}
	require.Equal(t, map[string]string{
		EnvClickHouseStoreUser:               "nova_ch_admin",
		EnvClickHouseStorePassword:           "pw-nova_ch_admin_password",
		EnvClickHouseAccessManagement:        "1",
		EnvClickHouseDefaultLocal:            "1",
		"NOVA_CH_ANALYTICS_SERVICE_PASSWORD": "pw-nova_ch_analytics_service_password",
		EnvClickHouseStoreUsers:              "nova_ch_analytics_service:nova_analytics:NOVA_CH_ANALYTICS_SERVICE_PASSWORD",
	}, StoreEnv(c, ch).Resolve(dummy))
}

func TestValueRendering(t *testing.T) {
	cr := Password("K")
	v := Concat("a$b:", cr, "@c", Text("$d"))
	require.Equal(t, "a$b:${K}@c$d", v.String())
	require.Equal(t, "[a$$b:]<K>[@c][$$d]", v.Render(func(s string) string { return "[" + strings.ReplaceAll(s, "$", "$$") + "]" },
		func(c Credential) string { return "<" + c.Key + ">" }))
	_, whole := v.Whole()
	require.False(t, whole)
	require.Equal(t, "", Env{{Name: "X", Value: v}}.Holder(cr, 1), "no holder before it")
}

// expand is the kubelet's expansion of an env value (k8s third_party
// expansion): $$ is a literal $, $(NAME) of a defined variable its value, and
// anything else stays as written.
func expand(s string, vars map[string]string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '$' || i+1 == len(s) {
			b.WriteByte(s[i])
			continue
		}
		switch s[i+1] {
		case '$':
			b.WriteByte('$')
			i++
		case '(':
			if j := strings.IndexByte(s[i:], ')'); j > 0 {
				if v, ok := vars[s[i+2:i+j]]; ok {
					b.WriteString(v)
					i += j
					continue
				}
			}
			b.WriteByte('$')
		default:
			b.WriteByte('$')
		}
	}
	return b.String()
}

// FuzzValueRender: whatever the literal text around a credential, the form
// the kind renderer writes ($ escaped as $$, the credential as $(HOLDER))
// expands in the kubelet to exactly the text with the secret in its place.
func FuzzValueRender(f *testing.F) {
	f.Add("postgres://u:", "@h:5432/db", "KEY")
	f.Add("$(X)", "$$", "")
	f.Add("$", "(K)", "K")
	f.Fuzz(func(t *testing.T, before, after, key string) {
		v := Concat(before, Password(key), after)
		if got := v.Resolve(func(Credential) string { return "S" }); got != before+"S"+after {
			t.Fatalf("resolve %q", got)
		}
		written := v.Render(func(s string) string { return strings.ReplaceAll(s, "$", "$$") }, func(Credential) string { return "$(HOLDER)" })
		if got := expand(written, map[string]string{"HOLDER": "S"}); got != before+"S"+after {
			t.Fatalf("%q expands to %q, want %q", written, got, before+"S"+after)
		}
	})
}
