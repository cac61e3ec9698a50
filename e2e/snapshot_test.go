package e2e

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/novadev/novadev/internal/backend/docker"
	"github.com/novadev/novadev/internal/backend/docker/dockertest"
	"github.com/novadev/novadev/internal/cli"
)

// snapshotOnly cuts the ci catalog to two services that need every store
// (PostgreSQL, the Redis Cluster, Kafka, ClickHouse) and so all six
// bootstraps.
const snapshotOnly = "analytics-service,notification-service"

// summaryOf returns up -o json's final summary line.
func summaryOf(t *testing.T, out string) (fromSnapshot string, nodes map[string]map[string]any) {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	var s struct {
		Type         string           `json:"type"`
		FromSnapshot string           `json:"fromSnapshot"`
		Nodes        []map[string]any `json:"nodes"`
	}
	require.NoError(t, json.Unmarshal([]byte(lines[len(lines)-1]), &s), lines[len(lines)-1])
	require.Equal(t, "summary", s.Type)
	nodes = map[string]map[string]any{}
	for _, n := range s.Nodes {
		nodes[n["name"].(string)] = n
	}
	return s.FromSnapshot, nodes
}

func instanceEnv(t *testing.T, stateDir, instance, service string) map[string]string {
	t.Helper()
	out, errs, code := instanceRun(t, stateDir, "--instance", instance, "env", service, "--format", "json")
	require.Equal(t, 0, code, errs)
	var env map[string]string
	require.NoError(t, json.Unmarshal([]byte(out), &env), out)
	return env
}

func redisOf(env map[string]string) *redis.ClusterClient {
	return redis.NewClusterClient(&redis.ClusterOptions{Addrs: strings.Split(env["REDIS_CLUSTER_NODES"], ","), Dialer: hostDialer(env["NOVA_HOST_MAP"])})
}

// Issue 9 item 6: snapshot save of a bootstrapped instance (snap-a), a new
// instance (snap-b) up from it with the bootstraps the snapshot vouches for
// skipped and the data there (a row written after the migrations, a Redis
// key in a cluster that is ok, the Kafka topics, the service users logging
// in with snap-b's passwords: verify passes); a changed migration refuses
// the snapshot, naming the file, and creates nothing; an unknown name lists
// the snapshots that exist. The source instance keeps running throughout.
func TestIntegrationSnapshot(t *testing.T) {
	d := dockertest.New(t)
	needImages(t, d)
	if _, err := d.ImageID(context.Background(), docker.CopyImage); err != nil {
		if os.Getenv("NOVADEV_E2E") == "1" {
			t.Fatalf("image %s missing: build the offline set with scripts/images/build.sh", docker.CopyImage)
		}
		t.Skipf("image %s missing: build the offline set with scripts/images/build.sh", docker.CopyImage)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	stateDir := t.TempDir()
	const snap = "snap-e2e"
	for _, n := range []string{"snap-a", "snap-b", "snap-c"} {
		t.Cleanup(func() {
			if _, errs, code := instanceRun(t, stateDir, "--instance", n, "down", "--volumes"); code != 0 {
				t.Logf("cleanup down %s: %s", n, errs)
			}
		})
	}
	t.Cleanup(func() { instanceRun(t, stateDir, "snapshot", "rm", snap) })
	instanceRun(t, stateDir, "snapshot", "rm", snap) // a leftover of an interrupted run

	t0 := time.Now()
	_, errs, code := instanceRun(t, stateDir, "--instance", "snap-a", "up", "--only", snapshotOnly, "--ttl", "1h")
	require.Equal(t, 0, code, errs)
	t.Logf("snap-a from scratch in %s", time.Since(t0).Round(100*time.Millisecond))

	// data written after the bootstraps: only a copy can carry it over
	envA := instanceEnv(t, stateDir, "snap-a", "notification-service")
	pg, err := pgx.Connect(ctx, envA["DATABASE_URL"])
	require.NoError(t, err)
	_, err = pg.Exec(ctx, `INSERT INTO notification_records (owner_id, payload) VALUES (gen_random_uuid(), '{"from": "snap-a"}')`)
	require.NoError(t, err)
	pg.Close(ctx)
	rc := redisOf(envA)
	require.NoError(t, rc.Set(ctx, "snapshot:probe", "from snap-a", 0).Err())
	rc.Close()

	before, err := d.Observe(ctx, "nova-ci-snap-a")
	require.NoError(t, err)
	t0 = time.Now()
	out, errs, code := instanceRun(t, stateDir, "--instance", "snap-a", "snapshot", "save", snap, "-o", "json")
	require.Equal(t, 0, code, errs)
	var saved cli.Snapshot
	require.NoError(t, json.Unmarshal([]byte(out), &saved), out)
	t.Logf("saved %d bytes in %s", saved.Size, time.Since(t0).Round(100*time.Millisecond))
	require.ElementsMatch(t, []string{"clickhouse", "kafka", "postgres", "redis"}, saved.Stores)
	require.ElementsMatch(t, []string{"clickhouse-init", "kafka-topics", "migrations", "postgres-init", "proto-validate", "redis-cluster-init"}, saved.Bootstraps)
	require.Greater(t, saved.Size, int64(1<<20))

	out, errs, code = instanceRun(t, stateDir, "snapshot", "list", "-o", "json")
	require.Equal(t, 0, code, errs)
	var list []cli.Snapshot
	require.NoError(t, json.Unmarshal([]byte(out), &list), out)
	require.Contains(t, names(list), snap)

	after, err := d.Observe(ctx, "nova-ci-snap-a")
	require.NoError(t, err)
	require.Equal(t, ids(before), ids(after), "paused, not restarted: the same containers, running")
	out, _, code = instanceRun(t, stateDir, "--instance", "snap-a", "status", "-o", "json")
	require.Equal(t, 0, code, out)
	require.NotContains(t, out, `"paused"`, "the stores are resumed after the copy")

	t0 = time.Now()
	out, errs, code = instanceRun(t, stateDir, "--instance", "snap-b", "up", "--only", snapshotOnly, "--ttl", "1h", "--from-snapshot", snap, "-o", "json")
	require.Equal(t, 0, code, "%s\n%s", errs, out)
	t.Logf("snap-b from the snapshot in %s", time.Since(t0).Round(100*time.Millisecond))
	from, nodes := summaryOf(t, out)
	require.Equal(t, snap, from)
	for _, b := range []string{"migrations", "kafka-topics", "clickhouse-init", "proto-validate"} {
		require.Equal(t, "unchanged", nodes[b]["status"], "%s is skipped: %v", b, nodes[b])
		require.Equal(t, "from snapshot "+snap, nodes[b]["detail"], b)
	}
	require.Equal(t, "ready", nodes["postgres-init"]["status"], "postgres-init runs on every up (it sets snap-b's passwords)")
	require.Equal(t, "ready", nodes["redis-cluster-init"]["status"], "redis-cluster-init meets the nodes at their new addresses")
	require.NotContains(t, out, "assigned slots", "the slots came with the snapshot")
	for _, l := range strings.Split(out, "\n") {
		for _, b := range []string{"migrations", "kafka-topics", "clickhouse-init"} {
			require.False(t, strings.Contains(l, `"type":"log"`) && strings.Contains(l, `"node":"`+b+`"`), "%s ran: %s", b, l)
		}
	}

	envB := instanceEnv(t, stateDir, "snap-b", "notification-service")
	require.NotEqual(t, envA["DATABASE_URL"], envB["DATABASE_URL"], "snap-b has its own port block")
	pg, err = pgx.Connect(ctx, envB["DATABASE_URL"])
	require.NoError(t, err, "notification-service's user logs in to snap-b with the credentials snap-b was given")
	var rows int
	require.NoError(t, pg.QueryRow(ctx, `SELECT count(*) FROM notification_records WHERE payload->>'from' = 'snap-a'`).Scan(&rows))
	require.Equal(t, 1, rows, "the row written in snap-a is in snap-b")
	var migrated int
	require.NoError(t, pg.QueryRow(ctx, `SELECT count(*) FROM _sqlx_migrations`).Scan(&migrated))
	require.Positive(t, migrated)
	pg.Close(ctx)
	rc = redisOf(envB)
	v, err := rc.Get(ctx, "snapshot:probe").Result()
	rc.Close()
	require.NoError(t, err)
	require.Equal(t, "from snap-a", v)

	out, errs, code = instanceRun(t, stateDir, "--instance", "snap-b", "verify", "--only", snapshotOnly, "-o", "json")
	require.Equal(t, 0, code, "verify on snap-b: %s\n%s", out, errs)

	// a second up of snap-b keeps everything: the records were written
	// against snap-b's own units
	out, errs, code = instanceRun(t, stateDir, "--instance", "snap-b", "up", "--only", snapshotOnly, "-o", "json")
	require.Equal(t, 0, code, errs)
	_, nodes = summaryOf(t, out)
	for _, b := range []string{"migrations", "kafka-topics", "clickhouse-init", "redis-cluster-init", "proto-validate"} {
		require.Equal(t, "unchanged", nodes[b]["status"], b)
	}

	// snap-a still answers as before
	pg, err = pgx.Connect(ctx, envA["DATABASE_URL"])
	require.NoError(t, err)
	require.NoError(t, pg.Ping(ctx))
	pg.Close(ctx)

	// a changed migration refuses the snapshot and creates nothing
	root := t.TempDir()
	require.NoError(t, os.CopyFS(filepath.Join(root, "envs"), os.DirFS(filepath.Join(repoRoot(t), "envs"))))
	require.NoError(t, os.MkdirAll(filepath.Join(root, "compose"), 0o755))
	creds, err := os.ReadFile(filepath.Join(repoRoot(t), "compose", ".env"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(root, "compose", ".env"), creds, 0o600))
	mig := filepath.Join(root, "envs", "migrations", "notification-service", "20251114000000_init.sql")
	f, err := os.OpenFile(mig, os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.WriteString("ALTER TABLE notification_records ADD COLUMN IF NOT EXISTS read_at TIMESTAMPTZ;\n")
	require.NoError(t, err)
	require.NoError(t, f.Close())
	_, errs, code = instanceRun(t, stateDir, "--catalog", filepath.Join(root, "envs", "nova.yaml"), "--instance", "snap-c", "up", "--only", snapshotOnly, "--from-snapshot", snap)
	require.Equal(t, 1, code, errs)
	require.Contains(t, errs, "snapshot "+snap+" is refused")
	require.Contains(t, errs, "migrations/notification-service/20251114000000_init.sql changed")
	require.Empty(t, running(t, "nova-ci-snap-c"), "a refused snapshot starts nothing")
	obs, err := d.Observe(ctx, "nova-ci-snap-c")
	require.NoError(t, err)
	for _, v := range obs.Volumes {
		require.Equal(t, "nova-ci-snap-c_novadev-instance", v.Name, "only the new instance's record exists")
	}

	_, errs, code = instanceRun(t, stateDir, "--instance", "snap-c", "up", "--from-snapshot", "snap-none")
	require.Equal(t, 2, code, errs)
	require.Contains(t, errs, `no snapshot named "snap-none"; the snapshots on this engine: `)
	require.Contains(t, errs, snap+" (ci, from nova-ci-snap-a)")

	_, errs, code = instanceRun(t, stateDir, "snapshot", "rm", snap)
	require.Equal(t, 0, code, errs)
	vols, err := d.VolumesWithLabel(ctx, "dev.novadev.snapshot")
	require.NoError(t, err)
	for _, v := range vols {
		require.NotEqual(t, snap, v.Labels["dev.novadev.snapshot"], "rm removed %s", v.Name)
	}
}

func names(l []cli.Snapshot) []string {
	var out []string
	for _, s := range l {
		out = append(out, s.Name)
	}
	return out
}
