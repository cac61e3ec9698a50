package graph

import (
	"context"
	"sync"
)

// WalkOptions shape a Walk.
type WalkOptions struct {
	// Reverse visits a node only after every node that needs it (teardown);
	// otherwise a node is visited after everything it needs (start-up).
	Reverse bool
	// Unordered ignores the edges: every node at once (a teardown that
	// keeps nothing has nothing to order).
	Unordered bool
	// Limit bounds how many visits run at once; < 1: no bound.
	Limit int
	// OnBlocked, when set, is told of every node that is not visited
	// because a node before it failed; cause is the failed node at the
	// root of the chain.
	OnBlocked func(name, cause string)
}

// Walked is how a walk went.
type Walked struct {
	// Failed maps nodes whose visit returned an error to it.
	Failed map[string]error
	// Blocked maps nodes not visited because of a failure before them to
	// the failed node at the root of the chain.
	Blocked map[string]string
	// NotStarted lists nodes not visited because ctx ended, in topological
	// order.
	NotStarted []string
}

// Walk visits every node concurrently, each once every node before it (its
// needs; its users when reversed) was visited successfully. A failed visit
// blocks every node after it; the others go on. When ctx ends no new visit
// starts, running visits are waited for (they see ctx), and the rest are
// reported as NotStarted. It fails only on a cycle.
func (g *Graph[T]) Walk(ctx context.Context, o WalkOptions, visit func(ctx context.Context, name string) error) (*Walked, error) {
	order, err := g.TopoOrder()
	if err != nil {
		return nil, err
	}
	before, after := g.needs, g.users
	if o.Reverse {
		before, after = g.users, g.needs
		for i, j := 0, len(order)-1; i < j; i, j = i+1, j-1 {
			order[i], order[j] = order[j], order[i]
		}
	}
	if o.Unordered {
		before, after = map[string][]string{}, map[string][]string{}
	}
	w := &Walked{Failed: map[string]error{}, Blocked: map[string]string{}}
	pending := make(map[string]int, len(order))
	cause := map[string]string{}
	for _, n := range order {
		pending[n] = len(before[n])
	}
	type done struct {
		name string
		err  error
	}
	results := make(chan done)
	var slots chan struct{}
	if o.Limit > 0 {
		slots = make(chan struct{}, o.Limit)
	}
	var wg sync.WaitGroup
	running := 0
	finished := map[string]bool{}
	launch := func(n string) {
		running++
		wg.Add(1)
		go func() {
			defer wg.Done()
			if slots != nil {
				select {
				case slots <- struct{}{}:
					defer func() { <-slots }()
				case <-ctx.Done():
					results <- done{n, errNotStarted}
					return
				}
			}
			if ctx.Err() != nil {
				results <- done{n, errNotStarted}
				return
			}
			results <- done{n, visit(ctx, n)}
		}()
	}
	// settle marks n finished and releases (or blocks) what comes after it.
	var settle func(n string, failedRoot string)
	settle = func(n string, failedRoot string) {
		finished[n] = true
		for _, u := range after[n] {
			if finished[u] {
				continue
			}
			pending[u]--
			if failedRoot != "" && cause[u] == "" {
				cause[u] = failedRoot
			}
			if pending[u] > 0 {
				continue
			}
			if c := cause[u]; c != "" {
				w.Blocked[u] = c
				if o.OnBlocked != nil {
					o.OnBlocked(u, c)
				}
				settle(u, c)
				continue
			}
			if ctx.Err() == nil {
				launch(u)
			}
		}
	}
	for _, n := range order {
		if pending[n] == 0 {
			launch(n)
		}
	}
	for running > 0 {
		d := <-results
		running--
		switch {
		case d.err == errNotStarted:
			// ctx ended before it began: it and what follows stay unvisited
		case d.err != nil && ctx.Err() != nil:
			// interrupted: what follows was not blocked by a failure, it
			// just never started
			w.Failed[d.name] = d.err
			finished[d.name] = true
		case d.err != nil:
			w.Failed[d.name] = d.err
			settle(d.name, d.name)
		default:
			settle(d.name, "")
		}
	}
	wg.Wait()
	for _, n := range order {
		if !finished[n] {
			w.NotStarted = append(w.NotStarted, n)
		}
	}
	return w, nil
}

type walkSentinel struct{}

func (walkSentinel) Error() string { return "not started" }

var errNotStarted error = walkSentinel{}
