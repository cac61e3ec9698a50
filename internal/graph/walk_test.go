package graph_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/novadev/novadev/internal/graph"
	"github.com/stretchr/testify/require"
)

// recorder notes when each visit starts and ends.
type recorder struct {
	mu    sync.Mutex
	trace []string
}

func (r *recorder) add(s string) {
	r.mu.Lock()
	r.trace = append(r.trace, s)
	r.mu.Unlock()
}

func (r *recorder) index(s string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Index(r.trace, s)
}

func TestWalkForwardAndReverseRespectEdges(t *testing.T) {
	g := build(t, "app->api->db", "app->cache", "worker->db")
	for _, reverse := range []bool{false, true} {
		r := &recorder{}
		w, err := g.Walk(context.Background(), graph.WalkOptions{Reverse: reverse}, func(_ context.Context, n string) error {
			r.add("start " + n)
			time.Sleep(time.Millisecond)
			r.add("end " + n)
			return nil
		})
		require.NoError(t, err)
		require.Empty(t, w.Failed)
		require.Empty(t, w.NotStarted)
		for _, e := range g.Edges() {
			first, then := e.To, e.From // forward: what is needed comes first
			if reverse {
				first, then = then, first
			}
			require.Less(t, r.index("end "+first), r.index("start "+then), "reverse=%t: %s before %s", reverse, first, then)
		}
		require.Len(t, r.trace, 10)
	}
}

func TestWalkBoundsConcurrency(t *testing.T) {
	g := build(t, "a", "b", "c", "d", "e", "f", "g")
	for _, limit := range []int{1, 3} {
		var cur, peak atomic.Int32
		_, err := g.Walk(context.Background(), graph.WalkOptions{Limit: limit}, func(context.Context, string) error {
			c := cur.Add(1)
			for m := peak.Load(); c > m && !peak.CompareAndSwap(m, c); m = peak.Load() {
			}
			time.Sleep(5 * time.Millisecond)
			cur.Add(-1)
			return nil
		})
		require.NoError(t, err)
		require.Equal(t, int32(limit), peak.Load())
	}
}

func TestWalkFailureBlocksWhatFollowsWithTheRootCause(t *testing.T) {
	g := build(t, "app->api->db", "worker->db", "web->cache")
	var blocked []string
	var mu sync.Mutex
	w, err := g.Walk(context.Background(), graph.WalkOptions{OnBlocked: func(n, cause string) {
		mu.Lock()
		blocked = append(blocked, n+" by "+cause)
		mu.Unlock()
	}}, func(_ context.Context, n string) error {
		if n == "db" {
			return errors.New("db broke")
		}
		return nil
	})
	require.NoError(t, err)
	require.EqualError(t, w.Failed["db"], "db broke")
	require.Equal(t, map[string]string{"api": "db", "app": "db", "worker": "db"}, w.Blocked)
	require.ElementsMatch(t, []string{"api by db", "app by db", "worker by db"}, blocked)
	require.Empty(t, w.NotStarted, "web and cache do not depend on db and were visited")
}

func TestWalkCancelStartsNothingNew(t *testing.T) {
	g := build(t, "c->b->a")
	ctx, cancel := context.WithCancel(context.Background())
	var visited []string
	w, err := g.Walk(ctx, graph.WalkOptions{}, func(_ context.Context, n string) error {
		visited = append(visited, n)
		if n == "b" {
			cancel()
		}
		return nil
	})
	require.NoError(t, err)
	require.Equal(t, []string{"a", "b"}, visited)
	require.Equal(t, []string{"c"}, w.NotStarted)
}

func TestWalkUnorderedRunsAllAtOnce(t *testing.T) {
	g := build(t, "c->b->a")
	var wg sync.WaitGroup
	wg.Add(3)
	_, err := g.Walk(context.Background(), graph.WalkOptions{Unordered: true}, func(context.Context, string) error {
		wg.Done()
		wg.Wait() // deadlocks unless all three run together
		return nil
	})
	require.NoError(t, err)
}

func TestWalkCycle(t *testing.T) {
	g := build(t, "a->b->a")
	_, err := g.Walk(context.Background(), graph.WalkOptions{}, func(context.Context, string) error { return nil })
	require.ErrorContains(t, err, "a -> b -> a")
}
