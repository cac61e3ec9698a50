package docker_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/novadev/novadev/internal/backend"
	"github.com/novadev/novadev/internal/backend/docker"
	"github.com/novadev/novadev/internal/backend/docker/enginefake"
	"github.com/novadev/novadev/internal/catalog"
	"github.com/novadev/novadev/internal/render/compose"
	"github.com/novadev/novadev/internal/state"
)

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

func shop(t *testing.T) (*docker.Backend, *enginefake.Driver) {
	t.Helper()
	c, err := catalog.Load("testdata/shop/shop.yaml", catalog.Options{Env: "dev"})
	require.NoError(t, err)
	p, err := compose.Project(c)
	require.NoError(t, err)
	spec, err := docker.FromCompose(p, state.Identity{Project: c.Env.Project, Env: "dev"}, func(k string) (string, bool) { return "pw-" + k, true })
	require.NoError(t, err)
	eng := enginefake.New(shopImages())
	b := docker.New(eng, spec)
	b.PortFree = func(int) error { return nil }
	return b, eng
}

func observe(t *testing.T, b *docker.Backend) *backend.Snapshot {
	t.Helper()
	s, err := b.Observe(context.Background())
	require.NoError(t, err)
	return s
}

func applyAll(t *testing.T, b *docker.Backend, s *backend.Snapshot) {
	t.Helper()
	var nodes []string
	for n := range s.Nodes {
		if len(s.Nodes[n].MissingImages) == 0 {
			nodes = append(nodes, n)
		}
	}
	slices.Sort(nodes)
	require.NoError(t, b.Prepare(context.Background(), s, nodes))
	for _, n := range nodes {
		_, err := b.Apply(context.Background(), n)
		require.NoError(t, err, n)
	}
}

func TestObserveTranslatesTheComposeProject(t *testing.T) {
	b, _ := shop(t)
	s := observe(t, b)
	require.Equal(t, "shop-dev", s.Instance)
	var nodes []string
	for n := range s.Nodes {
		nodes = append(nodes, n)
	}
	require.ElementsMatch(t, []string{"postgres", "redis", "kafka", "search", "users", "orders", "notify", "finder"}, nodes,
		"bootstraps run in-process and the external store is not run: neither is a node of the backend")
	redis := s.Nodes["redis"]
	require.Len(t, redis.Units, 3)
	require.Equal(t, "shop-dev-redis-2-1", redis.Units[1].Name)
	require.Equal(t, backend.Missing, redis.Units[1].State)
	require.Equal(t, []backend.Port{{Unit: "redis-2", Internal: "redis-2:7002", Container: 7002, HostIP: "127.0.0.1", HostPort: 16012}}, redis.Units[1].Ports)
	require.Equal(t, []string{"elastic:8"}, s.Nodes["search"].MissingImages)
	require.Contains(t, s.Resources, backend.Resource{Kind: "network", Name: "shop-dev"})
	require.Contains(t, s.Resources, backend.Resource{Kind: "volume", Name: "shop-dev_postgres-data", Nodes: []string{"postgres"}})
	require.Equal(t, b.Ports("users"), []backend.Port{{Unit: "users", Internal: "users:50051", Container: 50051, HostIP: "127.0.0.1", HostPort: 16101}})
}

func TestApplyConvergesAndKeepsWhatIsRight(t *testing.T) {
	b, eng := shop(t)
	s := observe(t, b)
	applyAll(t, b, s)
	require.Contains(t, eng.Calls(), "create network shop-dev")
	require.Contains(t, eng.Calls(), "create volume shop-dev_postgres-data")
	require.NotContains(t, eng.Calls(), "create volume shop-dev_search-data", "a skipped store gets no volume")
	require.Len(t, eng.Containers(), 9)

	s = observe(t, b)
	for _, n := range s.Nodes {
		for _, u := range n.Units {
			if len(n.MissingImages) == 0 {
				require.Equal(t, backend.Running, u.State, u.Name)
				require.Equal(t, u.Want, u.Have, "%s carries its configuration hash", u.Name)
			}
		}
	}
	eng.ResetCalls()
	applyAll(t, b, s)
	require.Empty(t, eng.Calls(), "applying what already runs changes nothing")

	// a rebuilt image changes the hash: the node's container is replaced;
	// a stopped one with the same hash is only started
	eng.Images["novadev/placeholder:dev"] = "sha256:placeholder-v2"
	eng.SetState("shop-dev-redis-2-1", state.Exited)
	s = observe(t, b)
	require.NotEqual(t, s.Nodes["users"].Units[0].Want, s.Nodes["users"].Units[0].Have)
	eng.ResetCalls()
	_, err := b.Apply(context.Background(), "users")
	require.NoError(t, err)
	_, err = b.Apply(context.Background(), "redis")
	require.NoError(t, err)
	require.Equal(t, []string{"stop shop-dev-users-1", "remove shop-dev-users-1", "create shop-dev-users-1", "start shop-dev-users-1", "start shop-dev-redis-2-1"}, eng.Calls())
}

func TestPreflightNamesWhoHoldsAPort(t *testing.T) {
	b, eng := shop(t)
	eng.Foreign = []docker.PortUse{{Port: 16001, Container: "other-postgres-1", Project: "other"}}
	b.PortFree = func(p int) error {
		if p == 16101 {
			return errors.New("address in use")
		}
		return nil
	}
	s := observe(t, b)
	err := b.Preflight(context.Background(), s, []string{"postgres", "users", "orders"})
	require.EqualError(t, err, strings.Join([]string{
		"host port 16001 for postgres is taken by container other-postgres-1 (project other); stop it, or pick another environment (--env) whose port block is free",
		"host port 16101 for users is taken by another process on this machine (see `ss -ltnp 'sport = :16101'`); stop it, or pick another environment (--env) whose port block is free",
	}, "\n"))
	require.Empty(t, eng.Calls())

	// its own running containers hold its ports: no problem on a second up
	eng.Foreign = nil
	b.PortFree = func(int) error { return errors.New("in use by our own container") }
	applyAll(t, b, s)
	require.NoError(t, b.Preflight(context.Background(), observe(t, b), []string{"postgres", "users"}))
}

func TestRecordsAreMarkerVolumes(t *testing.T) {
	b, eng := shop(t)
	s := observe(t, b)
	applyAll(t, b, s)
	require.NoError(t, b.Record(context.Background(), "migrations", "sum-1"))
	require.Equal(t, map[string]string{"migrations": "sum-1"}, observe(t, b).Records)
	require.NoError(t, b.Record(context.Background(), "migrations", "sum-2"))
	require.Equal(t, map[string]string{"migrations": "sum-2"}, observe(t, b).Records, "the marker is replaced")
	require.Contains(t, eng.Calls(), "remove volume shop-dev_novadev-bootstrap-migrations")
}

func TestOrphansDeleteAndTeardown(t *testing.T) {
	b, eng := shop(t)
	s := observe(t, b)
	applyAll(t, b, s)
	require.NoError(t, b.Record(context.Background(), "migrations", "sum"))
	// a service left the catalog: its container is an orphan
	id, err := eng.Create(context.Background(), docker.Workload{Name: "shop-dev-gone-1", Service: "gone", Image: "redis:7", Labels: map[string]string{state.LabelProject: "shop-dev", state.LabelService: "gone"}})
	require.NoError(t, err)
	require.NoError(t, eng.Start(context.Background(), id))
	s = observe(t, b)
	require.Len(t, s.Orphans, 1)
	eng.ResetCalls()
	require.NoError(t, b.Prepare(context.Background(), s, nil))
	require.Equal(t, []string{"remove shop-dev-gone-1"}, eng.Calls())

	s = observe(t, b)
	require.NoError(t, b.Delete(context.Background(), "users", false))
	require.Contains(t, eng.Calls(), "stop shop-dev-users-1", "a plain down stops gracefully")
	eng.ResetCalls()
	require.NoError(t, b.Delete(context.Background(), "orders", true))
	require.Equal(t, []string{"remove shop-dev-orders-1"}, eng.Calls(), "down --volumes kills and removes at once")
	removed, err := b.Teardown(context.Background(), false)
	require.NoError(t, err)
	require.Contains(t, removed, backend.Resource{Kind: "network", Name: "shop-dev"})
	require.NotEmpty(t, observe(t, b).Records, "a plain down keeps the records with the data")
	_, err = b.Teardown(context.Background(), true)
	require.NoError(t, err)
	o, err := eng.Observe(context.Background(), "shop-dev")
	require.NoError(t, err)
	require.True(t, o.Empty(), "%+v", o)
}

func TestWatchReportsDeathsItDidNotCause(t *testing.T) {
	b, eng := shop(t)
	s := observe(t, b)
	applyAll(t, b, s)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	failures, err := b.Watch(ctx)
	require.NoError(t, err)

	// the backend replacing a container is not a failure
	eng.Images["postgres:15"] = "sha256:pg-v2"
	observe(t, b)
	_, err = b.Apply(context.Background(), "postgres")
	require.NoError(t, err)
	eng.Kill("shop-dev-kafka-1", 137, false)
	eng.Kill("shop-dev-redis-3-1", 137, true)
	got := []backend.Failure{<-failures, <-failures}
	require.Equal(t, []backend.Failure{
		{Node: "kafka", Unit: "shop-dev-kafka-1", ExitCode: 137, Reason: "exited with code 137 (killed)"},
		{Node: "redis", Unit: "shop-dev-redis-3-1", ExitCode: 137, Reason: "was killed for running out of memory (OOM, exit code 137)"},
	}, got)
	select {
	case f := <-failures:
		t.Fatalf("unexpected failure %+v", f)
	case <-time.After(20 * time.Millisecond):
	}
	cancel()
	for range failures { // closed once ctx ends
	}
}
