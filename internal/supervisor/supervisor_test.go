package supervisor

import (
	"context"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/novadev/novadev/internal/driver"
	"github.com/novadev/novadev/internal/event"
	"github.com/novadev/novadev/internal/probe"
	"github.com/novadev/novadev/internal/state"
)

var allReady = map[string]Status{
	"postgres": StatusReady, "redis": StatusReady, "kafka": StatusReady,
	"graph": StatusSkipped, "search": StatusSkipped,
	"postgres-init": StatusReady, "migrations": StatusReady, "redis-cluster-init": StatusReady, "kafka-topics": StatusReady,
	"users": StatusReady, "orders": StatusReady, "notify": StatusReady, "finder": StatusReady,
}

func TestPlanSnapshots(t *testing.T) {
	f := newFixture(t)
	golden(t, "plan-fresh.txt", f.plan().String())

	_, err := f.up(context.Background())
	require.NoError(t, err)
	warm := f.plan()
	require.Equal(t, 0, warm.Changes(), warm.String())
	golden(t, "plan-warm.txt", warm.String())

	// a rebuilt placeholder image and a crashed store container
	f.drv.Images["novadev/placeholder:dev"] = "sha256:placeholder-v2"
	f.drv.SetState("shop-dev-redis-2-1", state.Exited)
	golden(t, "plan-changed.txt", f.plan().String())
}

func TestUpStartsInDependencyOrder(t *testing.T) {
	f := newFixture(t)
	res, err := f.up(context.Background())
	require.NoError(t, err)
	require.Equal(t, allReady, statuses(res))

	// every node starts only after each of its needs is ready
	evs := f.rec.Events()
	at := func(node string, typ event.Type) int {
		return slices.IndexFunc(evs, func(e event.Event) bool { return e.Node == node && e.Type == typ })
	}
	g := f.c.Graph()
	for _, e := range g.Edges() {
		if res.Nodes[e.To].Status == StatusSkipped {
			continue
		}
		require.Less(t, at(e.To, event.Ready), at(e.From, event.Starting), "%s started before %s was ready", e.From, e.To)
	}
	require.ElementsMatch(t, []string{"postgres-init", "migrations", "redis-cluster-init", "kafka-topics"}, f.boots)
	require.Contains(t, f.drv.Calls(), "create network shop-dev")
	require.Contains(t, f.drv.Calls(), "create volume shop-dev_postgres-data")
	require.Len(t, f.drv.Containers(), 9, "postgres, 3 redis, kafka, 4 services (finder too: its optional store is skipped)")
	require.NotContains(t, f.drv.Calls(), "create volume shop-dev_search-data", "a skipped store gets no volume")

	// the optional store without an image is skipped with a clear note
	skipped := f.rec.Of(event.Skipped)
	var notes []string
	for _, e := range skipped {
		notes = append(notes, e.Node+": "+e.Detail)
	}
	require.ElementsMatch(t, []string{
		"graph: external store: not started here (services use bolt://graph.example:7687)",
		"search: optional store: image elastic:8 is not available; its users start without it",
	}, notes)

	// the critical path is a chain of the graph, from a node that needs nothing
	require.NotEmpty(t, res.CriticalPath)
	require.Empty(t, g.Needs(res.CriticalPath[0]))
	for i := 1; i < len(res.CriticalPath); i++ {
		require.Contains(t, g.Needs(res.CriticalPath[i]), res.CriticalPath[i-1])
	}
}

func TestUpTwiceChangesNothing(t *testing.T) {
	f := newFixture(t)
	_, err := f.up(context.Background())
	require.NoError(t, err)
	before := f.drv.Containers()
	f.drv.ResetCalls()
	var rechecked []string
	var mu sync.Mutex
	f.runner.Recheck = func(node string) (probe.Check, time.Duration) {
		mu.Lock()
		rechecked = append(rechecked, node)
		mu.Unlock()
		return f.runner.Ready(node)
	}

	res, err := f.up(context.Background())
	require.NoError(t, err)
	require.Empty(t, f.drv.Calls(), "a second up creates, starts or removes nothing")
	require.Equal(t, before, f.drv.Containers())
	for n, st := range statuses(res) {
		switch allReady[n] {
		case StatusSkipped:
			require.Equal(t, StatusSkipped, st, n)
		default:
			require.Equal(t, StatusUnchanged, st, n)
		}
	}
	require.Empty(t, f.boots[4:], "completed bootstraps with unchanged inputs and stores do not run again")
	require.Len(t, rechecked, 11, "every kept node is rechecked with the cheaper check")
}

func TestBootstrapsRerunWhenInputsOrStoresChange(t *testing.T) {
	f := newFixture(t)
	_, err := f.up(context.Background())
	require.NoError(t, err)

	f.spec.InputsHash = "inputs-v2" // a migration was added
	f.boots = nil
	_, err = f.up(context.Background())
	require.NoError(t, err)
	require.ElementsMatch(t, []string{"postgres-init", "migrations", "redis-cluster-init", "kafka-topics"}, f.boots)

	f.drv.SetState("shop-dev-kafka-1", state.Exited) // a store restarted
	f.boots = nil
	res, err := f.up(context.Background())
	require.NoError(t, err)
	require.Equal(t, []string{"kafka-topics"}, f.boots)
	require.Equal(t, StatusReady, res.Nodes["kafka-topics"].Status)
	require.Equal(t, StatusUnchanged, res.Nodes["migrations"].Status)
}

func TestParallelismIsBounded(t *testing.T) {
	for _, n := range []int{1, 2, 3} {
		t.Run("parallel "+string(rune('0'+n)), func(t *testing.T) {
			f := newFixture(t)
			f.runner.Parallel = n
			var cur, max atomic.Int32
			f.drv.OnStart = func(context.Context, driver.Workload) error {
				c := cur.Add(1)
				for {
					m := max.Load()
					if c <= m || max.CompareAndSwap(m, c) {
						break
					}
				}
				time.Sleep(5 * time.Millisecond) // real time: let others pile up
				cur.Add(-1)
				return nil
			}
			_, err := f.up(context.Background())
			require.NoError(t, err)
			require.Equal(t, int32(n), max.Load(), "the bound is reached and never exceeded")
		})
	}
}

func TestFailedNodeBlocksItsDependents(t *testing.T) {
	f := newFixture(t)
	f.notReady["users"] = errDown
	f.drv.LogLines["users"] = []string{"line 1", "panic: cannot reach postgres"}
	res, err := f.up(context.Background())
	require.Error(t, err)

	want := with(allReady, map[string]Status{"users": StatusFailed, "orders": StatusBlocked, "notify": StatusBlocked})
	require.Equal(t, want, statuses(res))
	require.Equal(t, "needs users, which failed", res.Nodes["orders"].Detail)
	require.Equal(t, "needs users, which failed", res.Nodes["notify"].Detail, "the root cause is named, not the nearest blocked node")
	require.Equal(t, `users: not ready after 30s: waited for ready users (`+attempts(t, err)+` attempts); last error: connection refused
  last log lines of shop-dev-users-1:
    line 1
    panic: cannot reach postgres
not started because a dependency failed: orders, notify`, err.Error())
	var containers []string
	for _, c := range f.drv.Containers() {
		containers = append(containers, c.Workload.Service)
	}
	require.NotContains(t, containers, "orders")
	require.Contains(t, containers, "finder", "independent nodes still come up")
}

func attempts(t *testing.T, err error) string {
	i := strings.Index(err.Error(), " attempts)")
	require.Positive(t, i)
	j := strings.LastIndex(err.Error()[:i], "(")
	return err.Error()[j+1 : i]
}

func with(base map[string]Status, over map[string]Status) map[string]Status {
	out := map[string]Status{}
	for k, v := range base {
		out[k] = v
	}
	for k, v := range over {
		out[k] = v
	}
	return out
}

func TestFailedBootstrapThenRerunCompletes(t *testing.T) {
	f := newFixture(t)
	f.bootFails["migrations"] = errDown
	res, err := f.up(context.Background())
	require.ErrorContains(t, err, "migrations: connection refused")
	require.Equal(t, StatusFailed, res.Nodes["migrations"].Status)
	require.Equal(t, StatusBlocked, res.Nodes["users"].Status)

	delete(f.bootFails, "migrations")
	res, err = f.up(context.Background())
	require.NoError(t, err)
	require.Equal(t, StatusReady, res.Nodes["users"].Status)
	require.Equal(t, StatusUnchanged, res.Nodes["postgres"].Status)
}

func TestCancelThenResume(t *testing.T) {
	f := newFixture(t)
	ctx, cancel := context.WithCancel(context.Background())
	var once sync.Once
	f.drv.OnStart = func(_ context.Context, w driver.Workload) error {
		if w.Service == "orders" {
			once.Do(cancel) // Ctrl-C while orders starts
			return context.Canceled
		}
		return nil
	}
	res, err := f.up(ctx)
	var ue *UpError
	require.ErrorAs(t, err, &ue)
	require.True(t, ue.Canceled)
	require.Contains(t, err.Error(), "interrupted; run novadev up again to resume")
	require.Equal(t, StatusCanceled, res.Nodes["orders"].Status)
	require.Equal(t, StatusCanceled, res.Nodes["notify"].Status)
	require.Equal(t, StatusReady, res.Nodes["users"].Status)

	f.drv.OnStart = nil
	p := f.plan()
	require.Equal(t, Start, p.Nodes["orders"].Action, "the created container is started, not recreated")
	require.Equal(t, Create, p.Nodes["notify"].Action)
	require.Equal(t, Keep, p.Nodes["users"].Action)
	res, err = f.runner.Up(context.Background(), p)
	require.NoError(t, err)
	require.Equal(t, StatusReady, res.Nodes["notify"].Status)
}

func TestPreflightRefusesBeforeChangingAnything(t *testing.T) {
	f := newFixture(t)
	f.drv.Foreign = []driver.PortUse{{Port: 16001, Container: "other-postgres-1", Project: "other"}}
	f.runner.PortFree = func(p int) error {
		if p == 16101 {
			return errDown
		}
		return nil
	}
	delete(f.drv.Images, "novadev/kafka:kfake")
	_, err := f.up(context.Background())
	require.EqualError(t, err, strings.Join([]string{
		"images not on the engine: novadev/kafka:kfake; build the offline set with `make images` (scripts/images/build.sh) or pull them",
		"host port 16001 for postgres is taken by container other-postgres-1 (project other); stop it, or pick another environment (--env) whose port block is free",
		"host port 16101 for users is taken by another process on this machine (see `ss -ltnp 'sport = :16101'`); stop it, or pick another environment (--env) whose port block is free",
	}, "\n"))
	require.Empty(t, f.drv.Calls())
}

func TestOrphansAreRemoved(t *testing.T) {
	f := newFixture(t)
	_, err := f.up(context.Background())
	require.NoError(t, err)
	old := f.spec.Nodes["finder"][0]
	delete(f.spec.Nodes, "finder") // the service left the catalog
	f.c.Services["finder"].Profiles = []string{"gone"}
	p := f.plan()
	require.Len(t, p.Orphans, 1)
	require.Equal(t, old.Name, p.Orphans[0].Name)
	f.drv.ResetCalls()
	_, err = f.runner.Up(context.Background(), p)
	require.NoError(t, err)
	require.Equal(t, []string{"remove shop-dev-finder-1"}, f.drv.Calls())
}

func TestDownReverseOrderLeavesNothing(t *testing.T) {
	f := newFixture(t)
	_, err := f.up(context.Background())
	require.NoError(t, err)
	f.drv.ResetCalls()
	obs, err := f.drv.Observe(context.Background(), "shop-dev")
	require.NoError(t, err)
	require.NoError(t, f.runner.Down(context.Background(), f.c.Graph(), obs, false))
	obs, err = f.drv.Observe(context.Background(), "shop-dev")
	require.NoError(t, err)
	require.Empty(t, obs.Containers)
	require.Empty(t, obs.Networks)
	require.Len(t, obs.Volumes, 9, "volumes survive a plain down: 5 of data, 4 bootstrap markers")

	calls := f.drv.Calls()
	idx := func(s string) int { return slices.Index(calls, s) }
	require.Less(t, idx("remove shop-dev-notify-1"), idx("stop shop-dev-orders-1"))
	require.Less(t, idx("remove shop-dev-orders-1"), idx("stop shop-dev-users-1"))
	require.Less(t, idx("remove shop-dev-users-1"), idx("stop shop-dev-postgres-1"))
	require.Less(t, idx("remove shop-dev-notify-1"), idx("stop shop-dev-redis-1-1"))

	require.NoError(t, f.runner.Down(context.Background(), nil, obs, true))
	obs, err = f.drv.Observe(context.Background(), "shop-dev")
	require.NoError(t, err)
	require.True(t, obs.Empty())
}

// down --volumes keeps nothing, so it kills and removes at once: no stop
// call waits out a grace period, and still nothing is left.
func TestDownVolumesRemovesWithoutGracefulStop(t *testing.T) {
	f := newFixture(t)
	_, err := f.up(context.Background())
	require.NoError(t, err)
	f.drv.ResetCalls()
	obs, err := f.drv.Observe(context.Background(), "shop-dev")
	require.NoError(t, err)
	require.NotEmpty(t, obs.Containers)
	require.NoError(t, f.runner.Down(context.Background(), f.c.Graph(), obs, true))
	for _, c := range f.drv.Calls() {
		require.False(t, strings.HasPrefix(c, "stop "), "no graceful stop with --volumes: %s", c)
	}
	require.Contains(t, f.drv.Calls(), "remove shop-dev-postgres-1")
	obs, err = f.drv.Observe(context.Background(), "shop-dev")
	require.NoError(t, err)
	require.True(t, obs.Empty())
}
