package render_test

import (
	"os"
	"testing"

	"github.com/novadev/novadev/internal/catalog"
	"github.com/novadev/novadev/internal/catalog/catalogtest"
	"github.com/novadev/novadev/internal/render/compose"
	"github.com/stretchr/testify/require"
)

// loadValidateRender is the whole pure pipeline for one environment: parse,
// validate, build the graph, render the compose file.
func loadValidateRender(tb testing.TB, name string, data []byte) []byte {
	c, err := catalog.Parse(name, data)
	if err != nil {
		tb.Fatal(err)
	}
	files, err := compose.Render(&catalog.Set{Base: c, Envs: map[string]*catalog.Catalog{"local": c}})
	if err != nil {
		tb.Fatal(err)
	}
	return files[compose.FileName("local")]
}

func TestPipelineSynthetic500(t *testing.T) {
	out := loadValidateRender(t, "synthetic.yaml", catalogtest.Synthetic(500))
	require.Contains(t, string(out), "svc-0499:")
	require.Contains(t, string(out), "svc-0000:")
}

// BenchmarkLoadValidateRenderNova: the Nova catalog, bytes to compose file.
func BenchmarkLoadValidateRenderNova(b *testing.B) {
	data, err := os.ReadFile("../../envs/nova.yaml")
	require.NoError(b, err)
	b.ResetTimer()
	for b.Loop() {
		loadValidateRender(b, "nova.yaml", data)
	}
}

// BenchmarkLoadValidateRender500: a synthetic 500-service catalog; the
// target is under 50 ms per run on the project's 2-core machines.
func BenchmarkLoadValidateRender500(b *testing.B) {
	data := catalogtest.Synthetic(500)
	b.ResetTimer()
	for b.Loop() {
		loadValidateRender(b, "synthetic.yaml", data)
	}
}
