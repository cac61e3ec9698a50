package docker

// Moby is the Engine for a Docker Engine, on the Engine's Go SDK
// (github.com/moby/moby/client) with API version negotiation, so it works
// with Debian bookworm's docker.io 20.10 (API 1.41) and with current Docker
// Desktop alike.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"

	"github.com/novadev/novadev/internal/state"
)

// Moby talks to one Docker Engine.
type Moby struct {
	c *client.Client
}

// Connect connects to the engine named by the environment (DOCKER_HOST, ...)
// and negotiates the API version. An unreachable engine is an error that
// says what to do.
func Connect(ctx context.Context) (*Moby, error) {
	c, err := client.New(client.FromEnv)
	if err != nil {
		return nil, fmt.Errorf("docker: %w", err)
	}
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := c.Ping(pctx, client.PingOptions{NegotiateAPIVersion: true}); err != nil {
		c.Close()
		return nil, &UnreachableError{Err: err}
	}
	return &Moby{c: c}, nil
}

// UnreachableError says no Docker engine answered.
type UnreachableError struct{ Err error }

func (e *UnreachableError) Error() string {
	return fmt.Sprintf("no Docker engine reachable (%v): start Docker (Docker Desktop, or `dockerd` / `systemctl start docker`; `scripts/install-docker.sh` installs Debian's docker.io), or set DOCKER_HOST", e.Err)
}

func (e *UnreachableError) Unwrap() error { return e.Err }

// Close releases the client.
func (d *Moby) Close() error { return d.c.Close() }

// Client is the underlying SDK client, for tests that build images.
func (d *Moby) Client() *client.Client { return d.c }

func notFound(err error, what string) error {
	if cerrdefs.IsNotFound(err) {
		return fmt.Errorf("%s: %w", what, ErrNotFound)
	}
	return err
}

// Info implements Engine.
func (d *Moby) Info(ctx context.Context) (Info, error) {
	if _, err := d.c.Ping(ctx, client.PingOptions{NegotiateAPIVersion: true}); err != nil {
		return Info{}, &UnreachableError{Err: err}
	}
	r, err := d.c.Info(ctx, client.InfoOptions{})
	if err != nil {
		return Info{}, err
	}
	return Info{
		Name: "docker", ServerVersion: r.Info.ServerVersion, APIVersion: d.c.ClientVersion(),
		OS: r.Info.OperatingSystem, CPUs: r.Info.NCPU, MemoryBytes: r.Info.MemTotal,
	}, nil
}

func projectFilter(project string) client.Filters {
	return make(client.Filters).Add("label", state.LabelProject+"="+project)
}

// Observe implements Engine.
func (d *Moby) Observe(ctx context.Context, project string) (*state.Observed, error) {
	o := &state.Observed{Project: project}
	cl, err := d.c.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: projectFilter(project)})
	if err != nil {
		return nil, fmt.Errorf("listing containers: %w", err)
	}
	o.Containers = make([]state.Container, len(cl.Items))
	var wg sync.WaitGroup
	for i, s := range cl.Items {
		c := state.Container{
			ID: s.ID, Service: s.Labels[state.LabelService], Node: s.Labels[state.LabelNode],
			Image: s.Image, State: string(s.State), ConfigHash: s.Labels[state.LabelConfigHash],
			Created: time.Unix(s.Created, 0), Labels: s.Labels,
		}
		if len(s.Names) > 0 {
			c.Name = strings.TrimPrefix(s.Names[0], "/")
		}
		for _, p := range s.Ports {
			if p.PublicPort == 0 {
				continue
			}
			hip := ""
			if p.IP.IsValid() {
				hip = p.IP.String()
			}
			c.Ports = append(c.Ports, state.Port{HostIP: hip, Host: int(p.PublicPort), Container: int(p.PrivatePort), Protocol: p.Type})
		}
		o.Containers[i] = c
		if c.State == state.Running {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if r, err := d.c.ContainerInspect(ctx, s.ID, client.ContainerInspectOptions{}); err == nil && r.Container.State != nil {
					if t, err := time.Parse(time.RFC3339Nano, r.Container.State.StartedAt); err == nil {
						o.Containers[i].Started = t
					}
				}
			}()
		}
	}
	wg.Wait()
	nl, err := d.c.NetworkList(ctx, client.NetworkListOptions{Filters: projectFilter(project)})
	if err != nil {
		return nil, fmt.Errorf("listing networks: %w", err)
	}
	for _, n := range nl.Items {
		o.Networks = append(o.Networks, state.Network{ID: n.ID, Name: n.Name, Key: n.Labels[state.LabelNetwork], Labels: n.Labels})
	}
	vl, err := d.c.VolumeList(ctx, client.VolumeListOptions{Filters: projectFilter(project)})
	if err != nil {
		return nil, fmt.Errorf("listing volumes: %w", err)
	}
	for _, v := range vl.Items {
		o.Volumes = append(o.Volumes, state.Volume{Name: v.Name, Key: v.Labels[state.LabelVolume], Labels: v.Labels})
	}
	o.Sort()
	return o, nil
}

// ImageID implements Engine.
func (d *Moby) ImageID(ctx context.Context, ref string) (string, error) {
	r, err := d.c.ImageInspect(ctx, ref)
	if err != nil {
		return "", notFound(err, "image "+ref)
	}
	return r.ID, nil
}

// PortUses implements Engine.
func (d *Moby) PortUses(ctx context.Context) ([]PortUse, error) {
	cl, err := d.c.ContainerList(ctx, client.ContainerListOptions{})
	if err != nil {
		return nil, err
	}
	var out []PortUse
	for _, s := range cl.Items {
		name := ""
		if len(s.Names) > 0 {
			name = strings.TrimPrefix(s.Names[0], "/")
		}
		for _, p := range s.Ports {
			if p.PublicPort != 0 {
				out = append(out, PortUse{Port: int(p.PublicPort), Container: name, Project: s.Labels[state.LabelProject]})
			}
		}
	}
	return out, nil
}

// CreateNetwork implements Engine.
// Engines before API 1.44 accept duplicate network names, so it looks first.
func (d *Moby) CreateNetwork(ctx context.Context, n NetworkSpec) error {
	nl, err := d.c.NetworkList(ctx, client.NetworkListOptions{Filters: make(client.Filters).Add("name", n.Name)})
	if err != nil {
		return fmt.Errorf("listing networks: %w", err)
	}
	for _, have := range nl.Items {
		if have.Name == n.Name { // the name filter matches substrings
			return nil
		}
	}
	_, err = d.c.NetworkCreate(ctx, n.Name, client.NetworkCreateOptions{Driver: "bridge", Labels: n.Labels})
	if err != nil && !cerrdefs.IsConflict(err) && !strings.Contains(err.Error(), "already exists") {
		return fmt.Errorf("creating network %s: %w", n.Name, err)
	}
	return nil
}

// CreateVolume implements Engine.
func (d *Moby) CreateVolume(ctx context.Context, v VolumeSpec) error {
	if _, err := d.c.VolumeCreate(ctx, client.VolumeCreateOptions{Name: v.Name, Labels: v.Labels}); err != nil {
		return fmt.Errorf("creating volume %s: %w", v.Name, err)
	}
	return nil
}

// Create implements Engine.
func (d *Moby) Create(ctx context.Context, w Workload) (string, error) {
	cfg := &container.Config{
		Image: w.Image, Env: w.Env, Cmd: w.Command, Entrypoint: w.Entrypoint, Labels: w.Labels,
		Hostname: w.Hostname, User: w.User, WorkingDir: w.WorkingDir, StopSignal: w.StopSignal,
		ExposedPorts: network.PortSet{},
	}
	if w.StopTimeout > 0 {
		s := int(w.StopTimeout / time.Second)
		cfg.StopTimeout = &s
	}
	hc := &container.HostConfig{
		PortBindings: network.PortMap{},
		NetworkMode:  container.NetworkMode(w.Network),
		Resources:    container.Resources{Memory: w.MemoryLimit, NanoCPUs: w.NanoCPUs},
	}
	if w.Restart != "" {
		hc.RestartPolicy = container.RestartPolicy{Name: container.RestartPolicyMode(w.Restart)}
	}
	for _, p := range w.Ports {
		proto := network.IPProtocol(p.Protocol)
		if proto == "" {
			proto = network.TCP
		}
		port, ok := network.PortFrom(uint16(p.Container), proto)
		if !ok {
			return "", fmt.Errorf("container %s: bad port %d/%s", w.Name, p.Container, proto)
		}
		cfg.ExposedPorts[port] = struct{}{}
		b := network.PortBinding{HostPort: strconv.Itoa(p.Host)}
		if p.HostIP != "" {
			ip, err := netip.ParseAddr(p.HostIP)
			if err != nil {
				return "", fmt.Errorf("container %s: host IP %q: %w", w.Name, p.HostIP, err)
			}
			b.HostIP = ip
		}
		hc.PortBindings[port] = append(hc.PortBindings[port], b)
	}
	for _, m := range w.Mounts {
		hc.Mounts = append(hc.Mounts, mount.Mount{Type: mount.Type(m.Type), Source: m.Source, Target: m.Target, ReadOnly: m.ReadOnly})
	}
	var nc *network.NetworkingConfig
	if w.Network != "" {
		nc = &network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{
			w.Network: {Aliases: w.Aliases},
		}}
	}
	r, err := d.c.ContainerCreate(ctx, client.ContainerCreateOptions{Name: w.Name, Config: cfg, HostConfig: hc, NetworkingConfig: nc})
	if err != nil {
		return "", notFound(err, "creating container "+w.Name)
	}
	return r.ID, nil
}

// Start implements Engine.
func (d *Moby) Start(ctx context.Context, id string) error {
	_, err := d.c.ContainerStart(ctx, id, client.ContainerStartOptions{})
	return notFound(err, "container "+id)
}

// Stop implements Engine.
func (d *Moby) Stop(ctx context.Context, id string, timeout time.Duration) error {
	var opts client.ContainerStopOptions
	if timeout > 0 {
		s := int(timeout / time.Second)
		opts.Timeout = &s
	}
	_, err := d.c.ContainerStop(ctx, id, opts)
	return notFound(err, "container "+id)
}

// Remove implements Engine.
func (d *Moby) Remove(ctx context.Context, id string) error {
	_, err := d.c.ContainerRemove(ctx, id, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
	return notFound(err, "container "+id)
}

// RemoveNetwork implements Engine.
func (d *Moby) RemoveNetwork(ctx context.Context, name string) error {
	_, err := d.c.NetworkRemove(ctx, name, client.NetworkRemoveOptions{})
	return notFound(err, "network "+name)
}

// RemoveVolume implements Engine.
func (d *Moby) RemoveVolume(ctx context.Context, name string) error {
	_, err := d.c.VolumeRemove(ctx, name, client.VolumeRemoveOptions{Force: true})
	return notFound(err, "volume "+name)
}

// Logs implements Engine: stdout and stderr demultiplexed into one
// stream of lines.
func (d *Moby) Logs(ctx context.Context, id string, opts LogOptions) (io.ReadCloser, error) {
	insp, err := d.c.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
	if err != nil {
		return nil, notFound(err, "container "+id)
	}
	lo := client.ContainerLogsOptions{ShowStdout: true, ShowStderr: true, Follow: opts.Follow}
	if opts.Tail > 0 {
		lo.Tail = strconv.Itoa(opts.Tail)
	}
	rc, err := d.c.ContainerLogs(ctx, id, lo)
	if err != nil {
		return nil, notFound(err, "container "+id)
	}
	if insp.Container.Config != nil && insp.Container.Config.Tty {
		return rc, nil
	}
	pr, pw := io.Pipe()
	go func() {
		_, err := stdcopy.StdCopy(pw, pw, rc)
		rc.Close()
		pw.CloseWithError(err)
	}()
	return pr, nil
}

// Memory implements Engine: usage minus page cache, as `docker
// stats` shows it.
func (d *Moby) Memory(ctx context.Context, id string) (uint64, error) {
	r, err := d.c.ContainerStats(ctx, id, client.ContainerStatsOptions{Stream: false})
	if err != nil {
		return 0, notFound(err, "container "+id)
	}
	defer r.Body.Close()
	var s container.StatsResponse
	if err := json.NewDecoder(r.Body).Decode(&s); err != nil {
		return 0, fmt.Errorf("stats of %s: %w", id, err)
	}
	m := s.MemoryStats
	used := m.Usage
	for _, k := range []string{"total_inactive_file", "inactive_file", "cache"} {
		if v, ok := m.Stats[k]; ok && v < used {
			used -= v
			break
		}
	}
	return used, nil
}

// IsUnreachable reports whether err says no engine answered.
func IsUnreachable(err error) bool {
	var u *UnreachableError
	return errors.As(err, &u)
}

var _ Engine = (*Moby)(nil)

// Events implements Engine: the engine's event stream filtered to the
// project's containers. An "oom" event precedes its "die"; the die carries
// the exit code.
func (d *Moby) Events(ctx context.Context, project string) (<-chan Death, <-chan error) {
	f := projectFilter(project).Add("type", "container").Add("event", "die").Add("event", "oom")
	r := d.c.Events(ctx, client.EventsListOptions{Filters: f})
	out := make(chan Death)
	errc := make(chan error, 1)
	go func() {
		defer close(out)
		oom := map[string]bool{}
		for {
			select {
			case <-ctx.Done():
				return
			case err, ok := <-r.Err:
				if ok && err != nil && ctx.Err() == nil {
					errc <- err
				}
				return
			case m, ok := <-r.Messages:
				if !ok {
					return
				}
				if m.Action == "oom" {
					oom[m.Actor.ID] = true
					continue
				}
				code, _ := strconv.Atoi(m.Actor.Attributes["exitCode"])
				dd := Death{ID: m.Actor.ID, Name: m.Actor.Attributes["name"], Node: m.Actor.Attributes[state.LabelNode], ExitCode: code, OOM: oom[m.Actor.ID]}
				delete(oom, m.Actor.ID)
				select {
				case out <- dd:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	return out, errc
}

// VolumesWithLabel implements RecordLister: every volume carrying key.
func (d *Moby) VolumesWithLabel(ctx context.Context, key string) ([]state.Volume, error) {
	vl, err := d.c.VolumeList(ctx, client.VolumeListOptions{Filters: make(client.Filters).Add("label", key)})
	if err != nil {
		return nil, fmt.Errorf("listing volumes: %w", err)
	}
	var out []state.Volume
	for _, v := range vl.Items {
		out = append(out, state.Volume{Name: v.Name, Key: v.Labels[state.LabelVolume], Labels: v.Labels})
	}
	return out, nil
}

// Pause implements VolumeCopier.
func (d *Moby) Pause(ctx context.Context, id string) error {
	_, err := d.c.ContainerPause(ctx, id, client.ContainerPauseOptions{})
	return notFound(err, "pausing container "+id)
}

// Unpause implements VolumeCopier.
func (d *Moby) Unpause(ctx context.Context, id string) error {
	_, err := d.c.ContainerUnpause(ctx, id, client.ContainerUnpauseOptions{})
	return notFound(err, "unpausing container "+id)
}

// copyScript copies /from<i> into /to<i> for every i at once (cp -a:
// owners, modes, times, links), then prints the bytes each /to<i> holds,
// one line each.
func copyScript(n int) string {
	var b strings.Builder
	b.WriteString("set -e; pids=;")
	for i := range n {
		fmt.Fprintf(&b, " cp -a /from%d/. /to%d/ & pids=\"$pids $!\";", i, i)
	}
	b.WriteString(" for p in $pids; do wait $p || exit 1; done;")
	for i := range n {
		fmt.Fprintf(&b, " du -sb /to%d | cut -f1;", i)
	}
	return b.String()
}

// CopyVolumes implements VolumeCopier with one throwaway container (no
// network, root so that every owner is kept) that mounts each From
// read-only.
func (d *Moby) CopyVolumes(ctx context.Context, image string, pairs []VolumePair) ([]int64, error) {
	if len(pairs) == 0 {
		return nil, nil
	}
	cfg := &container.Config{Image: image, User: "0:0", Entrypoint: []string{"/bin/sh", "-c", copyScript(len(pairs))},
		Labels: map[string]string{state.LabelManagedBy: state.ManagedBy}}
	hc := &container.HostConfig{NetworkMode: "none"}
	for i, p := range pairs {
		hc.Mounts = append(hc.Mounts,
			mount.Mount{Type: mount.TypeVolume, Source: p.From, Target: "/from" + strconv.Itoa(i), ReadOnly: true},
			mount.Mount{Type: mount.TypeVolume, Source: p.To, Target: "/to" + strconv.Itoa(i)})
	}
	r, err := d.c.ContainerCreate(ctx, client.ContainerCreateOptions{Config: cfg, HostConfig: hc})
	if err != nil {
		return nil, notFound(err, "creating the copy container")
	}
	defer func() {
		rctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		d.c.ContainerRemove(rctx, r.ID, client.ContainerRemoveOptions{Force: true})
	}()
	wait := d.c.ContainerWait(ctx, r.ID, client.ContainerWaitOptions{Condition: container.WaitConditionNextExit})
	if _, err := d.c.ContainerStart(ctx, r.ID, client.ContainerStartOptions{}); err != nil {
		return nil, notFound(err, "starting the copy container")
	}
	var code int64
	select {
	case res := <-wait.Result:
		code = res.StatusCode
	case err := <-wait.Error:
		return nil, fmt.Errorf("waiting for the copy container: %w", err)
	}
	rc, err := d.Logs(ctx, r.ID, LogOptions{})
	if err != nil {
		return nil, err
	}
	out, _ := io.ReadAll(rc)
	rc.Close()
	text := strings.TrimSpace(string(out))
	if code != 0 {
		return nil, fmt.Errorf("copy exited with code %d: %s", code, text)
	}
	lines := strings.Split(text, "\n")
	if len(lines) < len(pairs) {
		return nil, fmt.Errorf("copy: want %d sizes, got %q", len(pairs), text)
	}
	var sizes []int64
	for _, l := range lines[len(lines)-len(pairs):] {
		n, err := strconv.ParseInt(strings.TrimSpace(l), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("copy: size %q: %w", l, err)
		}
		sizes = append(sizes, n)
	}
	return sizes, nil
}

var _ VolumeCopier = (*Moby)(nil)
