package supervisor

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/novadev/novadev/internal/backend"
	"github.com/novadev/novadev/internal/backend/fake"
	"github.com/novadev/novadev/internal/event"
	"github.com/novadev/novadev/internal/probe"
)

// gating is the fake backend declaring that its units wait for the services
// they need themselves (as the kube backend's init containers do).
type gating struct{ *fake.Backend }

func (gating) GatesServiceNeeds() bool { return true }

// On a gating backend a service is applied once the services it needs are
// applied, before they are ready; it is still proven ready after them.
func TestGatingBackendAppliesServicesAhead(t *testing.T) {
	f := newFixture(t)
	f.runner.Backend = gating{f.be}
	release := make(chan struct{})
	f.probes["users"] = func(ctx context.Context) (bool, error) {
		select {
		case <-release:
			return true, nil
		case <-ctx.Done():
			return false, ctx.Err()
		}
	}
	done := make(chan error, 1)
	var res *Result
	go func() {
		var err error
		res, err = f.up(context.Background())
		done <- err
	}()
	require.Eventually(t, func() bool {
		c := f.be.Calls()
		return slices.Contains(c, "apply orders") && slices.Contains(c, "apply notify")
	}, 5*time.Second, 5*time.Millisecond, "orders and notify are applied while users is not ready yet: %v", f.be.Calls())
	close(release)
	require.NoError(t, <-done)
	require.Equal(t, allReady, statuses(res))

	evs := f.rec.Events()
	at := func(node string, typ event.Type) int {
		return slices.IndexFunc(evs, func(e event.Event) bool { return e.Node == node && e.Type == typ })
	}
	require.Less(t, at("orders", event.Starting), at("users", event.Ready), "orders applied ahead")
	require.Less(t, at("users", event.Ready), at("orders", event.Probing), "but proven only after users is ready")
	require.Less(t, at("orders", event.Ready), at("notify", event.Probing))
	for _, n := range []string{"orders", "notify"} {
		require.Less(t, at("kafka-topics", event.Ready), at(n, event.Starting), "%s: bootstraps still gate a service", n)
		require.Less(t, at("migrations", event.Ready), at(n, event.Starting), "%s: bootstraps still gate a service", n)
	}
	require.Contains(t, evs[at("orders", event.Starting)].Detail, "ahead")
}

// Without the declaration nothing is applied ahead (the Docker backend).
func TestNonGatingBackendAppliesAfterReady(t *testing.T) {
	f := newFixture(t)
	var appliedEarly bool
	f.probes["users"] = func(ctx context.Context) (bool, error) {
		appliedEarly = appliedEarly || slices.Contains(f.be.Calls(), "apply orders")
		return true, nil
	}
	_, err := f.up(context.Background())
	require.NoError(t, err)
	require.False(t, appliedEarly, "orders applied before users was ready")
}

// A service applied ahead whose need then fails is reported blocked, and
// up still returns.
func TestAheadServiceBlockedWhenItsNeedFails(t *testing.T) {
	f := newFixture(t)
	f.runner.Backend = gating{f.be}
	f.probes["users"] = func(ctx context.Context) (bool, error) {
		for !slices.Contains(f.be.Calls(), "apply notify") { // fail once both are applied ahead
			select {
			case <-ctx.Done():
				return false, ctx.Err()
			case <-time.After(time.Millisecond):
			}
		}
		return false, probe.Permanent(errDown)
	}
	res, err := f.up(context.Background())
	require.Error(t, err)
	require.Equal(t, StatusFailed, res.Nodes["users"].Status)
	require.Equal(t, StatusBlocked, res.Nodes["orders"].Status)
	require.Equal(t, StatusBlocked, res.Nodes["notify"].Status)
	require.Contains(t, f.be.Calls(), "apply orders", "applied ahead: the target held it")
	require.Equal(t, "needs users, which failed", res.Nodes["notify"].Detail)
}

// blockingApply is a gating backend whose Apply of a service returns only
// once the services it needs are ready, as the kube backend's Apply waits
// for the Deployment to be Available (its init containers wait for them).
type blockingApply struct {
	*fake.Backend
	needs map[string][]string
	ready func(string) bool
}

func (blockingApply) GatesServiceNeeds() bool { return true }

func (b blockingApply) Apply(ctx context.Context, node string) (*backend.Node, error) {
	for _, n := range b.needs[node] {
		for !b.ready(n) {
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(time.Millisecond):
			}
		}
	}
	return b.Backend.Apply(ctx, node)
}

// Applies started ahead hold no slot of --parallel while they wait for
// their needs: with one slot, a chain of services still comes up.
func TestAheadAppliesDoNotStarveTheirNeeds(t *testing.T) {
	f := newFixture(t)
	f.runner.Parallel = 1
	var mu sync.Mutex
	readyNodes := map[string]bool{}
	f.runner.Sink = event.Func(func(e event.Event) {
		f.rec.Emit(e)
		if e.Type == event.Ready {
			mu.Lock()
			readyNodes[e.Node] = true
			mu.Unlock()
		}
	})
	f.runner.Backend = blockingApply{Backend: f.be, needs: map[string][]string{"orders": {"users"}, "notify": {"orders"}},
		ready: func(n string) bool { mu.Lock(); defer mu.Unlock(); return readyNodes[n] }}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := f.up(ctx)
	require.NoError(t, err, "a deadlock ends in the 10 s context")
	require.Equal(t, allReady, statuses(res))
}
