package render_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/novadev/novadev/internal/app"
	"github.com/novadev/novadev/internal/cli"
)

type cliResult struct {
	code     int
	out, err string
}

func novadev(t *testing.T, args ...string) cliResult {
	t.Helper()
	var out, errb bytes.Buffer
	code := app.Run(context.Background(), cli.Streams{In: strings.NewReader(""), Out: &out, Err: &errb, Getenv: func(string) string { return "" }}, args)
	return cliResult{code, out.String(), errb.String()}
}

// project copies the repository's envs/ into a fresh project directory.
func project(t *testing.T, gitignore string) string {
	t.Helper()
	root := t.TempDir()
	require.NoError(t, os.CopyFS(filepath.Join(root, "envs"), os.DirFS("../../envs")))
	if gitignore != "" {
		require.NoError(t, os.WriteFile(filepath.Join(root, ".gitignore"), []byte(gitignore), 0o644))
	}
	return root
}

// The acceptance cases for `render`, through the CLI: a removed
// environment's files are reported by --check and gone after render; a
// render that fails halfway changes no file; secrets need .gitignore.
func TestRenderCommandIsSafe(t *testing.T) {
	root := project(t, "/compose/.env\n")
	cat := filepath.Join(root, "envs", "nova.yaml")
	r := novadev(t, "--catalog", cat, "render", "all")
	require.Equal(t, 0, r.code, r.err)
	require.FileExists(t, filepath.Join(root, "compose", "docker-compose.ci.yaml"))

	// a removed environment: --check reports its compose file, render removes it
	require.NoError(t, os.Remove(filepath.Join(root, "envs", "ci.yaml")))
	r = novadev(t, "--catalog", cat, "render", "all", "--check")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.err, "compose/docker-compose.ci.yaml: generated, but the catalog no longer renders it")
	r = novadev(t, "--catalog", cat, "render", "all")
	require.Equal(t, 0, r.code, r.err)
	assert.Contains(t, r.out, "removed compose/docker-compose.ci.yaml (no longer rendered)")
	assert.NoFileExists(t, filepath.Join(root, "compose", "docker-compose.ci.yaml"))
	r = novadev(t, "--catalog", cat, "render", "all", "--check")
	assert.Equal(t, 0, r.code, r.err)

	// a render that fails halfway (kind/base/services is a file where a
	// directory must be) after a catalog change that touches every file
	before := snapshot(t, root)
	src, err := os.ReadFile(cat)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(cat, bytes.Replace(src, []byte(`tag: "1.0.0"`), []byte(`tag: "1.0.1"`), 1), 0o644))
	services := filepath.Join(root, "kind", "base", "services")
	require.NoError(t, os.RemoveAll(services))
	require.NoError(t, os.WriteFile(services, []byte("in the way\n"), 0o644))
	delete(before, "kind/base/services/")
	for k := range before {
		if strings.HasPrefix(k, "kind/base/services/") {
			delete(before, k)
		}
	}
	before["kind/base/services"] = "in the way\n"
	before["envs/nova.yaml"] = string(bytes.Replace(src, []byte(`tag: "1.0.0"`), []byte(`tag: "1.0.1"`), 1))
	r = novadev(t, "--catalog", cat, "render", "all")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.err, "nothing written")
	assert.Equal(t, before, snapshot(t, root), "a failed render changes no file")
}

func TestRenderCommandStaysInTheProject(t *testing.T) {
	// the case: --catalog /x/proj/nova.yaml wrote /x/compose/.env
	x := t.TempDir()
	proj := filepath.Join(x, "proj")
	require.NoError(t, os.CopyFS(proj, os.DirFS("../../envs")))
	r := novadev(t, "--catalog", filepath.Join(proj, "nova.yaml"), "render", "all")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.err, "pass --project-directory")
	entries, err := os.ReadDir(x)
	require.NoError(t, err)
	assert.Len(t, entries, 1, "nothing written beside the project")
	assert.NoDirExists(t, filepath.Join(proj, "compose"))

	// secrets without a .gitignore that covers them: refused, nothing written
	root := project(t, "")
	r = novadev(t, "--catalog", filepath.Join(root, "envs", "nova.yaml"), "render", "compose")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.err, "refusing to write compose/.env")
	assert.Contains(t, r.err, "/compose/.env")
	assert.NoDirExists(t, filepath.Join(root, "compose"))
}
