package catalog_test

import (
	"testing"

	"github.com/novadev/novadev/internal/catalog"
	"github.com/novadev/novadev/internal/catalog/catalogtest"
	"github.com/stretchr/testify/require"
)

func TestSyntheticCatalogIsValid(t *testing.T) {
	c, err := catalog.Parse("synthetic.yaml", catalogtest.Synthetic(500))
	require.NoError(t, err)
	require.Len(t, c.Services, 500)
	layers, err := c.Graph().Layers()
	require.NoError(t, err)
	require.Len(t, layers, 50+3, "3 layers of stores and bootstraps, then 50 of services")
}

func BenchmarkParseSynthetic500(b *testing.B) {
	data := catalogtest.Synthetic(500)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := catalog.Parse("synthetic.yaml", data); err != nil {
			b.Fatal(err)
		}
	}
}
