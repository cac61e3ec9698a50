package supervisor

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/novadev/novadev/internal/catalog"
	"github.com/novadev/novadev/internal/driver"
	"github.com/novadev/novadev/internal/event"
	"github.com/novadev/novadev/internal/state"
)

// Down stops and removes every container of the observed project in
// reverse dependency order, in parallel: a node goes as soon as everything
// that needs it is gone. Then its networks, and its volumes when volumes is
// set. g may be nil (no catalog): then everything goes at once.
//
// With volumes, no data outlives the call, so there is nothing to shut down
// gracefully: every container is killed and removed at once (a graceful
// PostgreSQL shutdown alone writes a checkpoint that is then deleted).
func (r *Runner) Down(ctx context.Context, g *catalog.Graph, obs *state.Observed, volumes bool) error {
	r.defaults()
	byNode := map[string][]state.Container{}
	for _, c := range obs.Containers {
		byNode[c.Node] = append(byNode[c.Node], c)
	}
	// a node stops as soon as every node that needs it has stopped: a walk
	// of the reverse graph, not layer by layer; nodes the graph does not
	// know (orphans) need nothing to wait for
	users := func(string) []string { return nil }
	if g != nil && !volumes {
		if _, err := g.Layers(); err != nil {
			return err
		}
		users = g.Users
	}
	names := map[string]bool{}
	for n := range byNode {
		names[n] = true
	}
	if g != nil {
		for _, n := range g.Names() {
			names[n] = true
		}
	}
	stopped := map[string]chan struct{}{}
	for n := range names {
		stopped[n] = make(chan struct{})
	}
	var mu sync.Mutex
	var errs []error
	var wg sync.WaitGroup
	for n := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer close(stopped[n])
			for _, u := range users(n) {
				if ch, ok := stopped[u]; ok {
					select {
					case <-ch:
					case <-ctx.Done():
						return
					}
				}
			}
			var cw sync.WaitGroup
			for _, c := range byNode[n] {
				cw.Add(1)
				go func() {
					defer cw.Done()
					r.emit(event.Event{Type: event.Stopping, Node: nodeName(c), Detail: c.Name})
					var err error
					if !volumes {
						err = r.Driver.Stop(ctx, c.ID, 0)
					}
					if err == nil || errors.Is(err, driver.ErrNotFound) {
						err = r.Driver.Remove(ctx, c.ID) // forced: kills what still runs
					}
					if err != nil && !errors.Is(err, driver.ErrNotFound) {
						mu.Lock()
						errs = append(errs, fmt.Errorf("removing %s: %w", c.Name, err))
						mu.Unlock()
						return
					}
					r.emit(event.Event{Type: event.Removed, Node: nodeName(c), Detail: c.Name})
				}()
			}
			cw.Wait()
		}()
	}
	wg.Wait()
	if ctx.Err() != nil {
		return ctx.Err()
	}
	slices.SortFunc(errs, func(a, b error) int { return strings.Compare(a.Error(), b.Error()) })
	for _, n := range obs.Networks {
		if err := r.Driver.RemoveNetwork(ctx, n.Name); err != nil && !errors.Is(err, driver.ErrNotFound) {
			errs = append(errs, fmt.Errorf("removing network %s: %w", n.Name, err))
		} else {
			r.emit(event.Event{Type: event.Removed, Detail: "network " + n.Name})
		}
	}
	if volumes {
		var vw sync.WaitGroup
		for _, v := range obs.Volumes {
			vw.Add(1)
			go func() {
				defer vw.Done()
				err := r.Driver.RemoveVolume(ctx, v.Name)
				mu.Lock()
				defer mu.Unlock()
				if err != nil && !errors.Is(err, driver.ErrNotFound) {
					errs = append(errs, fmt.Errorf("removing volume %s: %w", v.Name, err))
					return
				}
				r.emit(event.Event{Type: event.Removed, Detail: "volume " + v.Name})
			}()
		}
		vw.Wait()
	} else if len(obs.Volumes) > 0 {
		names := make([]string, 0, len(obs.Volumes))
		for _, v := range obs.Volumes {
			names = append(names, v.Name)
		}
		r.emit(event.Event{Type: event.Note, Detail: "kept volumes (data survives; --volumes removes them): " + strings.Join(names, ", ")})
	}
	return errors.Join(errs...)
}

func nodeName(c state.Container) string {
	if c.Node != "" {
		return c.Node
	}
	return c.Service
}
