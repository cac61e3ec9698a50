package verify_test

import (
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
)

// The GitHub Actions example (docs/examples/github-actions) drives novadev
// verify through novadev ci; it lives with verify's tests because that is
// the interface it exercises. This test is the repository's workflow lint:
// every workflow, wherever it lives, must pass actionlint.

// actionlint returns the actionlint binary: $NOVADEV_ACTIONLINT (set by
// .ci/run from scripts/actionlint.sh) or actionlint on PATH. Without one it
// skips, or fails under NOVADEV_E2E=1.
func actionlint(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test: skipped in -short mode")
	}
	bin := os.Getenv("NOVADEV_ACTIONLINT")
	if bin == "" {
		bin, _ = exec.LookPath("actionlint")
	}
	if bin == "" {
		msg := "actionlint not found: set NOVADEV_ACTIONLINT=$(scripts/actionlint.sh) or put actionlint on PATH"
		if os.Getenv("NOVADEV_E2E") == "1" {
			t.Fatalf("NOVADEV_E2E=1 but %s", msg)
		}
		t.Skip(msg)
	}
	return bin
}

// workflows returns every GitHub Actions workflow in the repository: the
// YAML files under .github/workflows and any other YAML file (examples)
// whose top level has both "on" and "jobs".
func workflows(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			switch d.Name() {
			case ".git", "node_modules", "testdata", "compose", "kind":
				return filepath.SkipDir
			}
			return nil
		}
		if ext := filepath.Ext(path); ext != ".yaml" && ext != ".yml" {
			return nil
		}
		if strings.Contains(filepath.ToSlash(path), ".github/workflows/") {
			out = append(out, path)
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		var top map[string]any
		if yaml.Unmarshal(b, &top) != nil {
			return nil // not a single YAML mapping: not a workflow
		}
		if _, on := top["on"]; on {
			if _, jobs := top["jobs"]; jobs {
				out = append(out, path)
			}
		}
		return nil
	})
	require.NoError(t, err)
	return out
}

func TestIntegrationActionlint(t *testing.T) {
	bin := actionlint(t)
	root, err := filepath.Abs(repoRoot())
	require.NoError(t, err)
	files := workflows(t, root)
	rel := make([]string, len(files))
	for i, f := range files {
		rel[i], _ = filepath.Rel(root, f)
	}
	require.Contains(t, rel, filepath.Join("docs", "examples", "github-actions", "pr-environment.yaml"), "the PR environment example is found")

	// the oracle can fail: a workflow with an unknown job key and an
	// undefined expression context is refused
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	require.NoError(t, os.WriteFile(bad, []byte("on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    stepz: []\n    steps:\n      - run: echo ${{ nope.value }}\n"), 0o644))
	out, err := exec.Command(bin, "-no-color", bad).CombinedOutput()
	require.Error(t, err, "actionlint must refuse a broken workflow: %s", out)
	require.Contains(t, string(out), "stepz")

	cmd := exec.Command(bin, append([]string{"-no-color"}, rel...)...)
	cmd.Dir = root
	out, err = cmd.CombinedOutput()
	require.NoError(t, err, "actionlint on %v:\n%s", rel, out)
	t.Logf("actionlint passed on %d workflows: %s", len(rel), strings.Join(rel, ", "))
}
