package supervisor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/novadev/novadev/internal/backend"
	"github.com/novadev/novadev/internal/backend/fake"
	"github.com/novadev/novadev/internal/event"
	"github.com/novadev/novadev/internal/probe"
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

	// rebuilt service images and a crashed store unit
	for _, s := range []string{"users", "orders", "notify", "finder"} {
		f.be.NodeHash[s] = "h2"
	}
	f.be.SetUnitState("redis-2", backend.Exited)
	golden(t, "plan-changed.txt", f.plan().String())
}

// Planning is a pure function: it changes neither the observation nor the
// graph, and running the plan changes neither the plan nor the observation.
func TestPlanningAndRunningMutateNoInput(t *testing.T) {
	f := newFixture(t)
	snap, err := f.be.Observe(context.Background())
	require.NoError(t, err)
	before, err := f.be.Observe(context.Background())
	require.NoError(t, err)
	p, err := MakePlan(f.c.Graph(), snap, f.inputs)
	require.NoError(t, err)
	require.True(t, reflect.DeepEqual(before, snap), "MakePlan changed its observation")
	text := p.String()
	steps := fmt.Sprintf("%#v", p.Steps)
	_, err = f.runner.Up(context.Background(), p)
	require.NoError(t, err)
	require.Equal(t, text, p.String(), "Up changed the plan")
	require.Equal(t, steps, fmt.Sprintf("%#v", p.Steps))
	require.True(t, reflect.DeepEqual(before, snap), "Up changed the observation")
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
	calls := f.be.Calls()
	require.Equal(t, "prepare", calls[0], "instance resources first")
	require.ElementsMatch(t, []string{"postgres", "redis", "kafka", "users", "orders", "notify", "finder"}, f.be.Running(), "finder too: its optional store is skipped")
	require.NotContains(t, calls, "apply search", "a skipped store is not applied")
	require.Len(t, f.be.Records(), 4, "each bootstrap recorded its completion")

	// the skipped stores say why
	var notes []string
	for _, e := range f.rec.Of(event.Skipped) {
		notes = append(notes, e.Node+": "+e.Detail)
	}
	require.ElementsMatch(t, []string{
		"graph: external store: not started here (services use bolt://graph.example:7687)",
		"search: unavailable, its users run degraded: image elastic:8 is not on the engine; pull it or use a mirror",
	}, notes)

	// finder runs without its optional store, and says so
	require.Equal(t, StatusReady, res.Nodes["finder"].Status, "it starts: its other needs are met")
	require.Equal(t, "search unavailable (image elastic:8 is not on the engine; pull it or use a mirror)", res.Nodes["finder"].Degraded)
	require.Equal(t, "degraded: search unavailable (image elastic:8 is not on the engine; pull it or use a mirror)", res.Nodes["finder"].State())
	require.Equal(t, "image elastic:8 is not on the engine; pull it or use a mirror", res.Nodes["search"].Unavailable)
	require.Equal(t, "ready", res.Nodes["users"].State(), "uses no optional store")
	var finderReady []string
	for _, e := range f.rec.Of(event.Ready) {
		if e.Node == "finder" {
			finderReady = append(finderReady, e.Detail)
		}
	}
	require.Equal(t, []string{"create; degraded: search unavailable (image elastic:8 is not on the engine; pull it or use a mirror)"}, finderReady)

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
	f.be.ResetCalls()
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
	require.Empty(t, f.be.Calls(), "a second up applies, records or removes nothing")
	for n, st := range statuses(res) {
		switch allReady[n] {
		case StatusSkipped:
			require.Equal(t, StatusSkipped, st, n)
		default:
			if n == "postgres-init" {
				require.Equal(t, StatusReady, st, "postgres-init runs on every up")
				continue
			}
			require.Equal(t, StatusUnchanged, st, n)
		}
	}
	require.Equal(t, []string{"postgres-init"}, f.boots[4:],
		"completed bootstraps with unchanged inputs and stores do not run again, but postgres-init re-checks privileges on every up")
	require.Len(t, rechecked, 10, "every kept node is rechecked with the cheaper check (postgres-init runs instead)")
}

// Where bootstraps are Jobs (the kube backend), postgres-init is kept like
// any completed bootstrap: a second up runs nothing and every node is
// unchanged, so no Job is replaced.
func TestUpTwiceWhereBootstrapsAreJobs(t *testing.T) {
	f := newFixture(t)
	f.be.BootstrapsAreJobs = true
	_, err := f.up(context.Background())
	require.NoError(t, err)
	ran := len(f.boots)
	f.be.ResetCalls()
	res, err := f.up(context.Background())
	require.NoError(t, err)
	require.Empty(t, f.be.Calls())
	require.Len(t, f.boots, ran, "no bootstrap ran again, postgres-init neither")
	for n, st := range statuses(res) {
		if allReady[n] == StatusSkipped {
			continue
		}
		require.Equal(t, StatusUnchanged, st, n)
	}
}

func TestBootstrapsRerunWhenInputsOrStoresChange(t *testing.T) {
	f := newFixture(t)
	_, err := f.up(context.Background())
	require.NoError(t, err)

	f.inputs = "inputs-v2" // a migration was added
	f.boots = nil
	_, err = f.up(context.Background())
	require.NoError(t, err)
	require.ElementsMatch(t, []string{"postgres-init", "migrations", "redis-cluster-init", "kafka-topics"}, f.boots)

	f.be.SetState("kafka", backend.Exited) // a store restarted
	f.boots = nil
	res, err := f.up(context.Background())
	require.NoError(t, err)
	require.ElementsMatch(t, []string{"kafka-topics", "postgres-init"}, f.boots, "postgres-init runs on every up")
	require.Equal(t, StatusReady, res.Nodes["kafka-topics"].Status)
	require.Equal(t, StatusUnchanged, res.Nodes["migrations"].Status)
}

func TestParallelismIsBounded(t *testing.T) {
	for _, n := range []int{1, 2, 3} {
		t.Run(fmt.Sprintf("parallel %d", n), func(t *testing.T) {
			f := newFixture(t)
			f.runner.Parallel = n
			var cur, peak atomic.Int32
			f.be.OnApply = func(context.Context, string) error {
				c := cur.Add(1)
				for m := peak.Load(); c > m && !peak.CompareAndSwap(m, c); m = peak.Load() {
				}
				// real time: let others pile up (up to the bound, or 200 ms on
				// a loaded machine: a fixed 5 ms sleep missed the bound there)
				for deadline := time.Now().Add(200 * time.Millisecond); cur.Load() < int32(n) && time.Now().Before(deadline); {
					time.Sleep(time.Millisecond)
				}
				cur.Add(-1)
				return nil
			}
			_, err := f.up(context.Background())
			require.NoError(t, err)
			require.Equal(t, int32(n), peak.Load(), "the bound is reached and never exceeded")
		})
	}
}

func TestFailedNodeBlocksItsDependents(t *testing.T) {
	f := newFixture(t)
	f.notReady["users"] = errDown
	f.be.LogLines["users"] = []string{"line 1", "panic: cannot reach postgres"}
	res, err := f.up(context.Background())
	require.Error(t, err)

	want := with(allReady, map[string]Status{"users": StatusFailed, "orders": StatusBlocked, "notify": StatusBlocked})
	require.Equal(t, want, statuses(res))
	require.Equal(t, "needs users, which failed", res.Nodes["orders"].Detail)
	require.Equal(t, "needs users, which failed", res.Nodes["notify"].Detail, "the root cause is named, not the nearest blocked node")
	require.Equal(t, `users: not ready after 30s: waited for ready users (`+attempts(t, err)+` attempts); last error: connection refused
  last log lines of fake-users-1:
    line 1
    panic: cannot reach postgres
not started because a dependency failed: orders, notify`, err.Error())
	require.NotContains(t, f.be.Running(), "orders")
	require.Contains(t, f.be.Running(), "finder", "independent nodes still come up")
}

// A check that can never pass (a refused password) ends the wait at once.
func TestPermanentProbeErrorFailsAtOnce(t *testing.T) {
	f := newFixture(t)
	var tries atomic.Int32
	f.probes["users"] = func(context.Context) (bool, error) {
		tries.Add(1)
		return false, probe.Permanent(errors.New("password authentication failed for user nova_users_svc (SQLSTATE 28P01)"))
	}
	res, err := f.up(context.Background())
	require.Error(t, err)
	require.Equal(t, StatusFailed, res.Nodes["users"].Status)
	require.Equal(t, int32(1), tries.Load(), "no retry of a permanent error")
	require.Contains(t, err.Error(), "users: cannot become ready: ready users failed (attempt 1): password authentication failed")
}

// A unit that dies while its node is waited for fails the node at once
// with its exit and log tail; what needs it stops waiting; the summary
// names it first.
func TestDeathDuringUpFailsFast(t *testing.T) {
	f := newFixture(t)
	probing := make(chan struct{})
	var once sync.Once
	f.probes["kafka"] = func(ctx context.Context) (bool, error) {
		once.Do(func() { close(probing) })
		<-ctx.Done() // kafka never answers: only its death ends this
		return false, ctx.Err()
	}
	// the migrations run long; postgres dies under them
	f.bootHook["migrations"] = func(ctx context.Context) error {
		<-ctx.Done()
		return ctx.Err()
	}
	f.be.LogLines["postgres"] = []string{"LOG:  database system is ready to accept connections"}
	f.be.LogLines["kafka"] = []string{"broker starting", "fatal: disk full"}
	done := make(chan struct{})
	var res *Result
	var err error
	go func() {
		defer close(done)
		res, err = f.up(context.Background())
	}()
	<-probing
	require.Eventually(t, func() bool {
		return slices.ContainsFunc(f.rec.Events(), func(e event.Event) bool { return e.Node == "migrations" && e.Type == event.Starting })
	}, 5*time.Second, time.Millisecond)
	start := time.Now()
	f.be.Kill("postgres", 137)
	f.be.Kill("kafka", 1)
	select {
	case <-done:
	case <-time.After(2 * time.Second):
		t.Fatal("up still waits 2 s after its stores died")
	}
	require.Less(t, time.Since(start), 2*time.Second)
	require.Equal(t, StatusFailed, res.Nodes["postgres"].Status, "died after it was ready")
	require.Equal(t, StatusFailed, res.Nodes["kafka"].Status, "died while waited for")
	require.Equal(t, StatusBlocked, res.Nodes["migrations"].Status)
	require.Equal(t, "needs postgres, which failed", res.Nodes["migrations"].Detail)
	require.Equal(t, StatusBlocked, res.Nodes["users"].Status)
	require.Equal(t, "needs postgres, which failed", res.Nodes["users"].Detail, "the dead store is named, not the stopped bootstrap")
	require.Equal(t, []string{"postgres", "kafka"}, res.Failed(), "first failure first")
	var ue *UpError
	require.ErrorAs(t, err, &ue)
	require.True(t, strings.HasPrefix(err.Error(), `postgres: container fake-postgres-1 exited with code 137
  last log lines of fake-postgres-1:
    LOG:  database system is ready to accept connections
kafka: container fake-kafka-1 exited with code 1
  last log lines of fake-kafka-1:
    broker starting
    fatal: disk full`), err.Error())
	require.False(t, res.Started("users"))
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
	f.be.OnApply = func(_ context.Context, node string) error {
		if node == "orders" {
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
	require.False(t, res.Started("orders"))
	require.True(t, res.Started("users"))

	f.be.OnApply = nil
	p := f.plan()
	require.Equal(t, Start, p.Steps["orders"].Op, "the created unit is started, not recreated")
	require.Equal(t, Create, p.Steps["notify"].Op)
	require.Equal(t, Keep, p.Steps["users"].Op)
	res, err = f.runner.Up(context.Background(), p)
	require.NoError(t, err)
	require.Equal(t, StatusReady, res.Nodes["notify"].Status)
}

func TestPreflightRefusesBeforeChangingAnything(t *testing.T) {
	f := newFixture(t)
	f.be.PreflightErr = errors.New("host port 16001 for postgres is taken by container other-postgres-1 (project other)")
	f.be.Missing["kafka"] = []string{"novadev/kafka:kfake"}
	_, err := f.up(context.Background())
	require.EqualError(t, err, strings.Join([]string{
		"images not on the engine: novadev/kafka:kfake; build the offline set with `make images` (scripts/images/build.sh) or pull them",
		"host port 16001 for postgres is taken by container other-postgres-1 (project other)",
	}, "\n"))
	require.Empty(t, f.be.Calls())
}

func TestOrphansAreRemoved(t *testing.T) {
	f := newFixture(t)
	_, err := f.up(context.Background())
	require.NoError(t, err)
	f.be.AddOrphan("shop-dev-gone-1")
	p := f.plan()
	require.Equal(t, []ResourceStep{{Kind: "container", Name: "shop-dev-gone-1", Op: Delete, Why: "not in the catalog any more"}}, p.Resources)
	f.be.ResetCalls()
	_, err = f.runner.Up(context.Background(), p)
	require.NoError(t, err)
	require.Equal(t, []string{"remove orphan shop-dev-gone-1"}, f.be.Calls())
}

func TestDownReverseOrderLeavesNothing(t *testing.T) {
	f := newFixture(t)
	_, err := f.up(context.Background())
	require.NoError(t, err)
	f.be.ResetCalls()
	res, err := f.runner.Down(context.Background(), f.c.Graph(), false)
	require.NoError(t, err)
	require.Equal(t, &DownResult{Instance: "fake", Units: 9, Networks: 1, Volumes: 4}, res, "4 bootstrap records")
	require.Empty(t, f.be.Running())
	calls := f.be.Calls()
	idx := func(s string) int { return slices.Index(calls, s) }
	require.Less(t, idx("delete notify"), idx("delete orders"))
	require.Less(t, idx("delete orders"), idx("delete users"))
	require.Less(t, idx("delete users"), idx("delete postgres"))
	require.Less(t, idx("delete notify"), idx("delete redis"))
	require.Equal(t, "teardown volumes=false", calls[len(calls)-1])
	require.Len(t, f.be.Records(), 4, "records survive a plain down")

	_, err = f.runner.Down(context.Background(), nil, true)
	require.NoError(t, err)
	require.Empty(t, f.be.Records())
}

// status says which optional store does not run and who runs degraded
// without it, as up's summary does.
func TestInspectReportsDegraded(t *testing.T) {
	f := newFixture(t)
	_, err := f.up(context.Background())
	require.NoError(t, err)
	rep, err := Inspect(context.Background(), f.be, f.c.Graph(), nil, f.clk.Now)
	require.NoError(t, err)
	require.Equal(t, []UnavailableNode{{Node: "search", Reason: "image elastic:8 is not on the engine; pull it or use a mirror"}}, rep.Unavailable)
	degraded := map[string]string{}
	for _, c := range rep.Containers {
		if c.Degraded != "" {
			degraded[c.Node] = c.Degraded
		}
	}
	require.Equal(t, map[string]string{"finder": "search unavailable (image elastic:8 is not on the engine; pull it or use a mirror)"}, degraded)
}

// A bootstrap whose store dies under it can fail (connection closed) a few
// milliseconds before the engine reports the death: the death, the root
// cause, still comes first in the result and the error.
func TestStoreDeathReportedBeforeTheBootstrapItBroke(t *testing.T) {
	f := newFixture(t)
	f.bootHook["postgres-init"] = func(ctx context.Context) error {
		go func() {
			time.Sleep(20 * time.Millisecond) // the engine's death event arrives late
			f.be.Kill("postgres", 137)
		}()
		return errors.New("CREATE DATABASE: conn closed")
	}
	f.bootHook["redis-cluster-init"] = func(ctx context.Context) error {
		time.Sleep(300 * time.Millisecond) // the run is still going when the death arrives
		return nil
	}
	res, err := f.up(context.Background())
	require.Error(t, err)
	require.Equal(t, StatusFailed, res.Nodes["postgres"].Status)
	require.Equal(t, StatusFailed, res.Nodes["postgres-init"].Status)
	require.Equal(t, []string{"postgres", "postgres-init"}, res.Failed(), "the dead store first")
	require.True(t, strings.HasPrefix(err.Error(), "postgres: container fake-postgres-1 exited with code 137"), err.Error())
}

// An optional store the backend's translation leaves out altogether (no
// node observed: the kind dev overlay deletes Elasticsearch, whatever
// --images says) is unavailable, and its users are degraded, in the plan
// and in status, as on Docker: not "nothing to run".
func TestAnOptionalStoreTheTargetDoesNotRenderIsUnavailable(t *testing.T) {
	f := newFixture(t)
	snap, err := f.be.Observe(context.Background())
	require.NoError(t, err)
	delete(snap.Nodes, "search")
	p, err := MakePlan(f.c.Graph(), snap, f.inputs)
	require.NoError(t, err)
	require.Equal(t, Skip, p.Steps["search"].Op)
	require.Equal(t, NotRendered, p.Steps["search"].Unavailable)
	require.Equal(t, "unavailable, its users run degraded: "+NotRendered, p.Steps["search"].Reason)
	require.Equal(t, []string{"search unavailable (" + NotRendered + ")"}, p.Steps["finder"].Degraded)

	// a required store with no node is still only "nothing to run"
	delete(snap.Nodes, "kafka")
	p, err = MakePlan(f.c.Graph(), snap, f.inputs)
	require.NoError(t, err)
	require.Equal(t, "nothing to run for it on this target", p.Steps["kafka"].Reason)
	require.Empty(t, p.Steps["kafka"].Unavailable)
}

// explainingBackend is a backend whose probe connections fail for reasons
// the probe never sees (as the kube backend's port-forwards).
type explainingBackend struct {
	*fake.Backend
	asked []string
}

func (b *explainingBackend) Explain(node string, since time.Time, err error) error {
	b.asked = append(b.asked, node)
	if since.IsZero() {
		return err
	}
	return fmt.Errorf("%w (port-forward to pod %s-0: connection refused)", err, node)
}

// On a backend.Explainer, a failed readiness probe's error gets the
// backend's reason; nodes that came up are not asked about.
func TestFailedProbeIsExplainedByTheBackend(t *testing.T) {
	f := newFixture(t)
	be := &explainingBackend{Backend: f.be}
	f.runner.Backend = be
	f.notReady["users"] = probe.Permanent(io.EOF)
	_, err := f.up(context.Background())
	require.Error(t, err)
	require.Contains(t, err.Error(), "users: cannot become ready: ready users failed (attempt 1): EOF; waiting will not fix this (port-forward to pod users-0: connection refused)")
	require.Equal(t, []string{"users"}, be.asked)
}
