package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/novadev/novadev/internal/app"
	"github.com/novadev/novadev/internal/backend"
	"github.com/novadev/novadev/internal/backend/fake"
	"github.com/novadev/novadev/internal/catalog"
	"github.com/novadev/novadev/internal/cli"
	"github.com/novadev/novadev/internal/probe"
	"github.com/novadev/novadev/internal/supervisor"
)

// fakeApp runs novadev on a copy of envs/ with the ci environment, on a
// fake backend: no engine, no stores; bootstraps are recorded, "running"
// is ready.
type fakeApp struct {
	t     *testing.T
	root  string
	be    *fake.Backend
	state string

	mu    sync.Mutex
	boots []string
}

func newFakeApp(t *testing.T) *fakeApp {
	t.Helper()
	root := t.TempDir()
	require.NoError(t, os.CopyFS(filepath.Join(root, "envs"), os.DirFS("../../envs")))
	c, err := catalog.Load(filepath.Join(root, "envs", "nova.yaml"), catalog.Options{Env: "ci"})
	require.NoError(t, err)
	f := &fakeApp{t: t, root: root, be: fake.New(), state: t.TempDir()}
	f.be.AddCatalog(c)
	f.be.LogLines["user-service"] = []string{"listening on :50051"}
	return f
}

func (f *fakeApp) run(ctx context.Context, args ...string) result {
	f.t.Helper()
	var out, errb bytes.Buffer
	s := cli.Streams{In: strings.NewReader(""), Out: &out, Err: &errb, Getenv: func(k string) string {
		if k == "CI" {
			return "true"
		}
		return ""
	}}
	o := app.Options{
		Backends: map[string]app.BackendFactory{"docker": func(context.Context, *app.Env) (backend.Backend, error) { return f.be, nil }},
		Bootstrap: func(_ context.Context, b *catalog.Bootstrap, log func(string, ...any)) error {
			f.mu.Lock()
			f.boots = append(f.boots, b.Name)
			f.mu.Unlock()
			return nil
		},
		Ready:    func(string) (probe.Check, time.Duration) { return nil, 0 },
		StateDir: f.state,
	}
	code := app.RunWith(ctx, s, append([]string{"--catalog", filepath.Join(f.root, "envs", "nova.yaml"), "--env", "ci"}, args...), o)
	return result{code, out.String(), errb.String()}
}

func TestVerbsOnAFakeBackend(t *testing.T) {
	f := newFakeApp(t)
	ctx := context.Background()

	r := f.run(ctx, "up", "--dry-run")
	require.Equal(t, 0, r.code, r.err)
	assert.Contains(t, r.out, "project fake: 23 changes\n")
	assert.Contains(t, r.out, "  bootstrap migrations: run after postgres, postgres-init\n")
	assert.Empty(t, f.be.Calls(), "a dry run changes nothing")

	r = f.run(ctx, "up")
	require.Equal(t, 0, r.code, r.err+r.out)
	assert.Contains(t, r.err, "generated 18 credentials into "+filepath.Join(f.root, "compose", ".env"))
	assert.Regexp(t, `(?m)^total [0-9.]+s; critical path [0-9.]+s: \S+ -> `, r.out)
	assert.Regexp(t, `(?m)^  user-service +127\.0\.0\.1:30302 -> 50051$`, r.out)
	assert.Len(t, f.boots, 6)
	assert.Len(t, f.be.Running(), 20, "16 services, postgres, redis, kafka, clickhouse (ci has no elasticsearch image)")
	assert.Regexp(t, `(?m)^search-service +create +degraded +[0-9.]+s$`, r.out)
	assert.Contains(t, r.out, "\nrunning without optional stores:\n  search-service           degraded: elasticsearch unavailable (no offline image; use --images upstream or a mirror)\n  elasticsearch            skipped: unavailable (no offline image; use --images upstream or a mirror)\n")

	r = f.run(ctx, "up", "--dry-run")
	require.Equal(t, 0, r.code, r.err)
	assert.Contains(t, r.out, "project fake: 0 changes\n")
	f.be.ResetCalls()
	r = f.run(ctx, "up")
	require.Equal(t, 0, r.code, r.err)
	assert.Empty(t, f.be.Calls(), "a second up changes nothing")
	assert.Len(t, f.boots, 7, "and runs no bootstrap again but postgres-init, which runs on every up")
	assert.Equal(t, "postgres-init", f.boots[6])

	r = f.run(ctx, "status")
	require.Equal(t, 0, r.code, r.err)
	assert.Regexp(t, `(?m)^user-service +running +yes .* 1\.0MiB +127\.0\.0\.1:30302->50051$`, r.out)
	assert.Equal(t, 22, strings.Count(r.out, " running "), r.out)
	assert.Contains(t, r.out, "\n  degraded: elasticsearch unavailable (no offline image; use --images upstream or a mirror)\n", "under search-service")
	assert.Contains(t, r.out, "\nelasticsearch            skipped: unavailable (no offline image; use --images upstream or a mirror)\n")

	r = f.run(ctx, "logs", "user-service")
	require.Equal(t, 0, r.code, r.err)
	assert.Equal(t, "user-service | listening on :50051\n", r.out)
	r = f.run(ctx, "logs", "nope")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.err, "no container of fake matches [nope]")

	r = f.run(ctx, "doctor")
	require.Equal(t, 0, r.code, r.out)
	assert.Contains(t, r.out, "ok   engine         fake 0 on linux, 2 CPUs\n")
	assert.Contains(t, r.out, "ok   images         5 of 5 present\n")

	r = f.run(ctx, "down", "--volumes")
	require.Equal(t, 0, r.code, r.err)
	assert.Contains(t, r.out, "fake: removed 22 containers and 1 networks; 6 volumes removed\n")
	assert.Empty(t, f.be.Running())
	r = f.run(ctx, "status")
	require.Equal(t, 0, r.code, r.err)
	assert.Equal(t, "fake: nothing runs (novadev up starts it)\n", r.out)
}

func TestTargetsAreChecked(t *testing.T) {
	f := newFakeApp(t)
	r := f.run(context.Background(), "up", "--target", "kind")
	assert.Equal(t, 2, r.code)
	assert.Contains(t, r.err, `unknown --target "kind"; valid targets: docker`, "a target with no backend is refused before anything (no cluster is made)")
	r = f.run(context.Background(), "status", "--target", "podman")
	assert.Equal(t, 2, r.code)
	assert.Contains(t, r.err, `unknown --target "podman"; valid targets: docker`)
}

// A store that dies during up fails it at once; the summary and the error
// name it first; its dependents never start.
func TestUpFailsFastWhenAStoreDies(t *testing.T) {
	f := newFakeApp(t)
	f.be.LogLines["postgres"] = []string{"FATAL:  terminating connection due to administrator command"}
	f.be.OnApply = func(ctx context.Context, node string) error {
		if node == "auth-service" { // postgres is ready by then
			f.be.Kill("postgres", 137)
			// the death arrives asynchronously: hold this dependent until
			// the runner stops it (so nothing after it, like the gateway,
			// can start first on a busy machine); 5 s is a bound, not a wait
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(5 * time.Second):
			}
		}
		return nil
	}
	r := f.run(context.Background(), "up")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.err, "\nnovadev: postgres: container fake-postgres-1 exited with code 137\n  last log lines of fake-postgres-1:\n    FATAL:  terminating", r.err)
	rows := regexp.MustCompile(`(?m)^NODE .*\n(\S+) +\S+ +(\S+)`).FindStringSubmatch(r.out)
	require.Len(t, rows, 3, r.out)
	assert.Equal(t, []string{"postgres", "failed"}, rows[1:], "the failed node heads the summary")
	assert.NotContains(t, f.be.Running(), "graphql-gateway")
	assert.NotContains(t, r.out, "  graphql-gateway ", "no endpoint of a node that did not start")
	assert.NotContains(t, r.out, "  postgres ", "nor of the one that died")
}

// Ctrl-C during up: exit code 130, and endpoints only of what started.
func TestInterruptedUpExits130(t *testing.T) {
	f := newFakeApp(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f.be.OnApply = func(_ context.Context, node string) error {
		if node == "user-service" {
			cancel()
			return context.Canceled
		}
		return nil
	}
	r := f.run(ctx, "up")
	assert.Equal(t, 130, r.code, r.err)
	assert.Contains(t, r.err, "interrupted; run novadev up again to resume where it stopped")
	assert.Regexp(t, `(?m)^  postgres +127\.0\.0\.1:30001 -> 5432$`, r.out)
	assert.NotContains(t, r.out, "  user-service ")
	assert.NotContains(t, r.out, "  graphql-gateway ")
}

// A second up of one environment waits for the first, saying who it is.
func TestSecondUpWaitsForTheFirst(t *testing.T) {
	f := newFakeApp(t)
	l, err := supervisor.AcquireLock(context.Background(), supervisor.LockPath(f.state, "docker", "nova-ci"), "up nova-ci", nil)
	require.NoError(t, err)
	_, err = supervisor.AcquireLock(context.Background(), supervisor.LockPath(f.state, "docker", "nova-ci"), "up nova-ci", nil)
	var busy *supervisor.BusyError
	require.ErrorAs(t, err, &busy)
	assert.Contains(t, err.Error(), "novadev up nova-ci (pid ")

	done := make(chan result)
	go func() { done <- f.run(context.Background(), "up") }()
	require.Eventually(t, func() bool { return slices.Contains(f.be.Calls(), "prepare") == false }, time.Second, 10*time.Millisecond)
	time.Sleep(300 * time.Millisecond)
	assert.Empty(t, f.be.Calls(), "nothing changes while the first holds the lock")
	require.NoError(t, l.Release())
	r := <-done
	require.Equal(t, 0, r.code, r.err)
	assert.Regexp(t, `note: waiting for novadev up nova-ci \(pid \d+, started [0-9:]+\) to finish`, r.out)
	assert.Len(t, f.be.Running(), 20)
}

// TestVerifyOnAFakeBackend checks verify's adapter over the backend: with
// nothing running it refuses; after up, what the backend records (units
// running, bootstrap records) passes its gates, while checks that dial the
// stores fail by name (the fake runs no stores) without stopping the rest.
func TestVerifyOnAFakeBackend(t *testing.T) {
	f := newFakeApp(t)
	ctx := context.Background()

	r := f.run(ctx, "verify")
	require.Equal(t, 1, r.code, r.out+r.err)
	assert.Contains(t, r.err, "nothing runs")

	r = f.run(ctx, "up")
	require.Equal(t, 0, r.code, r.out+r.err)

	r = f.run(ctx, "verify", "-o", "json", "--check-timeout", "2s")
	require.Equal(t, 1, r.code, r.out+r.err)
	var rep struct {
		Results []struct {
			ID     string `json:"id"`
			Status string `json:"status"`
			Detail string `json:"message"`
		} `json:"results"`
	}
	require.NoError(t, json.Unmarshal([]byte(r.out), &rep), r.out)
	status := map[string]string{}
	detail := map[string]string{}
	for _, res := range rep.Results {
		status[res.ID] = res.Status
		detail[res.ID] = res.Detail
	}
	// ci has no elasticsearch image: its check is skipped with the reason, not passed
	assert.Equal(t, "skipped", status["elasticsearch/up"], r.out)
	assert.Contains(t, detail["elasticsearch/up"], "no offline image; use --images upstream or a mirror")
	require.Greater(t, len(status), 10)
	assert.Equal(t, "passed", status["postgres-init/completed"], "a recorded bootstrap completed")
	assert.Equal(t, "passed", status["auth-service/ready"], "a running unit is ready")
	assert.Equal(t, "failed", status["postgres/up"], "no PostgreSQL answers behind the fake")
}

// TestDegradedInJSON: with no Elasticsearch image (ci), up -o json's summary
// says search-service is degraded and why, and that elasticsearch was
// skipped as unavailable; status -o json says the same per container.
func TestDegradedInJSON(t *testing.T) {
	f := newFakeApp(t)
	ctx := context.Background()
	const why = "elasticsearch unavailable (no offline image; use --images upstream or a mirror)"

	r := f.run(ctx, "up", "-o", "json")
	require.Equal(t, 0, r.code, r.out+r.err)
	var summary struct {
		Nodes []struct {
			Name        string `json:"name"`
			Status      string `json:"status"`
			State       string `json:"state"`
			Degraded    string `json:"degraded"`
			Unavailable string `json:"unavailable"`
		} `json:"nodes"`
	}
	found := false
	for _, line := range strings.Split(strings.TrimSpace(r.out), "\n") {
		if strings.Contains(line, `"type":"summary"`) {
			require.NoError(t, json.Unmarshal([]byte(line), &summary), line)
			found = true
		}
	}
	require.True(t, found, r.out)
	byName := map[string]int{}
	for i, n := range summary.Nodes {
		byName[n.Name] = i
	}
	ss := summary.Nodes[byName["search-service"]]
	assert.Equal(t, "ready", ss.Status, "it runs")
	assert.Equal(t, why, ss.Degraded)
	assert.Equal(t, "degraded: "+why, ss.State)
	es := summary.Nodes[byName["elasticsearch"]]
	assert.Equal(t, "skipped", es.Status)
	assert.Equal(t, "no offline image; use --images upstream or a mirror", es.Unavailable)
	assert.Equal(t, "ready", summary.Nodes[byName["user-service"]].State)

	r = f.run(ctx, "status", "-o", "json")
	require.Equal(t, 0, r.code, r.out+r.err)
	var st struct {
		Containers []struct {
			Node     string `json:"node"`
			Degraded string `json:"degraded"`
		} `json:"containers"`
		Unavailable []struct{ Node, Reason string } `json:"unavailable"`
	}
	require.NoError(t, json.Unmarshal([]byte(r.out), &st), r.out)
	degraded := map[string]string{}
	for _, c := range st.Containers {
		if c.Degraded != "" {
			degraded[c.Node] = c.Degraded
		}
	}
	assert.Equal(t, map[string]string{"search-service": why}, degraded)
	require.Len(t, st.Unavailable, 1)
	assert.Equal(t, "elasticsearch", st.Unavailable[0].Node)
}
