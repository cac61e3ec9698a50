// Command placeholder stands in for a Nova service whose image is not
// available; see internal/placeholder and docs/contracts.md.
package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/signal"
	"strconv"
	"syscall"

	"github.com/novadev/novadev/internal/placeholder"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := run(ctx); err != nil {
		fmt.Fprintf(os.Stderr, "placeholder: %v\n", err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	cfg, err := placeholder.FromEnv(os.Getenv)
	if err != nil {
		return err
	}
	deps, notes, err := cfg.Dependencies()
	if err != nil {
		return err
	}
	gl, err := net.Listen("tcp", ":"+strconv.Itoa(cfg.GRPCPort))
	if err != nil {
		return err
	}
	ml, err := net.Listen("tcp", ":"+strconv.Itoa(cfg.MetricsPort))
	if err != nil {
		gl.Close()
		return err
	}
	s := &placeholder.Server{Service: cfg.Service, GRPC: gl, Metrics: ml, Deps: deps, Notes: notes, Log: os.Stderr}
	return s.Run(ctx)
}
