// Package backend is the contract between the supervisor and whatever runs
// an environment (Docker now, a Kubernetes cluster next), at the level of
// the supervisor's unit: a catalog graph node. A backend owns its own
// translation of the catalog (a compose project, a rendered overlay), its
// convergence, its addressing and its records; the supervisor only decides,
// per node, what to do and when, and proves readiness.
//
// Backends live in subpackages (docker); a fake for tests lives in
// backend/fake. Backends never import the supervisor or each other.
package backend

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"time"
)

// ErrNotFound says a node, unit or resource does not exist.
var ErrNotFound = errors.New("not found")

// Info describes the machinery a backend drives.
type Info struct {
	Target        string `json:"target"`        // docker, kind, kube
	Engine        string `json:"engine"`        // e.g. Docker
	ServerVersion string `json:"serverVersion"` // e.g. 20.10.24
	APIVersion    string `json:"apiVersion"`    // negotiated, e.g. 1.41
	OS            string `json:"os"`
	CPUs          int    `json:"cpus"`
	MemoryBytes   int64  `json:"memoryBytes"`
}

// Unit states.
const (
	Running = "running"
	Created = "created"
	Exited  = "exited"
	Missing = "missing" // wanted, does not exist
)

// Port is where one port of a unit is reachable: by its name inside the
// environment (what services and the stores' own announcements use) and
// from the supervisor's machine (what probes, bootstraps and the endpoint
// list use).
type Port struct {
	Unit      string `json:"unit"`      // e.g. redis-2
	Internal  string `json:"internal"`  // e.g. redis-2:7002
	Container int    `json:"container"` // e.g. 7002
	HostIP    string `json:"hostIP"`    // e.g. 127.0.0.1
	HostPort  int    `json:"hostPort"`  // e.g. 20012
	// Aliases are other internal names of the unit (network aliases).
	Aliases []string `json:"aliases,omitempty"`
}

// Host is the address the supervisor dials: "127.0.0.1:20012".
func (p Port) Host() string {
	ip := p.HostIP
	if ip == "" || ip == "0.0.0.0" {
		ip = "127.0.0.1"
	}
	return fmt.Sprintf("%s:%d", ip, p.HostPort)
}

// Unit is one running piece of a node (a container, a pod): what is wanted
// and what was observed. A Redis Cluster store has one unit per cluster
// node.
type Unit struct {
	Name    string `json:"name"`    // the engine's name, e.g. nova-ci-redis-2-1
	Service string `json:"service"` // the short name people use, e.g. redis-2
	Node    string `json:"node"`
	// ID identifies the observed instance (container ID, pod UID); it
	// changes when the unit is recreated. Empty when it does not exist.
	ID      string    `json:"id,omitempty"`
	State   string    `json:"state"`            // Running, Created, Exited, Missing
	Want    string    `json:"-"`                // the configuration hash wanted
	Have    string    `json:"-"`                // the configuration hash observed
	Image   string    `json:"image"`            // the image reference it runs
	Started time.Time `json:"started,omitzero"` // when it last started
	Ports   []Port    `json:"ports,omitempty"`
}

// Node is one graph node as the backend sees it.
type Node struct {
	Name  string `json:"name"`
	Units []Unit `json:"units"`
	// MissingImages are images its units need that are not available.
	MissingImages []string `json:"missingImages,omitempty"`
}

// Generation identifies the running instance of the node: it changes
// whenever one of its units is recreated (a bootstrap record keyed on it
// knows its store was replaced).
func (n *Node) Generation() string {
	s := ""
	for _, u := range n.Units {
		s += u.ID + "\x00"
	}
	return s
}

// Resource is an instance-wide resource (a network, a volume, a namespace).
type Resource struct {
	Kind   string `json:"kind"` // network, volume
	Name   string `json:"name"`
	Exists bool   `json:"exists"`
	// Nodes lists the nodes that need it; empty: the whole instance.
	Nodes []string `json:"nodes,omitempty"`
}

// Snapshot is everything one observation found, with what is wanted.
// Nodes holds only the nodes this backend runs (an external store, or a
// store the target does not provide, is absent).
type Snapshot struct {
	Instance  string           `json:"instance"` // e.g. the compose project
	Nodes     map[string]*Node `json:"nodes"`
	Resources []Resource       `json:"resources"`
	// Orphans are units of the instance that belong to no wanted node (a
	// service removed from the catalog).
	Orphans []Unit `json:"orphans,omitempty"`
	// Records holds what each bootstrap last completed against (its
	// record sum), by bootstrap name.
	Records map[string]string `json:"records,omitempty"`
	// BootstrapsAreJobs: the backend runs bootstraps as Jobs and keeps one
	// that completed against the same configuration and stores (the kube
	// backend). A bootstrap the supervisor would run on every up anyway
	// (postgres-init) is then kept: running it again would replace its Job
	// on every up, which a warm up must not do.
	BootstrapsAreJobs bool `json:"bootstrapsAreJobs,omitempty"`
}

// LogOptions select which log lines to read.
type LogOptions struct {
	Follow bool
	Tail   int // 0: all
}

// LogStream is the log of one unit.
type LogStream struct {
	Unit string // Unit.Service, e.g. redis-2
	Name string // Unit.Name, e.g. nova-ci-redis-2-1
	io.ReadCloser
}

// Failure is a terminal failure of a unit, reported as it happens: it
// exited, was killed, ran out of memory, restarts, or its image is missing.
type Failure struct {
	Node     string
	Unit     string
	ExitCode int
	Reason   string // e.g. "exited with code 137 (killed)"
}

func (f Failure) Error() string { return f.Unit + " " + f.Reason }

// Backend runs the nodes of one environment instance on one target.
type Backend interface {
	// Info checks the machinery is reachable and describes it.
	Info(ctx context.Context) (Info, error)
	// Observe finds what exists (by label) next to what is wanted.
	Observe(ctx context.Context) (*Snapshot, error)
	// Ports says where each port of a node is reachable, from the wanted
	// configuration (no observation needed).
	Ports(node string) []Port
	// Preflight checks, before anything changes, that the nodes about to
	// be applied can be (their host ports are free or already theirs); it
	// reports every problem at once.
	Preflight(ctx context.Context, snap *Snapshot, apply []string) error
	// Prepare creates the instance-wide resources the nodes in start need
	// and removes orphans.
	Prepare(ctx context.Context, snap *Snapshot, start []string) error
	// Apply brings a node to what is wanted: creates missing units,
	// replaces changed ones, starts stopped ones. It returns the node as
	// it now is.
	Apply(ctx context.Context, node string) (*Node, error)
	// Delete stops and removes a node's units (killing them at once when
	// volumes are going too: nothing survives to shut down gracefully).
	Delete(ctx context.Context, node string, volumes bool) error
	// Teardown removes everything of the instance that is left: units of
	// unknown nodes, networks, and with volumes its volumes and records.
	// It returns what it removed.
	Teardown(ctx context.Context, volumes bool) ([]Resource, error)
	// Record stores that a bootstrap completed against sum.
	Record(ctx context.Context, bootstrap, sum string) error
	// Logs streams the logs of a node's units.
	Logs(ctx context.Context, node string, opts LogOptions) ([]LogStream, error)
	// Usage returns a running unit's memory use in bytes.
	Usage(ctx context.Context, unitID string) (uint64, error)
	// Watch reports terminal failures of the instance's units as they
	// happen until ctx ends. Failures of units the backend itself stops
	// or replaces are not reported.
	Watch(ctx context.Context) (<-chan Failure, error)
	// Close releases the backend's clients.
	Close() error
}

// NeedGater is implemented by backends whose units wait by themselves for
// the services a service needs (the kube backend: a Deployment's init
// containers wait on each of them). The supervisor may then apply a service
// as soon as the services it needs are applied, not ready: its pods are
// scheduled and start while their needs come up. Readiness is still proven
// in graph order, and stores and bootstraps still gate what needs them.
type NeedGater interface {
	GatesServiceNeeds() bool
}

// Explainer is implemented by backends whose probe connections can fail
// for reasons a client never sees (the kube backend's port-forwards: the
// client reads EOF, the forward knows the pod's or the kubelet's reason).
// The supervisor passes a failed readiness probe's error of node through
// Explain, with the time the probing began.
type Explainer interface {
	Explain(node string, since time.Time, err error) error
}

// Tail reads the last n lines of every container of a node, by unit name.
func Tail(ctx context.Context, b Backend, node string, n int) map[string][]string {
	streams, err := b.Logs(ctx, node, LogOptions{Tail: n})
	if err != nil {
		return nil
	}
	out := map[string][]string{}
	for _, s := range streams {
		var lines []string
		sc := bufio.NewScanner(s)
		for sc.Scan() {
			lines = append(lines, sc.Text())
		}
		s.Close()
		out[s.Name] = lines
	}
	return out
}

// StoreCopy is one saved copy of an instance's store volumes (a user's
// "snapshot"; not to be confused with Snapshot, one observation). Labels
// hold what the caller recorded with it (inputs, credentials fingerprints,
// completed bootstraps): the backend stores them and gives them back.
type StoreCopy struct {
	Name    string            `json:"name"`
	Env     string            `json:"env"`
	Source  string            `json:"source"` // the project it was saved from
	Created time.Time         `json:"created"`
	Size    int64             `json:"sizeBytes"`
	Volumes []string          `json:"volumes"` // the store volumes' compose keys, e.g. postgres-data
	Labels  map[string]string `json:"-"`
}

// Snapshotter is implemented by backends that can save the store volumes of
// their instance and create another instance's store volumes from such a
// copy (Docker). The supervisor never needs it: the composition root does.
type Snapshotter interface {
	// SaveStores copies the volumes of the nodes' units into a new copy
	// called name, holding the units still (paused, not stopped) while
	// it copies. An existing copy of that name is an error.
	SaveStores(ctx context.Context, name string, nodes []string, labels map[string]string) (StoreCopy, error)
	// RestoreStores creates the instance's store volumes from the copy,
	// before any unit mounts them; a volume that exists already is an
	// error (nothing is overwritten).
	RestoreStores(ctx context.Context, c StoreCopy) error
	// StoreCopies lists every copy on the target, by name.
	StoreCopies(ctx context.Context) ([]StoreCopy, error)
	// RemoveStoreCopy deletes a copy (ErrNotFound when there is none).
	RemoveStoreCopy(ctx context.Context, name string) error
}
