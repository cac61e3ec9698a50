package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"
)

func newWait(s Streams, g *Global, svc Service) *cobra.Command {
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "wait TARGET...",
		Short: "Wait until every target is ready (init containers use it)",
		Long: `Wait until every target answers, polling fast at first and then about once
a second: tcp://host:port (accepts a connection), grpc://host:port[/service]
(grpc.health.v1 SERVING), http://host:port/path (2xx), job://<bootstrap> (in a
Kubernetes pod: the Job labelled novadev.io/bootstrap=<bootstrap> in the pod's
namespace has completed). Exit 0 when all are
ready, 1 with what was not when --timeout passes.`,
		Example: "  novadev wait tcp://postgres:5432 grpc://user-service:50051",
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			start := time.Now()
			err := svc.Wait(ctx, args, timeout, func(what string) {
				after := time.Since(start).Round(time.Millisecond)
				if g.Output == "json" {
					b, _ := json.Marshal(map[string]any{"ready": what, "afterMs": after.Milliseconds()})
					fmt.Fprintf(s.Out, "%s\n", b)
					return
				}
				fmt.Fprintf(s.Out, "ready: %s (%s)\n", what, after)
			})
			if err != nil && errors.Is(ctx.Err(), context.Canceled) {
				return &ExitError{Code: ExitInterrupted, Err: fmt.Errorf("interrupted")}
			}
			return err
		},
	}
	cmd.Flags().DurationVar(&timeout, "timeout", 5*time.Minute, "give up after this long")
	return cmd
}
