package app

import (
	"context"
	"fmt"
	"maps"
	"net"
	"slices"
	"strings"

	"github.com/novadev/novadev/internal/backend"
	"github.com/novadev/novadev/internal/catalog"
	"github.com/novadev/novadev/internal/cli"
	"github.com/novadev/novadev/internal/supervisor"
	"github.com/novadev/novadev/internal/verify"
	"github.com/novadev/novadev/internal/verify/kubecluster"
)

// Verify implements cli.Service: the staging guide's checks against the
// running instance, reached through its backend; on a cluster (--target
// kube or kind) through internal/verify/kubecluster, which adds the
// cluster's own checks (init containers, in-cluster DNS, NetworkPolicies).
func (sv *service) Verify(ctx context.Context, g *cli.Global, o cli.VerifyOptions) (*verify.Report, error) {
	e, err := sv.open(ctx, g, openOptions{})
	if err != nil {
		return nil, err
	}
	defer e.close()
	var inst checkedInstance
	if k, ok := e.b.(namespaced); ok {
		ci, err := sv.clusterInstance(ctx, g, e.c, k.Namespace())
		if err != nil {
			return nil, err
		}
		defer ci.Close()
		inst = ci
	} else {
		if inst, err = sv.backendInstance(ctx, e); err != nil {
			return nil, err
		}
	}
	checks := verify.Checks(inst)
	if len(o.Only) > 0 {
		nodes, err := e.c.Graph().Closure(o.Only...)
		if err != nil {
			return nil, &cli.UsageError{Err: fmt.Errorf("--only: %w", err)}
		}
		checks = verify.Select(checks, nodes)
	}
	return verify.Run(ctx, inst.Name(), checks, verify.Options{
		Parallel: o.Parallel, Timeout: o.Timeout, LogTail: inst.LogTail, LogLines: o.LogLines,
	}), nil
}

// checkedInstance is what Verify runs checks against: an instance and the
// log tails of its nodes (for failures).
type checkedInstance interface {
	verify.Instance
	LogTail(ctx context.Context, node string, lines int) (string, error)
}

// namespaced is a backend whose instance is one namespace of a cluster
// (the kube backend, on --target kube and kind).
type namespaced interface {
	Namespace() string
}

// ClusterVerifier opens verify's view of an environment in one namespace
// of a cluster; app.Options.ClusterVerifier replaces it in tests.
type ClusterVerifier func(ctx context.Context, c *catalog.Catalog, o kubecluster.Options) (*kubecluster.Instance, error)

func openClusterVerifier(_ context.Context, c *catalog.Catalog, o kubecluster.Options) (*kubecluster.Instance, error) {
	return kubecluster.Open(c, o)
}

// clusterInstance opens the namespace of the instance on the context the
// backend was opened on (kind: kind-<catalog name>; kube: --context), and
// refuses when nothing of it runs there. It sees the cluster as kubectl
// does (workloads, the credentials Secret, port-forwards), whichever
// backend or person applied the overlay (docs/decisions.md 35).
func (sv *service) clusterInstance(ctx context.Context, g *cli.Global, c *catalog.Catalog, ns string) (*kubecluster.Instance, error) {
	kctx := g.Context
	if g.Target == TargetKind {
		kctx = "kind-" + c.Metadata.Name
	}
	open := sv.o.ClusterVerifier
	if open == nil {
		open = openClusterVerifier
	}
	inst, err := open(ctx, c, kubecluster.Options{Context: kctx, Namespace: ns})
	if err != nil {
		return nil, err
	}
	n, err := inst.Pods(ctx)
	if err != nil {
		inst.Close()
		return nil, err
	}
	if n == 0 {
		inst.Close()
		up := "novadev up --target " + g.Target
		if g.Target == TargetKube && g.Context != "" {
			up += " --context " + g.Context
		}
		return nil, &cli.ExitError{Code: 1, Err: fmt.Errorf("%s: nothing runs in namespace %s (%s starts it)", inst.Name(), ns, up)}
	}
	return inst, nil
}

// backendInstance is verify's view of the instance through its backend
// (Docker), refused when no unit of it exists.
func (sv *service) backendInstance(ctx context.Context, e *opened) (*verifyInstance, error) {
	snap, err := e.b.Observe(ctx)
	if err != nil {
		return nil, err
	}
	plan, err := sv.plan(ctx, e, cli.UpOptions{})
	if err != nil {
		return nil, err
	}
	inst := &verifyInstance{e: e, snap: snap, plan: plan}
	if !inst.anyUnit() {
		return nil, &cli.ExitError{Code: 1, Err: fmt.Errorf("%s: nothing runs (novadev up starts it)", inst.Name())}
	}
	return inst, nil
}

// verifyInstance is verify's view of an instance on any backend: one
// observation and one plan (what `up --dry-run` would print), taken when
// verify starts.
type verifyInstance struct {
	e    *opened
	snap *backend.Snapshot
	plan *supervisor.Plan
}

var _ verify.Instance = (*verifyInstance)(nil)

func (v *verifyInstance) anyUnit() bool {
	for _, n := range v.snap.Nodes {
		for _, u := range n.Units {
			if u.ID != "" {
				return true
			}
		}
	}
	return false
}

func (v *verifyInstance) Name() string              { return v.snap.Instance }
func (v *verifyInstance) Catalog() *catalog.Catalog { return v.e.c }

func (v *verifyInstance) Address(node string, port int) (string, error) {
	for _, p := range v.e.b.Ports(node) {
		if p.Container == port && p.HostPort != 0 {
			return p.Host(), nil
		}
	}
	// A Redis Cluster's node i listens on port+i on compose; on kube every
	// pod of the StatefulSet listens on the store's port (the runtime
	// contract's per-target addresses): node i is then the i-th unit.
	if st := v.e.c.Stores[node]; st != nil && st.Kind == catalog.StoreRedisCluster && port > st.Port && port < st.Port+st.Nodes {
		var same []backend.Port
		for _, p := range v.e.b.Ports(node) {
			if p.Container == st.Port && p.HostPort != 0 {
				same = append(same, p)
			}
		}
		if i := port - st.Port; len(same) == st.Nodes {
			return same[i].Host(), nil
		}
	}
	return "", fmt.Errorf("%s port %d: %w", node, port, verify.ErrNotPublished)
}

func (v *verifyInstance) Dial(ctx context.Context, network, addr string) (net.Conn, error) {
	return v.e.ends.Dial(ctx, network, addr)
}

func (v *verifyInstance) Credential(name string) (string, error) {
	val, ok := v.e.lookup(name)
	if !ok || val == "" || val == notGenerated {
		return "", fmt.Errorf("credential %s not found (compose/.env or the environment): novadev up generates it", name)
	}
	return val, nil
}

func (v *verifyInstance) Node(_ context.Context, name string) (verify.NodeState, error) {
	st, ok := v.plan.Steps[name]
	if !ok {
		return verify.NodeState{}, fmt.Errorf("%s is not a node of this environment", name)
	}
	if st.Op == supervisor.Skip {
		return verify.NodeState{Skip: st.Reason}, nil
	}
	if st.Kind == catalog.KindBootstrap {
		return v.bootstrapState(st), nil
	}
	n := v.snap.Nodes[name]
	if n == nil || len(n.Units) == 0 {
		return verify.NodeState{Detail: "nothing of it runs in this environment (" + st.Reason + ")"}, nil
	}
	var bad []string
	for _, u := range n.Units {
		switch {
		case u.ID == "" || u.State == backend.Missing:
			bad = append(bad, u.Name+" does not exist")
		case u.State != backend.Running:
			bad = append(bad, u.Name+" is "+u.State)
		}
	}
	if len(bad) > 0 {
		return verify.NodeState{Detail: strings.Join(bad, "; ")}, nil
	}
	detail := fmt.Sprintf("%d of %d units running", len(n.Units), len(n.Units))
	if st.Op == supervisor.Recreate {
		detail += " (its configuration changed since: up would recreate it)"
	}
	return verify.NodeState{Ready: true, Detail: detail}, nil
}

// bootstrapState reads a bootstrap's record through the plan: Keep means it
// completed against the current catalog and stores.
func (v *verifyInstance) bootstrapState(st supervisor.Step) verify.NodeState {
	if v.plan.Current(st.Node) {
		return verify.NodeState{Ready: true, Detail: "completed against the current catalog and stores"}
	}
	if _, ok := v.snap.Records[st.Node]; !ok {
		return verify.NodeState{Detail: "never completed (no record): novadev up runs it"}
	}
	for _, n := range st.Needs {
		if nn, ok := v.plan.Steps[n]; ok && !v.plan.Current(n) && nn.Op != supervisor.Skip {
			return verify.NodeState{Detail: fmt.Sprintf("its record is void: it needs %s, which up would %s", n, nn.Op)}
		}
	}
	return verify.NodeState{Detail: "completed against other inputs (the catalog or novadev changed since): novadev up runs it again"}
}

// LogTail returns the last lines of every unit of node, each prefixed with
// its unit, as `novadev logs` prints them.
func (v *verifyInstance) LogTail(ctx context.Context, node string, lines int) (string, error) {
	tails := backend.Tail(ctx, v.e.b, node, lines)
	var b strings.Builder
	for _, unit := range slices.Sorted(maps.Keys(tails)) {
		for _, l := range tails[unit] {
			fmt.Fprintf(&b, "%s | %s\n", unit, l)
		}
	}
	return b.String(), nil
}
