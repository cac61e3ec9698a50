// Package docker is the Docker backend: it translates the rendered compose
// project into containers (spec.go), converges them on an Engine (the Docker
// Engine through Moby, or enginefake in tests), publishes their ports on
// 127.0.0.1, checks those ports before it changes anything, records
// completed bootstraps as labelled marker volumes, and reports containers
// that die while the supervisor waits for them.
package docker

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/novadev/novadev/internal/backend"
	"github.com/novadev/novadev/internal/state"
)

// MarkerLabel holds a bootstrap's record sum on its done-marker volume.
const MarkerLabel = state.LabelBootstrapRecord

// markerKey prefixes the compose key (LabelVolume) of marker volumes.
const markerKey = "novadev-bootstrap-"

// MarkerVolume is the name of a bootstrap's done-marker: an empty volume
// whose label records what the bootstrap last completed against (labels are
// the state: no file remembers it).
func MarkerVolume(project, bootstrap string) string {
	return project + "_" + markerKey + bootstrap
}

// Backend runs one compose project's containers on one engine.
type Backend struct {
	eng  Engine
	spec *Spec
	// PortFree reports whether a host port can be bound; nil: try to
	// listen on 127.0.0.1.
	PortFree func(port int) error

	mu       sync.Mutex
	last     *state.Observed   // the latest observation
	images   map[string]string // image ref -> ID, from the latest observation
	stopping map[string]bool   // container IDs this backend stops or removes itself
}

// New returns the backend of spec on eng.
func New(eng Engine, spec *Spec) *Backend {
	return &Backend{eng: eng, spec: spec, stopping: map[string]bool{}}
}

// Spec is what the backend runs.
func (b *Backend) Spec() *Spec { return b.spec }

// Engine is the engine under the backend.
func (b *Backend) Engine() Engine { return b.eng }

func (b *Backend) project() string { return b.spec.Identity.Project }

// Info implements backend.Backend.
func (b *Backend) Info(ctx context.Context) (backend.Info, error) {
	i, err := b.eng.Info(ctx)
	if err != nil {
		return backend.Info{}, err
	}
	return backend.Info{Target: "docker", Engine: "Docker", ServerVersion: i.ServerVersion, APIVersion: i.APIVersion, OS: i.OS, CPUs: i.CPUs, MemoryBytes: i.MemoryBytes}, nil
}

// Close implements backend.Backend.
func (b *Backend) Close() error {
	if c, ok := b.eng.(interface{ Close() error }); ok {
		return c.Close()
	}
	return nil
}

// Observe implements backend.Backend.
func (b *Backend) Observe(ctx context.Context) (*backend.Snapshot, error) {
	obs, err := b.eng.Observe(ctx, b.project())
	if err != nil {
		return nil, err
	}
	images := map[string]string{}
	for _, w := range b.spec.Workloads() {
		if _, seen := images[w.Image]; seen {
			continue
		}
		if id, err := b.eng.ImageID(ctx, w.Image); err == nil {
			images[w.Image] = id
		} else if !errors.Is(err, ErrNotFound) {
			return nil, err
		}
	}
	b.mu.Lock()
	b.last, b.images = obs, images
	b.mu.Unlock()
	return b.snapshot(obs, images), nil
}

func (b *Backend) snapshot(obs *state.Observed, images map[string]string) *backend.Snapshot {
	s := &backend.Snapshot{Instance: b.project(), Nodes: map[string]*backend.Node{}, Records: map[string]string{}}
	wanted := map[string]bool{}
	for node, ws := range b.spec.Nodes {
		n := &backend.Node{Name: node}
		for _, w := range ws {
			wanted[w.Name] = true
			id, ok := images[w.Image]
			if !ok && !slices.Contains(n.MissingImages, w.Image) {
				n.MissingImages = append(n.MissingImages, w.Image)
			}
			u := backend.Unit{Name: w.Name, Service: w.Service, Node: node, State: backend.Missing, Want: Hash(w, id), Image: w.Image, Ports: b.ports(w)}
			if c := obs.Service(w.Service); c != nil {
				u.ID, u.State, u.Have, u.Started = c.ID, c.State, c.ConfigHash, c.Started
			}
			n.Units = append(n.Units, u)
		}
		s.Nodes[node] = n
	}
	for _, nw := range b.spec.Networks {
		s.Resources = append(s.Resources, backend.Resource{Kind: "network", Name: nw.Name, Exists: obs.Network(nw.Name) != nil})
	}
	for _, v := range b.spec.Volumes {
		r := backend.Resource{Kind: "volume", Name: v.Name, Exists: obs.Volume(v.Name) != nil}
		for _, w := range b.spec.Workloads() {
			for _, m := range w.Mounts {
				if m.Source == v.Name && !slices.Contains(r.Nodes, w.Node) {
					r.Nodes = append(r.Nodes, w.Node)
				}
			}
		}
		s.Resources = append(s.Resources, r)
	}
	for _, c := range obs.Containers {
		if !wanted[c.Name] && b.spec.service(c.Service) == nil {
			s.Orphans = append(s.Orphans, backend.Unit{Name: c.Name, Service: c.Service, Node: c.Node, ID: c.ID, State: c.State, Have: c.ConfigHash, Image: c.Image, Started: c.Started})
		}
	}
	for _, v := range obs.Volumes {
		if name, ok := strings.CutPrefix(v.Key, markerKey); ok {
			s.Records[name] = v.Labels[MarkerLabel]
		}
	}
	return s
}

func (s *Spec) service(name string) *Workload {
	if w, ok := s.Service(name); ok {
		return &w
	}
	return nil
}

func (b *Backend) ports(w Workload) []backend.Port {
	var aliases []string
	for _, a := range w.Aliases {
		if a != w.Service {
			aliases = append(aliases, a)
		}
	}
	var out []backend.Port
	for _, p := range w.Ports {
		out = append(out, backend.Port{Unit: w.Service, Internal: w.Service + ":" + strconv.Itoa(p.Container), Container: p.Container, HostIP: p.HostIP, HostPort: p.Host, Aliases: aliases})
	}
	return out
}

// Ports implements backend.Backend: every published port of the node's
// containers; a unit without published ports still gets an entry per
// catalog port so its in-network name is known.
func (b *Backend) Ports(node string) []backend.Port {
	var out []backend.Port
	for _, w := range b.spec.Nodes[node] {
		out = append(out, b.ports(w)...)
	}
	return out
}

// Units returns the in-network service names of a node's containers, in
// container order (a Redis Cluster store: redis-1, redis-2, redis-3).
func (b *Backend) Units(node string) []string {
	var out []string
	for _, w := range b.spec.Nodes[node] {
		out = append(out, w.Service)
	}
	return out
}

func listenFree(port int) error {
	ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		return err
	}
	return ln.Close()
}

// Preflight implements backend.Backend: every host port the applied
// nodes publish must be free, or held by the very container about to be
// replaced.
func (b *Backend) Preflight(ctx context.Context, snap *backend.Snapshot, apply []string) error {
	free := b.PortFree
	if free == nil {
		free = listenFree
	}
	uses, err := b.eng.PortUses(ctx)
	if err != nil {
		return err
	}
	var problems []string
	for _, node := range apply {
		n := snap.Nodes[node]
		if n == nil {
			continue
		}
		for _, u := range n.Units {
			if u.State == backend.Running && u.Want == u.Have {
				continue // kept
			}
			recreate := u.State != backend.Missing && u.Want != u.Have
			for _, pt := range u.Ports {
				owner := ""
				for _, use := range uses {
					if use.Port != pt.HostPort || (u.State != backend.Missing && use.Container == u.Name) {
						continue // not this port, or our own container about to be replaced
					}
					owner = "container " + use.Container
					if use.Project != "" {
						owner += " (project " + use.Project + ")"
					}
				}
				if owner == "" && !recreate {
					if err := free(pt.HostPort); err != nil {
						owner = "another process on this machine (see `ss -ltnp 'sport = :" + strconv.Itoa(pt.HostPort) + "'`)"
					}
				}
				if owner != "" {
					problems = append(problems, fmt.Sprintf("host port %d for %s is taken by %s; stop it, or pick another environment (--env) whose port block is free", pt.HostPort, u.Service, owner))
				}
			}
		}
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "\n"))
	}
	return nil
}

func (b *Backend) markStopping(id string) {
	b.mu.Lock()
	b.stopping[id] = true
	b.mu.Unlock()
}

// Prepare implements backend.Backend: orphans removed, networks created,
// and the volumes of the nodes that start (a skipped store gets none).
func (b *Backend) Prepare(ctx context.Context, snap *backend.Snapshot, start []string) error {
	for _, o := range snap.Orphans {
		b.markStopping(o.ID)
		if err := b.eng.Remove(ctx, o.ID); err != nil && !errors.Is(err, ErrNotFound) {
			return fmt.Errorf("removing orphan %s: %w", o.Name, err)
		}
	}
	for _, n := range b.spec.Networks {
		if r := resource(snap, "network", n.Name); r != nil && r.Exists {
			continue
		}
		if err := b.eng.CreateNetwork(ctx, n); err != nil {
			return err
		}
	}
	for _, v := range b.spec.Volumes {
		r := resource(snap, "volume", v.Name)
		if r == nil || r.Exists || !slices.ContainsFunc(r.Nodes, func(n string) bool { return slices.Contains(start, n) }) {
			continue
		}
		if err := b.eng.CreateVolume(ctx, v); err != nil {
			return err
		}
	}
	return nil
}

func resource(s *backend.Snapshot, kind, name string) *backend.Resource {
	for i := range s.Resources {
		if s.Resources[i].Kind == kind && s.Resources[i].Name == name {
			return &s.Resources[i]
		}
	}
	return nil
}

// Apply implements backend.Backend.
func (b *Backend) Apply(ctx context.Context, node string) (*backend.Node, error) {
	b.mu.Lock()
	obs, images := b.last, b.images
	b.mu.Unlock()
	if obs == nil {
		return nil, errors.New("docker backend: Apply before Observe")
	}
	n := &backend.Node{Name: node}
	for _, w := range b.spec.Nodes[node] {
		hash := Hash(w, images[w.Image])
		w.Labels = maps.Clone(w.Labels)
		w.Labels[state.LabelConfigHash] = hash
		u := backend.Unit{Name: w.Name, Service: w.Service, Node: node, Want: hash, Have: hash, Image: w.Image, State: backend.Running, Ports: b.ports(w)}
		c := obs.Service(w.Service)
		switch {
		case c != nil && c.ConfigHash == hash && c.State == state.Running:
			u.ID = c.ID
		case c != nil && c.ConfigHash == hash:
			if err := b.eng.Start(ctx, c.ID); err != nil {
				return nil, fmt.Errorf("starting %s: %w", w.Name, err)
			}
			u.ID = c.ID
		default:
			if c != nil {
				b.markStopping(c.ID)
				if err := b.eng.Stop(ctx, c.ID, 0); err != nil && !errors.Is(err, ErrNotFound) {
					return nil, fmt.Errorf("stopping %s: %w", w.Name, err)
				}
				if err := b.eng.Remove(ctx, c.ID); err != nil && !errors.Is(err, ErrNotFound) {
					return nil, fmt.Errorf("removing %s: %w", w.Name, err)
				}
			}
			id, err := b.eng.Create(ctx, w)
			if err != nil {
				return nil, fmt.Errorf("creating %s: %w", w.Name, err)
			}
			if err := b.eng.Start(ctx, id); err != nil {
				return nil, fmt.Errorf("starting %s: %w", w.Name, err)
			}
			u.ID = id
		}
		n.Units = append(n.Units, u)
	}
	return n, nil
}

// Delete implements backend.Backend, on the units of the latest
// observation.
func (b *Backend) Delete(ctx context.Context, node string, volumes bool) error {
	b.mu.Lock()
	obs := b.last
	b.mu.Unlock()
	if obs == nil {
		return errors.New("docker backend: Delete before Observe")
	}
	var errs []error
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, c := range obs.Containers {
		if nodeOf(c) != node {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			b.markStopping(c.ID)
			var err error
			if !volumes {
				err = b.eng.Stop(ctx, c.ID, 0)
			}
			if err == nil || errors.Is(err, ErrNotFound) {
				err = b.eng.Remove(ctx, c.ID) // forced: kills what still runs
			}
			if err != nil && !errors.Is(err, ErrNotFound) {
				mu.Lock()
				errs = append(errs, fmt.Errorf("removing %s: %w", c.Name, err))
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	slices.SortFunc(errs, func(a, b error) int { return strings.Compare(a.Error(), b.Error()) })
	return errors.Join(errs...)
}

func nodeOf(c state.Container) string {
	if c.Node != "" {
		return c.Node
	}
	return c.Service
}

// Teardown implements backend.Backend.
func (b *Backend) Teardown(ctx context.Context, volumes bool) ([]backend.Resource, error) {
	obs, err := b.eng.Observe(ctx, b.project())
	if err != nil {
		return nil, err
	}
	var removed []backend.Resource
	var errs []error
	for _, c := range obs.Containers {
		b.markStopping(c.ID)
		if err := b.eng.Remove(ctx, c.ID); err != nil && !errors.Is(err, ErrNotFound) {
			errs = append(errs, fmt.Errorf("removing %s: %w", c.Name, err))
			continue
		}
		removed = append(removed, backend.Resource{Kind: "container", Name: c.Name})
	}
	for _, n := range obs.Networks {
		if err := b.eng.RemoveNetwork(ctx, n.Name); err != nil && !errors.Is(err, ErrNotFound) {
			errs = append(errs, fmt.Errorf("removing network %s: %w", n.Name, err))
			continue
		}
		removed = append(removed, backend.Resource{Kind: "network", Name: n.Name})
	}
	if volumes {
		var mu sync.Mutex
		var wg sync.WaitGroup
		for _, v := range obs.Volumes {
			wg.Add(1)
			go func() {
				defer wg.Done()
				err := b.eng.RemoveVolume(ctx, v.Name)
				mu.Lock()
				defer mu.Unlock()
				if err != nil && !errors.Is(err, ErrNotFound) {
					errs = append(errs, fmt.Errorf("removing volume %s: %w", v.Name, err))
					return
				}
				removed = append(removed, backend.Resource{Kind: "volume", Name: v.Name})
			}()
		}
		wg.Wait()
	}
	slices.SortFunc(removed, func(a, b backend.Resource) int { return strings.Compare(a.Kind+a.Name, b.Kind+b.Name) })
	return removed, errors.Join(errs...)
}

// Volumes lists the project's volumes on the engine (data and markers).
func (b *Backend) Volumes(ctx context.Context) ([]string, error) {
	obs, err := b.eng.Observe(ctx, b.project())
	if err != nil {
		return nil, err
	}
	var out []string
	for _, v := range obs.Volumes {
		out = append(out, v.Name)
	}
	return out, nil
}

// Record implements backend.Backend: volume labels cannot change, so the
// old marker is replaced.
func (b *Backend) Record(ctx context.Context, bootstrap, sum string) error {
	name := MarkerVolume(b.project(), bootstrap)
	if err := b.eng.RemoveVolume(ctx, name); err != nil && !errors.Is(err, ErrNotFound) {
		return fmt.Errorf("replacing the done-marker of %s: %w", bootstrap, err)
	}
	l := b.spec.Identity.VolumeLabels(markerKey + bootstrap)
	l[MarkerLabel] = sum
	return b.eng.CreateVolume(ctx, VolumeSpec{Name: name, Labels: l})
}

// Logs implements backend.Backend: the node's containers as they are now.
func (b *Backend) Logs(ctx context.Context, node string, opts backend.LogOptions) ([]backend.LogStream, error) {
	obs, err := b.eng.Observe(ctx, b.project())
	if err != nil {
		return nil, err
	}
	var out []backend.LogStream
	for _, c := range obs.Containers {
		if nodeOf(c) != node {
			continue
		}
		rc, err := b.eng.Logs(ctx, c.ID, LogOptions{Follow: opts.Follow, Tail: opts.Tail})
		if err != nil {
			for _, s := range out {
				s.Close()
			}
			return nil, err
		}
		out = append(out, backend.LogStream{Unit: c.Service, Name: c.Name, ReadCloser: rc})
	}
	return out, nil
}

// Usage implements backend.Backend.
func (b *Backend) Usage(ctx context.Context, id string) (uint64, error) { return b.eng.Memory(ctx, id) }

// Watch implements backend.Backend on the engine's event stream: a
// container of the project that dies, unless this backend stopped it, is a
// failure of its node.
func (b *Backend) Watch(ctx context.Context) (<-chan backend.Failure, error) {
	deaths, errc := b.eng.Events(ctx, b.project())
	out := make(chan backend.Failure, 16)
	go func() {
		defer close(out)
		for {
			select {
			case <-ctx.Done():
				return
			case <-errc:
				return
			case d, ok := <-deaths:
				if !ok {
					return
				}
				b.mu.Lock()
				ours := b.stopping[d.ID]
				b.mu.Unlock()
				if ours {
					continue
				}
				f := backend.Failure{Node: d.Node, Unit: d.Name, ExitCode: d.ExitCode, Reason: exitReason(d)}
				select {
				case out <- f:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	return out, nil
}

func exitReason(d Death) string {
	switch {
	case d.OOM:
		return fmt.Sprintf("was killed for running out of memory (OOM, exit code %d)", d.ExitCode)
	case d.ExitCode == 137:
		return "exited with code 137 (killed)"
	case d.ExitCode == 143:
		return "exited with code 143 (terminated)"
	}
	return fmt.Sprintf("exited with code %d", d.ExitCode)
}

var _ backend.Backend = (*Backend)(nil)
