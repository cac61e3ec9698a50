package bootstrap

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/novadev/novadev/internal/catalog"
	"github.com/novadev/novadev/internal/contract"
)

// envInNetwork marks the copy of this test binary that runs inside a
// container on the stack's network.
const envInNetwork = "NOVADEV_BOOTSTRAP_IN_NETWORK"

// runAll runs every step in order and returns each step's log lines.
func runAll(t *testing.T, c *catalog.Catalog, tg Targets) map[string]logLines {
	t.Helper()
	out := map[string]logLines{}
	for _, s := range All {
		var l logLines
		start := time.Now()
		require.NoError(t, s.Run(ctxFor(t, 2*time.Minute), c, tg, l.log), s.Name())
		t.Logf("%-18s %6s  %d lines", s.Name(), time.Since(start).Round(time.Millisecond), len(l))
		out[s.Name()] = l
	}
	return out
}

// requireNothingChanged checks a second run's logs: one line per step
// saying nothing changed.
func requireNothingChanged(t *testing.T, logs map[string]logLines) {
	t.Helper()
	require.Equal(t, logLines{"15 databases and users already as the catalog says; nothing changed"}, logs[catalog.StepPostgresInit])
	require.Len(t, logs[catalog.StepMigrations], 15)
	for _, l := range logs[catalog.StepMigrations] {
		require.Contains(t, l, "migrations already applied")
	}
	require.Equal(t, logLines{"cluster already ok: 3 masters, all 16384 slots assigned; nothing changed"}, logs[catalog.StepRedisClusterInit])
	require.Equal(t, logLines{"9 topics already as the catalog says; nothing changed"}, logs[catalog.StepKafkaTopics])
	require.Equal(t, logLines{"1 databases and 5 tables already exist; nothing changed"}, logs[catalog.StepClickHouseInit])
}

// TestInNetworkAllSteps is the half of TestIntegrationAllStepsInNetwork that
// runs inside a container, configured only by environment variables as
// `novadev bootstrap` is.
func TestInNetworkAllSteps(t *testing.T) {
	if os.Getenv(envInNetwork) != "1" {
		t.Skip("runs inside a container started by TestIntegrationAllStepsInNetwork")
	}
	tg, err := TargetsFromEnv(os.Getenv)
	require.NoError(t, err)
	c := novaCatalog(t, "local")
	first := runAll(t, c, tg)
	require.Len(t, first[catalog.StepRedisClusterInit], 6)
	require.Len(t, first[catalog.StepKafkaTopics], 9)
	requireNothingChanged(t, runAll(t, c, tg))
}

// TestIntegrationAllStepsInNetwork starts every store on one network under
// the names the stack uses, runs all steps inside that network from a
// container (this package's test binary, static), then runs them again from
// the host through published ports and a dial remap: nothing changes, so both
// views agree.
func TestIntegrationAllStepsInNetwork(t *testing.T) {
	needEngine(t, "novadev/postgres:15", "novadev/redis:7", "novadev/kafka:kfake", clickHouseImage(), "novadev/debian-base:bookworm")
	c := novaCatalog(t, "local")
	net := network(t)
	secrets := map[string]string{catalog.SuperuserPasswordVar: "super-pw"}
	for _, d := range postgresDatabases(c) {
		secrets[catalog.PasswordVar(d.User)] = "pw-" + d.User
	}
	for _, cr := range contract.ClickHouseCredentials(c) {
		secrets[cr.Key] = "pw-" + strings.ToLower(cr.Key)
	}
	remap := map[string]string{}
	publish := func(name string, port int) []string {
		host := freePort(t)
		remap[fmt.Sprintf("%s:%d", name, port)] = fmt.Sprintf("127.0.0.1:%d", host)
		return []string{"--network", net, "--network-alias", name, "-p", fmt.Sprintf("127.0.0.1:%d:%d", host, port)}
	}
	run(t, append(publish("postgres", 5432), "-e", "POSTGRES_PASSWORD="+secrets[catalog.SuperuserPasswordVar], "novadev/postgres:15")...)
	var nodes []string
	for i := 1; i <= 3; i++ {
		name, port := fmt.Sprintf("redis-%d", i), 7000+i
		run(t, append(publish(name, port), "novadev/redis:7", "--port", fmt.Sprint(port), "--cluster-enabled", "yes",
			"--cluster-node-timeout", "1000", "--cluster-announce-hostname", name, "--cluster-preferred-endpoint-type", "hostname",
			"--protected-mode", "no")...)
		nodes = append(nodes, fmt.Sprintf("%s:%d", name, port))
	}
	run(t, append(publish("kafka", 9092), "novadev/kafka:kfake")...)
	chArgs := publish("clickhouse", 8123)
	for k, v := range contract.StoreEnv(c, c.Stores["clickhouse"]).Resolve(func(cr contract.Credential) string { return secrets[cr.Key] }) {
		chArgs = append(chArgs, "-e", k+"="+v)
	}
	run(t, append(chArgs, clickHouseImage())...)

	tg := Targets{Postgres: "postgres:5432", RedisNodes: nodes, KafkaBrokers: []string{"kafka:9092"},
		ClickHouseURL: "http://clickhouse:8123", Dial: RemapDialer(remap), Password: func(v string) string { return secrets[v] }}
	eventually(t, 90*time.Second, "postgres", func() error {
		conn, err := pgConnect(ctxFor(t, 5*time.Second), tg, PostgresSuperuser, secrets[catalog.SuperuserPasswordVar], "postgres")
		if err == nil {
			conn.Close(ctxFor(t, time.Second))
		}
		return err
	})

	// the test binary, static, run in a plain Debian container on the network
	bin := filepath.Join(t.TempDir(), "bootstrap.test")
	build := exec.Command("go", "test", "-c", "-o", bin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	out, err := build.CombinedOutput()
	require.NoError(t, err, "%s", out)
	repo, err := filepath.Abs(filepath.Join("..", ".."))
	require.NoError(t, err)
	args := []string{"run", "--rm", "--label", testLabel, "--network", net, "-v", repo + ":/src:ro", "-v", bin + ":/bootstrap.test:ro",
		"-w", "/src/internal/bootstrap", "-e", envInNetwork + "=1",
		"-e", EnvPostgres + "=postgres:5432", "-e", EnvRedisNodes + "=" + strings.Join(nodes, ","),
		"-e", EnvKafkaBrokers + "=kafka:9092", "-e", EnvClickHouseURL + "=http://clickhouse:8123"}
	for k, v := range secrets {
		args = append(args, "-e", k+"="+v)
	}
	args = append(args, "novadev/debian-base:bookworm", "/bootstrap.test", "-test.run", "^TestInNetworkAllSteps$", "-test.v", "-test.count=1")
	out, err = exec.Command("docker", args...).CombinedOutput()
	t.Logf("inside the network:\n%s", out)
	require.NoError(t, err)
	require.Contains(t, string(out), "--- PASS: TestInNetworkAllSteps")

	t.Log("from the host:")
	requireNothingChanged(t, runAll(t, c, tg))
}
