package catalog_test

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/novadev/novadev/internal/catalog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite golden files")

func TestLoadValidMinimal(t *testing.T) {
	c, err := catalog.Load("testdata/valid/minimal.yaml", catalog.Options{})
	require.NoError(t, err)
	assert.Equal(t, []string{"api", "worker"}, c.ServiceNames())
	api := c.Services["api"]
	assert.Equal(t, "nova_api", api.Database.Name, "database name derived from the service name")
	assert.Equal(t, "nova_api_svc", api.Database.User)
	assert.Equal(t, "jobs_rw", c.Services["worker"].Database.User, "explicit user kept")
	assert.Equal(t, catalog.CheckGRPC, api.Readiness.Type)
	assert.Equal(t, "grpc", api.Readiness.Port)
	require.Len(t, api.Ports, 1)
	assert.Equal(t, catalog.Port{Name: "grpc", Port: 50051, Host: 21100}, stripNode(api.Ports[0]), "container port from defaults, host port from the service")
	assert.Equal(t, 5432, c.Stores["postgres"].Port, "default postgres port")
	assert.Equal(t, "mini", c.Env.Project, "bare catalog: project named after it")
	assert.Equal(t, catalog.Pos{File: "testdata/valid/minimal.yaml", Line: 13, Col: 3}, api.At, "a service is where its name is written")
	assert.Equal(t, catalog.Pos{File: "testdata/valid/minimal.yaml", Line: 15, Col: 5}, api.PosOf("dependsOn"))
}

func stripNode(p catalog.Port) catalog.Port { p.Node = catalog.Node{}; return p }

// TestLoadInvalid pins the exact report (positions, fields, messages, hints)
// for each broken catalog in testdata/invalid; -update rewrites them.
func TestLoadInvalid(t *testing.T) {
	files, err := filepath.Glob("testdata/invalid/*.yaml")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			_, err := catalog.Load(f, catalog.Options{})
			require.Error(t, err)
			var ps catalog.Problems
			require.ErrorAs(t, err, &ps, "a broken catalog reports Problems")
			got := ps.Error() + "\n"
			golden := strings.TrimSuffix(f, ".yaml") + ".problems"
			if *update {
				require.NoError(t, os.WriteFile(golden, []byte(got), 0o644))
			}
			want, err := os.ReadFile(golden)
			require.NoError(t, err, "run go test ./internal/catalog -update to create %s", golden)
			assert.Equal(t, string(want), got)
		})
	}
}

// The acceptance case: a cycle, an unknown dependency, an unknown
// field and a duplicate port, all reported in one run with positions.
func TestFourProblemsAtOnce(t *testing.T) {
	_, err := catalog.Load("testdata/invalid/four-problems.yaml", catalog.Options{})
	var ps catalog.Problems
	require.ErrorAs(t, err, &ps)
	text := ps.Error()
	f := "testdata/invalid/four-problems.yaml"
	assert.Contains(t, text, f+":10:17: services.a.dependsOn: dependency cycle: a -> b -> a")
	assert.Contains(t, text, f+`:15:20: services.b.dependsOn[1]: unknown service or store "usr-service"; did you mean "user-service"?`)
	assert.Contains(t, text, f+`:20:5: services.user-service.imagePullPolicy: unknown field "imagePullPolicy"`)
	assert.Contains(t, text, f+`:17:22: services.b.ports[0].host: host port 20100 is already used by service a port grpc (`+f+`:12:22)`)
}

func TestSyntaxErrorHasLine(t *testing.T) {
	_, err := catalog.Parse("x.yaml", []byte("services:\n  a: [\n"))
	var ps catalog.Problems
	require.ErrorAs(t, err, &ps)
	require.Len(t, ps, 1)
	assert.Equal(t, "x.yaml", ps[0].Pos.File)
	assert.Positive(t, ps[0].Pos.Line)
	assert.Contains(t, ps[0].Msg, "invalid YAML")
}

func TestEnvironmentOverlay(t *testing.T) {
	base, err := catalog.Load("../../envs/nova.yaml", catalog.Options{})
	require.NoError(t, err)
	ci, err := catalog.Load("../../envs/nova.yaml", catalog.Options{Env: "ci"})
	require.NoError(t, err)
	assert.Equal(t, "nova-ci", ci.Env.Project)
	assert.Equal(t, "ghcr.io/nova-platform/user-service:1.0.0", base.Services["user-service"].Image, "registry/name:tag")
	assert.Equal(t, "novadev/placeholder:dev", ci.Services["user-service"].Image, "ci maps services to the placeholder")
	assert.Equal(t, "novadev/postgres:15", ci.Stores["postgres"].Image, "ci maps stores to the offline set")
	assert.Equal(t, base.Services["feed-service"].Ports[0].Host+10000, ci.Services["feed-service"].Ports[0].Host, "ci moves the whole host port block by 10000")
	assert.Equal(t, "50m", ci.Services["feed-service"].Resources.Requests.CPU, "scale 0.5 halves 100m")
	assert.Equal(t, "64Mi", ci.Services["feed-service"].Resources.Requests.Memory)
	pr, err := catalog.Load("../../envs/nova.yaml", catalog.Options{Env: "pr"})
	require.NoError(t, err)
	assert.Equal(t, "ghcr.io/nova-platform/user-service:pr", pr.Services["user-service"].Image)
	assert.Contains(t, pr.Graph().Needs("search-service"), "elasticsearch")
	assert.Contains(t, ci.Graph().Needs("search-service"), "elasticsearch", "the edge stays where the store is unavailable (search-service then runs degraded)")
}

func TestEnvironmentProblems(t *testing.T) {
	dir := t.TempDir()
	base, err := os.ReadFile("testdata/valid/minimal.yaml")
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "cat.yaml"), base, 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "bad.yaml"), []byte(`apiVersion: novadev/v1alpha1
kind: Environment
metadata: {name: bad}
hostPortBase: 65000
images:
  services: {apii: x:1}
profiles: [nope]
`), 0o644))
	_, err = catalog.Load(filepath.Join(dir, "cat.yaml"), catalog.Options{Env: "bad"})
	var ps catalog.Problems
	require.ErrorAs(t, err, &ps)
	text := ps.Error()
	assert.Contains(t, text, `bad.yaml:6:3: images.services.apii: unknown service "apii"; did you mean "api"?`)
	assert.Contains(t, text, `bad.yaml:7:1: profiles[0]: no service or store is in profile "nope"`)
	_, err = catalog.Load(filepath.Join(dir, "cat.yaml"), catalog.Options{Env: "missing"})
	require.ErrorContains(t, err, "missing.yaml does not exist")
}

func TestHostPortBlockOverflow(t *testing.T) {
	dir := t.TempDir()
	base, err := os.ReadFile("testdata/valid/minimal.yaml")
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "cat.yaml"), base, 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "high.yaml"), []byte("apiVersion: novadev/v1alpha1\nkind: Environment\nmetadata: {name: high}\nhostPortBase: 65500\n"), 0o644))
	_, err = catalog.Load(filepath.Join(dir, "cat.yaml"), catalog.Options{Env: "high"})
	require.ErrorContains(t, err, "host port 65600 out of range after moving the port block")
}

func TestLoadSet(t *testing.T) {
	set, err := catalog.LoadSet("../../envs/nova.yaml")
	require.NoError(t, err)
	assert.Equal(t, []string{"ci", "local", "pr"}, set.EnvNames())
	assert.Equal(t, "nova", set.Base.Env.Project)
	assert.Equal(t, "local", set.ForKindOverlay("dev").Env.Metadata.Name, "kindOverlay: dev in local.yaml")
	assert.Equal(t, "pr", set.ForKindOverlay("pr").Env.Metadata.Name)
	assert.Nil(t, set.ForKindOverlay("staging"), "staging is rendered from the base catalog")
}

func TestPasswordVar(t *testing.T) {
	assert.Equal(t, "NOVA_FEED_SVC_PASSWORD", catalog.PasswordVar("nova_feed_svc"))
}
