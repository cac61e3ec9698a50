package graph_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/novadev/novadev/internal/graph"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// build makes a graph from "a->b" strings (a needs b); bare names are nodes.
func build(t testing.TB, specs ...string) *graph.Graph[int] {
	t.Helper()
	g := graph.New[int]()
	for _, s := range specs {
		for _, n := range strings.Split(s, "->") {
			if _, ok := g.Node(n); !ok {
				g.Add(n, len(n))
			}
		}
	}
	for _, s := range specs {
		parts := strings.Split(s, "->")
		for i := 0; i+1 < len(parts); i++ {
			require.NoError(t, g.Connect(parts[i], parts[i+1]))
		}
	}
	return g
}

func TestLayersAndOrder(t *testing.T) {
	g := build(t, "gateway->feed->user->db", "feed->content->user", "feed->kafka", "media->db")
	layers, err := g.Layers()
	require.NoError(t, err)
	assert.Equal(t, [][]string{{"db", "kafka"}, {"media", "user"}, {"content"}, {"feed"}, {"gateway"}}, layers)
	order, err := g.TopoOrder()
	require.NoError(t, err)
	assert.Equal(t, []string{"db", "kafka", "media", "user", "content", "feed", "gateway"}, order)
	rev, err := g.ReverseOrder()
	require.NoError(t, err)
	assert.Equal(t, []string{"gateway", "feed", "content", "user", "media", "kafka", "db"}, rev, "teardown: users before what they need")
}

func TestCyclesAreDeterministicPaths(t *testing.T) {
	g := build(t, "b->c->a->b", "x->y->x", "a->d")
	cycles := g.Cycles()
	require.Len(t, cycles, 2)
	assert.Equal(t, "dependency cycle: a -> b -> c -> a", cycles[0].Error(), "rotated to start at the smallest name")
	assert.Equal(t, "dependency cycle: x -> y -> x", cycles[1].Error())
	_, err := g.Layers()
	require.Error(t, err)
	assert.Equal(t, "dependency cycle: a -> b -> c -> a", err.Error())
	for i := 0; i < 20; i++ {
		assert.Equal(t, cycles[0].Path, g.Cycles()[0].Path, "same report every run")
	}
}

func TestSelfCycle(t *testing.T) {
	g := build(t, "a->a")
	require.Len(t, g.Cycles(), 1)
	assert.Equal(t, []string{"a", "a"}, g.Cycles()[0].Path)
}

func TestCriticalPath(t *testing.T) {
	g := build(t, "gateway->feed->user->db", "feed->content->user", "media->db")
	cost := map[string]float64{"db": 3, "user": 1, "content": 2, "feed": 1, "gateway": 1, "media": 10}
	path, total, err := g.CriticalPath(func(n string, _ int) float64 { return cost[n] })
	require.NoError(t, err)
	assert.Equal(t, []string{"db", "media"}, path, "media is slow enough to dominate")
	assert.Equal(t, 13.0, total)
	cost["media"] = 1
	path, total, err = g.CriticalPath(func(n string, _ int) float64 { return cost[n] })
	require.NoError(t, err)
	assert.Equal(t, []string{"db", "user", "content", "feed", "gateway"}, path)
	assert.Equal(t, 8.0, total)
}

func TestSubgraphAndClosure(t *testing.T) {
	g := build(t, "gateway->feed->user->db", "feed->kafka", "media->db")
	sub, err := g.Subgraph("feed")
	require.NoError(t, err)
	assert.Equal(t, []string{"db", "feed", "kafka", "user"}, sub.Names())
	assert.Equal(t, []graph.Edge{{From: "feed", To: "kafka"}, {From: "feed", To: "user"}, {From: "user", To: "db"}}, sub.Edges())
	_, err = g.Subgraph("nope")
	require.ErrorContains(t, err, `unknown node "nope"`)
}

func TestConnectUnknown(t *testing.T) {
	g := build(t, "a")
	require.ErrorContains(t, g.Connect("a", "b"), `unknown node "b" (needed by "a")`)
	require.NoError(t, build(t, "a->b").Connect("a", "b"), "a repeated edge is fine")
	assert.Len(t, build(t, "a->b", "a->b").Edges(), 1)
}

func TestUsers(t *testing.T) {
	g := build(t, "a->c", "b->c")
	assert.Equal(t, []string{"a", "b"}, g.Users("c"))
	assert.Equal(t, []string{"c"}, g.Needs("a"))
}

// synthetic builds a layered DAG of n nodes, each needing up to three nodes
// of the previous layer of ten.
func synthetic(n int) *graph.Graph[int] {
	g := graph.New[int]()
	for i := 0; i < n; i++ {
		g.Add(fmt.Sprintf("n%04d", i), i)
	}
	for i := 10; i < n; i++ {
		layer := i / 10
		for k := 1; k <= 3; k++ {
			_ = g.Connect(fmt.Sprintf("n%04d", i), fmt.Sprintf("n%04d", (layer-1)*10+(i*7+k*3)%10))
		}
	}
	return g
}

func TestLarge500(t *testing.T) {
	g := synthetic(500)
	layers, err := g.Layers()
	require.NoError(t, err)
	assert.Len(t, layers, 50)
	order, err := g.TopoOrder()
	require.NoError(t, err)
	pos := map[string]int{}
	for i, n := range order {
		pos[n] = i
	}
	for _, e := range g.Edges() {
		assert.Less(t, pos[e.To], pos[e.From], "%s needs %s, so comes after it", e.From, e.To)
	}
	path, total, err := g.CriticalPath(func(string, int) float64 { return 1 })
	require.NoError(t, err)
	assert.Len(t, path, 50)
	assert.Equal(t, 50.0, total)
	sub, err := g.Subgraph("n0499")
	require.NoError(t, err)
	assert.Less(t, sub.Len(), 500)
	assert.Contains(t, sub.Names(), "n0000")
	assert.Empty(t, g.Cycles())
	require.NoError(t, g.Connect("n0000", "n0499"))
	require.NotEmpty(t, g.Cycles(), "closing the loop is found")
}

func BenchmarkLayers500(b *testing.B) {
	g := synthetic(500)
	for b.Loop() {
		if _, err := g.Layers(); err != nil {
			b.Fatal(err)
		}
	}
}
