package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/novadev/novadev/internal/app"
	"github.com/novadev/novadev/internal/backend"
	"github.com/novadev/novadev/internal/backend/docker"
	"github.com/novadev/novadev/internal/backend/docker/enginefake"
	"github.com/novadev/novadev/internal/backend/fake"
	"github.com/novadev/novadev/internal/catalog"
	"github.com/novadev/novadev/internal/cli"
	"github.com/novadev/novadev/internal/probe"
	"github.com/novadev/novadev/internal/state"
)

// fakeStore is docker.Instances over the fake engine.
type fakeStore struct{ docker.Instances }

func (fakeStore) Close() error { return nil }

// instanceApp runs novadev with instances recorded on a fake engine, a
// fake backend per instance, and a clock the test moves.
type instanceApp struct {
	t     *testing.T
	root  string
	state string
	eng   *enginefake.Driver

	mu   sync.Mutex
	now  time.Time
	envs map[string]*app.Env // project -> what the backend factory got
	env  map[string]string   // the process environment novadev sees
}

func newInstanceApp(t *testing.T) *instanceApp {
	root := t.TempDir()
	require.NoError(t, os.CopyFS(filepath.Join(root, "envs"), os.DirFS("../../envs")))
	return &instanceApp{t: t, root: root, state: t.TempDir(), eng: enginefake.New(nil),
		now: time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC), envs: map[string]*app.Env{}}
}

func (f *instanceApp) advance(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.now = f.now.Add(d)
}

func (f *instanceApp) run(args ...string) result {
	f.t.Helper()
	var out, errb bytes.Buffer
	s := cli.Streams{In: strings.NewReader(""), Out: &out, Err: &errb, Getenv: func(k string) string {
		if k == "CI" {
			return "true"
		}
		return f.env[k]
	}}
	o := app.Options{
		Backends: map[string]app.BackendFactory{"docker": func(_ context.Context, env *app.Env) (backend.Backend, error) {
			f.mu.Lock()
			f.envs[env.Catalog.Env.Project] = env
			f.mu.Unlock()
			be := fake.New()
			be.AddCatalog(env.Catalog)
			return be, nil
		}},
		Bootstrap: func(context.Context, *catalog.Bootstrap, func(string, ...any)) error { return nil },
		Ready:     func(string) (probe.Check, time.Duration) { return nil, 0 },
		StateDir:  f.state,
		Instances: func(context.Context, string) (app.InstanceStore, error) {
			return fakeStore{docker.Instances{Engine: f.eng}}, nil
		},
		PortFree: func(int) error { return nil },
		Now: func() time.Time {
			f.mu.Lock()
			defer f.mu.Unlock()
			return f.now
		},
	}
	code := app.RunWith(context.Background(), s, append([]string{"--catalog", filepath.Join(f.root, "envs", "nova.yaml")}, args...), o)
	return result{code, out.String(), errb.String()}
}

func (f *instanceApp) list() []cli.Instance {
	f.t.Helper()
	r := f.run("--env", "ci", "list", "-o", "json")
	require.Equal(f.t, 0, r.code, r.err)
	var out []cli.Instance
	require.NoError(f.t, json.Unmarshal([]byte(r.out), &out), r.out)
	return out
}

func TestInstancesUpListGCOnAFakeEngine(t *testing.T) {
	f := newInstanceApp(t)
	base, err := catalog.Load(filepath.Join(f.root, "envs", "nova.yaml"), catalog.Options{Env: "ci"})
	require.NoError(t, err)

	r := f.run("--env", "ci", "--instance", "i1", "up", "--ttl", "1h")
	require.Equal(t, 0, r.code, r.err)
	r = f.run("--env", "ci", "--instance", "i2", "up", "--ttl", "2h")
	require.Equal(t, 0, r.code, r.err)

	// each instance: its own project, block, and labels on its objects
	e1, e2 := f.envs["nova-ci-i1"], f.envs["nova-ci-i2"]
	require.NotNil(t, e1)
	require.NotNil(t, e2)
	require.NotNil(t, e1.Instance)
	assert.Equal(t, app.PortRangeMin, e1.Instance.PortBase)
	assert.Equal(t, app.PortRangeMin, e1.Catalog.HostPortBase)
	assert.Greater(t, e2.Instance.PortBase, e1.Instance.PortBase+base.Stores["postgres"].Host-base.HostPortBase)
	assert.Equal(t, e1.Instance.PortBase-base.HostPortBase+base.Stores["postgres"].Host, e1.Catalog.Stores["postgres"].Host)

	list := f.list()
	require.Len(t, list, 2)
	assert.Equal(t, "i1", list[0].Instance)
	assert.Equal(t, "ci", list[0].Env)
	assert.Equal(t, "nova-ci-i1", list[0].Project)
	assert.Equal(t, f.now.Add(time.Hour), list[0].Expires)
	assert.Equal(t, f.now.Add(2*time.Hour), list[1].Expires)
	assert.Less(t, list[0].PortEnd, list[1].PortBase)

	// shell completion offers the instances of the environment
	r = f.run("--env", "ci", "__complete", "status", "--instance", "")
	require.Equal(t, 0, r.code, r.err)
	assert.Contains(t, r.out, "i1\ni2\n:")
	r = f.run("--env", "local", "__complete", "status", "--instance", "")
	assert.NotContains(t, r.out, "i1", "instances of another environment are not offered")

	// a second up keeps the block and extends the expiry
	f.advance(30 * time.Minute)
	r = f.run("--env", "ci", "--instance", "i1", "up", "--ttl", "1h")
	require.Equal(t, 0, r.code, r.err)
	again := f.list()
	assert.Equal(t, list[0].PortBase, again[0].PortBase)
	assert.Equal(t, f.now.Add(time.Hour), again[0].Expires)
	assert.Equal(t, list[0].Created, again[0].Created)

	// gc at +1h45m: i1 (expires +1h30m) goes, i2 (+2h) stays; a foreign
	// volume with a similar label is never touched
	require.NoError(t, f.eng.CreateVolume(context.Background(), docker.VolumeSpec{Name: "someone_else",
		Labels: map[string]string{state.LabelInstance: "x", state.LabelVolume: state.InstanceRecordKey, state.LabelProject: "x"}}))
	require.NoError(t, f.eng.CreateVolume(context.Background(), docker.VolumeSpec{Name: "nova-ci-i1_data",
		Labels: state.Identity{Project: "nova-ci-i1"}.VolumeLabels("data")}))
	f.advance(75 * time.Minute)
	r = f.run("--env", "ci", "gc", "--dry-run", "-o", "json")
	require.Equal(t, 0, r.code, r.err)
	var dry cli.GCReport
	require.NoError(t, json.Unmarshal([]byte(r.out), &dry))
	require.Len(t, dry.Removed, 1)
	assert.Equal(t, "nova-ci-i1", dry.Removed[0].Project)
	assert.Len(t, f.list(), 2, "dry-run deletes nothing")

	r = f.run("--env", "ci", "gc")
	require.Equal(t, 0, r.code, r.err)
	assert.Contains(t, r.out, "removed nova-ci-i1")
	assert.Contains(t, r.out, "1 expired, 1 kept")
	list = f.list()
	require.Len(t, list, 1)
	assert.Equal(t, "i2", list[0].Instance)
	obs, err := f.eng.Observe(context.Background(), "nova-ci-i1")
	require.NoError(t, err)
	assert.True(t, obs.Empty(), "everything of nova-ci-i1 is gone: %+v", obs)
	obs, err = f.eng.Observe(context.Background(), "x")
	require.NoError(t, err)
	assert.Len(t, obs.Volumes, 1, "not novadev's: left alone")
}

func TestInstanceBadInput(t *testing.T) {
	f := newInstanceApp(t)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--env", "ci", "--instance", "PR_1", "up"}, "not a DNS-1123 label"},
		{[]string{"--env", "ci", "--instance", "i1", "up", "--ttl", "soon"}, `--ttl "soon" does not parse`},
		{[]string{"--env", "pr", "up"}, "pr needs --instance, e.g. --instance pr-123"},
		{[]string{"--env", "ci", "--instance", "nobody", "status"}, "no instance nobody of environment ci"},
	} {
		r := f.run(c.args...)
		assert.Equal(t, 2, r.code, "%v: %s", c.args, r.err)
		assert.Contains(t, r.err, c.want, c.args)
	}
	assert.Empty(t, f.list(), "bad input records nothing")
	r := f.run("--env", "ci", "--instance", "i9", "up", "--dry-run")
	require.Equal(t, 0, r.code, r.err)
	require.NotNil(t, f.envs["nova-ci-i9"], "planned as its own project")
	assert.Equal(t, app.PortRangeMin, f.envs["nova-ci-i9"].Instance.PortBase)
	assert.Empty(t, f.list(), "a dry-run records no block")
	r = f.run("--env", "ci", "--instance", "ghost", "down", "--volumes")
	require.Equal(t, 0, r.code, "down of an instance that never ran is a no-op: %s", r.err)
	assert.Empty(t, f.list())
}

// gc against an engine that is down fails at once and says what to do.
func TestGCWithTheEngineDown(t *testing.T) {
	t.Setenv("DOCKER_HOST", "unix://"+filepath.Join(t.TempDir(), "no-docker.sock"))
	var out, errb bytes.Buffer
	s := cli.Streams{In: strings.NewReader(""), Out: &out, Err: &errb, Getenv: os.Getenv}
	start := time.Now()
	code := app.RunWith(context.Background(), s, []string{"--catalog", "../../envs/nova.yaml", "--env", "ci", "gc"}, app.Options{StateDir: t.TempDir()})
	assert.Equal(t, 1, code)
	assert.Less(t, time.Since(start), 6*time.Second)
	assert.Contains(t, errb.String(), "no Docker engine reachable")
	assert.Contains(t, errb.String(), "start Docker")
	assert.Empty(t, out.String())
}

// pr names registry images; NOVADEV_IMAGES_FROM=ci runs it from ci's
// offline set, as an instance.
func TestPRInstanceFromTheOfflineImages(t *testing.T) {
	f := newInstanceApp(t)
	f.env = map[string]string{"NOVADEV_IMAGES_FROM": "ci"}
	r := f.run("--env", "pr", "--instance", "pr-123", "up", "--dry-run")
	require.Equal(t, 0, r.code, r.err)
	e := f.envs["nova-pr-pr-123"]
	require.NotNil(t, e)
	assert.Equal(t, "novadev/placeholder:dev", e.Catalog.Services["user-service"].Image)
	assert.Equal(t, "novadev/postgres:15", e.Catalog.Stores["postgres"].Image)

	f.env = map[string]string{"NOVADEV_IMAGES_FROM": "nope"}
	r = f.run("--env", "pr", "--instance", "pr-123", "up", "--dry-run")
	assert.NotEqual(t, 0, r.code)
	assert.Contains(t, r.err, "NOVADEV_IMAGES_FROM=nope")
}

// novadev env of an instance gives the instance's host ports.
func TestEnvOfAnInstance(t *testing.T) {
	f := newInstanceApp(t)
	r := f.run("--env", "ci", "--instance", "i1", "env", "user-service", "--format", "json")
	assert.Equal(t, 2, r.code, "no such instance yet: %s", r.err)
	assert.Contains(t, r.err, "no instance i1")
	require.Equal(t, 0, f.run("--env", "ci", "--instance", "i1", "up").code)
	r = f.run("--env", "ci", "--instance", "i1", "env", "user-service", "--format", "json")
	require.Equal(t, 0, r.code, r.err)
	assert.Contains(t, r.out, "127.0.0.1:1", "addresses in the instance's block (10000+): %s", r.out)
	assert.NotContains(t, r.out, "127.0.0.1:30", "not ci's own block: %s", r.out)
}
