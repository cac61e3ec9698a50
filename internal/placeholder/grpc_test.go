package placeholder

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	reflectpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
)

// upstream is a real gRPC health server on a loopback port, standing for a
// service the placeholder depends on.
func upstream(t *testing.T) (addr string, hs *health.Server) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gs := grpc.NewServer()
	hs = health.NewServer()
	hs.SetServingStatus("", healthpb.HealthCheckResponse_NOT_SERVING)
	healthpb.RegisterHealthServer(gs, hs)
	go gs.Serve(ln)
	t.Cleanup(gs.Stop)
	return ln.Addr().String(), hs
}

func TestGRPCHealthCheckAgainstRealServer(t *testing.T) {
	addr, hs := upstream(t)
	c, err := NewGRPCHealthCheck(addr)
	if err != nil {
		t.Fatal(err)
	}
	if c.Name() != "grpc:"+addr {
		t.Errorf("Name() = %q", c.Name())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err = c.Check(ctx)
	if err == nil || !strings.Contains(err.Error(), "NOT_SERVING") {
		t.Fatalf("upstream NOT_SERVING: err = %v, want one naming NOT_SERVING", err)
	}

	f := newFixture(t, Dependency{Check: c, Required: true})
	f.mon.Round(ctx)
	if got := f.health(); got != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Fatalf("placeholder with NOT_SERVING upstream: %s", got)
	}
	hs.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	if err := c.Check(ctx); err != nil {
		t.Fatalf("upstream SERVING: %v", err)
	}
	f.mon.Round(ctx)
	if got := f.health(); got != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("placeholder with SERVING upstream: %s", got)
	}
	if lines := f.logLines(); len(lines) != 2 || !strings.HasSuffix(lines[1], "SERVING: all dependencies ok") {
		t.Fatalf("log = %q", lines)
	}
}

func TestGRPCHealthCheckUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	c, err := NewGRPCHealthCheck(addr)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := c.Check(ctx); err == nil || !strings.Contains(err.Error(), "Unavailable") {
		t.Fatalf("err = %v, want Unavailable", err)
	}
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestServerEndToEnd runs the whole placeholder on loopback ports with one
// gRPC dependency and talks to it as its clients do: grpc.health.v1,
// reflection, /metrics and /health.
func TestServerEndToEnd(t *testing.T) {
	upAddr, upHealth := upstream(t)
	dep, err := NewGRPCHealthCheck(upAddr)
	if err != nil {
		t.Fatal(err)
	}
	gl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ml, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var log lockedBuffer
	srv := &Server{
		Service: "feed-service", GRPC: gl, Metrics: ml, Log: &log,
		Deps:  []Dependency{{Check: dep, Required: true}},
		Notes: []string{"neo4j: absent (NEO4J_URI unset)"},
		Tune:  func(m *Monitor) { m.FastInterval, m.Interval = 20*time.Millisecond, 20*time.Millisecond },
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()

	conn, err := grpc.NewClient(gl.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	hc := healthpb.NewHealthClient(conn)
	waitFor := func(want healthpb.HealthCheckResponse_ServingStatus) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		var last healthpb.HealthCheckResponse_ServingStatus
		for time.Now().Before(deadline) {
			resp, err := hc.Check(context.Background(), &healthpb.HealthCheckRequest{})
			if err == nil {
				if last = resp.GetStatus(); last == want {
					return
				}
			}
			time.Sleep(10 * time.Millisecond)
		}
		t.Fatalf("placeholder health = %s after 5s, want %s; log:\n%s", last, want, log.String())
	}
	waitFor(healthpb.HealthCheckResponse_NOT_SERVING)
	var st struct {
		Service string
		Status
	}
	var health string
	for range 100 { // until the first round has results
		health = getHTTP(t, "http://"+ml.Addr().String()+"/health", http.StatusServiceUnavailable)
		if err := json.Unmarshal([]byte(health), &st); err != nil {
			t.Fatal(err)
		}
		if len(st.Results) > 0 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if st.Service != "feed-service" || st.Serving || len(st.Results) != 1 || st.Results[0].OK || len(st.Notes) != 1 {
		t.Fatalf("/health = %s", health)
	}

	upHealth.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	waitFor(healthpb.HealthCheckResponse_SERVING)
	metrics := getHTTP(t, "http://"+ml.Addr().String()+"/metrics", http.StatusOK)
	for _, want := range []string{
		`nova_placeholder_dependency_up{dependency="grpc:` + upAddr + `",required="true"} 1`,
		`nova_placeholder_serving 1`,
		`nova_placeholder_info{service="feed-service"} 1`,
		`go_goroutines `,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}

	// Reflection lists the health service.
	stream, err := reflectpb.NewServerReflectionClient(conn).ServerReflectionInfo(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(&reflectpb.ServerReflectionRequest{MessageRequest: &reflectpb.ServerReflectionRequest_ListServices{}}); err != nil {
		t.Fatal(err)
	}
	resp, err := stream.Recv()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range resp.GetListServicesResponse().GetService() {
		names = append(names, s.GetName())
	}
	if !strings.Contains(strings.Join(names, ","), "grpc.health.v1.Health") {
		t.Errorf("reflection services = %v", names)
	}
	stream.CloseSend()

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	for _, want := range []string{"NOT_SERVING: grpc:" + upAddr + " (required) failing: ", "SERVING: all dependencies ok", "neo4j: absent"} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, log.String())
		}
	}
}

func getHTTP(t *testing.T, url string, wantCode int) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != wantCode {
		t.Fatalf("GET %s: %d, want %d: %s", url, resp.StatusCode, wantCode, body)
	}
	return string(body)
}
