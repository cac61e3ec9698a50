// Package fake is an in-memory backend.Backend for tests of the supervisor
// and the commands: nodes and their units live in maps, every mutating call
// is recorded, and hooks let a test block, fail or count an Apply, or kill a
// unit as if its container died.
package fake

import (
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/novadev/novadev/internal/backend"
	"github.com/novadev/novadev/internal/catalog"
)

// Backend is the fake. Build it with New and AddNode.
type Backend struct {
	mu      sync.Mutex
	seq     int
	nodes   map[string]*backend.Node // wanted, with their observed state
	order   []string
	records map[string]string
	orphans []backend.Unit
	calls   []string
	subs    []chan backend.Failure
	// prepared says whether the instance resources exist.
	prepared bool

	// Hash is the configuration every unit wants; change it to make
	// every unit outdated.
	Hash string
	// NodeHash overrides Hash for some nodes.
	NodeHash map[string]string
	// Missing maps a node to images that are not available.
	Missing map[string][]string
	// BootstrapsAreJobs is what Observe's snapshot says of bootstraps (as
	// the kube backend's).
	BootstrapsAreJobs bool
	// LogLines are the log lines of each unit (by Service).
	LogLines map[string][]string
	// OnApply, when set, runs inside Apply (without the lock); an error
	// fails the apply.
	OnApply func(ctx context.Context, node string) error
	// PreflightErr, when set, is Preflight's answer.
	PreflightErr error
	// InfoErr, when set, is returned by Info (engine unreachable).
	InfoErr error
	// Now is the clock for Started.
	Now func() time.Time
}

// New returns an empty fake.
func New() *Backend {
	return &Backend{nodes: map[string]*backend.Node{}, records: map[string]string{}, Hash: "h1", NodeHash: map[string]string{},
		Missing: map[string][]string{}, LogLines: map[string][]string{}, Now: time.Now}
}

// AddNode declares a node run by this backend, with one unit per name in
// units (none: one unit named after the node); its container port, when not
// 0, is published as 127.0.0.1:host, both counted up by one per further unit
// (a Redis Cluster node each).
func (b *Backend) AddNode(node, image string, port, host int, units ...string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(units) == 0 {
		units = []string{node}
	}
	n := &backend.Node{Name: node}
	for i, u := range units {
		unit := backend.Unit{Name: "fake-" + u + "-1", Service: u, Node: node, State: backend.Missing, Image: image}
		if port != 0 {
			unit.Ports = []backend.Port{{Unit: u, Internal: u + ":" + strconv.Itoa(port+i), Container: port + i, HostIP: "127.0.0.1", HostPort: host + i}}
		}
		n.Units = append(n.Units, unit)
	}
	b.nodes[node] = n
	b.order = append(b.order, node)
}

// AddOrphan adds a unit that belongs to no wanted node.
func (b *Backend) AddOrphan(name string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.seq++
	b.orphans = append(b.orphans, backend.Unit{Name: name, Service: name, ID: "u" + strconv.Itoa(b.seq), State: backend.Running})
}

func (b *Backend) record(format string, args ...any) {
	b.calls = append(b.calls, fmt.Sprintf(format, args...))
}

// Calls returns every mutating call so far ("apply users", "delete redis").
func (b *Backend) Calls() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.calls)
}

// ResetCalls forgets the recorded calls.
func (b *Backend) ResetCalls() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.calls = nil
}

// SetState forces the state of a node's units (e.g. backend.Exited).
func (b *Backend) SetState(node, st string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if n := b.nodes[node]; n != nil {
		for i := range n.Units {
			n.Units[i].State = st
		}
	}
}

// SetUnitState forces the state of one unit (by Service, e.g. redis-2).
func (b *Backend) SetUnitState(unit, st string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, n := range b.nodes {
		for i := range n.Units {
			if n.Units[i].Service == unit {
				n.Units[i].State = st
			}
		}
	}
}

func (b *Backend) hash(node string) string {
	if h := b.NodeHash[node]; h != "" {
		return h
	}
	return b.Hash
}

// Records returns the bootstrap records.
func (b *Backend) Records() map[string]string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return maps.Clone(b.records)
}

// Running returns the nodes whose units all run, sorted.
func (b *Backend) Running() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
	for name, n := range b.nodes {
		ok := len(n.Units) > 0
		for _, u := range n.Units {
			ok = ok && u.State == backend.Running
		}
		if ok {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

// Kill makes a node's first unit die with exitCode and tells watchers.
func (b *Backend) Kill(node string, exitCode int) {
	b.mu.Lock()
	n := b.nodes[node]
	if n == nil || len(n.Units) == 0 {
		b.mu.Unlock()
		return
	}
	n.Units[0].State = backend.Exited
	f := backend.Failure{Node: node, Unit: n.Units[0].Name, ExitCode: exitCode, Reason: fmt.Sprintf("exited with code %d", exitCode)}
	defer b.mu.Unlock()
	for _, ch := range b.subs {
		select {
		case ch <- f:
		default: // a watcher 16 failures behind misses some
		}
	}
}

// Info implements backend.Backend.
func (b *Backend) Info(context.Context) (backend.Info, error) {
	if b.InfoErr != nil {
		return backend.Info{}, b.InfoErr
	}
	return backend.Info{Target: "fake", Engine: "fake", ServerVersion: "0", APIVersion: "1.41", OS: "linux", CPUs: 2, MemoryBytes: 8 << 30}, nil
}

// Observe implements backend.Backend.
func (b *Backend) Observe(context.Context) (*backend.Snapshot, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := &backend.Snapshot{Instance: "fake", Nodes: map[string]*backend.Node{}, Records: maps.Clone(b.records), Orphans: slices.Clone(b.orphans), BootstrapsAreJobs: b.BootstrapsAreJobs}
	for name, n := range b.nodes {
		c := &backend.Node{Name: name, Units: slices.Clone(n.Units), MissingImages: slices.Clone(b.Missing[name])}
		for i := range c.Units {
			c.Units[i].Want = b.hash(name)
		}
		s.Nodes[name] = c
	}
	s.Resources = []backend.Resource{{Kind: "network", Name: "fake_default", Exists: b.prepared}}
	return s, nil
}

// Ports implements backend.Backend.
func (b *Backend) Ports(node string) []backend.Port {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []backend.Port
	if n := b.nodes[node]; n != nil {
		for _, u := range n.Units {
			out = append(out, u.Ports...)
		}
	}
	return out
}

// Preflight implements backend.Backend.
func (b *Backend) Preflight(context.Context, *backend.Snapshot, []string) error {
	return b.PreflightErr
}

// Prepare implements backend.Backend.
func (b *Backend) Prepare(_ context.Context, _ *backend.Snapshot, _ []string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, o := range b.orphans {
		b.record("remove orphan %s", o.Name)
	}
	b.orphans = nil
	if !b.prepared {
		b.prepared = true
		b.record("prepare")
	}
	return nil
}

// Apply implements backend.Backend.
func (b *Backend) Apply(ctx context.Context, node string) (*backend.Node, error) {
	b.mu.Lock()
	n := b.nodes[node]
	if n == nil {
		b.mu.Unlock()
		return nil, fmt.Errorf("node %s: %w", node, backend.ErrNotFound)
	}
	if len(b.Missing[node]) > 0 {
		b.mu.Unlock()
		return nil, fmt.Errorf("image %s: %w", b.Missing[node][0], backend.ErrNotFound)
	}
	h := b.hash(node)
	for i := range n.Units { // created, as an engine creates before it starts
		u := &n.Units[i]
		if u.ID == "" || u.Have != h {
			b.seq++
			u.ID, u.State, u.Have = "u"+strconv.Itoa(b.seq), backend.Created, h
		}
	}
	b.mu.Unlock()
	if b.OnApply != nil {
		if err := b.OnApply(ctx, node); err != nil {
			return nil, err
		}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for i := range n.Units {
		u := &n.Units[i]
		u.State, u.Want, u.Started = backend.Running, h, b.Now()
	}
	b.record("apply %s", node)
	c := *n
	c.Units = slices.Clone(n.Units)
	return &c, nil
}

// Delete implements backend.Backend.
func (b *Backend) Delete(_ context.Context, node string, _ bool) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := b.nodes[node]
	if n == nil {
		return nil
	}
	existed := false
	for i := range n.Units {
		existed = existed || n.Units[i].ID != ""
		n.Units[i].ID, n.Units[i].State, n.Units[i].Have = "", backend.Missing, ""
	}
	if existed {
		b.record("delete %s", node)
	}
	return nil
}

// Teardown implements backend.Backend.
func (b *Backend) Teardown(_ context.Context, volumes bool) ([]backend.Resource, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []backend.Resource
	for _, o := range b.orphans {
		out = append(out, backend.Resource{Kind: "container", Name: o.Name})
	}
	b.orphans = nil
	if b.prepared {
		out = append(out, backend.Resource{Kind: "network", Name: "fake_default"})
		b.prepared = false
	}
	if volumes {
		for r := range b.records {
			out = append(out, backend.Resource{Kind: "volume", Name: "fake_record-" + r})
		}
		b.records = map[string]string{}
	}
	b.record("teardown volumes=%t", volumes)
	return out, nil
}

// Record implements backend.Backend.
func (b *Backend) Record(_ context.Context, bootstrap, sum string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.records[bootstrap] = sum
	b.record("record %s", bootstrap)
	return nil
}

// Logs implements backend.Backend: each unit's LogLines, ignoring Follow.
func (b *Backend) Logs(_ context.Context, node string, opts backend.LogOptions) ([]backend.LogStream, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := b.nodes[node]
	if n == nil {
		return nil, nil
	}
	var out []backend.LogStream
	for _, u := range n.Units {
		if u.ID == "" {
			continue
		}
		lines := b.LogLines[u.Service]
		if opts.Tail > 0 && len(lines) > opts.Tail {
			lines = lines[len(lines)-opts.Tail:]
		}
		text := strings.Join(lines, "\n")
		if text != "" {
			text += "\n"
		}
		out = append(out, backend.LogStream{Unit: u.Service, Name: u.Name, ReadCloser: io.NopCloser(strings.NewReader(text))})
	}
	return out, nil
}

// Usage implements backend.Backend: 1 MiB per unit.
func (b *Backend) Usage(context.Context, string) (uint64, error) { return 1 << 20, nil }

// Watch implements backend.Backend: failures from Kill.
func (b *Backend) Watch(ctx context.Context) (<-chan backend.Failure, error) {
	ch := make(chan backend.Failure, 16)
	b.mu.Lock()
	b.subs = append(b.subs, ch)
	b.mu.Unlock()
	go func() {
		<-ctx.Done()
		b.mu.Lock()
		b.subs = slices.DeleteFunc(b.subs, func(c chan backend.Failure) bool { return c == ch })
		close(ch)
		b.mu.Unlock()
	}()
	return ch, nil
}

// Close implements backend.Backend.
func (b *Backend) Close() error { return nil }

var _ backend.Backend = (*Backend)(nil)

// AddCatalog declares the catalog's stores and services the way the Docker
// backend runs them: one unit per store (one per Redis Cluster node), one
// per service, each publishing its first port at the catalog's host port.
// External stores are not declared.
func (b *Backend) AddCatalog(c *catalog.Catalog) {
	g := c.Graph()
	for _, n := range g.Names() {
		it, _ := g.Node(n)
		switch it.Kind {
		case catalog.KindStore:
			st := it.Store
			if st.External {
				continue
			}
			var units []string
			if st.Kind == catalog.StoreRedisCluster {
				for i := 1; i <= st.Nodes; i++ {
					units = append(units, n+"-"+strconv.Itoa(i))
				}
			}
			b.AddNode(n, st.Image, st.Port, st.Host, units...)
		case catalog.KindService:
			port, host := 0, 0
			if len(it.Service.Ports) > 0 {
				port, host = it.Service.Ports[0].Port, it.Service.Ports[0].Host
			}
			b.AddNode(n, it.Service.Image, port, host)
		}
	}
}
