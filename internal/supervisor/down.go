package supervisor

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/novadev/novadev/internal/backend"
	"github.com/novadev/novadev/internal/catalog"
	"github.com/novadev/novadev/internal/event"
	"github.com/novadev/novadev/internal/graph"
)

// DownResult counts what down found and removed.
type DownResult struct {
	Instance string `json:"instance"`
	Units    int    `json:"units"`
	Networks int    `json:"networks"`
	Volumes  int    `json:"volumes"`
	// VolumesRemoved says the volumes went too (--volumes).
	VolumesRemoved bool `json:"volumesRemoved"`
}

// Down stops and removes every unit of the instance along the reverse
// graph (graph.Walk): a node goes as soon as everything that needs it is
// gone. Then the backend removes what is left (orphans, networks, and with
// volumes its volumes and bootstrap records). g may be nil (no catalog):
// then every node goes at once.
//
// With volumes, no data outlives the call, so there is nothing to shut down
// gracefully: every unit is killed and removed at once (a graceful
// PostgreSQL shutdown alone writes a checkpoint that is then deleted).
func (r *Runner) Down(ctx context.Context, g *catalog.Graph, volumes bool) (*DownResult, error) {
	r.defaults()
	snap, err := r.Backend.Observe(ctx)
	if err != nil {
		return nil, err
	}
	res := &DownResult{Instance: snap.Instance, VolumesRemoved: volumes, Units: len(snap.Orphans), Volumes: len(snap.Records)}
	var kept []string
	for _, rs := range snap.Resources {
		if !rs.Exists {
			continue
		}
		switch rs.Kind {
		case "network":
			res.Networks++
		case "volume":
			res.Volumes++
			kept = append(kept, rs.Name)
		}
	}
	if g == nil {
		g = graph.New[*catalog.Item]()
	}
	walkG := g
	for name := range snap.Nodes {
		if _, ok := g.Node(name); !ok { // a node the catalog no longer has
			if walkG == g {
				walkG, _ = g.Subgraph(g.Names()...)
			}
			walkG.Add(name, nil)
		}
	}
	for _, n := range snap.Nodes {
		for _, u := range n.Units {
			if u.State != backend.Missing {
				res.Units++
			}
		}
	}
	walked, err := walkG.Walk(ctx, graph.WalkOptions{Reverse: true, Unordered: volumes}, func(ctx context.Context, name string) error {
		n := snap.Nodes[name]
		if n == nil {
			return nil
		}
		var units []string
		for _, u := range n.Units {
			if u.State != backend.Missing {
				units = append(units, u.Name)
				r.emit(event.Event{Type: event.Stopping, Node: name, Detail: u.Name})
			}
		}
		if len(units) == 0 {
			return nil
		}
		if err := r.Backend.Delete(ctx, name, volumes); err != nil {
			return err
		}
		for _, u := range units {
			r.emit(event.Event{Type: event.Removed, Node: name, Detail: u})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	var errs []error
	for _, name := range slices.Sorted(func(yield func(string) bool) {
		for n := range walked.Failed {
			if !yield(n) {
				return
			}
		}
	}) {
		errs = append(errs, walked.Failed[name])
	}
	if len(walked.Blocked) > 0 {
		// what a failed removal blocked still goes: nothing must be left
		for n := range walked.Blocked {
			if err := r.Backend.Delete(ctx, n, volumes); err != nil {
				errs = append(errs, err)
			}
		}
	}
	removed, err := r.Backend.Teardown(ctx, volumes)
	for _, rs := range removed {
		r.emit(event.Event{Type: event.Removed, Detail: rs.Kind + " " + rs.Name})
	}
	if err != nil {
		errs = append(errs, err)
	}
	if !volumes && len(kept) > 0 {
		r.emit(event.Event{Type: event.Note, Detail: "kept volumes (data survives; --volumes removes them): " + strings.Join(kept, ", ")})
	}
	if err := errors.Join(errs...); err != nil {
		return res, fmt.Errorf("down %s: %w", snap.Instance, err)
	}
	return res, nil
}
