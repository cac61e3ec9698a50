package bootstrap

import (
	"context"
	"flag"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/novadev/novadev/internal/catalog"
	"github.com/novadev/novadev/internal/contract"
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

// TestTargetsFromTheContract: every bootstrap's rendered environment, on
// every target (contract.Bootstrap, what the compose one-shots and kind Jobs
// are rendered from), gives TargetsFromEnv its store's address and, for the
// PostgreSQL steps, every password; the service variables are not read (one
// set of names per purpose).
func TestTargetsFromTheContract(t *testing.T) {
	c, err := catalog.Load("../../envs/nova.yaml", catalog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	dummy := func(cr contract.Credential) string { return "dummy-" + cr.Key }
	for _, target := range contract.Targets {
		for _, bs := range c.Bootstraps {
			env := contract.Bootstrap(c, target, bs).Env.Resolve(dummy)
			tg, err := TargetsFromEnv(func(k string) string { return env[k] })
			if err != nil {
				t.Fatalf("%s %s: %v", target, bs.Name, err)
			}
			var want Targets
			if st := c.Stores[bs.Store.Value]; st != nil {
				addr := contract.Address(target, st)
				switch st.Kind {
				case catalog.StorePostgres:
					want.Postgres = addr
				case catalog.StoreRedisCluster:
					want.RedisNodes = strings.Split(addr, ",")
				case catalog.StoreKafka:
					want.KafkaBrokers = strings.Split(addr, ",")
				case catalog.StoreClickHouse:
					want.ClickHouseURL = "http://" + addr
				}
			}
			clickhouse := contract.ClickHouseCredentials(c)
			for _, cr := range contract.Credentials(c) {
				got := tg.Password(cr.Key)
				pg := (bs.Step == catalog.StepPostgresInit || bs.Step == catalog.StepMigrations) && !slices.Contains(clickhouse, cr)
				ch := bs.Step == catalog.StepClickHouseInit && slices.Contains(clickhouse, cr)
				if pg || ch {
					if got != "dummy-"+cr.Key {
						t.Errorf("%s %s: password %s = %q", target, bs.Name, cr.Key, got)
					}
				} else if got != "" {
					t.Errorf("%s %s: only the PostgreSQL steps get PostgreSQL passwords and clickhouse-init ClickHouse ones, got %s", target, bs.Name, cr.Key)
				}
			}
			tg.Password = nil
			if !reflect.DeepEqual(tg, want) {
				t.Errorf("%s %s: targets %+v, want %+v", target, bs.Name, tg, want)
			}
		}
	}
	// a service's variables say nothing to a bootstrap
	tg, err := TargetsFromEnv(func(k string) string {
		return map[string]string{contract.EnvDatabaseURL: "postgres://u:p@db:5432/x", contract.EnvKafkaBrokers: "kafka:9092"}[k]
	})
	if err != nil || tg.Postgres != "" || tg.KafkaBrokers != nil {
		t.Errorf("service variables read as bootstrap targets: %+v, %v", tg, err)
	}
}
