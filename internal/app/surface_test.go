package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/novadev/novadev/internal/cli"
)

// lastJSON decodes every JSON value of out (a verb may print JSON lines
// before it fails) and returns the last; the test fails when out is not
// JSON through and through.
func lastJSON(t *testing.T, out string) map[string]any {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(out))
	var last map[string]any
	for {
		var v map[string]any
		err := dec.Decode(&v)
		if err == io.EOF {
			break
		}
		require.NoError(t, err, "stdout is JSON: %q", out)
		last = v
	}
	require.NotNil(t, last, "a JSON object on stdout")
	return last
}

// verbs are the commands of the tree (help excluded).
func verbs() []string {
	var out []string
	for _, c := range cli.NewRoot(cli.Streams{In: strings.NewReader(""), Out: &bytes.Buffer{}, Err: &bytes.Buffer{}}, nil).Commands() {
		if c.Name() != "help" {
			out = append(out, c.Name())
		}
	}
	return out
}

// failing makes each verb fail at run time (not on usage): a catalog that
// does not exist, or a bad argument where the verb reads none.
var failing = map[string][]string{
	"render":    {"render", "all"},
	"bootstrap": {"bootstrap", "migrations"},
	"wait":      {"wait", "bogus://x", "--timeout", "1s"},
	"env":       {"env", "user-service"},
	// engine-wide verbs read no catalog: a target that does not exist
	"list": {"list", "--target", "nope"},
	"gc":   {"gc", "--target", "nope"},
	// a verb group: one of its verbs
	"snapshot": {"snapshot", "list"},
}

// usageOnly are verbs that read nothing that can fail: only their usage
// errors are checked.
var usageOnly = map[string]bool{"version": true, "completion": true}

// TestJSONErrorsForEveryVerb is issue 12 item 7a and b: with -o json every
// verb's failure is a JSON object on stdout ({"error", "problems",
// "exitCode"}), with the exit code unchanged: 2 for a usage error, 1 for a
// failure; catalog problems are listed with their positions.
func TestJSONErrorsForEveryVerb(t *testing.T) {
	f := newFakeApp(t)
	missing := filepath.Join(t.TempDir(), "envs", "nova.yaml")
	vs := verbs()
	require.Contains(t, vs, "up")
	for _, verb := range vs {
		t.Run(verb, func(t *testing.T) {
			r := f.run(context.Background(), verb, "--no-such-flag", "-o", "json")
			assert.Equal(t, 2, r.code, "an unknown flag is a usage error: %s", r.err)
			v := lastJSON(t, r.out)
			assert.Contains(t, v["error"], "unknown flag: --no-such-flag")
			assert.EqualValues(t, 2, v["exitCode"])
			assert.Empty(t, r.err, "-o json: the error is on stdout only")
			if usageOnly[verb] {
				return
			}
			args, ok := failing[verb]
			if !ok {
				args = []string{verb}
			}
			if verb == "ci" {
				args = []string{"ci", "--artifacts", t.TempDir()}
			}
			r = f.run(context.Background(), append(args, "--catalog", missing, "-o", "json")...)
			require.NotEqual(t, 0, r.code, r.out)
			v = lastJSON(t, r.out)
			switch verb {
			case "validate":
				assert.Equal(t, false, v["ok"], "validate reports in its own JSON")
				return
			case "ci":
				// ci reports every stage in its own JSON, its exit code in it
				assert.EqualValues(t, r.code, v["exitCode"], r.out)
				assert.NotEmpty(t, v["upError"], r.out)
				return
			}
			assert.NotEmpty(t, v["error"], r.out)
			assert.EqualValues(t, r.code, v["exitCode"])
		})
	}
}

// TestJSONErrorsListProblems: a refused catalog's problems are in the
// error object, each with its position.
func TestJSONErrorsListProblems(t *testing.T) {
	for _, args := range [][]string{{"graph"}, {"up", "--dry-run"}, {"status"}, {"down"}} {
		r := run(t, nil, append(args, "--catalog", "../catalog/testdata/invalid/four-problems.yaml", "--env", "", "-o", "json")...)
		assert.Equal(t, 1, r.code, args)
		var v cli.ErrorJSON
		require.NoError(t, json.Unmarshal([]byte(r.out), &v), "%v: %q", args, r.out)
		assert.Equal(t, "4 problems found; fix them and run novadev validate again", v.Error)
		assert.Equal(t, 1, v.ExitCode)
		require.Len(t, v.Problems, 4, args)
		assert.Empty(t, r.err, "-o json: nothing on stderr")
		assert.Equal(t, 10, v.Problems[0].Pos.Line)
		assert.Equal(t, "services.a.dependsOn", v.Problems[0].Field)
		assert.NotEmpty(t, v.Problems[0].Pos.File)
	}
}

// TestExitCodes: 0 ok, 1 failure, 2 usage (cobra's own usage errors
// included), in text mode too, with the error on stderr.
func TestExitCodes(t *testing.T) {
	for _, c := range []struct {
		args []string
		code int
		err  string
	}{
		{[]string{"version"}, 0, ""},
		{[]string{"no-such-verb"}, 2, `unknown command "no-such-verb"`},
		{[]string{"up", "--bogus"}, 2, "unknown flag: --bogus"},
		{[]string{"up", "--timeout", "soon"}, 2, `invalid argument "soon"`},
		{[]string{"up", "extra"}, 2, `unknown command "extra"`},
		{[]string{"render"}, 2, "accepts 1 arg(s)"},
		{[]string{"render", "everything"}, 2, `unknown render target "everything"`},
		{[]string{"wait"}, 2, "requires at least 1 arg(s)"},
		{[]string{"completion", "tcsh"}, 2, `unknown shell "tcsh"`},
		{[]string{"-o", "yaml", "version"}, 2, "--output must be text or json"},
		{[]string{"validate", "--catalog", "../catalog/testdata/invalid/four-problems.yaml", "--env", ""}, 1, "4 problems found"},
		{[]string{"wait", "bogus://x"}, 1, ""},
	} {
		r := run(t, nil, c.args...)
		assert.Equal(t, c.code, r.code, "%v: %s", c.args, r.err)
		assert.Contains(t, r.err, c.err, c.args)
	}
}

// TestDryRunWithoutAnEngine is issue 12 item 7c: up --dry-run with no
// Docker engine plans as if nothing existed, and says so.
func TestDryRunWithoutAnEngine(t *testing.T) {
	t.Setenv("DOCKER_HOST", "unix://"+filepath.Join(t.TempDir(), "no-docker.sock"))
	// its own state dir: the real up below takes the instance lock of
	// nova-ci, which the e2e package's stacks hold while they run
	own := map[string]string{"NOVADEV_STATE_DIR": t.TempDir()}
	r := run(t, own, "up", "--dry-run", "--env", "ci")
	require.Equal(t, 0, r.code, r.err)
	first, rest, _ := strings.Cut(r.out, "\n")
	assert.Contains(t, first, "assuming nothing exists")
	assert.Contains(t, first, "no Docker engine reachable")
	assert.Regexp(t, `(?m)^\s*store postgres: create$`, rest, "every store is created")
	assert.NotRegexp(t, `: keep\b`, rest, "nothing is kept: nothing was observed")

	r = run(t, own, "up", "--dry-run", "--env", "ci", "-o", "json")
	require.Equal(t, 0, r.code, r.err)
	var p cli.PlanJSON
	require.NoError(t, json.Unmarshal([]byte(r.out), &p), r.out)
	assert.Contains(t, p.AssumedNothingExists, "no Docker engine reachable")
	assert.Equal(t, "nova-ci", p.Instance)
	require.NotEmpty(t, p.Steps)
	for _, st := range p.Steps {
		assert.NotEqual(t, "keep", st.Op, st.Node)
	}

	r = run(t, own, "up", "--env", "ci", "--timeout", "5s")
	assert.Equal(t, 1, r.code, "a real up still needs the engine")
	assert.Contains(t, r.err, "no Docker engine reachable")
}

// TestVersionFlagAndAliases is issue 12 item 7d: --version at the root,
// --wait-timeout as up's --timeout, one meaning per short flag.
func TestVersionFlagAndAliases(t *testing.T) {
	v1, v2 := run(t, nil, "version"), run(t, nil, "--version")
	require.Equal(t, 0, v2.code, v2.err)
	assert.Equal(t, v1.out, v2.out)
	assert.Equal(t, v1.out, run(t, nil, "-v").out)
	j := run(t, nil, "--version", "-o", "json")
	assert.Contains(t, j.out, `"catalogAPI":"novadev/v1alpha1"`)

	r := run(t, nil, "stauts")
	assert.Equal(t, 2, r.code)
	assert.Regexp(t, `did you mean (\S+ or )?status\?`, r.err)

	r = run(t, nil, "up", "--help")
	assert.Contains(t, r.out, "--wait-timeout")
	// the alias sets what --timeout sets: an up that cannot reach its
	// engine names the engine, never an unknown flag
	r = run(t, nil, "up", "--wait-timeout", "1ms", "--dry-run")
	assert.NotContains(t, r.err, "unknown flag")

	// every short flag means one thing across the tree
	tree := cli.NewRoot(cli.Streams{In: strings.NewReader(""), Out: &bytes.Buffer{}, Err: &bytes.Buffer{}}, nil)
	seen := map[string]string{}
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		c.LocalFlags().VisitAll(func(f *pflag.Flag) {
			if f.Shorthand == "" {
				return
			}
			if prev, ok := seen[f.Shorthand]; ok && prev != f.Name {
				t.Errorf("-%s is --%s in %s and --%s elsewhere", f.Shorthand, f.Name, c.CommandPath(), prev)
			}
			seen[f.Shorthand] = f.Name
		})
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(tree)
	assert.Equal(t, "follow", seen["f"])
}

// TestPsAndConfig is issue 12 item 7e (ps, config): compose's ps columns
// over status, and the effective catalog of an environment.
func TestPsAndConfig(t *testing.T) {
	f := newFakeApp(t)
	ctx := context.Background()
	r := f.run(ctx, "ps")
	require.Equal(t, 0, r.code, r.err)
	assert.Equal(t, 1, strings.Count(r.out, "\n"), "only the header before up: %q", r.out)
	assert.Regexp(t, `^NAME +SERVICE +STATUS +PORTS\n$`, r.out)

	require.Equal(t, 0, f.run(ctx, "up").code)
	r = f.run(ctx, "ps")
	require.Equal(t, 0, r.code, r.err)
	assert.Regexp(t, `(?m)^\S+ +user-service +Up .*\(healthy\) +127\.0\.0\.1:30302->50051/tcp`, r.out)
	assert.Equal(t, 23, strings.Count(r.out, "\n"), "header and 22 containers")
	r = f.run(ctx, "ps", "-o", "json")
	require.Equal(t, 0, r.code, r.err)
	var rows []map[string]any
	require.NoError(t, json.Unmarshal([]byte(r.out), &rows))
	assert.Len(t, rows, 22)

	r = run(t, nil, "config", "--env", "ci")
	require.Equal(t, 0, r.code, r.err)
	assert.True(t, strings.HasPrefix(r.out, "# ../../envs/nova.yaml with environment ci (project nova-ci)\n"), r.out[:80])
	assert.Contains(t, r.out, "\nhostPortBase: 30000\n", "the ci overlay is applied")
	local := run(t, nil, "config", "-o", "json")
	require.Equal(t, 0, local.code, local.err)
	var v struct {
		Environment string         `json:"environment"`
		Project     string         `json:"project"`
		Catalog     map[string]any `json:"catalog"`
	}
	require.NoError(t, json.Unmarshal([]byte(local.out), &v))
	assert.Equal(t, "local", v.Environment)
	assert.Equal(t, "nova-local", v.Project)
	assert.EqualValues(t, 20000, v.Catalog["hostPortBase"])
	assert.Contains(t, v.Catalog["services"], "user-service")
}

// TestCompletionOfNames is issue 12 item 7f: the shell completion offers
// the catalog's node names and the environments next to it.
func TestCompletionOfNames(t *testing.T) {
	lines := func(out string) []string {
		var names []string
		for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
			if !strings.HasPrefix(l, ":") {
				names = append(names, l)
			}
		}
		return names
	}
	r := run(t, nil, "__complete", "up", "--env", "")
	require.Equal(t, 0, r.code, r.err)
	assert.Equal(t, []string{"ci", "local", "pr"}, lines(r.out))
	r = run(t, nil, "__complete", "logs", "user")
	assert.Equal(t, []string{"user-service"}, lines(r.out))
	r = run(t, nil, "__complete", "verify", "--only", "redis")
	assert.Contains(t, lines(r.out), "redis")
	assert.Contains(t, lines(r.out), "redis-cluster-init", "bootstraps are nodes too")
	r = run(t, nil, "__complete", "logs", "user-service", "")
	assert.NotContains(t, lines(r.out), "user-service", "a name given is not offered again")
	assert.Contains(t, lines(r.out), "postgres")
}

// TestJSONOutputOfEveryVerb: with -o json a verb's result is JSON through
// and through (one document, or JSON lines as it goes), on the fake
// backend; verbs that need a real engine or stores are covered by their
// error cases above.
func TestJSONOutputOfEveryVerb(t *testing.T) {
	f := newFakeApp(t)
	ctx := context.Background()
	for _, args := range [][]string{
		{"validate"}, {"graph"}, {"config"}, {"version"}, {"--version"},
		{"up", "--dry-run"}, {"up"}, {"status"}, {"ps"}, {"logs", "user-service"},
		{"doctor"}, {"env", "user-service"}, {"down", "--volumes"},
	} {
		r := f.run(ctx, append(args, "-o", "json")...)
		require.Equal(t, 0, r.code, "%v: %s", args, r.err+r.out)
		dec := json.NewDecoder(strings.NewReader(r.out))
		n := 0
		for {
			var v any
			err := dec.Decode(&v)
			if err == io.EOF {
				break
			}
			require.NoError(t, err, "%v: stdout is JSON: %q", args, r.out)
			n++
		}
		assert.Positive(t, n, "%v prints JSON", args)
	}
}

// TestStopStartRestartFollowTheGraph is issue 12 item 7e (stop, start,
// restart): stop takes dependents down with the node, start brings up what
// a node needs first.
func TestStopStartRestartFollowTheGraph(t *testing.T) {
	f := newFakeApp(t)
	ctx := context.Background()
	require.Equal(t, 0, f.run(ctx, "up").code)
	all := len(f.be.Running())

	r := f.run(ctx, "stop", "user-service")
	require.Equal(t, 0, r.code, r.err)
	stopped := strings.Split(strings.TrimPrefix(strings.TrimSpace(r.out), "stopped "), ", ")
	assert.Equal(t, "user-service", stopped[len(stopped)-1], "dependents go first: %v", stopped)
	assert.Contains(t, stopped, "feed-service", "feed-service needs user-service")
	assert.Contains(t, stopped, "graphql-gateway")
	assert.NotContains(t, stopped, "postgres", "what user-service needs stays")
	running := f.be.Running()
	assert.Len(t, running, all-len(stopped))
	for _, n := range stopped {
		assert.NotContains(t, running, n)
	}
	assert.Contains(t, running, "postgres")

	r = f.run(ctx, "start", "feed-service")
	require.Equal(t, 0, r.code, r.err+r.out)
	running = f.be.Running()
	assert.Contains(t, running, "feed-service")
	assert.Contains(t, running, "user-service", "started first: feed-service needs it")
	assert.NotContains(t, running, "graphql-gateway", "start does not start dependents")

	r = f.run(ctx, "restart", "postgres")
	require.Equal(t, 0, r.code, r.err+r.out)
	assert.Contains(t, r.err, "stopped ")
	running = f.be.Running()
	assert.Contains(t, running, "postgres")
	assert.Contains(t, running, "feed-service", "what was running comes back")

	r = f.run(ctx, "stop", "nope")
	assert.Equal(t, 2, r.code)
	assert.Contains(t, r.err, `unknown node "nope"`)
	r = f.run(ctx, "stop", "-o", "json")
	require.Equal(t, 0, r.code, r.err)
	assert.Contains(t, r.out, `"stopped":[`)
	assert.Empty(t, f.be.Running())
}

// TestExecNeedsDocker: exec on another backend is a usage error; the real
// exec is e2e's TestIntegrationExec.
func TestExecNeedsDocker(t *testing.T) {
	f := newFakeApp(t)
	r := f.run(context.Background(), "exec", "postgres", "--", "true")
	assert.Equal(t, 2, r.code, r.err)
	assert.Contains(t, r.err, "exec works on --target docker only")
	r = f.run(context.Background(), "exec", "postgres")
	assert.Equal(t, 2, r.code, "a command is required")
}
