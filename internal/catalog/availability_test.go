package catalog_test

import (
	"testing"

	"github.com/novadev/novadev/internal/catalog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Elasticsearch is in every environment's graph (the staging guide:
// search-service depends on postgres and Elasticsearch); whether an
// environment can run it is a separate question, answered per environment.
func TestElasticsearchInEveryGraph(t *testing.T) {
	for _, env := range []string{"", "local", "ci", "pr"} {
		c := loadNova(t, env)
		g := c.Graph()
		_, ok := g.Node("elasticsearch")
		require.True(t, ok, "env %q: elasticsearch is a node", env)
		assert.Contains(t, g.Needs("search-service"), "elasticsearch", "env %q: search-service -> elasticsearch", env)
	}
}

func TestUnavailable(t *testing.T) {
	for env, want := range map[string]string{
		"":      "", // the bare catalog (staging): the upstream image
		"pr":    "", // no offline set: pulls the catalog's upstream image
		"local": catalog.NoOfflineImage,
		"ci":    catalog.NoOfflineImage,
	} {
		c := loadNova(t, env)
		assert.Equal(t, want, c.Unavailable("elasticsearch"), "env %q", env)
		for _, st := range []string{"postgres", "redis", "kafka", "clickhouse", "neo4j", "nope"} {
			assert.Empty(t, c.Unavailable(st), "env %q: %s is not optional", env, st)
		}
	}
}

func TestDegradations(t *testing.T) {
	c := loadNova(t, "local")
	got := c.Degradations(c.Services["search-service"])
	require.Len(t, got, 1)
	assert.Equal(t, "elasticsearch unavailable (no offline image; use --images upstream or a mirror)", got[0].String())
	assert.Empty(t, c.Degradations(c.Services["user-service"]), "uses no optional store")
	pr := loadNova(t, "pr")
	assert.Empty(t, pr.Degradations(pr.Services["search-service"]), "pr runs the upstream image")
}
