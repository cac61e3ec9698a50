package app_test

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

	"github.com/compose-spec/compose-go/v2/dotenv"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/novadev/novadev/internal/app"
	"github.com/novadev/novadev/internal/backend/docker/dockertest"
	"github.com/novadev/novadev/internal/catalog"
	"github.com/novadev/novadev/internal/event"
)

// The loopback registry of the mirror test, and a port where nothing
// listens (the mirror down). Project nova-img owns host ports 21000-21999.
const (
	mirrorAddr     = "127.0.0.1:5205"
	deadMirrorAddr = "127.0.0.1:5206"
	imgProject     = "nova-img"
)

// registryBinary finds the distribution registry (scripts/registry.sh):
// NOVADEV_REGISTRY, as .ci/run sets it, or registry on PATH.
func registryBinary(t *testing.T) string {
	if p := os.Getenv("NOVADEV_REGISTRY"); p != "" {
		return p
	}
	if p, err := exec.LookPath("registry"); err == nil {
		return p
	}
	dockertest.Skip(t, "no registry binary: run scripts/registry.sh and set NOVADEV_REGISTRY to the path it prints")
	return ""
}

// startRegistry serves a real OCI registry on mirrorAddr from a temporary
// directory until the returned stop is called (or the test ends).
func startRegistry(t *testing.T, bin string) (stop func()) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.yml")
	require.NoError(t, os.WriteFile(cfg, []byte(fmt.Sprintf(`version: 0.1
log: {level: warn}
storage:
  filesystem: {rootdirectory: %s}
  delete: {enabled: true}
http: {addr: %s}
`, filepath.Join(dir, "data"), mirrorAddr)), 0o644))
	if c, err := net.DialTimeout("tcp", mirrorAddr, time.Second); err == nil {
		c.Close()
		t.Fatalf("%s is taken: another registry runs there", mirrorAddr)
	}
	cmd := exec.Command(bin, "serve", cfg)
	// its access log and the tracing exporter's complaints go to a file,
	// not into the test's output
	logFile, err := os.Create(filepath.Join(dir, "registry.log"))
	require.NoError(t, err)
	t.Cleanup(func() { logFile.Close() })
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.Env = append(os.Environ(), "OTEL_TRACES_EXPORTER=none", "OTEL_SDK_DISABLED=true")
	require.NoError(t, cmd.Start())
	stopped := false
	stop = func() {
		if !stopped {
			stopped = true
			_ = cmd.Process.Kill()
			_, _ = cmd.Process.Wait()
		}
	}
	t.Cleanup(stop)
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get("http://" + mirrorAddr + "/v2/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return stop
			}
		}
		require.True(t, time.Now().Before(deadline), "registry not answering on %s: %v", mirrorAddr, err)
		time.Sleep(200 * time.Millisecond)
	}
}

func dockerCLI(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	cmd := exec.Command("docker", args...)
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "docker %s: %s", strings.Join(args, " "), out)
	return string(out)
}

// upEvents runs up -o json and returns its exit code, the progress
// events and everything printed.
func upEvents(t *testing.T, env map[string]string, args ...string) (int, []event.Event, string) {
	r := run(t, env, append([]string{"-o", "json", "up"}, args...)...)
	var evs []event.Event
	for _, line := range strings.Split(r.out, "\n") {
		// not event.Event: its elapsed is written as seconds
		var e struct {
			Type         event.Type
			Node, Detail string
		}
		if json.Unmarshal([]byte(line), &e) == nil && e.Type != "" {
			evs = append(evs, event.Event{Type: e.Type, Node: e.Node, Detail: e.Detail})
		}
	}
	return r.code, evs, r.out + r.err
}

func noteWith(evs []event.Event, prefix string) string {
	for _, e := range evs {
		if e.Type == event.Note && strings.HasPrefix(e.Detail, prefix) {
			return e.Detail
		}
	}
	return ""
}

// TestIntegrationMirror: a real registry on loopback serves offline images
// under their upstream names (docker.io/library/postgres:15 as
// 127.0.0.1:5205/library/postgres:15); `up --images upstream` with
// NOVADEV_IMAGE_MIRROR pulls them through it (progress per image, a
// summary saying pulled), the containers run the mirror-named images and
// the stores answer real clients. Then, with the mirror down, `--images
// auto` falls back per image to the offline set and says so. The images
// pushed are PostgreSQL (whose offline image honours the official image's
// contract) and Redis (the offline image with the official image's
// contract: no entrypoint, `redis-server ...` as the command), the two
// stores of user-service and notification-service.
func TestIntegrationMirror(t *testing.T) {
	d := dockertest.New(t)
	ctx := context.Background()
	for _, im := range []string{"novadev/postgres:15", "novadev/redis:7", "novadev/novadev:dev", "novadev/placeholder:dev"} {
		if _, err := d.ImageID(ctx, im); err != nil {
			dockertest.Skip(t, "image %s missing: build the offline set with scripts/images/build.sh", im)
		}
	}
	stopRegistry := startRegistry(t, registryBinary(t))

	pg, redis := mirrorAddr+"/library/postgres:15", mirrorAddr+"/library/redis:7.0"
	shim := "novadev-test/redis-upstream-shape:img"
	t.Cleanup(func() {
		// the tags, and the name@digest references up pulled (by
		// reference, never by ID: the IDs are the offline images')
		refs := []string{pg, redis, shim}
		for _, repo := range []string{mirrorAddr + "/library/postgres", mirrorAddr + "/library/redis"} {
			out, _ := exec.Command("docker", "images", "--digests", "--format", "{{.Repository}}@{{.Digest}}", repo).Output()
			refs = append(refs, strings.Fields(string(out))...)
		}
		for _, ref := range refs {
			_ = exec.Command("docker", "rmi", ref).Run()
		}
	})
	dockerCLI(t, "", "tag", "novadev/postgres:15", pg)
	dockerCLI(t, "FROM novadev/redis:7\nENTRYPOINT []\nCMD [\"redis-server\"]\n", "build", "-q", "-t", shim, "-")
	dockerCLI(t, "", "tag", shim, redis)
	start := time.Now()
	dockerCLI(t, "", "push", "-q", pg)
	dockerCLI(t, "", "push", "-q", redis)
	t.Logf("pushed 2 images to the loopback registry in %s", time.Since(start).Round(time.Millisecond))
	// the engine must pull them, not find them: drop the local tags
	dockerCLI(t, "", "rmi", pg, redis)

	dir := t.TempDir()
	envFile := filepath.Join(dir, "img.yaml")
	require.NoError(t, os.WriteFile(envFile, []byte(`apiVersion: novadev/v1alpha1
kind: Environment
metadata: {name: img}
project: `+imgProject+`
hostPortBase: 21000
images:
  placeholder: novadev/placeholder:dev
  source: auto
  lock: images.lock
`), 0o644))
	vars := map[string]string{app.EnvImageMirror: mirrorAddr}
	t.Cleanup(func() {
		if r := run(t, vars, "--env", envFile, "down", "--volumes"); r.code != 0 {
			t.Logf("cleanup down: %s%s", r.out, r.err)
		}
	})
	only := []string{"--only", "user-service,notification-service"}

	// pull --update-lock through the mirror: the lock records the digests
	r := run(t, vars, append([]string{"--env", envFile, "--images", "upstream", "pull", "--update-lock"}, only...)...)
	require.Equal(t, 0, r.code, r.out+r.err)
	lockData, err := os.ReadFile(filepath.Join(dir, "images.lock"))
	require.NoError(t, err, r.out+r.err)
	assert.Contains(t, string(lockData), "docker.io/library/postgres:15 sha256:")
	assert.Contains(t, string(lockData), "docker.io/library/redis:7.0 sha256:")
	dockerCLI(t, "", "rmi", pg, redis) // up pulls again, by digest

	start = time.Now()
	code, evs, out := upEvents(t, vars, append([]string{"--env", envFile, "--images", "upstream"}, only...)...)
	require.Equal(t, 0, code, out)
	t.Logf("up --images upstream through the mirror: %s", time.Since(start).Round(time.Millisecond))
	pulled := map[string]bool{}
	progress := 0
	for _, e := range evs {
		switch e.Type {
		case event.Pulled:
			pulled[e.Node] = true
		case event.Pulling:
			progress++
		}
	}
	assert.Equal(t, map[string]bool{"postgres": true, "redis": true}, pulled, out)
	assert.GreaterOrEqual(t, progress, 2, "progress events per image")
	summary := noteWith(evs, "images: ")
	assert.Equal(t, "images: pulled postgres, redis", summary, out)

	// the containers run the mirror-named images, pinned by the lock
	obs, err := d.Observe(ctx, imgProject)
	require.NoError(t, err)
	ran := map[string]string{}
	for _, c := range obs.Containers {
		ran[c.Service] = c.Image
	}
	assert.True(t, strings.HasPrefix(ran["postgres"], pg+"@sha256:"), "postgres runs %q", ran["postgres"])
	for _, n := range []string{"redis-1", "redis-2", "redis-3"} {
		assert.True(t, strings.HasPrefix(ran[n], redis+"@sha256:"), "%s runs %q", n, ran[n])
	}

	// real clients: user-service's own user logs in to its database, the
	// Redis Cluster is ok
	c, err := catalog.Load("../../envs/nova.yaml", catalog.Options{Env: envFile})
	require.NoError(t, err)
	creds, err := dotenv.Read("../../compose/.env")
	require.NoError(t, err)
	db := c.Services["user-service"].Database
	conn, err := pgx.Connect(ctx, fmt.Sprintf("postgres://%s:%s@127.0.0.1:%d/%s?sslmode=disable", db.User, creds[catalog.PasswordVar(db.User)], c.Stores["postgres"].Host, db.Name))
	require.NoError(t, err)
	var one int
	require.NoError(t, conn.QueryRow(ctx, "SELECT 1").Scan(&one))
	conn.Close(ctx)
	r = run(t, vars, "--env", envFile, "exec", "redis-1", "--", "redis-cli", "-p", "7001", "cluster", "info")
	require.Equal(t, 0, r.code, r.out+r.err)
	assert.Contains(t, r.out, "cluster_state:ok")
	assert.Contains(t, r.out, "cluster_known_nodes:3")
	r = run(t, vars, "--env", envFile, "-o", "json", "status")
	require.Equal(t, 0, r.code, r.out+r.err)

	// the mirror down: auto falls back per image, saying which and why
	stopRegistry()
	dead := map[string]string{app.EnvImageMirror: deadMirrorAddr}
	code, evs, out = upEvents(t, dead, append([]string{"--env", envFile, "--images", "auto"}, only...)...)
	require.Equal(t, 0, code, out)
	fell := map[string]string{}
	for _, e := range evs {
		if e.Type == event.ImageFallback {
			fell[e.Node] = e.Detail
		}
	}
	require.Len(t, fell, 2, out)
	assert.Contains(t, fell["postgres"], "using the offline image novadev/postgres:15: pull "+deadMirrorAddr+"/library/postgres:15")
	assert.Contains(t, fell["redis"], "using the offline image novadev/redis:7")
	summary = noteWith(evs, "images: ")
	assert.True(t, strings.HasPrefix(summary, "images: fell back to offline postgres (pull "+deadMirrorAddr+"/library/postgres:15"), summary)
	obs, err = d.Observe(ctx, imgProject)
	require.NoError(t, err)
	for _, c := range obs.Containers {
		switch c.Service {
		case "postgres":
			assert.Equal(t, "novadev/postgres:15", c.Image)
		case "redis-1", "redis-2", "redis-3":
			assert.Equal(t, "novadev/redis:7", c.Image)
		}
	}
	r = run(t, dead, "--env", envFile, "exec", "redis-1", "--", "redis-cli", "-p", "7001", "cluster", "info")
	require.Equal(t, 0, r.code, r.out+r.err)
	assert.Contains(t, r.out, "cluster_state:ok")

	// upstream with the mirror down fails, naming the image and the way out
	r = run(t, dead, append([]string{"--env", envFile, "--images", "upstream", "up"}, only...)...)
	assert.Equal(t, 1, r.code, r.out+r.err)
	assert.Contains(t, r.out+r.err, "--images upstream: 2 store image(s) could not be pulled: postgres (pull "+deadMirrorAddr+"/library/postgres:15")
}
