// Package app is the composition root of the novadev command: it loads the
// catalog and the environment, picks the backend for --target, sets up the
// credentials and the event sinks, and hands them to the commands of
// internal/cli (which parse flags and print). It also owns the process:
// streams, signals and the exit code.
package app

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/novadev/novadev/internal/cli"
	"github.com/novadev/novadev/internal/probe"
	"github.com/novadev/novadev/internal/supervisor"
)

// ExitInterrupted is the exit code after Ctrl-C or SIGTERM (128+SIGINT).
const ExitInterrupted = cli.ExitInterrupted

// Main runs novadev with the process's arguments and streams and returns the
// exit code. The first SIGINT or SIGTERM cancels the run (every verb stops
// and cleans up; exit code 130); a second one exits at once.
func Main() int {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	go func() {
		<-sigs
		cancel()
		<-sigs
		fmt.Fprintln(os.Stderr, "novadev: interrupted twice; exiting now")
		os.Exit(ExitInterrupted)
	}()
	return Run(ctx, cli.Streams{In: os.Stdin, Out: os.Stdout, Err: os.Stderr, Getenv: os.Getenv}, os.Args[1:])
}

// Run runs novadev with the given arguments on the real backends and
// returns the exit code. Only here is an error printed.
func Run(ctx context.Context, s cli.Streams, args []string) int {
	return RunWith(ctx, s, args, Options{})
}

// Options replace the real machinery, for tests.
type Options struct {
	// Backends maps a --target to what opens its backend; nil: the real
	// ones (docker).
	Backends map[string]BackendFactory
	// Bootstrap, when set, runs bootstraps instead of internal/bootstrap.
	Bootstrap supervisor.Bootstrapper
	// Ready, when set, replaces the readiness checks of every node.
	Ready supervisor.Readiness
	// StateDir holds instance locks; "": $NOVADEV_STATE_DIR, else
	// $XDG_STATE_HOME/novadev, else ~/.local/state/novadev.
	StateDir string
	// Clock is the supervisor's clock; nil: the wall clock.
	Clock probe.Clock
	// Instances opens where instance records live; nil: the Docker engine.
	Instances InstanceOpener
	// PortFree reports whether a host port binds, for port-block
	// allocation; nil: a listen on 127.0.0.1.
	PortFree func(port int) error
	// Now is the wall clock of instance expiry (up --ttl, list, gc); nil:
	// time.Now.
	Now func() time.Time
	// KindCluster opens the kind target's cluster (kind.go); nil: a
	// kindcluster.Provisioner on the rendered kind/cluster.yaml.
	KindCluster KindClusterFactory
	// ClusterVerifier opens verify's view of a namespace on --target kube
	// and kind (verify.go); nil: kubecluster.Open on the kubeconfig.
	ClusterVerifier ClusterVerifier
}

// RunWith is Run with replaced machinery.
func RunWith(ctx context.Context, s cli.Streams, args []string, o Options) int {
	if s.Getenv == nil {
		s.Getenv = os.Getenv
	}
	if o.Backends == nil {
		o.Backends = defaultBackends()
	}
	if o.StateDir == "" {
		o.StateDir = stateDir(s.Getenv)
	}
	cmd := cli.NewRoot(s, &service{s: s, o: o})
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	code := cli.ExitFailure
	var exit *cli.ExitError
	var usage *cli.UsageError
	switch {
	case errors.As(err, &usage):
		code = cli.ExitUsage
	case errors.As(err, &exit):
		code = exit.Code
	case cli.IsUsage(err): // cobra's unknown verb
		code = cli.ExitUsage
	}
	if ctx.Err() != nil && code != 0 {
		code = ExitInterrupted
	}
	cli.PrintError(s, cli.WantsJSON(cmd, args), err, code)
	return code
}

// stateDir is where novadev keeps what is per user and not per project
// (instance locks).
func stateDir(getenv func(string) string) string {
	if d := getenv("NOVADEV_STATE_DIR"); d != "" {
		return d
	}
	if d := getenv("XDG_STATE_HOME"); d != "" {
		return filepath.Join(d, "novadev")
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".local", "state", "novadev")
	}
	return filepath.Join(os.TempDir(), "novadev-state")
}
