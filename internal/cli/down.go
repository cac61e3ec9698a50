package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/novadev/novadev/internal/driver/docker"
	"github.com/novadev/novadev/internal/supervisor"
)

func init() { register(newDown) }

func newDown(s Streams, g *Global) *cobra.Command {
	var volumes bool
	cmd := &cobra.Command{
		Use:   "down",
		Short: "Stop and remove the environment's containers and network (and volumes with --volumes)",
		Long: `Stop and remove every container labelled with the environment's project, in
reverse dependency order (services before the stores they use), each level
in parallel; then its network, and with --volumes its data volumes.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			c, err := loadCatalog(s, g)
			if err != nil {
				return err
			}
			drv, err := docker.New(ctx)
			if err != nil {
				return err
			}
			defer drv.Close()
			obs, err := drv.Observe(ctx, c.Env.Project)
			if err != nil {
				return err
			}
			pr := newProgress(s, g)
			r := &supervisor.Runner{Driver: drv, Sink: pr}
			err = r.Down(ctx, c.Graph(), obs, volumes)
			pr.Close()
			if err != nil {
				return &ExitError{Code: 1, Err: err}
			}
			if g.Output != "json" {
				vols := "kept"
				if volumes {
					vols = "removed"
				}
				fmt.Fprintf(s.Out, "%s: removed %d containers and %d networks; %d volumes %s\n",
					c.Env.Project, len(obs.Containers), len(obs.Networks), len(obs.Volumes), vols)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&volumes, "volumes", false, "also remove the data volumes")
	return cmd
}
