// Package app is the composition root of the novadev command: it wires the
// commands to real streams, the environment and the process exit code.
package app

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/novadev/novadev/internal/cli"
)

// Main runs novadev with the process's arguments and streams and returns the
// exit code.
func Main() int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return Run(ctx, cli.Streams{In: os.Stdin, Out: os.Stdout, Err: os.Stderr, Getenv: os.Getenv}, os.Args[1:])
}

// Run runs novadev with the given arguments and returns the exit code. Only
// here is an error printed.
func Run(ctx context.Context, s cli.Streams, args []string) int {
	cmd := cli.NewRoot(s)
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	var exit *cli.ExitError
	if errors.As(err, &exit) {
		if exit.Err != nil {
			fmt.Fprintln(s.Err, "novadev:", exit.Err)
		}
		return exit.Code
	}
	fmt.Fprintln(s.Err, "novadev:", err)
	return 1
}
