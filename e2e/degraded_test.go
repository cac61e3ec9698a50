package e2e

import (
	"context"
	"encoding/json"
	"os"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/novadev/novadev/internal/backend/docker/dockertest"
)

// TestIntegrationDegradedSearch: on the offline image set there is no
// Elasticsearch image, so `up` skips Elasticsearch and says why, and
// search-service still starts (postgres, its migrations and content-service
// are met) and is reported degraded in the summary, status (text and JSON)
// and ps; verify reports the Elasticsearch check skipped with the reason, not
// passed. A small stack of its own (project nova-es, port block 22000).
func TestIntegrationDegradedSearch(t *testing.T) {
	d := dockertest.New(t)
	ctx := context.Background()
	for _, im := range []string{"novadev/postgres:15", "novadev/placeholder:dev", "novadev/novadev:dev"} {
		if _, err := d.ImageID(ctx, im); err != nil {
			if os.Getenv("NOVADEV_E2E") == "1" {
				t.Fatalf("image %s missing: build the offline set with scripts/images/build.sh", im)
			}
			t.Skipf("image %s missing: build the offline set with scripts/images/build.sh", im)
		}
	}
	env := sideEnv(t, "es", 22000)
	t.Cleanup(func() {
		if out, code := novadevEnv(t, env, "down", "--volumes"); code != 0 {
			t.Logf("cleanup down: %s", out)
		}
	})
	const degraded = "elasticsearch unavailable (no offline image; use --images upstream or a mirror)"

	out, code := novadevEnv(t, env, "up", "--only", "search-service")
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "elasticsearch          skipped: unavailable, its users run degraded: no offline image; use --images upstream or a mirror\n", "up says it is skipped and why")
	require.Regexp(t, `(?m)^search-service +create +degraded +[0-9.]+s$`, out)
	require.Contains(t, out, "\nrunning without optional stores:\n  search-service           degraded: "+degraded+"\n  elasticsearch            skipped: unavailable (no offline image; use --images upstream or a mirror)\n")
	t.Logf("up:\n%s", out)

	// nothing of Elasticsearch was created; search-service keeps its address
	snap, err := d.Observe(ctx, "nova-es")
	require.NoError(t, err)
	var names []string
	for _, c := range snap.Containers {
		names = append(names, c.Name)
		require.NotEqual(t, "elasticsearch", c.Labels["dev.novadev.node"], "no container of the skipped store")
	}
	require.Contains(t, names, "nova-es-search-service-1")
	envOut, code := novadevEnv(t, env, "env", "search-service", "--format", "json")
	require.Equal(t, 0, code, envOut)
	var vars map[string]string
	require.NoError(t, json.Unmarshal([]byte(envOut), &vars), envOut)
	require.Equal(t, "http://127.0.0.1:22200", vars["ELASTICSEARCH_URL"], "its contract still names Elasticsearch: nothing rewired")

	st, code := novadevEnv(t, env, "status")
	require.Equal(t, 0, code, st)
	require.Contains(t, st, "\n  degraded: "+degraded+"\n")
	require.Contains(t, st, "\nelasticsearch            skipped: unavailable (no offline image; use --images upstream or a mirror)\n")
	js, code := novadevEnv(t, env, "status", "-o", "json")
	require.Equal(t, 0, code, js)
	var rep struct {
		Containers []struct {
			Node     string `json:"node"`
			Ready    bool   `json:"ready"`
			Degraded string `json:"degraded"`
		} `json:"containers"`
		Unavailable []struct{ Node, Reason string } `json:"unavailable"`
	}
	require.NoError(t, json.Unmarshal([]byte(js), &rep), js)
	found := false
	for _, c := range rep.Containers {
		if c.Node == "search-service" {
			found = true
			require.True(t, c.Ready, "it runs and answers its health check")
			require.Equal(t, degraded, c.Degraded)
		} else {
			require.Empty(t, c.Degraded, c.Node)
		}
	}
	require.True(t, found, js)
	require.Len(t, rep.Unavailable, 1, js)
	require.Equal(t, "elasticsearch", rep.Unavailable[0].Node)
	ps, code := novadevEnv(t, env, "ps")
	require.Equal(t, 0, code, ps)
	require.Regexp(t, `(?m)^nova-es-search-service-1 +search-service +Up .*\(healthy, degraded\)`, ps)

	vout, code := novadevEnv(t, env, "verify", "--only", "elasticsearch,search-service", "-o", "json")
	var vrep struct {
		Results []struct{ ID, Status, Message string } `json:"results"`
	}
	require.NoError(t, json.Unmarshal([]byte(vout), &vrep), vout)
	status := map[string]string{}
	for _, r := range vrep.Results {
		status[r.ID] = r.Status
		if r.ID == "elasticsearch/up" {
			require.Contains(t, r.Message, "no offline image; use --images upstream or a mirror")
		}
	}
	require.Equal(t, "skipped", status["elasticsearch/up"], vout)
	require.Equal(t, "passed", status["search-service/grpc"], vout)
	require.Equal(t, 0, code, "skipped is not failed: %s", vout)
}
