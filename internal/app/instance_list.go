package app

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/novadev/novadev/internal/cli"
	"github.com/novadev/novadev/internal/state"
)

var _ cli.InstanceService = (*service)(nil)

func (sv *service) instances(ctx context.Context, g *cli.Global) (InstanceStore, error) {
	opener := sv.o.Instances
	if opener == nil {
		opener = openDockerInstances
	}
	return opener(ctx, g.Target)
}

// describe reads what of the instance exists now.
func describe(ctx context.Context, store InstanceStore, r state.InstanceRecord, now time.Time) (cli.Instance, error) {
	in := cli.Instance{Target: r.Target, Env: r.Env, Instance: r.Instance, Project: r.Project, Created: r.Created,
		Age: now.Sub(r.Created).Truncate(time.Second).String(), Expires: r.Expires, Expired: r.Expired(now),
		PortBase: r.PortBase, PortEnd: r.PortEnd(), HostPorts: []int{}}
	obs, err := store.Observe(ctx, r.Project)
	if err != nil {
		return in, err
	}
	running := 0
	for _, c := range obs.Containers {
		if c.State == state.Running {
			running++
		}
		for _, p := range c.Ports {
			in.HostPorts = append(in.HostPorts, p.Host)
		}
	}
	slices.Sort(in.HostPorts)
	in.HostPorts = slices.Compact(in.HostPorts)
	switch {
	case running == 0:
		in.State = "stopped"
	case running == len(obs.Containers):
		in.State = "running"
	default:
		in.State = "partial"
	}
	return in, nil
}

// List implements cli.InstanceService.
func (sv *service) List(ctx context.Context, g *cli.Global) ([]cli.Instance, error) {
	if onCluster(g, false) {
		return sv.listCluster(ctx, g)
	}
	store, err := sv.instances(ctx, g)
	if err != nil {
		return nil, err
	}
	defer store.Close()
	recs, _, err := store.Records(ctx)
	if err != nil {
		return nil, err
	}
	now := sv.now()
	var out []cli.Instance
	for _, r := range recs {
		in, err := describe(ctx, store, r, now)
		if err != nil {
			return nil, err
		}
		out = append(out, in)
	}
	return out, nil
}

// GC implements cli.InstanceService: every instance whose record says it
// has expired goes, whole; the rest are not touched. One failed removal
// does not stop the others (its record stays, so the next gc tries again).
func (sv *service) GC(ctx context.Context, g *cli.Global, o cli.GCOptions) (*cli.GCReport, error) {
	if onCluster(g, o.InCluster) {
		return sv.gcCluster(ctx, g, o)
	}
	store, err := sv.instances(ctx, g)
	if err != nil {
		return nil, err // an engine that is down: docker.UnreachableError says what to do
	}
	defer store.Close()
	// the allocation lock: an up that extends an expired instance does so
	// before gc reads the records or after gc removed it, never between
	lock, err := sv.blockLock(ctx, g, "gc")
	if err != nil {
		return nil, err
	}
	defer lock.Release()
	recs, bad, err := store.Records(ctx)
	if err != nil {
		return nil, err
	}
	rep := &cli.GCReport{DryRun: o.DryRun, Removed: []cli.Instance{}, Kept: []cli.Instance{}}
	for _, b := range bad {
		rep.Unreadable = append(rep.Unreadable, b.Error())
	}
	now := sv.now()
	var errs []error
	for _, r := range recs {
		in, err := describe(ctx, store, r, now)
		if err != nil {
			return rep, err
		}
		if !in.Expired {
			rep.Kept = append(rep.Kept, in)
			continue
		}
		if !o.DryRun {
			if err := store.Remove(ctx, r.Project); err != nil {
				errs = append(errs, fmt.Errorf("instance %s: %w", r.Project, err))
				continue
			}
		}
		rep.Removed = append(rep.Removed, in)
	}
	return rep, errors.Join(errs...)
}
