package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/novadev/novadev/internal/backend/docker/dockertest"
)

// running lists the compose services of project with a running container.
func running(t *testing.T, project string) []string {
	t.Helper()
	out, err := exec.Command("docker", "ps", "--filter", "label=com.docker.compose.project="+project,
		"--format", `{{.Label "com.docker.compose.service"}}`).CombinedOutput()
	require.NoError(t, err, string(out))
	return strings.Fields(string(out))
}

// hostEnv is `novadev env SERVICE --format json` of the ci environment.
func hostEnv(t *testing.T, service string) map[string]string {
	t.Helper()
	out, code := novadev(t, "env", service, "--format", "json")
	require.Equal(t, 0, code, out)
	var env map[string]string
	require.NoError(t, json.Unmarshal([]byte(out), &env), out)
	return env
}

// hostDialer dials through NOVA_HOST_MAP: an announced address (a MOVED
// redirection to redis-2:7002, Kafka's kafka:9092) goes where the host
// reaches it.
func hostDialer(hostMap string) func(ctx context.Context, network, addr string) (net.Conn, error) {
	m := map[string]string{}
	for _, pair := range strings.Split(hostMap, ",") {
		if from, to, ok := strings.Cut(pair, "="); ok {
			m[from] = to
		}
	}
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		if to, ok := m[addr]; ok {
			addr = to
		}
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}
}

// `up --except feed-service` leaves feed-service (and the gateway, which
// needs it) out and runs what it needs; `env feed-service` then gives a
// host process settings that reach PostgreSQL as feed-service's own user
// and Kafka, and a Redis-using service's settings reach every cluster node
// through the MOVED redirections.
func TestIntegrationEnvAndUpExcept(t *testing.T) {
	d := dockertest.New(t)
	needImages(t, d)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	t.Cleanup(func() {
		if out, code := novadev(t, "down", "--volumes"); code != 0 {
			t.Logf("cleanup down: %s", out)
		}
	})
	out, code := novadev(t, "up", "--except", "feed-service")
	require.Equal(t, 0, code, out)
	got := running(t, "nova-ci")
	require.NotContains(t, got, "feed-service")
	require.NotContains(t, got, "graphql-gateway", "it needs feed-service")
	for _, need := range []string{"postgres", "kafka", "user-service", "content-service", "redis-1", "redis-3"} {
		require.Contains(t, got, need)
	}

	env := hostEnv(t, "feed-service")
	conn, err := pgx.Connect(ctx, env["DATABASE_URL"])
	require.NoError(t, err, "DATABASE_URL %s", env["DATABASE_URL"])
	var user, db string
	require.NoError(t, conn.QueryRow(ctx, "select current_user, current_database()").Scan(&user, &db))
	conn.Close(ctx)
	require.Equal(t, "nova_feed_svc", user)
	require.Equal(t, "nova_feed", db)

	kc, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(env["KAFKA_BROKERS"], ",")...), kgo.Dialer(hostDialer(env["NOVA_HOST_MAP"])))
	require.NoError(t, err)
	topics, err := kadm.NewClient(kc).ListTopics(ctx)
	kc.Close()
	require.NoError(t, err, "Kafka at %s (map %s)", env["KAFKA_BROKERS"], env["NOVA_HOST_MAP"])
	for _, tp := range strings.Split(env["KAFKA_TOPICS"], ",") {
		require.True(t, topics.Has(tp), "topic %s", tp)
	}

	// feed-service uses no Redis: notification-service does
	renv := hostEnv(t, "notification-service")
	rc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: strings.Split(renv["REDIS_CLUSTER_NODES"], ","), Dialer: hostDialer(renv["NOVA_HOST_MAP"])})
	defer rc.Close()
	for i := range 20 { // keys over many slots: most answers are MOVED elsewhere at first
		k := fmt.Sprintf("novadev-env-%d", i)
		require.NoError(t, rc.Set(ctx, k, "v", time.Minute).Err(), k)
		require.Equal(t, "v", rc.Get(ctx, k).Val(), k)
	}

	// the shell format evaluates in a real shell to the same values
	shell, code := novadev(t, "env", "feed-service")
	require.Equal(t, 0, code, shell)
	cmd := exec.Command("sh", "-c", `eval "$NOVADEV_OUT"; printenv DATABASE_URL NOVA_HOST_MAP`)
	cmd.Env = []string{"NOVADEV_OUT=" + shell, "PATH=/usr/bin:/bin"}
	printed, err := cmd.Output()
	require.NoError(t, err)
	require.Equal(t, env["DATABASE_URL"]+"\n"+env["NOVA_HOST_MAP"]+"\n", string(printed))
}
