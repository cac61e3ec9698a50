package verify_test

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/novadev/novadev/internal/app"
	"github.com/novadev/novadev/internal/backend/docker/dockertest"
	"github.com/novadev/novadev/internal/catalog"
	"github.com/novadev/novadev/internal/cli"
	"github.com/novadev/novadev/internal/state"
	"github.com/novadev/novadev/internal/verify"
)

// This test's own environment: a project and host port block nobody else
// uses (the e2e package's are 24000-26000 and 30000).
const (
	project  = "nova-h8-verify"
	portBase = "23000"
)

func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// novadev runs the CLI in-process against envs/nova.yaml with env.
func novadev(t *testing.T, env string, args ...string) (string, int) {
	t.Helper()
	var out bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	code := app.Run(ctx, cli.Streams{In: strings.NewReader(""), Out: &out, Err: &out, Getenv: func(k string) string {
		if k == "CI" {
			return "true"
		}
		return os.Getenv(k)
	}}, append([]string{"--catalog", filepath.Join(repoRoot(), "envs", "nova.yaml"), "--env", env}, args...))
	return out.String(), code
}

type junit struct {
	Suites []struct {
		Tests    int `xml:"tests,attr"`
		Failures int `xml:"failures,attr"`
		Cases    []struct {
			Name    string `xml:"name,attr"`
			Time    string `xml:"time,attr"`
			Failure *struct {
				Message string `xml:"message,attr"`
				Text    string `xml:",chardata"`
			} `xml:"failure"`
		} `xml:"testcase"`
	} `xml:"testsuite"`
}

func readJUnit(t *testing.T, path string) (total, failures int, failed map[string]string, passed map[string]bool) {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	var j junit
	require.NoError(t, xml.Unmarshal(b, &j))
	require.Len(t, j.Suites, 1)
	failed, passed = map[string]string{}, map[string]bool{}
	for _, c := range j.Suites[0].Cases {
		if c.Failure != nil {
			failed[c.Name] = c.Failure.Message + "\n" + c.Failure.Text
		} else {
			passed[c.Name] = true
		}
	}
	return j.Suites[0].Tests, j.Suites[0].Failures, failed, passed
}

// A real stack on a real engine: verify passes with a JUnit report of
// every check; with one Redis node killed it fails, the report names
// Redis, and the checks that do not involve Redis still pass.
func TestIntegrationVerify(t *testing.T) {
	d := dockertest.New(t)
	ctx := context.Background()
	for _, im := range []string{"novadev/postgres:15", "novadev/redis:7", "novadev/kafka:kfake", "novadev/clickhouse:18.16", "novadev/placeholder:dev"} {
		if _, err := d.ImageID(ctx, im); err != nil {
			if os.Getenv("NOVADEV_E2E") == "1" {
				t.Fatalf("image %s missing: build the offline set with scripts/images/build.sh", im)
			}
			t.Skipf("image %s missing: build the offline set with scripts/images/build.sh", im)
		}
	}
	// NOVADEV_PLACEHOLDER_TAG as in scripts/images/build.sh: a scratch
	// placeholder build instead of the shared one
	placeholder := os.Getenv("NOVADEV_PLACEHOLDER_TAG")
	if placeholder == "" {
		placeholder = "novadev/placeholder:dev"
	}
	if _, err := d.ImageID(ctx, placeholder); err != nil {
		t.Fatalf("NOVADEV_PLACEHOLDER_TAG=%s: %v", placeholder, err)
	}
	dir := t.TempDir()
	env := filepath.Join(dir, "h8-verify.yaml")
	require.NoError(t, os.WriteFile(env, []byte(`apiVersion: novadev/v1alpha1
kind: Environment
metadata: {name: h8-verify}
project: `+project+`
hostPortBase: `+portBase+`
images:
  placeholder: `+placeholder+`
  stores: {postgres: "novadev/postgres:15", redis: "novadev/redis:7", kafka: "novadev/kafka:kfake", clickhouse: "novadev/clickhouse:18.16"}
`), 0o644))
	t.Cleanup(func() {
		if out, code := novadev(t, env, "down", "--volumes"); code != 0 {
			t.Logf("cleanup down: %s", out)
		}
	})

	out, code := novadev(t, env, "up")
	require.Equal(t, 0, code, out)

	// healthy: every check passes, at least ten testcases with times
	report := filepath.Join(dir, "artifacts", "healthy.xml") // --junit creates the directory
	start := time.Now()
	out, code = novadev(t, env, "verify", "--junit", report)
	t.Logf("verify (healthy) in %s:\n%s", time.Since(start).Round(time.Millisecond), lastLines(out, 3))
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "verify "+project+": ok: ")
	total, failures, failed, passed := readJUnit(t, report)
	require.GreaterOrEqual(t, total, 10)
	require.Zero(t, failures, "%v", failed)
	for _, id := range []string{"redis/cluster", "kafka/topics", "clickhouse/schema", "postgres/databases", "user-service/grpc",
		"user-service/metrics", "user-service/database-login", "user-service/migrations", "migrations/completed", "feed-service/ready"} {
		require.True(t, passed[id], "%s passed", id)
	}

	// the same as JSON
	out, code = novadev(t, env, "verify", "-o", "json")
	require.Equal(t, 0, code, out)
	var rep verify.Report
	require.NoError(t, json.Unmarshal([]byte(out), &rep), out)
	require.Equal(t, project, rep.Instance)
	require.Equal(t, total, len(rep.Results))
	grpcurlAgrees(t, env, rep)

	// one Redis node killed: verify fails and names Redis
	kill := exec.Command("docker", "kill", state.ContainerName(project, "redis-2"))
	b, err := kill.CombinedOutput()
	require.NoError(t, err, string(b))
	report = filepath.Join(dir, "redis-killed.xml")
	out, code = novadev(t, env, "verify", "--junit", report)
	t.Logf("verify (redis-2 killed):\n%s", lastLines(out, 1))
	require.Equal(t, 1, code, out)
	require.Contains(t, out, "FAIL redis/up")
	_, failures, failed, passed = readJUnit(t, report)
	require.Positive(t, failures)
	require.Contains(t, failed, "redis/up")
	require.Contains(t, failed["redis/up"], "redis-2", "the failure says which node")
	require.Contains(t, failed["redis/up"], "last log lines of redis:", "and carries the log tail")
	require.Contains(t, failed, "redis/cluster")
	require.Contains(t, failed["redis/cluster"], "needs redis")
	for id := range failed {
		require.True(t, strings.HasPrefix(id, "redis") || strings.Contains(failed[id], "redis"),
			"%s failed without naming Redis: %s", id, failed[id])
	}
	for _, id := range []string{"postgres/up", "postgres/databases", "kafka/topics", "clickhouse/schema", "user-service/grpc",
		"user-service/database-login", "feed-service/grpc", "analytics-service/metrics"} {
		require.True(t, passed[id], "%s does not involve Redis and still passes", id)
	}
}

// grpcurlAgrees compares what user-service/grpc found by reflection with
// grpcurl's list (the guide's own command), when grpcurl is available
// (NOVADEV_GRPCURL from scripts/grpcurl.sh, or PATH; required under
// NOVADEV_E2E=1).
func grpcurlAgrees(t *testing.T, env string, rep verify.Report) {
	t.Helper()
	bin := os.Getenv("NOVADEV_GRPCURL")
	if bin == "" {
		bin, _ = exec.LookPath("grpcurl")
	}
	if bin == "" {
		if os.Getenv("NOVADEV_E2E") == "1" {
			t.Fatal("NOVADEV_E2E=1 but no grpcurl: set NOVADEV_GRPCURL=$(scripts/grpcurl.sh)")
		}
		t.Log("no grpcurl (scripts/grpcurl.sh builds it): reflection not compared with it")
		return
	}
	c, err := catalog.Load(filepath.Join(repoRoot(), "envs", "nova.yaml"), catalog.Options{Env: env})
	require.NoError(t, err)
	var host int
	for _, p := range c.Services["user-service"].Ports {
		if p.Name == "grpc" {
			host = p.Host
		}
	}
	out, err := exec.Command(bin, "-plaintext", fmt.Sprintf("127.0.0.1:%d", host), "list").CombinedOutput()
	require.NoError(t, err, string(out))
	want := strings.Fields(string(out))
	slices.Sort(want)
	var msg string
	for _, r := range rep.Results {
		if r.ID == "user-service/grpc" {
			msg = r.Message
		}
	}
	listed, _, _ := strings.Cut(strings.TrimPrefix(msg, "SERVING; reflection lists "), " (")
	require.Equal(t, strings.Join(want, ", "), listed, "verify and grpcurl list the same services")
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
