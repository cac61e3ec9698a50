package supervisor

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/novadev/novadev/internal/backend"
	"github.com/novadev/novadev/internal/probe"
)

func sorted(s []string) []string { return slices.Sorted(slices.Values(s)) }

// A snapshot of a fully bootstrapped instance holds its running stores and
// every bootstrap current against them.
func TestSnapshotContentOfABootstrappedInstance(t *testing.T) {
	f := newFixture(t)
	_, err := f.up(context.Background())
	require.NoError(t, err)
	stores, completed, problems := f.plan().SnapshotContent()
	require.Empty(t, problems)
	require.Equal(t, []string{"kafka", "postgres", "redis"}, sorted(stores))
	require.Equal(t, []string{"kafka-topics", "migrations", "postgres-init", "redis-cluster-init"}, sorted(completed))
}

// What no bootstrap vouches for is refused: a stopped store, bootstraps
// whose inputs changed since they ran, an instance with no store running.
func TestSnapshotContentRefusesWhatIsNotCurrent(t *testing.T) {
	f := newFixture(t)
	_, problems := snapshotProblems(f)
	require.Equal(t, []string{"no store of the instance is running"}, problems, "nothing is up yet")

	_, err := f.up(context.Background())
	require.NoError(t, err)
	f.be.SetState("kafka", backend.Exited)
	_, problems = snapshotProblems(f)
	require.Len(t, problems, 2, "%q", problems)
	require.Contains(t, problems[0], "store kafka would be started by up")
	require.Contains(t, problems[1], "bootstrap kafka-topics has not completed against the running kafka")

	_, err = f.up(context.Background())
	require.NoError(t, err)
	f.inputs = "inputs-v2" // a migration was added since
	_, problems = snapshotProblems(f)
	require.Len(t, problems, 4, "%q", problems)
	require.Contains(t, problems, "bootstrap migrations has not completed against the running postgres and the current catalog")
}

func snapshotProblems(f *fixture) ([]string, []string) {
	_, completed, problems := f.plan().SnapshotContent()
	return completed, problems
}

// On a new instance restored from a snapshot the bootstraps whose result
// the stores hold are kept, proven by their readiness checks and recorded
// against the new units (the next up keeps them as usual); postgres-init
// (passwords) and redis-cluster-init (new addresses) still run.
func TestRestorePlanKeepsCompletedBootstraps(t *testing.T) {
	src := newFixture(t)
	_, err := src.up(context.Background())
	require.NoError(t, err)
	stores, completed, _ := src.plan().SnapshotContent()

	f := newFixture(t) // a new instance: no records, other unit IDs
	snap, err := f.be.Observe(context.Background())
	require.NoError(t, err)
	p, err := MakeRestorePlan(f.c.Graph(), snap, f.inputs, Restore{Snapshot: "base", Stores: stores, Completed: completed})
	require.NoError(t, err)
	require.Equal(t, "base", p.FromSnapshot())
	golden(t, "plan-restore.txt", p.String())
	require.Equal(t, Keep, p.Steps["migrations"].Op)
	require.Equal(t, "from snapshot base: its stores hold what it completed", p.Steps["migrations"].Reason)
	require.Equal(t, Keep, p.Steps["kafka-topics"].Op)
	require.Equal(t, Run, p.Steps["postgres-init"].Op)
	require.Contains(t, p.Steps["redis-cluster-init"].Reason, "new addresses")
	require.Equal(t, Create, p.Steps["postgres"].Op, "the stores are new units on the restored volumes")

	var (
		mu     sync.Mutex
		proven []string
	)
	ready := f.runner.Ready
	f.runner.Recheck = func(node string) (probe.Check, time.Duration) {
		t.Errorf("a restored bootstrap must get the full readiness check, not the recheck (%s)", node)
		return ready(node)
	}
	f.runner.Ready = func(node string) (probe.Check, time.Duration) {
		mu.Lock()
		proven = append(proven, node)
		mu.Unlock()
		return ready(node)
	}
	res, err := f.runner.Up(context.Background(), p)
	require.NoError(t, err)
	require.ElementsMatch(t, []string{"postgres-init", "redis-cluster-init"}, f.boots)
	require.Contains(t, proven, "migrations")
	require.Contains(t, proven, "kafka-topics")
	require.Equal(t, StatusUnchanged, res.Nodes["migrations"].Status)
	require.Equal(t, "from snapshot base", res.Nodes["migrations"].Detail)
	require.Equal(t, "base", res.FromSnapshot)
	require.Len(t, f.be.Records(), 4, "every bootstrap is recorded against the new units")

	f.runner.Recheck = nil
	f.boots = nil // the next plain up keeps them
	_, err = f.up(context.Background())
	require.NoError(t, err)
	require.Equal(t, []string{"postgres-init"}, f.boots)
}

// A bootstrap the snapshot does not vouch for runs; so does one whose
// need is not restored.
func TestRestorePlanRunsWhatTheSnapshotLacks(t *testing.T) {
	f := newFixture(t)
	snap, err := f.be.Observe(context.Background())
	require.NoError(t, err)
	p, err := MakeRestorePlan(f.c.Graph(), snap, f.inputs, Restore{Snapshot: "old", Stores: []string{"postgres", "redis"}, Completed: []string{"postgres-init", "migrations", "redis-cluster-init", "kafka-topics"}})
	require.NoError(t, err)
	require.Equal(t, Run, p.Steps["kafka-topics"].Op, "kafka's volume is not in the snapshot")
	require.Equal(t, Keep, p.Steps["migrations"].Op)

	p, err = MakeRestorePlan(f.c.Graph(), snap, "", Restore{Snapshot: "old", Stores: []string{"postgres"}, Completed: []string{"migrations"}})
	require.NoError(t, err)
	require.Equal(t, Run, p.Steps["migrations"].Op, "without an inputs hash nothing is kept")
}
