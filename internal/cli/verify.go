package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/novadev/novadev/internal/catalog"
	"github.com/novadev/novadev/internal/driver"
	"github.com/novadev/novadev/internal/state"
	"github.com/novadev/novadev/internal/supervisor"
	"github.com/novadev/novadev/internal/verify"
)

func init() { register(newVerify) }

type verifyOptions struct {
	only     []string
	junit    string
	timeout  time.Duration
	parallel int
	logLines int
}

func newVerify(s Streams, g *Global) *cobra.Command {
	o := &verifyOptions{}
	cmd := &cobra.Command{
		Use:   "verify",
		Short: "Check a running environment the way the staging guide does: bootstraps, services, gRPC, metrics, stores",
		Long: `Check the running environment with real clients, one check per step of the
"Nova Staging Environment Deployment Guide" (Steps 3-6, Monitoring &
Verification): every bootstrap completed, every store and service ready, gRPC
health SERVING and reflection on each service, /metrics, each service user
logging into its own database and refused on another's, _sqlx_migrations,
Redis Cluster state, Kafka topics, ClickHouse databases and tables.

A check that needs a broken node fails naming it; every other check still
runs. --junit FILE writes a JUnit report (one testcase per check; failures
carry the log tail of the node concerned). Exit code 1 when a check fails.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runVerify(cmd.Context(), s, g, o) },
	}
	f := cmd.Flags()
	f.StringSliceVar(&o.only, "only", nil, "verify only these services and what they need (as up --only started them)")
	f.StringVar(&o.junit, "junit", "", "write a JUnit XML report to this file")
	f.DurationVar(&o.timeout, "check-timeout", 15*time.Second, "give up on one check after this long")
	f.IntVar(&o.parallel, "parallel", 8, "checks run at once")
	f.IntVar(&o.logLines, "log-lines", 20, "log lines of the node concerned attached to a failure")
	return cmd
}

func runVerify(ctx context.Context, s Streams, g *Global, o *verifyOptions) error {
	st, err := openStack(ctx, s, g, false)
	if err != nil {
		return err
	}
	defer st.drv.Close()
	inst, err := newDockerInstance(ctx, st)
	if err != nil {
		return err
	}
	if len(inst.obs.Containers) == 0 {
		return &ExitError{Code: 1, Err: fmt.Errorf("%s: nothing runs (novadev up starts it)", inst.Name())}
	}
	checks := verify.Checks(inst)
	if len(o.only) > 0 {
		nodes, err := st.c.Graph().Closure(o.only...)
		if err != nil {
			return fmt.Errorf("--only: %w", err)
		}
		checks = verify.Select(checks, nodes)
	}
	rep := verify.Run(ctx, inst.Name(), checks, verify.Options{
		Parallel: o.parallel, Timeout: o.timeout, LogTail: inst.LogTail, LogLines: o.logLines,
	})
	if o.junit != "" {
		if err := writeJUnit(o.junit, rep); err != nil {
			return err
		}
	}
	if g.Output == "json" {
		enc := json.NewEncoder(s.Out)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return err
		}
	} else {
		printReport(s, rep)
	}
	if !rep.OK() {
		return &ExitError{Code: 1}
	}
	return nil
}

func writeJUnit(path string, rep *verify.Report) error {
	// CI passes paths inside an artifacts directory that may not exist yet
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("--junit: %w", err)
	}
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("--junit: %w", err)
	}
	if err := verify.WriteJUnit(f, rep); err != nil {
		f.Close()
		return fmt.Errorf("--junit %s: %w", path, err)
	}
	return f.Close()
}

// printReport prints one line per check and a summary; failures add their
// message and the log tail of the node concerned, indented.
func printReport(s Streams, rep *verify.Report) {
	width := 0
	for _, r := range rep.Results {
		width = max(width, len(r.ID))
	}
	for _, r := range rep.Results {
		mark := "ok  "
		switch r.Status {
		case verify.Failed:
			mark = "FAIL"
		case verify.Skipped:
			mark = "skip"
		}
		fmt.Fprintf(s.Out, "%s %-*s %8s  %s\n", mark, width, r.ID, r.Duration.Round(time.Millisecond), firstLine(r.Message))
		if r.Status == verify.Failed && r.LogTail != "" {
			fmt.Fprintf(s.Out, "     last log lines of %s:\n", r.Node)
			for _, l := range strings.Split(strings.TrimRight(r.LogTail, "\n"), "\n") {
				fmt.Fprintf(s.Out, "       %s\n", l)
			}
		}
	}
	verdict := "ok"
	if !rep.OK() {
		verdict = "FAILED"
	}
	fmt.Fprintf(s.Out, "verify %s: %s: %d checks, %d passed, %d failed, %d skipped in %s\n", rep.Instance, verdict,
		len(rep.Results), rep.Count(verify.Passed), rep.Count(verify.Failed), rep.Count(verify.Skipped), rep.Duration.Round(time.Millisecond))
}

// dockerInstance is verify's view of an environment on Docker: one
// observation of the project's containers and volumes and one plan (what
// `up --dry-run` would print), taken when verify starts.
type dockerInstance struct {
	st   *stack
	obs  *state.Observed
	plan *supervisor.Plan
}

func newDockerInstance(ctx context.Context, st *stack) (*dockerInstance, error) {
	plan, err := st.plan(ctx, st.c.Graph())
	if err != nil {
		return nil, err
	}
	obs, err := st.drv.Observe(ctx, st.spec.Identity.Project)
	if err != nil {
		return nil, err
	}
	return &dockerInstance{st: st, obs: obs, plan: plan}, nil
}

func (d *dockerInstance) Name() string                             { return d.st.spec.Identity.Project }
func (d *dockerInstance) Catalog() *catalog.Catalog                { return d.st.c }
func (d *dockerInstance) containers(node string) []driver.Workload { return d.st.spec.Nodes[node] }

func (d *dockerInstance) Address(node string, port int) (string, error) {
	for _, w := range d.containers(node) {
		if hp := d.st.spec.HostPort(w.Service, port); hp != "" {
			return hp, nil
		}
	}
	return "", fmt.Errorf("%s port %d: %w", node, port, verify.ErrNotPublished)
}

func (d *dockerInstance) Dial(ctx context.Context, network, addr string) (net.Conn, error) {
	return d.st.ends.Dial(ctx, network, addr)
}

func (d *dockerInstance) Credential(name string) (string, error) {
	v, ok := d.st.lookup(name)
	if !ok || v == "" || v == "not-generated-yet" {
		return "", fmt.Errorf("credential %s not found (compose/.env or the environment): novadev up generates it", name)
	}
	return v, nil
}

func (d *dockerInstance) Node(_ context.Context, name string) (verify.NodeState, error) {
	ns := d.plan.Nodes[name]
	if ns == nil {
		return verify.NodeState{}, fmt.Errorf("%s is not a node of this environment", name)
	}
	if ns.Action == supervisor.Skip {
		return verify.NodeState{Skip: ns.Reason}, nil
	}
	if ns.Kind == catalog.KindBootstrap {
		return d.bootstrapState(ns), nil
	}
	ws := d.containers(name)
	if len(ws) == 0 {
		return verify.NodeState{Detail: "no container in this environment (" + ns.Reason + ")"}, nil
	}
	var bad []string
	for _, w := range ws {
		c := d.obs.Service(w.Service)
		switch {
		case c == nil:
			bad = append(bad, w.Name+" does not exist")
		case c.State != state.Running:
			bad = append(bad, w.Name+" is "+c.State)
		}
	}
	if len(bad) > 0 {
		return verify.NodeState{Detail: strings.Join(bad, "; ")}, nil
	}
	detail := fmt.Sprintf("%d of %d containers running", len(ws), len(ws))
	if ns.Action == supervisor.Recreate {
		detail += " (its configuration changed since: up would recreate it)"
	}
	return verify.NodeState{Ready: true, Detail: detail}, nil
}

// bootstrapState reads a bootstrap's done-marker through the plan: Keep
// means it completed against the current catalog and store containers.
func (d *dockerInstance) bootstrapState(ns *supervisor.NodeStep) verify.NodeState {
	if ns.Action == supervisor.Keep {
		return verify.NodeState{Ready: true, Detail: "completed against the current catalog and stores"}
	}
	marker := supervisor.MarkerVolume(d.Name(), ns.Name)
	if d.obs.Volume(marker) == nil {
		return verify.NodeState{Detail: "never completed (no marker volume " + marker + "): novadev up runs it"}
	}
	for _, n := range ns.Needs {
		if nn := d.plan.Nodes[n]; nn != nil && nn.Action != supervisor.Keep && nn.Action != supervisor.Skip {
			return verify.NodeState{Detail: fmt.Sprintf("its record is void: it needs %s, which up would %s", n, nn.Action)}
		}
	}
	return verify.NodeState{Detail: "completed against other inputs (the catalog or novadev changed since): novadev up runs it again"}
}

// LogTail returns the last lines of every container of node, prefixed with
// the container's service, as `novadev logs` prints them.
func (d *dockerInstance) LogTail(ctx context.Context, node string, lines int) (string, error) {
	var b strings.Builder
	found := false
	for _, c := range d.obs.Containers {
		if c.Node != node {
			continue
		}
		found = true
		rc, err := d.st.drv.Logs(ctx, c.ID, driver.LogOptions{Tail: lines})
		if err != nil {
			fmt.Fprintf(&b, "%s | (logs unavailable: %v)\n", c.Service, err)
			continue
		}
		sc := bufio.NewScanner(rc)
		sc.Buffer(make([]byte, 64*1024), 1<<20)
		for sc.Scan() {
			fmt.Fprintf(&b, "%s | %s\n", c.Service, sc.Text())
		}
		rc.Close()
	}
	if !found {
		return "", nil // in-process bootstraps have no container and no logs
	}
	return b.String(), nil
}
