package cli

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/novadev/novadev/internal/supervisor"
)

// The unit states of backend.Unit that ps reads (cli may not import the
// backend package: commands talk to a Service).
const (
	stateRunning = "running"
	stateMissing = "missing"
)

// newPs is compose's `ps`: the environment's containers with compose's
// columns (status shows readiness and memory too).
func newPs(s Streams, g *Global, svc Service) *cobra.Command {
	var all bool
	cmd := &cobra.Command{
		Use:   "ps",
		Short: "List the environment's containers as docker compose ps does (NAME, SERVICE, STATUS, PORTS)",
		Long: `List the containers of the environment with docker compose ps's columns:
NAME, SERVICE, STATUS (with (healthy) or (unhealthy): novadev's readiness
check) and PORTS. Containers that do not exist are left out unless -a.
novadev status shows the same with readiness details and memory.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			rep, err := svc.Status(cmd.Context(), g)
			if err != nil {
				return problemsExit(s, err)
			}
			var rows []supervisor.UnitStatus
			for _, c := range rep.Containers {
				if all || (c.State != "" && c.State != stateMissing) {
					rows = append(rows, c)
				}
			}
			if g.Output == "json" {
				if rows == nil {
					rows = []supervisor.UnitStatus{}
				}
				enc := json.NewEncoder(s.Out)
				enc.SetIndent("", "  ")
				return enc.Encode(rows)
			}
			fmt.Fprintf(s.Out, "%-36s %-24s %-28s %s\n", "NAME", "SERVICE", "STATUS", "PORTS")
			for _, c := range rows {
				fmt.Fprintf(s.Out, "%-36s %-24s %-28s %s\n", c.Container, c.Service, psStatus(c), psPorts(c))
			}
			return nil
		},
	}
	cmd.Flags().BoolVarP(&all, "all", "a", false, "also list containers that do not exist yet")
	return cmd
}

// psStatus is compose's STATUS: "Up 3m (healthy)", else the state.
func psStatus(c supervisor.UnitStatus) string {
	if c.State != stateRunning {
		return c.State
	}
	st := "Up"
	if c.Uptime != "" {
		st += " " + c.Uptime
	}
	health := "unhealthy"
	if c.Ready {
		health = "healthy"
	}
	if c.Degraded != "" {
		// it runs without an optional store: status says which
		health += ", degraded"
	}
	return st + " (" + health + ")"
}

// psPorts is compose's PORTS: 127.0.0.1:20001->5432/tcp, ...
func psPorts(c supervisor.UnitStatus) string {
	var out []string
	for _, p := range c.Ports {
		if p.HostPort == 0 {
			continue
		}
		out = append(out, fmt.Sprintf("%s->%d/tcp", p.Host(), p.Container))
	}
	return strings.Join(out, ", ")
}
