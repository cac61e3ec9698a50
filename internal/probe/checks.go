package probe

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/redis/go-redis/v9"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// TCP is ready when a connection to Addr opens.
type TCP struct {
	Addr string
	Dial DialFunc
}

// Check implements Check.
func (c TCP) Check(ctx context.Context) (bool, error) {
	conn, err := c.Dial.dial(ctx, "tcp", c.Addr)
	if err != nil {
		return false, err
	}
	conn.Close()
	return true, nil
}

func (c TCP) String() string { return "tcp " + c.Addr }

// HTTP is ready when GET URL answers 2xx.
type HTTP struct {
	URL  string
	Dial DialFunc
}

func httpClient(d DialFunc) *http.Client {
	return &http.Client{Transport: &http.Transport{DialContext: d.dial, DisableKeepAlives: true}}
}

// Check implements Check.
func (c HTTP) Check(ctx context.Context) (bool, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.URL, nil)
	if err != nil {
		return false, err
	}
	resp, err := httpClient(c.Dial).Do(req)
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 200))
		return false, fmt.Errorf("HTTP %d: %s", resp.StatusCode, strings.TrimSpace(string(body)))
	}
	return true, nil
}

func (c HTTP) String() string { return "http " + c.URL }

// GRPC is ready when grpc.health.v1 reports SERVING for Service ("" is
// the whole server).
type GRPC struct {
	Addr    string
	Service string
	Dial    DialFunc
}

// Check implements Check.
func (c GRPC) Check(ctx context.Context) (bool, error) {
	conn, err := grpc.NewClient("passthrough:///"+c.Addr,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithContextDialer(func(ctx context.Context, addr string) (net.Conn, error) { return c.Dial.dial(ctx, "tcp", addr) }))
	if err != nil {
		return false, err
	}
	defer conn.Close()
	r, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{Service: c.Service})
	if err != nil {
		return false, err
	}
	if r.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		return false, fmt.Errorf("health status %s", r.GetStatus())
	}
	return true, nil
}

func (c GRPC) String() string {
	if c.Service != "" {
		return "grpc health SERVING of " + c.Service + " at " + c.Addr
	}
	return "grpc health SERVING at " + c.Addr
}

// Postgres is ready when User logs into Database with Password and a
// query answers.
type Postgres struct {
	Addr     string
	User     string
	Password string
	Database string
	Dial     DialFunc
}

// Check implements Check.
func (c Postgres) Check(ctx context.Context) (bool, error) {
	host, port, err := net.SplitHostPort(c.Addr)
	if err != nil {
		return false, err
	}
	u := url.URL{Scheme: "postgres", User: url.UserPassword(c.User, c.Password), Host: net.JoinHostPort(host, port), Path: "/" + c.Database, RawQuery: "sslmode=disable"}
	cfg, err := pgx.ParseConfig(u.String())
	if err != nil {
		return false, err
	}
	if c.Dial != nil {
		cfg.DialFunc = func(ctx context.Context, network, addr string) (net.Conn, error) { return c.Dial(ctx, network, addr) }
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return false, pgPermanent(err)
	}
	defer conn.Close(context.Background())
	var one int
	if err := conn.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil {
		return false, err
	}
	return true, nil
}

// pgPermanent marks the server's refusals that no retry changes: a wrong
// password or a refused role (28P01, 28000) and a missing database
// (3D000). "Starting up" (57P03) and connection errors stay transient.
func pgPermanent(err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case "28P01", "28000", "3D000":
			return Permanent(err)
		}
	}
	return err
}

func (c Postgres) String() string {
	return fmt.Sprintf("postgres login as %s to %s at %s", c.User, c.Database, c.Addr)
}

// Redis is ready when every node answers PING.
type Redis struct {
	Addrs []string
	Dial  DialFunc
}

func redisClient(addr string, d DialFunc) *redis.Client {
	return redis.NewClient(&redis.Options{Addr: addr, Dialer: d.dial, MaxRetries: -1, PoolSize: 1, Protocol: 2, DisableIdentity: true})
}

// Check implements Check.
func (c Redis) Check(ctx context.Context) (bool, error) {
	for _, a := range c.Addrs {
		cl := redisClient(a, c.Dial)
		err := cl.Ping(ctx).Err()
		cl.Close()
		if err != nil {
			return false, fmt.Errorf("%s: %w", a, err)
		}
	}
	return true, nil
}

func (c Redis) String() string { return "redis PING on " + strings.Join(c.Addrs, ",") }

// RedisCluster is ready when every node reports cluster_state:ok, all
// 16384 slots assigned and at least Masters masters holding slots.
type RedisCluster struct {
	Addrs   []string
	Masters int
	Dial    DialFunc
}

// Check implements Check.
func (c RedisCluster) Check(ctx context.Context) (bool, error) {
	for _, a := range c.Addrs {
		cl := redisClient(a, c.Dial)
		info, err := cl.ClusterInfo(ctx).Result()
		cl.Close()
		if err != nil {
			return false, fmt.Errorf("%s: %w", a, err)
		}
		f := parseInfo(info)
		if f["cluster_state"] != "ok" {
			return false, fmt.Errorf("%s: cluster_state:%s", a, f["cluster_state"])
		}
		if f["cluster_slots_assigned"] != "16384" {
			return false, fmt.Errorf("%s: %s of 16384 slots assigned", a, f["cluster_slots_assigned"])
		}
		if n, _ := strconv.Atoi(f["cluster_size"]); n < c.Masters {
			return false, fmt.Errorf("%s: %d masters with slots, want %d", a, n, c.Masters)
		}
	}
	return true, nil
}

func (c RedisCluster) String() string {
	return fmt.Sprintf("redis cluster_state:ok with all slots and %d masters on %s", c.Masters, strings.Join(c.Addrs, ","))
}

func parseInfo(s string) map[string]string {
	out := map[string]string{}
	for _, line := range strings.Split(s, "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), ":"); ok {
			out[k] = v
		}
	}
	return out
}

// Kafka is ready when the brokers answer metadata that lists every topic
// in Topics (none: any answer).
type Kafka struct {
	Brokers []string
	Topics  []string
	Dial    DialFunc
}

// Check implements Check.
func (c Kafka) Check(ctx context.Context) (bool, error) {
	opts := []kgo.Opt{kgo.SeedBrokers(c.Brokers...), kgo.RequestRetries(0), kgo.RetryTimeout(0)}
	if c.Dial != nil {
		opts = append(opts, kgo.Dialer(c.Dial))
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return false, err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	if len(c.Topics) == 0 {
		_, err := adm.BrokerMetadata(ctx)
		return err == nil, err
	}
	td, err := adm.ListTopics(ctx, c.Topics...)
	if err != nil {
		return false, err
	}
	var missing []string
	for _, t := range c.Topics {
		if d, ok := td[t]; !ok || d.Err != nil {
			missing = append(missing, t)
		}
	}
	if len(missing) > 0 {
		slices.Sort(missing)
		return false, fmt.Errorf("topics missing: %s", strings.Join(missing, ", "))
	}
	return true, nil
}

func (c Kafka) String() string {
	if len(c.Topics) == 0 {
		return "kafka metadata from " + strings.Join(c.Brokers, ",")
	}
	return fmt.Sprintf("kafka metadata listing %d topics from %s", len(c.Topics), strings.Join(c.Brokers, ","))
}

// ClickHouse is ready when /ping answers "Ok." and Query (default
// "SELECT 1") runs over HTTP, as User when one is given (the default user
// may query only from inside the server's container).
type ClickHouse struct {
	URL      string // http://127.0.0.1:8123
	Query    string
	User     string
	Password string
	Dial     DialFunc
}

// Check implements Check.
func (c ClickHouse) Check(ctx context.Context) (bool, error) {
	cl := httpClient(c.Dial)
	base := strings.TrimSuffix(c.URL, "/")
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/ping", nil)
	if err != nil {
		return false, err
	}
	resp, err := cl.Do(req)
	if err != nil {
		return false, err
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 200))
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || strings.TrimSpace(string(body)) != "Ok." {
		return false, fmt.Errorf("ping: HTTP %d %q", resp.StatusCode, strings.TrimSpace(string(body)))
	}
	q := c.Query
	if q == "" {
		q = "SELECT 1"
	}
	req, err = http.NewRequestWithContext(ctx, http.MethodPost, base+"/", strings.NewReader(q))
	if err != nil {
		return false, err
	}
	if c.User != "" {
		req.SetBasicAuth(c.User, c.Password)
	}
	resp, err = cl.Do(req)
	if err != nil {
		return false, err
	}
	body, _ = io.ReadAll(io.LimitReader(resp.Body, 500))
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return false, fmt.Errorf("query %q: HTTP %d: %s", q, resp.StatusCode, strings.TrimSpace(string(body)))
	}
	return true, nil
}

func (c ClickHouse) String() string {
	q := c.Query
	if q == "" {
		q = "SELECT 1"
	}
	return fmt.Sprintf("clickhouse ping and %q at %s", q, c.URL)
}
