package supervisor

import (
	"context"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/novadev/novadev/internal/catalog"
	"github.com/novadev/novadev/internal/driver/fake"
	"github.com/novadev/novadev/internal/event"
	"github.com/novadev/novadev/internal/probe"
	"github.com/novadev/novadev/internal/render/compose"
	"github.com/novadev/novadev/internal/state"
)

var update = flag.Bool("update", false, "rewrite golden files")

// images of the shop catalog's dev environment; elastic:8 (the optional
// store's) is deliberately absent.
func shopImages() map[string]string {
	return map[string]string{
		"postgres:15":             "sha256:pg",
		"redis:7":                 "sha256:redis",
		"novadev/kafka:kfake":     "sha256:kafka",
		"novadev/placeholder:dev": "sha256:placeholder",
	}
}

type fixture struct {
	t      *testing.T
	c      *catalog.Catalog
	spec   *Spec
	drv    *fake.Driver
	clk    *probe.FakeClock
	rec    *event.Recorder
	runner *Runner

	mu        sync.Mutex
	boots     []string
	notReady  map[string]error // node -> why its check fails
	bootFails map[string]error
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	c, err := catalog.Load("testdata/shop/shop.yaml", catalog.Options{Env: "dev"})
	require.NoError(t, err)
	p, err := compose.Project(c)
	require.NoError(t, err)
	spec, err := FromCompose(p, state.Identity{Project: c.Env.Project, Env: "dev"}, func(k string) (string, bool) { return "pw-" + k, true })
	require.NoError(t, err)
	spec.InputsHash = "inputs-v1"
	f := &fixture{t: t, c: c, spec: spec, drv: fake.New(shopImages()), clk: probe.NewFakeClock(), rec: &event.Recorder{},
		notReady: map[string]error{}, bootFails: map[string]error{}}
	f.drv.Now = f.clk.Now
	f.runner = &Runner{
		Driver: f.drv, Sink: f.rec, Clock: f.clk, Parallel: 4,
		PortFree: func(int) error { return nil },
		Ready: func(node string) (probe.Check, time.Duration) {
			return probe.Func{What: "ready " + node, F: func(context.Context) (bool, error) {
				f.mu.Lock()
				defer f.mu.Unlock()
				if err := f.notReady[node]; err != nil {
					return false, err
				}
				return true, nil
			}}, 30 * time.Second
		},
		Bootstrap: func(ctx context.Context, b *catalog.Bootstrap, log func(string, ...any)) error {
			f.mu.Lock()
			f.boots = append(f.boots, b.Name)
			err := f.bootFails[b.Name]
			f.mu.Unlock()
			log("ran %s", b.Step)
			return err
		},
	}
	return f
}

func (f *fixture) plan() *Plan {
	f.t.Helper()
	obs, err := f.drv.Observe(context.Background(), f.spec.Identity.Project)
	require.NoError(f.t, err)
	p, err := MakePlan(f.c.Graph(), f.spec, obs, f.drv.Images)
	require.NoError(f.t, err)
	return p
}

func (f *fixture) up(ctx context.Context) (*Result, error) {
	return f.runner.Up(ctx, f.plan())
}

// statuses maps every node to its status.
func statuses(r *Result) map[string]Status {
	out := map[string]Status{}
	for n, nr := range r.Nodes {
		out[n] = nr.Status
	}
	return out
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		require.NoError(t, os.WriteFile(path, []byte(got), 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run go test ./internal/supervisor -update")
	require.Equal(t, string(want), got, "%s differs (go test ./internal/supervisor -update)", path)
}

var errDown = errors.New("connection refused")
