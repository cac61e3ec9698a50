package docker_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/novadev/novadev/internal/backend"
	"github.com/novadev/novadev/internal/backend/docker"
	"github.com/novadev/novadev/internal/backend/docker/enginefake"
	"github.com/novadev/novadev/internal/catalog"
	"github.com/novadev/novadev/internal/render/compose"
	"github.com/novadev/novadev/internal/state"
)

// shopInstance is the shop catalog as instance name on eng.
func shopInstance(t *testing.T, eng *enginefake.Driver, name string) *docker.Backend {
	t.Helper()
	c, err := catalog.Load("testdata/shop/shop.yaml", catalog.Options{Env: "dev", Instance: name, HostPortBase: 10000})
	require.NoError(t, err)
	p, err := compose.Project(c)
	require.NoError(t, err)
	spec, err := docker.FromCompose(p, state.Identity{Project: c.Env.Project, Env: "dev", Instance: name, PortBase: 10000}, func(k string) (string, bool) { return "pw-" + k, true })
	require.NoError(t, err)
	b := docker.New(eng, spec)
	b.PortFree = func(int) error { return nil }
	return b
}

func upStores(t *testing.T, b *docker.Backend, nodes ...string) {
	t.Helper()
	ctx := context.Background()
	snap := observe(t, b)
	require.NoError(t, b.Prepare(ctx, snap, nodes))
	for _, n := range nodes {
		_, err := b.Apply(ctx, n)
		require.NoError(t, err)
	}
}

func snapEngine() *enginefake.Driver {
	im := shopImages()
	im[docker.CopyImage] = "sha256:base"
	return enginefake.New(im)
}

// save pauses the stores, copies each of their volumes into a labelled
// volume of the snapshot (no project label: no instance's down or gc
// removes it), thaws them, and writes the manifest last; restore creates
// another instance's volumes, with that instance's labels, from the copy.
func TestSnapshotSaveAndRestore(t *testing.T) {
	ctx := context.Background()
	eng := snapEngine()
	a := shopInstance(t, eng, "snap-a")
	upStores(t, a, "postgres", "redis")
	pg := "shop-dev-snap-a_postgres-data"
	eng.SetVolumeData(pg, "rows of snap-a")
	eng.ResetCalls()

	sc, err := a.SaveStores(ctx, "base", []string{"postgres", "redis"}, map[string]string{"caller": "label"})
	require.NoError(t, err)
	require.Equal(t, []string{"postgres-data", "redis-1-data", "redis-2-data", "redis-3-data"}, sc.Volumes)
	require.Equal(t, int64(len("rows of snap-a")), sc.Size)
	require.Equal(t, "shop-dev-snap-a", sc.Source)
	calls := eng.Calls()
	pauses, copies, thaws := 0, 0, 0
	last := ""
	for _, c := range calls {
		switch {
		case strings.HasPrefix(c, "pause "):
			require.Zero(t, copies, "every store is paused before the first copy: %q", calls)
			pauses++
		case strings.HasPrefix(c, "copy volume "):
			copies++
		case strings.HasPrefix(c, "unpause "):
			thaws++
		}
		last = c
	}
	require.Equal(t, 4, pauses, "postgres and the three redis nodes: %q", calls)
	require.Equal(t, 4, copies)
	require.Equal(t, 4, thaws, "every paused store is resumed")
	require.Equal(t, "create volume novadev-snapshot-base", last, "the manifest is written last")
	for _, c := range eng.Containers() {
		require.Equal(t, state.Running, c.State, c.Workload.Name)
	}

	list, err := a.StoreCopies(ctx)
	require.NoError(t, err)
	require.Len(t, list, 1)
	require.Equal(t, "label", list[0].Labels["caller"])
	require.Equal(t, sc.Volumes, list[0].Volumes)
	require.Equal(t, "dev", list[0].Env)

	_, err = a.SaveStores(ctx, "base", []string{"postgres"}, nil)
	require.ErrorContains(t, err, "snapshot base exists")
	require.ErrorContains(t, err, "novadev snapshot rm base")

	b := shopInstance(t, eng, "snap-b")
	require.NoError(t, b.RestoreStores(ctx, list[0]))
	bpg := "shop-dev-snap-b_postgres-data"
	require.Equal(t, "rows of snap-a", eng.VolumeData(bpg))
	snap := observe(t, b)
	for _, r := range snap.Resources {
		if r.Name == bpg {
			require.True(t, r.Exists, "the restored volume is the instance's own")
		}
	}
	obs, err := eng.Observe(ctx, "shop-dev-snap-b")
	require.NoError(t, err)
	require.Equal(t, "snap-b", obs.Volume(bpg).Labels[state.LabelInstance])
	require.ErrorContains(t, b.RestoreStores(ctx, list[0]), "exists already", "nothing is overwritten")
	require.Equal(t, "rows of snap-a", eng.VolumeData(pg), "the source is untouched")

	// down --volumes of the source leaves the snapshot alone
	_, err = a.Teardown(ctx, true)
	require.NoError(t, err)
	list, err = b.StoreCopies(ctx)
	require.NoError(t, err)
	require.Len(t, list, 1)

	require.NoError(t, b.RemoveStoreCopy(ctx, "base"))
	list, err = b.StoreCopies(ctx)
	require.NoError(t, err)
	require.Empty(t, list)
	vols, err := eng.VolumesWithLabel(ctx, state.LabelSnapshot)
	require.NoError(t, err)
	require.Empty(t, vols, "rm removes every volume of the snapshot")
	require.True(t, errors.Is(b.RemoveStoreCopy(ctx, "base"), backend.ErrNotFound))
}

// Refusals before anything is copied: a stopped store, a missing copy
// image; the leftovers of an interrupted save are cleared by the next.
func TestSnapshotSaveRefusals(t *testing.T) {
	ctx := context.Background()
	eng := snapEngine()
	a := shopInstance(t, eng, "snap-a")
	_, err := a.SaveStores(ctx, "x", []string{"postgres"}, nil)
	require.ErrorContains(t, err, "does not exist: run novadev up")

	upStores(t, a, "postgres")
	eng.SetState("shop-dev-snap-a-postgres-1", state.Exited)
	_, err = a.SaveStores(ctx, "x", []string{"postgres"}, nil)
	require.ErrorContains(t, err, "is exited, not running")
	eng.SetState("shop-dev-snap-a-postgres-1", state.Running)

	require.NoError(t, eng.CreateVolume(ctx, docker.VolumeSpec{Name: state.SnapshotDataVolume("x", "postgres-data"), Labels: map[string]string{
		state.LabelManagedBy: state.ManagedBy, state.LabelSnapshot: "x"}}))
	_, err = a.SaveStores(ctx, "x", []string{"postgres"}, nil)
	require.NoError(t, err, "an interrupted save's leftover (no manifest) does not block a new save")

	noBase := enginefake.New(shopImages())
	c := shopInstance(t, noBase, "snap-c")
	upStores(t, c, "postgres")
	_, err = c.SaveStores(ctx, "y", []string{"postgres"}, nil)
	require.ErrorContains(t, err, docker.CopyImage)
}
