package supervisor

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/novadev/novadev/internal/backend"
	"github.com/novadev/novadev/internal/catalog"
	"github.com/novadev/novadev/internal/event"
	"github.com/novadev/novadev/internal/graph"
	"github.com/novadev/novadev/internal/probe"
)

// Bootstrapper runs one bootstrap step to completion (in-process, through
// internal/bootstrap); log receives its progress lines.
type Bootstrapper func(ctx context.Context, b *catalog.Bootstrap, log func(format string, args ...any)) error

// Readiness returns the check proving a node ready and how long to wait
// for it; a nil check means "running" is enough.
type Readiness func(node string) (probe.Check, time.Duration)

// Runner executes plans on a backend.
type Runner struct {
	Backend  backend.Backend
	Sink     event.Sink
	Clock    probe.Clock
	Backoff  probe.Backoff
	Parallel int // nodes applied or bootstraps run at once; <1: 4
	Ready    Readiness
	// Recheck, when set, replaces Ready for nodes that were already
	// running unchanged: a cheaper check that they still answer.
	Recheck   Readiness
	Bootstrap Bootstrapper
	// BootstrapTimeout applies when the catalog gives none.
	BootstrapTimeout time.Duration
	// LogTail is how many log lines a failure shows; 0: 20.
	LogTail int
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
	StatusBlocked   Status = "blocked"  // not started or stopped: a need failed
	StatusFailed    Status = "failed"   // its action or readiness failed, or it died
	StatusCanceled  Status = "canceled" // interrupted
)

// NodeResult is how one node went.
type NodeResult struct {
	Name     string           `json:"name"`
	Kind     catalog.NodeKind `json:"kind"`
	Op       Operation        `json:"action"`
	Status   Status           `json:"status"`
	Duration time.Duration    `json:"-"`
	Detail   string           `json:"detail,omitempty"`
	// Degraded, on a ready or unchanged service, says which optional
	// stores it runs without and why (Step.Degraded, joined by "; ").
	Degraded string `json:"degraded,omitempty"`
	// Unavailable, on a skipped optional store, says why (Step.Unavailable).
	Unavailable string `json:"unavailable,omitempty"`
	Err         error  `json:"-"`
}

// State is the node's state as people read it: its status, or
// "degraded: <why>" for a service that runs without an optional store.
func (nr *NodeResult) State() string {
	if nr.Degraded != "" && (nr.Status == StatusReady || nr.Status == StatusUnchanged) {
		return "degraded: " + nr.Degraded
	}
	return string(nr.Status)
}

// Result is how a run went: the execution state, kept apart from the plan.
type Result struct {
	Nodes        map[string]*NodeResult
	Order        []string
	Total        time.Duration
	CriticalPath []string
	CriticalTime time.Duration
	// FailedOrder lists failed nodes in the order they failed: the first
	// is the likeliest root cause.
	FailedOrder []string
	// FromSnapshot names the snapshot the stores were restored from
	// (up --from-snapshot); its kept bootstraps say so in their Detail.
	FromSnapshot string
}

// Failed returns the names of failed nodes, first failure first.
func (r *Result) Failed() []string { return slices.Clone(r.FailedOrder) }

// Started reports whether the node runs as this run left it (ready or
// unchanged): only those have endpoints worth printing.
func (r *Result) Started(node string) bool {
	nr := r.Nodes[node]
	return nr != nil && (nr.Status == StatusReady || nr.Status == StatusUnchanged)
}

// NodeError says why a node failed: what it waited for, or how it died,
// and the last lines its units logged.
type NodeError struct {
	Node string
	Err  error
	Logs map[string][]string // unit -> last lines
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
	Failed   []*NodeError // first failure first
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
// present and the backend can apply the nodes that change (host ports
// free). It reports every problem at once.
func (r *Runner) Preflight(ctx context.Context, p *Plan) error {
	var problems []string
	if len(p.MissingImages) > 0 {
		problems = append(problems, fmt.Sprintf("images not on the engine: %s; build the offline set with `make images` (scripts/images/build.sh) or pull them", strings.Join(p.MissingImages, ", ")))
	}
	if err := r.Backend.Preflight(ctx, p.snap, p.Apply()); err != nil {
		problems = append(problems, err.Error())
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "\n"))
	}
	return nil
}

// causes of a node's context being canceled by the run itself
type diedCause struct{ f backend.Failure }

func (c diedCause) Error() string { return c.f.Error() }

type blockedCause struct{ by string }

func (c blockedCause) Error() string { return "needs " + c.by + ", which failed" }

// run is the execution state of one Up.
type run struct {
	r    *Runner
	p    *Plan
	res  *Result
	deps map[string][]string // node -> everything it needs, transitively

	mu       sync.Mutex
	gens     map[string]string // node -> generation now
	running  map[string]context.CancelCauseFunc
	died     map[string]*NodeError // nodes whose units died during the run
	slots    chan struct{}
	finished map[string]bool
	roots    map[string]string // blocked node -> the failed node at the root

	// applying ahead (backend.NeedGater): services whose Apply was started
	// before their visit, and every node whose Apply has been started
	gates   bool
	ahead   map[string]*aheadApply
	applied map[string]bool
	aheadWG sync.WaitGroup
}

// aheadApply is the outcome of a service applied before its visit.
type aheadApply struct {
	done chan struct{}
	node *backend.Node
	err  error
}

// Up executes the plan: preflight, orphans removed, instance resources
// created, then every node along the graph (graph.Walk) once all it needs
// is ready. Readiness gates dependents; a failed node's dependents are not
// started; a unit that dies during the run fails its node at once (with
// its exit and last log lines) and stops whatever waits on it;
// cancellation stops launching and lets running steps return.
func (r *Runner) Up(ctx context.Context, p *Plan) (*Result, error) {
	r.defaults()
	start := r.Clock.Now()
	if err := r.Preflight(ctx, p); err != nil {
		return nil, err
	}
	x := &run{r: r, p: p, res: &Result{Nodes: map[string]*NodeResult{}, Order: p.Order},
		deps: map[string][]string{}, gens: map[string]string{}, running: map[string]context.CancelCauseFunc{},
		died: map[string]*NodeError{}, slots: make(chan struct{}, r.Parallel), finished: map[string]bool{}, roots: map[string]string{},
		ahead: map[string]*aheadApply{}, applied: map[string]bool{}}
	if g, ok := r.Backend.(backend.NeedGater); ok {
		x.gates = g.GatesServiceNeeds()
	}
	for name, n := range p.snap.Nodes {
		x.gens[name] = n.Generation()
	}
	for _, n := range p.Order {
		all, _ := p.graph.Closure(n)
		x.deps[n] = slices.DeleteFunc(all, func(s string) bool { return s == n })
	}
	wctx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	failures, err := r.Backend.Watch(wctx)
	if err != nil {
		return nil, err
	}
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		for f := range failures {
			x.died1(f)
		}
	}()
	for _, o := range p.Resources {
		if o.Op == Delete {
			r.emit(event.Event{Type: event.Stopping, Node: o.Name, Detail: "orphan " + o.Kind + " " + o.Name})
		}
	}
	if err := r.Backend.Prepare(ctx, p.snap, p.Started()); err != nil {
		return nil, err
	}
	for _, o := range p.Resources {
		if o.Op == Delete {
			r.emit(event.Event{Type: event.Removed, Node: o.Name, Detail: o.Name})
		}
	}
	for _, n := range p.Order {
		st := p.Steps[n]
		x.res.Nodes[n] = &NodeResult{Name: n, Kind: st.Kind, Op: st.Op, Degraded: strings.Join(st.Degraded, "; "), Unavailable: st.Unavailable}
		r.emit(event.Event{Type: event.Planned, Node: n, Kind: string(st.Kind), Detail: planDetail(st)})
		if len(st.Needs) > 0 {
			r.emit(event.Event{Type: event.Waiting, Node: n, Kind: string(st.Kind), WaitingOn: st.Needs})
		}
	}
	x.launchAhead(ctx)
	walked, err := p.graph.Walk(ctx, graph.WalkOptions{OnBlocked: func(n, cause string) {
		x.setBlocked(n, cause)
	}}, x.node)
	x.aheadWG.Wait() // a service applied ahead whose need then failed
	if err != nil {
		return nil, err
	}
	stopWatch()
	<-watched
	for _, n := range walked.NotStarted {
		nr := x.res.Nodes[n]
		nr.Status = StatusCanceled
		r.emit(event.Event{Type: event.Canceled, Node: n, Kind: string(nr.Kind), Detail: "not started"})
	}
	x.mu.Lock()
	var late []string
	for n := range x.died {
		if x.res.Nodes[n].Status != StatusFailed { // it died after it was proven ready
			late = append(late, n)
		}
	}
	x.mu.Unlock()
	slices.Sort(late)
	for _, n := range late {
		x.fail(n, x.died[n])
	}
	// a unit that died is the root cause of what failed with it: a
	// bootstrap whose connection the death closed can fail a few
	// milliseconds before the engine reports the death, so deaths go first
	x.mu.Lock()
	slices.SortStableFunc(x.res.FailedOrder, func(a, b string) int {
		da, db := x.died[a] != nil, x.died[b] != nil
		switch {
		case da && !db:
			return -1
		case db && !da:
			return 1
		}
		return 0
	})
	x.mu.Unlock()
	res := x.res
	res.FromSnapshot = p.FromSnapshot()
	res.Total = r.Clock.Now().Sub(start)
	path, total, _ := p.graph.CriticalPath(func(name string, _ *catalog.Item) float64 {
		return float64(res.Nodes[name].Duration)
	})
	res.CriticalPath, res.CriticalTime = path, time.Duration(total)
	ue := &UpError{}
	for _, n := range res.FailedOrder {
		var ne *NodeError
		if !errors.As(res.Nodes[n].Err, &ne) {
			ne = &NodeError{Node: n, Err: res.Nodes[n].Err}
		}
		ue.Failed = append(ue.Failed, ne)
	}
	for _, n := range p.Order {
		switch res.Nodes[n].Status {
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

func planDetail(st Step) string {
	d := string(st.Op)
	if st.Reason != "" {
		d += ": " + st.Reason
	}
	if len(st.Degraded) > 0 {
		d += "; degraded: " + strings.Join(st.Degraded, "; ")
	}
	return d
}

func (x *run) setBlocked(n, cause string) {
	x.mu.Lock()
	if root := x.roots[cause]; root != "" {
		cause = root // blocked itself when a need died: name the dead one
	}
	x.roots[n] = cause
	nr := x.res.Nodes[n]
	nr.Status, nr.Detail = StatusBlocked, "needs "+cause+", which failed"
	x.finished[n] = true
	x.mu.Unlock()
	x.r.emit(event.Event{Type: event.Skipped, Node: n, Kind: string(nr.Kind), Detail: "not started: " + nr.Detail})
}

// fail records a node's failure once, in failure order.
func (x *run) fail(n string, err error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if !slices.Contains(x.res.FailedOrder, n) {
		x.res.FailedOrder = append(x.res.FailedOrder, n)
	}
	nr := x.res.Nodes[n]
	nr.Status, nr.Err = StatusFailed, err
}

// died1 handles one unit death: its node fails now (if it is waited for,
// the wait ends; if it was ready, it is failed after the fact), and every
// running node that needs it stops waiting.
func (x *run) died1(f backend.Failure) {
	if _, ok := x.res.Nodes[f.Node]; !ok {
		return // not a node of this run
	}
	x.mu.Lock()
	if x.died[f.Node] != nil {
		x.mu.Unlock()
		return
	}
	x.mu.Unlock()
	ne := &NodeError{Node: f.Node, Err: errors.New("container " + f.Error()), Logs: x.tail(f.Node)}
	x.mu.Lock()
	x.died[f.Node] = ne
	cancel := x.running[f.Node]
	var users []context.CancelCauseFunc
	for n, c := range x.running {
		if slices.Contains(x.deps[n], f.Node) {
			users = append(users, c)
		}
	}
	ready := x.finished[f.Node]
	x.mu.Unlock()
	if cancel != nil {
		cancel(diedCause{f})
	} else if ready {
		x.fail(f.Node, ne)
		x.r.emit(event.Event{Type: event.Failed, Node: f.Node, Kind: string(x.res.Nodes[f.Node].Kind), Error: ne.Error()})
	}
	for _, c := range users {
		c(blockedCause{f.Node})
	}
}

func (x *run) tail(node string) map[string][]string {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return backend.Tail(ctx, x.r.Backend, node, x.r.LogTail)
}

// deadNeed returns a node this one needs that died during the run.
func (x *run) deadNeed(n string) string {
	x.mu.Lock()
	defer x.mu.Unlock()
	for _, d := range x.deps[n] {
		if x.died[d] != nil {
			return d
		}
	}
	return ""
}

var errNodeDown = errors.New("node did not come up")

// node runs one node's operation and waits for its readiness; it is the
// visit of the graph walk (an error blocks what needs the node).
func (x *run) node(ctx context.Context, name string) error {
	r, st := x.r, x.p.Steps[name]
	nr := x.res.Nodes[name]
	kind := string(st.Kind)
	t0 := r.Clock.Now()
	ev := func(t event.Type, detail string, err error) {
		e := event.Event{Type: t, Node: name, Kind: kind, Detail: detail}
		if err != nil {
			e.Error = err.Error()
		}
		if t == event.Ready || t == event.Unchanged || t == event.Failed {
			e.Elapsed = event.Duration(r.Clock.Now().Sub(t0))
		}
		r.emit(e)
	}
	finish := func(s Status, err error) error {
		x.mu.Lock()
		nr.Duration = r.Clock.Now().Sub(t0)
		x.finished[name] = true
		delete(x.running, name)
		x.mu.Unlock()
		switch s {
		case StatusFailed:
			x.fail(name, err)
		default:
			x.mu.Lock()
			nr.Status, nr.Err = s, err
			x.mu.Unlock()
		}
		if s == StatusReady || s == StatusUnchanged || s == StatusSkipped {
			x.launchAhead(ctx)
			return nil
		}
		return errNodeDown
	}
	if st.Op == Skip {
		nr.Detail = st.Reason
		ev(event.Skipped, st.Reason, nil)
		return finish(StatusSkipped, nil)
	}
	x.mu.Lock()
	self := x.died[name]
	x.mu.Unlock()
	if self != nil { // it died before its turn came (a kept unit crashed)
		ev(event.Failed, "", self)
		return finish(StatusFailed, self)
	}
	if d := x.deadNeed(name); d != "" {
		x.mu.Lock()
		x.roots[name] = d
		x.mu.Unlock()
		nr.Detail = "needs " + d + ", which failed"
		ev(event.Skipped, "not started: "+nr.Detail, nil)
		return finish(StatusBlocked, nil)
	}
	nctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	x.mu.Lock()
	x.running[name] = cancel
	x.mu.Unlock()
	failed := func(err error) error {
		switch c := context.Cause(nctx).(type) {
		case diedCause:
			ne := &NodeError{Node: name, Err: errors.New("container " + c.f.Error())}
			x.mu.Lock()
			if d := x.died[name]; d != nil {
				ne = d
			}
			x.mu.Unlock()
			ev(event.Failed, "", ne)
			return finish(StatusFailed, ne)
		case blockedCause:
			x.mu.Lock()
			x.roots[name] = c.by
			x.mu.Unlock()
			nr.Detail = c.Error()
			ev(event.Skipped, "stopped: "+nr.Detail, nil)
			return finish(StatusBlocked, nil)
		}
		if ctx.Err() != nil {
			ev(event.Canceled, "interrupted", nil)
			return finish(StatusCanceled, ctx.Err())
		}
		ne := &NodeError{Node: name, Err: err, Logs: x.tail(name)}
		ev(event.Failed, "", ne)
		return finish(StatusFailed, ne)
	}
	var err error
	if a := x.aheadOf(name); a != nil {
		// applied before its visit: only its outcome is awaited here
		select {
		case <-a.done:
			err = a.err
		case <-nctx.Done():
			err = nctx.Err()
		}
	} else {
		select {
		case x.slots <- struct{}{}:
		case <-nctx.Done():
			return failed(nctx.Err())
		}
		ev(event.Starting, string(st.Op), nil)
		switch {
		case st.Op == Keep:
		case st.Kind == catalog.KindBootstrap:
			err = x.runBootstrap(nctx, name)
		default:
			x.mu.Lock()
			x.applied[name] = true
			x.mu.Unlock()
			x.launchAhead(ctx)
			var n *backend.Node
			if n, err = r.Backend.Apply(nctx, name); err == nil {
				x.mu.Lock()
				x.gens[name] = n.Generation()
				x.mu.Unlock()
			}
		}
		<-x.slots
	}
	if err == nil && nctx.Err() != nil {
		err = nctx.Err()
	}
	if err != nil {
		return failed(err)
	}
	restored := x.p.Restored(name)
	ready := r.Ready
	if st.Op == Keep && r.Recheck != nil && !restored {
		ready = r.Recheck // a restored bootstrap gets the full proof
	}
	if ready != nil {
		if check, timeout := ready(name); check != nil {
			ev(event.Probing, check.String(), nil)
			since := time.Now()
			if err := probe.Poll(nctx, r.Clock, r.Backoff, timeout, check); err != nil {
				if ex, ok := r.Backend.(backend.Explainer); ok {
					err = ex.Explain(name, since, err)
				}
				return failed(err)
			}
		}
	}
	if restored {
		// its result came with the snapshot and was just proven: record
		// it against the new units, so the next up keeps it as usual
		if err := x.record(nctx, name); err != nil {
			return failed(err)
		}
		ev(event.Unchanged, st.Reason, nil)
		nr.Detail = "from snapshot " + x.p.FromSnapshot()
		defer x.stillWaiting(name)
		return finish(StatusUnchanged, nil)
	}
	defer x.stillWaiting(name)
	degraded := ""
	if nr.Degraded != "" {
		degraded = "; degraded: " + nr.Degraded
	}
	if st.Op == Keep {
		ev(event.Unchanged, "running, same configuration"+degraded, nil)
		return finish(StatusUnchanged, nil)
	}
	ev(event.Ready, string(st.Op)+degraded, nil)
	return finish(StatusReady, nil)
}

// aheadOf returns the apply started ahead for a node, or nil.
func (x *run) aheadOf(name string) *aheadApply {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.ahead[name]
}

// launchAhead starts, on a backend whose units wait for the services they
// need (backend.NeedGater), the Apply of every service not yet applied
// whose stores and bootstraps are done and whose services are at least
// applied (or kept). The visit then only awaits that Apply before proving
// the service ready, once its needs are.
func (x *run) launchAhead(ctx context.Context) {
	if !x.gates {
		return
	}
	x.mu.Lock()
	// one pass suffices: Order is topological, so a service launched here
	// is already marked applied when its users come up later in the loop
	launch := map[string]*aheadApply{}
	for _, n := range x.p.Order {
		st := x.p.Steps[n]
		if st.Kind != catalog.KindService || (st.Op != Create && st.Op != Recreate && st.Op != Start) ||
			x.applied[n] || x.finished[n] || x.died[n] != nil {
			continue
		}
		eligible := true
		for _, m := range st.Needs {
			ms, mr := x.p.Steps[m], x.res.Nodes[m]
			switch {
			case x.died[m] != nil:
				eligible = false
			case x.finished[m]:
				eligible = mr.Status == StatusReady || mr.Status == StatusUnchanged || mr.Status == StatusSkipped
			case ms.Kind == catalog.KindService:
				eligible = x.applied[m] || ms.Op == Keep
			default:
				eligible = false // a store or bootstrap not done yet
			}
			if !eligible {
				break
			}
		}
		if eligible {
			x.applied[n] = true
			x.ahead[n] = &aheadApply{done: make(chan struct{})}
			launch[n] = x.ahead[n]
		}
	}
	x.mu.Unlock()
	for n, a := range launch {
		x.aheadWG.Add(1)
		go x.applyAhead(ctx, n, a)
	}
}

// applyAhead applies one service before its visit. It takes no slot of
// --parallel: a backend's Apply may wait until the workload is available
// (the kube backend does), which for a service applied ahead means until
// its needs are ready; holding slots there would starve the applies of
// those very needs. What it starts waits in its init containers.
func (x *run) applyAhead(ctx context.Context, name string, a *aheadApply) {
	defer x.aheadWG.Done()
	defer close(a.done)
	st := x.p.Steps[name]
	x.r.emit(event.Event{Type: event.Starting, Node: name, Kind: string(st.Kind),
		Detail: string(st.Op) + " (ahead: the target holds it until " + strings.Join(st.Needs, ", ") + " are ready)"})
	n, err := x.r.Backend.Apply(ctx, name)
	if err == nil {
		x.mu.Lock()
		x.gens[name] = n.Generation()
		x.mu.Unlock()
	}
	a.node, a.err = n, err
}

// stillWaiting tells, for each node that needs the one just ready, what it
// still waits on (its progress line stays true).
func (x *run) stillWaiting(ready string) {
	for _, u := range x.p.graph.Users(ready) {
		var waiting []string
		x.mu.Lock()
		started := x.finished[u] || x.running[u] != nil
		for _, need := range x.p.Steps[u].Needs {
			if nr := x.res.Nodes[need]; nr == nil || (nr.Status != StatusReady && nr.Status != StatusUnchanged && nr.Status != StatusSkipped) {
				waiting = append(waiting, need)
			}
		}
		x.mu.Unlock()
		if !started && len(waiting) > 0 {
			x.r.emit(event.Event{Type: event.Waiting, Node: u, Kind: string(x.p.Steps[u].Kind), WaitingOn: waiting})
		}
	}
}

func (x *run) runBootstrap(ctx context.Context, name string) error {
	r := x.r
	if r.Bootstrap == nil {
		return errors.New("no bootstrap runner configured")
	}
	it, _ := x.p.graph.Node(name)
	b := it.Bootstrap
	timeout := r.BootstrapTimeout
	if b.Timeout.Duration > 0 {
		timeout = b.Timeout.Duration
	}
	bctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	err := r.Bootstrap(bctx, b, func(format string, args ...any) {
		r.emit(event.Event{Type: event.Log, Node: name, Kind: string(catalog.KindBootstrap), Detail: fmt.Sprintf(format, args...)})
	})
	if err != nil && bctx.Err() == context.DeadlineExceeded && ctx.Err() == nil {
		return fmt.Errorf("bootstrap %s did not finish in %s: %w", b.Name, timeout, err)
	}
	if err != nil || x.p.inputsHash == "" {
		return err
	}
	return x.record(ctx, name)
}

// record stores that bootstrap name completed against the catalog inputs
// and the units it needs as they are now.
func (x *run) record(ctx context.Context, name string) error {
	it, _ := x.p.graph.Node(name)
	x.mu.Lock()
	sum := recordSum(x.p.inputsHash, it.Bootstrap, x.p.Steps[name].Needs, func(n string) string { return x.gens[n] })
	x.mu.Unlock()
	if slices.Contains(x.p.rechecked, name) && x.p.snap.Records[name] == sum {
		return nil // an alwaysRun re-check: its record already says this
	}
	return x.r.Backend.Record(ctx, name, sum)
}
