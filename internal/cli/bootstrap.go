package cli

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/novadev/novadev/internal/bootstrap"
	"github.com/novadev/novadev/internal/catalog"
)

func init() { register(newBootstrap) }

func newBootstrap(s Streams, g *Global) *cobra.Command {
	var opts bootstrap.Options
	var record bool
	cmd := &cobra.Command{
		Use:   "bootstrap <step>",
		Short: "Run one bootstrap step (" + strings.Join(catalog.Steps, ", ") + ")",
		Long: `Run one idempotent bootstrap step against the stores named by environment
variables (NOVA_POSTGRES_ADDR, NOVA_REDIS_NODES, NOVA_KAFKA_BROKERS,
NOVA_CLICKHOUSE_URL, passwords by variable name; NOVA_DIAL_MAP remaps
advertised addresses). This is what the compose one-shot services and the
kind Jobs run; novadev up runs the same code in-process.

A difference from the catalog that the step does not correct (drift: a
topic with more partitions, a table with another order key) fails it with
the differences and what to do; --allow-drift only warns. --check reports
every difference, changes nothing, and fails when there is one.`,
		Args:      cobra.ExactArgs(1),
		ValidArgs: catalog.Steps,
		RunE: func(cmd *cobra.Command, args []string) error {
			step, ok := bootstrap.Lookup(args[0])
			if !ok {
				return &ExitError{Code: 2, Err: fmt.Errorf("unknown step %q: want one of %s", args[0], strings.Join(catalog.Steps, ", "))}
			}
			if record {
				if args[0] != catalog.StepProtoValidate {
					return &ExitError{Code: 2, Err: fmt.Errorf("--record applies to %s only", catalog.StepProtoValidate)}
				}
				step = bootstrap.ProtoValidate{Record: true}
			}
			step, err := bootstrap.WithOptions(step, opts)
			if err != nil {
				return &ExitError{Code: 2, Err: err}
			}
			c, err := loadCatalog(s, g)
			if err != nil {
				return err
			}
			t, err := bootstrap.TargetsFromEnv(s.Getenv)
			if err != nil {
				return &ExitError{Code: 2, Err: err}
			}
			err = step.Run(cmd.Context(), c, t, func(format string, a ...any) {
				fmt.Fprintf(s.Out, "%s: %s\n", args[0], fmt.Sprintf(format, a...))
			})
			if err != nil {
				return &ExitError{Code: 1, Err: fmt.Errorf("%s: %w", args[0], err)}
			}
			fmt.Fprintf(s.Out, "%s: done\n", args[0])
			return nil
		},
	}
	cmd.Flags().BoolVar(&opts.Check, "check", false, "report every difference from the catalog and change nothing (fails when there is one)")
	cmd.Flags().BoolVar(&opts.AllowDrift, "allow-drift", false, "warn about drift the step does not correct instead of failing")
	cmd.Flags().BoolVar(&record, "record", false, "proto-validate: write the compiled protos as the baseline for protos.version (protos.baseline)")
	return cmd
}
