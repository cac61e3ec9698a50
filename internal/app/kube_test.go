package app

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/client-go/rest"

	"github.com/novadev/novadev/internal/backend/kube"
	"github.com/novadev/novadev/internal/catalog"
)

// The built dev overlay maps onto the graph: each store its StatefulSet,
// each service its Deployment, each bootstrap its Job; ports forwarded as
// the stores announce themselves (Redis per pod, the others by Service).
func TestKubeSpecMapsTheGraph(t *testing.T) {
	c, err := catalog.Load("../../envs/nova.yaml", catalog.Options{Env: "local"})
	require.NoError(t, err)
	t.Setenv("NOVADEV_CACHE", t.TempDir())
	sp, err := kubeSpec(context.Background(), &Env{Catalog: c, Lookup: func(string) (string, bool) { return "pw", true }})
	require.NoError(t, err)
	assert.Equal(t, "nova-local", sp.Namespace)
	for _, o := range sp.Objects {
		if o.GetKind() != "Namespace" {
			require.Equal(t, "nova-local", o.GetNamespace(), "%s/%s", o.GetKind(), o.GetName())
		}
	}
	b, err := kube.New(&rest.Config{Host: "http://127.0.0.1:1"}, sp) // no request is made
	require.NoError(t, err)
	defer b.Close()
	g := c.Graph()
	var deps, sets, jobs int
	for _, n := range g.Names() {
		it, _ := g.Node(n)
		objs := b.Objects(n)
		if it.Kind == catalog.KindStore && (it.Store.External || it.Unavailable != "") {
			assert.Empty(t, objs, n, "external, or unavailable in this environment (the overlay deletes it)")
			continue
		}
		require.NotEmpty(t, objs, n)
		last := objs[len(objs)-1]
		switch it.Kind {
		case catalog.KindService:
			assert.Equal(t, "Deployment/"+n, last)
			deps++
		case catalog.KindStore:
			assert.Equal(t, "StatefulSet/"+n, last)
			sets++
		case catalog.KindBootstrap:
			assert.Equal(t, []string{"Job/" + n}, objs)
			jobs++
		}
	}
	assert.Equal(t, []int{16, 4, 6}, []int{deps, sets, jobs})
	var redis []string
	for _, p := range b.Ports("redis") {
		redis = append(redis, p.Internal)
		assert.NotZero(t, p.HostPort)
	}
	assert.Equal(t, []string{"redis-0.redis:7001", "redis-1.redis:7001", "redis-2.redis:7001"}, redis)
	pg := b.Ports("postgres")
	require.Len(t, pg, 1)
	assert.Equal(t, "postgres:5432", pg[0].Internal)
	assert.Equal(t, "postgres.nova-local.svc.cluster.local:5432", b.ClusterAddress(pg[0]))
	// what the kind target loads: the offline set and novadev's own image
	// (under the local registry the rendered cluster config mirrors)
	var want []string
	for _, im := range []string{"novadev/clickhouse:18.16", "novadev/kafka:kfake", "novadev/novadev:dev", "novadev/placeholder:dev", "novadev/postgres:15", "novadev/redis:7"} {
		want = append(want, "localhost:5005/"+im)
	}
	assert.Equal(t, want, specImages(sp))
}
