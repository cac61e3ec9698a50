package cli

import (
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/novadev/novadev/internal/supervisor"
	"github.com/novadev/novadev/internal/verify"
)

// ci's exit codes (README, "novadev ci"): the first failure decides; a
// failed teardown after a failure is reported but keeps that failure's
// code.
const (
	CIExitOK          = 0   // up, verify and down passed
	CIExitVerify      = 1   // a verify check failed (or verify could not run)
	CIExitUsage       = 2   // bad flags or arguments
	CIExitUp          = 3   // up failed
	CIExitDown        = 4   // everything passed but down --volumes failed
	CIExitTimeout     = 124 // --timeout passed (as timeout(1) says it)
	CIExitInterrupted = 130 // Ctrl-C or SIGTERM
)

// CIOptions are ci's flags.
type CIOptions struct {
	Only         []string
	Parallel     int
	CheckTimeout time.Duration
	LogLines     int
	// Artifacts is the directory the JUnit report and, on failure, the
	// failed nodes' logs, the events and the verify report go to.
	Artifacts string
	// JUnit is the JUnit report's file, relative to Artifacts unless
	// absolute; "": none.
	JUnit string
	// Keep leaves the instance running (for debugging) instead of down
	// --volumes.
	Keep bool
	// Timeout bounds up and verify together (teardown has its own bound).
	Timeout time.Duration
}

// CIReport is how a ci run went.
type CIReport struct {
	Code      int // the exit code, one of CIExit*
	TimedOut  bool
	Up        *UpReport
	UpErr     error
	Verify    *verify.Report
	VerifyErr error
	Down      *supervisor.DownResult
	DownErr   error
	Artifacts string
	Files     []string // written into Artifacts
}

func newCI(s Streams, g *Global, svc Service) *cobra.Command {
	o := CIOptions{}
	cmd := &cobra.Command{
		Use:   "ci",
		Short: "up, verify, collect what failed, down --volumes: one exit code for a pipeline",
		Long: `Bring the environment up, run verify, and on any failure write the logs of
the failed nodes (nodes/<node>.log), every progress event (events.jsonl) and
the verify report (verify.json) or up's error (up-error.txt) into
--artifacts; with --junit the JUnit report is written there whatever the
outcome (when up failed, one failed testcase <node>/up per failed node). Then down --volumes, unless --keep. --timeout bounds up and verify
together; teardown runs even after a timeout or Ctrl-C.

Exit codes: 0 passed; 1 a verify check failed; 2 usage; 3 up failed;
4 only the teardown failed; 124 --timeout passed; 130 interrupted.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			pr := newProgress(s, g)
			rep, err := svc.CI(cmd.Context(), g, o, pr)
			pr.Close()
			if rep == nil {
				return err
			}
			if rep.Up != nil && rep.Up.Result != nil {
				pr.Summary(rep.Up.Result, nil)
			}
			if g.Output == "json" {
				printCIJSON(s, rep) // jsonout.go
			} else {
				printCI(s, rep)
			}
			if err != nil {
				return &ExitError{Code: max(rep.Code, 1), Err: err}
			}
			if rep.Code != CIExitOK {
				return &ExitError{Code: rep.Code}
			}
			return nil
		},
	}
	// a pipeline tells a wrong flag from a failed run by the exit code
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &UsageError{Err: err} })
	f := cmd.Flags()
	f.StringSliceVar(&o.Only, "only", nil, "start and verify only these services (and what they need)")
	f.StringVar(&o.Artifacts, "artifacts", "novadev-artifacts", "directory for the JUnit report and, on failure, logs, events and the report")
	f.StringVar(&o.JUnit, "junit", "", "write a JUnit XML report to this file (relative to --artifacts)")
	f.BoolVar(&o.Keep, "keep", false, "leave the instance running instead of down --volumes")
	f.DurationVar(&o.Timeout, "timeout", 20*time.Minute, "give up on up and verify after this long (teardown still runs)")
	f.IntVar(&o.Parallel, "parallel", 6, "nodes applied, bootstraps or checks run at once")
	f.DurationVar(&o.CheckTimeout, "check-timeout", 15*time.Second, "give up on one verify check after this long")
	f.IntVar(&o.LogLines, "log-lines", 200, "log lines collected per failed node")
	return cmd
}

// printCI prints each stage's outcome and the artifacts written.
func printCI(s Streams, rep *CIReport) {
	if rep.UpErr != nil {
		fmt.Fprintf(s.Out, "ci: up FAILED: %s\n", firstLine(rep.UpErr.Error()))
	} else {
		fmt.Fprintln(s.Out, "ci: up ok")
	}
	switch {
	case rep.VerifyErr != nil:
		fmt.Fprintf(s.Out, "ci: verify FAILED: %s\n", firstLine(rep.VerifyErr.Error()))
	case rep.Verify != nil:
		printReport(s, rep.Verify)
	}
	switch {
	case rep.DownErr != nil:
		fmt.Fprintf(s.Out, "ci: down FAILED: %s\n", firstLine(rep.DownErr.Error()))
	case rep.Down != nil:
		fmt.Fprintf(s.Out, "ci: down --volumes: removed %d containers, %d networks, %d volumes\n", rep.Down.Units, rep.Down.Networks, rep.Down.Volumes)
	default:
		fmt.Fprintln(s.Out, "ci: --keep: the instance is left running")
	}
	if rep.TimedOut {
		fmt.Fprintln(s.Out, "ci: --timeout passed")
	}
	if len(rep.Files) > 0 {
		fmt.Fprintf(s.Out, "ci: artifacts in %s: %s\n", rep.Artifacts, strings.Join(rep.Files, ", "))
	}
	fmt.Fprintf(s.Out, "ci: exit %d\n", rep.Code)
}
