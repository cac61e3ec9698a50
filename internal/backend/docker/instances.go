package docker

// Instances on one engine, across projects: the record volumes that say
// which instances exist (state.InstanceRecord), the ports every container
// publishes, and removing everything of one instance (gc).

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/novadev/novadev/internal/state"
)

// RecordLister lists the volumes that carry a label key, across projects.
// Moby and enginefake implement it beside Engine (it is not part of the
// node-level convergence, which stays per project).
type RecordLister interface {
	VolumesWithLabel(ctx context.Context, key string) ([]state.Volume, error)
}

// Instances reads and writes instance records on one engine.
type Instances struct {
	Engine Engine
}

func (in Instances) lister() (RecordLister, error) {
	l, ok := in.Engine.(RecordLister)
	if !ok {
		return nil, fmt.Errorf("engine %T cannot list volumes by label", in.Engine)
	}
	return l, nil
}

// Records returns every instance record on the engine, sorted by project.
// A record volume whose labels do not parse is skipped with an error in
// bad (it is novadev's, but gc never deletes what it cannot read).
func (in Instances) Records(ctx context.Context) (recs []state.InstanceRecord, bad []error, err error) {
	l, err := in.lister()
	if err != nil {
		return nil, nil, err
	}
	vols, err := l.VolumesWithLabel(ctx, state.LabelInstance)
	if err != nil {
		return nil, nil, err
	}
	for _, v := range vols {
		if v.Key != state.InstanceRecordKey || v.Labels[state.LabelManagedBy] != state.ManagedBy {
			continue
		}
		r, err := state.ParseInstanceRecord(v.Labels)
		if err != nil {
			bad = append(bad, fmt.Errorf("volume %s: %w", v.Name, err))
			continue
		}
		recs = append(recs, r)
	}
	slices.SortFunc(recs, func(a, b state.InstanceRecord) int { return strings.Compare(a.Project, b.Project) })
	return recs, bad, nil
}

// UsedPorts lists every host port a running container publishes.
func (in Instances) UsedPorts(ctx context.Context) ([]int, error) {
	uses, err := in.Engine.PortUses(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]int, 0, len(uses))
	for _, u := range uses {
		out = append(out, u.Port)
	}
	return out, nil
}

// Write stores r as the project's record volume, replacing an older one
// (labels are immutable: the volume is removed and created again; it is
// mounted by nothing, so removing it never fails on "in use").
func (in Instances) Write(ctx context.Context, r state.InstanceRecord) error {
	name := state.InstanceRecordVolume(r.Project)
	if err := in.Engine.RemoveVolume(ctx, name); err != nil && !errors.Is(err, ErrNotFound) {
		return fmt.Errorf("replacing the record of instance %s: %w", r.Instance, err)
	}
	return in.Engine.CreateVolume(ctx, VolumeSpec{Name: name, Labels: r.Labels()})
}

// Observe lists what of the project exists.
func (in Instances) Observe(ctx context.Context, project string) (*state.Observed, error) {
	return in.Engine.Observe(ctx, project)
}

// Remove deletes every container, network and volume of the project that
// novadev created (managed-by label), the record volume last, so an
// interrupted removal leaves a record gc finds again.
func (in Instances) Remove(ctx context.Context, project string) error {
	obs, err := in.Engine.Observe(ctx, project)
	if err != nil {
		return err
	}
	ours := func(l map[string]string) bool { return l[state.LabelManagedBy] == state.ManagedBy }
	var errs []error
	for _, c := range obs.Containers {
		if !ours(c.Labels) {
			continue
		}
		if err := in.Engine.Remove(ctx, c.ID); err != nil && !errors.Is(err, ErrNotFound) {
			errs = append(errs, fmt.Errorf("removing container %s: %w", c.Name, err))
		}
	}
	for _, n := range obs.Networks {
		if !ours(n.Labels) {
			continue
		}
		if err := in.Engine.RemoveNetwork(ctx, n.Name); err != nil && !errors.Is(err, ErrNotFound) {
			errs = append(errs, fmt.Errorf("removing network %s: %w", n.Name, err))
		}
	}
	record := state.InstanceRecordVolume(project)
	for _, v := range obs.Volumes {
		if !ours(v.Labels) || v.Name == record {
			continue
		}
		if err := in.Engine.RemoveVolume(ctx, v.Name); err != nil && !errors.Is(err, ErrNotFound) {
			errs = append(errs, fmt.Errorf("removing volume %s: %w", v.Name, err))
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	if err := in.Engine.RemoveVolume(ctx, record); err != nil && !errors.Is(err, ErrNotFound) {
		return fmt.Errorf("removing volume %s: %w", record, err)
	}
	return nil
}
