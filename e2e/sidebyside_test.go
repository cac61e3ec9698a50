package e2e

import (
	"bytes"
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/novadev/novadev/internal/app"
	"github.com/novadev/novadev/internal/backend/docker/dockertest"
	"github.com/novadev/novadev/internal/catalog"
	"github.com/novadev/novadev/internal/cli"
	"github.com/novadev/novadev/internal/probe"
)

// novadevEnv runs novadev against envs/nova.yaml with the given environment
// (a name or an overlay file).
func novadevEnv(t *testing.T, env string, args ...string) (string, int) {
	t.Helper()
	var out bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	code := app.Run(ctx, cli.Streams{In: strings.NewReader(""), Out: &out, Err: &out, Getenv: func(k string) string {
		if k == "CI" {
			return "true"
		}
		return os.Getenv(k)
	}}, append([]string{"--catalog", filepath.Join(repoRoot(t), "envs", "nova.yaml"), "--env", env}, args...))
	return out.String(), code
}

// sideEnv writes an environment overlay of its own (project, port block) for
// this test, so it never touches a developer's nova-local or the ci stack.
func sideEnv(t *testing.T, name string, portBase int) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name+".yaml")
	require.NoError(t, os.WriteFile(path, []byte(`apiVersion: novadev/v1alpha1
kind: Environment
metadata: {name: `+name+`}
project: nova-`+name+`
hostPortBase: `+strconv.Itoa(portBase)+`
images:
  placeholder: novadev/placeholder:dev
  stores: {postgres: "novadev/postgres:15", redis: "novadev/redis:7", kafka: "novadev/kafka:kfake", clickhouse: "novadev/clickhouse:18.16"}
`), 0o644))
	return path
}

// Two environments of one catalog run side by side on one engine: each has
// its own project, network, volumes and port block. A taken host port is
// found before anything starts.
func TestIntegrationTwoEnvironments(t *testing.T) {
	d := dockertest.New(t)
	ctx := context.Background()
	if _, err := d.ImageID(ctx, "novadev/placeholder:dev"); err != nil {
		if os.Getenv("NOVADEV_E2E") == "1" {
			t.Fatal("offline images missing: run scripts/images/build.sh")
		}
		t.Skip("offline images missing: run scripts/images/build.sh")
	}
	a, b := sideEnv(t, "e2e-a", 24000), sideEnv(t, "e2e-b", 25000)
	for _, env := range []string{a, b} {
		t.Cleanup(func() {
			if out, code := novadevEnv(t, env, "down", "--volumes"); code != 0 {
				t.Logf("cleanup down %s: %s", env, out)
			}
		})
	}

	// a taken host port of b's block: refused before anything is created
	cb, err := catalog.Load(filepath.Join(repoRoot(t), "envs", "nova.yaml"), catalog.Options{Env: b})
	require.NoError(t, err)
	pgPort := cb.Stores["postgres"].Host
	ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(pgPort))
	require.NoError(t, err)
	out, code := novadevEnv(t, b, "up", "--only", "user-service")
	ln.Close()
	require.NotEqual(t, 0, code, out)
	require.Contains(t, out, strconv.Itoa(pgPort), "the error names the taken port")
	obs, err := d.Observe(ctx, "nova-e2e-b")
	require.NoError(t, err)
	require.Empty(t, obs.Containers, "nothing started when a port is taken")

	// both environments up at once, each with its own copy of the subgraph
	type result struct {
		out  string
		code int
	}
	done := make(chan result, 2)
	for _, env := range []string{a, b} {
		go func() {
			out, code := novadevEnv(t, env, "up", "--only", "user-service")
			done <- result{out, code}
		}()
	}
	for range 2 {
		r := <-done
		require.Equal(t, 0, r.code, r.out)
	}
	for _, env := range []string{a, b} {
		c, err := catalog.Load(filepath.Join(repoRoot(t), "envs", "nova.yaml"), catalog.Options{Env: env})
		require.NoError(t, err)
		var grpcHost int
		for _, p := range c.Services["user-service"].Ports {
			if p.Name == "grpc" {
				grpcHost = p.Host
			}
		}
		require.NoError(t, probe.Poll(ctx, probe.Real, probe.DefaultBackoff, 30*time.Second,
			probe.GRPC{Addr: "127.0.0.1:" + strconv.Itoa(grpcHost)}), "%s: user-service SERVING on its own port", env)
		obs, err := d.Observe(ctx, c.Env.Project)
		require.NoError(t, err)
		require.Len(t, obs.Networks, 1)
		require.Equal(t, c.Env.Project, obs.Networks[0].Name)
		for _, ctr := range obs.Containers {
			require.True(t, strings.HasPrefix(ctr.Name, c.Env.Project+"-"), "%s belongs to %s", ctr.Name, c.Env.Project)
		}
		for _, v := range obs.Volumes {
			require.True(t, strings.HasPrefix(v.Name, c.Env.Project+"_"), "%s belongs to %s", v.Name, c.Env.Project)
		}
		names := map[string]bool{}
		for _, ctr := range obs.Containers {
			names[ctr.Node] = true
		}
		require.True(t, names["user-service"] && names["postgres"], "the --only subgraph runs: %v", names)
		require.False(t, names["feed-service"], "--only user-service starts nothing it does not need")
		composePS(t, c.Env.Project, []string{"postgres", "user-service"})
	}
	for _, env := range []string{a, b} {
		out, code := novadevEnv(t, env, "down", "--volumes")
		require.Equal(t, 0, code, out)
	}
	for _, p := range []string{"nova-e2e-a", "nova-e2e-b"} {
		obs, err := d.Observe(ctx, p)
		require.NoError(t, err)
		require.True(t, obs.Empty(), "%s: nothing left", p)
	}
}

// down without --volumes keeps data; the next up recreates the containers
// (new IPs) and the Redis Cluster, whose nodes.conf survived in the volumes
// with the old addresses, must come back ok with its slots.
func TestIntegrationDownUpKeepsRedisCluster(t *testing.T) {
	d := dockertest.New(t)
	ctx := context.Background()
	if _, err := d.ImageID(ctx, "novadev/redis:7"); err != nil {
		if os.Getenv("NOVADEV_E2E") == "1" {
			t.Fatal("offline images missing: run scripts/images/build.sh")
		}
		t.Skip("offline images missing: run scripts/images/build.sh")
	}
	env := sideEnv(t, "e2e-r", 26000)
	t.Cleanup(func() { novadevEnv(t, env, "down", "--volumes") })
	out, code := novadevEnv(t, env, "up", "--only", "notification-service")
	require.Equal(t, 0, code, out)
	out, code = novadevEnv(t, env, "down")
	require.Equal(t, 0, code, out)
	obs, err := d.Observe(ctx, "nova-e2e-r")
	require.NoError(t, err)
	require.Empty(t, obs.Containers)
	require.NotEmpty(t, obs.Volumes, "a plain down keeps the data volumes")
	out, code = novadevEnv(t, env, "up", "--only", "notification-service")
	require.Equal(t, 0, code, out)
	c, err := catalog.Load(filepath.Join(repoRoot(t), "envs", "nova.yaml"), catalog.Options{Env: env})
	require.NoError(t, err)
	first := c.Stores["redis"].Host
	var addrs []string
	for i := 0; i < 3; i++ {
		addrs = append(addrs, "127.0.0.1:"+strconv.Itoa(first+i))
	}
	require.NoError(t, probe.Poll(ctx, probe.Real, probe.DefaultBackoff, 30*time.Second, probe.RedisCluster{Addrs: addrs, Masters: 3}))
}

// composePS checks that `docker compose -p project ps` lists the services a
// stack novadev started runs (compose's labels are on every container).
func composePS(t *testing.T, project string, want []string) {
	t.Helper()
	if err := exec.Command("docker", "compose", "version").Run(); err != nil {
		if os.Getenv("NOVADEV_E2E") == "1" {
			t.Fatalf("docker compose v2 missing: run scripts/compose-v2.sh (%v)", err)
		}
		t.Logf("skipping the docker compose ps check: docker compose v2 missing (scripts/compose-v2.sh builds it)")
		return
	}
	out, err := exec.Command("docker", "compose", "-p", project, "ps", "--services").CombinedOutput()
	require.NoError(t, err, string(out))
	got := strings.Fields(string(out))
	for _, w := range want {
		require.Contains(t, got, w, "docker compose -p %s ps lists %s", project, w)
	}
}
