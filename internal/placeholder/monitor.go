package placeholder

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// Monitor runs the dependency checks, publishes the aggregate as the gRPC
// health status and as metrics, and logs every state change.
type Monitor struct {
	service string
	deps    []Dependency
	notes   []string
	health  *health.Server
	log     io.Writer

	// Timeout bounds one check.
	Timeout time.Duration
	// FailureThreshold is how many rounds in a row a required check must
	// fail before a serving placeholder turns NOT_SERVING, as a
	// readiness probe's failureThreshold: one slow answer under load is
	// not an outage. Before the first SERVING one failure is enough (the
	// placeholder starts NOT_SERVING).
	FailureThreshold int
	// FastInterval is the pace right after start, until the first SERVING
	// or until FastFor has passed; Interval is the pace after that.
	FastInterval, Interval, FastFor time.Duration

	up       *prometheus.GaugeVec
	duration *prometheus.GaugeVec
	serving  prometheus.Gauge

	mu      sync.Mutex
	status  Status
	lastKey string
	// fails counts each check's consecutive failures; served is whether
	// the placeholder has been SERVING since it started (Round only).
	fails  map[string]int
	served bool
}

// NewMonitor registers its metrics on reg and starts NOT_SERVING.
func NewMonitor(service string, deps []Dependency, notes []string, hs *health.Server, reg prometheus.Registerer, log io.Writer) (*Monitor, error) {
	m := &Monitor{
		service:          service,
		deps:             deps,
		notes:            notes,
		health:           hs,
		log:              log,
		Timeout:          2 * time.Second,
		FailureThreshold: 2,
		fails:            map[string]int{},
		FastInterval:     250 * time.Millisecond,
		Interval:         3 * time.Second,
		FastFor:          30 * time.Second,
		up: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "nova_placeholder_dependency_up",
			Help: "1 when the dependency's last check passed, 0 when it failed.",
		}, []string{"dependency", "required"}),
		duration: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "nova_placeholder_dependency_check_seconds",
			Help: "How long the dependency's last check took.",
		}, []string{"dependency"}),
		serving: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "nova_placeholder_serving",
			Help: "1 when the placeholder reports SERVING (every required dependency passes).",
		}),
	}
	info := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "nova_placeholder_info",
		Help:        "The service this placeholder stands in for.",
		ConstLabels: prometheus.Labels{"service": service},
	})
	info.Set(1)
	for _, c := range []prometheus.Collector{m.up, m.duration, m.serving, info} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	for _, d := range deps {
		m.up.WithLabelValues(d.Name(), fmt.Sprint(d.Required)).Set(0)
	}
	hs.SetServingStatus("", healthpb.HealthCheckResponse_NOT_SERVING)
	m.status = Aggregate(nil)
	m.status.Serving = false
	return m, nil
}

// Round runs every check once, concurrently, and applies the outcome.
func (m *Monitor) Round(ctx context.Context) Status {
	results := make([]Result, len(m.deps))
	var wg sync.WaitGroup
	for i, d := range m.deps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cctx, cancel := context.WithTimeout(ctx, m.Timeout)
			defer cancel()
			start := time.Now()
			err := d.Check.Check(cctx)
			m.duration.WithLabelValues(d.Name()).Set(time.Since(start).Seconds())
			r := Result{Name: d.Name(), Required: d.Required, OK: err == nil}
			if err != nil {
				// one line per state change: errors from drivers may span lines
				r.Error = strings.Join(strings.Fields(err.Error()), " ")
			}
			results[i] = r
		}()
	}
	wg.Wait()
	for i, r := range results {
		if r.OK {
			m.fails[r.Name] = 0
		} else {
			m.fails[r.Name]++
		}
		results[i].Failures = m.fails[r.Name]
	}
	s := Aggregate(results)
	if !s.Serving && m.served {
		s = m.tolerate(s)
	}
	if s.Serving {
		m.served = true
	}
	s.Notes = m.notes
	m.apply(s)
	return s
}

// tolerate keeps a serving placeholder SERVING while every failing
// required check has failed fewer than FailureThreshold rounds in a row,
// marking those failures tolerated.
func (m *Monitor) tolerate(s Status) Status {
	for _, r := range s.Results {
		if r.Required && !r.OK && r.Failures >= m.FailureThreshold {
			return s
		}
	}
	res := make([]Result, len(s.Results))
	copy(res, s.Results)
	for i, r := range res {
		if r.Required && !r.OK {
			res[i].Tolerated = true
		}
	}
	s.Results = res
	s.Serving = true
	return s
}

func (m *Monitor) apply(s Status) {
	for _, r := range s.Results {
		v := 0.0
		if r.OK {
			v = 1
		}
		m.up.WithLabelValues(r.Name, fmt.Sprint(r.Required)).Set(v)
	}
	st := healthpb.HealthCheckResponse_NOT_SERVING
	if s.Serving {
		st = healthpb.HealthCheckResponse_SERVING
		m.serving.Set(1)
	} else {
		m.serving.Set(0)
	}
	m.health.SetServingStatus("", st)

	m.mu.Lock()
	defer m.mu.Unlock()
	m.status = s
	if k := s.key(); k != m.lastKey {
		m.lastKey = k
		fmt.Fprintf(m.log, "placeholder %s: %s\n", m.service, s)
	}
}

// Status is the outcome of the last round.
func (m *Monitor) Status() Status {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.status
}

// Run checks until ctx ends: every FastInterval after start until the first
// SERVING (at most FastFor), then every Interval.
func (m *Monitor) Run(ctx context.Context) {
	start := time.Now()
	fast := true
	for {
		s := m.Round(ctx)
		if fast && (s.Serving || time.Since(start) >= m.FastFor) {
			fast = false
		}
		wait := m.Interval
		if fast {
			wait = m.FastInterval
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}
