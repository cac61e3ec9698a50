// Package enginefake is an in-memory docker.Engine for tests: it keeps containers,
// networks and volumes in maps, records every call, and lets a test hook
// into Start to block, fail or count concurrency.
package enginefake

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

	"github.com/novadev/novadev/internal/backend/docker"
	"github.com/novadev/novadev/internal/state"
)

// Container is a fake container.
type Container struct {
	ID       string
	Workload docker.Workload
	State    string
	Created  time.Time
	Started  time.Time
}

// Driver is the fake. The zero value is not usable; call New.
type Driver struct {
	mu         sync.Mutex
	seq        int
	containers map[string]*Container
	networks   map[string]docker.NetworkSpec
	volumes    map[string]docker.VolumeSpec
	data       map[string]string // volume -> its content (CopyVolume copies it)
	calls      []string

	// Images maps image references to IDs; a missing one is not pulled.
	Images map[string]string
	// Foreign are ports published by containers of other projects.
	Foreign []docker.PortUse
	// Logs are the log lines a container of each service prints.
	LogLines map[string][]string
	// OnStart, when set, runs inside Start (without the lock) with the
	// workload; an error fails the start.
	OnStart func(ctx context.Context, w docker.Workload) error
	// InfoErr, when set, is returned by Info (engine unreachable).
	InfoErr error
	// Now is the clock for Created/Started.
	Now func() time.Time

	subs []chan docker.Death
}

// New returns an empty fake engine that has the given images (ref -> ID).
func New(images map[string]string) *Driver {
	if images == nil {
		images = map[string]string{}
	}
	return &Driver{
		containers: map[string]*Container{},
		networks:   map[string]docker.NetworkSpec{},
		volumes:    map[string]docker.VolumeSpec{},
		data:       map[string]string{},
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

// Kill makes a running container die with exitCode, as if it crashed or
// someone killed it, and tells every Events subscriber.
func (d *Driver) Kill(name string, exitCode int, oom bool) {
	d.mu.Lock()
	var death *docker.Death
	for _, c := range d.containers {
		if c.Workload.Name == name {
			c.State = state.Exited
			death = &docker.Death{ID: c.ID, Name: name, Node: c.Workload.Labels[state.LabelNode], ExitCode: exitCode, OOM: oom}
		}
	}
	subs := slices.Clone(d.subs)
	d.mu.Unlock()
	if death == nil {
		return
	}
	for _, ch := range subs {
		ch <- *death
	}
}

// Events implements docker.Engine: deaths from Kill and Stop.
func (d *Driver) Events(ctx context.Context, _ string) (<-chan docker.Death, <-chan error) {
	ch := make(chan docker.Death, 64)
	d.mu.Lock()
	d.subs = append(d.subs, ch)
	d.mu.Unlock()
	go func() {
		<-ctx.Done()
		d.mu.Lock()
		d.subs = slices.DeleteFunc(d.subs, func(c chan docker.Death) bool { return c == ch })
		d.mu.Unlock()
	}()
	return ch, make(chan error)
}

// Info implements docker.Engine.
func (d *Driver) Info(context.Context) (docker.Info, error) {
	if d.InfoErr != nil {
		return docker.Info{}, d.InfoErr
	}
	return docker.Info{Name: "fake", ServerVersion: "0", APIVersion: "1.41", OS: "linux", CPUs: 2, MemoryBytes: 8 << 30}, nil
}

// Observe implements docker.Engine.
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

// ImageID implements docker.Engine.
func (d *Driver) ImageID(_ context.Context, ref string) (string, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if id, ok := d.Images[ref]; ok {
		return id, nil
	}
	return "", fmt.Errorf("image %s: %w", ref, docker.ErrNotFound)
}

// PortUses implements docker.Engine.
func (d *Driver) PortUses(context.Context) ([]docker.PortUse, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := slices.Clone(d.Foreign)
	for _, c := range d.containers {
		if c.State != state.Running {
			continue
		}
		for _, p := range c.Workload.Ports {
			out = append(out, docker.PortUse{Port: p.Host, Container: c.Workload.Name, Project: c.Workload.Labels[state.LabelProject]})
		}
	}
	return out, nil
}

// CreateNetwork implements docker.Engine.
func (d *Driver) CreateNetwork(_ context.Context, n docker.NetworkSpec) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.networks[n.Name]; !ok {
		d.networks[n.Name] = n
		d.record("create network %s", n.Name)
	}
	return nil
}

// CreateVolume implements docker.Engine.
func (d *Driver) CreateVolume(_ context.Context, v docker.VolumeSpec) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.volumes[v.Name]; !ok {
		d.volumes[v.Name] = v
		d.record("create volume %s", v.Name)
	}
	return nil
}

// Create implements docker.Engine.
func (d *Driver) Create(_ context.Context, w docker.Workload) (string, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.Images[w.Image]; !ok {
		return "", fmt.Errorf("image %s: %w", w.Image, docker.ErrNotFound)
	}
	for _, c := range d.containers {
		if c.Workload.Name == w.Name {
			return "", fmt.Errorf("container name %s is already in use", w.Name)
		}
	}
	if w.Network != "" {
		if _, ok := d.networks[w.Network]; !ok {
			return "", fmt.Errorf("network %s: %w", w.Network, docker.ErrNotFound)
		}
	}
	d.seq++
	id := "c" + strconv.Itoa(d.seq)
	d.containers[id] = &Container{ID: id, Workload: w, State: state.Created, Created: d.Now()}
	d.record("create %s", w.Name)
	return id, nil
}

// Start implements docker.Engine.
func (d *Driver) Start(ctx context.Context, id string) error {
	d.mu.Lock()
	c, ok := d.containers[id]
	var w docker.Workload
	if ok {
		w = c.Workload
	}
	d.mu.Unlock()
	if !ok {
		return fmt.Errorf("container %s: %w", id, docker.ErrNotFound)
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

// Stop implements docker.Engine.
func (d *Driver) Stop(_ context.Context, id string, _ time.Duration) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	c, ok := d.containers[id]
	if !ok {
		return fmt.Errorf("container %s: %w", id, docker.ErrNotFound)
	}
	c.State = state.Exited
	d.record("stop %s", c.Workload.Name)
	for _, ch := range d.subs {
		select {
		case ch <- docker.Death{ID: c.ID, Name: c.Workload.Name, Node: c.Workload.Labels[state.LabelNode]}:
		default:
		}
	}
	return nil
}

// Remove implements docker.Engine.
func (d *Driver) Remove(_ context.Context, id string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	c, ok := d.containers[id]
	if !ok {
		return fmt.Errorf("container %s: %w", id, docker.ErrNotFound)
	}
	delete(d.containers, id)
	d.record("remove %s", c.Workload.Name)
	return nil
}

// RemoveNetwork implements docker.Engine.
func (d *Driver) RemoveNetwork(_ context.Context, name string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.networks[name]; !ok {
		return fmt.Errorf("network %s: %w", name, docker.ErrNotFound)
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

// RemoveVolume implements docker.Engine.
func (d *Driver) RemoveVolume(_ context.Context, name string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.volumes[name]; !ok {
		return fmt.Errorf("volume %s: %w", name, docker.ErrNotFound)
	}
	delete(d.volumes, name)
	delete(d.data, name)
	d.record("remove volume %s", name)
	return nil
}

// Logs implements docker.Engine: the service's LogLines, ignoring Follow.
func (d *Driver) Logs(_ context.Context, id string, opts docker.LogOptions) (io.ReadCloser, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	c, ok := d.containers[id]
	if !ok {
		return nil, fmt.Errorf("container %s: %w", id, docker.ErrNotFound)
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

// Memory implements docker.Engine: 1 MiB per running container.
func (d *Driver) Memory(_ context.Context, id string) (uint64, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.containers[id]; !ok {
		return 0, fmt.Errorf("container %s: %w", id, docker.ErrNotFound)
	}
	return 1 << 20, nil
}

var _ docker.Engine = (*Driver)(nil)

// VolumesWithLabel implements docker.RecordLister.
func (d *Driver) VolumesWithLabel(_ context.Context, key string) ([]state.Volume, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []state.Volume
	for _, v := range d.volumes {
		if _, ok := v.Labels[key]; ok {
			out = append(out, state.Volume{Name: v.Name, Key: v.Labels[state.LabelVolume], Labels: maps.Clone(v.Labels)})
		}
	}
	slices.SortFunc(out, func(a, b state.Volume) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// SetVolumeData gives a volume content (a string standing for its files),
// which CopyVolume copies; the volume must exist.
func (d *Driver) SetVolumeData(name, data string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.data[name] = data
}

// VolumeData returns a volume's content.
func (d *Driver) VolumeData(name string) string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.data[name]
}

// Pause implements docker.VolumeCopier: the container's state becomes
// "paused".
func (d *Driver) Pause(_ context.Context, id string) error { return d.setPaused(id, true) }

// Unpause implements docker.VolumeCopier.
func (d *Driver) Unpause(_ context.Context, id string) error { return d.setPaused(id, false) }

func (d *Driver) setPaused(id string, paused bool) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	c, ok := d.containers[id]
	if !ok {
		return fmt.Errorf("container %s: %w", id, docker.ErrNotFound)
	}
	if paused {
		c.State = "paused"
		d.record("pause %s", c.Workload.Name)
	} else {
		c.State = state.Running
		d.record("unpause %s", c.Workload.Name)
	}
	return nil
}

// CopyVolumes implements docker.VolumeCopier: each To gets its From's
// content; a size is the content's length.
func (d *Driver) CopyVolumes(_ context.Context, image string, pairs []docker.VolumePair) ([]int64, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.Images[image]; !ok {
		return nil, fmt.Errorf("image %s: %w", image, docker.ErrNotFound)
	}
	var sizes []int64
	for _, p := range pairs {
		for _, v := range []string{p.From, p.To} {
			if _, ok := d.volumes[v]; !ok {
				return nil, fmt.Errorf("volume %s: %w", v, docker.ErrNotFound)
			}
		}
		d.data[p.To] = d.data[p.From]
		d.record("copy volume %s to %s", p.From, p.To)
		sizes = append(sizes, int64(len(d.data[p.From])))
	}
	return sizes, nil
}

var _ docker.VolumeCopier = (*Driver)(nil)
