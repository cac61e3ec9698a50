package tilt_test

import (
	"flag"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/novadev/novadev/internal/catalog"
	"github.com/novadev/novadev/internal/graph"
	"github.com/novadev/novadev/internal/render"
	"github.com/novadev/novadev/internal/render/tilt"
)

var update = flag.Bool("update", false, "rewrite the golden file and the committed Tiltfile")

const (
	repoRoot     = "../../.."
	novaCatalog  = repoRoot + "/envs/nova.yaml"
	buildRoot    = "testdata/build"
	buildCatalog = buildRoot + "/envs/app.yaml"
	buildGolden  = buildRoot + "/Tiltfile.golden"
)

func loadSet(t *testing.T, path string) *catalog.Set {
	t.Helper()
	set, err := catalog.LoadSet(path)
	require.NoError(t, err)
	return set
}

func renderSet(t *testing.T, set *catalog.Set) []byte {
	t.Helper()
	files, err := tilt.Render(set)
	require.NoError(t, err)
	require.Equal(t, []string{"Tiltfile"}, files.Paths())
	return files["Tiltfile"]
}

// compareOrUpdate compares got with the file at path, or rewrites the file
// under -update.
func compareOrUpdate(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		require.NoError(t, os.WriteFile(path, got, 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run go test ./internal/render/tilt -update")
	require.Equal(t, string(want), string(got), "%s is stale: run go test ./internal/render/tilt -update (or make render)", path)
}

func TestGolden(t *testing.T) {
	got := renderSet(t, loadSet(t, buildCatalog))
	require.True(t, strings.HasPrefix(string(got), "# "+render.Header+"\n"), "first line is the generated-file header")
	compareOrUpdate(t, buildGolden, got)
}

// TestCommittedTiltfileIsFresh is the drift check: the Tiltfile at the
// repository root is what the catalog renders today.
func TestCommittedTiltfileIsFresh(t *testing.T) {
	compareOrUpdate(t, repoRoot+"/Tiltfile", renderSet(t, loadSet(t, novaCatalog)))
}

func TestDeterministic(t *testing.T) {
	first := renderSet(t, loadSet(t, novaCatalog))
	for range 3 {
		require.Equal(t, string(first), string(renderSet(t, loadSet(t, novaCatalog))))
	}
	// the path the catalog is loaded by leaves no trace in the output
	abs, err := filepath.Abs(novaCatalog)
	require.NoError(t, err)
	require.Equal(t, string(first), string(renderSet(t, loadSet(t, abs))))
}

func TestRenderNeedsAnEnvironment(t *testing.T) {
	set := loadSet(t, novaCatalog)
	_, err := tilt.Render(&catalog.Set{Base: set.Base})
	require.ErrorContains(t, err, "no environments")
}

// expectation is what the test derives from the graph itself, following the
// documented mapping (docs/tilt.md), without the renderer's helpers.
type expectation struct {
	resources map[string]*tiltResource
	node      map[string]string // Tilt resource -> graph node
}

// expect maps c.Graph() onto Tilt resources for one target: every node is
// one resource named like it, except a Redis Cluster in compose (one
// resource per node container, <store>-1..N); external stores and stores
// without an image (or with none in this environment) are local_resource
// stand-ins; labels by node kind.
func expect(c *catalog.Catalog, target string) expectation {
	g := c.Graph()
	names := map[string][]string{}
	e := expectation{resources: map[string]*tiltResource{}, node: map[string]string{}}
	runs := func(it *catalog.Item) bool {
		return it.Kind != catalog.KindStore || (!it.Store.External && it.Store.Image != "" && c.Unavailable(it.Name) == "")
	}
	for _, n := range g.Names() {
		it, _ := g.Node(n)
		names[n] = []string{n}
		if target == "compose" && it.Kind == catalog.KindStore && it.Store.Kind == catalog.StoreRedisCluster && runs(it) {
			names[n] = nil
			for i := 1; i <= it.Store.Nodes; i++ {
				names[n] = append(names[n], fmt.Sprintf("%s-%d", n, i))
			}
		}
	}
	for _, n := range g.Names() {
		it, _ := g.Node(n)
		var deps []string
		for _, d := range g.Needs(n) {
			deps = append(deps, names[d]...)
		}
		sort.Strings(deps)
		fn := map[string]string{"compose": "dc_resource", "kind": "k8s_resource"}[target]
		if !runs(it) {
			fn = "local_resource"
		}
		label := map[catalog.NodeKind]string{catalog.KindService: "services", catalog.KindStore: "stores", catalog.KindBootstrap: "bootstraps"}[it.Kind]
		for _, r := range names[n] {
			e.resources[r] = &tiltResource{Fn: fn, Deps: deps, Labels: []string{label}}
			e.node[r] = n
		}
	}
	return e
}

// withoutDetails drops what TestResourcesMirrorTheGraph does not compare
// (ports and commands have their own tests).
func withoutDetails(rs map[string]*tiltResource) map[string]*tiltResource {
	out := map[string]*tiltResource{}
	for n, r := range rs {
		deps := slices.Clone(r.Deps)
		if len(deps) == 0 {
			deps = nil
		}
		out[n] = &tiltResource{Fn: r.Fn, Deps: deps, Labels: r.Labels}
	}
	return out
}

func TestResourcesMirrorTheGraph(t *testing.T) {
	for _, cat := range []struct{ name, path, root string }{
		{"nova", novaCatalog, repoRoot},
		{"build", buildCatalog, buildRoot},
	} {
		set := loadSet(t, cat.path)
		src := renderSet(t, set)
		for _, target := range []string{"compose", "kind"} {
			for _, env := range set.EnvNames() {
				if target == "kind" && env == "ci" {
					continue // no kind overlay: TestBadSettings
				}
				t.Run(cat.name+"/"+target+"/"+env, func(t *testing.T) {
					c := set.Envs[env]
					rec, err := evalTiltfile(src, cat.root, map[string]string{"target": target, "env": env})
					require.NoError(t, err)
					want := expect(c, target)
					require.Equal(t, withoutDetails(want.resources), withoutDetails(rec.Resources))

					// collapsing the resources back onto graph nodes gives
					// exactly the graph's edges, and every node
					var edges []graph.Edge
					nodes := map[string]bool{}
					for r, res := range rec.Resources {
						nodes[want.node[r]] = true
						for _, d := range res.Deps {
							e := graph.Edge{From: want.node[r], To: want.node[d]}
							if !slices.Contains(edges, e) {
								edges = append(edges, e)
							}
						}
					}
					slices.SortFunc(edges, func(a, b graph.Edge) int {
						return strings.Compare(a.From+"\x00"+a.To, b.From+"\x00"+b.To)
					})
					g := c.Graph()
					require.Equal(t, g.Edges(), edges)
					require.Len(t, nodes, g.Len())

					// and Tilt is pointed at the right rendered artifacts
					switch target {
					case "compose":
						file := map[string]string{"local": "compose/docker-compose.yaml", "ci": "compose/docker-compose.ci.yaml", "pr": "compose/docker-compose.pr.yaml"}[env]
						require.Equal(t, []string{file}, rec.Compose)
						require.Equal(t, c.Env.Project, rec.ComposeProject)
						require.ElementsMatch(t, c.Env.Profiles, rec.ComposeProfiles)
						require.Empty(t, rec.Kustomize)
					case "kind":
						overlay := map[string]string{"local": "kind/overlays/dev", "pr": "kind/overlays/pr"}[env]
						require.Equal(t, []string{overlay}, rec.Kustomize)
						require.Empty(t, rec.Compose)
						// the pr overlay suffixes Deployments and Jobs, not
						// StatefulSets: Tilt selects the renamed workload
						for name, r := range rec.Resources {
							node, _ := g.Node(want.node[name])
							switch {
							case r.Fn != "k8s_resource":
							case env == "pr" && node.Kind != catalog.KindStore:
								require.Equal(t, name+"-pr", r.Workload)
							default:
								require.Equal(t, name, r.Workload)
							}
						}
					}
				})
			}
		}
	}
}

func TestNovaShape(t *testing.T) {
	set := loadSet(t, novaCatalog)
	src := renderSet(t, set)

	local, err := evalTiltfile(src, repoRoot, map[string]string{"env": "local"})
	require.NoError(t, err)
	// 16 services, postgres, 3 Redis nodes, kafka, clickhouse, neo4j, elasticsearch, 6 bootstraps
	require.Len(t, local.Resources, 16+1+3+1+1+1+1+6)
	require.Equal(t, []string{"redis-1", "redis-2", "redis-3"}, local.Resources["redis-cluster-init"].Deps)
	require.Equal(t, []string{"postgres", "postgres-init"}, local.Resources["migrations"].Deps)
	require.Equal(t, []string{
		"content-service", "kafka", "kafka-topics", "migrations", "postgres", "proto-validate", "user-service",
	}, local.Resources["feed-service"].Deps)
	require.Len(t, local.Resources["graphql-gateway"].Deps, 15)
	require.Equal(t, "local_resource", local.Resources["neo4j"].Fn)
	require.Contains(t, local.Resources["neo4j"].Cmd, "bolt://neo4j:7687")
	// no elasticsearch image locally: a stand-in that says why, and the edge stays
	require.Equal(t, "local_resource", local.Resources["elasticsearch"].Fn)
	require.Contains(t, local.Resources["elasticsearch"].Cmd, "elasticsearch unavailable (no offline image; use --images upstream or a mirror): its users run degraded")
	require.Contains(t, local.Resources["search-service"].Deps, "elasticsearch")
	require.Empty(t, local.Builds, "no Nova service has a build context yet")

	pr, err := evalTiltfile(src, repoRoot, map[string]string{"target": "kind", "env": "pr"})
	require.NoError(t, err)
	require.Equal(t, "k8s_resource", pr.Resources["elasticsearch"].Fn)
	require.Contains(t, pr.Resources["search-service"].Deps, "elasticsearch")
	require.Equal(t, []string{"redis"}, pr.Resources["redis-cluster-init"].Deps)
}

func TestDefaults(t *testing.T) {
	src := renderSet(t, loadSet(t, novaCatalog))
	rec, err := evalTiltfile(src, repoRoot, nil)
	require.NoError(t, err)
	require.Equal(t, []string{"compose/docker-compose.yaml"}, rec.Compose)
	require.Equal(t, "nova-local", rec.ComposeProject)
	require.Contains(t, rec.Resources, "redis-2")
}

func TestBadSettings(t *testing.T) {
	src := renderSet(t, loadSet(t, novaCatalog))
	for _, tc := range []struct {
		args map[string]string
		err  string
	}{
		{map[string]string{"target": "swarm"}, "unknown --target=swarm: use one of compose, kind"},
		{map[string]string{"env": "staging"}, "--env=staging is not available for --target=compose: use one of ci, local, pr"},
		{map[string]string{"target": "kind", "env": "prod"}, "--env=prod is not available for --target=kind"},
		{map[string]string{"target": "kind", "env": "ci"}, "--env=ci is not available for --target=kind: use one of local, pr"},
		{map[string]string{"namespace": "x"}, "unknown flag: --namespace"},
	} {
		_, err := evalTiltfile(src, repoRoot, tc.args)
		require.ErrorContains(t, err, tc.err, "%v", tc.args)
	}
}

func TestPortForwards(t *testing.T) {
	set := loadSet(t, novaCatalog)
	src := renderSet(t, set)
	for _, env := range []string{"local", "pr"} {
		c := set.Envs[env]
		rec, err := evalTiltfile(src, repoRoot, map[string]string{"target": "kind", "env": env})
		require.NoError(t, err)
		for _, s := range c.ActiveServices() {
			var want []string
			for _, p := range s.Ports {
				// kind/cluster.yaml publishes the dev (local) http ports
				if p.Host != 0 && (env != "local" || p.Name != "http") {
					want = append(want, fmt.Sprintf("%d:%d", p.Host, p.Port))
				}
			}
			require.Equal(t, want, rec.Resources[s.Name].Ports, "%s %s", env, s.Name)
		}
		for _, st := range c.ActiveStores() {
			if st.External || c.Unavailable(st.Name) != "" {
				require.Empty(t, rec.Resources[st.Name].Ports)
				continue
			}
			require.Equal(t, []string{fmt.Sprintf("%d:%d", st.Host, st.Port)}, rec.Resources[st.Name].Ports, "%s %s", env, st.Name)
		}
	}
	local, err := evalTiltfile(src, repoRoot, map[string]string{"target": "kind"})
	require.NoError(t, err)
	require.Equal(t, []string{"20300:50051", "20400:9090"}, local.Resources["graphql-gateway"].Ports)
	pr, err := evalTiltfile(src, repoRoot, map[string]string{"target": "kind", "env": "pr"})
	require.NoError(t, err)
	require.Equal(t, []string{"28300:50051", "28400:9090", "28080:8080"}, pr.Resources["graphql-gateway"].Ports)
	require.Equal(t, []string{"20001:5432"}, local.Resources["postgres"].Ports)
	compose, err := evalTiltfile(src, repoRoot, nil)
	require.NoError(t, err)
	require.Empty(t, compose.Resources["graphql-gateway"].Ports, "compose publishes its own ports")
}

func TestDockerBuildWithLiveUpdate(t *testing.T) {
	set := loadSet(t, buildCatalog)
	src := renderSet(t, set)
	worker := dockerBuild{
		Ref: "worker", Context: "services/worker",
		Dockerfile: "services/worker/build/Dockerfile.dev", Target: "dev",
	}
	for _, tc := range []struct {
		target, env string
		apiRef      string
	}{
		{"compose", "local", "registry.example/app/api"},
		{"kind", "local", "registry.example/app/api"},
		{"compose", "pr", "registry.example/app/api"},
		{"kind", "pr", "registry.example/app/api"},
	} {
		rec, err := evalTiltfile(src, buildRoot, map[string]string{"target": tc.target, "env": tc.env})
		require.NoError(t, err)
		require.Equal(t, []dockerBuild{
			{
				Ref: tc.apiRef, Context: "services/api", Dockerfile: "services/api/Dockerfile",
				Syncs: [][2]string{{"services/api/src", "/app/src"}, {"services/api/static", "/app/static"}},
			},
			worker,
		}, rec.Builds, "%s/%s", tc.target, tc.env)
		// the image without a build is not built, and runs the placeholder
		// locally: nothing for Tilt to do but deploy it
		require.Equal(t, []string{"api"}, rec.Resources["web"].Deps)
	}
	// the api image the catalog resolves is what the docker_build ref matches
	for _, env := range set.EnvNames() {
		require.True(t, strings.HasPrefix(set.Envs[env].Services["api"].Image, "registry.example/app/api:"))
	}
}

// TestStandInsCatchMistakes proves the harness would notice a broken
// Tiltfile: unknown builtins, misspelled keywords and dangling deps fail.
// Names are resolved when the file compiles, so an unknown builtin fails
// every evaluation; keywords and deps are checked only on the path that
// runs, which is why TestResourcesMirrorTheGraph runs every target and
// environment. The first occurrence of each pattern is in the ci function.
func TestStandInsCatchMistakes(t *testing.T) {
	src := string(renderSet(t, loadSet(t, novaCatalog)))
	for _, tc := range []struct {
		name, old, new string
		args           map[string]string
		err            string
	}{
		{"unknown builtin", "dc_resource(", "dc_resorce(", nil, "undefined: dc_resorce"},
		{"unknown kind builtin", "k8s_resource(", "k8s_resources(", nil, "undefined: k8s_resources"},
		{"misspelled keyword", "resource_deps=", "resource_dep=", nil, "unexpected keyword argument"},
		{"misspelled kind keyword", "port_forwards=", "port_forward=", map[string]string{"target": "kind", "env": "pr"}, "unexpected keyword argument"},
		{"unknown config method", "config.define_string(", "config.define_str(", nil, "has no .define_str field or method"},
		{"dangling dependency", `resource_deps=["postgres"]`, `resource_deps=["postgress"]`, map[string]string{"env": "ci"}, `unknown resource "postgress"`},
		{"duplicate resource", `dc_resource("kafka", labels=["stores"])`, `dc_resource("kafka", labels=["stores"])` + "\n    " + `dc_resource("kafka")`, map[string]string{"env": "ci"}, "declared twice"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Contains(t, src, tc.old)
			bad := strings.Replace(src, tc.old, tc.new, 1)
			if strings.HasSuffix(tc.old, "=") { // a keyword: misspell it everywhere
				bad = strings.ReplaceAll(src, tc.old, tc.new)
			}
			_, err := evalTiltfile([]byte(bad), repoRoot, tc.args)
			require.ErrorContains(t, err, tc.err)
		})
	}
	// a build whose context is missing fails like Tilt's Dockerfile read
	b := string(renderSet(t, loadSet(t, buildCatalog)))
	_, err := evalTiltfile([]byte(strings.Replace(b, `"services/api",`, `"services/apj",`, 1)), buildRoot, nil)
	require.ErrorContains(t, err, "services/apj does not exist")
}

// TestMatchesRenderedArtifacts checks the names the Tiltfile uses against
// the compose files and kind objects other renderers commit, once they are
// there: a Tiltfile naming a compose service or workload that does not
// exist fails in Tilt.
func TestMatchesRenderedArtifacts(t *testing.T) {
	set := loadSet(t, novaCatalog)
	src := renderSet(t, set)
	t.Run("compose", func(t *testing.T) {
		for _, env := range set.EnvNames() {
			rec, err := evalTiltfile(src, repoRoot, map[string]string{"env": env})
			require.NoError(t, err)
			data, err := os.ReadFile(filepath.Join(repoRoot, rec.Compose[0]))
			if os.IsNotExist(err) {
				t.Skipf("%s is not rendered yet (novadev render compose)", rec.Compose[0])
			}
			require.NoError(t, err)
			var doc struct {
				Services map[string]struct {
					Profiles []string `yaml:"profiles"`
				} `yaml:"services"`
			}
			require.NoError(t, yaml.Unmarshal(data, &doc))
			var services, dc []string
			for s, svc := range doc.Services {
				// compose loads a service behind a profile only when the
				// profile is on (docker_compose(profiles=...))
				on := len(svc.Profiles) == 0
				for _, p := range svc.Profiles {
					on = on || slices.Contains(rec.ComposeProfiles, p)
				}
				if on {
					services = append(services, s)
				}
			}
			for n, r := range rec.Resources {
				if r.Fn == "dc_resource" {
					dc = append(dc, n)
				}
			}
			sort.Strings(services)
			sort.Strings(dc)
			require.Equal(t, services, dc, "%s: compose services vs dc_resources", rec.Compose[0])
		}
	})
	t.Run("kind", func(t *testing.T) {
		kindDir := filepath.Join(repoRoot, "kind")
		for _, env := range []string{"local", "pr"} {
			rec, err := evalTiltfile(src, repoRoot, map[string]string{"target": "kind", "env": env})
			require.NoError(t, err)
			overlay := filepath.Join(repoRoot, rec.Kustomize[0])
			if _, err := os.Stat(overlay); os.IsNotExist(err) {
				t.Skipf("%s is not rendered yet (novadev render kind)", overlay)
			}
			var selected []string
			for _, r := range rec.Resources {
				if r.Fn == "k8s_resource" {
					selected = append(selected, r.Workload)
				}
			}
			sort.Strings(selected)
			require.Equal(t, kindWorkloads(t, kindDir, strings.TrimPrefix(rec.Kustomize[0], "kind/")), selected,
				"%s: workloads of %s vs the Tiltfile's k8s_resource workloads", env, rec.Kustomize[0])
			checkNoPortClash(t, kindDir, rec)
		}
	})
}

// kindWorkloads builds one overlay under kindDir with kustomize, as Tilt's
// kustomize() does, and returns the names of its pod-bearing workloads. The
// git-ignored credentials file the overlays generate their Secret from is
// stood in for when absent.
func kindWorkloads(t *testing.T, kindDir, overlay string) []string {
	t.Helper()
	fs := filesys.MakeFsInMemory()
	require.NoError(t, filepath.Walk(kindDir, func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		rel, err := filepath.Rel(kindDir, p)
		if err != nil {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return fs.WriteFile(path.Join("/kind", filepath.ToSlash(rel)), data)
	}))
	dir := path.Join("/kind", overlay)
	if creds := path.Join(dir, "credentials.env"); !fs.Exists(creds) {
		require.NoError(t, fs.WriteFile(creds, []byte("PLACEHOLDER=x\n")))
	}
	m, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(fs, dir)
	require.NoError(t, err)
	var out []string
	for _, r := range m.Resources() {
		switch r.GetKind() {
		case "Deployment", "StatefulSet", "Job", "DaemonSet", "ReplicaSet", "Pod":
			out = append(out, r.GetName())
		}
	}
	sort.Strings(out)
	return out
}

// checkNoPortClash fails when a port-forward takes a host port the kind
// cluster already publishes (extraPortMappings in kind/cluster.yaml).
func checkNoPortClash(t *testing.T, kindDir string, rec *recording) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(kindDir, "cluster.yaml"))
	require.NoError(t, err)
	var cluster struct {
		Nodes []struct {
			ExtraPortMappings []struct {
				HostPort int `yaml:"hostPort"`
			} `yaml:"extraPortMappings"`
		} `yaml:"nodes"`
	}
	require.NoError(t, yaml.Unmarshal(data, &cluster))
	published := map[string]bool{}
	for _, n := range cluster.Nodes {
		for _, m := range n.ExtraPortMappings {
			published[fmt.Sprint(m.HostPort)] = true
		}
	}
	require.NotEmpty(t, published, "the cluster publishes the gateway")
	for name, r := range rec.Resources {
		for _, pf := range r.Ports {
			local, _, _ := strings.Cut(pf, ":")
			require.False(t, published[local], "%s port-forwards %s, which kind/cluster.yaml publishes", name, pf)
		}
	}
}
