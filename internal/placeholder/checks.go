package placeholder

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
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

// PostgresCheck logs in with the service's own DATABASE_URL and checks
// what the service needs: it is connected as its own user to its own
// database, the migrations have run (a table besides _sqlx_migrations is
// visible to the user) and none is recorded as failed (sqlx's dirty state).
type PostgresCheck struct{ URL string }

// Name implements Check.
func (PostgresCheck) Name() string { return "postgres" }

// Check implements Check. A fresh connection each time proves the login
// itself still works (password, CONNECT privilege), not just an old session.
func (c PostgresCheck) Check(ctx context.Context) error {
	cfg, err := pgx.ParseConfig(c.URL)
	if err != nil {
		return errors.New("DATABASE_URL does not parse as a PostgreSQL URL")
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var (
		user, db       string
		tables         int
		hasMigrations  bool
		readMigrations bool
	)
	// session_user, not current_user: with `ddl: true` the session may
	// SET ROLE to the database's owner, and the login is what must be the
	// service's own user.
	err = conn.QueryRow(ctx, `SELECT session_user, current_database(),
		(SELECT count(*) FROM pg_catalog.pg_tables t
		  WHERE t.schemaname NOT IN ('pg_catalog', 'information_schema') AND t.tablename <> '_sqlx_migrations'
		    AND has_table_privilege(format('%I.%I', t.schemaname, t.tablename), 'SELECT')),
		to_regclass('_sqlx_migrations') IS NOT NULL,
		to_regclass('_sqlx_migrations') IS NOT NULL AND has_table_privilege('_sqlx_migrations', 'SELECT')`).Scan(&user, &db, &tables, &hasMigrations, &readMigrations)
	if err != nil {
		return err
	}
	if cfg.User != "" && user != cfg.User {
		return fmt.Errorf("logged in as %s, not as the service's own user %s", user, cfg.User)
	}
	if cfg.Database != "" && db != cfg.Database {
		return fmt.Errorf("connected to database %s, not %s", db, cfg.Database)
	}
	if tables == 0 {
		why := "no _sqlx_migrations table: the migrations bootstrap has not run"
		if hasMigrations {
			why = "the migrations created none, or the user lacks SELECT on them"
		}
		return fmt.Errorf("database %s has no table that %s can read (%s)", db, user, why)
	}
	if readMigrations {
		var dirty []int64
		rows, err := conn.Query(ctx, `SELECT version FROM _sqlx_migrations WHERE NOT success ORDER BY version`)
		if err != nil {
			return err
		}
		for rows.Next() {
			var v int64
			if err := rows.Scan(&v); err != nil {
				return err
			}
			dirty = append(dirty, v)
		}
		if err := rows.Err(); err != nil {
			return err
		}
		if len(dirty) > 0 {
			return fmt.Errorf("database %s: migration %v is recorded as failed (success = false): fix it and rerun the migrations bootstrap", db, dirty)
		}
	}
	return nil
}

// RedisClusterCheck asks every seed node for CLUSTER INFO and CLUSTER SLOTS
// and wants, on each node, cluster_state:ok and all 16384 hash slots
// assigned: a node with a stale or partial view would send the service's
// commands to the wrong place. Redis has no per-service identity in the
// contract (no ACL users), so the check connects as the default user.
type RedisClusterCheck struct {
	Nodes   []string
	clients []*redis.Client
}

// NewRedisClusterCheck connects (lazily) to each of the given seed nodes.
func NewRedisClusterCheck(nodes []string) RedisClusterCheck {
	c := RedisClusterCheck{Nodes: nodes}
	for _, n := range nodes {
		c.clients = append(c.clients, redis.NewClient(&redis.Options{
			Addr:       n,
			MaxRetries: -1, // a check reports the first failure, it does not hide it
		}))
	}
	return c
}

// Name implements Check.
func (RedisClusterCheck) Name() string { return "redis" }

// Check implements Check.
func (c RedisClusterCheck) Check(ctx context.Context) error {
	var errs []error
	for i, cl := range c.clients {
		if err := checkRedisNode(ctx, cl); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", c.Nodes[i], err))
		}
	}
	return errors.Join(errs...)
}

// redisSlots is the number of hash slots of a Redis Cluster.
const redisSlots = 16384

func checkRedisNode(ctx context.Context, cl *redis.Client) error {
	info, err := cl.ClusterInfo(ctx).Result()
	if err != nil {
		return err
	}
	state := ""
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "cluster_state:"); ok {
			state = v
		}
	}
	slots, err := cl.ClusterSlots(ctx).Result()
	if err != nil {
		return err
	}
	var ranges [][2]int
	for _, s := range slots {
		if len(s.Nodes) > 0 { // a range without a master serves nobody
			ranges = append(ranges, [2]int{int(s.Start), int(s.End)})
		}
	}
	if missing := uncoveredSlots(ranges); missing != "" {
		return fmt.Errorf("CLUSTER SLOTS leaves slots %s unassigned (cluster_state:%s): run the redis-cluster-init bootstrap", missing, state)
	}
	if state != "ok" {
		return fmt.Errorf("cluster_state:%s", state)
	}
	return nil
}

// uncoveredSlots lists the hash slots no range covers, as "0-99,200"; ""
// when every slot is covered. Out-of-range bounds are clipped.
func uncoveredSlots(ranges [][2]int) string {
	var covered [redisSlots]bool
	for _, r := range ranges {
		for s := max(r[0], 0); s <= min(r[1], redisSlots-1); s++ {
			covered[s] = true
		}
	}
	var out []string
	for s := 0; s < redisSlots; {
		if covered[s] {
			s++
			continue
		}
		e := s
		for e+1 < redisSlots && !covered[e+1] {
			e++
		}
		if e == s {
			out = append(out, strconv.Itoa(s))
		} else {
			out = append(out, fmt.Sprintf("%d-%d", s, e))
		}
		s = e + 1
	}
	return strings.Join(out, ",")
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
	var leaderless []string
	for _, t := range resp.Topics {
		if t.Topic == nil {
			continue
		}
		err := kerr.ErrorForCode(t.ErrorCode)
		if err == nil && len(t.Partitions) == 0 {
			err = errors.New("no partitions")
		}
		found[*t.Topic] = err
		for _, p := range t.Partitions {
			if p.Leader < 0 || p.ErrorCode != 0 && !errors.Is(kerr.ErrorForCode(p.ErrorCode), kerr.ReplicaNotAvailable) {
				leaderless = append(leaderless, fmt.Sprintf("%s/%d", *t.Topic, p.Partition))
			}
		}
	}
	var missing []string
	for _, t := range c.Topics {
		if err, ok := found[t]; !ok || err != nil {
			missing = append(missing, t)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("topics missing: %s (the kafka-topics bootstrap creates them)", strings.Join(missing, ","))
	}
	if len(leaderless) > 0 {
		return fmt.Errorf("partitions without a leader: %s", strings.Join(leaderless, ","))
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

// ClickHouseCheck runs a query over ClickHouse's HTTP interface as the
// service's own user (HTTP basic auth; none configured: the default user)
// in the service's own database, and wants that database to hold tables:
// a ping would pass with wrong credentials and before clickhouse-init.
type ClickHouseCheck struct {
	URL string
	ClickHouseIdentity
	Client *http.Client
}

// NewClickHouseCheck checks the ClickHouse at base as id; a user and
// password in base's userinfo count when id has none.
func NewClickHouseCheck(base string, id ClickHouseIdentity) ClickHouseCheck {
	if u, err := url.Parse(base); err == nil && u.User != nil {
		if id.User == "" {
			id.User = u.User.Username()
			id.Password, _ = u.User.Password()
		}
		u.User = nil
		base = u.String()
	}
	return ClickHouseCheck{URL: strings.TrimRight(base, "/"), ClickHouseIdentity: id}
}

// Name implements Check.
func (ClickHouseCheck) Name() string { return "clickhouse" }

// Check implements Check.
func (c ClickHouseCheck) Check(ctx context.Context) error {
	q := "SELECT 1"
	if c.Database != "" {
		q = "SELECT count() FROM system.tables WHERE database = currentDatabase()"
	}
	params := url.Values{"query": {q}}
	if c.Database != "" {
		params.Set("database", c.Database)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.URL+"/?"+params.Encode(), nil)
	if err != nil {
		return err
	}
	if c.User != "" {
		req.SetBasicAuth(c.User, c.Password)
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
	answer := strings.TrimSpace(string(body))
	who := "the default user"
	if c.User != "" {
		who = "user " + c.User
	}
	if resp.StatusCode/100 != 2 {
		// ClickHouse's message says what is wrong: wrong password, unknown
		// database, no access; its first line is enough
		first, _, _ := strings.Cut(answer, "\n")
		return fmt.Errorf("query as %s: HTTP %d: %s", who, resp.StatusCode, first)
	}
	if c.Database == "" {
		if answer != "1" {
			return fmt.Errorf("SELECT 1 as %s answered %q", who, answer)
		}
		return nil
	}
	n, err := strconv.Atoi(answer)
	if err != nil {
		return fmt.Errorf("table count as %s: unexpected answer %q", who, answer)
	}
	if n == 0 {
		return fmt.Errorf("database %s has no tables (the clickhouse-init bootstrap creates them)", c.Database)
	}
	return nil
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
