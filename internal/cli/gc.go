package cli

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"
)

func newGC(s Streams, g *Global, svc Service) *cobra.Command {
	o := GCOptions{}
	cmd := &cobra.Command{
		Use:   "gc",
		Short: "Delete the expired instances on the engine (containers, network, volumes) or cluster (namespaces)",
		Long: `Delete exactly the instances whose expiry (up --ttl, default 24h after
the last up) has passed: all their containers, network and volumes. Nothing
unexpired and nothing without novadev's labels is touched. --dry-run lists
what would go.

With --target kube (and --context NAME) gc deletes the expired instance
namespaces of that cluster (labelled dev.novadev.managed-by=novadev), and
the rendered pull-request namespaces (novadev.io/ephemeral=true) older than
their novadev.io/expires-after. --in-cluster does the same from a pod, with
its ServiceAccount: what the pr overlay's janitor CronJob runs.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			is, err := instanceService(svc)
			if err != nil {
				return err
			}
			rep, err := is.GC(cmd.Context(), g, o)
			if rep != nil && g.Output == "json" {
				enc := json.NewEncoder(s.Out)
				enc.SetIndent("", "  ")
				if e := enc.Encode(rep); e != nil {
					return e
				}
			} else if rep != nil {
				verb := "removed"
				if rep.DryRun {
					verb = "would remove"
				}
				for _, in := range rep.Removed {
					env := "" // a hand-applied pr overlay namespace names no environment
					if in.Env != "" {
						env = "environment " + in.Env + ", "
					}
					fmt.Fprintf(s.Out, "%s %s (%sexpired %s)\n", verb, in.Project, env, in.Expires.Format("2006-01-02T15:04:05Z07:00"))
				}
				fmt.Fprintf(s.Out, "%d expired, %d kept\n", len(rep.Removed), len(rep.Kept))
				for _, u := range rep.Unreadable {
					fmt.Fprintf(s.Err, "novadev: left alone: %s\n", u)
				}
			}
			if err != nil {
				return problemsExit(s, err)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&o.DryRun, "dry-run", false, "list what would be deleted and delete nothing")
	cmd.Flags().BoolVar(&o.InCluster, "in-cluster", false, "collect the cluster this pod runs in, with its ServiceAccount (the janitor CronJob)")
	return cmd
}
