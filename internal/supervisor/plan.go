package supervisor

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"

	"github.com/novadev/novadev/internal/catalog"
	"github.com/novadev/novadev/internal/driver"
	"github.com/novadev/novadev/internal/state"
)

// Action is what the plan does with a node or one of its containers.
type Action string

// Actions, from the least to the most disruptive.
const (
	// Keep: running with the same configuration hash: left alone (its
	// readiness is still checked).
	Keep Action = "keep"
	// Start: exists with the same configuration but is not running.
	Start Action = "start"
	// Create: does not exist.
	Create Action = "create"
	// Recreate: exists with another configuration or image: replaced.
	Recreate Action = "recreate"
	// Run: a bootstrap, run in-process every time (each is idempotent).
	Run Action = "run"
	// Skip: nothing to start (external store, optional store without
	// an image, a bootstrap of a skipped store).
	Skip Action = "skip"
)

var rank = map[Action]int{Keep: 0, Start: 1, Create: 2, Recreate: 3}

// ContainerStep is the plan for one container.
type ContainerStep struct {
	Workload driver.Workload
	Hash     string
	Action   Action
	Reason   string           // why Recreate or Start
	Existing *state.Container // the observed container, if any
	ID       string           // the container's ID once known
}

// NodeStep is the plan for one graph node.
type NodeStep struct {
	Name       string
	Kind       catalog.NodeKind
	Action     Action
	Reason     string // why Skip
	Containers []ContainerStep
	Needs      []string
	bootstrap  *catalog.Bootstrap
	// marker is the bootstrap's done-marker to write after it ran, and
	// markerOld the one to replace.
	marker    driver.VolumeSpec
	markerOld string
	plan      *Plan
}

// Plan is what `up` will do, decided before anything changes.
type Plan struct {
	Project  string
	Graph    *catalog.Graph
	Spec     *Spec
	Order    []string // topological: every node after what it needs
	Nodes    map[string]*NodeStep
	Networks []driver.NetworkSpec // to create
	Volumes  []driver.VolumeSpec  // to create
	// Orphans are the project's containers that no longer belong to it
	// (a service removed from the catalog): they are removed.
	Orphans []state.Container
	// MissingImages are images of nodes that must start but are not on
	// the engine; Execute refuses to start anything while there are any.
	MissingImages []string
}

// MakePlan decides what to do: a pure function of the graph, the desired
// containers, what the engine has, and the image IDs found on it (an image
// absent from images is not available). Graph nodes without containers
// (external stores, stores not in the spec) are skipped.
func MakePlan(g *catalog.Graph, spec *Spec, obs *state.Observed, images map[string]string) (*Plan, error) {
	order, err := g.TopoOrder()
	if err != nil {
		return nil, err
	}
	p := &Plan{Project: spec.Identity.Project, Graph: g, Spec: spec, Order: order, Nodes: map[string]*NodeStep{}}
	for _, n := range spec.Networks {
		if obs.Network(n.Name) == nil {
			p.Networks = append(p.Networks, n)
		}
	}
	wanted := map[string]bool{}
	missing := map[string]bool{}
	for _, name := range order {
		it, _ := g.Node(name)
		ns := &NodeStep{Name: name, Kind: it.Kind, Needs: g.Needs(name), plan: p}
		p.Nodes[name] = ns
		switch it.Kind {
		case catalog.KindBootstrap:
			ns.Action, ns.bootstrap = Run, it.Bootstrap
			if st := it.Bootstrap.Store.Value; st != "" {
				if sn := p.Nodes[st]; sn != nil && sn.Action == Skip {
					ns.Action, ns.Reason = Skip, "its store "+st+" is not started"
					continue
				}
			}
			p.bootstrapMarker(ns, obs)
			continue
		case catalog.KindStore:
			if it.Store.External {
				ns.Action, ns.Reason = Skip, "external store: not started here"
				if it.Store.URI != "" {
					ns.Reason += " (services use " + it.Store.URI + ")"
				}
				continue
			}
		}
		ws := spec.Nodes[name]
		if len(ws) == 0 {
			ns.Action, ns.Reason = Skip, "no container in the compose project"
			continue
		}
		var absent []string
		for _, w := range ws {
			if _, ok := images[w.Image]; !ok && !slices.Contains(absent, w.Image) {
				absent = append(absent, w.Image)
			}
		}
		if len(absent) > 0 && it.Kind == catalog.KindStore && it.Store.Optional {
			ns.Action, ns.Reason = Skip, "optional store: image "+strings.Join(absent, ", ")+" is not available; its users start without it"
			continue
		}
		for _, im := range absent {
			missing[im] = true
		}
		ns.Action = Keep
		for _, w := range ws {
			wanted[w.Name] = true
			hash := driver.Hash(w, images[w.Image])
			w.Labels[state.LabelConfigHash] = hash
			cs := ContainerStep{Workload: w, Hash: hash}
			if c := obs.Service(w.Service); c != nil {
				cs.Existing, cs.ID = c, c.ID
				switch {
				case c.ConfigHash != hash:
					cs.Action, cs.Reason = Recreate, "configuration or image changed"
				case c.State != state.Running:
					cs.Action, cs.Reason = Start, "was "+c.State
				default:
					cs.Action = Keep
				}
			} else {
				cs.Action = Create
			}
			if rank[cs.Action] > rank[ns.Action] {
				ns.Action = cs.Action
			}
			ns.Containers = append(ns.Containers, cs)
		}
	}
	// volumes of skipped nodes (an optional store without image) are not made
	used := map[string]bool{}
	for _, ns := range p.Nodes {
		for _, c := range ns.Containers {
			for _, m := range c.Workload.Mounts {
				used[m.Source] = true
			}
		}
	}
	for _, v := range spec.Volumes {
		if used[v.Name] && obs.Volume(v.Name) == nil {
			p.Volumes = append(p.Volumes, v)
		}
	}
	for _, c := range obs.Containers {
		if !wanted[c.Name] && !spec.hasService(c.Service) {
			p.Orphans = append(p.Orphans, c)
		}
	}
	for im := range missing {
		p.MissingImages = append(p.MissingImages, im)
	}
	slices.Sort(p.MissingImages)
	return p, nil
}

func (s *Spec) hasService(name string) bool {
	_, ok := s.Service(name)
	return ok
}

// Changes counts the containers, networks and volumes the plan creates,
// starts, replaces or removes: 0 means `up` leaves the engine as it is
// (bootstraps still run; they change nothing when there is nothing to do).
func (p *Plan) Changes() int {
	n := len(p.Networks) + len(p.Volumes) + len(p.Orphans)
	for _, ns := range p.Nodes {
		for _, c := range ns.Containers {
			if c.Action != Keep {
				n++
			}
		}
	}
	return n
}

// String prints the plan, one line per resource and node, in start order.
func (p *Plan) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "project %s: %d changes\n", p.Project, p.Changes())
	for _, n := range p.Networks {
		fmt.Fprintf(&b, "  network %s: create\n", n.Name)
	}
	for _, v := range p.Volumes {
		fmt.Fprintf(&b, "  volume %s: create\n", v.Name)
	}
	for _, o := range p.Orphans {
		fmt.Fprintf(&b, "  container %s: remove (not in the catalog any more)\n", o.Name)
	}
	for _, name := range p.Order {
		ns := p.Nodes[name]
		line := fmt.Sprintf("  %s %s: %s", ns.Kind, name, ns.Action)
		reason := ns.Reason
		if len(ns.Containers) == 1 && ns.Containers[0].Reason != "" {
			reason = ns.Containers[0].Reason
		}
		if reason != "" {
			line += " (" + reason + ")"
		}
		if len(ns.Needs) > 0 {
			line += " after " + strings.Join(ns.Needs, ", ")
		}
		b.WriteString(line + "\n")
		if len(ns.Containers) > 1 {
			for _, c := range ns.Containers {
				cl := fmt.Sprintf("    %s: %s", c.Workload.Name, c.Action)
				if c.Reason != "" {
					cl += " (" + c.Reason + ")"
				}
				b.WriteString(cl + "\n")
			}
		}
	}
	if len(p.MissingImages) > 0 {
		fmt.Fprintf(&b, "  missing images: %s\n", strings.Join(p.MissingImages, ", "))
	}
	return b.String()
}

// MarkerLabel holds a bootstrap's input hash on its done-marker volume.
const MarkerLabel = "dev.novadev.bootstrap-hash"

// MarkerVolume is the name of a bootstrap's done-marker: an empty volume
// whose label records what the bootstrap last completed against (labels are
// the state: no file remembers it).
func MarkerVolume(project, bootstrap string) string {
	return project + "_novadev-bootstrap-" + bootstrap
}

// bootstrapMarker decides whether a bootstrap can be kept: it completed
// before against the same catalog inputs and the same store containers,
// and everything it needs is kept too. Otherwise it runs, and its marker is
// rewritten once it succeeds.
func (p *Plan) bootstrapMarker(ns *NodeStep, obs *state.Observed) {
	keep := p.Spec.InputsHash != ""
	for _, need := range ns.Needs {
		if nn := p.Nodes[need]; nn == nil || (nn.Action != Keep && nn.Action != Skip) {
			keep = false
		}
	}
	name := MarkerVolume(p.Project, ns.Name)
	ns.marker = driver.VolumeSpec{Name: name, Labels: p.Spec.Identity.VolumeLabels("novadev-bootstrap-" + ns.Name)}
	old := obs.Volume(name)
	if old != nil {
		ns.markerOld = old.Name
	}
	if keep && old != nil && old.Labels[MarkerLabel] == p.markerSum(ns) {
		ns.Action, ns.Reason = Keep, "completed before with the same catalog and stores"
	}
}

// markerSum hashes what a bootstrap ran against: the catalog inputs and
// the IDs of the containers of every node it needs.
func (p *Plan) markerSum(ns *NodeStep) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00%s\x00", p.Spec.InputsHash, ns.bootstrap.Name, ns.bootstrap.Step)
	for _, need := range ns.Needs {
		if nn := p.Nodes[need]; nn != nil {
			for _, c := range nn.Containers {
				fmt.Fprintf(h, "%s\x00", c.ID)
			}
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}
