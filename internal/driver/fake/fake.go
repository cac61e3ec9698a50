// Package fake is an in-memory driver.Driver for tests: it keeps containers,
// networks and volumes in maps, records every call, and lets a test hook
// into Start to block, fail or count concurrency.
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

	"github.com/novadev/novadev/internal/driver"
	"github.com/novadev/novadev/internal/state"
)

// Container is a fake container.
type Container struct {
	ID       string
	Workload driver.Workload
	State    string
	Created  time.Time
	Started  time.Time
}

// Driver is the fake. The zero value is not usable; call New.
type Driver struct {
	mu         sync.Mutex
	seq        int
	containers map[string]*Container
	networks   map[string]driver.NetworkSpec
	volumes    map[string]driver.VolumeSpec
	calls      []string

	// Images maps image references to IDs; a missing one is not pulled.
	Images map[string]string
	// Foreign are ports published by containers of other projects.
	Foreign []driver.PortUse
	// Logs are the log lines a container of each service prints.
	LogLines map[string][]string
	// OnStart, when set, runs inside Start (without the lock) with the
	// workload; an error fails the start.
	OnStart func(ctx context.Context, w driver.Workload) error
	// InfoErr, when set, is returned by Info (engine unreachable).
	InfoErr error
	// Now is the clock for Created/Started.
	Now func() time.Time
}

// New returns an empty fake engine that has the given images (ref -> ID).
func New(images map[string]string) *Driver {
	if images == nil {
		images = map[string]string{}
	}
	return &Driver{
		containers: map[string]*Container{},
		networks:   map[string]driver.NetworkSpec{},
		volumes:    map[string]driver.VolumeSpec{},
		Images:     images,
		LogLines:   map[string][]string{},
		Now:        time.Now,
	}
}

func (d *Driver) record(format string, args ...any) {
	d.calls = append(d.calls, fmt.Sprintf(format, args...))
}

// Calls returns every mutating call so far ("create nova-x-1", "start ...").
func (d *Driver) Calls() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.calls)
}

// ResetCalls forgets the recorded calls.
func (d *Driver) ResetCalls() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.calls = nil
}

// Containers returns every container, sorted by name.
func (d *Driver) Containers() []Container {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []Container
	for _, c := range d.containers {
		out = append(out, *c)
	}
	slices.SortFunc(out, func(a, b Container) int { return strings.Compare(a.Workload.Name, b.Workload.Name) })
	return out
}

// SetState forces a container's state (e.g. state.Exited after a crash).
func (d *Driver) SetState(name, st string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, c := range d.containers {
		if c.Workload.Name == name {
			c.State = st
		}
	}
}

// Info implements driver.Driver.
func (d *Driver) Info(context.Context) (driver.Info, error) {
	if d.InfoErr != nil {
		return driver.Info{}, d.InfoErr
	}
	return driver.Info{Name: "fake", ServerVersion: "0", APIVersion: "1.41", OS: "linux", CPUs: 2, MemoryBytes: 8 << 30}, nil
}

// Observe implements driver.Driver.
func (d *Driver) Observe(_ context.Context, project string) (*state.Observed, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	o := &state.Observed{Project: project}
	for _, c := range d.containers {
		l := c.Workload.Labels
		if l[state.LabelProject] != project {
			continue
		}
		sc := state.Container{
			ID: c.ID, Name: c.Workload.Name, Service: l[state.LabelService], Node: l[state.LabelNode],
			Image: c.Workload.Image, State: c.State, ConfigHash: l[state.LabelConfigHash],
			Created: c.Created, Started: c.Started, Labels: maps.Clone(l),
		}
		for _, p := range c.Workload.Ports {
			sc.Ports = append(sc.Ports, state.Port{HostIP: p.HostIP, Host: p.Host, Container: p.Container, Protocol: "tcp"})
		}
		o.Containers = append(o.Containers, sc)
	}
	for _, n := range d.networks {
		if n.Labels[state.LabelProject] == project {
			o.Networks = append(o.Networks, state.Network{ID: n.Name, Name: n.Name, Key: n.Labels[state.LabelNetwork], Labels: n.Labels})
		}
	}
	for _, v := range d.volumes {
		if v.Labels[state.LabelProject] == project {
			o.Volumes = append(o.Volumes, state.Volume{Name: v.Name, Key: v.Labels[state.LabelVolume], Labels: v.Labels})
		}
	}
	o.Sort()
	return o, nil
}

// ImageID implements driver.Driver.
func (d *Driver) ImageID(_ context.Context, ref string) (string, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if id, ok := d.Images[ref]; ok {
		return id, nil
	}
	return "", fmt.Errorf("image %s: %w", ref, driver.ErrNotFound)
}

// PortUses implements driver.Driver.
func (d *Driver) PortUses(context.Context) ([]driver.PortUse, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := slices.Clone(d.Foreign)
	for _, c := range d.containers {
		if c.State != state.Running {
			continue
		}
		for _, p := range c.Workload.Ports {
			out = append(out, driver.PortUse{Port: p.Host, Container: c.Workload.Name, Project: c.Workload.Labels[state.LabelProject]})
		}
	}
	return out, nil
}

// CreateNetwork implements driver.Driver.
func (d *Driver) CreateNetwork(_ context.Context, n driver.NetworkSpec) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.networks[n.Name]; !ok {
		d.networks[n.Name] = n
		d.record("create network %s", n.Name)
	}
	return nil
}

// CreateVolume implements driver.Driver.
func (d *Driver) CreateVolume(_ context.Context, v driver.VolumeSpec) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.volumes[v.Name]; !ok {
		d.volumes[v.Name] = v
		d.record("create volume %s", v.Name)
	}
	return nil
}

// Create implements driver.Driver.
func (d *Driver) Create(_ context.Context, w driver.Workload) (string, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.Images[w.Image]; !ok {
		return "", fmt.Errorf("image %s: %w", w.Image, driver.ErrNotFound)
	}
	for _, c := range d.containers {
		if c.Workload.Name == w.Name {
			return "", fmt.Errorf("container name %s is already in use", w.Name)
		}
	}
	if w.Network != "" {
		if _, ok := d.networks[w.Network]; !ok {
			return "", fmt.Errorf("network %s: %w", w.Network, driver.ErrNotFound)
		}
	}
	d.seq++
	id := "c" + strconv.Itoa(d.seq)
	d.containers[id] = &Container{ID: id, Workload: w, State: state.Created, Created: d.Now()}
	d.record("create %s", w.Name)
	return id, nil
}

// Start implements driver.Driver.
func (d *Driver) Start(ctx context.Context, id string) error {
	d.mu.Lock()
	c, ok := d.containers[id]
	var w driver.Workload
	if ok {
		w = c.Workload
	}
	d.mu.Unlock()
	if !ok {
		return fmt.Errorf("container %s: %w", id, driver.ErrNotFound)
	}
	if d.OnStart != nil {
		if err := d.OnStart(ctx, w); err != nil {
			return err
		}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	c.State = state.Running
	c.Started = d.Now()
	d.record("start %s", w.Name)
	return nil
}

// Stop implements driver.Driver.
func (d *Driver) Stop(_ context.Context, id string, _ time.Duration) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	c, ok := d.containers[id]
	if !ok {
		return fmt.Errorf("container %s: %w", id, driver.ErrNotFound)
	}
	c.State = state.Exited
	d.record("stop %s", c.Workload.Name)
	return nil
}

// Remove implements driver.Driver.
func (d *Driver) Remove(_ context.Context, id string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	c, ok := d.containers[id]
	if !ok {
		return fmt.Errorf("container %s: %w", id, driver.ErrNotFound)
	}
	delete(d.containers, id)
	d.record("remove %s", c.Workload.Name)
	return nil
}

// RemoveNetwork implements driver.Driver.
func (d *Driver) RemoveNetwork(_ context.Context, name string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.networks[name]; !ok {
		return fmt.Errorf("network %s: %w", name, driver.ErrNotFound)
	}
	for _, c := range d.containers {
		if c.Workload.Network == name {
			return fmt.Errorf("network %s has active endpoints", name)
		}
	}
	delete(d.networks, name)
	d.record("remove network %s", name)
	return nil
}

// RemoveVolume implements driver.Driver.
func (d *Driver) RemoveVolume(_ context.Context, name string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.volumes[name]; !ok {
		return fmt.Errorf("volume %s: %w", name, driver.ErrNotFound)
	}
	delete(d.volumes, name)
	d.record("remove volume %s", name)
	return nil
}

// Logs implements driver.Driver: the service's LogLines, ignoring Follow.
func (d *Driver) Logs(_ context.Context, id string, opts driver.LogOptions) (io.ReadCloser, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	c, ok := d.containers[id]
	if !ok {
		return nil, fmt.Errorf("container %s: %w", id, driver.ErrNotFound)
	}
	lines := d.LogLines[c.Workload.Service]
	if opts.Tail > 0 && len(lines) > opts.Tail {
		lines = lines[len(lines)-opts.Tail:]
	}
	var b strings.Builder
	for _, l := range lines {
		b.WriteString(l + "\n")
	}
	return io.NopCloser(strings.NewReader(b.String())), nil
}

// Memory implements driver.Driver: 1 MiB per running container.
func (d *Driver) Memory(_ context.Context, id string) (uint64, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.containers[id]; !ok {
		return 0, fmt.Errorf("container %s: %w", id, driver.ErrNotFound)
	}
	return 1 << 20, nil
}

var _ driver.Driver = (*Driver)(nil)
