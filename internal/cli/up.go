package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/novadev/novadev/internal/supervisor"
)

func newUp(s Streams, g *Global, svc Service) *cobra.Command {
	o := UpOptions{}
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Start the environment: stores, bootstraps, services, each proven ready",
		Long: `Start the environment on the target (--target, default docker). novadev finds
what already runs (by label), plans what to create, start or replace
(--dry-run prints the plan), then starts every store, bootstrap and service
once all it needs is ready. An unchanged, running container is left alone:
a second up changes nothing. A container that dies while up waits fails
its node at once, with its exit code and last log lines. A second up of
the same environment waits for the first. Ctrl-C stops cleanly; the next
up resumes.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if o.DryRun {
				plan, err := svc.Plan(ctx, g, o)
				assumed := ""
				if errors.Is(err, ErrEngineUnreachable) {
					// a dry run needs no engine: say what is assumed
					assumed = err.Error()
					plan, err = svc.PlanAssumingNothing(ctx, g, o)
				}
				if err != nil {
					return problemsExit(s, err)
				}
				if g.Output == "json" {
					return writePlanJSON(s, plan, assumed)
				}
				if assumed != "" {
					fmt.Fprintf(s.Out, "assuming nothing exists (no containers, networks, volumes or images): %s\n", assumed)
				}
				fmt.Fprint(s.Out, plan.String())
				return nil
			}
			return runUp(cmd, s, g, svc, o)
		},
	}
	f := cmd.Flags()
	f.StringSliceVar(&o.Only, "only", nil, "start only these services (and what they need)")
	f.StringSliceVar(&o.Except, "except", nil, "leave these services out, and whatever needs them (to run them on the host: novadev env SERVICE)")
	f.BoolVar(&o.DryRun, "dry-run", false, "print the plan and change nothing")
	f.DurationVar(&o.Timeout, "timeout", 15*time.Minute, "give up after this long")
	f.DurationVar(&o.Timeout, "wait-timeout", 15*time.Minute, "the same as --timeout (docker compose up's name)")
	f.IntVar(&o.Parallel, "parallel", 6, "nodes applied or bootstraps run at once")
	f.StringVar(&o.FromSnapshot, "from-snapshot", "", "create the new instance's store volumes from this snapshot (novadev snapshot list); the bootstraps it vouches for are proven and skipped")
	f.StringVar(&o.TTL, "ttl", "", "with --instance: expire the instance this long after this up (e.g. 8h, 3d; default 24h); novadev gc deletes it then")
	return cmd
}

// ErrTimeout says up's --timeout passed; a Service wraps it.
var ErrTimeout = errors.New("timeout")

// endpointLines lists where people reach the stores and services.
func endpointLines(eps []supervisor.Endpoint) []string {
	var out []string
	for _, e := range eps {
		out = append(out, fmt.Sprintf("%-24s %s -> %d", e.Unit, e.Host, e.Container))
	}
	return out
}

// PlanJSON is up --dry-run -o json: the plan's steps in start order.
type PlanJSON struct {
	Instance string `json:"instance"`
	// AssumedNothingExists says why the plan assumes nothing exists on
	// the target (its engine did not answer); "" when it observed it.
	AssumedNothingExists string             `json:"assumedNothingExists,omitempty"`
	Steps                []PlanStepJSON     `json:"steps"`
	Resources            []PlanResourceJSON `json:"resources"`
	MissingImages        []string           `json:"missingImages"`
}

// PlanStepJSON is one node of PlanJSON.
type PlanStepJSON struct {
	Node   string         `json:"node"`
	Kind   string         `json:"kind"`
	Op     string         `json:"op"`
	Reason string         `json:"reason,omitempty"`
	Needs  []string       `json:"needs"`
	Units  []PlanUnitJSON `json:"units,omitempty"`
	// Degraded: the optional stores a service will run without, and why.
	Degraded []string `json:"degraded,omitempty"`
}

// PlanUnitJSON is one unit of a PlanStepJSON.
type PlanUnitJSON struct {
	Name   string `json:"name"`
	Op     string `json:"op"`
	Reason string `json:"reason,omitempty"`
}

// PlanResourceJSON is one resource (network, volume, orphan) of PlanJSON.
type PlanResourceJSON struct {
	Kind   string `json:"kind"`
	Name   string `json:"name"`
	Op     string `json:"op"`
	Reason string `json:"reason,omitempty"`
}

func writePlanJSON(s Streams, p *supervisor.Plan, assumed string) error {
	out := PlanJSON{Instance: p.Instance, AssumedNothingExists: assumed, Steps: []PlanStepJSON{}, Resources: []PlanResourceJSON{}, MissingImages: p.MissingImages}
	if out.MissingImages == nil {
		out.MissingImages = []string{}
	}
	for _, n := range p.Order {
		st := p.Steps[n]
		js := PlanStepJSON{Node: st.Node, Kind: string(st.Kind), Op: string(st.Op), Reason: st.Reason, Needs: st.Needs, Degraded: st.Degraded}
		if js.Needs == nil {
			js.Needs = []string{}
		}
		for _, u := range st.Units {
			js.Units = append(js.Units, PlanUnitJSON{u.Name, string(u.Op), u.Reason})
		}
		out.Steps = append(out.Steps, js)
	}
	for _, r := range p.Resources {
		out.Resources = append(out.Resources, PlanResourceJSON{r.Kind, r.Name, string(r.Op), r.Why})
	}
	enc := json.NewEncoder(s.Out)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// runUp brings the environment (or o.Only) up with progress and the
// summary: up, start and restart.
func runUp(cmd *cobra.Command, s Streams, g *Global, svc Service, o UpOptions) error {
	ctx := cmd.Context()
	pr := newProgress(s, g)
	rep, err := svc.Up(ctx, g, o, pr)
	pr.Close()
	if rep != nil && rep.Result != nil {
		pr.Summary(rep.Result, endpointLines(rep.Endpoints))
	}
	if err != nil {
		var ue *supervisor.UpError
		if errors.As(err, &ue) && ue.Canceled && ctx.Err() != nil {
			return &ExitError{Code: 130, Err: err}
		}
		if errors.Is(err, ErrTimeout) {
			err = fmt.Errorf("gave up after --timeout %s: %w", o.Timeout, err)
		}
		if rep == nil {
			return problemsExit(s, err)
		}
		return &ExitError{Code: 1, Err: err}
	}
	return nil
}
