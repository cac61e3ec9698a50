package placeholder

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

func TestFromEnv(t *testing.T) {
	env := map[string]string{
		"NOVA_SERVICE":           "feed-service",
		"GRPC_PORT":              "50052",
		"DATABASE_URL":           "postgres://nova_feed_svc:pw@postgres:5432/nova_feed?sslmode=disable",
		"REDIS_CLUSTER_NODES":    "redis-1:7001, redis-2:7002,redis-3:7003",
		"KAFKA_BROKERS":          "kafka:9092",
		"KAFKA_TOPICS":           "feed.post-created,feed.fanout",
		"CLICKHOUSE_URL":         "http://clickhouse:8123",
		"NEO4J_URI":              "bolt://neo4j:7687",
		"NOVA_GRPC_DEPENDENCIES": "user-service:50051,content-service:50051",
	}
	c, err := FromEnv(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if c.GRPCPort != 50052 || c.MetricsPort != 9090 || len(c.RedisNodes) != 3 || c.RedisNodes[1] != "redis-2:7002" {
		t.Fatalf("config = %+v", c)
	}
	deps, notes, err := c.Dependencies()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, d := range deps {
		if !d.Required {
			t.Errorf("%s not required", d.Name())
		}
		names = append(names, d.Name())
	}
	want := "postgres,redis,kafka,clickhouse,grpc:user-service:50051,grpc:content-service:50051"
	if got := strings.Join(names, ","); got != want {
		t.Errorf("deps = %s, want %s", got, want)
	}
	wantNotes := "elasticsearch: absent (ELASTICSEARCH_URL unset)|neo4j: optional, not checked (NOVA_REQUIRE_OPTIONAL!=1)"
	if got := strings.Join(notes, "|"); got != wantNotes {
		t.Errorf("notes = %q, want %q", got, wantNotes)
	}

	env["NOVA_REQUIRE_OPTIONAL"] = "1"
	env["NEO4J_URI"] = "bolt://neo4j"
	c, _ = FromEnv(func(k string) string { return env[k] })
	deps, _, _ = c.Dependencies()
	last := deps[4]
	if tc, ok := last.Check.(TCPCheck); !ok || tc.Addr != "neo4j:7687" || !last.Required {
		t.Errorf("with NOVA_REQUIRE_OPTIONAL=1 neo4j dep = %+v", last)
	}
}

func TestFromEnvReportsEveryProblem(t *testing.T) {
	env := map[string]string{
		"GRPC_PORT":              "x",
		"KAFKA_TOPICS":           "a",
		"NOVA_GRPC_DEPENDENCIES": "user-service",
		"CLICKHOUSE_URL":         "clickhouse",
	}
	_, err := FromEnv(func(k string) string { return env[k] })
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{`GRPC_PORT="x"`, "KAFKA_BROKERS is empty", `"user-service": want host:port`, "CLICKHOUSE_URL"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
}

// TestClickHouseCheck pins the HTTP conversation; the real server is the
// oracle in TestIntegrationChecksFailWithBrokenIdentity.
func TestClickHouseCheck(t *testing.T) {
	answer, code := "3\n", http.StatusOK
	var got *http.Request
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r
		w.WriteHeader(code)
		w.Write([]byte(answer))
	}))
	defer srv.Close()
	ctx := context.Background()
	u := strings.Replace(srv.URL, "http://", "http://nova_analytics_svc:s3cret@", 1) + "/"
	c := NewClickHouseCheck(u, ClickHouseIdentity{Database: "nova_analytics"})
	if err := c.Check(ctx); err != nil {
		t.Fatalf("3 tables: %v", err)
	}
	user, pw, ok := got.BasicAuth()
	if !ok || user != "nova_analytics_svc" || pw != "s3cret" || got.URL.Query().Get("database") != "nova_analytics" || !strings.Contains(got.URL.Query().Get("query"), "system.tables") {
		t.Errorf("request = %s (auth %q %q)", got.URL, user, pw)
	}
	answer = "0"
	if err := c.Check(ctx); err == nil || !strings.Contains(err.Error(), "database nova_analytics has no tables") {
		t.Errorf("no tables: %v", err)
	}
	answer, code = "Code: 193, e.displayText() = DB::Exception: Wrong password for user nova_analytics_svc\nstack", http.StatusInternalServerError
	if err := c.Check(ctx); err == nil || err.Error() != "query as user nova_analytics_svc: HTTP 500: Code: 193, e.displayText() = DB::Exception: Wrong password for user nova_analytics_svc" {
		t.Errorf("HTTP 500: %v", err)
	}
	answer, code = "1\n", http.StatusOK
	if err := NewClickHouseCheck(srv.URL, ClickHouseIdentity{}).Check(ctx); err != nil {
		t.Errorf("SELECT 1 as default: %v", err)
	}
	if _, _, ok := got.BasicAuth(); ok {
		t.Error("basic auth sent without a user")
	}
}

func TestUncoveredSlots(t *testing.T) {
	for _, tc := range []struct {
		ranges [][2]int
		want   string
	}{
		{nil, "0-16383"},
		{[][2]int{{0, 5460}, {5461, 10922}, {10923, 16383}}, ""},
		{[][2]int{{0, 5460}, {10923, 16383}}, "5461-10922"},
		{[][2]int{{1, 16382}}, "0,16383"},
		{[][2]int{{-5, 20000}}, ""},
		{[][2]int{{100, 50}}, "0-16383"},
	} {
		if got := uncoveredSlots(tc.ranges); got != tc.want {
			t.Errorf("uncoveredSlots(%v) = %q, want %q", tc.ranges, got, tc.want)
		}
	}
}

func TestKafkaCheckWantsEveryTopic(t *testing.T) {
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "feed.post-created"))
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	c, err := NewKafkaCheck(cluster.ListenAddrs(), []string{"feed.post-created", "feed.fanout"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Check(ctx); err == nil || err.Error() != "topics missing: feed.fanout (the kafka-topics bootstrap creates them)" {
		t.Fatalf("err = %v, want topics missing: feed.fanout", err)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(cluster.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if _, err := kadm.NewClient(cl).CreateTopic(ctx, 1, 1, nil, "feed.fanout"); err != nil {
		t.Fatal(err)
	}
	if err := c.Check(ctx); err != nil {
		t.Fatalf("after creating feed.fanout: %v", err)
	}
}

func TestPostgresCheckReportsLoginFailure(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	// Nothing listens on port 1: the check must fail with the dial error.
	err := PostgresCheck{URL: "postgres://u:secret@127.0.0.1:1/db?sslmode=disable"}.Check(ctx)
	if err == nil || strings.Contains(err.Error(), "secret") {
		t.Fatalf("err = %v, want a connect error without the password", err)
	}
}
