package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/novadev/novadev/internal/app"
	"github.com/novadev/novadev/internal/cli"
	"github.com/novadev/novadev/internal/secrets"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type result struct {
	code     int
	out, err string
}

func run(t *testing.T, env map[string]string, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	s := cli.Streams{In: strings.NewReader(""), Out: &out, Err: &errb, Getenv: func(k string) string { return env[k] }}
	code := app.Run(context.Background(), s, append([]string{"--catalog", "../../envs/nova.yaml"}, args...))
	return result{code, out.String(), errb.String()}
}

func TestValidateNova(t *testing.T) {
	r := run(t, nil, "validate")
	require.Equal(t, 0, r.code, r.err)
	assert.Equal(t, "../../envs/nova.yaml: ok: environment local (project nova-local): 16 services, 6 stores, 6 bootstraps, 93 edges\n", r.out)
	r = run(t, nil, "validate", "--all")
	require.Equal(t, 0, r.code, r.err)
	assert.Equal(t, 4, strings.Count(r.out, ": ok: "), "the bare catalog and three environments")
}

func TestValidateReportsEverything(t *testing.T) {
	r := run(t, nil, "validate", "--catalog", "../catalog/testdata/invalid/four-problems.yaml", "--env", "")
	assert.Equal(t, 1, r.code)
	lines := strings.Split(strings.TrimSpace(r.err), "\n")
	require.Len(t, lines, 5, r.err)
	assert.Contains(t, lines[0], "dependency cycle: a -> b -> a")
	assert.Contains(t, lines[1], `did you mean "user-service"?`)
	assert.Contains(t, lines[2], "host port 20100 is already used")
	assert.Contains(t, lines[3], `unknown field "imagePullPolicy"`)
	assert.Equal(t, "novadev: 4 problems found; fix them and run novadev validate again", lines[4])
	assert.Empty(t, r.out)

	r = run(t, nil, "validate", "--catalog", "../catalog/testdata/invalid/four-problems.yaml", "--env", "", "-o", "json")
	assert.Equal(t, 1, r.code)
	var v struct {
		OK       bool `json:"ok"`
		Problems []struct {
			Pos struct {
				Line int `json:"line"`
			} `json:"pos"`
			Field string `json:"field"`
		} `json:"problems"`
	}
	require.NoError(t, json.Unmarshal([]byte(r.out), &v))
	assert.False(t, v.OK)
	require.Len(t, v.Problems, 4)
	assert.Equal(t, 10, v.Problems[0].Pos.Line)
	assert.Equal(t, "services.a.dependsOn", v.Problems[0].Field)
}

func TestMissingEnvironmentSaysWhatToDo(t *testing.T) {
	r := run(t, nil, "validate", "--env", "staging")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.err, `environment "staging"`)
	assert.Contains(t, r.err, "staging.yaml does not exist")
}

func TestGraphJSON(t *testing.T) {
	r := run(t, nil, "graph", "--format", "json")
	require.Equal(t, 0, r.code, r.err)
	var g cli.GraphJSON
	require.NoError(t, json.Unmarshal([]byte(r.out), &g))
	kinds := map[string]int{}
	for _, n := range g.Nodes {
		kinds[string(n.Kind)]++
	}
	assert.Equal(t, map[string]int{"service": 16, "store": 6, "bootstrap": 6}, kinds)
	marks := map[string]cli.GraphNode{}
	for _, n := range g.Nodes {
		if n.Unavailable != "" || len(n.Degraded) > 0 {
			marks[n.Name] = n
		}
	}
	assert.Equal(t, map[string]cli.GraphNode{
		"elasticsearch":  {Name: "elasticsearch", Kind: "store", Unavailable: "no offline image; use --images upstream or a mirror"},
		"search-service": {Name: "search-service", Kind: "service", Degraded: []string{"elasticsearch unavailable (no offline image; use --images upstream or a mirror)"}},
	}, marks, "local has no elasticsearch image; the edge stays")
	has := func(from, to string) bool {
		for _, e := range g.Edges {
			if e.From == from && e.To == to {
				return true
			}
		}
		return false
	}
	assert.True(t, has("search-service", "elasticsearch"), "as the staging guide draws it")
	assert.True(t, has("feed-service", "user-service"))
	assert.True(t, has("feed-service", "content-service"))
	assert.True(t, has("feed-service", "kafka"))
	assert.True(t, has("realtime-chat-service", "messaging-service"))
	assert.True(t, has("migrations", "postgres-init"))
	assert.False(t, has("user-service", "feed-service"), "edges point from the user to what it needs")
}

func TestGraphFormats(t *testing.T) {
	r := run(t, nil, "graph", "--format", "dot", "--only", "feed-service")
	require.Equal(t, 0, r.code, r.err)
	assert.Contains(t, r.out, `"feed-service" -> "user-service";`)
	assert.NotContains(t, r.out, "graphql-gateway", "--only keeps what feed-service needs")
	r = run(t, nil, "graph", "--format", "mermaid")
	require.Equal(t, 0, r.code, r.err)
	assert.Contains(t, r.out, "feed_service --> user_service")
	r = run(t, nil, "graph")
	require.Equal(t, 0, r.code, r.err)
	assert.Contains(t, r.out, "longest chain (7 nodes): postgres -> postgres-init -> migrations -> user-service -> content-service -> feed-service -> graphql-gateway")
	r = run(t, nil, "graph", "--only", "nope")
	assert.Equal(t, 2, r.code, "a bad flag value is a usage error")
	assert.Contains(t, r.err, `unknown node "nope"`)
	r = run(t, nil, "graph", "--format", "svg")
	assert.Equal(t, 2, r.code)
	assert.Contains(t, r.err, "use text, dot, mermaid or json")
}

func TestOutputFlagChecked(t *testing.T) {
	r := run(t, nil, "version", "-o", "yaml")
	assert.Equal(t, 2, r.code, "a bad flag value is a usage error")
	assert.Contains(t, r.err, "--output must be text or json")
	r = run(t, nil, "version", "-o", "json")
	require.Equal(t, 0, r.code)
	assert.Contains(t, r.out, `"catalogAPI":"novadev/v1alpha1"`)
}

func TestEnvDefaultsFromEnvironment(t *testing.T) {
	r := run(t, map[string]string{"NOVADEV_ENV": "ci"}, "validate")
	require.Equal(t, 0, r.code, r.err)
	assert.Contains(t, r.out, "project nova-ci")
}

func TestCompletion(t *testing.T) {
	r := run(t, nil, "completion", "bash")
	require.Equal(t, 0, r.code)
	assert.Contains(t, r.out, "__start_novadev")
}

func TestWait(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	r := run(t, nil, "wait", "tcp://"+ln.Addr().String())
	require.Equal(t, 0, r.code, r.err)
	assert.Contains(t, r.out, "ready: tcp "+ln.Addr().String())

	closed, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := closed.Addr().String()
	closed.Close()
	r = run(t, nil, "wait", "--timeout", "300ms", "tcp://"+addr)
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.err, "not ready after 300ms: waited for tcp "+addr)

	r = run(t, nil, "wait", "ftp://x:1")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.err, `unknown scheme "ftp"`)
}

// A catalog mounted alone (a kind Job) loads bare unless an environment is
// asked for.
func TestDefaultEnvFallsBackToBareCatalog(t *testing.T) {
	dir := t.TempDir()
	data, err := os.ReadFile("../catalog/testdata/valid/minimal.yaml")
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "nova.yaml"), data, 0o644))
	r := run(t, nil, "validate", "--catalog", filepath.Join(dir, "nova.yaml"))
	require.Equal(t, 0, r.code, r.err)
	assert.Contains(t, r.out, "environment mini (project mini)")
	r = run(t, nil, "validate", "--catalog", filepath.Join(dir, "nova.yaml"), "--env", "local")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.err, "local.yaml does not exist")
}

func TestRenderWritesChecksAndKeepsSecrets(t *testing.T) {
	root := t.TempDir()
	r := run(t, nil, "render", "all", "--root", root)
	require.Equal(t, 1, r.code, "compose/.env holds passwords: refused until .gitignore covers it")
	assert.Contains(t, r.err, "add to "+filepath.Join(root, ".gitignore"))
	assert.NoFileExists(t, filepath.Join(root, "Tiltfile"), "a refused render writes nothing")
	require.NoError(t, os.WriteFile(filepath.Join(root, ".gitignore"), []byte("/compose/.env\n"), 0o644))
	r = run(t, nil, "render", "all", "--root", root)
	require.Equal(t, 0, r.code, r.err)
	assert.Contains(t, r.out, "18 new credentials in compose/.env")
	assert.Contains(t, r.out, "wrote kind/overlays/dev/credentials.env")
	for _, f := range []string{"compose/.env", "kind/overlays/dev/credentials.env", "kind/overlays/pr/credentials.env"} {
		st, err := os.Stat(filepath.Join(root, f))
		require.NoError(t, err)
		assert.Equal(t, os.FileMode(0o600), st.Mode().Perm(), f)
	}
	env, err := os.ReadFile(filepath.Join(root, "compose/.env"))
	require.NoError(t, err)

	r = run(t, nil, "render", "all", "--root", root)
	require.Equal(t, 0, r.code, r.err)
	assert.Contains(t, r.out, "0 changed")
	again, err := os.ReadFile(filepath.Join(root, "compose/.env"))
	require.NoError(t, err)
	assert.Equal(t, string(env), string(again), "existing passwords are never rewritten")

	r = run(t, nil, "render", "all", "--root", root, "--check")
	require.Equal(t, 0, r.code, r.err)
	require.NoError(t, os.WriteFile(filepath.Join(root, "Tiltfile"), []byte("# edited by hand\n"), 0o644))
	r = run(t, nil, "render", "all", "--root", root, "--check")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.err, "Tiltfile: differs from the catalog")
	assert.Contains(t, r.err, "run novadev render all")
}

// A credentials.env written before the catalog gained a key (ClickHouse's
// admin, a new service) gets the key appended with compose/.env's value;
// every value already there stays as it was.
func TestRenderAppendsMissingKindCredentials(t *testing.T) {
	root := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(root, ".gitignore"), []byte("/compose/.env\n"), 0o644))
	r := run(t, nil, "render", "kind", "--root", root)
	require.Equal(t, 0, r.code, r.err)
	path := filepath.Join(root, "kind/overlays/dev/credentials.env")
	full, err := os.ReadFile(path)
	require.NoError(t, err)
	// an older file: without NOVA_CH_ADMIN_PASSWORD, and one value changed by hand
	var kept []string
	for _, l := range strings.Split(strings.TrimSuffix(string(full), "\n"), "\n") {
		switch {
		case strings.HasPrefix(l, "NOVA_CH_ADMIN_PASSWORD="):
		case strings.HasPrefix(l, "NOVA_POSTGRES_PASSWORD="):
			kept = append(kept, "NOVA_POSTGRES_PASSWORD=chosen-by-hand")
		default:
			kept = append(kept, l)
		}
	}
	old := strings.Join(kept, "\n") // no final newline either
	require.NotContains(t, old, "NOVA_CH_ADMIN_PASSWORD", "the catalog names ClickHouse's admin: the fixture must lack it")
	require.NoError(t, os.WriteFile(path, []byte(old), 0o600))

	r = run(t, nil, "render", "kind", "--root", root)
	require.Equal(t, 0, r.code, r.err)
	assert.Contains(t, r.out, "kind/overlays/dev/credentials.env (added NOVA_CH_ADMIN_PASSWORD)")
	got, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(string(got), old+"\n"), "every line already there stays, in place")
	env, err := os.ReadFile(filepath.Join(root, "compose/.env"))
	require.NoError(t, err)
	want := secrets.Values(env)["NOVA_CH_ADMIN_PASSWORD"]
	require.NotEmpty(t, want)
	assert.Equal(t, want, secrets.Values(got)["NOVA_CH_ADMIN_PASSWORD"], "the same password as the compose stack")
	assert.Equal(t, "chosen-by-hand", secrets.Values(got)["NOVA_POSTGRES_PASSWORD"])

	r = run(t, nil, "render", "kind", "--root", root)
	require.Equal(t, 0, r.code, r.err)
	again, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, string(got), string(again), "nothing more to add")
}
