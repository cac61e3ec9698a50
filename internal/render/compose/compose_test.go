package compose

import (
	"bytes"
	"context"
	"flag"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/stretchr/testify/require"

	"github.com/novadev/novadev/internal/catalog"
	"github.com/novadev/novadev/internal/render"
	"github.com/novadev/novadev/internal/secrets"
)

var update = flag.Bool("update", false, "rewrite golden files and the committed compose/ files")

// repoRoot is the repository root, seen from this package's folder.
const repoRoot = "../../.."

func loadNova(t *testing.T) *catalog.Set {
	t.Helper()
	set, err := catalog.LoadSet(filepath.Join(repoRoot, "envs", "nova.yaml"))
	require.NoError(t, err)
	return set
}

func loadShop(t *testing.T) *catalog.Catalog {
	t.Helper()
	c, err := catalog.Load("testdata/synthetic/shop.yaml", catalog.Options{Env: "dev"})
	require.NoError(t, err)
	return c
}

// golden compares got with testdata/golden/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
		require.NoError(t, os.WriteFile(path, got, 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run go test ./internal/render/compose -update")
	require.Equal(t, string(want), string(got), "%s differs from the rendering (go test ./internal/render/compose -update)", path)
}

// dummyEnv supplies a recognisable value for every secret the catalog needs.
func dummyEnv(c *catalog.Catalog) map[string]string {
	env := map[string]string{}
	for _, n := range secrets.Names(c) {
		env[n] = "dummy-" + strings.ToLower(n)
	}
	return env
}

func reload(t *testing.T, data []byte, env map[string]string) *types.Project {
	t.Helper()
	p, err := Load(context.Background(), data, t.TempDir(), env)
	require.NoError(t, err)
	return p
}

func TestRenderGolden(t *testing.T) {
	set := loadNova(t)
	files, err := Render(set)
	require.NoError(t, err)
	require.Equal(t, []string{"compose/docker-compose.ci.yaml", "compose/docker-compose.pr.yaml", "compose/docker-compose.yaml"}, files.Paths())
	for _, p := range files.Paths() {
		golden(t, filepath.Base(p), files[p])
		require.True(t, bytes.HasPrefix(files[p], []byte("# "+render.Header+"\n")), "%s must start with the header", p)
	}
	again, err := Render(loadNova(t))
	require.NoError(t, err)
	require.Equal(t, files, again, "rendering twice must give the same bytes")
	if *update {
		_, err := render.Write(repoRoot, files)
		require.NoError(t, err)
	}
}

// TestCommittedFilesAreFresh is the drift check: compose/*.yaml in the
// repository must be what the catalog renders today.
func TestCommittedFilesAreFresh(t *testing.T) {
	files, err := Render(loadNova(t))
	require.NoError(t, err)
	committed, err := filepath.Glob(filepath.Join(repoRoot, Dir, "docker-compose*.yaml"))
	require.NoError(t, err)
	var names []string
	for _, f := range committed {
		names = append(names, Dir+"/"+filepath.Base(f))
	}
	require.Equal(t, files.Paths(), names, "compose/ holds exactly one file per environment")
	for _, p := range files.Paths() {
		on, err := os.ReadFile(filepath.Join(repoRoot, filepath.FromSlash(p)))
		require.NoError(t, err)
		require.Equal(t, string(files[p]), string(on), "%s is stale: run make render (or go test ./internal/render/compose -update)", p)
	}
}

func TestReloadWithComposeLoader(t *testing.T) {
	set := loadNova(t)
	for _, envName := range set.EnvNames() {
		t.Run(envName, func(t *testing.T) {
			c := set.Envs[envName]
			src, err := Project(c)
			require.NoError(t, err)
			data, err := Marshal(src)
			require.NoError(t, err)
			env := dummyEnv(c)
			p := reload(t, data, env)

			require.Equal(t, c.Env.Project, p.Name)
			all := append(p.ServiceNames(), disabled(p)...)
			sort.Strings(all)
			require.Equal(t, src.ServiceNames(), all, "every rendered service survives the reload")
			require.Equal(t, c.Env.Project, p.Networks[NetworkKey].Name)

			// no secret value is ever in the bytes, but they reach the containers
			for name, v := range env {
				require.False(t, strings.Contains(string(data), v), "the value of %s is in the file", name)
			}
			feed := service(t, p, "feed-service")
			require.Equal(t, "postgres://nova_feed_svc:dummy-nova_feed_svc_password@postgres:5432/nova_feed?sslmode=disable", *feed.Environment["DATABASE_URL"])
			require.Equal(t, "dummy-nova_postgres_password", *service(t, p, "postgres").Environment["POSTGRES_PASSWORD"])

			// every published port on loopback only
			published := 0
			for _, name := range p.ServiceNames() {
				for _, pt := range p.Services[name].Ports {
					require.Equal(t, "127.0.0.1", pt.HostIP, "%s publishes %s on %q", name, pt.Published, pt.HostIP)
					published++
				}
			}
			require.Greater(t, published, 30)

			// graph edges became the right conditions
			for _, tc := range []struct{ from, to, condition string }{
				{"feed-service", "user-service", types.ServiceConditionHealthy},
				{"feed-service", "content-service", types.ServiceConditionHealthy},
				{"feed-service", "kafka", types.ServiceConditionHealthy},
				{"feed-service", "kafka-topics", types.ServiceConditionCompletedSuccessfully},
				{"feed-service", "migrations", types.ServiceConditionCompletedSuccessfully},
				{"feed-service", "postgres", types.ServiceConditionHealthy},
				{"ranking-service", "redis-1", types.ServiceConditionHealthy},
				{"ranking-service", "redis-3", types.ServiceConditionHealthy},
				{"ranking-service", "redis-cluster-init", types.ServiceConditionCompletedSuccessfully},
				{"migrations", "postgres-init", types.ServiceConditionCompletedSuccessfully},
				{"migrations", "postgres", types.ServiceConditionHealthy},
				{"redis-cluster-init", "redis-2", types.ServiceConditionHealthy},
				{"graphql-gateway", "realtime-chat-service", types.ServiceConditionHealthy},
			} {
				dep, ok := p.Services[tc.from].DependsOn[tc.to]
				require.True(t, ok, "%s should depend on %s", tc.from, tc.to)
				require.Equal(t, tc.condition, dep.Condition, "%s -> %s", tc.from, tc.to)
			}
			require.NotContains(t, p.Services["graph-service"].DependsOn, "neo4j", "an external store is no container")
			require.NotContains(t, p.ServiceNames(), "neo4j")

			// bootstraps are one-shot novadev containers
			for _, step := range []string{"postgres-init", "migrations", "redis-cluster-init", "kafka-topics", "clickhouse-init", "proto-validate"} {
				b := service(t, p, step)
				require.Equal(t, BootstrapImage, b.Image)
				require.Equal(t, types.ShellCommand{"bootstrap", step}, b.Command)
				require.Equal(t, "no", b.Restart)
				require.Equal(t, "bootstrap", b.Labels[LabelKind])
			}
			require.Equal(t, "redis-1:7001,redis-2:7002,redis-3:7003", *service(t, p, "redis-cluster-init").Environment["NOVA_REDIS_NODES"])

			// every container carries the ownership labels and a stop grace period
			for _, name := range p.ServiceNames() {
				s := p.Services[name]
				require.Equal(t, c.Env.Project, s.Labels[LabelProject], name)
				require.Equal(t, envName, s.Labels[LabelEnv], name)
				require.NotEmpty(t, s.Labels[LabelNode], name)
				require.NotNil(t, s.StopGracePeriod, name)
				if s.Labels[LabelKind] != "bootstrap" {
					require.NotNil(t, s.HealthCheck, name)
					require.Nil(t, s.HealthCheck.StartInterval, "%s: Engine 20.10 refuses start_interval", name)
				}
			}
			require.Equal(t, "redis", p.Services["redis-2"].Labels[LabelNode])
		})
	}
}

// disabled lists services the loader set aside because their profile is not
// enabled (they are still in the file).
func disabled(p *types.Project) []string {
	var out []string
	for n := range p.DisabledServices {
		out = append(out, n)
	}
	return out
}

func service(t *testing.T, p *types.Project, name string) types.ServiceConfig {
	t.Helper()
	s, ok := p.Services[name]
	require.True(t, ok, "no service %s", name)
	return s
}

func TestMissingSecretIsAClearError(t *testing.T) {
	set := loadNova(t)
	files, err := Render(set)
	require.NoError(t, err)
	_, err = Load(context.Background(), files[FileName(DefaultEnv)], t.TempDir(), map[string]string{})
	require.Error(t, err)
	require.Contains(t, err.Error(), MissingCredential)
}

// Elasticsearch is a compose service in every environment and search-service
// depends on it (required: false) and is given its address; where the
// environment has no image of it (the offline set) it sits behind a profile
// named after it, so plain `docker compose up` still starts everything else.
func TestOptionalStore(t *testing.T) {
	set := loadNova(t)
	for env, profiles := range map[string][]string{"local": {"elasticsearch"}, "ci": {"elasticsearch"}, "pr": nil} {
		p, err := Project(set.Envs[env])
		require.NoError(t, err)
		require.Contains(t, p.ServiceNames(), "elasticsearch", env)
		es := p.Services["elasticsearch"]
		require.Equal(t, profiles, es.Profiles, env)
		dep, ok := p.Services["search-service"].DependsOn["elasticsearch"]
		require.True(t, ok, "%s: search-service depends on elasticsearch", env)
		require.False(t, dep.Required, "%s: search-service starts without the optional store", env)
		require.Equal(t, types.ServiceConditionHealthy, dep.Condition)
		require.Equal(t, "http://elasticsearch:9200", *p.Services["search-service"].Environment["ELASTICSEARCH_URL"], "%s: the contract names it, nothing is rewired", env)
		require.Equal(t, types.HealthCheckTest{"CMD", "curl", "-fsS", "http://127.0.0.1:9200/_cluster/health?wait_for_status=yellow&timeout=1s"}, es.HealthCheck.Test)
	}

	// without the profile the loader keeps search-service and sets elasticsearch aside
	local, err := Project(set.Envs["local"])
	require.NoError(t, err)
	data, err := Marshal(local)
	require.NoError(t, err)
	require.Contains(t, string(data), "# Optional parts: add --profile elasticsearch to start them.\n")
	p := reload(t, data, dummyEnv(set.Envs["local"]))
	require.Contains(t, p.ServiceNames(), "search-service")
	require.Contains(t, disabled(p), "elasticsearch")
}

func TestSyntheticShape(t *testing.T) {
	c := loadShop(t)
	p, err := Project(c)
	require.NoError(t, err)
	require.Equal(t, []string{"migrations", "orders", "postgres", "postgres-init", "users"}, p.ServiceNames())
	require.Equal(t, []string{"postgres-data"}, slices.Sorted(maps.Keys(p.Volumes)))

	orders := p.Services["orders"]
	require.Equal(t, "novadev/placeholder:dev", orders.Image)
	require.Equal(t, types.HealthCheckTest{"CMD", "/placeholder", "-healthcheck"}, orders.HealthCheck.Test)
	require.Equal(t, types.DependsOnConfig{
		"migrations": {Condition: types.ServiceConditionCompletedSuccessfully, Required: true},
		"postgres":   {Condition: types.ServiceConditionHealthy, Required: true},
		"users":      {Condition: types.ServiceConditionHealthy, Required: true},
	}, orders.DependsOn)
	require.Equal(t, []types.ServicePortConfig{{Target: 50051, Published: "16101", HostIP: "127.0.0.1", Protocol: "tcp"}}, orders.Ports)
	require.Equal(t, "postgres://nova_orders_svc:${NOVA_ORDERS_SVC_PASSWORD:?"+MissingCredential+"}@postgres:5432/nova_orders?sslmode=disable", *orders.Environment["DATABASE_URL"])
	require.Equal(t, "users:50051", *orders.Environment["NOVA_GRPC_DEPENDENCIES"])
	require.Equal(t, "$$1.00", *orders.Environment["PRICE_FORMAT"], "a literal $ is escaped for compose")
	require.Equal(t, types.NanoCPUs(0.5), orders.Deploy.Resources.Limits.NanoCPUs)
	require.Equal(t, types.UnitBytes(256<<20), orders.Deploy.Resources.Limits.MemoryBytes)

	init := p.Services["postgres-init"]
	require.Equal(t, types.DependsOnConfig{"postgres": {Condition: types.ServiceConditionHealthy, Required: true}}, init.DependsOn)
	require.Equal(t, "postgres:5432", *init.Environment["NOVA_POSTGRES_ADDR"])
	require.Equal(t, "/catalog/shop.yaml", *init.Environment["NOVADEV_CATALOG"])
	require.Equal(t, "dev", *init.Environment["NOVADEV_ENV"])
	abs, err := filepath.Abs("testdata/synthetic")
	require.NoError(t, err)
	require.Equal(t, abs, init.Volumes[0].Source, "Project holds absolute paths for the supervisor")

	data, err := Marshal(p)
	require.NoError(t, err)
	golden(t, "synthetic.yaml", data)
	require.Contains(t, string(data), "source: ../synthetic\n", "the file holds paths relative to its folder")

	back := reload(t, data, dummyEnv(c))
	require.Equal(t, "$1.00", *back.Services["orders"].Environment["PRICE_FORMAT"])
	require.Equal(t, types.UnitBytes(256<<20), back.Services["orders"].Deploy.Resources.Limits.MemoryBytes)
}

func TestQuantities(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want float64
	}{{"250m", 0.25}, {"1", 1}, {"0.5", 0.5}, {"1500m", 1.5}} {
		got, err := parseCPU(tc.in)
		require.NoError(t, err)
		require.InDelta(t, tc.want, got, 1e-9, tc.in)
	}
	for _, tc := range []struct {
		in   string
		want int64
	}{{"256Mi", 256 << 20}, {"1Gi", 1 << 30}, {"1G", 1e9}, {"64Ki", 64 << 10}, {"1000", 1000}} {
		got, err := parseMemory(tc.in)
		require.NoError(t, err)
		require.Equal(t, tc.want, got, tc.in)
	}
	for _, tc := range []struct {
		in   int64
		want string
	}{{256 << 20, "256m"}, {1 << 30, "1g"}, {1536 << 20, "1536m"}, {1e9, "1000000000"}, {64 << 10, "64k"}} {
		require.Equal(t, tc.want, bytesUnit(tc.in))
	}
	_, err := parseCPU("lots")
	require.Error(t, err)
}

func TestDuplicateComposeNameIsAnError(t *testing.T) {
	c := loadShop(t)
	clash := *c.Services["users"]
	clash.Name = "redis-1"
	c.Services["redis-1"] = &clash
	c.Stores["redis"] = &catalog.Store{Name: "redis", Kind: catalog.StoreRedisCluster, Image: "redis:7.0", Port: 7001, Nodes: 2}
	// the graph is built from the catalog: a store named redis with a node
	// called redis-1 collides with a service of that name
	_, err := Project(c)
	require.Error(t, err)
	require.Contains(t, err.Error(), `"redis-1"`)
}
