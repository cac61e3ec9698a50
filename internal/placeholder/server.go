package placeholder

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// Server is a running placeholder: gRPC (health, reflection and the
// service's own API) on one listener, /metrics and /health (JSON detail)
// over HTTP on the other, and, for the gateway, GraphQL on a third.
type Server struct {
	Service string
	GRPC    net.Listener
	Metrics net.Listener
	Deps    []Dependency
	Notes   []string
	Log     io.Writer
	// Tune, when set, adjusts the monitor (intervals, timeout) before it starts.
	Tune func(*Monitor)

	// API, when set, is served beside health; Protos resolves its
	// descriptors for reflection.
	API    *API
	Protos *Protos
	// Gateway, when set, answers GraphQL on HTTP.
	Gateway *Gateway
	HTTP    net.Listener
}

// Run serves until ctx ends, then stops both servers gracefully.
func (s *Server) Run(ctx context.Context) error {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	hs := health.NewServer()
	mon, err := NewMonitor(s.Service, s.Deps, s.Notes, hs, reg, s.Log)
	if err != nil {
		return err
	}
	if s.Tune != nil {
		s.Tune(mon)
	}

	gs := grpc.NewServer()
	healthpb.RegisterHealthServer(gs, hs)
	if s.API != nil {
		s.API.Register(gs)
	}
	if s.Protos != nil {
		RegisterReflection(gs, s.Protos.Files)
	} else {
		RegisterReflection(gs, nil)
	}

	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	healthDetail := func() (bool, any) {
		st := mon.Status()
		return st.Serving, struct {
			Service string `json:"service"`
			Status
		}{s.Service, st}
	}
	mux.HandleFunc("/health", func(w http.ResponseWriter, _ *http.Request) {
		ok, detail := healthDetail()
		w.Header().Set("Content-Type", "application/json")
		if !ok {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		_ = json.NewEncoder(w).Encode(detail)
	})
	hsrv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	var gwsrv *http.Server
	if s.Gateway != nil && s.HTTP != nil {
		s.Gateway.Ready = healthDetail
		gwsrv = &http.Server{Handler: s.Gateway, ReadHeaderTimeout: 5 * time.Second}
	}

	fmt.Fprintf(s.Log, "placeholder %s: gRPC on %s, metrics on %s, %d dependencies\n", s.Service, s.GRPC.Addr(), s.Metrics.Addr(), len(s.Deps))
	if s.API != nil {
		for _, sd := range s.API.Services {
			fmt.Fprintf(s.Log, "placeholder %s: serving %s (%d methods, %d fixtures)\n", s.Service, sd.FullName(), sd.Methods().Len(), len(s.API.FixtureFiles))
		}
	}
	if gwsrv != nil {
		fmt.Fprintf(s.Log, "placeholder %s: GraphQL gateway on %s (%d query fields)\n", s.Service, s.HTTP.Addr(), len(s.Gateway.Fields))
	}
	for _, n := range s.Notes {
		fmt.Fprintf(s.Log, "placeholder %s: %s\n", s.Service, n)
	}

	errc := make(chan error, 3)
	if gwsrv != nil {
		go func() {
			if err := gwsrv.Serve(s.HTTP); !errors.Is(err, http.ErrServerClosed) {
				errc <- err
			}
		}()
	}
	go func() { errc <- gs.Serve(s.GRPC) }()
	go func() {
		if err := hsrv.Serve(s.Metrics); !errors.Is(err, http.ErrServerClosed) {
			errc <- err
			return
		}
		errc <- nil
	}()
	monCtx, stopMon := context.WithCancel(ctx)
	monDone := make(chan struct{})
	go func() { mon.Run(monCtx); close(monDone) }()

	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-errc:
	}
	stopMon()
	<-monDone
	hs.Shutdown() // NOT_SERVING for watchers while we drain
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = hsrv.Shutdown(sctx)
	if gwsrv != nil {
		_ = gwsrv.Shutdown(sctx)
	}
	stopped := make(chan struct{})
	go func() { gs.GracefulStop(); close(stopped) }()
	select {
	case <-stopped:
	case <-sctx.Done():
		gs.Stop()
	}
	return runErr
}
