package app

import (
	"fmt"
	"slices"
	"strings"

	"github.com/novadev/novadev/internal/catalog"
	"github.com/novadev/novadev/internal/cli"
)

// withoutServices is `up --except`: gr without the named services and
// every node that needs one of them, transitively (a service left out
// would find its dependency missing). What they need stays: the rest is
// closed under needs by construction, so the subgraph of the rest is the
// rest. A running container of a node left out is neither started nor
// stopped. It also returns the nodes left out, in graph order.
func withoutServices(c *catalog.Catalog, gr *catalog.Graph, names []string) (*catalog.Graph, []string, error) {
	out := map[string]bool{}
	var drop func(string)
	drop = func(n string) {
		if out[n] {
			return
		}
		out[n] = true
		for _, u := range gr.Users(n) {
			drop(u)
		}
	}
	for _, n := range names {
		it, ok := gr.Node(n)
		if !ok || it.Kind != catalog.KindService {
			var svcs []string
			for _, s := range c.ActiveServices() {
				svcs = append(svcs, s.Name)
			}
			slices.Sort(svcs)
			return nil, nil, &cli.UsageError{Err: fmt.Errorf("--except %s: not a service of this environment (or of --only's); services: %s", n, strings.Join(svcs, ", "))}
		}
		drop(n)
	}
	var keep, left []string
	for _, n := range gr.Names() {
		if out[n] {
			left = append(left, n)
		} else {
			keep = append(keep, n)
		}
	}
	if len(keep) == 0 {
		return nil, nil, &cli.UsageError{Err: fmt.Errorf("--except %s leaves nothing to start", strings.Join(names, ","))}
	}
	sub, err := gr.Subgraph(keep...)
	return sub, left, err
}
