package docker

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/compose-spec/compose-go/v2/template"
	"github.com/compose-spec/compose-go/v2/types"

	"github.com/novadev/novadev/internal/state"
)

// Spec is what should run: the project's networks, volumes and containers,
// the containers grouped by catalog graph node.
type Spec struct {
	Identity state.Identity
	Networks []NetworkSpec
	Volumes  []VolumeSpec
	// Nodes maps a graph node to its containers (a Redis Cluster store has
	// one per cluster node), each sorted by name.
	Nodes map[string][]Workload
}

// Workloads returns every workload, sorted by container name.
func (s *Spec) Workloads() []Workload {
	var out []Workload
	for _, ws := range s.Nodes {
		out = append(out, ws...)
	}
	slices.SortFunc(out, func(a, b Workload) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// Service returns the workload of a compose service.
func (s *Spec) Service(name string) (Workload, bool) {
	for _, ws := range s.Nodes {
		for _, w := range ws {
			if w.Service == name {
				return w, true
			}
		}
	}
	return Workload{}, false
}

// FromCompose turns a compose project (internal/render/compose's Project,
// the same project `docker compose` runs) into containers for the
// Bootstrap services (label dev.novadev.kind=bootstrap) are left out: the
// supervisor runs bootstraps in-process. ${VAR} references are filled from
// lookup, the way docker compose fills them from compose/.env; a missing
// required variable is an error naming it. Health checks are left out:
// the supervisor probes readiness itself and Docker's exec checks would
// cost CPU all the time.
func FromCompose(p *types.Project, id state.Identity, lookup func(string) (string, bool)) (*Spec, error) {
	if id.Project == "" {
		id.Project = p.Name
	}
	if id.WorkingDir == "" {
		id.WorkingDir = p.WorkingDir
	}
	sub := func(v string) (string, error) {
		return template.Substitute(v, template.Mapping(lookup))
	}
	spec := &Spec{Identity: id, Nodes: map[string][]Workload{}}
	netName := func(key string) string {
		if n, ok := p.Networks[key]; ok && n.Name != "" {
			return n.Name
		}
		return id.Project + "_" + key
	}
	volName := func(key string) string {
		if v, ok := p.Volumes[key]; ok && v.Name != "" {
			return v.Name
		}
		return id.Project + "_" + key
	}
	for _, key := range slices.Sorted(maps.Keys(p.Networks)) {
		n := p.Networks[key]
		if bool(n.External) {
			continue
		}
		l := id.NetworkLabels(key)
		maps.Copy(l, n.Labels)
		spec.Networks = append(spec.Networks, NetworkSpec{Name: netName(key), Labels: l})
	}
	for _, key := range slices.Sorted(maps.Keys(p.Volumes)) {
		v := p.Volumes[key]
		if bool(v.External) {
			continue
		}
		l := id.VolumeLabels(key)
		maps.Copy(l, v.Labels)
		spec.Volumes = append(spec.Volumes, VolumeSpec{Name: volName(key), Labels: l})
	}
	for _, name := range slices.Sorted(maps.Keys(p.Services)) {
		s := p.Services[name]
		if s.Labels[state.LabelKind] == "bootstrap" {
			continue
		}
		node := s.Labels[state.LabelNode]
		if node == "" {
			node = name
		}
		w := Workload{
			Name: s.ContainerName, Service: name, Node: node,
			Hostname: s.Hostname, User: s.User, WorkingDir: s.WorkingDir,
			StopSignal: s.StopSignal, Restart: s.Restart,
		}
		if w.Name == "" {
			w.Name = state.ContainerName(id.Project, name)
		}
		var err error
		if w.Image, err = sub(s.Image); err != nil {
			return nil, fmt.Errorf("service %s: image: %w", name, err)
		}
		if s.Entrypoint != nil {
			if w.Entrypoint, err = subAll(sub, s.Entrypoint); err != nil {
				return nil, fmt.Errorf("service %s: entrypoint: %w", name, err)
			}
		}
		if s.Command != nil {
			if w.Command, err = subAll(sub, s.Command); err != nil {
				return nil, fmt.Errorf("service %s: command: %w", name, err)
			}
		}
		for _, k := range slices.Sorted(maps.Keys(s.Environment)) {
			v := s.Environment[k]
			if v == nil {
				if lv, ok := lookup(k); ok {
					w.Env = append(w.Env, k+"="+lv)
				}
				continue
			}
			val, err := sub(*v)
			if err != nil {
				return nil, fmt.Errorf("service %s: environment %s: %w", name, k, err)
			}
			w.Env = append(w.Env, k+"="+val)
		}
		for _, pt := range s.Ports {
			if pt.Published == "" {
				continue
			}
			host, err := strconv.Atoi(pt.Published)
			if err != nil {
				return nil, fmt.Errorf("service %s: published port %q: want one number", name, pt.Published)
			}
			w.Ports = append(w.Ports, PortMapping{HostIP: pt.HostIP, Host: host, Container: int(pt.Target), Protocol: pt.Protocol})
		}
		for _, v := range s.Volumes {
			m := Mount{Type: v.Type, Source: v.Source, Target: v.Target, ReadOnly: v.ReadOnly}
			if v.Type == types.VolumeTypeVolume && v.Source != "" {
				m.Source = volName(v.Source)
			}
			w.Mounts = append(w.Mounts, m)
		}
		for _, t := range s.Tmpfs {
			w.Mounts = append(w.Mounts, Mount{Type: "tmpfs", Target: t})
		}
		netKeys := slices.Sorted(maps.Keys(s.Networks))
		if len(netKeys) == 0 {
			netKeys = []string{"default"}
		}
		w.Network = netName(netKeys[0])
		w.Aliases = []string{name}
		if nc := s.Networks[netKeys[0]]; nc != nil {
			w.Aliases = append(w.Aliases, nc.Aliases...)
		}
		if s.StopGracePeriod != nil {
			w.StopTimeout = time.Duration(*s.StopGracePeriod)
		}
		w.MemoryLimit = int64(s.MemLimit)
		if s.Deploy != nil && s.Deploy.Resources.Limits != nil {
			if m := s.Deploy.Resources.Limits.MemoryBytes; m > 0 {
				w.MemoryLimit = int64(m)
			}
			w.NanoCPUs = int64(float64(s.Deploy.Resources.Limits.NanoCPUs) * 1e9)
		}
		if w.NanoCPUs == 0 && s.CPUS > 0 {
			w.NanoCPUs = int64(float64(s.CPUS) * 1e9)
		}
		w.Labels = id.Labels(name, node)
		maps.Copy(w.Labels, s.Labels)
		w.Labels[state.LabelProject] = id.Project
		w.Labels[state.LabelService] = name
		spec.Nodes[node] = append(spec.Nodes[node], w)
	}
	for _, ws := range spec.Nodes {
		sort.Slice(ws, func(i, j int) bool { return ws[i].Name < ws[j].Name })
	}
	return spec, nil
}

func subAll(sub func(string) (string, error), in []string) ([]string, error) {
	out := make([]string, len(in))
	for i, v := range in {
		var err error
		if out[i], err = sub(v); err != nil {
			return nil, err
		}
	}
	return out, nil
}
