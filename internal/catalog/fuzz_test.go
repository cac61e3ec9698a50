package catalog_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/novadev/novadev/internal/catalog"
	"github.com/novadev/novadev/internal/catalog/catalogtest"
)

// FuzzParse feeds arbitrary bytes to the loader: it must never panic, and
// a failure must always be a Problems list with positions in the file.
// CI runs the seed corpus (testdata and envs); `make fuzz` explores. The
// fuzzer's own per-input deadline catches inputs that make it slow (an
// alias bomb without the expansion budget took seconds per input).
func FuzzParse(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/*/*.yaml")
	seeds = append(seeds, "../../envs/nova.yaml", "../../envs/local.yaml")
	for _, s := range seeds {
		data, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add(catalogtest.Synthetic(12))
	f.Add([]byte("services: &a {x: *a}"))
	f.Add([]byte("a: !!binary AAAA\n<<: {b: 1}"))
	f.Add(aliasBomb(4))
	f.Add([]byte("services:\n  a: {image: a}\n---\nx: 1\n"))
	f.Add([]byte("bootstraps: [null, ~, {}]\nstores: {r: {kind: redis-cluster, nodes: 2000000000, host: 1}}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := catalog.Parse("fuzz.yaml", data)
		if err == nil {
			if c == nil || c.Env == nil {
				t.Fatal("no error but no catalog")
			}
			c.Graph() // must not panic either
			for _, st := range c.Stores {
				if st.Nodes > catalog.MaxRedisNodes {
					t.Fatalf("store %s: %d nodes passed validation", st.Name, st.Nodes)
				}
			}
			return
		}
		ps, ok := err.(catalog.Problems)
		if !ok || len(ps) == 0 {
			t.Fatalf("error is not a Problems list: %T %v", err, err)
		}
		if len(ps) > 1001 {
			t.Fatalf("%d problems: the report is capped at 1000", len(ps))
		}
		for _, p := range ps {
			if p.Pos.File != "fuzz.yaml" || p.Msg == "" {
				t.Fatalf("problem without file or message: %+v", p)
			}
		}
	})
}

// FuzzLoadEnvironment loads an arbitrary environment file over a valid
// catalog, through an fs.FS: the overlay path (decode, validateEnv,
// applyEnv, host port moves) must never panic and fails only with
// Problems that name the environment or the catalog.
func FuzzLoadEnvironment(f *testing.F) {
	mini, err := os.ReadFile("testdata/valid/minimal.yaml")
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{"../../envs/local.yaml", "../../envs/ci.yaml", "../../envs/pr.yaml"} {
		data, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(strings.ReplaceAll(string(data), "name: "+strings.TrimSuffix(filepath.Base(s), ".yaml"), "name: env"))
	}
	f.Add("apiVersion: novadev/v1alpha1\nkind: Environment\nmetadata: {name: env}\nhostPortBase: 65500\nresources: {scale: 1e30}\n")
	f.Add("kind: Environment\nmetadata: {name: env, labels: {a/b/c: x}}\nnamespace: Bad_NS\nimages: {placeholder: 'UPPER:tag', stores: {postgres: ''}}\n")
	f.Fuzz(func(t *testing.T, env string) {
		fsys := fstest.MapFS{
			"envs/cat.yaml":   {Data: mini},
			"envs/env.yaml":   {Data: []byte(env)},
			"envs/Dockerfile": {Data: []byte("FROM scratch\n")},
		}
		c, err := catalog.LoadContext(context.Background(), "envs/cat.yaml", catalog.Options{Env: "env", FS: fsys})
		if err == nil {
			if c.Env == nil || c.Env.Metadata.Name != "env" {
				t.Fatalf("loaded, but the environment is %+v", c.Env)
			}
			return
		}
		ps, ok := err.(catalog.Problems)
		if !ok || len(ps) == 0 {
			t.Fatalf("error is not a Problems list: %T %v", err, err)
		}
		for _, p := range ps {
			if (p.Pos.File != "envs/env.yaml" && p.Pos.File != "envs/cat.yaml") || p.Msg == "" {
				t.Fatalf("problem without a file of this load or a message: %+v", p)
			}
		}
	})
}

// FuzzParseMigrationName: never panics; a name it accepts has a .sql
// suffix, a '_' and a non-empty description.
func FuzzParseMigrationName(f *testing.F) {
	for _, s := range []string{"20251114000000_init.sql", "1_a.up.sql", "1_a.down.sql", "x_bad.sql", "2_.sql", "init.sql", "README.md", "-1_neg.sql", "99999999999999999999_big.sql"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		_, desc, ok, err := catalog.ParseMigrationName(name)
		if !ok {
			if err != nil || strings.HasSuffix(name, ".sql") {
				t.Fatalf("%q: not a migration but err=%v", name, err)
			}
			return
		}
		if err == nil && (desc == "" || !strings.Contains(name, "_")) {
			t.Fatalf("%q accepted with description %q", name, desc)
		}
	})
}
