package render_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/novadev/novadev/internal/render"
)

func gen(body string) []byte { return []byte("# " + render.Header + "\n" + body) }

// snapshot returns every file under root with its content, to prove a
// failed render changed nothing.
func snapshot(t *testing.T, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	require.NoError(t, filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if d.IsDir() {
			out[rel+"/"] = ""
			return nil
		}
		if d.Type()&os.ModeSymlink != 0 {
			target, _ := os.Readlink(p)
			out[rel] = "-> " + target
			return nil
		}
		data, err := os.ReadFile(p)
		out[rel] = string(data)
		return err
	}))
	return out
}

func writeFile(t *testing.T, path, data string) {
	t.Helper()
	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
	require.NoError(t, os.WriteFile(path, []byte(data), 0o644))
}

func TestProjectRoot(t *testing.T) {
	dir := t.TempDir()
	root, err := render.ProjectRoot(filepath.Join(dir, "proj", "envs", "nova.yaml"), "")
	require.NoError(t, err)
	assert.Equal(t, filepath.Join(dir, "proj"), root, "the directory holding envs/")
	root, err = render.ProjectRoot(filepath.Join(dir, "proj", "envs", "team", "nova.yaml"), "")
	require.NoError(t, err)
	assert.Equal(t, filepath.Join(dir, "proj"), root, "envs/ at any depth above the catalog")

	// the case: --catalog /x/proj/nova.yaml wrote /x/compose/.env
	_, err = render.ProjectRoot(filepath.Join(dir, "proj", "nova.yaml"), "")
	require.ErrorContains(t, err, "is not inside an envs/ directory")
	require.ErrorContains(t, err, "--project-directory")
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "proj"), 0o755))
	root, err = render.ProjectRoot(filepath.Join(dir, "proj", "nova.yaml"), filepath.Join(dir, "proj"))
	require.NoError(t, err)
	assert.Equal(t, filepath.Join(dir, "proj"), root)
	_, err = render.ProjectRoot("x.yaml", filepath.Join(dir, "nope"))
	require.Error(t, err)
}

func TestPlanRefusesPathsOutsideTheRoot(t *testing.T) {
	for _, p := range []string{"../compose/x.yaml", "/etc/passwd", "compose/../../x", "compose//x", "./x", "", `compose\..\..\x`} {
		_, err := render.NewPlan(t.TempDir(), render.Files{p: gen("x")})
		assert.Error(t, err, "%q", p)
	}

	// a directory on the way that is a symlink leading out of the project
	root, outside := t.TempDir(), t.TempDir()
	require.NoError(t, os.Symlink(outside, filepath.Join(root, "compose")))
	_, err := render.NewPlan(root, render.Files{"compose/docker-compose.yaml": gen("x")})
	require.ErrorContains(t, err, "leads outside the project root")
	entries, _ := os.ReadDir(outside)
	assert.Empty(t, entries, "nothing written outside")
}

func TestWriteIsAllOrNothing(t *testing.T) {
	root := t.TempDir()
	writeFile(t, filepath.Join(root, "compose", "docker-compose.yaml"), string(gen("old\n")))
	writeFile(t, filepath.Join(root, "Tiltfile"), string(gen("old\n")))
	// kind/base is a file where the render wants a directory: the render
	// fails on kind/base/x.yaml, after compose/ and before Tiltfile
	writeFile(t, filepath.Join(root, "kind", "base"), "in the way\n")
	before := snapshot(t, root)

	files := render.Files{
		"compose/docker-compose.yaml":    gen("new\n"),
		"compose/docker-compose.ci.yaml": gen("new\n"),
		"kind/base/x.yaml":               gen("new\n"),
		"kind/cluster.yaml":              gen("new\n"),
		"Tiltfile":                       gen("new\n"),
	}
	plan, err := render.NewPlan(root, files)
	require.NoError(t, err)
	_, err = plan.Write(context.Background())
	require.ErrorContains(t, err, "kind/base/x.yaml")
	require.ErrorContains(t, err, "nothing written")
	assert.Equal(t, before, snapshot(t, root), "no file changed, no temporary file or directory left")

	// interrupted after rendering: nothing written either
	require.NoError(t, os.Remove(filepath.Join(root, "kind", "base")))
	before = snapshot(t, root)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	plan, err = render.NewPlan(root, files)
	require.NoError(t, err)
	_, err = plan.Write(ctx)
	require.ErrorIs(t, err, context.Canceled)
	assert.Equal(t, before, snapshot(t, root))

	results, err := plan.Write(context.Background())
	require.NoError(t, err)
	assert.Len(t, results, 5)
	for _, r := range results {
		assert.True(t, r.Changed, r.Path)
		data, err := os.ReadFile(filepath.Join(root, r.Path))
		require.NoError(t, err)
		assert.Equal(t, string(files[r.Path]), string(data))
	}
	matches, _ := filepath.Glob(filepath.Join(root, "*", ".*novadev-*"))
	assert.Empty(t, matches, "no temporary files left")

	// unchanged files are not rewritten
	results, err = render.Write(root, files)
	require.NoError(t, err)
	for _, r := range results {
		assert.False(t, r.Changed, r.Path)
	}
}

// A removed environment's compose file and a dropped overlay's files are
// stale: --check (Drift) reports them and Write removes them; files that
// novadev did not generate, and secrets, stay.
func TestStaleFilesAreReportedAndRemoved(t *testing.T) {
	root := t.TempDir()
	writeFile(t, filepath.Join(root, "compose", "docker-compose.yaml"), string(gen("a\n")))
	writeFile(t, filepath.Join(root, "compose", "docker-compose.gone.yaml"), string(gen("old env\n")))
	writeFile(t, filepath.Join(root, "compose", ".env"), "SECRET=x\n")
	writeFile(t, filepath.Join(root, "compose", "notes.md"), "mine\n")
	writeFile(t, filepath.Join(root, "kind", "overlays", "old", "kustomization.yaml"), string(gen("old overlay\n")))
	writeFile(t, filepath.Join(root, "kind", "overlays", "dev", "credentials.env"), "# Generated by novadev for the kind dev and pr overlays. Never commit this file.\nX=y\n")
	writeFile(t, filepath.Join(root, "other", "x.yaml"), string(gen("not a tree this render writes\n")))

	files := render.Files{"compose/docker-compose.yaml": gen("a\n"), "kind/cluster.yaml": gen("c\n")}
	plan, err := render.NewPlan(root, files)
	require.NoError(t, err)
	drift, err := plan.Drift()
	require.NoError(t, err)
	assert.Equal(t, []render.Drift{
		{Path: "kind/cluster.yaml", Reason: "missing"},
		{Path: "compose/docker-compose.gone.yaml", Reason: "stale"},
		{Path: "kind/overlays/old/kustomization.yaml", Reason: "stale"},
	}, drift)

	results, err := plan.Write(context.Background())
	require.NoError(t, err)
	assert.Contains(t, results, render.Result{Path: "compose/docker-compose.gone.yaml", Changed: true, Removed: true})
	assert.NoFileExists(t, filepath.Join(root, "compose", "docker-compose.gone.yaml"))
	assert.NoDirExists(t, filepath.Join(root, "kind", "overlays", "old"), "an emptied overlay directory goes too")
	for _, keep := range []string{"compose/.env", "compose/notes.md", "kind/overlays/dev/credentials.env", "other/x.yaml"} {
		assert.FileExists(t, filepath.Join(root, keep))
	}
	plan, err = render.NewPlan(root, files)
	require.NoError(t, err)
	drift, err = plan.Drift()
	require.NoError(t, err)
	assert.Empty(t, drift)
}

// RequireIgnored agrees with git itself (git check-ignore --no-index, the
// oracle) on whether a secrets file is covered by the .gitignore files,
// rendered ones included.
func TestRequireIgnoredAgreesWithGit(t *testing.T) {
	gitBin, err := exec.LookPath("git")
	if err != nil {
		t.Skip("git not on PATH: it is the oracle of this test")
	}
	cases := []struct {
		name      string
		gitignore map[string]string // on disk
		rendered  map[string]string // in the plan
		path      string
	}{
		{"none", nil, nil, "compose/.env"},
		{"rooted", map[string]string{".gitignore": "/compose/.env\n"}, nil, "compose/.env"},
		{"anywhere", map[string]string{".gitignore": ".env\n"}, nil, "compose/.env"},
		{"directory", map[string]string{".gitignore": "/compose/\n"}, nil, "compose/.env"},
		{"glob", map[string]string{".gitignore": "*.env\n"}, nil, "kind/overlays/dev/credentials.env"},
		{"other file", map[string]string{".gitignore": "/compose/.env.local\n"}, nil, "compose/.env"},
		{"negated", map[string]string{".gitignore": "*.env\n!credentials.env\n"}, nil, "kind/overlays/dev/credentials.env"},
		{"nested on disk", map[string]string{"kind/.gitignore": "overlays/*/credentials.env\n"}, nil, "kind/overlays/pr/credentials.env"},
		{"nested rendered", nil, map[string]string{"kind/.gitignore": "# " + render.Header + "\noverlays/*/credentials.env\n"}, "kind/overlays/pr/credentials.env"},
		{"comment only", map[string]string{".gitignore": "# /compose/.env\n"}, nil, "compose/.env"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			root := t.TempDir()
			for p, data := range c.gitignore {
				writeFile(t, filepath.Join(root, p), data)
			}
			files := render.Files{"Tiltfile": gen("")}
			for p, data := range c.rendered {
				files[p] = []byte(data)
				writeFile(t, filepath.Join(root, p), data) // what git will see
			}
			plan, err := render.NewPlan(root, files)
			require.NoError(t, err)
			ours := plan.RequireIgnored(c.path) == nil

			cmd := exec.Command(gitBin, "-c", "core.excludesFile=/dev/null", "check-ignore", "--no-index", "-q", c.path)
			cmd.Dir = root
			init := exec.Command(gitBin, "init", "-q")
			init.Dir = root
			require.NoError(t, init.Run())
			err = cmd.Run()
			gits := err == nil
			if ee, ok := err.(*exec.ExitError); ok && ee.ExitCode() != 1 {
				t.Fatalf("git check-ignore: %v", err)
			}
			assert.Equal(t, gits, ours, "git says ignored=%v", gits)
		})
	}
	root := t.TempDir()
	plan, err := render.NewPlan(root, render.Files{"Tiltfile": gen("")})
	require.NoError(t, err)
	err = plan.RequireIgnored("compose/.env", "kind/overlays/dev/credentials.env")
	require.Error(t, err)
	assert.True(t, strings.Contains(err.Error(), "/compose/.env\n  /kind/overlays/dev/credentials.env"), "says what to add: %v", err)
}
