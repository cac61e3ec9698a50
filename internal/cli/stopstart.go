package cli

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

// newStop, newStart and newRestart are compose's verbs over the graph:
// stop takes a node's dependents down first, start brings up what a node
// needs first (up --only).
func newStop(s Streams, g *Global, svc Service) *cobra.Command {
	return &cobra.Command{
		Use:   "stop [node...]",
		Short: "Stop nodes and everything that needs them (dependents first); volumes are kept",
		Long: `Stop the named nodes (services, stores) and every node that needs them,
dependents first; with no name, the whole environment. Their containers are
removed, their volumes and the network kept: novadev start (or up) creates
them again and reruns the bootstraps of a store that was stopped.`,
		ValidArgsFunction: completeNodes(g),
		RunE: func(cmd *cobra.Command, args []string) error {
			stopped, err := svc.Stop(cmd.Context(), g, args)
			if err != nil {
				return problemsExit(s, err)
			}
			if g.Output == "json" {
				if stopped == nil {
					stopped = []string{}
				}
				return json.NewEncoder(s.Out).Encode(map[string]any{"stopped": stopped})
			}
			if len(stopped) == 0 {
				fmt.Fprintln(s.Out, "nothing to stop")
				return nil
			}
			fmt.Fprintf(s.Out, "stopped %s\n", strings.Join(stopped, ", "))
			return nil
		},
	}
}

func newStart(s Streams, g *Global, svc Service) *cobra.Command {
	o := UpOptions{Parallel: 6}
	cmd := &cobra.Command{
		Use:   "start [node...]",
		Short: "Start nodes and what they need first (up --only node...)",
		Long: `Start the named nodes after everything they need, each proven ready: the
same as novadev up --only node...; with no name, the whole environment.`,
		ValidArgsFunction: completeNodes(g),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Only = args
			return runUp(cmd, s, g, svc, o)
		},
	}
	cmd.Flags().DurationVar(&o.Timeout, "timeout", 15*time.Minute, "give up after this long")
	return cmd
}

func newRestart(s Streams, g *Global, svc Service) *cobra.Command {
	o := UpOptions{Parallel: 6}
	cmd := &cobra.Command{
		Use:   "restart [node...]",
		Short: "Stop nodes and their dependents, then start them again in dependency order",
		Long: `novadev stop node... then novadev start of every node it stopped: the
dependents go down first and come back after what they need is ready.`,
		ValidArgsFunction: completeNodes(g),
		RunE: func(cmd *cobra.Command, args []string) error {
			stopped, err := svc.Stop(cmd.Context(), g, args)
			if err != nil {
				return problemsExit(s, err)
			}
			if g.Output != "json" {
				fmt.Fprintf(s.Err, "stopped %s\n", strings.Join(stopped, ", "))
			}
			o.Only = stopped
			if len(args) > 0 && len(stopped) == 0 {
				o.Only = args // nothing ran: start what was named
			}
			return runUp(cmd, s, g, svc, o)
		},
	}
	cmd.Flags().DurationVar(&o.Timeout, "timeout", 15*time.Minute, "give up after this long")
	return cmd
}
