package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/novadev/novadev/internal/backend"
	"github.com/novadev/novadev/internal/cli"
	"github.com/novadev/novadev/internal/event"
	"github.com/novadev/novadev/internal/supervisor"
	"github.com/novadev/novadev/internal/verify"
)

// ciDownTimeout bounds the teardown after an interrupted or timed-out run:
// it runs on a context of its own, so a cancelled run still cleans up.
const ciDownTimeout = 5 * time.Minute

// CI implements cli.Service: up, verify, and on failure the logs of the
// failed nodes, the events and the report into o.Artifacts; then down
// --volumes unless o.Keep. The whole run before teardown is bounded by
// o.Timeout. The report's Code is the exit code (cli.CIExit*).
func (sv *service) CI(ctx context.Context, g *cli.Global, o cli.CIOptions, sink event.Sink) (*cli.CIReport, error) {
	if o.Artifacts == "" {
		return nil, &cli.UsageError{Err: errors.New("--artifacts: a directory is needed")}
	}
	if err := os.MkdirAll(o.Artifacts, 0o755); err != nil {
		return nil, &cli.UsageError{Err: fmt.Errorf("--artifacts %s: %w", o.Artifacts, err)}
	}
	run := ctx
	if o.Timeout > 0 {
		var cancel context.CancelFunc
		run, cancel = context.WithTimeout(ctx, o.Timeout)
		defer cancel()
	}
	rec := &eventLog{}
	sink = teeSink{sink, rec}
	rep := &cli.CIReport{Code: cli.CIExitOK, Artifacts: o.Artifacts}
	failed := map[string]bool{} // nodes whose logs are collected

	up, err := sv.Up(run, g, cli.UpOptions{Only: o.Only, Parallel: o.Parallel}, sink)
	rep.Up = up
	if err != nil {
		rep.UpErr = err
		rep.Code = cli.CIExitUp
		if up != nil && up.Result != nil {
			for _, n := range up.Result.Failed() {
				failed[n] = true
			}
		}
	} else {
		vr, err := sv.Verify(run, g, cli.VerifyOptions{Only: o.Only, Timeout: o.CheckTimeout, Parallel: o.Parallel, LogLines: o.LogLines})
		rep.Verify, rep.VerifyErr = vr, err
		switch {
		case err != nil:
			rep.Code = cli.CIExitVerify
		case !vr.OK():
			rep.Code = cli.CIExitVerify
			for _, r := range vr.Results {
				if r.Status == verify.Failed && r.Node != "" {
					failed[r.Node] = true
				}
			}
		}
	}
	switch {
	case ctx.Err() != nil:
		rep.Code = cli.CIExitInterrupted
	case run.Err() != nil:
		rep.Code, rep.TimedOut = cli.CIExitTimeout, true
	}

	// artifacts are written whatever the teardown does
	if o.JUnit != "" {
		path := o.JUnit
		if !filepath.IsAbs(path) {
			path = filepath.Join(o.Artifacts, path)
		}
		jr := rep.Verify
		if jr == nil {
			jr = stageReport(g, rep)
		}
		if err := writeFile(path, func(f *os.File) error { return verify.WriteJUnit(f, jr) }); err != nil {
			return rep, fmt.Errorf("--junit: %w", err)
		}
		rep.Files = append(rep.Files, path)
	}
	if rep.Code != cli.CIExitOK {
		files, err := sv.collect(context.WithoutCancel(ctx), g, o, rep, slices.Sorted(maps.Keys(failed)), rec)
		rep.Files = append(rep.Files, files...)
		if err != nil {
			fmt.Fprintf(sv.s.Err, "novadev: ci: collecting artifacts: %v\n", err)
		}
	}

	if !o.Keep {
		// a fresh context: an interrupted or timed-out run still tears down
		down, cancel := context.WithTimeout(context.WithoutCancel(ctx), ciDownTimeout)
		defer cancel()
		res, err := sv.Down(down, g, cli.DownOptions{Volumes: true}, sink)
		rep.Down, rep.DownErr = res, err
		if err != nil && rep.Code == cli.CIExitOK {
			rep.Code = cli.CIExitDown
		}
	}
	return rep, nil
}

// stageReport stands in for the verify report in the JUnit file when
// verify did not run or could not: a pipeline that uploads the file finds
// one, with a failed testcase per node up failed (else one for the stage).
func stageReport(g *cli.Global, rep *cli.CIReport) *verify.Report {
	r := &verify.Report{Instance: g.Env, Started: time.Now()}
	var ue *supervisor.UpError
	if errors.As(rep.UpErr, &ue) {
		for _, ne := range ue.Failed {
			r.Results = append(r.Results, verify.Result{ID: ne.Node + "/up", Kind: "up", Node: ne.Node, What: "up", Status: verify.Failed, Message: ne.Error()})
		}
	}
	switch {
	case len(r.Results) > 0:
	case rep.UpErr != nil:
		r.Results = append(r.Results, verify.Result{ID: "ci/up", Kind: "up", What: "up", Status: verify.Failed, Message: rep.UpErr.Error()})
	case rep.VerifyErr != nil:
		r.Results = append(r.Results, verify.Result{ID: "ci/verify", Kind: "verify", What: "verify", Status: verify.Failed, Message: rep.VerifyErr.Error()})
	}
	return r
}

// collect writes what explains a failed run into the artifacts directory:
// per failed node its logs (nodes/<node>.log), every event of the run
// (events.jsonl), and the verify report (verify.json) or up's error
// (up-error.txt).
func (sv *service) collect(ctx context.Context, g *cli.Global, o cli.CIOptions, rep *cli.CIReport, nodes []string, rec *eventLog) ([]string, error) {
	var files []string
	var errs []error
	add := func(name string, write func(f *os.File) error) {
		path := filepath.Join(o.Artifacts, name)
		if err := writeFile(path, write); err != nil {
			errs = append(errs, err)
			return
		}
		files = append(files, path)
	}
	add("events.jsonl", func(f *os.File) error {
		enc := json.NewEncoder(f)
		for _, e := range rec.events() {
			if err := enc.Encode(e); err != nil {
				return err
			}
		}
		return nil
	})
	if rep.UpErr != nil {
		add("up-error.txt", func(f *os.File) error { _, err := fmt.Fprintln(f, rep.UpErr); return err })
	}
	if rep.Verify != nil {
		add("verify.json", func(f *os.File) error {
			enc := json.NewEncoder(f)
			enc.SetIndent("", "  ")
			return enc.Encode(rep.Verify)
		})
	}
	if rep.VerifyErr != nil {
		add("verify-error.txt", func(f *os.File) error { _, err := fmt.Fprintln(f, rep.VerifyErr); return err })
	}
	if len(nodes) > 0 {
		e, err := sv.open(ctx, g, openOptions{})
		if err != nil {
			return files, errors.Join(append(errs, err)...)
		}
		defer e.close()
		lines := o.LogLines
		if lines <= 0 {
			lines = 200
		}
		for _, n := range nodes {
			tails := backend.Tail(ctx, e.b, n, lines)
			add(filepath.Join("nodes", n+".log"), func(f *os.File) error {
				for _, unit := range slices.Sorted(maps.Keys(tails)) {
					for _, l := range tails[unit] {
						if _, err := fmt.Fprintf(f, "%s | %s\n", unit, l); err != nil {
							return err
						}
					}
				}
				return nil
			})
		}
	}
	return files, errors.Join(errs...)
}

func writeFile(path string, write func(*os.File) error) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := write(f); err != nil {
		f.Close()
		return fmt.Errorf("%s: %w", path, err)
	}
	return f.Close()
}

// eventLog keeps every event of a ci run for events.jsonl.
type eventLog struct {
	mu sync.Mutex
	ev []event.Event
}

func (l *eventLog) Emit(e event.Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.ev = append(l.ev, e)
}

func (l *eventLog) events() []event.Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.ev)
}

// teeSink sends each event to both sinks (the terminal's progress, the
// log).
type teeSink [2]event.Sink

func (t teeSink) Emit(e event.Event) {
	for _, s := range t {
		if s != nil {
			s.Emit(e)
		}
	}
}
