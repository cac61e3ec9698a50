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
// reverse dependency order (a node goes after everything that needs it),
// each layer in parallel; then its networks, and its volumes when volumes
// is set. g may be nil (no catalog): then everything goes at once.
// Containers of nodes the graph does not know go first.
func (r *Runner) Down(ctx context.Context, g *catalog.Graph, obs *state.Observed, volumes bool) error {
	r.defaults()
	byNode := map[string][]state.Container{}
	for _, c := range obs.Containers {
		byNode[c.Node] = append(byNode[c.Node], c)
	}
	var layers [][]string
	if g != nil {
		ls, err := g.Layers()
		if err != nil {
			return err
		}
		slices.Reverse(ls)
		layers = ls
	}
	known := map[string]bool{}
	for _, l := range layers {
		for _, n := range l {
			known[n] = true
		}
	}
	var first []string
	for n := range byNode {
		if !known[n] {
			first = append(first, n)
		}
	}
	slices.Sort(first)
	layers = append([][]string{first}, layers...)
	var errs []error
	for _, layer := range layers {
		var wg sync.WaitGroup
		var mu sync.Mutex
		for _, n := range layer {
			for _, c := range byNode[n] {
				wg.Add(1)
				go func() {
					defer wg.Done()
					r.emit(event.Event{Type: event.Stopping, Node: nodeName(c), Detail: c.Name})
					err := r.Driver.Stop(ctx, c.ID, 0)
					if err == nil || errors.Is(err, driver.ErrNotFound) {
						err = r.Driver.Remove(ctx, c.ID)
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
		}
		wg.Wait()
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	for _, n := range obs.Networks {
		if err := r.Driver.RemoveNetwork(ctx, n.Name); err != nil && !errors.Is(err, driver.ErrNotFound) {
			errs = append(errs, fmt.Errorf("removing network %s: %w", n.Name, err))
		} else {
			r.emit(event.Event{Type: event.Removed, Detail: "network " + n.Name})
		}
	}
	if volumes {
		for _, v := range obs.Volumes {
			if err := r.Driver.RemoveVolume(ctx, v.Name); err != nil && !errors.Is(err, driver.ErrNotFound) {
				errs = append(errs, fmt.Errorf("removing volume %s: %w", v.Name, err))
			} else {
				r.emit(event.Event{Type: event.Removed, Detail: "volume " + v.Name})
			}
		}
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
