package supervisor

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/novadev/novadev/internal/catalog"
	"github.com/novadev/novadev/internal/driver"
	"github.com/novadev/novadev/internal/event"
	"github.com/novadev/novadev/internal/probe"
	"github.com/novadev/novadev/internal/state"
)

// Bootstrapper runs one bootstrap step to completion (in-process, through
// internal/bootstrap); log receives its progress lines.
type Bootstrapper func(ctx context.Context, b *catalog.Bootstrap, log func(format string, args ...any)) error

// Readiness returns the check proving a node ready and how long to wait
// for it; a nil check means "running" is enough.
type Readiness func(node string) (probe.Check, time.Duration)

// Runner executes plans against a driver.
type Runner struct {
	Driver   driver.Driver
	Sink     event.Sink
	Clock    probe.Clock
	Backoff  probe.Backoff
	Parallel int // containers created or bootstraps run at once; <1: 4
	Ready    Readiness
	// Recheck, when set, replaces Ready for nodes that were already
	// running unchanged: a cheaper check that they still answer.
	Recheck   Readiness
	Bootstrap Bootstrapper
	// BootstrapTimeout applies when the catalog gives none.
	BootstrapTimeout time.Duration
	// LogTail is how many log lines a readiness failure shows; 0: 20.
	LogTail int
	// PortFree reports whether a host port can be bound; nil: try to
	// listen on 127.0.0.1.
	PortFree func(port int) error
}

func (r *Runner) defaults() {
	if r.Sink == nil {
		r.Sink = event.Discard
	}
	if r.Clock == nil {
		r.Clock = probe.Real
	}
	if r.Backoff == (probe.Backoff{}) {
		r.Backoff = probe.DefaultBackoff
	}
	if r.Parallel < 1 {
		r.Parallel = 4
	}
	if r.LogTail == 0 {
		r.LogTail = 20
	}
	if r.BootstrapTimeout == 0 {
		r.BootstrapTimeout = 2 * time.Minute
	}
	if r.PortFree == nil {
		r.PortFree = listenFree
	}
}

func listenFree(port int) error {
	ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		return err
	}
	return ln.Close()
}

func (r *Runner) emit(e event.Event) {
	e.Time = r.Clock.Now()
	r.Sink.Emit(e)
}

// Status of a node at the end of a run.
type Status string

// Node statuses.
const (
	StatusReady     Status = "ready"
	StatusUnchanged Status = "unchanged"
	StatusSkipped   Status = "skipped"  // nothing to start (external, optional)
	StatusBlocked   Status = "blocked"  // not started: a need failed
	StatusFailed    Status = "failed"   // its action or readiness failed
	StatusCanceled  Status = "canceled" // interrupted
)

// NodeResult is how one node went.
type NodeResult struct {
	Name     string           `json:"name"`
	Kind     catalog.NodeKind `json:"kind"`
	Action   Action           `json:"action"`
	Status   Status           `json:"status"`
	Duration time.Duration    `json:"-"`
	Detail   string           `json:"detail,omitempty"`
	Err      error            `json:"-"`
}

// Result is how a run went.
type Result struct {
	Nodes        map[string]*NodeResult
	Order        []string
	Total        time.Duration
	CriticalPath []string
	CriticalTime time.Duration
}

// Failed returns the names of failed nodes, sorted.
func (r *Result) Failed() []string {
	var out []string
	for _, n := range r.Order {
		if r.Nodes[n].Status == StatusFailed {
			out = append(out, n)
		}
	}
	return out
}

// NodeError says why a node failed: what it waited for, and the last lines
// its containers logged.
type NodeError struct {
	Node string
	Err  error
	Logs map[string][]string // container -> last lines
}

func (e *NodeError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %v", e.Node, e.Err)
	names := make([]string, 0, len(e.Logs))
	for n := range e.Logs {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if len(e.Logs[n]) == 0 {
			fmt.Fprintf(&b, "\n  %s logged nothing", n)
			continue
		}
		fmt.Fprintf(&b, "\n  last log lines of %s:", n)
		for _, l := range e.Logs[n] {
			b.WriteString("\n    " + l)
		}
	}
	return b.String()
}

func (e *NodeError) Unwrap() error { return e.Err }

// UpError is returned when some nodes did not come up.
type UpError struct {
	Failed   []*NodeError
	Blocked  []string
	Canceled bool
}

func (e *UpError) Error() string {
	var parts []string
	if e.Canceled {
		parts = append(parts, "interrupted; run novadev up again to resume where it stopped")
	}
	for _, f := range e.Failed {
		parts = append(parts, f.Error())
	}
	if len(e.Blocked) > 0 {
		parts = append(parts, "not started because a dependency failed: "+strings.Join(e.Blocked, ", "))
	}
	return strings.Join(parts, "\n")
}

// Preflight checks what must hold before anything changes: every image is
// present and every host port the plan will publish is free. It reports
// every problem at once.
func (r *Runner) Preflight(ctx context.Context, p *Plan) error {
	r.defaults()
	var problems []string
	if len(p.MissingImages) > 0 {
		problems = append(problems, fmt.Sprintf("images not on the engine: %s; build the offline set with `make images` (scripts/images/build.sh) or pull them", strings.Join(p.MissingImages, ", ")))
	}
	uses, err := r.Driver.PortUses(ctx)
	if err != nil {
		return err
	}
	for _, name := range p.Order {
		for _, c := range p.Nodes[name].Containers {
			if c.Action == Keep {
				continue
			}
			for _, pt := range c.Workload.Ports {
				owner := ""
				for _, u := range uses {
					if u.Port != pt.Host {
						continue
					}
					if c.Existing != nil && u.Container == c.Existing.Name {
						continue // our own container, about to be replaced
					}
					owner = "container " + u.Container
					if u.Project != "" {
						owner += " (project " + u.Project + ")"
					}
				}
				if owner == "" && (c.Existing == nil || c.Action != Recreate) {
					if err := r.PortFree(pt.Host); err != nil {
						owner = "another process on this machine (see `ss -ltnp 'sport = :" + strconv.Itoa(pt.Host) + "'`)"
					}
				}
				if owner != "" {
					problems = append(problems, fmt.Sprintf("host port %d for %s is taken by %s; stop it, or pick another environment (--env) whose port block is free", pt.Host, c.Workload.Service, owner))
				}
			}
		}
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "\n"))
	}
	return nil
}

// Up executes the plan: preflight, orphans removed, networks and volumes
// created, then every node along the graph once all it needs is ready.
// Readiness gates dependents; a failed node's dependents are not started;
// cancellation stops launching and lets running steps return.
func (r *Runner) Up(ctx context.Context, p *Plan) (*Result, error) {
	r.defaults()
	start := r.Clock.Now()
	if err := r.Preflight(ctx, p); err != nil {
		return nil, err
	}
	for _, o := range p.Orphans {
		r.emit(event.Event{Type: event.Stopping, Node: o.Service, Detail: "orphan container " + o.Name})
		if err := r.Driver.Remove(ctx, o.ID); err != nil && !errors.Is(err, driver.ErrNotFound) {
			return nil, fmt.Errorf("removing orphan %s: %w", o.Name, err)
		}
		r.emit(event.Event{Type: event.Removed, Node: o.Service, Detail: o.Name})
	}
	for _, n := range p.Networks {
		if err := r.Driver.CreateNetwork(ctx, n); err != nil {
			return nil, err
		}
	}
	for _, v := range p.Volumes {
		if err := r.Driver.CreateVolume(ctx, v); err != nil {
			return nil, err
		}
	}
	res := &Result{Nodes: map[string]*NodeResult{}, Order: p.Order}
	for _, n := range p.Order {
		ns := p.Nodes[n]
		res.Nodes[n] = &NodeResult{Name: n, Kind: ns.Kind, Action: ns.Action}
		r.emit(event.Event{Type: event.Planned, Node: n, Kind: string(ns.Kind), Detail: planDetail(ns)})
	}
	r.walk(ctx, p, res)
	res.Total = r.Clock.Now().Sub(start)
	path, total, _ := p.Graph.CriticalPath(func(name string, _ *catalog.Item) float64 {
		return float64(res.Nodes[name].Duration)
	})
	res.CriticalPath, res.CriticalTime = path, time.Duration(total)
	ue := &UpError{}
	for _, n := range p.Order {
		nr := res.Nodes[n]
		switch nr.Status {
		case StatusFailed:
			var ne *NodeError
			if !errors.As(nr.Err, &ne) {
				ne = &NodeError{Node: n, Err: nr.Err}
			}
			ue.Failed = append(ue.Failed, ne)
		case StatusBlocked:
			ue.Blocked = append(ue.Blocked, n)
		case StatusCanceled:
			ue.Canceled = true
		}
	}
	if len(ue.Failed)+len(ue.Blocked) > 0 || ue.Canceled {
		return res, ue
	}
	return res, nil
}

func planDetail(ns *NodeStep) string {
	if ns.Reason != "" {
		return string(ns.Action) + ": " + ns.Reason
	}
	return string(ns.Action)
}

type done struct {
	name string
	st   Status
	err  error
	dur  time.Duration
}

// walk runs every node once its needs are done, at most r.Parallel actions
// at a time (readiness polling does not hold a slot).
func (r *Runner) walk(ctx context.Context, p *Plan, res *Result) {
	pending := map[string][]string{} // node -> needs not finished yet
	blockedBy := map[string]string{}
	for _, n := range p.Order {
		pending[n] = slices.Clone(p.Nodes[n].Needs)
		if len(pending[n]) > 0 {
			r.emit(event.Event{Type: event.Waiting, Node: n, Kind: string(p.Nodes[n].Kind), WaitingOn: pending[n]})
		}
	}
	slots := make(chan struct{}, r.Parallel)
	results := make(chan done)
	running := 0
	finished := map[string]bool{}
	launch := func(n string) {
		running++
		go func() {
			t0 := r.Clock.Now()
			st, err := r.node(ctx, p.Nodes[n], slots)
			results <- done{n, st, err, r.Clock.Now().Sub(t0)}
		}()
	}
	var finish func(n string, st Status, err error, dur time.Duration)
	finish = func(n string, st Status, err error, dur time.Duration) {
		nr := res.Nodes[n]
		nr.Status, nr.Err, nr.Duration = st, err, dur
		finished[n] = true
		bad := st == StatusFailed || st == StatusBlocked || st == StatusCanceled
		for _, u := range p.Graph.Users(n) {
			if finished[u] {
				continue
			}
			pending[u] = slices.DeleteFunc(pending[u], func(s string) bool { return s == n })
			if bad && blockedBy[u] == "" {
				if st == StatusBlocked {
					blockedBy[u] = blockedBy[n]
				} else {
					blockedBy[u] = n
				}
				if st == StatusCanceled {
					blockedBy[u] = ""
				}
			}
			if st == StatusCanceled {
				continue // decided when the walk ends
			}
			if len(pending[u]) > 0 {
				if !bad {
					r.emit(event.Event{Type: event.Waiting, Node: u, Kind: string(p.Nodes[u].Kind), WaitingOn: slices.Clone(pending[u])})
				}
				continue
			}
			if cause := blockedBy[u]; cause != "" {
				res.Nodes[u].Detail = "needs " + cause + ", which failed"
				r.emit(event.Event{Type: event.Skipped, Node: u, Kind: string(p.Nodes[u].Kind), Detail: "not started: " + res.Nodes[u].Detail})
				finish(u, StatusBlocked, nil, 0)
				continue
			}
			if ctx.Err() == nil {
				launch(u)
			}
		}
	}
	for _, n := range p.Order {
		if len(pending[n]) == 0 {
			launch(n)
		}
	}
	for running > 0 {
		d := <-results
		running--
		finish(d.name, d.st, d.err, d.dur)
	}
	for _, n := range p.Order {
		if !finished[n] {
			res.Nodes[n].Status = StatusCanceled
			if cause := blockedBy[n]; cause != "" {
				res.Nodes[n].Status = StatusBlocked
				res.Nodes[n].Detail = "needs " + cause + ", which failed"
			}
			r.emit(event.Event{Type: event.Canceled, Node: n, Kind: string(p.Nodes[n].Kind), Detail: "not started"})
		}
	}
}

// node runs one node's action and waits for its readiness.
func (r *Runner) node(ctx context.Context, ns *NodeStep, slots chan struct{}) (Status, error) {
	kind := string(ns.Kind)
	t0 := r.Clock.Now()
	ev := func(t event.Type, detail string, err error) {
		e := event.Event{Type: t, Node: ns.Name, Kind: kind, Detail: detail}
		if err != nil {
			e.Error = err.Error()
		}
		if t == event.Ready || t == event.Unchanged || t == event.Failed {
			e.Elapsed = event.Duration(r.Clock.Now().Sub(t0))
		}
		r.emit(e)
	}
	fail := func(err error) (Status, error) {
		if ctx.Err() != nil {
			ev(event.Canceled, "interrupted", nil)
			return StatusCanceled, ctx.Err()
		}
		ev(event.Failed, "", err)
		return StatusFailed, err
	}
	if ns.Action == Skip {
		ev(event.Skipped, ns.Reason, nil)
		return StatusSkipped, nil
	}
	select {
	case slots <- struct{}{}:
	case <-ctx.Done():
		ev(event.Canceled, "interrupted before it started", nil)
		return StatusCanceled, ctx.Err()
	}
	ev(event.Starting, string(ns.Action), nil)
	var err error
	switch {
	case ns.Kind == catalog.KindBootstrap && ns.Action == Keep:
	case ns.Kind == catalog.KindBootstrap:
		err = r.runBootstrap(ctx, ns)
		if err == nil && ns.marker.Name != "" && ns.plan.Spec.InputsHash != "" {
			err = r.writeMarker(ctx, ns)
		}
	default:
		err = r.converge(ctx, ns)
	}
	<-slots
	if err != nil {
		return fail(&NodeError{Node: ns.Name, Err: err, Logs: r.lastLogs(ns)})
	}
	ready := r.Ready
	if ns.Action == Keep && r.Recheck != nil {
		ready = r.Recheck
	}
	if ready != nil {
		if check, timeout := ready(ns.Name); check != nil {
			ev(event.Probing, check.String(), nil)
			if err := probe.Poll(ctx, r.Clock, r.Backoff, timeout, check); err != nil {
				return fail(&NodeError{Node: ns.Name, Err: err, Logs: r.lastLogs(ns)})
			}
		}
	}
	if ns.Action == Keep {
		ev(event.Unchanged, "running, same configuration", nil)
		return StatusUnchanged, nil
	}
	ev(event.Ready, string(ns.Action), nil)
	return StatusReady, nil
}

func (r *Runner) runBootstrap(ctx context.Context, ns *NodeStep) error {
	if r.Bootstrap == nil {
		return errors.New("no bootstrap runner configured")
	}
	b := ns.bootstrap
	timeout := r.BootstrapTimeout
	if b.Timeout.Duration > 0 {
		timeout = b.Timeout.Duration
	}
	bctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	err := r.Bootstrap(bctx, b, func(format string, args ...any) {
		r.emit(event.Event{Type: event.Log, Node: ns.Name, Kind: string(ns.Kind), Detail: fmt.Sprintf(format, args...)})
	})
	if err != nil && bctx.Err() == context.DeadlineExceeded && ctx.Err() == nil {
		return fmt.Errorf("bootstrap %s did not finish in %s: %w", b.Name, timeout, err)
	}
	return err
}

// converge brings the node's containers to the plan.
func (r *Runner) converge(ctx context.Context, ns *NodeStep) error {
	for i := range ns.Containers {
		c := &ns.Containers[i]
		switch c.Action {
		case Keep:
		case Start:
			if err := r.Driver.Start(ctx, c.Existing.ID); err != nil {
				return fmt.Errorf("starting %s: %w", c.Workload.Name, err)
			}
		case Recreate:
			if err := r.Driver.Stop(ctx, c.Existing.ID, 0); err != nil && !errors.Is(err, driver.ErrNotFound) {
				return fmt.Errorf("stopping %s: %w", c.Workload.Name, err)
			}
			if err := r.Driver.Remove(ctx, c.Existing.ID); err != nil && !errors.Is(err, driver.ErrNotFound) {
				return fmt.Errorf("removing %s: %w", c.Workload.Name, err)
			}
			fallthrough
		case Create:
			id, err := r.Driver.Create(ctx, c.Workload)
			if err != nil {
				return fmt.Errorf("creating %s: %w", c.Workload.Name, err)
			}
			c.Existing, c.ID = nil, id
			if err := r.Driver.Start(ctx, id); err != nil {
				return fmt.Errorf("starting %s: %w", c.Workload.Name, err)
			}
		}
	}
	return nil
}

// lastLogs reads the last lines of every container of the node.
func (r *Runner) lastLogs(ns *NodeStep) map[string][]string {
	if len(ns.Containers) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	obs, err := r.Driver.Observe(ctx, ns.Containers[0].Workload.Labels[state.LabelProject])
	if err != nil {
		return nil
	}
	out := map[string][]string{}
	for _, c := range ns.Containers {
		oc := obs.Service(c.Workload.Service)
		if oc == nil {
			continue
		}
		rc, err := r.Driver.Logs(ctx, oc.ID, driver.LogOptions{Tail: r.LogTail})
		if err != nil {
			continue
		}
		var lines []string
		sc := bufio.NewScanner(rc)
		for sc.Scan() {
			lines = append(lines, sc.Text())
		}
		rc.Close()
		out[c.Workload.Name] = lines
	}
	return out
}

// writeMarker records that the bootstrap completed (volume labels cannot
// change, so the old marker is replaced).
func (r *Runner) writeMarker(ctx context.Context, ns *NodeStep) error {
	if ns.markerOld != "" {
		if err := r.Driver.RemoveVolume(ctx, ns.markerOld); err != nil && !errors.Is(err, driver.ErrNotFound) {
			return fmt.Errorf("replacing the done-marker of %s: %w", ns.Name, err)
		}
	}
	m := ns.marker
	m.Labels = maps.Clone(m.Labels)
	m.Labels[MarkerLabel] = ns.plan.markerSum(ns)
	return r.Driver.CreateVolume(ctx, m)
}
