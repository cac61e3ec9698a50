package placeholder

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/novadev/novadev/internal/backend/docker/dockertest"
)

// storeLabel marks every container these tests create.
const storeLabel = "novadev.test=internal-placeholder"

// needImages skips (fails under NOVADEV_E2E=1, through dockertest) without
// an engine, and fails or skips the same way when an offline image is missing.
func needImages(t *testing.T, images ...string) {
	t.Helper()
	dockertest.New(t)
	for _, img := range images {
		if out, err := exec.Command("docker", "image", "inspect", "--format", "{{.Id}}", img).CombinedOutput(); err != nil {
			msg := fmt.Sprintf("image %s is missing (scripts/images/build.sh builds it): %s", img, strings.TrimSpace(string(out)))
			if os.Getenv("NOVADEV_E2E") == "1" {
				t.Fatalf("NOVADEV_E2E=1 but %s", msg)
			}
			t.Skip(msg)
		}
	}
}

func dockerCLI(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("docker", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("docker %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// container runs a uniquely named detached container, removed (with its
// volumes) when the test ends; on failure its last log lines are printed.
func container(t *testing.T, args ...string) string {
	t.Helper()
	name := fmt.Sprintf("novadev-ph-%s-%d", strings.ToLower(strings.NewReplacer("/", "-", " ", "-").Replace(t.Name())), time.Now().UnixNano())
	if len(name) > 60 {
		name = name[len(name)-60:]
		name = "novadev-ph-" + strings.TrimLeft(name, "-_.")
	}
	id := dockerCLI(t, append([]string{"run", "-d", "--name", name, "--label", storeLabel}, args...)...)
	t.Cleanup(func() {
		if t.Failed() {
			out, _ := exec.Command("docker", "logs", "--tail", "30", id).CombinedOutput()
			t.Logf("logs of %s:\n%s", name, out)
		}
		_ = exec.Command("docker", "rm", "-f", "-v", id).Run()
	})
	return id
}

// hostAddr is where a published container port is reachable on loopback.
func hostAddr(t *testing.T, id, port string) string {
	t.Helper()
	out := dockerCLI(t, "port", id, port)
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "127.0.0.1:") {
			return line
		}
	}
	t.Fatalf("docker port %s %s = %q: no 127.0.0.1 binding", id, port, out)
	return ""
}

func freeLoopbackPort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func until(t *testing.T, timeout time.Duration, what string, f func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not ready after %s: %v", what, timeout, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func ctxT(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// stores are the four real stores a placeholder checks, started once for
// every case of TestIntegrationChecksFailWithBrokenIdentity.
type stores struct {
	pg, redisFull, redisHalf, kafka, clickhouse string // host:port
}

func startStores(t *testing.T) stores {
	t.Helper()
	var s stores
	pg := container(t, "-e", "POSTGRES_PASSWORD=super", "-p", "127.0.0.1::5432", "novadev/postgres:15")
	s.pg = hostAddr(t, pg, "5432")

	redisNode := func() string {
		return container(t, "-p", "127.0.0.1::7001", "novadev/redis:7",
			"--port", "7001", "--protected-mode", "no", "--cluster-enabled", "yes", "--dir", "/tmp", "--cluster-node-timeout", "1000", "--save", "")
	}
	full, half := redisNode(), redisNode()
	s.redisFull, s.redisHalf = hostAddr(t, full, "7001"), hostAddr(t, half, "7001")

	kport := freeLoopbackPort(t)
	container(t, "-p", fmt.Sprintf("127.0.0.1:%d:%d", kport, kport), "novadev/kafka:kfake",
		"--listen", fmt.Sprintf("0.0.0.0:%d", kport), "--advertise", fmt.Sprintf("127.0.0.1:%d", kport), "--data-dir", "")
	s.kafka = fmt.Sprintf("127.0.0.1:%d", kport)

	// ClickHouse with a password-protected user of its own, as issue 11
	// wants for analytics-service
	dir := t.TempDir()
	users := `<?xml version="1.0"?>
<yandex>
  <users>
    <nova_analytics_svc>
      <password>ch-secret</password>
      <networks><ip>::/0</ip></networks>
      <profile>default</profile>
      <quota>default</quota>
    </nova_analytics_svc>
  </users>
</yandex>
`
	if err := os.WriteFile(filepath.Join(dir, "nova.xml"), []byte(users), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	ch := container(t, "-v", dir+"/nova.xml:/etc/clickhouse-server/users.d/nova.xml:ro", "-p", "127.0.0.1::8123", "novadev/clickhouse:18.16")
	s.clickhouse = hostAddr(t, ch, "8123")

	// wait for each and set up the service's identities
	until(t, 60*time.Second, "postgres", func() error {
		conn, err := pgx.Connect(ctxT(t, 5*time.Second), "postgres://postgres:super@"+s.pg+"/postgres?sslmode=disable")
		if err != nil {
			return err
		}
		defer conn.Close(context.Background())
		for _, q := range []string{
			"CREATE ROLE nova_user_svc LOGIN PASSWORD 'user-secret'",
			"CREATE DATABASE nova_user OWNER nova_user_svc",
			"CREATE DATABASE nova_empty OWNER nova_user_svc",
		} {
			if _, err := conn.Exec(ctxT(t, 10*time.Second), q); err != nil {
				return fmt.Errorf("%s: %w", q, err)
			}
		}
		return nil
	})
	svc, err := pgx.Connect(ctxT(t, 10*time.Second), "postgres://nova_user_svc:user-secret@"+s.pg+"/nova_user?sslmode=disable")
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close(context.Background())
	// what the migrations bootstrap leaves behind (sqlx's record table)
	for _, q := range []string{
		`CREATE TABLE _sqlx_migrations (version BIGINT PRIMARY KEY, description TEXT NOT NULL, installed_on TIMESTAMPTZ NOT NULL DEFAULT now(),
			success BOOLEAN NOT NULL, checksum BYTEA NOT NULL, execution_time BIGINT NOT NULL)`,
		`CREATE TABLE user_records (id UUID PRIMARY KEY DEFAULT gen_random_uuid(), payload JSONB NOT NULL DEFAULT '{}')`,
		`INSERT INTO _sqlx_migrations VALUES (20251114000000, 'init', now(), true, '\x00', 1)`,
	} {
		if _, err := svc.Exec(ctxT(t, 10*time.Second), q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}

	until(t, 30*time.Second, "redis", func() error {
		_, err := exec.Command("docker", "exec", full, "redis-cli", "-p", "7001", "CLUSTER", "ADDSLOTSRANGE", "0", "16383").CombinedOutput()
		if err != nil {
			return err
		}
		out, err := exec.Command("docker", "exec", half, "redis-cli", "-p", "7001", "CLUSTER", "ADDSLOTSRANGE", "0", "8191").CombinedOutput()
		if err != nil || !strings.Contains(string(out), "OK") {
			return fmt.Errorf("%v: %s", err, out)
		}
		return nil
	})
	until(t, 30*time.Second, "redis cluster_state:ok", func() error {
		out, err := exec.Command("docker", "exec", full, "redis-cli", "-p", "7001", "CLUSTER", "INFO").CombinedOutput()
		if err != nil || !strings.Contains(string(out), "cluster_state:ok") {
			return fmt.Errorf("%v: %s", err, out)
		}
		return nil
	})

	until(t, 30*time.Second, "kafka", func() error {
		cl, err := kgo.NewClient(kgo.SeedBrokers(s.kafka))
		if err != nil {
			return err
		}
		defer cl.Close()
		_, err = kadm.NewClient(cl).CreateTopic(ctxT(t, 5*time.Second), 3, 1, nil, "feed.post-published")
		return err
	})

	until(t, 60*time.Second, "clickhouse", func() error {
		for _, q := range []string{"CREATE DATABASE IF NOT EXISTS nova_analytics", "CREATE DATABASE IF NOT EXISTS nova_empty",
			"CREATE TABLE IF NOT EXISTS nova_analytics.events (d Date, id String) ENGINE = MergeTree() PARTITION BY toYYYYMM(d) ORDER BY id"} {
			resp, err := http.Post("http://"+s.clickhouse+"/", "text/plain", strings.NewReader(q))
			if err != nil {
				return err
			}
			resp.Body.Close()
			if resp.StatusCode != 200 {
				return fmt.Errorf("%s: HTTP %d", q, resp.StatusCode)
			}
		}
		return nil
	})
	return s
}

// TestIntegrationChecksFailWithBrokenIdentity runs the placeholder's checks,
// built from the service environment as in a container, against real
// PostgreSQL, Redis Cluster nodes, the Kafka-protocol broker and ClickHouse:
// the right identities are SERVING, each broken one is NOT_SERVING with the
// store's own reason.
func TestIntegrationChecksFailWithBrokenIdentity(t *testing.T) {
	needImages(t, "novadev/postgres:15", "novadev/redis:7", "novadev/kafka:kfake", "novadev/clickhouse:18.16")
	s := startStores(t)
	good := map[string]string{
		"NOVA_SERVICE":        "analytics-service",
		"DATABASE_URL":        "postgres://nova_user_svc:user-secret@" + s.pg + "/nova_user?sslmode=disable",
		"REDIS_CLUSTER_NODES": s.redisFull,
		"KAFKA_BROKERS":       s.kafka,
		"KAFKA_TOPICS":        "feed.post-published",
		"CLICKHOUSE_URL":      "http://" + s.clickhouse,
		"CLICKHOUSE_USER":     "nova_analytics_svc",
		"CLICKHOUSE_PASSWORD": "ch-secret",
		"CLICKHOUSE_DATABASE": "nova_analytics",
	}
	round := func(t *testing.T, change map[string]string) Status {
		t.Helper()
		env := map[string]string{}
		for k, v := range good {
			env[k] = v
		}
		for k, v := range change {
			env[k] = v
		}
		c, err := FromEnv(func(k string) string { return env[k] })
		if err != nil {
			t.Fatal(err)
		}
		deps, notes, err := c.Dependencies()
		if err != nil {
			t.Fatal(err)
		}
		f := newFixture(t, deps...)
		f.mon.Timeout = 10 * time.Second
		if len(notes) != 2 { // elasticsearch and neo4j: absent
			t.Errorf("notes = %q", notes)
		}
		return f.mon.Round(ctxT(t, 30*time.Second))
	}

	if st := round(t, nil); !st.Serving {
		t.Fatalf("with every identity right: %s", st)
	}
	for _, tc := range []struct {
		name   string
		change map[string]string
		dep    string
		reason string
	}{
		{"postgres wrong password", map[string]string{"DATABASE_URL": "postgres://nova_user_svc:wrong@" + s.pg + "/nova_user?sslmode=disable"},
			"postgres", `password authentication failed for user "nova_user_svc"`},
		{"postgres wrong database", map[string]string{"DATABASE_URL": "postgres://nova_user_svc:user-secret@" + s.pg + "/nova_nope?sslmode=disable"},
			"postgres", `database "nova_nope" does not exist`},
		{"postgres database without migrations", map[string]string{"DATABASE_URL": "postgres://nova_user_svc:user-secret@" + s.pg + "/nova_empty?sslmode=disable"},
			"postgres", "database nova_empty has no table that nova_user_svc can read (no _sqlx_migrations table: the migrations bootstrap has not run)"},
		{"redis node missing slots", map[string]string{"REDIS_CLUSTER_NODES": s.redisFull + "," + s.redisHalf},
			"redis", s.redisHalf + ": CLUSTER SLOTS leaves slots 8192-16383 unassigned (cluster_state:fail)"},
		{"kafka missing topic", map[string]string{"KAFKA_TOPICS": "feed.post-published,analytics.events"},
			"kafka", "topics missing: analytics.events"},
		{"clickhouse wrong password", map[string]string{"CLICKHOUSE_PASSWORD": "wrong"},
			"clickhouse", "query as user nova_analytics_svc: HTTP 401: Code: 193, e.displayText() = DB::Exception: Wrong password for user nova_analytics_svc"},
		{"clickhouse wrong database", map[string]string{"CLICKHOUSE_DATABASE": "nova_nope"},
			"clickhouse", "Database nova_nope doesn't exist"},
		{"clickhouse database without tables", map[string]string{"CLICKHOUSE_DATABASE": "nova_empty"},
			"clickhouse", "database nova_empty has no tables"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := round(t, tc.change)
			if st.Serving {
				t.Fatalf("SERVING with %v", tc.change)
			}
			for _, r := range st.Results {
				if r.Name != tc.dep && !r.OK {
					t.Errorf("%s failing too: %s", r.Name, r.Error)
				}
				if r.Name == tc.dep {
					t.Logf("%s: %s", r.Name, r.Error)
				}
				if r.Name == tc.dep && (r.OK || !strings.Contains(r.Error, tc.reason)) {
					t.Errorf("%s: ok=%v error %q, want it to contain %q", r.Name, r.OK, r.Error, tc.reason)
				}
			}
			if strings.Contains(st.String(), "wrong") && strings.Contains(tc.name, "password") {
				t.Errorf("the status line shows the password: %s", st)
			}
		})
	}

	t.Run("postgres dirty migration", func(t *testing.T) {
		svc, err := pgx.Connect(ctxT(t, 10*time.Second), good["DATABASE_URL"])
		if err != nil {
			t.Fatal(err)
		}
		defer svc.Close(context.Background())
		if _, err := svc.Exec(ctxT(t, 10*time.Second), `INSERT INTO _sqlx_migrations VALUES (20251201000000, 'half', now(), false, '\x00', 1)`); err != nil {
			t.Fatal(err)
		}
		defer svc.Exec(context.Background(), `DELETE FROM _sqlx_migrations WHERE NOT success`)
		st := round(t, nil)
		if st.Serving || !strings.Contains(st.String(), "postgres (required) failing: database nova_user: migration [20251201000000] is recorded as failed (success = false)") {
			t.Errorf("dirty migration: %s", st)
		}
	})

	// the whole placeholder: /health carries the reason of NOT_SERVING
	t.Run("health endpoint", func(t *testing.T) {
		env := map[string]string{}
		for k, v := range good {
			env[k] = v
		}
		env["CLICKHOUSE_PASSWORD"] = "wrong"
		c, err := FromEnv(func(k string) string { return env[k] })
		if err != nil {
			t.Fatal(err)
		}
		deps, notes, _ := c.Dependencies()
		r := start(t, &Server{Service: c.Service, Deps: deps, Notes: notes, Tune: func(m *Monitor) {
			m.FastInterval, m.Interval, m.Timeout = 100*time.Millisecond, 100*time.Millisecond, 10*time.Second
		}})
		var body struct {
			Service string
			Status
		}
		until(t, 30*time.Second, "/health with results", func() error {
			resp, err := http.Get("http://" + r.metricsAddr + "/health")
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
				return err
			}
			if resp.StatusCode != http.StatusServiceUnavailable || len(body.Results) == 0 {
				return fmt.Errorf("HTTP %d, %d results", resp.StatusCode, len(body.Results))
			}
			return nil
		})
		for _, res := range body.Results {
			if res.OK != (res.Name != "clickhouse") {
				t.Errorf("/health: %+v", res)
			}
			if res.Name == "clickhouse" && !strings.Contains(res.Error, "query as user nova_analytics_svc: HTTP") {
				t.Errorf("/health clickhouse reason = %q", res.Error)
			}
		}
	})
}
