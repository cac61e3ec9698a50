package verify

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"

	"github.com/novadev/novadev/internal/catalog"
)

// fakeInstance is an Instance whose node states, addresses and logs are
// set by the test; every address not set is a closed port.
type fakeInstance struct {
	c     *catalog.Catalog
	down  map[string]string // node -> why it is not ready
	addrs map[string]string // "node:port" -> host:port
	// unpublished "node:port"s are not reachable from the host
	unpublished map[string]bool
	logs        map[string]string
	mu          sync.Mutex
	asked       []string // nodes whose logs were asked for
}

func newFake(t *testing.T) *fakeInstance {
	t.Helper()
	c, err := catalog.Load("../../envs/nova.yaml", catalog.Options{Env: "ci"})
	require.NoError(t, err)
	return &fakeInstance{c: c, down: map[string]string{}, addrs: map[string]string{}, logs: map[string]string{}, unpublished: map[string]bool{}}
}

func (f *fakeInstance) Name() string              { return "nova-fake" }
func (f *fakeInstance) Catalog() *catalog.Catalog { return f.c }
func (f *fakeInstance) Address(node string, port int) (string, error) {
	if f.unpublished[fmt.Sprintf("%s:%d", node, port)] {
		return "", fmt.Errorf("%s port %d: %w", node, port, ErrNotPublished)
	}
	if a, ok := f.addrs[fmt.Sprintf("%s:%d", node, port)]; ok {
		return a, nil
	}
	return "127.0.0.1:1", nil
}
func (f *fakeInstance) Dial(ctx context.Context, network, addr string) (net.Conn, error) {
	var d net.Dialer
	return d.DialContext(ctx, network, addr)
}
func (f *fakeInstance) Credential(name string) (string, error) { return "pw-" + name, nil }
func (f *fakeInstance) Node(_ context.Context, name string) (NodeState, error) {
	if why, ok := f.down[name]; ok {
		return NodeState{Detail: why}, nil
	}
	return NodeState{Ready: true, Detail: "running"}, nil
}
func (f *fakeInstance) LogTail(_ context.Context, node string, _ int) (string, error) {
	f.mu.Lock()
	f.asked = append(f.asked, node)
	f.mu.Unlock()
	return f.logs[node], nil
}

func find(t *testing.T, rep *Report, id string) Result {
	t.Helper()
	for _, r := range rep.Results {
		if r.ID == id {
			return r
		}
	}
	t.Fatalf("no result %s in %v", id, ids(rep))
	return Result{}
}

func ids(rep *Report) []string {
	var out []string
	for _, r := range rep.Results {
		out = append(out, r.ID)
	}
	return out
}

func pass(msg string) func(context.Context) (string, error) {
	return func(context.Context) (string, error) { return msg, nil }
}

// A failed gate fails the checks that need it by name, without running
// them; checks that need other nodes still run and pass.
func TestRunBlocksDependentsByName(t *testing.T) {
	var ran atomic.Int32
	counted := func(msg string, err error) func(context.Context) (string, error) {
		return func(context.Context) (string, error) { ran.Add(1); return msg, err }
	}
	checks := []Check{
		{ID: "redis/up", Node: "redis", Gate: true, Run: counted("", errors.New("redis-2 is exited"))},
		{ID: "redis/cluster", Node: "redis", Needs: []string{"redis", "redis-cluster-init"}, Run: counted("ok", nil)},
		{ID: "redis-cluster-init/completed", Node: "redis-cluster-init", Gate: true, Needs: []string{"redis"}, Run: counted("done", nil)},
		{ID: "postgres/up", Node: "postgres", Gate: true, Run: counted("login ok", nil)},
		{ID: "user-service/database-login", Node: "postgres", Needs: []string{"postgres"}, Run: counted("refused elsewhere", nil)},
		{ID: "notification-service/grpc", Node: "notification-service", Upstream: []string{"redis", "postgres"}, Run: counted("", errors.New("NOT_SERVING"))},
	}
	rep := Run(context.Background(), "nova-test", checks, Options{LogTail: func(_ context.Context, node string, n int) (string, error) {
		return fmt.Sprintf("%d lines of %s", n, node), nil
	}})
	require.Equal(t, []string{"redis/up", "redis/cluster", "redis-cluster-init/completed", "postgres/up", "user-service/database-login", "notification-service/grpc"}, ids(rep), "results keep the order of the checks")
	require.EqualValues(t, 4, ran.Load(), "the two checks behind the failed redis gate did not run")

	up := find(t, rep, "redis/up")
	require.Equal(t, Failed, up.Status)
	require.Equal(t, "20 lines of redis", up.LogTail, "a failure carries the log tail of its node")

	cl := find(t, rep, "redis/cluster")
	require.Equal(t, Failed, cl.Status)
	require.Equal(t, "redis", cl.Blocked)
	require.Contains(t, cl.Message, "needs redis, whose check redis/up failed: redis-2 is exited")
	require.Empty(t, cl.LogTail, "a blocked check has no logs of its own")

	init := find(t, rep, "redis-cluster-init/completed")
	require.Equal(t, Failed, init.Status, "a gate behind a failed gate fails too")
	require.Equal(t, "redis", init.Blocked)

	require.Equal(t, Passed, find(t, rep, "postgres/up").Status)
	login := find(t, rep, "user-service/database-login")
	require.Equal(t, Passed, login.Status, "checks of unrelated nodes still run")
	require.Equal(t, "refused elsewhere", login.Message)

	grpcRes := find(t, rep, "notification-service/grpc")
	require.Equal(t, Failed, grpcRes.Status)
	require.Equal(t, "NOT_SERVING; failing upstream of notification-service: redis", grpcRes.Message, "a failure names the failed gates upstream, not the passing ones")

	require.False(t, rep.OK())
	require.Equal(t, 2, rep.Count(Passed))
	require.Equal(t, 4, rep.Count(Failed), "redis/up, redis/cluster, the init gate, grpc")
}

func TestRunSkipTimeoutPanicAndParallel(t *testing.T) {
	var running, peak atomic.Int32
	slow := func(context.Context) (string, error) {
		n := running.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		time.Sleep(20 * time.Millisecond)
		running.Add(-1)
		return "slow", nil
	}
	var checks []Check
	for i := range 10 {
		checks = append(checks, Check{ID: fmt.Sprintf("slow/%d", i), Run: slow})
	}
	checks = append(checks,
		Check{ID: "skip/me", Skip: "metrics port not published", Run: func(context.Context) (string, error) { panic("must not run") }},
		Check{ID: "hang/forever", Run: func(ctx context.Context) (string, error) { <-ctx.Done(); return "", ctx.Err() }},
		Check{ID: "panic/check", Run: func(context.Context) (string, error) { panic("boom") }},
		Check{ID: "nothing/to-run"},
	)
	rep := Run(context.Background(), "nova-test", checks, Options{Parallel: 3, Timeout: 50 * time.Millisecond})
	require.LessOrEqual(t, peak.Load(), int32(3), "at most Parallel checks at once")
	require.Equal(t, 10, rep.Count(Passed))
	s := find(t, rep, "skip/me")
	require.Equal(t, Skipped, s.Status)
	require.Equal(t, "metrics port not published", s.Message)
	h := find(t, rep, "hang/forever")
	require.Equal(t, Failed, h.Status)
	require.Contains(t, h.Message, "no answer within 50ms")
	require.GreaterOrEqual(t, h.Duration, 50*time.Millisecond)
	require.Contains(t, find(t, rep, "panic/check").Message, "check panicked: boom")
	require.Contains(t, find(t, rep, "nothing/to-run").Message, "nothing to run")
}

func TestRunRefusesUnschedulableChecks(t *testing.T) {
	for name, checks := range map[string][]Check{
		"duplicate check a/b": {{ID: "a/b", Run: pass("")}, {ID: "a/b", Run: pass("")}},
		"node x has two gate checks: x/one and x/two": {
			{ID: "x/one", Node: "x", Gate: true, Run: pass("")}, {ID: "x/two", Node: "x", Gate: true, Run: pass("")}},
		"gate cycle: a -> b -> a": {
			{ID: "a/up", Node: "a", Gate: true, Needs: []string{"b"}, Run: pass("")},
			{ID: "b/up", Node: "b", Gate: true, Needs: []string{"a"}, Run: pass("")}},
	} {
		t.Run(name, func(t *testing.T) {
			done := make(chan *Report, 1)
			go func() { done <- Run(context.Background(), "x", checks, Options{}) }()
			select {
			case rep := <-done:
				require.Len(t, rep.Results, 1)
				require.Equal(t, Failed, rep.Results[0].Status)
				require.Contains(t, rep.Results[0].Message, name)
			case <-time.After(5 * time.Second):
				t.Fatal("Run hung on an unschedulable check list")
			}
		})
	}
}

// The checks of the Nova catalog: one per bootstrap, store and service
// gate, gRPC, metrics, login and migrations per service, and the data
// layer; every need is a gate; nothing kube-only without a Cluster.
func TestChecksOfNovaCatalog(t *testing.T) {
	f := newFake(t)
	checks := Checks(f)
	require.NoError(t, validate(checks))
	gates := map[string]bool{}
	kinds := map[Kind]int{}
	for _, c := range checks {
		if c.Gate {
			gates[c.Node] = true
		}
		kinds[c.Kind]++
	}
	for _, c := range checks {
		for _, n := range c.Needs {
			require.True(t, gates[n], "%s needs %s, which has no gate check", c.ID, n)
		}
		_, inGraph := f.c.Graph().Node(c.Node)
		require.True(t, inGraph, "%s is about %q, a graph node", c.ID, c.Node)
	}
	services := len(f.c.ActiveServices())
	require.Equal(t, 16, services)
	require.Equal(t, len(f.c.Bootstraps), kinds[KindBootstrap])
	require.Equal(t, services, kinds[KindService])
	require.Equal(t, services, kinds[KindGRPC])
	require.Equal(t, services, kinds[KindMetrics])
	require.Equal(t, 15, kinds[KindDatabaseLogin], "every service with a database")
	require.Equal(t, 15, kinds[KindMigrations])
	for _, k := range []Kind{KindDatabases, KindRedisCluster, KindKafkaTopics, KindClickHouse} {
		require.Equal(t, 1, kinds[k], "%s", k)
	}
	require.Zero(t, kinds[KindInitContainers]+kinds[KindServiceDNS]+kinds[KindNetworkPolicies], "kube checks need a Cluster")

	byID := map[string]Check{}
	for _, c := range checks {
		byID[c.ID] = c
	}
	require.Equal(t, []string{"redis", "redis-cluster-init"}, byID["redis/cluster"].Needs)
	require.Equal(t, []string{"postgres", "migrations"}, byID["user-service/migrations"].Needs)
	require.Equal(t, []string{"kafka", "kafka-topics"}, byID["kafka/topics"].Needs)
	require.Equal(t, []string{"clickhouse", "clickhouse-init"}, byID["clickhouse/schema"].Needs)
	require.NotEmpty(t, byID["neo4j/up"].Skip, "an external store is skipped, with the reason")
	require.Contains(t, byID["user-service/database-login"].What, "nova_user_svc logs into nova_user and is refused on")
	require.Contains(t, byID["notification-service/grpc"].Upstream, "redis")
	require.NotContains(t, byID["notification-service/grpc"].Upstream, "notification-service")
}

// grpcServer serves health (status as given), reflection and empty
// services named apis on loopback.
func grpcServer(t *testing.T, status healthpb.HealthCheckResponse_ServingStatus, apis ...string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	gs := grpc.NewServer()
	for _, api := range apis {
		gs.RegisterService(&grpc.ServiceDesc{ServiceName: api, HandlerType: (*any)(nil)}, struct{}{})
	}
	hs := health.NewServer()
	hs.SetServingStatus("", status)
	healthpb.RegisterHealthServer(gs, hs)
	reflection.Register(gs)
	go gs.Serve(ln)
	t.Cleanup(gs.Stop)
	return ln.Addr().String()
}

// metricsServer serves body on /metrics.
func metricsServer(t *testing.T, body string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	mux := http.NewServeMux()
	mux.HandleFunc("/metrics", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, body) })
	srv := &http.Server{Handler: mux}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

// The real gRPC and metrics checks against in-process servers, with Redis
// down: the Redis checks fail by name, the services' checks pass or fail
// on their own merits.
func TestChecksAgainstFakes(t *testing.T) {
	f := newFake(t)
	f.down["redis"] = "nova-fake-redis-2-1 is exited"
	f.logs["redis"] = "redis-2 | # Cluster state changed: fail\n"
	f.addrs["user-service:50051"] = grpcServer(t, healthpb.HealthCheckResponse_SERVING, "nova.user.v1.UserService")
	f.addrs["notification-service:50051"] = grpcServer(t, healthpb.HealthCheckResponse_NOT_SERVING)
	f.addrs["user-service:9090"] = metricsServer(t, "# HELP up whether\n# TYPE up gauge\nup 1\n")
	f.addrs["notification-service:9090"] = metricsServer(t, "<html>not metrics</html>\n")
	f.unpublished["content-service:9090"] = true
	want := []string{"content-service/metrics", "redis/up", "redis-cluster-init/completed", "redis/cluster", "user-service/ready", "user-service/grpc",
		"user-service/metrics", "notification-service/ready", "notification-service/grpc", "notification-service/metrics"}
	var checks []Check
	for _, c := range Checks(f) {
		if slices.Contains(want, c.ID) {
			checks = append(checks, c)
		}
	}
	require.Len(t, checks, len(want))
	rep := Run(context.Background(), f.Name(), checks, Options{LogTail: f.LogTail, Timeout: 5 * time.Second})

	up := find(t, rep, "redis/up")
	require.Equal(t, Failed, up.Status)
	require.Equal(t, "redis is not ready: nova-fake-redis-2-1 is exited", up.Message)
	require.Equal(t, f.logs["redis"], up.LogTail)
	cl := find(t, rep, "redis/cluster")
	require.Equal(t, Failed, cl.Status)
	require.Equal(t, "redis", cl.Blocked)

	require.Equal(t, Passed, find(t, rep, "user-service/ready").Status)
	g := find(t, rep, "user-service/grpc")
	require.Equal(t, Passed, g.Status, g.Message)
	require.Contains(t, g.Message, "grpc.health.v1.Health, grpc.reflection.v1.ServerReflection, grpc.reflection.v1alpha.ServerReflection, nova.user.v1.UserService", "reflection listed the services, the API among them")
	m := find(t, rep, "user-service/metrics")
	require.Equal(t, Passed, m.Status, m.Message)
	require.Contains(t, m.Message, "1 metric families, 1 samples")

	ng := find(t, rep, "notification-service/grpc")
	require.Equal(t, Failed, ng.Status)
	require.Contains(t, ng.Message, "NOT_SERVING, want SERVING")
	require.Contains(t, ng.Message, "failing upstream of notification-service: redis", "the likely cause is named")
	nm := find(t, rep, "notification-service/metrics")
	require.Equal(t, Failed, nm.Status)
	require.Contains(t, nm.Message, "no Prometheus metrics")
	require.Contains(t, f.asked, "notification-service", "the failed service's logs were fetched")
	cm := find(t, rep, "content-service/metrics")
	require.Equal(t, Skipped, cm.Status, "an unreachable metrics port is a skip that says so")
	require.Equal(t, "metrics not checked: content-service port 9090: "+ErrNotPublished.Error(), cm.Message)
}

// A service must list its catalog API by reflection (placeholders serve it
// from the proto files).
func TestGRPCRequiresTheAPI(t *testing.T) {
	addr := grpcServer(t, healthpb.HealthCheckResponse_SERVING)
	_, err := checkGRPC(context.Background(), addr, "nova.user.v1.UserService")
	require.ErrorContains(t, err, "not nova.user.v1.UserService")
	msg, err := checkGRPC(context.Background(), addr, "grpc.health.v1.Health")
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(msg, "SERVING; reflection lists "), msg)

	// a placeholder without proto files is in its reduced mode; a real
	// image without its API fails
	f := newFake(t)
	f.addrs["user-service:50051"] = addr
	f.addrs["content-service:50051"] = addr
	f.c.Services["content-service"].Image = "ghcr.io/nova-platform/content-service:1.0.0"
	var checks []Check
	for _, c := range Checks(f) {
		if c.ID == "user-service/grpc" || c.ID == "content-service/grpc" {
			checks = append(checks, c)
		}
	}
	rep := Run(context.Background(), f.Name(), checks, Options{})
	u := find(t, rep, "user-service/grpc")
	require.Equal(t, Passed, u.Status, u.Message)
	require.Contains(t, u.Message, "a placeholder without the proto files: nova.user.v1.UserService not served")
	c := find(t, rep, "content-service/grpc")
	require.Equal(t, Failed, c.Status)
	require.Contains(t, c.Message, "not nova.content.v1.ContentService")
}

func TestClusterMasters(t *testing.T) {
	out := `07c37dfeb235213a872192d90877d0cd55635b91 127.0.0.1:30004@31004,redis-4 slave e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca 0 1426238317239 4 connected
67ed2db8d677e59ec4a4cefb06858cf2a1a89fa1 127.0.0.1:30002@31002,redis-2 master - 0 1426238316232 2 connected 5461-10922
292f8b365bb7edb5e285caf0b7e6ddc7265d2f4f 127.0.0.1:30003@31003,redis-3 master,fail - 1426238316232 1426238316232 3 disconnected 10923-16383
e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca 127.0.0.1:30001@31001,redis-1 myself,master - 0 0 1 connected 0-5460
`
	n, bad := clusterMasters(out)
	require.Equal(t, 2, n)
	require.Equal(t, []string{"292f8b36 127.0.0.1:30003@31003,redis-3 is master,fail, link disconnected"}, bad)
}

func FuzzClusterMasters(f *testing.F) {
	f.Add("e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca 127.0.0.1:30001@31001 myself,master - 0 0 1 connected 0-5460\n")
	f.Add("a b c d e f g h\n\n x")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		n, bad := clusterMasters(s)
		lines := strings.Count(s, "\n") + 1
		if n < 0 || n+len(bad) > lines {
			t.Fatalf("%d masters and %d bad nodes from %d lines", n, len(bad), lines)
		}
	})
}

type fakeCluster struct {
	*fakeInstance
	policies []string
}

func (fakeCluster) InitContainers(_ context.Context, service string) ([]InitContainer, error) {
	if service == "feed-service" {
		return []InitContainer{{Pod: "feed-service-0", Name: "wait-for-postgres", Completed: true},
			{Pod: "feed-service-0", Name: "wait-for-user-service", Detail: "waiting: CrashLoopBackOff"},
			{Pod: "feed-service-0", Name: "wait-for-kafka", Detail: "waiting: PodInitializing"},
			{Pod: "feed-service-1", Name: "wait-for-user-service", Detail: "running since 10:00:00"}}, nil
	}
	return []InitContainer{{Pod: service + "-0", Name: "wait", Completed: true}}, nil
}
func (fakeCluster) ServiceDNSName(s string) string { return s + ".nova-ci.svc.cluster.local" }
func (fakeCluster) LookupInCluster(_ context.Context, name string) ([]string, error) {
	if strings.HasPrefix(name, "search-service.") {
		return nil, errors.New("NXDOMAIN")
	}
	return []string{"10.96.0.10"}, nil
}
func (c fakeCluster) NetworkPolicies(context.Context) ([]string, error) { return c.policies, nil }

// An instance that is also a Cluster gets the kind-only checks.
func TestClusterChecks(t *testing.T) {
	f := newFake(t)
	// a service held up by its init container: the init-containers check
	// still runs and names the container (it is not blocked by /ready)
	f.down["feed-service"] = "pod feed-service-0: init container wait-for-user-service waiting"
	pol := []string{DefaultDenyPolicy}
	for _, s := range f.c.ActiveServices() {
		if s.Name != "auth-service" {
			pol = append(pol, AllowPolicy(s.Name))
		}
	}
	var checks []Check
	for _, c := range Checks(fakeCluster{f, pol}) {
		switch c.Kind {
		case KindInitContainers, KindServiceDNS, KindNetworkPolicies, KindService:
			checks = append(checks, c)
		}
	}
	rep := Run(context.Background(), "nova-ci", checks, Options{})
	require.Equal(t, 16*3+1, len(rep.Results))
	ic := find(t, rep, "feed-service/init-containers")
	require.Equal(t, Failed, ic.Status)
	require.Equal(t, "not completed: feed-service-0/wait-for-user-service: waiting: CrashLoopBackOff (1 more after it); feed-service-1/wait-for-user-service: running since 10:00:00", ic.Message)
	require.Empty(t, ic.Blocked, "the init-containers check explains a service that is not ready")
	require.Equal(t, Failed, find(t, rep, "feed-service/ready").Status)
	require.Equal(t, "feed-service", find(t, rep, "feed-service/dns").Blocked)
	require.Equal(t, Passed, find(t, rep, "user-service/init-containers").Status)
	dns := find(t, rep, "search-service/dns")
	require.Equal(t, Failed, dns.Status)
	require.Contains(t, dns.Message, "nslookup search-service.nova-ci.svc.cluster.local: NXDOMAIN")
	require.Equal(t, "user-service.nova-ci.svc.cluster.local -> 10.96.0.10", find(t, rep, "user-service/dns").Message)
	np := find(t, rep, "network-policies/present")
	require.Equal(t, Failed, np.Status)
	require.Equal(t, "missing: allow-auth-service", np.Message)
	require.Equal(t, 5, rep.Count(Failed)) // feed-service: ready, init-containers, dns (blocked); search-service/dns; the policies
}

// A node the backend does not run here (an optional store without an
// image) skips its gate and, with the reason, what needs it.
func TestSkippedGateSkipsDependents(t *testing.T) {
	checks := []Check{
		{ID: "elasticsearch/up", Node: "elasticsearch", Gate: true, Run: func(context.Context) (string, error) {
			return "", &SkipError{Reason: "elasticsearch does not run here: optional store without an image"}
		}},
		{ID: "search-service/index", Node: "search-service", Needs: []string{"elasticsearch"}, Run: func(context.Context) (string, error) { panic("must not run") }},
	}
	rep := Run(context.Background(), "nova-test", checks, Options{})
	require.True(t, rep.OK(), "skips are not failures")
	require.Equal(t, 2, rep.Count(Skipped))
	require.Equal(t, "not run: needs elasticsearch, whose check elasticsearch/up was skipped: elasticsearch does not run here: optional store without an image",
		find(t, rep, "search-service/index").Message)
}

// The Kafka checks against franz-go's in-process broker: every broker
// answers ApiVersions; a missing topic and a wrong partition count are
// named.
func TestKafkaChecksAgainstKfake(t *testing.T) {
	f := newFake(t)
	st := f.c.Stores["kafka"]
	var names []string
	for _, tp := range st.Topics {
		if tp.Name != "trust-safety.reports" {
			names = append(names, tp.Name)
		}
	}
	kc, err := kfake.NewCluster(kfake.NumBrokers(2), kfake.SeedTopics(6, names...))
	require.NoError(t, err)
	t.Cleanup(kc.Close)
	f.addrs[fmt.Sprintf("kafka:%d", st.Port)] = kc.ListenAddrs()[0]

	ok, err := kafkaBrokers{addr: kc.ListenAddrs()[0]}.Check(context.Background())
	require.True(t, ok, "%v", err)

	var checks []Check
	for _, c := range Checks(f) {
		if c.ID == "kafka/up" || c.ID == "kafka/topics" || c.ID == "kafka-topics/completed" {
			checks = append(checks, c)
		}
	}
	rep := Run(context.Background(), f.Name(), checks, Options{Timeout: 10 * time.Second})
	require.Equal(t, Passed, find(t, rep, "kafka/up").Status, find(t, rep, "kafka/up").Message)
	topics := find(t, rep, "kafka/topics")
	require.Equal(t, Failed, topics.Status)
	require.Contains(t, topics.Message, "trust-safety.reports missing")
	require.Contains(t, topics.Message, "analytics.user-activity has 6 partitions, want 3")
	require.NotContains(t, topics.Message, "feed.post-published", "a topic as the catalog says is not a problem")
}

func TestSelect(t *testing.T) {
	f := newFake(t)
	nodes, err := f.c.Graph().Closure("user-service")
	require.NoError(t, err)
	got := Select(Checks(f), nodes)
	var names []string
	for _, c := range got {
		names = append(names, c.ID)
	}
	require.Contains(t, names, "user-service/grpc")
	require.Contains(t, names, "postgres/up")
	require.Contains(t, names, "migrations/completed")
	require.Contains(t, names, "feed-service/database-login", "postgres-init creates every service's user, so logins are checked")
	require.NotContains(t, names, "feed-service/grpc", "a service --only did not start is not checked")
	require.NotContains(t, names, "redis/cluster")
	require.NoError(t, validate(got))
}

func TestCountMetrics(t *testing.T) {
	f, s := countMetrics("# HELP up whether\n# TYPE up gauge\nup 1\n# TYPE x counter\nx_total{a=\"b\"} 2\nx_total{a=\"c\"} 3\n\n")
	require.Equal(t, 2, f)
	require.Equal(t, 3, s)
	f, s = countMetrics("<html>\n</html>")
	require.Zero(t, f, "HTML has no metric families")
	require.Equal(t, 2, s)
}

func FuzzCountMetrics(f *testing.F) {
	f.Add("# TYPE up gauge\nup 1\n")
	f.Add("#\n# TYPE \n\r\n")
	f.Fuzz(func(t *testing.T, body string) {
		fam, smp := countMetrics(body)
		if fam < 0 || smp < 0 || fam+smp > strings.Count(body, "\n")+1 {
			t.Fatalf("%d families and %d samples from %q", fam, smp, body)
		}
	})
}

// explainingFake is a fakeInstance whose connections can fail for a
// reason the client never sees (as a port-forward's).
type explainingFake struct {
	*fakeInstance
	mu    sync.Mutex
	asked []string
}

func (e *explainingFake) Explain(node string, since time.Time, err error) error {
	e.mu.Lock()
	e.asked = append(e.asked, node)
	e.mu.Unlock()
	if time.Since(since) > time.Minute {
		return err // not the start of this check
	}
	return fmt.Errorf("%w (the forward's reason for %s)", err, node)
}

// On an Explainer, a failed check's message gets the instance's reason for
// its node; passed and skipped checks are left as they are.
func TestChecksOfAnExplainer(t *testing.T) {
	f := newFake(t)
	f.addrs["user-service:50051"] = grpcServer(t, healthpb.HealthCheckResponse_SERVING, "nova.user.v1.UserService")
	f.addrs["notification-service:50051"] = grpcServer(t, healthpb.HealthCheckResponse_NOT_SERVING)
	f.unpublished["content-service:9090"] = true
	ex := &explainingFake{fakeInstance: f}
	want := []string{"user-service/grpc", "notification-service/grpc", "content-service/metrics"}
	var checks []Check
	for _, c := range Checks(ex) {
		if slices.Contains(want, c.ID) {
			checks = append(checks, c)
		}
	}
	require.Len(t, checks, len(want))
	rep := Run(context.Background(), ex.Name(), checks, Options{Timeout: 5 * time.Second})
	require.Equal(t, Passed, find(t, rep, "user-service/grpc").Status)
	ng := find(t, rep, "notification-service/grpc")
	require.Equal(t, Failed, ng.Status)
	require.Contains(t, ng.Message, "NOT_SERVING, want SERVING (the forward's reason for notification-service)")
	cm := find(t, rep, "content-service/metrics")
	require.Equal(t, Skipped, cm.Status)
	require.NotContains(t, cm.Message, "the forward's reason")
	require.ElementsMatch(t, []string{"notification-service"}, ex.asked, "asked for the failed check's node only")
}
