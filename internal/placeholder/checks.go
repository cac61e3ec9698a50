package placeholder

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// PostgresCheck logs in with the service's own DATABASE_URL and runs SELECT 1.
type PostgresCheck struct{ URL string }

// Name implements Check.
func (PostgresCheck) Name() string { return "postgres" }

// Check implements Check. A fresh connection each time proves the login
// itself still works (password, CONNECT privilege), not just an old session.
func (c PostgresCheck) Check(ctx context.Context) error {
	conn, err := pgx.Connect(ctx, c.URL)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var one int
	if err := conn.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil {
		return err
	}
	if one != 1 {
		return fmt.Errorf("SELECT 1 returned %d", one)
	}
	return nil
}

// RedisClusterCheck asks the cluster for CLUSTER INFO and wants cluster_state:ok.
type RedisClusterCheck struct{ Client *redis.ClusterClient }

// NewRedisClusterCheck connects (lazily) to the given seed nodes.
func NewRedisClusterCheck(nodes []string) RedisClusterCheck {
	return RedisClusterCheck{Client: redis.NewClusterClient(&redis.ClusterOptions{
		Addrs:      nodes,
		MaxRetries: -1, // a check reports the first failure, it does not hide it
	})}
}

// Name implements Check.
func (RedisClusterCheck) Name() string { return "redis" }

// Check implements Check.
func (c RedisClusterCheck) Check(ctx context.Context) error {
	info, err := c.Client.ClusterInfo(ctx).Result()
	if err != nil {
		return err
	}
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "cluster_state:"); ok {
			if v != "ok" {
				return fmt.Errorf("cluster_state:%s", v)
			}
			return nil
		}
	}
	return errors.New("CLUSTER INFO has no cluster_state")
}

// KafkaCheck wants every listed topic to exist (or, with no topics, the
// brokers to answer metadata).
type KafkaCheck struct {
	Client *kgo.Client
	Topics []string
}

// NewKafkaCheck builds a client for the bootstrap brokers; opts may add a
// dialer (tests, host runs).
func NewKafkaCheck(brokers, topics []string, opts ...kgo.Opt) (KafkaCheck, error) {
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(brokers...)}, opts...)...)
	if err != nil {
		return KafkaCheck{}, err
	}
	return KafkaCheck{Client: cl, Topics: topics}, nil
}

// Name implements Check.
func (KafkaCheck) Name() string { return "kafka" }

// Check implements Check. It asks the brokers directly: kadm's topic listing
// answers from the client's metadata cache (up to 5 s old), and a topic that
// bootstrap just created should count at the next check.
func (c KafkaCheck) Check(ctx context.Context) error {
	adm := kadm.NewClient(c.Client)
	if len(c.Topics) == 0 {
		_, err := adm.ListBrokers(ctx)
		return err
	}
	req := kmsg.NewPtrMetadataRequest()
	for _, t := range c.Topics {
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = kmsg.StringPtr(t)
		req.Topics = append(req.Topics, rt)
	}
	req.AllowAutoTopicCreation = false
	resp, err := req.RequestWith(ctx, c.Client)
	if err != nil {
		return err
	}
	found := map[string]error{}
	for _, t := range resp.Topics {
		if t.Topic != nil {
			found[*t.Topic] = kerr.ErrorForCode(t.ErrorCode)
		}
	}
	var missing []string
	for _, t := range c.Topics {
		if err, ok := found[t]; !ok || err != nil {
			missing = append(missing, t)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("topics missing: %s", strings.Join(missing, ","))
	}
	return nil
}

// HTTPCheck GETs a URL and wants a 2xx answer, and Body when it is set.
type HTTPCheck struct {
	Dep    string
	URL    string
	Body   string
	Client *http.Client
}

// Name implements Check.
func (c HTTPCheck) Name() string { return c.Dep }

// Check implements Check.
func (c HTTPCheck) Check(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.URL, nil)
	if err != nil {
		return err
	}
	cl := c.Client
	if cl == nil {
		cl = http.DefaultClient
	}
	resp, err := cl.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("GET %s: HTTP %d %s", redact(c.URL), resp.StatusCode, strings.TrimSpace(string(body)))
	}
	if c.Body != "" && strings.TrimSpace(string(body)) != c.Body {
		return fmt.Errorf("GET %s: got %q, want %q", redact(c.URL), strings.TrimSpace(string(body)), c.Body)
	}
	return nil
}

// NewClickHouseCheck pings ClickHouse over HTTP (/ping answers "Ok.").
func NewClickHouseCheck(base string) HTTPCheck {
	return HTTPCheck{Dep: "clickhouse", URL: strings.TrimRight(base, "/") + "/ping", Body: "Ok."}
}

// TCPCheck wants a TCP connection to Addr to open (stores whose protocol the
// placeholder does not speak, such as Neo4j's bolt).
type TCPCheck struct{ Dep, Addr string }

// Name implements Check.
func (c TCPCheck) Name() string { return c.Dep }

// Check implements Check.
func (c TCPCheck) Check(ctx context.Context) error {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", c.Addr)
	if err != nil {
		return err
	}
	return conn.Close()
}

// GRPCHealthCheck wants grpc.health.v1 Check of the whole server ("") to
// answer SERVING at Target (host:port).
type GRPCHealthCheck struct {
	Target string
	client healthpb.HealthClient
}

// NewGRPCHealthCheck creates the (lazy, reconnecting) connection to target.
func NewGRPCHealthCheck(target string) (GRPCHealthCheck, error) {
	conn, err := grpc.NewClient(target, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return GRPCHealthCheck{}, err
	}
	return GRPCHealthCheck{Target: target, client: healthpb.NewHealthClient(conn)}, nil
}

// Name implements Check.
func (c GRPCHealthCheck) Name() string { return "grpc:" + c.Target }

// Check implements Check.
func (c GRPCHealthCheck) Check(ctx context.Context) error {
	resp, err := c.client.Check(ctx, &healthpb.HealthCheckRequest{})
	if err != nil {
		return err
	}
	if s := resp.GetStatus(); s != healthpb.HealthCheckResponse_SERVING {
		return fmt.Errorf("health status %s", s)
	}
	return nil
}

// redact hides a password in a URL before it reaches a log line.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "<unparsable url>"
	}
	return u.Redacted()
}
