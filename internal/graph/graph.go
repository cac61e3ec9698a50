// Package graph is a small generic directed acyclic graph: build it from
// nodes and "needs" edges, then walk it in a deterministic topological order,
// in layers that may run in parallel, in reverse for teardown, or restricted
// to what one node needs. Every walk is deterministic: ties break by name.
package graph

import (
	"fmt"
	"slices"
	"sort"
	"strings"
)

// Graph holds nodes of type T keyed by name, with edges "from needs to".
type Graph[T any] struct {
	nodes map[string]T
	needs map[string][]string // from -> to, sorted
	users map[string][]string // to -> from, sorted
}

// New returns an empty graph.
func New[T any]() *Graph[T] {
	return &Graph[T]{nodes: map[string]T{}, needs: map[string][]string{}, users: map[string][]string{}}
}

// Add adds or replaces a node.
func (g *Graph[T]) Add(name string, v T) {
	if _, ok := g.nodes[name]; !ok {
		g.needs[name] = nil
		g.users[name] = nil
	}
	g.nodes[name] = v
}

// Connect records that from needs to. Both nodes must exist.
func (g *Graph[T]) Connect(from, to string) error {
	if _, ok := g.nodes[from]; !ok {
		return fmt.Errorf("graph: unknown node %q", from)
	}
	if _, ok := g.nodes[to]; !ok {
		return fmt.Errorf("graph: unknown node %q (needed by %q)", to, from)
	}
	if slices.Contains(g.needs[from], to) {
		return nil
	}
	g.needs[from] = insertSorted(g.needs[from], to)
	g.users[to] = insertSorted(g.users[to], from)
	return nil
}

func insertSorted(s []string, v string) []string {
	i := sort.SearchStrings(s, v)
	s = append(s, "")
	copy(s[i+1:], s[i:])
	s[i] = v
	return s
}

// Len is the number of nodes.
func (g *Graph[T]) Len() int { return len(g.nodes) }

// Node returns the value stored under name.
func (g *Graph[T]) Node(name string) (T, bool) {
	v, ok := g.nodes[name]
	return v, ok
}

// Names returns every node name, sorted.
func (g *Graph[T]) Names() []string {
	names := make([]string, 0, len(g.nodes))
	for n := range g.nodes {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Needs returns what name needs directly, sorted.
func (g *Graph[T]) Needs(name string) []string { return slices.Clone(g.needs[name]) }

// Users returns the nodes that need name directly, sorted.
func (g *Graph[T]) Users(name string) []string { return slices.Clone(g.users[name]) }

// Edge is one "From needs To" edge.
type Edge struct {
	From string `json:"from"`
	To   string `json:"to"`
}

// Edges returns every edge, sorted by From then To.
func (g *Graph[T]) Edges() []Edge {
	var out []Edge
	for _, from := range g.Names() {
		for _, to := range g.needs[from] {
			out = append(out, Edge{From: from, To: to})
		}
	}
	return out
}

// CycleError reports one dependency cycle as a closed path.
type CycleError struct {
	Path []string // first element repeated at the end: a -> b -> a
}

func (e *CycleError) Error() string {
	return "dependency cycle: " + strings.Join(e.Path, " -> ")
}

// Cycles returns every elementary cycle found by a depth-first search, each
// rotated to start at its smallest name, deduplicated and sorted, so the
// report is the same on every run.
func (g *Graph[T]) Cycles() []*CycleError {
	const (
		white = iota
		grey
		black
	)
	color := make(map[string]int, len(g.nodes))
	var stack []string
	seen := map[string]bool{}
	var out []*CycleError
	var visit func(n string)
	visit = func(n string) {
		color[n] = grey
		stack = append(stack, n)
		for _, m := range g.needs[n] {
			switch color[m] {
			case white:
				visit(m)
			case grey:
				i := slices.Index(stack, m)
				cyc := rotate(slices.Clone(stack[i:]))
				key := strings.Join(cyc, "\x00")
				if !seen[key] {
					seen[key] = true
					out = append(out, &CycleError{Path: append(cyc, cyc[0])})
				}
			}
		}
		stack = stack[:len(stack)-1]
		color[n] = black
	}
	for _, n := range g.Names() {
		if color[n] == white {
			visit(n)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		return strings.Join(out[i].Path, " ") < strings.Join(out[j].Path, " ")
	})
	return out
}

func rotate(c []string) []string {
	min := 0
	for i := range c {
		if c[i] < c[min] {
			min = i
		}
	}
	return append(c[min:], c[:min]...)
}

// Layers groups nodes so that every node's needs sit in earlier layers:
// layer 0 needs nothing, and all nodes of one layer may start in parallel.
// Each layer is sorted. It fails with the first cycle when there is one.
func (g *Graph[T]) Layers() ([][]string, error) {
	indeg := make(map[string]int, len(g.nodes))
	for n := range g.nodes {
		indeg[n] = len(g.needs[n])
	}
	var layer []string
	for n, d := range indeg {
		if d == 0 {
			layer = append(layer, n)
		}
	}
	sort.Strings(layer)
	var layers [][]string
	done := 0
	for len(layer) > 0 {
		layers = append(layers, layer)
		done += len(layer)
		var next []string
		for _, n := range layer {
			for _, u := range g.users[n] {
				indeg[u]--
				if indeg[u] == 0 {
					next = append(next, u)
				}
			}
		}
		sort.Strings(next)
		layer = next
	}
	if done != len(g.nodes) {
		if c := g.Cycles(); len(c) > 0 {
			return nil, c[0]
		}
		return nil, fmt.Errorf("graph: %d nodes unreachable", len(g.nodes)-done)
	}
	return layers, nil
}

// TopoOrder returns every node after all it needs (layer by layer).
func (g *Graph[T]) TopoOrder() ([]string, error) {
	layers, err := g.Layers()
	if err != nil {
		return nil, err
	}
	var out []string
	for _, l := range layers {
		out = append(out, l...)
	}
	return out, nil
}

// ReverseOrder returns every node before all it needs: the teardown order.
func (g *Graph[T]) ReverseOrder() ([]string, error) {
	order, err := g.TopoOrder()
	if err != nil {
		return nil, err
	}
	slices.Reverse(order)
	return order, nil
}

// CriticalPath returns the chain of nodes whose summed cost is the largest,
// from a node that needs nothing to the end of the chain, and that sum. It is
// the lower bound on bringing the whole graph up with unlimited parallelism.
// Ties break towards the smaller name.
func (g *Graph[T]) CriticalPath(cost func(name string, v T) float64) ([]string, float64, error) {
	order, err := g.TopoOrder()
	if err != nil {
		return nil, 0, err
	}
	finish := make(map[string]float64, len(order))
	prev := make(map[string]string, len(order))
	for _, n := range order {
		best, bestFrom := 0.0, ""
		for _, m := range g.needs[n] {
			// needs are sorted, so a strict > keeps the smaller name on ties
			if f := finish[m]; bestFrom == "" || f > best {
				best, bestFrom = f, m
			}
		}
		finish[n] = best + cost(n, g.nodes[n])
		prev[n] = bestFrom
	}
	end, total := "", -1.0
	for _, n := range order {
		if finish[n] > total || (finish[n] == total && n < end) {
			end, total = n, finish[n]
		}
	}
	if end == "" {
		return nil, 0, nil
	}
	var path []string
	for n := end; n != ""; n = prev[n] {
		path = append(path, n)
	}
	slices.Reverse(path)
	return path, total, nil
}

// Closure returns the named nodes plus everything they need, transitively,
// sorted. Unknown names are an error.
func (g *Graph[T]) Closure(names ...string) ([]string, error) {
	seen := map[string]bool{}
	var walk func(string)
	walk = func(n string) {
		if seen[n] {
			return
		}
		seen[n] = true
		for _, m := range g.needs[n] {
			walk(m)
		}
	}
	for _, n := range names {
		if _, ok := g.nodes[n]; !ok {
			return nil, fmt.Errorf("graph: unknown node %q", n)
		}
		walk(n)
	}
	out := make([]string, 0, len(seen))
	for n := range seen {
		out = append(out, n)
	}
	sort.Strings(out)
	return out, nil
}

// Subgraph returns a new graph holding only the named nodes plus everything
// they need (the `--only svc` view).
func (g *Graph[T]) Subgraph(names ...string) (*Graph[T], error) {
	keep, err := g.Closure(names...)
	if err != nil {
		return nil, err
	}
	sub := New[T]()
	for _, n := range keep {
		sub.Add(n, g.nodes[n])
	}
	for _, n := range keep {
		for _, m := range g.needs[n] {
			_ = sub.Connect(n, m) // both ends are in keep by construction
		}
	}
	return sub, nil
}
