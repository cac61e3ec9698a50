package cli

import (
	"fmt"

	"github.com/spf13/cobra"
)

func newDown(s Streams, g *Global, svc Service) *cobra.Command {
	o := DownOptions{}
	cmd := &cobra.Command{
		Use:   "down",
		Short: "Stop and remove the environment's containers and network (and volumes with --volumes)",
		Long: `Stop and remove every container labelled with the environment's project, in
reverse dependency order (services before the stores they use), each as
soon as what needs it is gone; then its network, and with --volumes its data
volumes.

With --target kind --cluster: delete the kind cluster itself (and
everything on it) and the local registry container.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			pr := newProgress(s, g)
			res, err := svc.Down(cmd.Context(), g, o, pr)
			pr.Close()
			if err != nil {
				if res == nil {
					return problemsExit(s, err)
				}
				return &ExitError{Code: 1, Err: err}
			}
			if g.Output != "json" && o.Cluster {
				fmt.Fprintf(s.Out, "%s: deleted, with its registry container\n", res.Instance)
				return nil
			}
			if g.Output != "json" {
				vols := "kept"
				if o.Volumes {
					vols = "removed"
				}
				fmt.Fprintf(s.Out, "%s: removed %d containers and %d networks; %d volumes %s\n",
					res.Instance, res.Units, res.Networks, res.Volumes, vols)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&o.Volumes, "volumes", false, "also remove the data volumes")
	cmd.Flags().BoolVar(&o.Cluster, "cluster", false, "--target kind: delete the kind cluster (every namespace on it) and its local registry container")
	return cmd
}
