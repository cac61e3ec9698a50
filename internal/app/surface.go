package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"slices"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/client"

	"github.com/novadev/novadev/internal/backend"
	"github.com/novadev/novadev/internal/backend/docker"
	"github.com/novadev/novadev/internal/catalog"
	"github.com/novadev/novadev/internal/cli"
	"github.com/novadev/novadev/internal/event"
	"github.com/novadev/novadev/internal/state"
	"github.com/novadev/novadev/internal/supervisor"
)

// PlanAssumingNothing implements cli.Service: up --dry-run when no engine
// answers. The docker backend observes through absentEngine: no
// containers, networks, volumes or images, so the plan creates everything.
func (sv *service) PlanAssumingNothing(ctx context.Context, g *cli.Global, o cli.UpOptions) (*supervisor.Plan, error) {
	if g.Target != "docker" {
		return nil, fmt.Errorf("--target %s: planning without its engine is done for docker only", g.Target)
	}
	offline := *sv
	offline.o.Backends = map[string]BackendFactory{"docker": func(_ context.Context, env *Env) (backend.Backend, error) {
		return openDockerOn(env, absentEngine{})
	}}
	return offline.Plan(ctx, g, o)
}

// Pull implements cli.Service: docker only. Store images are resolved as
// up resolves them (resolveImages: the image source, the mirror, the
// lock), pulling what the engine lacks (every upstream tag again with
// --update-lock); service images with a registry are pulled; the offline
// image set is reported, never pulled.
func (sv *service) Pull(ctx context.Context, g *cli.Global, o cli.PullOptions, sink event.Sink) ([]cli.PullResult, error) {
	pol := &ImagePolicy{Pull: true, Retry: true, UpdateLock: o.UpdateLock, Sink: sink, Only: o.Only}
	e, err := sv.open(ctx, g, openOptions{images: pol})
	if err != nil {
		return nil, err
	}
	defer e.close()
	db, ok := e.b.(*docker.Backend)
	if !ok {
		return nil, &cli.UsageError{Err: fmt.Errorf("pull works on --target docker only (this backend brings its own images)")}
	}
	moby, _ := db.Engine().(*docker.Moby)
	var out []cli.PullResult
	seen := map[string]bool{}
	for _, ch := range pol.Choices {
		seen[ch.Image] = true
		r := cli.PullResult{Image: ch.Image, Node: ch.Store, Digest: ch.Digest}
		switch ch.Status {
		case ImageOffline:
			r.Status = "built locally"
		case ImageFellBack:
			r.Status, r.Error = "fell back", ch.Reason
		case ImageMissing:
			r.Status, r.Error = "failed", ch.Reason
			if catalog.OfflineImage(ch.Image) {
				r.Status, r.Error = "built locally", ""
			}
		default:
			r.Status = ch.Status
		}
		_, err := db.Engine().ImageID(ctx, ch.Image)
		r.Present = err == nil
		out = append(out, r)
	}
	stores := map[string]bool{}
	for _, n := range e.c.StoreNames() {
		stores[n] = true
	}
	for _, w := range db.Spec().Workloads() {
		if seen[w.Image] || (stores[w.Node] && e.c.Unavailable(w.Node) == "") {
			continue // stores are pol.Choices, except the unavailable ones resolveImages leaves out
		}
		seen[w.Image] = true
		r := cli.PullResult{Image: w.Image}
		if why := e.c.Unavailable(w.Node); why != "" {
			// an optional store this environment has no image for:
			// nothing to pull, and its users run degraded
			r.Status, r.Unavailable = "unavailable", w.Node+" unavailable ("+why+")"
		} else if OfflineImage(w.Image) {
			r.Status = "built locally"
		} else if moby == nil {
			r.Status, r.Error = "failed", "this engine cannot pull"
		} else if err := pull(ctx, moby, w.Image); err != nil {
			if ctx.Err() != nil {
				return out, ctx.Err()
			}
			r.Status, r.Error = "failed", err.Error()
		} else {
			r.Status = "pulled"
		}
		_, err := db.Engine().ImageID(ctx, w.Image)
		r.Present = err == nil
		out = append(out, r)
	}
	return out, nil
}

// OfflineImage says ref is one of the offline image set: novadev/<name>
// with no registry host (scripts/images/build.sh builds them; no registry
// has them).
func OfflineImage(ref string) bool { return catalog.OfflineImage(ref) }

func pull(ctx context.Context, m *docker.Moby, ref string) error {
	resp, err := m.Client().ImagePull(ctx, ref, client.ImagePullOptions{})
	if err != nil {
		return err
	}
	defer resp.Close()
	return resp.Wait(ctx)
}

// Stop implements cli.Service: the named nodes and their dependents, in
// reverse dependency order, through backend.Delete (volumes kept), under
// the instance lock.
func (sv *service) Stop(ctx context.Context, g *cli.Global, nodes []string) ([]string, error) {
	e, err := sv.open(ctx, g, openOptions{lockFor: "stop", sink: event.Discard})
	if err != nil {
		return nil, err
	}
	defer e.close()
	gr := e.c.Graph()
	set := map[string]bool{}
	var add func(string)
	add = func(n string) {
		if set[n] {
			return
		}
		set[n] = true
		for _, u := range gr.Users(n) {
			add(u)
		}
	}
	for _, n := range nodes {
		if _, ok := gr.Node(n); !ok {
			return nil, &cli.UsageError{Err: fmt.Errorf("unknown node %q (novadev graph lists them)", n)}
		}
		add(n)
	}
	order, err := gr.ReverseOrder()
	if err != nil {
		return nil, err
	}
	snap, err := e.b.Observe(ctx)
	if err != nil {
		return nil, err
	}
	var stopped []string
	for _, n := range order {
		if len(nodes) > 0 && !set[n] {
			continue
		}
		sn := snap.Nodes[n]
		if sn == nil || sn.Generation() == strings.Repeat("\x00", len(sn.Units)) {
			continue // nothing of it exists (or a bootstrap: no units)
		}
		if err := e.b.Delete(ctx, n, false); err != nil {
			return stopped, fmt.Errorf("stop %s: %w", n, err)
		}
		stopped = append(stopped, n)
	}
	return stopped, nil
}

// Exec implements cli.Service through the engine's exec API (no TTY:
// stdin is passed when it is not empty, stdout and stderr demultiplexed).
func (sv *service) Exec(ctx context.Context, g *cli.Global, unit string, argv []string, s cli.Streams) (int, error) {
	e, err := sv.open(ctx, g, openOptions{})
	if err != nil {
		return 0, err
	}
	defer e.close()
	var moby *docker.Moby
	if db, ok := e.b.(*docker.Backend); ok {
		moby, _ = db.Engine().(*docker.Moby)
	}
	if moby == nil {
		return 0, &cli.UsageError{Err: fmt.Errorf("exec works on --target docker only")}
	}
	snap, err := e.b.Observe(ctx)
	if err != nil {
		return 0, err
	}
	var id string
	var names []string
	for _, n := range snap.Nodes {
		for _, u := range n.Units {
			if u.Service == unit || (u.Node == unit && len(n.Units) == 1) {
				if u.State != backend.Running {
					return 0, fmt.Errorf("%s is %s, not running (novadev start %s)", unit, u.State, u.Node)
				}
				id = u.ID
			}
			names = append(names, u.Service)
		}
	}
	if id == "" {
		slices.Sort(names)
		return 0, &cli.UsageError{Err: fmt.Errorf("no unit %q in %s; units: %s", unit, snap.Instance, strings.Join(names, ", "))}
	}
	c := moby.Client()
	cr, err := c.ExecCreate(ctx, id, client.ExecCreateOptions{AttachStdin: true, AttachStdout: true, AttachStderr: true, Cmd: argv})
	if err != nil {
		return 0, fmt.Errorf("exec in %s: %w", unit, err)
	}
	att, err := c.ExecAttach(ctx, cr.ID, client.ExecAttachOptions{})
	if err != nil {
		return 0, fmt.Errorf("exec in %s: %w", unit, err)
	}
	defer att.Close()
	go func() {
		if s.In != nil {
			_, _ = io.Copy(att.Conn, s.In)
		}
		_ = att.CloseWrite()
	}()
	if _, err := stdcopy.StdCopy(s.Out, s.Err, att.Reader); err != nil && ctx.Err() == nil {
		return 0, fmt.Errorf("exec in %s: %w", unit, err)
	}
	ins, err := c.ExecInspect(ctx, cr.ID, client.ExecInspectOptions{})
	if err != nil {
		return 0, fmt.Errorf("exec in %s: %w", unit, err)
	}
	return ins.ExitCode, nil
}

// unreachable marks an error of a verb whose engine did not answer, so the
// CLI can say what it does instead (cli.ErrEngineUnreachable).
func unreachable(err error) error {
	var u *docker.UnreachableError
	if errors.As(err, &u) {
		return fmt.Errorf("%w: %w", cli.ErrEngineUnreachable, err)
	}
	return err
}

// errAbsent is what absentEngine answers to anything but an observation.
var errAbsent = errors.New("no engine: this backend only plans (up --dry-run without an engine)")

// absentEngine is an engine where nothing exists: what up --dry-run
// assumes when the real one is unreachable. It never changes anything.
type absentEngine struct{}

func (absentEngine) Info(context.Context) (docker.Info, error) { return docker.Info{}, errAbsent }
func (absentEngine) Observe(_ context.Context, project string) (*state.Observed, error) {
	return &state.Observed{Project: project}, nil
}
func (absentEngine) ImageID(context.Context, string) (string, error) { return "", docker.ErrNotFound }
func (absentEngine) PortUses(context.Context) ([]docker.PortUse, error) {
	return nil, errAbsent
}
func (absentEngine) CreateNetwork(context.Context, docker.NetworkSpec) error { return errAbsent }
func (absentEngine) CreateVolume(context.Context, docker.VolumeSpec) error   { return errAbsent }
func (absentEngine) Create(context.Context, docker.Workload) (string, error) { return "", errAbsent }
func (absentEngine) Start(context.Context, string) error                     { return errAbsent }
func (absentEngine) Stop(context.Context, string, time.Duration) error       { return errAbsent }
func (absentEngine) Remove(context.Context, string) error                    { return errAbsent }
func (absentEngine) RemoveNetwork(context.Context, string) error             { return errAbsent }
func (absentEngine) RemoveVolume(context.Context, string) error              { return errAbsent }
func (absentEngine) Logs(context.Context, string, docker.LogOptions) (io.ReadCloser, error) {
	return nil, errAbsent
}
func (absentEngine) Memory(context.Context, string) (uint64, error) { return 0, errAbsent }
func (absentEngine) Events(context.Context, string) (<-chan docker.Death, <-chan error) {
	errs := make(chan error, 1)
	errs <- errAbsent
	return nil, errs
}

var _ docker.Engine = absentEngine{}
