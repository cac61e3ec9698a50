package catalog_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/novadev/novadev/internal/catalog"
	"github.com/novadev/novadev/internal/catalog/catalogtest"
)

// FuzzParse feeds arbitrary bytes to the loader: it must never panic, and
// a failure must always be a Problems list with positions in the file.
// CI runs the seed corpus (testdata and envs); `make fuzz` explores.
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
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := catalog.Parse("fuzz.yaml", data)
		if err == nil {
			if c == nil || c.Env == nil {
				t.Fatal("no error but no catalog")
			}
			c.Graph() // must not panic either
			return
		}
		ps, ok := err.(catalog.Problems)
		if !ok || len(ps) == 0 {
			t.Fatalf("error is not a Problems list: %T %v", err, err)
		}
		for _, p := range ps {
			if p.Pos.File != "fuzz.yaml" || p.Msg == "" {
				t.Fatalf("problem without file or message: %+v", p)
			}
		}
	})
}
