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
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/novadev/novadev/internal/placeholder"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	// -healthcheck: the compose healthcheck (the image has no shell): exit 0
	// when this container's own gRPC health reports SERVING
	if len(os.Args) == 2 && os.Args[1] == "-healthcheck" {
		if err := healthcheck(ctx); err != nil {
			fmt.Fprintf(os.Stderr, "placeholder: %v\n", err)
			os.Exit(1)
		}
		return
	}
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
	if err := serveAPI(ctx, cfg, s); err != nil {
		gl.Close()
		ml.Close()
		return err
	}
	if s.HTTP != nil {
		defer s.HTTP.Close()
	}
	return s.Run(ctx)
}

// serveAPI loads the proto files the environment names and sets up the
// service's own API and, with HTTP_PORT, the GraphQL gateway.
func serveAPI(ctx context.Context, cfg placeholder.Config, s *placeholder.Server) error {
	a := cfg.API
	s.Notes = append(s.Notes, a.Notes()...)
	if a.ProtoDir != "" {
		protos, err := placeholder.LoadProtos(ctx, a.ProtoDir, a.ProtoFiles)
		if err != nil {
			return err
		}
		s.Protos = protos
		if len(a.APIs) > 0 {
			if s.API, err = placeholder.NewAPI(protos, cfg.Service, a.APIs, a.FixturesDir); err != nil {
				return err
			}
		}
	}
	if a.HTTPPort != 0 {
		var err error
		if s.Gateway, err = placeholder.NewGateway(s.Protos, placeholder.NewRouter(cfg.GRPCDeps, a.Routes)); err != nil {
			return err
		}
		if s.HTTP, err = net.Listen("tcp", ":"+strconv.Itoa(a.HTTPPort)); err != nil {
			return err
		}
	}
	return nil
}

func healthcheck(ctx context.Context) error {
	cfg, err := placeholder.FromEnv(os.Getenv)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	conn, err := grpc.NewClient(net.JoinHostPort("127.0.0.1", strconv.Itoa(cfg.GRPCPort)), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return err
	}
	defer conn.Close()
	resp, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
	if err != nil {
		return err
	}
	if resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		return fmt.Errorf("%s is %s", cfg.Service, resp.GetStatus())
	}
	return nil
}
