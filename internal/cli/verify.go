package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/novadev/novadev/internal/verify"
)

type verifyOptions struct {
	VerifyOptions
	junit string
}

func newVerify(s Streams, g *Global, svc Service) *cobra.Command {
	o := &verifyOptions{}
	cmd := &cobra.Command{
		Use:   "verify",
		Short: "Check a running environment the way the staging guide does: bootstraps, services, gRPC, metrics, stores",
		Long: `Check the running environment with real clients, one check per step of the
"Nova Staging Environment Deployment Guide" (Steps 3-6, Monitoring &
Verification): every bootstrap completed, every store and service ready, gRPC
health SERVING and reflection on each service, /metrics, each service user
logging into its own database and refused on another's, _sqlx_migrations,
Redis Cluster state, Kafka topics, ClickHouse databases and tables.

A check that needs a broken node fails naming it; every other check still
runs. --junit FILE writes a JUnit report (one testcase per check; failures
carry the log tail of the node concerned). Exit code 1 when a check fails.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runVerify(cmd.Context(), s, g, svc, o) },
	}
	f := cmd.Flags()
	f.StringSliceVar(&o.Only, "only", nil, "verify only these services and what they need (as up --only started them)")
	f.StringVar(&o.junit, "junit", "", "write a JUnit XML report to this file")
	f.DurationVar(&o.Timeout, "check-timeout", 15*time.Second, "give up on one check after this long")
	f.IntVar(&o.Parallel, "parallel", 8, "checks run at once")
	f.IntVar(&o.LogLines, "log-lines", 20, "log lines of the node concerned attached to a failure")
	return cmd
}

func runVerify(ctx context.Context, s Streams, g *Global, svc Service, o *verifyOptions) error {
	rep, err := svc.Verify(ctx, g, o.VerifyOptions)
	if err != nil {
		return err
	}
	if o.junit != "" {
		if err := writeJUnit(o.junit, rep); err != nil {
			return err
		}
	}
	if g.Output == "json" {
		enc := json.NewEncoder(s.Out)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return err
		}
	} else {
		printReport(s, rep)
	}
	if !rep.OK() {
		return &ExitError{Code: 1}
	}
	return nil
}

func writeJUnit(path string, rep *verify.Report) error {
	// CI passes paths inside an artifacts directory that may not exist yet
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("--junit: %w", err)
	}
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("--junit: %w", err)
	}
	if err := verify.WriteJUnit(f, rep); err != nil {
		f.Close()
		return fmt.Errorf("--junit %s: %w", path, err)
	}
	return f.Close()
}

// printReport prints one line per check and a summary; failures add their
// message and the log tail of the node concerned, indented.
func printReport(s Streams, rep *verify.Report) {
	width := 0
	for _, r := range rep.Results {
		width = max(width, len(r.ID))
	}
	for _, r := range rep.Results {
		mark := "ok  "
		switch r.Status {
		case verify.Failed:
			mark = "FAIL"
		case verify.Skipped:
			mark = "skip"
		}
		fmt.Fprintf(s.Out, "%s %-*s %8s  %s\n", mark, width, r.ID, r.Duration.Round(time.Millisecond), firstLine(r.Message))
		if r.Status == verify.Failed && r.LogTail != "" {
			fmt.Fprintf(s.Out, "     last log lines of %s:\n", r.Node)
			for _, l := range strings.Split(strings.TrimRight(r.LogTail, "\n"), "\n") {
				fmt.Fprintf(s.Out, "       %s\n", l)
			}
		}
	}
	verdict := "ok"
	if !rep.OK() {
		verdict = "FAILED"
	}
	fmt.Fprintf(s.Out, "verify %s: %s: %d checks, %d passed, %d failed, %d skipped in %s\n", rep.Instance, verdict,
		len(rep.Results), rep.Count(verify.Passed), rep.Count(verify.Failed), rep.Count(verify.Skipped), rep.Duration.Round(time.Millisecond))
}
