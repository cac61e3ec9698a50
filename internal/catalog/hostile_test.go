package catalog_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/novadev/novadev/internal/catalog"
)

// AliasBomb returns a small catalog whose aliases expand to about k^3
// ClickHouse columns: k=300 is under 5 KB and, expanded, 27 million
// columns (gigabytes) — the "12.8 KB catalog grows to 2.3 GB".
func aliasBomb(k int) []byte {
	refs := func(name string) string {
		return "[" + strings.TrimSuffix(strings.Repeat("*"+name+", ", k), ", ") + "]"
	}
	return []byte(fmt.Sprintf(`apiVersion: novadev/v1alpha1
kind: Catalog
metadata: {name: bomb}
x-col: &col {name: a, type: String}
x-cols: &cols %s
x-table: &table {name: t, orderBy: a, columns: *cols}
x-tables: &tables %s
x-db: &db {name: d, tables: *tables}
x-dbs: &dbs %s
stores:
  ch: {kind: clickhouse, image: "clickhouse:1", databases: *dbs}
services:
  a: {image: a}
`, refs("col"), refs("table"), refs("db")))
}

// TestHelperLoad is not a test: TestHostileInputs runs the test binary
// again with NOVADEV_TEST_LOAD set, so that each hostile input is loaded
// in a process of its own whose peak memory (rusage maxrss) and time can
// be measured, and a hang is killed instead of hanging the suite.
func TestHelperLoad(t *testing.T) {
	path := os.Getenv("NOVADEV_TEST_LOAD")
	if path == "" {
		t.Skip("helper process for TestHostileInputs")
	}
	if os.Getenv("NOVADEV_TEST_SET") != "" {
		_, err := catalog.LoadSetContext(context.Background(), path)
		fmt.Printf("RESULT %v\n", err)
		return
	}
	_, err := catalog.LoadContext(context.Background(), path, catalog.Options{Env: os.Getenv("NOVADEV_TEST_ENV")})
	fmt.Printf("RESULT %v\n", err)
}

// TestHostileInputs: each input of issue 12's list is refused with a
// position or a clear reason, within a second and in bounded memory.
// Figures are printed; the bounds asserted are generous (10 s, 200 MB) so
// a loaded CI machine does not flake.
func TestHostileInputs(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("measures peak RSS through Linux rusage")
	}
	mini, err := os.ReadFile("testdata/valid/minimal.yaml")
	require.NoError(t, err)
	withStore := func(extra string) []byte {
		return []byte(strings.Replace(string(mini), "stores:\n", "stores:\n"+extra, 1))
	}
	require.Contains(t, string(mini), "stores:\n")

	type tc struct {
		name  string
		setup func(t *testing.T, dir string) (catalog string, env string)
		want  []string // all must appear in the result
	}
	write := func(t *testing.T, path string, data []byte) {
		require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
		require.NoError(t, os.WriteFile(path, data, 0o644))
	}
	cases := []tc{
		{"alias bomb", func(t *testing.T, dir string) (string, string) {
			data := aliasBomb(300)
			t.Logf("alias bomb: %d bytes", len(data))
			write(t, filepath.Join(dir, "bomb.yaml"), data)
			return filepath.Join(dir, "bomb.yaml"), ""
		}, []string{"bomb.yaml:9:", "alias *", "refusing an alias bomb"}},
		{"a catalog full of mistakes", func(t *testing.T, dir string) (string, string) {
			// just under the size cap: 24,000 services, each with an unknown
			// dependency (suggestions would be quadratic) and problems past the cap
			var b strings.Builder
			b.WriteString("apiVersion: novadev/v1alpha1\nkind: Catalog\nmetadata: {name: many}\nservices:\n")
			for i := 0; b.Len() < catalog.MaxCatalogSize-100; i++ {
				fmt.Fprintf(&b, "  s%d: {image: a, dependsOn: [q%d]}\n", i, i)
			}
			write(t, filepath.Join(dir, "many.yaml"), []byte(b.String()))
			return filepath.Join(dir, "many.yaml"), ""
		}, []string{`unknown service or store "q0"`, "more than 1000 problems: the rest are not shown"}},
		{"20000 bootstraps", func(t *testing.T, dir string) (string, string) {
			var b strings.Builder
			b.WriteString("apiVersion: novadev/v1alpha1\nkind: Catalog\nmetadata: {name: boots}\nstores:\n  pg: {kind: postgres, image: postgres:15}\nbootstraps:\n")
			for i := 0; i < 20000; i++ {
				fmt.Fprintf(&b, "  - {name: b%d, step: postgres-init, store: pg}\n", i)
			}
			b.WriteString("services:\n  a: {image: a, database: {}}\n")
			write(t, filepath.Join(dir, "boots.yaml"), []byte(b.String()))
			return filepath.Join(dir, "boots.yaml"), ""
		}, []string{"boots.yaml:6:1: bootstraps: 20000 bootstraps: at most 64"}},
		{"larger than the cap", func(t *testing.T, dir string) (string, string) {
			write(t, filepath.Join(dir, "huge.yaml"), []byte("# "+strings.Repeat("x", catalog.MaxCatalogSize)+"\n"))
			return filepath.Join(dir, "huge.yaml"), ""
		}, []string{"huge.yaml: reading catalog: 1048579 bytes: larger than the 1 MiB cap"}},
		{"nodes 2000000000", func(t *testing.T, dir string) (string, string) {
			write(t, filepath.Join(dir, "c.yaml"), withStore("  cache: {kind: redis-cluster, image: redis:7, host: 21500, nodes: 2000000000}\n"))
			return filepath.Join(dir, "c.yaml"), ""
		}, []string{"c.yaml:", "stores.cache.nodes: a Redis Cluster has 3 to 32 masters, got 2000000000"}},
		{"nodes 1000000", func(t *testing.T, dir string) (string, string) {
			write(t, filepath.Join(dir, "c.yaml"), withStore("  cache: {kind: redis-cluster, image: redis:7, host: 21500, nodes: 1000000}\n"))
			return filepath.Join(dir, "c.yaml"), ""
		}, []string{"stores.cache.nodes: a Redis Cluster has 3 to 32 masters, got 1000000"}},
		{"/dev/zero", func(t *testing.T, dir string) (string, string) { return "/dev/zero", "" },
			[]string{"/dev/zero: reading catalog: not a regular file: it is a device"}},
		{"fifo catalog", func(t *testing.T, dir string) (string, string) {
			p := filepath.Join(dir, "fifo.yaml")
			require.NoError(t, syscall.Mkfifo(p, 0o644))
			return p, ""
		}, []string{"fifo.yaml: reading catalog: not a regular file: it is a named pipe (fifo)"}},
		{"fifo environment", func(t *testing.T, dir string) (string, string) {
			write(t, filepath.Join(dir, "c.yaml"), mini)
			require.NoError(t, syscall.Mkfifo(filepath.Join(dir, "local.yaml"), 0o644))
			return filepath.Join(dir, "c.yaml"), "local"
		}, []string{"local.yaml: reading environment \"local\": not a regular file: it is a named pipe (fifo)"}},
		{"symlink loop", func(t *testing.T, dir string) (string, string) {
			require.NoError(t, os.Symlink(filepath.Join(dir, "b.yaml"), filepath.Join(dir, "a.yaml")))
			require.NoError(t, os.Symlink(filepath.Join(dir, "a.yaml"), filepath.Join(dir, "b.yaml")))
			return filepath.Join(dir, "a.yaml"), ""
		}, []string{"a.yaml: reading catalog: too many levels of symbolic links"}},
		{"dangling default environment", func(t *testing.T, dir string) (string, string) {
			write(t, filepath.Join(dir, "c.yaml"), mini)
			require.NoError(t, os.Symlink(filepath.Join(dir, "gone.yaml"), filepath.Join(dir, "local.yaml")))
			return filepath.Join(dir, "c.yaml"), "local"
		}, []string{"local.yaml: environment \"local\": ", "local.yaml is a symlink to ", "gone.yaml, which does not exist"}},
		{"../ escape", func(t *testing.T, dir string) (string, string) {
			cat := filepath.Join(dir, "proj", "envs", "c.yaml")
			src := strings.Replace(string(mini), "services:\n", "protos: {root: proto}\nservices:\n", 1)
			src = strings.Replace(src, "  api:\n", "  api:\n    protos: [../../../../../../../../etc/hostname]\n", 1)
			write(t, cat, []byte(src))
			require.NoError(t, os.MkdirAll(filepath.Join(dir, "proj", "envs", "proto"), 0o755))
			return cat, ""
		}, []string{"services.api.protos[0]: proto file \"../../../../../../../../etc/hostname\" leaves protos.root"}},
		{"protos.root escape", func(t *testing.T, dir string) (string, string) {
			cat := filepath.Join(dir, "proj", "envs", "c.yaml")
			write(t, cat, []byte(strings.Replace(string(mini), "services:\n", "protos: {root: ../../../../../../etc}\nservices:\n", 1)))
			return cat, ""
		}, []string{"protos.root: path \"../../../../../../etc\" leads outside the project"}},
		{"symlink escape", func(t *testing.T, dir string) (string, string) {
			cat := filepath.Join(dir, "proj", "envs", "c.yaml")
			write(t, cat, []byte(strings.Replace(string(mini), "services:\n", "protos: {root: proto, baseline: proto/base.json}\nservices:\n", 1)))
			require.NoError(t, os.MkdirAll(filepath.Join(dir, "proj", "envs", "proto"), 0o755))
			require.NoError(t, os.Symlink("/etc/hostname", filepath.Join(dir, "proj", "envs", "proto", "base.json")))
			return cat, ""
		}, []string{"protos.baseline: path \"proto/base.json\" is a symlink to /etc/hostname, outside the project"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			cat, env := c.setup(t, dir)
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestHelperLoad$", "-test.v")
			cmd.Env = append(os.Environ(), "NOVADEV_TEST_LOAD="+cat, "NOVADEV_TEST_ENV="+env)
			start := time.Now()
			out, err := cmd.CombinedOutput()
			wall := time.Since(start)
			require.NoError(t, ctx.Err(), "the load hung: killed after 60 s")
			require.NoError(t, err, "%s", out)
			rss := cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss * 1024
			t.Logf("%s: refused in %v, peak RSS %.1f MB", c.name, wall.Round(time.Millisecond), float64(rss)/1e6)
			result := string(out)
			require.Contains(t, result, "RESULT ")
			for _, w := range c.want {
				assert.Contains(t, result, w)
			}
			assert.NotContains(t, result, "RESULT <nil>")
			assert.Less(t, rss, int64(200e6), "peak RSS")
			assert.Less(t, wall, 10*time.Second, "generous: the aim is under a second")
		})
	}
}
