package main

import (
	"context"
	"net"
	"strconv"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

func TestHealthcheckFollowsOwnHealth(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	hs := health.NewServer()
	healthpb.RegisterHealthServer(srv, hs)
	go srv.Serve(ln)
	defer srv.Stop()
	t.Setenv("GRPC_PORT", strconv.Itoa(ln.Addr().(*net.TCPAddr).Port))
	t.Setenv("NOVA_SERVICE", "feed-service")

	hs.SetServingStatus("", healthpb.HealthCheckResponse_NOT_SERVING)
	err = healthcheck(context.Background())
	if err == nil || err.Error() != "feed-service is NOT_SERVING" {
		t.Fatalf("NOT_SERVING: got %v", err)
	}
	hs.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	if err := healthcheck(context.Background()); err != nil {
		t.Fatalf("SERVING: %v", err)
	}
	srv.Stop()
	if err := healthcheck(context.Background()); err == nil {
		t.Fatal("healthcheck passed with the server stopped")
	}
}
