package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/novadev/novadev/internal/catalog"
)

func newBootstrap(s Streams, g *Global, svc Service) *cobra.Command {
	var opts BootstrapOptions
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
			if !slices.Contains(catalog.Steps, args[0]) {
				return &ExitError{Code: 2, Err: fmt.Errorf("unknown step %q: want one of %s", args[0], strings.Join(catalog.Steps, ", "))}
			}
			if opts.Record && args[0] != catalog.StepProtoValidate {
				return &ExitError{Code: 2, Err: fmt.Errorf("--record applies to %s only", catalog.StepProtoValidate)}
			}
			say := func(msg string, done bool) {
				if g.Output == "json" {
					b, _ := json.Marshal(map[string]any{"step": args[0], "message": msg, "done": done})
					fmt.Fprintf(s.Out, "%s\n", b)
					return
				}
				fmt.Fprintf(s.Out, "%s: %s\n", args[0], msg)
			}
			err := svc.Bootstrap(cmd.Context(), g, args[0], opts, s.Getenv, func(format string, a ...any) {
				say(fmt.Sprintf(format, a...), false)
			})
			var usage *UsageError
			switch {
			case errors.As(err, &usage):
				return &ExitError{Code: 2, Err: usage.Err}
			case err != nil:
				if perr := problemsExit(s, err); perr != err {
					return perr
				}
				return &ExitError{Code: 1, Err: fmt.Errorf("%s: %w", args[0], err)}
			}
			say("done", true)
			return nil
		},
	}
	cmd.Flags().BoolVar(&opts.Check, "check", false, "report every difference from the catalog and change nothing (fails when there is one)")
	cmd.Flags().BoolVar(&opts.AllowDrift, "allow-drift", false, "warn about drift the step does not correct instead of failing")
	cmd.Flags().BoolVar(&opts.Record, "record", false, "proto-validate: write the compiled protos as the baseline for protos.version (protos.baseline)")
	return cmd
}
