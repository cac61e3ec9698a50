package cli

import "github.com/spf13/cobra"

// newExec is compose's `exec`: a command in a running container.
func newExec(s Streams, g *Global, svc Service) *cobra.Command {
	return &cobra.Command{
		Use:   "exec UNIT -- COMMAND [ARG...]",
		Short: "Run a command in a running container of the environment (docker)",
		Long: `Run a command in the running container of a service or store (a Redis
Cluster node by its name, e.g. redis-1), as docker compose exec -T does: no
TTY, stdin passed through. The exit code is the command's.`,
		Example:           "  novadev exec postgres -- pg_isready",
		Args:              cobra.MinimumNArgs(2),
		ValidArgsFunction: completeNodes(g),
		RunE: func(cmd *cobra.Command, args []string) error {
			code, err := svc.Exec(cmd.Context(), g, args[0], args[1:], s)
			if err != nil {
				return problemsExit(s, err)
			}
			if code != 0 {
				return &ExitError{Code: code, Err: nil}
			}
			return nil
		},
	}
}
