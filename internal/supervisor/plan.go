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
}

// Graph is the graph the plan walks.
func (p *Plan) Graph() *catalog.Graph { return p.graph }

// MakePlan decides what to do: a pure function of the graph, one
// observation of the backend, and the hash of the catalog inputs that
// bootstraps read (empty: bootstraps always run). Neither input is changed.
// Graph nodes the backend does not run (external stores, stores the target
// does not provide) are skipped.
func MakePlan(g *catalog.Graph, snap *backend.Snapshot, inputsHash string) (*Plan, error) {
	order, err := g.TopoOrder()
	if err != nil {
		return nil, err
	}
	p := &Plan{Instance: snap.Instance, Order: order, Steps: map[string]Step{}, graph: g, snap: snap, inputsHash: inputsHash}
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
				if alwaysRun[it.Bootstrap.Step] {
					// still current for its dependents (they stay kept),
					// but run: it reverts hand-made privilege changes
					st.Op, st.Reason = Run, "runs on every up: reverts hand-made role and grant changes"
					p.rechecked = append(p.rechecked, name)
				}
			}
		case it.Kind == catalog.KindStore && it.Store.External:
			st.Op, st.Reason = Skip, "external store: not started here"
			if it.Store.URI != "" {
				st.Reason += " (services use " + it.Store.URI + ")"
			}
		default:
			n := snap.Nodes[name]
			if n == nil || len(n.Units) == 0 {
				st.Op, st.Reason = Skip, "nothing to run for it on this target"
				break
			}
			if len(n.MissingImages) > 0 && it.Kind == catalog.KindStore && it.Store.Optional {
				st.Op, st.Reason = Skip, "optional store: image "+strings.Join(n.MissingImages, ", ")+" is not available; its users start without it"
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
