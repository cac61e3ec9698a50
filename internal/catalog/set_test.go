package catalog_test

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/novadev/novadev/internal/catalog"
	"github.com/novadev/novadev/internal/catalog/catalogtest"
)

func envDoc(kind, name string, base int) string {
	return "apiVersion: novadev/v1alpha1\nkind: " + kind + "\nmetadata: {name: " + name + "}\nhostPortBase: " + itoa(base) + "\n"
}

func itoa(n int) string { return strconv.Itoa(n) }

func miniDir(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	mini, err := os.ReadFile("testdata/valid/minimal.yaml")
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "cat.yaml"), mini, 0o644))
	for name, data := range files {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644))
	}
	return filepath.Join(dir, "cat.yaml")
}

// Environments are found by parsing: a quoted kind and a .yml file count;
// another kind, no kind, or not YAML at all is a problem naming the file.
func TestLoadSetFindsEnvironmentsByParsing(t *testing.T) {
	cat := miniDir(t, map[string]string{
		"local.yaml": envDoc(`"Environment"`, "local", 0),
		"ci.yml":     envDoc("Environment", "ci", 2000),
		"other.yaml": envDoc("Catalog", "other", 0),
	})
	set, err := catalog.LoadSet(cat)
	require.NoError(t, err)
	assert.Equal(t, []string{"ci", "local"}, set.EnvNames(), "quoted kind and .yml are environments; a second Catalog is left alone")

	cat = miniDir(t, map[string]string{
		"local.yaml":  envDoc("Environment", "local", 0),
		"deploy.yaml": "apiVersion: apps/v1\nkind: Deployment\n",
		"nokind.yml":  "apiVersion: novadev/v1alpha1\nmetadata: {name: nokind}\n",
		"list.yaml":   "- a\n- b\n",
		"broken.yaml": "kind: [\n",
		"enviro.yaml": envDoc("Enviroment", "enviro", 0),
	})
	_, err = catalog.LoadSet(cat)
	var ps catalog.Problems
	require.ErrorAs(t, err, &ps)
	text := ps.Error()
	dir := filepath.Dir(cat)
	assert.Contains(t, text, filepath.Join(dir, "deploy.yaml")+`:2:7: kind: kind "Deployment" is neither Environment nor Catalog`)
	assert.Contains(t, text, filepath.Join(dir, "nokind.yml")+":1:1: kind: no kind: this file is neither an environment nor a catalog")
	assert.Contains(t, text, filepath.Join(dir, "list.yaml")+":1:1: expected a mapping with kind: Environment")
	assert.Contains(t, text, filepath.Join(dir, "broken.yaml")+":")
	assert.Contains(t, text, filepath.Join(dir, "enviro.yaml")+`:2:7: kind: kind "Enviroment" is neither Environment nor Catalog; did you mean "Environment"?`)
}

func TestLoadSetDuplicatesNamesAndOverlaps(t *testing.T) {
	// local.yaml and local.yml: one name, two files
	cat := miniDir(t, map[string]string{
		"local.yaml": envDoc("Environment", "local", 0),
		"local.yml":  envDoc("Environment", "local", 3000),
	})
	_, err := catalog.LoadSet(cat)
	dir := filepath.Dir(cat)
	require.ErrorContains(t, err, filepath.Join(dir, "local.yml")+`:3:12: metadata.name: environment "local" is also defined in `+filepath.Join(dir, "local.yaml"))

	// the file name is the environment's name
	cat = miniDir(t, map[string]string{"staging.yaml": envDoc("Environment", "prod", 0)})
	_, err = catalog.LoadSet(cat)
	require.ErrorContains(t, err, `staging.yaml:3:12: metadata.name: environment "prod" is in a file named staging.yaml: the file name must be the environment's name; rename the file to prod.yaml or the environment to "staging"`)

	// minimal.yaml publishes 21001-21100: blocks 21000 and 21050 overlap
	cat = miniDir(t, map[string]string{
		"a.yaml": envDoc("Environment", "a", 21000),
		"b.yaml": envDoc("Environment", "b", 21050),
		"c.yaml": envDoc("Environment", "c", 22000),
	})
	_, err = catalog.LoadSet(cat)
	require.ErrorContains(t, err, "b.yaml:4:1: hostPortBase: host ports 21051-21150 of environment b overlap 21001-21100 of environment a ("+filepath.Join(filepath.Dir(cat), "a.yaml")+")")
	require.NotContains(t, err.Error(), "environment c overlap")

	// a block inside the ephemeral range
	cat = miniDir(t, map[string]string{"e.yaml": envDoc("Environment", "e", 40000)})
	_, err = catalog.LoadSet(cat)
	require.ErrorContains(t, err, "host port 40001 is in the ephemeral range 32768-60999")
}

// The default environment: a missing, dangling or looping local.yaml next
// to other environments is an error naming it; a catalog alone in its
// directory is the bare catalog.
func TestDefaultEnvironment(t *testing.T) {
	alone := miniDir(t, nil)
	assert.Equal(t, "", catalog.DefaultEnvironment(alone, "local"), "a catalog alone (a kind Job's volume) is the bare catalog")

	withCI := miniDir(t, map[string]string{"ci.yaml": envDoc("Environment", "ci", 2000)})
	assert.Equal(t, "local", catalog.DefaultEnvironment(withCI, "local"))
	_, err := catalog.LoadContext(context.Background(), withCI, catalog.Options{Env: catalog.DefaultEnvironment(withCI, "local")})
	require.ErrorContains(t, err, `environment "local": `+filepath.Join(filepath.Dir(withCI), "local.yaml")+" does not exist")
	require.ErrorContains(t, err, `--env "" selects the bare catalog`)

	looping := miniDir(t, nil)
	dir := filepath.Dir(looping)
	require.NoError(t, os.Symlink(filepath.Join(dir, "local.yaml"), filepath.Join(dir, "local.yaml.tmp")))
	require.NoError(t, os.Rename(filepath.Join(dir, "local.yaml.tmp"), filepath.Join(dir, "local.yaml")))
	assert.Equal(t, "local", catalog.DefaultEnvironment(looping, "local"), "a looping link is the environment's file, not its absence")
	_, err = catalog.Load(looping, catalog.Options{Env: "local"})
	require.ErrorContains(t, err, "local.yaml: reading environment \"local\": ")
	require.ErrorContains(t, err, "too many levels of symbolic links")
}

// Cancelling the context stops a load: the error is the context's, not a
// list of problems.
func TestLoadHonoursCancellation(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := catalog.LoadContext(ctx, "testdata/valid/minimal.yaml", catalog.Options{})
	require.ErrorIs(t, err, context.Canceled)
	_, err = catalog.LoadSetContext(ctx, "../../envs/nova.yaml")
	require.ErrorIs(t, err, context.Canceled)
}

// What an environment overlay can get wrong, each at its own position.
func TestEnvironmentValidation(t *testing.T) {
	for _, c := range []struct{ body, want string }{
		{"namespace: Bad_NS\n", `env.yaml:5:1: namespace: namespace "Bad_NS" is not a DNS-1123 label`},
		{"resources: {scale: 1e30}\n", "env.yaml:5:13: resources.scale: scale 1e+30 must be between 0 and 16"},
		{"resources: {scale: .nan}\n", `env.yaml:5:20: resources.scale: invalid number ".nan"`},
		{"images: {placeholder: 'Place:holder'}\n", `env.yaml:5:10: images.placeholder: invalid image reference "Place:holder"`},
		{"images: {stores: {postgres: 'a b'}}\n", `env.yaml:5:10: images.stores.postgres: invalid image reference "a b"`},
		{"images: {tag: '..'}\n", `images.tag: invalid image tag ".."`},
		{"kindOverlay: staging\n", `env.yaml:5:1: kindOverlay: unknown kind overlay "staging" (one of dev, pr)`},
		{"hostPortBase: 33000\n", "host port 33001 is in the ephemeral range 32768-60999"},
	} {
		cat := miniDir(t, map[string]string{"env.yaml": "apiVersion: novadev/v1alpha1\nkind: Environment\nmetadata:\n  name: env\n" + c.body})
		_, err := catalog.Load(cat, catalog.Options{Env: "env"})
		require.Error(t, err, c.body)
		assert.Contains(t, err.Error(), c.want, c.body)
	}
}

// Cancelling while a large catalog decodes and validates returns the
// context's error promptly (the figure is printed; the bound is generous).
func TestLoadCancelledMidway(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "big.yaml")
	data := catalogtest.Synthetic(4000)
	require.NoError(t, os.WriteFile(path, data, 0o644))
	start := time.Now()
	_, err := catalog.Load(path, catalog.Options{})
	full := time.Since(start)
	require.NoError(t, err)

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	start = time.Now()
	go func() { _, err := catalog.LoadContext(ctx, path, catalog.Options{}); done <- err }()
	time.Sleep(full / 10)
	cancel()
	cancelled := time.Now()
	select {
	case err := <-done:
		t.Logf("%d KB catalog: full load %v; cancelled after %v, returned %v later", len(data)/1024, full.Round(time.Millisecond), cancelled.Sub(start).Round(time.Millisecond), time.Since(cancelled).Round(time.Millisecond))
		if err != nil {
			require.ErrorIs(t, err, context.Canceled)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a cancelled load did not return within 10 s")
	}
}
