package bootstrap

import (
	"context"
	"flag"
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/novadev/novadev/internal/catalog"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata")

// novaCatalog loads the repository's Nova catalog with an environment.
func novaCatalog(t *testing.T, env string) *catalog.Catalog {
	t.Helper()
	c, err := catalog.Load(filepath.Join("..", "..", "envs", "nova.yaml"), catalog.Options{Env: env})
	require.NoError(t, err)
	return c
}

// golden compares got with testdata/name, rewriting it under -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		require.NoError(t, os.WriteFile(path, got, 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run with -update to create %s", path)
	require.Equal(t, string(want), string(got))
}

func TestLookupFollowsCatalogSteps(t *testing.T) {
	require.Len(t, All, len(catalog.Steps))
	for i, name := range catalog.Steps {
		require.Equal(t, name, All[i].Name())
		s, ok := Lookup(name)
		require.True(t, ok)
		require.Equal(t, name, s.Name())
	}
	_, ok := Lookup("nope")
	require.False(t, ok)
}

func TestTargetsFromEnv(t *testing.T) {
	env := map[string]string{
		EnvPostgres:              "postgres:5432",
		EnvRedisNodes:            "redis-1:7001, redis-2:7002,redis-3:7003",
		EnvKafkaBrokers:          "kafka:9092",
		EnvClickHouseURL:         "http://clickhouse:8123",
		EnvMigrationsDir:         "/migrations",
		catalog.PasswordVar("x"): "pw",
	}
	tg, err := TargetsFromEnv(func(k string) string { return env[k] })
	require.NoError(t, err)
	require.Equal(t, "postgres:5432", tg.Postgres)
	require.Equal(t, []string{"redis-1:7001", "redis-2:7002", "redis-3:7003"}, tg.RedisNodes)
	require.Equal(t, []string{"kafka:9092"}, tg.KafkaBrokers)
	require.Equal(t, "http://clickhouse:8123", tg.ClickHouseURL)
	require.Equal(t, "/migrations", tg.MigrationsDir)
	require.Nil(t, tg.Dial)
	require.Equal(t, "pw", tg.Password("X_PASSWORD"))

	for _, tc := range []struct{ key, value, want string }{
		{EnvPostgres, "postgres", "want host:port"},
		{EnvRedisNodes, "redis-1:7001,redis-2", "want host:port"},
		{EnvDialMap, "kafka:9092", "want from=to"},
		{EnvDialMap, "kafka:9092=127.0.0.1", "not host:port"},
	} {
		_, err := TargetsFromEnv(func(k string) string {
			if k == tc.key {
				return tc.value
			}
			return ""
		})
		require.ErrorContains(t, err, tc.want, tc.key+"="+tc.value)
	}
}

func TestRemapDialer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	go func() {
		if c, err := ln.Accept(); err == nil {
			c.Write([]byte("hi"))
			c.Close()
		}
	}()
	m, err := ParseDialMap("redis-2:7002=" + ln.Addr().String())
	require.NoError(t, err)
	conn, err := RemapDialer(m)(context.Background(), "tcp", "redis-2:7002")
	require.NoError(t, err)
	defer conn.Close()
	buf := make([]byte, 2)
	_, err = conn.Read(buf)
	require.NoError(t, err)
	require.Equal(t, "hi", string(buf))
}

// The kind Jobs set the service contract's variables only.
func TestTargetsFromContractEnv(t *testing.T) {
	env := map[string]string{
		"DATABASE_URL":        "postgres://postgres:secret@postgres:5432/postgres?sslmode=disable",
		"REDIS_CLUSTER_NODES": "redis-0.redis:7001,redis-1.redis:7001,redis-2.redis:7001",
		"KAFKA_BROKERS":       "kafka:9092",
		"CLICKHOUSE_URL":      "http://clickhouse:8123",
	}
	tg, err := TargetsFromEnv(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if tg.Postgres != "postgres:5432" || len(tg.RedisNodes) != 3 || tg.RedisNodes[2] != "redis-2.redis:7001" ||
		len(tg.KafkaBrokers) != 1 || tg.KafkaBrokers[0] != "kafka:9092" || tg.ClickHouseURL != "http://clickhouse:8123" {
		t.Fatalf("contract variables not read: %+v", tg)
	}
	env["DATABASE_URL"] = "postgres://u:p@db.internal/x"
	env[EnvKafkaBrokers] = "broker:19092"
	tg, err = TargetsFromEnv(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if tg.Postgres != "db.internal:5432" {
		t.Errorf("default port: got %q", tg.Postgres)
	}
	if tg.KafkaBrokers[0] != "broker:19092" {
		t.Errorf("NOVA_* wins over the contract variable: got %v", tg.KafkaBrokers)
	}
}
