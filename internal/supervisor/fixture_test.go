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

	"github.com/novadev/novadev/internal/backend/fake"
	"github.com/novadev/novadev/internal/catalog"
	"github.com/novadev/novadev/internal/event"
	"github.com/novadev/novadev/internal/probe"
)

var update = flag.Bool("update", false, "rewrite golden files")

type fixture struct {
	t      *testing.T
	c      *catalog.Catalog
	be     *fake.Backend
	clk    *probe.FakeClock
	rec    *event.Recorder
	runner *Runner
	inputs string

	mu        sync.Mutex
	boots     []string
	notReady  map[string]error                                   // node -> why its check fails
	probes    map[string]func(ctx context.Context) (bool, error) // node -> its check, when set
	bootFails map[string]error
	bootHook  map[string]func(ctx context.Context) error
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	c, err := catalog.Load("testdata/shop/shop.yaml", catalog.Options{Env: "dev"})
	require.NoError(t, err)
	f := &fixture{t: t, c: c, be: fake.New(), clk: probe.NewFakeClock(), rec: &event.Recorder{}, inputs: "inputs-v1",
		notReady: map[string]error{}, probes: map[string]func(context.Context) (bool, error){}, bootFails: map[string]error{}, bootHook: map[string]func(context.Context) error{}}
	f.be.AddCatalog(c)
	f.be.Missing["search"] = []string{"elastic:8"}
	f.be.Now = f.clk.Now
	f.runner = &Runner{
		Backend: f.be, Sink: f.rec, Clock: f.clk, Parallel: 4,
		Ready: func(node string) (probe.Check, time.Duration) {
			return probe.Func{What: "ready " + node, F: func(ctx context.Context) (bool, error) {
				f.mu.Lock()
				p := f.probes[node]
				err := f.notReady[node]
				f.mu.Unlock()
				if p != nil {
					return p(ctx)
				}
				if err != nil {
					return false, err
				}
				return true, nil
			}}, 30 * time.Second
		},
		Bootstrap: func(ctx context.Context, b *catalog.Bootstrap, log func(string, ...any)) error {
			f.mu.Lock()
			f.boots = append(f.boots, b.Name)
			err := f.bootFails[b.Name]
			hook := f.bootHook[b.Name]
			f.mu.Unlock()
			if hook != nil {
				if err := hook(ctx); err != nil {
					return err
				}
			}
			log("ran %s", b.Step)
			return err
		},
	}
	return f
}

func (f *fixture) plan() *Plan {
	f.t.Helper()
	snap, err := f.be.Observe(context.Background())
	require.NoError(f.t, err)
	p, err := MakePlan(f.c.Graph(), snap, f.inputs)
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
