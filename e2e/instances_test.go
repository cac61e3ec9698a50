package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/novadev/novadev/internal/app"
	"github.com/novadev/novadev/internal/backend/docker/dockertest"
	"github.com/novadev/novadev/internal/cli"
)

// instanceRun runs novadev on the ci environment with a state dir of the
// test's (the port-block lock lives there), stdout apart from stderr.
func instanceRun(t *testing.T, stateDir string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	code = app.Run(ctx, cli.Streams{In: strings.NewReader(""), Out: &out, Err: &errb, Getenv: func(k string) string {
		switch k {
		case "CI":
			return "true"
		case "NOVADEV_STATE_DIR":
			return stateDir
		}
		return os.Getenv(k)
	}}, append([]string{"--catalog", filepath.Join(repoRoot(t), "envs", "nova.yaml"), "--env", "ci"}, args...))
	return out.String(), errb.String(), code
}

// Three instances of ci started at the same moment all come up, each with
// its own port block (no host port published twice) and expiry; one whose
// ttl is cut to 1s is removed by gc, the others stay.
func TestIntegrationInstances(t *testing.T) {
	d := dockertest.New(t)
	needImages(t, d)
	stateDir := t.TempDir()
	names := []string{"e2e-i1", "e2e-i2", "e2e-i3"}
	for _, n := range names {
		t.Cleanup(func() {
			if _, errs, code := instanceRun(t, stateDir, "--instance", n, "down", "--volumes"); code != 0 {
				t.Logf("cleanup down %s: %s", n, errs)
			}
		})
	}

	start := time.Now()
	var wg sync.WaitGroup
	errs := make([]string, len(names))
	codes := make([]int, len(names))
	for i, n := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i], codes[i] = instanceRun(t, stateDir, "--instance", n, "up", "--only", "user-service", "--ttl", "1h")
		}()
	}
	wg.Wait()
	for i := range names {
		require.Equal(t, 0, codes[i], "up %s:\n%s", names[i], errs[i])
	}
	t.Logf("three instances up in %s", time.Since(start).Round(time.Second))

	list := func() map[string]cli.Instance {
		out, errs, code := instanceRun(t, stateDir, "list", "-o", "json")
		require.Equal(t, 0, code, errs)
		var l []cli.Instance
		require.NoError(t, json.Unmarshal([]byte(out), &l), out)
		m := map[string]cli.Instance{}
		for _, in := range l {
			if in.Env == "ci" {
				m[in.Instance] = in
			}
		}
		return m
	}
	got := list()
	published := map[int]string{}
	for _, n := range names {
		in, ok := got[n]
		require.True(t, ok, "list shows %s: %+v", n, got)
		require.Equal(t, "nova-ci-"+n, in.Project)
		require.Equal(t, "running", in.State, n)
		require.WithinDuration(t, time.Now().Add(time.Hour), in.Expires, 5*time.Minute, n)
		require.Less(t, in.PortEnd, 32768, "below the ephemeral range")
		require.NotEmpty(t, in.HostPorts, n)
		for _, p := range in.HostPorts {
			require.GreaterOrEqual(t, p, in.PortBase, n)
			require.LessOrEqual(t, p, in.PortEnd, n)
			prev, dup := published[p]
			require.False(t, dup, "host port %d published by %s and %s", p, prev, n)
			published[p] = n
		}
	}

	// up again with --ttl 1s: the block stays, the expiry moves
	block := got["e2e-i3"].PortBase
	_, errs3, code := instanceRun(t, stateDir, "--instance", "e2e-i3", "up", "--only", "user-service", "--ttl", "1s")
	require.Equal(t, 0, code, errs3)
	got = list()
	require.Equal(t, block, got["e2e-i3"].PortBase)
	time.Sleep(2 * time.Second)

	out, gcErrs, code := instanceRun(t, stateDir, "gc", "-o", "json")
	require.Equal(t, 0, code, gcErrs)
	var rep cli.GCReport
	require.NoError(t, json.Unmarshal([]byte(out), &rep), out)
	removed := map[string]bool{}
	for _, in := range rep.Removed {
		removed[in.Project] = true
	}
	require.True(t, removed["nova-ci-e2e-i3"], "gc removed e2e-i3: %s", out)
	require.False(t, removed["nova-ci-e2e-i1"] || removed["nova-ci-e2e-i2"], "gc kept the unexpired: %s", out)
	got = list()
	require.NotContains(t, got, "e2e-i3")
	require.Contains(t, got, "e2e-i1")
	require.Contains(t, got, "e2e-i2")
	obs, err := d.Observe(context.Background(), "nova-ci-e2e-i3")
	require.NoError(t, err)
	require.True(t, obs.Empty(), "nothing of e2e-i3 is left: %+v", obs)
	for _, n := range []string{"e2e-i1", "e2e-i2"} {
		require.Equal(t, "running", got[n].State, "%s untouched by gc", n)
	}
}
