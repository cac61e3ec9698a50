package cli

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/novadev/novadev/internal/probe"
	"github.com/spf13/cobra"
)

func init() { register(newWait) }

// parseTarget turns tcp://host:port, grpc://host:port[/service],
// http(s)://host:port/path or job://<bootstrap> into a readiness check.
func parseTarget(s string) (probe.Check, error) {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("%q: want tcp://host:port, grpc://host:port[/service], http://host:port/path or job://<bootstrap>", s)
	}
	if u.Scheme == "job" {
		return jobCheck{name: u.Host, jobs: inClusterJobs}, nil
	}
	if u.Port() == "" {
		return nil, fmt.Errorf("%q: the address needs a port", s)
	}
	switch u.Scheme {
	case "tcp":
		return probe.TCP{Addr: u.Host}, nil
	case "grpc":
		return probe.GRPC{Addr: u.Host, Service: strings.TrimPrefix(u.Path, "/")}, nil
	case "http", "https":
		return probe.HTTP{URL: s}, nil
	}
	return nil, fmt.Errorf("%q: unknown scheme %q (tcp, grpc, http, job)", s, u.Scheme)
}

func newWait(s Streams, _ *Global) *cobra.Command {
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
			checks := make([]probe.Check, len(args))
			for i, a := range args {
				c, err := parseTarget(a)
				if err != nil {
					return err
				}
				checks[i] = c
			}
			ctx := cmd.Context()
			start := time.Now()
			var mu sync.Mutex
			var failed []string
			var wg sync.WaitGroup
			for _, c := range checks {
				wg.Add(1)
				go func(c probe.Check) {
					defer wg.Done()
					err := probe.Poll(ctx, probe.Real, probe.DefaultBackoff, timeout, c)
					mu.Lock()
					defer mu.Unlock()
					if err != nil {
						failed = append(failed, err.Error())
						return
					}
					fmt.Fprintf(s.Out, "ready: %s (%s)\n", c, time.Since(start).Round(time.Millisecond))
				}(c)
			}
			wg.Wait()
			if len(failed) > 0 {
				if ctx.Err() == context.Canceled {
					return &ExitError{Code: 130, Err: fmt.Errorf("interrupted")}
				}
				return fmt.Errorf("%s", strings.Join(failed, "\n"))
			}
			return nil
		},
	}
	cmd.Flags().DurationVar(&timeout, "timeout", 5*time.Minute, "give up after this long")
	return cmd
}
