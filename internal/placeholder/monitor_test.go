package placeholder

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// fakeCheck is a Check whose outcome the test sets.
type fakeCheck struct {
	name  string
	mu    sync.Mutex
	err   error
	calls int
}

func (f *fakeCheck) Name() string { return f.name }

func (f *fakeCheck) Check(context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	return f.err
}

func (f *fakeCheck) set(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.err = err
}

func TestAggregate(t *testing.T) {
	fail := func(name string, required bool) Result {
		return Result{Name: name, Required: required, Error: "boom"}
	}
	ok := func(name string, required bool) Result { return Result{Name: name, Required: required, OK: true} }
	for _, tc := range []struct {
		name    string
		results []Result
		serving bool
		line    string
	}{
		{"no dependencies", nil, true, "SERVING: all dependencies ok"},
		{"all pass", []Result{ok("postgres", true), ok("redis", true)}, true, "SERVING: all dependencies ok"},
		{"required fails", []Result{ok("postgres", true), fail("redis", true)}, false, "NOT_SERVING: redis (required) failing: boom"},
		{"optional fails", []Result{ok("postgres", true), fail("neo4j", false)}, true, "SERVING: neo4j (optional) failing: boom"},
		{"two fail", []Result{fail("postgres", true), fail("kafka", true)}, false, "NOT_SERVING: postgres (required) failing: boom; kafka (required) failing: boom"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := Aggregate(tc.results)
			if s.Serving != tc.serving {
				t.Errorf("Serving = %v, want %v", s.Serving, tc.serving)
			}
			if got := s.String(); got != tc.line {
				t.Errorf("String() = %q, want %q", got, tc.line)
			}
		})
	}
}

// fixture is a Monitor over fake checks with its health server, registry and log.
type fixture struct {
	t   *testing.T
	mon *Monitor
	hs  *health.Server
	reg *prometheus.Registry
	log *bytes.Buffer
}

func newFixture(t *testing.T, deps ...Dependency) *fixture {
	t.Helper()
	f := &fixture{t: t, hs: health.NewServer(), reg: prometheus.NewRegistry(), log: &bytes.Buffer{}}
	mon, err := NewMonitor("feed-service", deps, nil, f.hs, f.reg, f.log)
	if err != nil {
		t.Fatal(err)
	}
	f.mon = mon
	return f
}

func (f *fixture) health() healthpb.HealthCheckResponse_ServingStatus {
	f.t.Helper()
	resp, err := f.hs.Check(context.Background(), &healthpb.HealthCheckRequest{})
	if err != nil {
		f.t.Fatal(err)
	}
	return resp.GetStatus()
}

// gauge reads one sample from the registry; labels as name=value pairs.
func (f *fixture) gauge(name string, labels ...string) float64 {
	f.t.Helper()
	mfs, err := f.reg.Gather()
	if err != nil {
		f.t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			have := map[string]string{}
			for _, lp := range m.GetLabel() {
				have[lp.GetName()] = lp.GetValue()
			}
			for i := 0; i < len(labels); i += 2 {
				if have[labels[i]] != labels[i+1] {
					continue next
				}
			}
			return m.GetGauge().GetValue()
		}
	}
	f.t.Fatalf("no sample %s%v", name, labels)
	return 0
}

// logLines returns the lines logged since the last call.
func (f *fixture) logLines() []string {
	s := strings.TrimSpace(f.log.String())
	f.log.Reset()
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

func TestMonitorFlipsOnRequiredDependencies(t *testing.T) {
	pg := &fakeCheck{name: "postgres", err: errors.New("password authentication failed for user \"nova_feed_svc\"")}
	redis := &fakeCheck{name: "redis"}
	es := &fakeCheck{name: "elasticsearch", err: errors.New("connection refused")}
	f := newFixture(t, Dependency{Check: pg, Required: true}, Dependency{Check: redis, Required: true}, Dependency{Check: es})

	if got := f.health(); got != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Fatalf("before the first round: %s, want NOT_SERVING", got)
	}
	ctx := context.Background()

	f.mon.Round(ctx)
	if got := f.health(); got != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Fatalf("postgres failing: %s, want NOT_SERVING", got)
	}
	if got := f.gauge("nova_placeholder_dependency_up", "dependency", "postgres", "required", "true"); got != 0 {
		t.Errorf("postgres up = %v, want 0", got)
	}
	if got := f.gauge("nova_placeholder_dependency_up", "dependency", "redis"); got != 1 {
		t.Errorf("redis up = %v, want 1", got)
	}
	if got := f.gauge("nova_placeholder_serving"); got != 0 {
		t.Errorf("serving gauge = %v, want 0", got)
	}
	lines := f.logLines()
	want := `placeholder feed-service: NOT_SERVING: postgres (required) failing: password authentication failed for user "nova_feed_svc"; elasticsearch (optional) failing: connection refused`
	if len(lines) != 1 || lines[0] != want {
		t.Fatalf("log = %q, want one line %q", lines, want)
	}

	// Same failures again: no new log line.
	f.mon.Round(ctx)
	if lines := f.logLines(); len(lines) != 0 {
		t.Fatalf("unchanged state logged again: %q", lines)
	}

	// The required dependency recovers; the optional one still fails and must not block.
	pg.set(nil)
	st := f.mon.Round(ctx)
	if got := f.health(); got != healthpb.HealthCheckResponse_SERVING || !st.Serving {
		t.Fatalf("all required pass: health %s, status %+v, want SERVING", got, st)
	}
	if got := f.gauge("nova_placeholder_dependency_up", "dependency", "postgres"); got != 1 {
		t.Errorf("postgres up = %v, want 1", got)
	}
	if got := f.gauge("nova_placeholder_serving"); got != 1 {
		t.Errorf("serving gauge = %v, want 1", got)
	}
	if got := f.gauge("nova_placeholder_dependency_up", "dependency", "elasticsearch", "required", "false"); got != 0 {
		t.Errorf("elasticsearch up = %v, want 0", got)
	}
	if lines := f.logLines(); len(lines) != 1 || lines[0] != "placeholder feed-service: SERVING: elasticsearch (optional) failing: connection refused" {
		t.Fatalf("log = %q", lines)
	}

	// A required dependency breaks later: one failed round is tolerated
	// (still SERVING, logged as such), the second in a row is not: back
	// to NOT_SERVING, one line naming it.
	redis.set(errors.New("cluster_state:fail"))
	st = f.mon.Round(ctx)
	if got := f.health(); got != healthpb.HealthCheckResponse_SERVING || !st.Serving {
		t.Fatalf("redis failed once: %s, want SERVING (threshold %d)", got, f.mon.FailureThreshold)
	}
	if lines := f.logLines(); len(lines) != 1 || !strings.Contains(lines[0], "SERVING: redis (required, failed 1 in a row, tolerated) failing: cluster_state:fail") {
		t.Fatalf("log = %q", lines)
	}
	if got := f.gauge("nova_placeholder_dependency_up", "dependency", "redis"); got != 0 {
		t.Errorf("redis up = %v while tolerated, want 0: the gauge tells the last check", got)
	}
	f.mon.Round(ctx)
	if got := f.health(); got != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Fatalf("redis failing twice: %s, want NOT_SERVING", got)
	}
	if lines := f.logLines(); len(lines) != 1 || !strings.Contains(lines[0], "NOT_SERVING: redis (required) failing: cluster_state:fail") {
		t.Fatalf("log = %q", lines)
	}
	if pg.calls != 5 || redis.calls != 5 {
		t.Errorf("calls: postgres %d, redis %d; want 5 each", pg.calls, redis.calls)
	}
}

// A failure streak is consecutive rounds: a pass in between starts it
// again, and a threshold of 1 flips at once.
func TestMonitorFailureThreshold(t *testing.T) {
	pg := &fakeCheck{name: "postgres"}
	f := newFixture(t, Dependency{Check: pg, Required: true})
	f.mon.FailureThreshold = 3
	ctx := context.Background()
	require := func(want healthpb.HealthCheckResponse_ServingStatus, what string) {
		t.Helper()
		f.mon.Round(ctx)
		if got := f.health(); got != want {
			t.Fatalf("%s: %s, want %s", what, got, want)
		}
	}
	require(healthpb.HealthCheckResponse_SERVING, "passing")
	pg.set(errors.New("timeout"))
	require(healthpb.HealthCheckResponse_SERVING, "1st failure")
	require(healthpb.HealthCheckResponse_SERVING, "2nd failure")
	pg.set(nil)
	require(healthpb.HealthCheckResponse_SERVING, "passes again")
	pg.set(errors.New("timeout"))
	require(healthpb.HealthCheckResponse_SERVING, "1st failure of a new streak")
	require(healthpb.HealthCheckResponse_SERVING, "2nd failure of a new streak")
	st := f.mon.Round(ctx)
	if st.Serving || st.Results[0].Failures != 3 || st.Results[0].Tolerated {
		t.Fatalf("3rd failure in a row: %+v, want NOT_SERVING, 3 failures, not tolerated", st)
	}

	f.mon.FailureThreshold = 1
	pg.set(nil)
	require(healthpb.HealthCheckResponse_SERVING, "recovered")
	pg.set(errors.New("timeout"))
	require(healthpb.HealthCheckResponse_NOT_SERVING, "threshold 1: the first failure")
}

// Before the first SERVING nothing is tolerated: a placeholder that never
// served stays NOT_SERVING on every failure.
func TestMonitorToleratesOnlyAfterServing(t *testing.T) {
	pg := &fakeCheck{name: "postgres", err: errors.New("connection refused")}
	f := newFixture(t, Dependency{Check: pg, Required: true})
	for i := range 3 {
		if st := f.mon.Round(context.Background()); st.Serving || st.Results[0].Failures != i+1 {
			t.Fatalf("round %d: %+v, want NOT_SERVING with %d failures", i+1, st, i+1)
		}
	}
}

func TestMonitorMultiLineErrorsLogOneLine(t *testing.T) {
	c := &fakeCheck{name: "kafka", err: errors.New("first\n  second\tthird")}
	f := newFixture(t, Dependency{Check: c, Required: true})
	st := f.mon.Round(context.Background())
	if st.Results[0].Error != "first second third" {
		t.Errorf("error = %q", st.Results[0].Error)
	}
	if lines := f.logLines(); len(lines) != 1 {
		t.Errorf("log has %d lines: %q", len(lines), lines)
	}
}

func TestMonitorTimesOutSlowChecks(t *testing.T) {
	slow := checkFunc{"slow", func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }}
	f := newFixture(t, Dependency{Check: slow, Required: true})
	f.mon.Timeout = 20_000_000 // 20ms
	st := f.mon.Round(context.Background())
	if st.Serving || st.Results[0].Error != "context deadline exceeded" {
		t.Fatalf("status = %+v, want NOT_SERVING with a deadline error", st)
	}
}

type checkFunc struct {
	name string
	fn   func(context.Context) error
}

func (c checkFunc) Name() string                    { return c.name }
func (c checkFunc) Check(ctx context.Context) error { return c.fn(ctx) }
