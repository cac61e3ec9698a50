package app_test

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/novadev/novadev/internal/backend/docker"
	"github.com/novadev/novadev/internal/backend/docker/enginefake"
	"github.com/novadev/novadev/internal/catalog"
	"github.com/novadev/novadev/internal/event"
	"github.com/novadev/novadev/internal/probe"
	"github.com/novadev/novadev/internal/render/compose"
	"github.com/novadev/novadev/internal/state"
	"github.com/novadev/novadev/internal/supervisor"
)

var update = flag.Bool("update", false, "rewrite golden files")

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		require.NoError(t, os.WriteFile(path, []byte(got), 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run go test ./internal/app -update")
	require.Equal(t, string(want), got, "%s differs (go test ./internal/app -update)", path)
}

// The plan of the real Docker translation (the compose project, on a fake
// engine), pinned: fresh, warm, and after a rebuilt image and a crash.
func TestDockerPlanSnapshots(t *testing.T) {
	c, err := catalog.Load("../backend/docker/testdata/shop/shop.yaml", catalog.Options{Env: "dev"})
	require.NoError(t, err)
	p, err := compose.Project(c)
	require.NoError(t, err)
	spec, err := docker.FromCompose(p, state.Identity{Project: c.Env.Project, Env: "dev"}, func(k string) (string, bool) { return "pw-" + k, true })
	require.NoError(t, err)
	eng := enginefake.New(map[string]string{"postgres:15": "sha256:pg", "redis:7": "sha256:redis", "novadev/kafka:kfake": "sha256:kafka", "novadev/placeholder:dev": "sha256:placeholder"})
	be := docker.New(eng, spec)
	be.PortFree = func(int) error { return nil }
	plan := func() *supervisor.Plan {
		snap, err := be.Observe(context.Background())
		require.NoError(t, err)
		p, err := supervisor.MakePlan(c.Graph(), snap, "inputs-v1")
		require.NoError(t, err)
		return p
	}
	golden(t, "plan-docker-fresh.txt", plan().String())
	r := &supervisor.Runner{Backend: be, Sink: event.Discard, Clock: probe.NewFakeClock(),
		Bootstrap: func(context.Context, *catalog.Bootstrap, func(string, ...any)) error { return nil }}
	_, err = r.Up(context.Background(), plan())
	require.NoError(t, err)
	warm := plan()
	require.Equal(t, 0, warm.Changes(), warm.String())
	golden(t, "plan-docker-warm.txt", warm.String())
	eng.Images["novadev/placeholder:dev"] = "sha256:placeholder-v2"
	eng.SetState("shop-dev-redis-2-1", state.Exited)
	golden(t, "plan-docker-changed.txt", plan().String())
}
