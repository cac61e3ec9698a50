// Package verify checks a running Nova instance the way the "Nova Staging
// Environment Deployment Guide" does by hand (its Steps 3-6 and "Monitoring
// & Verification"): bootstraps completed, services ready, gRPC health and
// reflection, metrics, per-service database logins (and refusals),
// migrations, the Redis Cluster, the Kafka topics and the ClickHouse
// schema, plus checks only a Kubernetes target can answer (init
// containers, in-cluster DNS, NetworkPolicies).
//
// Checks are typed values built from the catalog (Checks) and run by Run.
// Each declares the graph nodes it needs: when a node's own check fails,
// the checks that need it fail by name without being run, and every other
// check still runs, so one broken store never hides the state of the rest.
// The instance is reached only through the Instance interface, so the same
// checks serve any backend (Docker today, kind later).
package verify

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/novadev/novadev/internal/catalog"
)

// ErrNotPublished says a node's port cannot be reached from here on this
// target: checks that need it are skipped with the reason, not failed.
var ErrNotPublished = errors.New("port not reachable from the host on this target")

// SkipError, returned by a check's Run, marks the check skipped rather
// than failed: what it would look at cannot be reached on this target, and
// the report says so.
type SkipError struct{ Reason string }

func (e *SkipError) Error() string { return e.Reason }

// Instance is a running environment as verify sees it. Backends implement
// it; nothing here knows about Docker or Kubernetes.
type Instance interface {
	// Name is the instance's name for reports (a compose project, a
	// namespace).
	Name() string
	// Catalog is the catalog and environment the instance runs.
	Catalog() *catalog.Catalog
	// Address returns the host:port where a node's container port is
	// reachable from this process (for a Redis Cluster store, each node's
	// own port: 7001, 7002, ...), or an error wrapping ErrNotPublished.
	Address(node string, port int) (string, error)
	// Dial connects to an address as the instance's own network names it
	// (kafka:9092, redis-2:7002): clients follow what stores advertise, so
	// a backend that publishes ports maps those names to the host side.
	Dial(ctx context.Context, network, addr string) (net.Conn, error)
	// Credential returns a secret by its variable name
	// (catalog.SuperuserPasswordVar, catalog.PasswordVar(user)).
	Credential(name string) (string, error)
	// Node reports what the backend itself records about a graph node.
	Node(ctx context.Context, name string) (NodeState, error)
	// LogTail returns about the last lines log lines of a node (every
	// container of it, each line prefixed with the container).
	LogTail(ctx context.Context, node string, lines int) (string, error)
}

// Explainer is an Instance whose connections can fail for reasons a
// client never sees (a port-forward: the client reads EOF, the forward
// knows the pod's or the kubelet's reason). Checks returns checks whose
// failures go through Explain: err with those reasons added, for a check
// of node that started at since.
type Explainer interface {
	Explain(node string, since time.Time, err error) error
}

// NodeState is what a backend records about a graph node.
type NodeState struct {
	// Ready: for stores and services, every container runs (Docker) or
	// every pod is Ready (kind); for bootstraps, it completed against the
	// instance's current inputs.
	Ready bool
	// Detail says why not ready, or what was found ("3 containers running").
	Detail string
	// Skip, when set, says the backend does not run the node here (an
	// optional store without an image, a bootstrap of such a store): its
	// checks are skipped with this reason instead of failing.
	Skip string
}

// Kind is the type of a check.
type Kind string

// Check kinds, in the order of the staging guide's steps.
const (
	// KindBootstrap: a startup job completed (guide Step 3).
	KindBootstrap Kind = "bootstrap"
	// KindStore: a store runs and answers its protocol.
	KindStore Kind = "store"
	// KindService: a service runs (guide Step 4).
	KindService Kind = "service"
	// KindGRPC: grpc.health.v1 SERVING and reflection answering on the
	// gRPC port (guide Step 5, "gRPC Service Discovery").
	KindGRPC Kind = "grpc"
	// KindMetrics: the metrics port answers /metrics in Prometheus text.
	KindMetrics Kind = "metrics"
	// KindDatabaseLogin: a service user logs into its own database and is
	// refused on another service's (guide "Database Mapping").
	KindDatabaseLogin Kind = "database-login"
	// KindDatabases: every service database exists (guide Step 6, \l).
	KindDatabases Kind = "databases"
	// KindMigrations: _sqlx_migrations records successful migrations.
	KindMigrations Kind = "migrations"
	// KindRedisCluster: cluster_state:ok, all slots, the masters connected.
	KindRedisCluster Kind = "redis-cluster"
	// KindKafkaTopics: a Kafka client lists every topic with its partitions.
	KindKafkaTopics Kind = "kafka-topics"
	// KindClickHouse: the ClickHouse databases and tables exist.
	KindClickHouse Kind = "clickhouse-schema"
	// KindInitContainers (kube only): every init container of a service's
	// pods completed.
	KindInitContainers Kind = "init-containers"
	// KindServiceDNS (kube only): a service's DNS name resolves in-cluster.
	KindServiceDNS Kind = "service-dns"
	// KindNetworkPolicies (kube only): the rendered NetworkPolicies exist.
	KindNetworkPolicies Kind = "network-policies"
)

// Check is one verification step.
type Check struct {
	// ID names the check uniquely, "<subject>/<what>": redis/cluster,
	// user-service/grpc. JUnit testcase names are IDs.
	ID   string
	Kind Kind
	// Node is the graph node the check is about: its log tail goes with a
	// failure.
	Node string
	// Gate marks the check proving Node itself healthy (its store, service
	// or bootstrap check); checks that need Node wait for it.
	Gate bool
	// Needs are the graph nodes whose gate checks must pass first; when
	// one fails, this check fails naming it, without running.
	Needs []string
	// Upstream are the nodes Node needs, directly or not (a service's
	// stores, the services it calls): a failure names those whose gate
	// failed too, as a likely cause.
	Upstream []string
	// What says what the check proves, for people.
	What string
	// Skip, when set, says why the check is not run on this target.
	Skip string
	// Run performs the check; the string says what was found.
	Run func(ctx context.Context) (string, error)
}

// Status is the outcome of a check.
type Status string

// Outcomes.
const (
	Passed  Status = "passed"
	Failed  Status = "failed"
	Skipped Status = "skipped"
)

// Result is the outcome of one check.
type Result struct {
	ID       string        `json:"id"`
	Kind     Kind          `json:"kind"`
	Node     string        `json:"node"`
	What     string        `json:"what"`
	Status   Status        `json:"status"`
	Message  string        `json:"message"`
	Duration time.Duration `json:"durationNs"`
	// Blocked names the needed node whose failure kept the check from
	// running.
	Blocked string `json:"blocked,omitempty"`
	// LogTail is the end of the node's logs, on failure.
	LogTail string `json:"logTail,omitempty"`
}

// Report is the outcome of a verification run.
type Report struct {
	Instance string        `json:"instance"`
	Started  time.Time     `json:"started"`
	Duration time.Duration `json:"durationNs"`
	Results  []Result      `json:"results"`
}

// Count returns how many results have status s.
func (r *Report) Count(s Status) int {
	n := 0
	for _, res := range r.Results {
		if res.Status == s {
			n++
		}
	}
	return n
}

// OK reports whether no check failed.
func (r *Report) OK() bool { return r.Count(Failed) == 0 }

// Options tune Run.
type Options struct {
	// Parallel bounds the checks running at once (default 8).
	Parallel int
	// Timeout bounds one check (default 15s).
	Timeout time.Duration
	// LogTail, when set, fetches the log tail of a failed check's node.
	LogTail func(ctx context.Context, node string, lines int) (string, error)
	// LogLines is how many log lines go with a failure (default 20).
	LogLines int
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Run runs every check: a check starts once the gates of the nodes it
// needs are done, at most Parallel at a time. Nothing aborts early: a
// failed gate fails its dependents by name and the rest run. Results are
// in the order of checks.
func Run(ctx context.Context, name string, checks []Check, o Options) *Report {
	if o.Parallel <= 0 {
		o.Parallel = 8
	}
	if o.Timeout <= 0 {
		o.Timeout = 15 * time.Second
	}
	if o.LogLines <= 0 {
		o.LogLines = 20
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	start := o.Now()
	if err := validate(checks); err != nil {
		// a programming error in the check list: report it rather than
		// hang on a gate that never closes
		return &Report{Instance: name, Started: start, Results: []Result{{ID: "verify/checks", Status: Failed, Message: err.Error()}}}
	}
	rep := &Report{Instance: name, Started: start, Results: make([]Result, len(checks))}
	// gate[node] is closed when the node's gate check is done; its result
	// (at gateIdx[node]) is written before the close, so waiters read it
	// without a lock.
	gate := map[string]chan struct{}{}
	gateIdx := map[string]int{}
	for i, c := range checks {
		if c.Gate {
			gate[c.Node] = make(chan struct{})
			gateIdx[c.Node] = i
		}
	}
	sem := make(chan struct{}, o.Parallel)
	var wg sync.WaitGroup
	for i, c := range checks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res := &rep.Results[i]
			*res = Result{ID: c.ID, Kind: c.Kind, Node: c.Node, What: c.What}
			if c.Gate {
				defer close(gate[c.Node])
			}
			for _, n := range c.Needs {
				ch, ok := gate[n]
				if !ok || (c.Gate && n == c.Node) {
					continue // a node without a gate check cannot block
				}
				<-ch
				g := rep.Results[gateIdx[n]]
				if g.Status == Skipped {
					res.Status = Skipped
					res.Message = fmt.Sprintf("not run: needs %s, whose check %s was skipped: %s", n, g.ID, firstLine(g.Message))
					return
				}
				if g.Status != Passed {
					res.Status, res.Blocked = Failed, n
					res.Message = fmt.Sprintf("not run: needs %s, whose check %s %s", n, g.ID, g.Status)
					if g.Message != "" {
						res.Message += ": " + firstLine(g.Message)
					}
					return
				}
			}
			if c.Skip != "" {
				res.Status, res.Message = Skipped, c.Skip
				return
			}
			sem <- struct{}{}
			defer func() { <-sem }()
			t0 := o.Now()
			msg, err := runOne(ctx, c, o.Timeout)
			res.Duration = o.Now().Sub(t0)
			var skip *SkipError
			if errors.As(err, &skip) {
				res.Status, res.Message = Skipped, skip.Reason
				return
			}
			if err != nil {
				res.Status, res.Message = Failed, err.Error()
				if o.LogTail != nil && c.Node != "" {
					lctx, cancel := context.WithTimeout(ctx, 5*time.Second)
					tail, terr := o.LogTail(lctx, c.Node, o.LogLines)
					cancel()
					if terr != nil {
						tail = "(logs unavailable: " + terr.Error() + ")"
					}
					res.LogTail = tail
				}
				return
			}
			res.Status, res.Message = Passed, msg
		}()
	}
	wg.Wait()
	for i, c := range checks {
		res := &rep.Results[i]
		if res.Status != Failed || res.Blocked != "" {
			continue
		}
		var causes []string
		for _, n := range c.Upstream {
			if gi, ok := gateIdx[n]; ok && rep.Results[gi].Status == Failed {
				causes = append(causes, n)
			}
		}
		if len(causes) > 0 {
			res.Message += fmt.Sprintf("; failing upstream of %s: %s", c.Node, strings.Join(causes, ", "))
		}
	}
	rep.Duration = o.Now().Sub(start)
	return rep
}

// runOne runs a check under its timeout; a panic in a check is its failure,
// not the end of the run.
func runOne(ctx context.Context, c Check, timeout time.Duration) (msg string, err error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("check panicked: %v", p)
		}
	}()
	if c.Run == nil {
		return "", errors.New("check has nothing to run")
	}
	msg, err = c.Run(ctx)
	if err != nil && ctx.Err() == context.DeadlineExceeded {
		err = fmt.Errorf("no answer within %s: %w", timeout, err)
	}
	return msg, err
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// validate reports checks that cannot be scheduled: duplicate IDs, two
// gates for one node, gates needing each other in a cycle.
func validate(checks []Check) error {
	var errs []string
	ids := map[string]bool{}
	gates := map[string]string{}
	needs := map[string][]string{}
	for _, c := range checks {
		if ids[c.ID] {
			errs = append(errs, "duplicate check "+c.ID)
		}
		ids[c.ID] = true
		if c.Gate {
			if prev, ok := gates[c.Node]; ok {
				errs = append(errs, fmt.Sprintf("node %s has two gate checks: %s and %s", c.Node, prev, c.ID))
			}
			gates[c.Node] = c.ID
			needs[c.Node] = c.Needs
		}
	}
	// a cycle of gates would wait forever
	const (
		unseen = iota
		active
		done
	)
	mark := map[string]int{}
	var visit func(n string, path []string)
	visit = func(n string, path []string) {
		switch mark[n] {
		case active:
			errs = append(errs, "gate cycle: "+strings.Join(append(path, n), " -> "))
			return
		case done:
			return
		}
		mark[n] = active
		for _, m := range needs[n] {
			if _, ok := gates[m]; ok && m != n {
				visit(m, append(path, n))
			}
		}
		mark[n] = done
	}
	nodes := slices.Sorted(maps.Keys(gates))
	for _, n := range nodes {
		visit(n, nil)
	}
	slices.Sort(errs)
	if len(errs) > 0 {
		return errors.New(strings.Join(errs, "; "))
	}
	return nil
}
