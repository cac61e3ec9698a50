package cli

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
)

func newStatus(s Streams, g *Global, svc Service) *cobra.Command {
	return &cobra.Command{
		Use:   "status",
		Short: "Show each container's state, readiness, ports, uptime and memory",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			rep, err := svc.Status(cmd.Context(), g)
			if err != nil {
				return problemsExit(s, err)
			}
			if g.Output == "json" {
				enc := json.NewEncoder(s.Out)
				enc.SetIndent("", "  ")
				return enc.Encode(rep)
			}
			if len(rep.Containers) == 0 {
				fmt.Fprintf(s.Out, "%s: nothing runs (novadev up starts it)\n", rep.Project)
				return nil
			}
			fmt.Fprintf(s.Out, "%-24s %-9s %-6s %-10s %9s  %s\n", "SERVICE", "STATE", "READY", "UPTIME", "MEMORY", "PORTS")
			for _, c := range rep.Containers {
				var ports []string
				for _, p := range c.Ports {
					ports = append(ports, fmt.Sprintf("%s->%d", p.Host(), p.Container))
				}
				r := "yes"
				if !c.Ready {
					r = "no"
				}
				fmt.Fprintf(s.Out, "%-24s %-9s %-6s %-10s %9s  %s\n", c.Service, c.State, r, c.Uptime, mib(c.Memory), strings.Join(ports, ","))
				if c.NotReady != "" {
					fmt.Fprintf(s.Out, "  %s\n", firstLine(c.NotReady))
				}
				if c.Degraded != "" {
					fmt.Fprintf(s.Out, "  degraded: %s\n", c.Degraded)
				}
			}
			for _, u := range rep.Unavailable {
				fmt.Fprintf(s.Out, "%-24s skipped: unavailable (%s)\n", u.Node, u.Reason)
			}
			return nil
		},
	}
}

func mib(b uint64) string {
	if b == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1fMiB", float64(b)/(1<<20))
}
