package e2e

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/novadev/novadev/internal/backend/docker"
	"github.com/novadev/novadev/internal/backend/docker/dockertest"
)

// needImages skips (fails under NOVADEV_E2E=1) without the offline images.
func needImages(t *testing.T, d *docker.Moby) {
	t.Helper()
	for _, im := range []string{"novadev/postgres:15", "novadev/redis:7", "novadev/kafka:kfake", "novadev/clickhouse:18.16", "novadev/placeholder:dev"} {
		if _, err := d.ImageID(context.Background(), im); err != nil {
			if os.Getenv("NOVADEV_E2E") == "1" {
				t.Fatalf("image %s missing: build the offline set with scripts/images/build.sh", im)
			}
			t.Skipf("image %s missing: build the offline set with scripts/images/build.sh", im)
		}
	}
}

// With postgres killed 3 s into a cold up, up ends non-zero within 10 s of
// the kill and says that postgres exited (not a readiness timeout 90 s
// later).
func TestIntegrationUpFailsFastWhenPostgresDies(t *testing.T) {
	d := dockertest.New(t)
	needImages(t, d)
	env := sideEnv(t, "e2e-k", 24500)
	t.Cleanup(func() { novadevEnv(t, env, "down", "--volumes") })
	novadevEnv(t, env, "down", "--volumes") // a clean cold start

	type upResult struct {
		out  string
		code int
		at   time.Time
	}
	done := make(chan upResult, 1)
	start := time.Now()
	go func() {
		out, code := novadevEnv(t, env, "up")
		done <- upResult{out, code, time.Now()}
	}()
	// 3 s in, or as soon as the container exists on a slow machine
	const pg = "nova-e2e-k-postgres-1"
	time.Sleep(3 * time.Second)
	require.Eventually(t, func() bool {
		return exec.Command("docker", "inspect", pg).Run() == nil
	}, 30*time.Second, 50*time.Millisecond, "the postgres container never appeared")
	out, err := exec.Command("docker", "kill", pg).CombinedOutput()
	require.NoError(t, err, string(out))
	killed := time.Now()
	t.Logf("killed %s %s into up", pg, killed.Sub(start).Round(time.Millisecond))

	var r upResult
	select {
	case r = <-done:
	case <-time.After(60 * time.Second):
		t.Fatal("up still runs 60 s after postgres was killed")
	}
	t.Logf("up ended %s after the kill, exit %d", r.at.Sub(killed).Round(time.Millisecond), r.code)
	require.NotEqual(t, 0, r.code, r.out)
	require.Less(t, r.at.Sub(killed), 10*time.Second, r.out)
	require.Contains(t, r.out, "novadev: postgres: container "+pg+" exited with code 137 (killed)", r.out)
	require.NotContains(t, r.out, "not ready after", "a death is reported as such, not as a timeout")
}

// Two ups of one environment started together: the second waits for the
// first (saying so) or refuses naming it; both end well and the stack is
// then healthy. Never "port taken by another process".
func TestIntegrationConcurrentUps(t *testing.T) {
	d := dockertest.New(t)
	needImages(t, d)
	env := sideEnv(t, "e2e-c", 25500)
	t.Cleanup(func() { novadevEnv(t, env, "down", "--volumes") })
	novadevEnv(t, env, "down", "--volumes")

	var wg sync.WaitGroup
	outs := make([]string, 2)
	codes := make([]int, 2)
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			outs[i], codes[i] = novadevEnv(t, env, "up")
		}()
	}
	wg.Wait()
	waited := 0
	for i := range 2 {
		require.NotContains(t, outs[i], "taken by another process", outs[i])
		if strings.Contains(outs[i], "waiting for novadev up nova-e2e-c (pid ") {
			waited++
		}
		if codes[i] != 0 {
			require.Contains(t, outs[i], "is already working on this environment", outs[i])
		}
	}
	require.Equal(t, []int{0, 0}, codes, "both end well: %s\n----\n%s", outs[0], outs[1])
	require.Equal(t, 1, waited, "exactly one waited for the other:\n%s\n----\n%s", head(outs[0]), head(outs[1]))

	out, code := novadevEnv(t, env, "status", "-o", "json")
	require.Equal(t, 0, code, out)
	var st struct {
		Containers []struct {
			Service string `json:"service"`
			Ready   bool   `json:"ready"`
			State   string `json:"state"`
		} `json:"containers"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &st), out)
	require.Len(t, st.Containers, 22)
	for _, c := range st.Containers {
		require.True(t, c.Ready, "%s is %s and not ready", c.Service, c.State)
	}
}

func head(s string) string {
	lines := strings.SplitN(s, "\n", 6)
	return strings.Join(lines[:min(5, len(lines))], "\n")
}
