package probe_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/novadev/novadev/internal/probe"
)

func ms(n int) time.Duration { return time.Duration(n) * time.Millisecond }

// after returns a check that is ready on the n-th attempt.
func after(n int) (probe.Check, *int) {
	tries := 0
	return probe.Func{What: "the thing", F: func(context.Context) (bool, error) {
		tries++
		if tries >= n {
			return true, nil
		}
		return false, fmt.Errorf("attempt %d refused", tries)
	}}, &tries
}

func TestPollBackoff(t *testing.T) {
	tests := []struct {
		name     string
		readyOn  int
		timeout  time.Duration
		sleeps   []time.Duration
		tries    int
		errMatch string
	}{
		{"ready at once", 1, time.Second, nil, 1, ""},
		{"fast then doubling", 5, time.Minute, []time.Duration{ms(20), ms(40), ms(80), ms(160)}, 5, ""},
		{"capped at one second", 10, time.Minute, []time.Duration{ms(20), ms(40), ms(80), ms(160), ms(320), ms(640), ms(1000), ms(1000), ms(1000)}, 10, ""},
		{"timeout clips the last sleep", 1000, ms(100), []time.Duration{ms(20), ms(40), ms(40)}, 4,
			"not ready after 100ms: waited for the thing (4 attempts); last error: attempt 4 refused"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := probe.NewFakeClock()
			c, tries := after(tt.readyOn)
			err := probe.Poll(context.Background(), clk, probe.DefaultBackoff, tt.timeout, c)
			require.Equal(t, tt.sleeps, clk.Sleeps())
			require.Equal(t, tt.tries, *tries)
			if tt.errMatch == "" {
				require.NoError(t, err)
				return
			}
			var te *probe.TimeoutError
			require.ErrorAs(t, err, &te)
			require.Equal(t, tt.errMatch, err.Error())
		})
	}
}

func TestPollCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	tries := 0
	c := probe.Func{What: "x", F: func(context.Context) (bool, error) {
		tries++
		if tries == 3 {
			cancel()
		}
		return false, errors.New("no")
	}}
	err := probe.Poll(ctx, probe.NewFakeClock(), probe.DefaultBackoff, time.Hour, c)
	require.ErrorIs(t, err, context.Canceled)
	require.Equal(t, 3, tries)
}

func TestAllNamesTheFailingCheck(t *testing.T) {
	ok := probe.Func{What: "a", F: func(context.Context) (bool, error) { return true, nil }}
	bad := probe.Func{What: "b", F: func(context.Context) (bool, error) { return false, errors.New("down") }}
	done, err := probe.All{ok, bad}.Check(context.Background())
	require.False(t, done)
	require.EqualError(t, err, "b: down")
	require.Equal(t, "a and b", probe.All{ok, bad}.String())
}

func TestTCP(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	done, err := probe.TCP{Addr: addr}.Check(context.Background())
	require.True(t, done)
	require.NoError(t, err)
	ln.Close()
	done, err = probe.TCP{Addr: addr}.Check(context.Background())
	require.False(t, done)
	require.ErrorContains(t, err, "refused")
}

func TestDialRemap(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		if addr == "kafka:9092" {
			addr = ln.Addr().String()
		}
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}
	done, err := probe.TCP{Addr: "kafka:9092", Dial: dial}.Check(context.Background())
	require.True(t, done, err)
}

func TestHTTPAndClickHouse(t *testing.T) {
	var queries []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/ping":
			fmt.Fprintln(w, "Ok.")
		case r.URL.Path == "/" && r.Method == http.MethodPost:
			b := make([]byte, 100)
			n, _ := r.Body.Read(b)
			queries = append(queries, string(b[:n]))
			if strings.Contains(string(b[:n]), "missing") {
				http.Error(w, "Code: 60, Table nova.missing doesn't exist", http.StatusNotFound)
				return
			}
			fmt.Fprintln(w, "1")
		case r.URL.Path == "/healthz":
			w.WriteHeader(http.StatusOK)
		default:
			http.Error(w, "nope", http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	ctx := context.Background()

	done, err := probe.HTTP{URL: srv.URL + "/healthz"}.Check(ctx)
	require.True(t, done, err)
	done, err = probe.HTTP{URL: srv.URL + "/other"}.Check(ctx)
	require.False(t, done)
	require.EqualError(t, err, "HTTP 503: nope")

	done, err = probe.ClickHouse{URL: srv.URL}.Check(ctx)
	require.True(t, done, err)
	done, err = probe.ClickHouse{URL: srv.URL, Query: "SELECT * FROM nova.missing"}.Check(ctx)
	require.False(t, done)
	require.ErrorContains(t, err, "HTTP 404: Code: 60")
	require.Equal(t, []string{"SELECT 1", "SELECT * FROM nova.missing"}, queries)
}

func TestGRPCHealth(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := grpc.NewServer()
	hs := health.NewServer()
	healthpb.RegisterHealthServer(srv, hs)
	go srv.Serve(ln)
	defer srv.Stop()
	ctx := context.Background()
	c := probe.GRPC{Addr: ln.Addr().String()}

	hs.SetServingStatus("", healthpb.HealthCheckResponse_NOT_SERVING)
	done, err := c.Check(ctx)
	require.False(t, done)
	require.EqualError(t, err, "health status NOT_SERVING")

	hs.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	done, err = c.Check(ctx)
	require.True(t, done, err)
}

func TestKafkaTopics(t *testing.T) {
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "feed.a", "feed.b"))
	require.NoError(t, err)
	defer cluster.Close()
	ctx := context.Background()
	brokers := cluster.ListenAddrs()

	done, err := probe.Kafka{Brokers: brokers}.Check(ctx)
	require.True(t, done, err)
	done, err = probe.Kafka{Brokers: brokers, Topics: []string{"feed.a", "feed.b"}}.Check(ctx)
	require.True(t, done, err)
	done, err = probe.Kafka{Brokers: brokers, Topics: []string{"feed.a", "feed.z", "feed.c"}}.Check(ctx)
	require.False(t, done)
	require.EqualError(t, err, "topics missing: feed.c, feed.z")
}

// fakeRedis answers every command with the bulk string reply.
func fakeRedis(t *testing.T, reply string) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				r := bufio.NewReader(c)
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						return
					}
					if !strings.HasPrefix(line, "*") {
						continue
					}
					var n int
					fmt.Sscanf(line, "*%d", &n)
					var args []string
					for i := 0; i < 2*n; i++ {
						a, err := r.ReadString('\n')
						if err != nil {
							return
						}
						args = append(args, strings.TrimSpace(a))
					}
					if strings.EqualFold(args[1], "hello") {
						fmt.Fprint(c, "-ERR unknown command 'HELLO'\r\n")
						continue
					}
					fmt.Fprintf(c, "$%d\r\n%s\r\n", len(reply), reply)
				}
			}()
		}
	}()
	return ln.Addr().String()
}

func TestRedisCluster(t *testing.T) {
	ok := fakeRedis(t, "cluster_state:ok\r\ncluster_slots_assigned:16384\r\ncluster_size:3\r\n")
	fail := fakeRedis(t, "cluster_state:fail\r\ncluster_slots_assigned:0\r\ncluster_size:0\r\n")
	partial := fakeRedis(t, "cluster_state:ok\r\ncluster_slots_assigned:10000\r\ncluster_size:2\r\n")
	ctx := context.Background()
	tests := []struct {
		addrs []string
		err   string
	}{
		{[]string{ok, ok}, ""},
		{[]string{ok, fail}, fail + ": cluster_state:fail"},
		{[]string{partial}, partial + ": 10000 of 16384 slots assigned"},
	}
	for _, tt := range tests {
		done, err := probe.RedisCluster{Addrs: tt.addrs, Masters: 3}.Check(ctx)
		if tt.err == "" {
			require.True(t, done, err)
			continue
		}
		require.False(t, done)
		require.EqualError(t, err, tt.err)
	}
}

func TestPollStopsAtAPermanentError(t *testing.T) {
	tries := 0
	c := probe.Func{What: "postgres login", F: func(context.Context) (bool, error) {
		tries++
		if tries < 3 {
			return false, errors.New("connection refused")
		}
		return false, fmt.Errorf("login: %w", probe.Permanent(errors.New("password authentication failed (28P01)")))
	}}
	clk := probe.NewFakeClock()
	err := probe.Poll(context.Background(), clk, probe.DefaultBackoff, time.Hour, c)
	var g *probe.GaveUpError
	require.ErrorAs(t, err, &g)
	require.Equal(t, 3, tries, "transient errors are retried, the permanent one ends the wait")
	require.Len(t, clk.Sleeps(), 2)
	require.True(t, probe.IsPermanent(err))
	require.Equal(t, "cannot become ready: postgres login failed (attempt 3): login: password authentication failed (28P01); waiting will not fix this", err.Error())
	require.NoError(t, probe.Permanent(nil))
}
