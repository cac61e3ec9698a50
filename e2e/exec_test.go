package e2e

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/novadev/novadev/internal/backend/docker/dockertest"
)

// exec runs a command in a running store of an environment of its own:
// its output comes back and its exit code is novadev's.
func TestIntegrationExec(t *testing.T) {
	d := dockertest.New(t)
	needImages(t, d)
	env := sideEnv(t, "e2e-x", 26500)
	t.Cleanup(func() { novadevEnv(t, env, "down", "--volumes") })
	out, code := novadevEnv(t, env, "up", "--only", "postgres")
	require.Equal(t, 0, code, out)

	out, code = novadevEnv(t, env, "exec", "postgres", "--", "sh", "-c", "echo hello from $(hostname); echo to-stderr >&2; exit 3")
	assert.Equal(t, 3, code, "the command's exit code: %s", out)
	assert.Contains(t, out, "hello from ")
	assert.Contains(t, out, "to-stderr")
	assert.NotContains(t, out, "novadev:", "a failing command is not novadev's error")

	out, code = novadevEnv(t, env, "exec", "postgres", "--", "pg_isready")
	require.Equal(t, 0, code, out)
	assert.True(t, strings.HasSuffix(strings.TrimSpace(out), "accepting connections"), out)

	out, code = novadevEnv(t, env, "exec", "user-service", "--", "true")
	assert.Equal(t, 1, code, out)
	assert.Contains(t, out, "not running")
	out, code = novadevEnv(t, env, "exec", "nope", "--", "true")
	assert.Equal(t, 2, code, out)
	assert.Contains(t, out, `no unit "nope"`)
}
