// Package e2e brings the full Nova catalog up on a real Docker engine with
// the offline images, checks it from outside with real clients, runs up
// again (nothing may change) and takes it down with its volumes (nothing
// may be left). Skipped without an engine or images; NOVADEV_E2E=1 (CI)
// turns a skip into a failure.
package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/dotenv"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/novadev/novadev/internal/backend/docker/dockertest"
	"github.com/novadev/novadev/internal/catalog"
	"github.com/novadev/novadev/internal/contract"
	"github.com/novadev/novadev/internal/probe"
	"github.com/novadev/novadev/internal/state"
)

func repoRoot(t *testing.T) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Dir(filepath.Dir(file))
}

func novadev(t *testing.T, args ...string) (string, int) {
	t.Helper()
	return novadevEnv(t, "ci", args...)
}

func pgLogin(ctx context.Context, addr, user, password, db string) error {
	conn, err := pgx.Connect(ctx, fmt.Sprintf("postgres://%s:%s@%s/%s?sslmode=disable", user, password, addr, db))
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	return conn.Ping(ctx)
}

func TestIntegrationUp(t *testing.T) {
	d := dockertest.New(t)
	ctx := context.Background()
	for _, im := range []string{"novadev/postgres:15", "novadev/redis:7", "novadev/kafka:kfake", "novadev/clickhouse:18.16", "novadev/placeholder:dev"} {
		if _, err := d.ImageID(ctx, im); err != nil {
			if os.Getenv("NOVADEV_E2E") == "1" {
				t.Fatalf("image %s missing: build the offline set with scripts/images/build.sh", im)
			}
			t.Skipf("image %s missing: build the offline set with scripts/images/build.sh", im)
		}
	}
	c, err := catalog.Load(filepath.Join(repoRoot(t), "envs", "nova.yaml"), catalog.Options{Env: "ci"})
	require.NoError(t, err)
	project := c.Env.Project
	t.Cleanup(func() {
		if out, code := novadev(t, "down", "--volumes"); code != 0 {
			t.Logf("cleanup down: %s", out)
		}
	})

	start := time.Now()
	out, code := novadev(t, "up")
	require.Equal(t, 0, code, out)
	t.Logf("cold up: %s", time.Since(start).Round(time.Millisecond))
	// ci runs the offline set: no Elasticsearch image, so it is skipped and
	// search-service runs degraded, and the summary says both
	require.Contains(t, out, "\nrunning without optional stores:\n  search-service           degraded: elasticsearch unavailable (no offline image; use --images upstream or a mirror)\n")

	env, err := dotenv.Read(filepath.Join(repoRoot(t), "compose", ".env"))
	require.NoError(t, err)
	base := c.Env.HostPortBase
	pgAddr := fmt.Sprintf("127.0.0.1:%d", c.Stores["postgres"].Host)
	require.Equal(t, base+1, c.Stores["postgres"].Host)

	// every service user logs into its own database and is refused on another's
	services := c.ActiveServices()
	var other *catalog.Service
	for _, s := range services {
		if s.Database == nil {
			continue
		}
		pw := env[catalog.PasswordVar(s.Database.User)]
		require.NoError(t, pgLogin(ctx, pgAddr, s.Database.User, pw, s.Database.Name), s.Name)
		if other != nil {
			err := pgLogin(ctx, pgAddr, s.Database.User, pw, other.Database.Name)
			require.Error(t, err, "%s must not connect to %s", s.Database.User, other.Database.Name)
			require.Contains(t, err.Error(), "permission denied")
		}
		other = s
		// its migrations are recorded the way sqlx does
		conn, err := pgx.Connect(ctx, fmt.Sprintf("postgres://%s:%s@%s/%s?sslmode=disable", s.Database.User, pw, pgAddr, s.Database.Name))
		require.NoError(t, err)
		var n int
		require.NoError(t, conn.QueryRow(ctx, "SELECT count(*) FROM _sqlx_migrations WHERE success").Scan(&n), s.Name)
		require.Positive(t, n, s.Name)
		conn.Close(ctx)
	}

	// Redis Cluster ok with 3 masters, all slots
	redis := c.Stores["redis"]
	var nodes []string
	for i := 0; i < redis.Nodes; i++ {
		nodes = append(nodes, fmt.Sprintf("127.0.0.1:%d", redis.Host+i))
	}
	ok, err := probe.RedisCluster{Addrs: nodes, Masters: 3}.Check(ctx)
	require.True(t, ok, err)

	// every Kafka topic is listed by a Kafka client (advertised kafka:9092 remapped)
	kafka := c.Stores["kafka"]
	var topics []string
	for _, tp := range kafka.Topics {
		topics = append(topics, tp.Name)
	}
	remap := func(ctx context.Context, network, addr string) (netConn, error) {
		if addr == fmt.Sprintf("kafka:%d", kafka.Port) {
			addr = fmt.Sprintf("127.0.0.1:%d", kafka.Host)
		}
		return dial(ctx, network, addr)
	}
	ok, err = probe.Kafka{Brokers: []string{fmt.Sprintf("127.0.0.1:%d", kafka.Host)}, Topics: topics, Dial: remap}.Check(ctx)
	require.True(t, ok, err)

	// the ClickHouse tables exist
	ch := c.Stores["clickhouse"]
	want := 0
	for _, db := range ch.Databases {
		want += len(db.Tables)
	}
	chURL := fmt.Sprintf("http://127.0.0.1:%d/", ch.Host)
	chPost := func(user, password, q string) (int, string) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, chURL, strings.NewReader(q))
		require.NoError(t, err)
		if user != "" {
			req.SetBasicAuth(user, password)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp.StatusCode, string(body)
	}
	admin := contract.ClickHouseAdminUser
	code, body := chPost(admin, env[catalog.PasswordVar(admin)], "SELECT count() FROM system.tables WHERE database = 'nova_analytics'")
	require.Equal(t, http.StatusOK, code, body)
	require.Equal(t, fmt.Sprintf("%d\n", want), body)
	// the password-less default user cannot query from outside its container
	code, body = chPost("", "", "SELECT 1")
	require.NotEqual(t, http.StatusOK, code, "anonymous SELECT 1 from the host must be refused: %s", body)
	// the service's own identity reaches its database, and nothing more
	for _, u := range contract.ClickHouseUsers(c) {
		code, body = chPost(u.User, env[u.Password.Key], "SELECT count() FROM "+u.Database+".events")
		require.Equal(t, http.StatusOK, code, "%s: %s", u.User, body)
		code, body = chPost(u.User, env[u.Password.Key], "CREATE TABLE "+u.Database+".e2e_nope (x UInt8) ENGINE = Memory")
		require.NotEqual(t, http.StatusOK, code, "%s must not create tables: %s", u.User, body)
	}

	// gRPC health SERVING on every service
	for _, s := range services {
		var host int
		for _, p := range s.Ports {
			if p.Name == "grpc" {
				host = p.Host
			}
		}
		ok, err := probe.GRPC{Addr: fmt.Sprintf("127.0.0.1:%d", host)}.Check(ctx)
		require.True(t, ok, "%s: %v", s.Name, err)
	}

	// a second up changes nothing
	before, err := d.Observe(ctx, project)
	require.NoError(t, err)
	start = time.Now()
	out, code = novadev(t, "up")
	require.Equal(t, 0, code, out)
	t.Logf("warm up: %s", time.Since(start).Round(time.Millisecond))
	after, err := d.Observe(ctx, project)
	require.NoError(t, err)
	require.Equal(t, ids(before), ids(after), "a second up must leave every container untouched")
	dry, code := novadev(t, "up", "--dry-run")
	require.Equal(t, 0, code, dry)
	require.Contains(t, dry, "project "+project+": 0 changes")

	// status and logs see the stack
	st, code := novadev(t, "status")
	require.Equal(t, 0, code, st)
	require.NotContains(t, st, " no ")
	logs, code := novadev(t, "logs", "--tail", "5", "postgres")
	require.Equal(t, 0, code, logs)
	require.Contains(t, logs, "postgres |")

	// down --volumes leaves nothing labelled
	start = time.Now()
	out, code = novadev(t, "down", "--volumes")
	require.Equal(t, 0, code, out)
	t.Logf("down: %s", time.Since(start).Round(time.Millisecond))
	left, err := d.Observe(ctx, project)
	require.NoError(t, err)
	require.True(t, left.Empty(), "%+v", left)
}

func ids(o *state.Observed) map[string]string {
	out := map[string]string{}
	for _, c := range o.Containers {
		out[c.Name] = c.ID + " " + c.State
	}
	return out
}
