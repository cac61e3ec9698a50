// Package supervisor brings an environment up on a backend and takes it
// down again: observe (one backend snapshot, found by label), plan (a pure
// function of the catalog graph and that snapshot: a value, printable),
// execute (along graph.Walk with bounded parallelism, each node proven ready
// before its dependents start, bootstraps run in-process, units that die
// failing their node at once). It never prints: it emits events. It knows
// no backend implementation: only the internal/backend contract.
package supervisor

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"

	"github.com/novadev/novadev/internal/backend"
	"github.com/novadev/novadev/internal/catalog"
)

// Operation is what the plan does with a node, a unit or a resource.
type Operation string

// Operations, from the least to the most disruptive for units.
const (
	// Keep: running with the same configuration hash: left alone (its
	// readiness is still checked); a bootstrap that completed before
	// against the same inputs and stores.
	Keep Operation = "keep"
	// Start: exists with the same configuration but is not running.
	Start Operation = "start"
	// Create: does not exist.
	Create Operation = "create"
	// Recreate: exists with another configuration or image: replaced.
	Recreate Operation = "recreate"
	// Run: a bootstrap, run in-process (each is idempotent).
	Run Operation = "run"
	// Skip: nothing to start (external store, optional store without
	// an image, a bootstrap of a skipped store).
	Skip Operation = "skip"
	// Delete: an orphan (no longer in the catalog), removed.
	Delete Operation = "delete"
)

var rank = map[Operation]int{Keep: 0, Start: 1, Create: 2, Recreate: 3}

// UnitStep is the plan for one unit of a node.
type UnitStep struct {
	Name   string
	Op     Operation
	Reason string
}

// Step is the plan for one graph node.
type Step struct {
	Node   string
	Kind   catalog.NodeKind
	Op     Operation
	Reason string
	Needs  []string
	Units  []UnitStep
	// Degraded, on a service, says which optional stores it needs are
	// skipped and why ("elasticsearch unavailable (no offline image; use
	// --images upstream or a mirror)"): it still starts, without them.
	Degraded []string
	// Unavailable, on a skipped optional store, says why nothing runs it
	// (no image for it in this environment, or none on the engine).
	Unavailable string
}

// ResourceStep is the plan for an instance-wide resource or an orphan.
type ResourceStep struct {
	Kind string // network, volume, container
	Name string
	Op   Operation
	Why  string
}

// Plan is what `up` will do, decided before anything changes: a value. It
// is built by MakePlan from the graph and one observation and never
// changed afterwards; how the run goes is kept in a Result.
type Plan struct {
	Instance  string
	Order     []string // topological: every node after what it needs
	Steps     map[string]Step
	Resources []ResourceStep // created, or removed (orphans)
	// MissingImages are images of nodes that must start but are not
	// available; Up refuses to start anything while there are any.
	MissingImages []string

	graph      *catalog.Graph
	snap       *backend.Snapshot
	inputsHash string
	// rechecked are the alwaysRun bootstraps run although their record
	// matched: their dependents treat them as kept.
	rechecked []string
	// restore, when set: the store volumes came from a snapshot.
	restore *Restore
	// restored are the bootstraps kept because the snapshot's stores hold
	// their result: they are proven (their full readiness check) and
	// recorded against the new units.
	restored []string
}

// Restore says an instance's store volumes were created from a snapshot
// (novadev up --from-snapshot) just before this plan.
type Restore struct {
	// Snapshot is the snapshot's name (plan reasons and the summary say it).
	Snapshot string
	// Stores are the store nodes whose volumes it holds.
	Stores []string
	// Completed are the bootstraps that had completed against those
	// stores when it was saved (their records matched then).
	Completed []string
}

// FromSnapshot is the snapshot the plan restores, or "".
func (p *Plan) FromSnapshot() string {
	if p.restore == nil {
		return ""
	}
	return p.restore.Snapshot
}

// Restored says whether node is a bootstrap kept because the snapshot's
// stores hold its result.
func (p *Plan) Restored(node string) bool { return slices.Contains(p.restored, node) }

// Graph is the graph the plan walks.
func (p *Plan) Graph() *catalog.Graph { return p.graph }

// MakePlan decides what to do: a pure function of the graph, one
// observation of the backend, and the hash of the catalog inputs that
// bootstraps read (empty: bootstraps always run). Neither input is changed.
// Graph nodes the backend does not run (external stores, stores the target
// does not provide) are skipped.
func MakePlan(g *catalog.Graph, snap *backend.Snapshot, inputsHash string) (*Plan, error) {
	return makePlan(g, snap, inputsHash, nil)
}

// MakeRestorePlan is MakePlan for a new instance whose store volumes were
// just created from a snapshot saved at the same inputsHash: the stores
// are created on that data, and each bootstrap that had completed against
// it is kept (it is proven by its readiness check and recorded against the
// new units) when everything it needs is restored or current too. Two
// still run: postgres-init (it runs on every up: it sets this instance's
// passwords) and redis-cluster-init (nodes.conf names the saved nodes'
// addresses; the new containers have others: it meets them again, slots
// and keys come from the snapshot).
func MakeRestorePlan(g *catalog.Graph, snap *backend.Snapshot, inputsHash string, r Restore) (*Plan, error) {
	return makePlan(g, snap, inputsHash, &r)
}

// restoreRuns are the steps run on a restore although the snapshot holds
// their result, and why: their result depends on the units, not only on
// the data.
var restoreRuns = map[string]string{
	catalog.StepRedisClusterInit: "the restored nodes have new addresses: meets them again; slots and keys come from the snapshot",
}

// NotRendered is why an optional store is unavailable when the backend's
// translation of the environment holds nothing for it (no node in the
// observation): the kind dev overlay, for one, deletes Elasticsearch.
const NotRendered = "this target's rendering runs nothing for it (no image in its overlay)"

func makePlan(g *catalog.Graph, snap *backend.Snapshot, inputsHash string, restore *Restore) (*Plan, error) {
	order, err := g.TopoOrder()
	if err != nil {
		return nil, err
	}
	p := &Plan{Instance: snap.Instance, Order: order, Steps: map[string]Step{}, graph: g, snap: snap, inputsHash: inputsHash, restore: restore}
	missing := map[string]bool{}
	started := map[string]bool{}
	for _, name := range order {
		it, _ := g.Node(name)
		st := Step{Node: name, Kind: it.Kind, Needs: g.Needs(name)}
		switch {
		case it.Kind == catalog.KindBootstrap:
			st.Op = Run
			if store := it.Bootstrap.Store.Value; store != "" && p.Steps[store].Op == Skip {
				st.Op, st.Reason = Skip, "its store "+store+" is not started"
			} else if p.bootstrapKept(st, it.Bootstrap) {
				st.Op, st.Reason = Keep, "completed before with the same catalog and stores"
				if alwaysRun[it.Bootstrap.Step] && !snap.BootstrapsAreJobs {
					// still current for its dependents (they stay kept),
					// but run: it reverts hand-made privilege changes
					// (not where bootstraps are Jobs: the backend keeps a
					// completed one, so a run would only say it did)
					st.Op, st.Reason = Run, "runs on every up: reverts hand-made role and grant changes"
					p.rechecked = append(p.rechecked, name)
				}
			} else if p.restoredKept(st, it.Bootstrap) {
				from := "from snapshot " + restore.Snapshot
				switch {
				case alwaysRun[it.Bootstrap.Step]:
					st.Op, st.Reason = Run, from+"; runs on every up: sets this instance's passwords"
					p.rechecked = append(p.rechecked, name)
				case restoreRuns[it.Bootstrap.Step] != "":
					st.Op, st.Reason = Run, from+"; "+restoreRuns[it.Bootstrap.Step]
					p.rechecked = append(p.rechecked, name)
				default:
					st.Op, st.Reason = Keep, from+": its stores hold what it completed"
					p.restored = append(p.restored, name)
				}
			}
		case it.Kind == catalog.KindStore && it.Store.External:
			st.Op, st.Reason = Skip, "external store: not started here"
			if it.Store.URI != "" {
				st.Reason += " (services use " + it.Store.URI + ")"
			}
		case it.Kind == catalog.KindStore && it.Unavailable != "":
			// the environment has no image for it (catalog.Unavailable),
			// whatever the engine holds: the renderers say the same
			st.Unavailable = it.Unavailable
			st.Op, st.Reason = Skip, "unavailable, its users run degraded: "+it.Unavailable
		default:
			n := snap.Nodes[name]
			if n == nil && it.Kind == catalog.KindStore && it.Store.Optional {
				// the target's rendering leaves it out (the kind dev
				// overlay runs the offline set only, whatever --images
				// says): its users run degraded, as on Docker
				st.Unavailable = NotRendered
				st.Op, st.Reason = Skip, "unavailable, its users run degraded: "+st.Unavailable
				break
			}
			if n == nil || len(n.Units) == 0 {
				st.Op, st.Reason = Skip, "nothing to run for it on this target"
				break
			}
			if len(n.MissingImages) > 0 && it.Kind == catalog.KindStore && it.Store.Optional {
				st.Unavailable = "image " + strings.Join(n.MissingImages, ", ") + " is not on the engine; pull it or use a mirror"
				st.Op, st.Reason = Skip, "unavailable, its users run degraded: "+st.Unavailable
				break
			}
			for _, im := range n.MissingImages {
				missing[im] = true
			}
			st.Op = Keep
			for _, u := range n.Units {
				us := UnitStep{Name: u.Name}
				switch {
				case u.State == backend.Missing:
					us.Op = Create
				case u.Have != u.Want:
					us.Op, us.Reason = Recreate, "configuration or image changed"
				case u.State != backend.Running:
					us.Op, us.Reason = Start, "was "+u.State
				default:
					us.Op = Keep
				}
				if rank[us.Op] > rank[st.Op] {
					st.Op = us.Op
				}
				st.Units = append(st.Units, us)
			}
		}
		if it.Kind == catalog.KindService {
			for _, need := range st.Needs {
				if why := p.Steps[need].Unavailable; why != "" {
					st.Degraded = append(st.Degraded, need+" unavailable ("+why+")")
				}
			}
		}
		if st.Op != Skip {
			started[name] = true
		}
		p.Steps[name] = st
	}
	for _, r := range snap.Resources {
		if r.Exists {
			continue
		}
		if len(r.Nodes) > 0 && !slices.ContainsFunc(r.Nodes, func(n string) bool { return started[n] }) {
			continue // only skipped nodes use it (an optional store without image)
		}
		p.Resources = append(p.Resources, ResourceStep{Kind: r.Kind, Name: r.Name, Op: Create})
	}
	for _, o := range snap.Orphans {
		p.Resources = append(p.Resources, ResourceStep{Kind: "container", Name: o.Name, Op: Delete, Why: "not in the catalog any more"})
	}
	for im := range missing {
		p.MissingImages = append(p.MissingImages, im)
	}
	slices.Sort(p.MissingImages)
	return p, nil
}

// alwaysRun are the steps run on every `up` even when their record matches:
// postgres-init corrects roles, memberships, attributes and grants, so a
// GRANT made by hand is revoked by the next `up` (issue 11). Its warm cost is
// one no-op pass (docs/decisions.md). Its dependents still count it as kept.
// Where bootstraps are Jobs (backend.Snapshot.BootstrapsAreJobs) it is kept
// like any other: a warm up there changes no object (decision 46).
var alwaysRun = map[string]bool{catalog.StepPostgresInit: true}

// bootstrapKept says whether a bootstrap can be kept: it completed before
// against the same catalog inputs and the same store instances, and
// everything it needs is kept too.
func (p *Plan) bootstrapKept(st Step, b *catalog.Bootstrap) bool {
	if p.inputsHash == "" {
		return false
	}
	for _, need := range st.Needs {
		if op := p.Steps[need].Op; op != Keep && op != Skip && !slices.Contains(p.rechecked, need) {
			return false
		}
	}
	have, ok := p.snap.Records[b.Name]
	return ok && have == recordSum(p.inputsHash, b, st.Needs, func(n string) string {
		if node := p.snap.Nodes[n]; node != nil {
			return node.Generation()
		}
		return ""
	})
}

// restoredKept says whether a bootstrap's result came with the snapshot:
// it had completed against the saved stores, and everything it needs is a
// restored store or a bootstrap that is current.
func (p *Plan) restoredKept(st Step, b *catalog.Bootstrap) bool {
	if p.restore == nil || p.inputsHash == "" || !slices.Contains(p.restore.Completed, b.Name) {
		return false
	}
	for _, need := range st.Needs {
		nst := p.Steps[need]
		switch {
		case nst.Kind == catalog.KindStore && nst.Op != Skip && slices.Contains(p.restore.Stores, need):
		case nst.Kind == catalog.KindBootstrap && (nst.Op == Keep || slices.Contains(p.rechecked, need)):
		default:
			return false
		}
	}
	return true
}

// recordSum hashes what a bootstrap ran against: the catalog inputs and
// the generation (unit IDs) of every node it needs.
func recordSum(inputs string, b *catalog.Bootstrap, needs []string, generation func(string) string) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00%s\x00", inputs, b.Name, b.Step)
	for _, need := range needs {
		fmt.Fprintf(h, "%s", generation(need))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Current says whether node's step is up to date: kept, or a bootstrap that
// runs on every up (alwaysRun) although its record matches.
func (p *Plan) Current(node string) bool {
	return p.Steps[node].Op == Keep || slices.Contains(p.rechecked, node)
}

// Changes counts the units and resources the plan creates, starts,
// replaces or removes: 0 means `up` leaves the target as it is (bootstraps
// may still run; they change nothing when there is nothing to do).
func (p *Plan) Changes() int {
	n := len(p.Resources)
	for _, st := range p.Steps {
		for _, u := range st.Units {
			if u.Op != Keep {
				n++
			}
		}
	}
	return n
}

// Apply lists the nodes whose units the plan changes, in order.
func (p *Plan) Apply() []string {
	var out []string
	for _, n := range p.Order {
		switch p.Steps[n].Op {
		case Create, Recreate, Start:
			out = append(out, n)
		}
	}
	return out
}

// Started lists the nodes that are not skipped, in order.
func (p *Plan) Started() []string {
	var out []string
	for _, n := range p.Order {
		if p.Steps[n].Op != Skip {
			out = append(out, n)
		}
	}
	return out
}

// String prints the plan, one line per resource and node, in start order.
func (p *Plan) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "project %s: %d changes\n", p.Instance, p.Changes())
	for _, r := range p.Resources {
		line := fmt.Sprintf("  %s %s: %s", r.Kind, r.Name, r.Op)
		if r.Why != "" {
			line += " (" + r.Why + ")"
		}
		b.WriteString(line + "\n")
	}
	for _, name := range p.Order {
		st := p.Steps[name]
		line := fmt.Sprintf("  %s %s: %s", st.Kind, name, st.Op)
		reason := st.Reason
		if len(st.Units) == 1 && st.Units[0].Reason != "" {
			reason = st.Units[0].Reason
		}
		if reason != "" {
			line += " (" + reason + ")"
		}
		if len(st.Needs) > 0 {
			line += " after " + strings.Join(st.Needs, ", ")
		}
		if len(st.Degraded) > 0 {
			line += "; degraded: " + strings.Join(st.Degraded, "; ")
		}
		b.WriteString(line + "\n")
		if len(st.Units) > 1 {
			for _, u := range st.Units {
				ul := fmt.Sprintf("    %s: %s", u.Name, u.Op)
				if u.Reason != "" {
					ul += " (" + u.Reason + ")"
				}
				b.WriteString(ul + "\n")
			}
		}
	}
	if len(p.MissingImages) > 0 {
		fmt.Fprintf(&b, "  missing images: %s\n", strings.Join(p.MissingImages, ", "))
	}
	return b.String()
}

// SnapshotContent says, from a plan of a running instance, what a snapshot
// of it would hold: the stores that run unchanged and the bootstraps that
// are current against them (their records match the catalog inputs and
// those very units). A store that is stopped or changed, or a bootstrap of
// a running store that is not current, is a problem: the snapshot would
// carry a state no bootstrap vouches for. Stores the instance does not run
// (up --only) are left out.
func (p *Plan) SnapshotContent() (stores, completed []string, problems []string) {
	var exist []string // stores with units, running or not
	for _, name := range p.Order {
		st := p.Steps[name]
		switch st.Kind {
		case catalog.KindStore:
			switch st.Op {
			case Keep:
				stores = append(stores, name)
				exist = append(exist, name)
			case Start, Recreate:
				exist = append(exist, name)
				why := ""
				for _, u := range st.Units {
					if u.Op != Keep && why == "" {
						why = u.Name + " " + u.Reason
					}
				}
				problems = append(problems, fmt.Sprintf("store %s would be %s by up (%s)", name, map[Operation]string{Start: "started", Recreate: "recreated"}[st.Op], why))
			}
		case catalog.KindBootstrap:
			it, _ := p.graph.Node(name)
			store := it.Bootstrap.Store.Value
			current := p.Current(name)
			switch {
			case store != "" && !slices.Contains(exist, store):
				// its store is not part of the instance
			case current:
				completed = append(completed, name)
			case store != "":
				problems = append(problems, fmt.Sprintf("bootstrap %s has not completed against the running %s and the current catalog", name, store))
			}
		}
	}
	if len(stores) == 0 && len(problems) == 0 {
		problems = append(problems, "no store of the instance is running")
	}
	return stores, completed, problems
}
