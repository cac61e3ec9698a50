package supervisor

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/novadev/novadev/internal/backend"
	"github.com/novadev/novadev/internal/catalog"
)

// UnitStatus is one line of `novadev status`.
type UnitStatus struct {
	Service   string         `json:"service"`
	Node      string         `json:"node"`
	Container string         `json:"container"`
	State     string         `json:"state"`
	Ready     bool           `json:"ready"`
	NotReady  string         `json:"notReady,omitempty"`
	Ports     []backend.Port `json:"ports"`
	Uptime    string         `json:"uptime,omitempty"`
	Memory    uint64         `json:"memoryBytes,omitempty"`
	// Degraded says which optional stores the node runs without and why
	// ("elasticsearch unavailable (no offline image; ...)").
	Degraded string `json:"degraded,omitempty"`
}

// StatusReport is what `novadev status` shows.
type StatusReport struct {
	Project    string       `json:"project"`
	Containers []UnitStatus `json:"containers"`
	// Unavailable lists the optional stores that nothing runs, and why.
	Unavailable []UnavailableNode `json:"unavailable,omitempty"`
}

// UnavailableNode is an optional store that does not run.
type UnavailableNode struct {
	Node   string `json:"node"`
	Reason string `json:"reason"`
}

// unavailable says why an optional store does not run in snap ("" when
// it does, or is not optional): the environment has no image for it, the
// engine has none, or it is not running.
func unavailable(it *catalog.Item, n *backend.Node) string {
	if it.Kind != catalog.KindStore || !it.Store.Optional {
		return ""
	}
	if it.Unavailable != "" {
		return it.Unavailable
	}
	if n == nil {
		return NotRendered
	}
	if len(n.MissingImages) > 0 {
		return "image " + strings.Join(n.MissingImages, ", ") + " is not on the engine; pull it or use a mirror"
	}
	for _, u := range n.Units {
		if u.State == backend.Running {
			return ""
		}
	}
	return "not running; novadev up starts it"
}

// Inspect observes the instance and checks every node's readiness (each
// check bounded to 3 s), with each running unit's uptime and memory.
func Inspect(ctx context.Context, b backend.Backend, g *catalog.Graph, ready Readiness, now func() time.Time) (*StatusReport, error) {
	snap, err := b.Observe(ctx)
	if err != nil {
		return nil, err
	}
	rep := &StatusReport{Project: snap.Instance}
	for _, name := range slices.Sorted(func(yield func(string) bool) {
		for n := range snap.Nodes {
			if !yield(n) {
				return
			}
		}
	}) {
		for _, u := range snap.Nodes[name].Units {
			if u.State == backend.Missing {
				continue
			}
			us := UnitStatus{Service: u.Service, Node: name, Container: u.Name, State: u.State, Ports: u.Ports}
			if u.State == backend.Running && !u.Started.IsZero() {
				us.Uptime = now().Sub(u.Started).Round(time.Second).String()
			}
			rep.Containers = append(rep.Containers, us)
		}
	}
	for _, u := range snap.Orphans {
		rep.Containers = append(rep.Containers, UnitStatus{Service: u.Service, Node: u.Node, Container: u.Name, State: u.State})
	}
	slices.SortFunc(rep.Containers, func(a, b UnitStatus) int { return strings.Compare(a.Container, b.Container) })
	degraded := map[string][]string{}
	for _, name := range g.Names() {
		it, _ := g.Node(name)
		why := unavailable(it, snap.Nodes[name])
		if why == "" {
			continue
		}
		rep.Unavailable = append(rep.Unavailable, UnavailableNode{Node: name, Reason: why})
		for _, u := range g.Users(name) {
			if ui, _ := g.Node(u); ui.Kind == catalog.KindService {
				degraded[u] = append(degraded[u], name+" unavailable ("+why+")")
			}
		}
	}
	for i := range rep.Containers {
		rep.Containers[i].Degraded = strings.Join(degraded[rep.Containers[i].Node], "; ")
	}
	readiness := map[string]error{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, n := range g.Names() {
		if ready == nil || snap.Nodes[n] == nil {
			continue
		}
		check, _ := ready(n)
		if check == nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			cctx, cancel := context.WithTimeout(ctx, 3*time.Second)
			defer cancel()
			ok, err := check.Check(cctx)
			if ok {
				err = nil
			} else if err == nil {
				err = fmt.Errorf("not ready")
			}
			mu.Lock()
			readiness[n] = err
			mu.Unlock()
		}()
	}
	ids := map[string]string{}
	for _, n := range snap.Nodes {
		for _, u := range n.Units {
			ids[u.Name] = u.ID
		}
	}
	for i := range rep.Containers {
		c := &rep.Containers[i]
		if c.State != backend.Running || ids[c.Container] == "" {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if m, err := b.Usage(ctx, ids[c.Container]); err == nil {
				c.Memory = m
			}
		}()
	}
	wg.Wait()
	for i := range rep.Containers {
		c := &rep.Containers[i]
		err, checked := readiness[c.Node]
		c.Ready = c.State == backend.Running && (!checked || err == nil)
		if checked && err != nil {
			c.NotReady = err.Error()
		}
	}
	return rep, nil
}

// LogStream is the log of one unit.
type LogStream = backend.LogStream

// Logs opens the logs of every unit of the instance, or of the units and
// nodes named (a Redis Cluster store names all its nodes).
func Logs(ctx context.Context, b backend.Backend, names []string, follow bool, tail int) ([]LogStream, error) {
	snap, err := b.Observe(ctx)
	if err != nil {
		return nil, err
	}
	var out []LogStream
	closeAll := func() {
		for _, s := range out {
			s.Close()
		}
	}
	for _, node := range slices.Sorted(func(yield func(string) bool) {
		for n := range snap.Nodes {
			if !yield(n) {
				return
			}
		}
	}) {
		n := snap.Nodes[node]
		wantNode := len(names) == 0 || slices.Contains(names, node)
		wantUnit := false
		for _, u := range n.Units {
			wantUnit = wantUnit || (u.State != backend.Missing && slices.Contains(names, u.Service))
		}
		if !wantNode && !wantUnit {
			continue
		}
		streams, err := b.Logs(ctx, node, backend.LogOptions{Follow: follow, Tail: tail})
		if err != nil {
			closeAll()
			return nil, err
		}
		for _, s := range streams {
			if wantNode || slices.Contains(names, s.Unit) {
				out = append(out, s)
			} else {
				s.Close()
			}
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no container of %s matches %v (novadev status lists them)", snap.Instance, names)
	}
	return out, nil
}

var _ io.Closer = LogStream{}
