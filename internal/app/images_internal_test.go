package app

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/novadev/novadev/internal/backend/docker"
	"github.com/novadev/novadev/internal/catalog"
	"github.com/novadev/novadev/internal/event"
	"github.com/novadev/novadev/internal/state"
)

// fakeImages is an engine with some images present and pulls that
// succeed (adding the image) or fail as told.
type fakeImages struct {
	present map[string]bool
	fail    map[string]error
	pulled  []string
	// containers is what Observe reports for the project.
	containers []state.Container
	observed   int
}

func (f *fakeImages) Observe(_ context.Context, project string) (*state.Observed, error) {
	f.observed++
	return &state.Observed{Project: project, Containers: f.containers}, nil
}

func (f *fakeImages) ImageID(_ context.Context, ref string) (string, error) {
	if f.present[ref] {
		return "sha256:id", nil
	}
	return "", docker.ErrNotFound
}

func (f *fakeImages) Pull(_ context.Context, ref string, fn func(docker.PullProgress)) error {
	f.pulled = append(f.pulled, ref)
	if err := f.fail[ref]; err != nil {
		return err
	}
	fn(docker.PullProgress{Layer: "abc123", Status: "Downloading", Current: 5e6, Total: 1e7})
	fn(docker.PullProgress{Layer: "abc123", Status: "Pull complete"})
	f.present[ref] = true
	return nil
}

func (f *fakeImages) RepoDigest(_ context.Context, ref string) (string, error) {
	return "sha256:" + strings.Repeat("a", 64), nil
}

func imgCatalog(t *testing.T, images string, opts catalog.Options) *catalog.Catalog {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "img.yaml")
	require.NoError(t, os.WriteFile(path, []byte("apiVersion: novadev/v1alpha1\nkind: Environment\nmetadata: {name: img}\nhostPortBase: 21000\nimages:\n  lock: images.lock\n"+images), 0o644))
	opts.Env = path
	c, err := catalog.Load("../../envs/nova.yaml", opts)
	require.NoError(t, err)
	return c
}

func TestResolveImagesAutoFallsBackPerImage(t *testing.T) {
	c := imgCatalog(t, "  source: auto\n", catalog.Options{Mirror: "127.0.0.1:5205"})
	eng := &fakeImages{present: map[string]bool{"novadev/kafka:kfake": true, "novadev/postgres:15": true, "novadev/redis:7": true, "novadev/clickhouse:18.16": true},
		fail: map[string]error{"127.0.0.1:5205/apache/kafka:3.7.0": errors.New("manifest unknown\nmore")}}
	rec := &event.Recorder{}
	pol := &ImagePolicy{Pull: true, Sink: rec}
	require.NoError(t, resolveImages(context.Background(), c, eng, pol))
	assert.Equal(t, "novadev/kafka:kfake", c.Stores["kafka"].DockerImage(), "kafka fell back")
	assert.Equal(t, "127.0.0.1:5205/library/postgres:15", c.Stores["postgres"].DockerImage())
	fb := rec.Of(event.ImageFallback)
	require.Len(t, fb, 1)
	assert.Equal(t, "kafka", fb[0].Node)
	assert.Equal(t, "using the offline image novadev/kafka:kfake: pull 127.0.0.1:5205/apache/kafka:3.7.0: manifest unknown", fb[0].Detail)
	assert.Len(t, rec.Of(event.Pulled), 3, "postgres, redis, clickhouse")
	assert.NotEmpty(t, rec.Of(event.Pulling))
	notes := rec.Of(event.Note)
	require.NotEmpty(t, notes)
	assert.Equal(t, "images: pulled clickhouse, postgres, redis; fell back to offline kafka (pull 127.0.0.1:5205/apache/kafka:3.7.0: manifest unknown)", notes[len(notes)-1].Detail)

	// a second resolution without pulling (status) finds the same
	c2 := imgCatalog(t, "  source: auto\n", catalog.Options{Mirror: "127.0.0.1:5205"})
	eng.pulled = nil
	require.NoError(t, resolveImages(context.Background(), c2, eng, nil))
	assert.Empty(t, eng.pulled, "status never pulls")
	for _, n := range []string{"kafka", "postgres", "redis", "clickhouse"} {
		assert.Equal(t, c.Stores[n].DockerImage(), c2.Stores[n].DockerImage(), n)
	}
}

// A warm up on a machine with no registry: the stores already run their
// offline images, so up does not try (and fail) the upstream pulls again;
// a store with no running container is pulled as on a first up, and
// novadev pull (Retry) tries every one.
func TestResolveImagesAutoKeepsTheRunningOfflineImage(t *testing.T) {
	// setup: a catalog, and an engine with every offline image, no registry
	// and the project's containers; targets are the stores' upstream pulls.
	setup := func(source string) (*catalog.Catalog, *fakeImages, map[string]string) {
		c := imgCatalog(t, "  source: "+source+"\n", catalog.Options{})
		eng := &fakeImages{present: map[string]bool{}, fail: map[string]error{}, containers: []state.Container{
			{Node: "postgres", Image: "novadev/postgres:15", State: state.Running},
			{Node: "redis", Image: "novadev/redis:7", State: state.Running},
			{Node: "redis", Image: "novadev/redis:7", State: state.Running},
			{Node: "kafka", Image: "novadev/kafka:kfake", State: "exited"},  // stopped: up starts a container again
			{Node: "clickhouse", Image: "sha256:0ld", State: state.Running}, // the offline tag moved on: recreated
		}}
		targets := map[string]string{}
		for _, n := range c.StoreNames() {
			st := c.Stores[n]
			if st.Fallback != "" { // elasticsearch has none: unavailable, never pulled
				eng.present[st.Fallback] = true
				targets[n] = st.Pull
				eng.fail[st.Pull] = errors.New("dial tcp: lookup registry-1.docker.io: no such host")
			}
		}
		return c, eng, targets
	}

	c, eng, targets := setup("auto")
	for _, n := range []string{"postgres", "redis", "kafka", "clickhouse"} {
		require.NotEmpty(t, c.Stores[n].Fallback, n)
	}
	rec := &event.Recorder{}
	pol := &ImagePolicy{Pull: true, Sink: rec}
	require.NoError(t, resolveImages(context.Background(), c, eng, pol))
	assert.NotContains(t, eng.pulled, targets["postgres"], "postgres runs its offline image: not pulled again")
	assert.NotContains(t, eng.pulled, targets["redis"])
	assert.Contains(t, eng.pulled, targets["kafka"], "no running container: pulled as on a first up")
	assert.Contains(t, eng.pulled, targets["clickhouse"], "its container runs another image: pulled")
	assert.Equal(t, 1, eng.observed, "the project is listed once")
	got := map[string]string{}
	for _, ch := range pol.Choices {
		got[ch.Store] = ch.Status
	}
	assert.Equal(t, ImageInUse, got["postgres"])
	assert.Equal(t, ImageInUse, got["redis"])
	assert.Equal(t, ImageFellBack, got["kafka"])
	assert.Equal(t, ImageFellBack, got["clickhouse"])
	for n, img := range map[string]string{"postgres": "novadev/postgres:15", "redis": "novadev/redis:7", "kafka": "novadev/kafka:kfake", "clickhouse": "novadev/clickhouse:18.16"} {
		assert.Equal(t, img, c.Stores[n].DockerImage(), n)
	}
	for _, e := range rec.Of(event.ImageFallback) {
		assert.NotContains(t, []string{"postgres", "redis"}, e.Node, "nothing fell back: it was not tried")
	}
	notes := rec.Of(event.Note)
	require.NotEmpty(t, notes)
	assert.Contains(t, notes[len(notes)-1].Detail, "offline image in use (not pulled again) postgres, redis; ")

	// novadev pull retries them all
	c, eng, targets = setup("auto")
	require.NoError(t, resolveImages(context.Background(), c, eng, &ImagePolicy{Pull: true, Retry: true}))
	for n, ref := range targets {
		assert.Contains(t, eng.pulled, ref, n)
	}

	// an upstream image on the engine still wins over the running offline one
	c, eng, targets = setup("auto")
	eng.present[targets["postgres"]] = true
	require.NoError(t, resolveImages(context.Background(), c, eng, &ImagePolicy{Pull: true}))
	assert.Equal(t, targets["postgres"], c.Stores["postgres"].DockerImage())
	assert.NotContains(t, eng.pulled, targets["postgres"])

	// nothing to pull: the project is not even listed
	c, eng, _ = setup("offline")
	require.NoError(t, resolveImages(context.Background(), c, eng, &ImagePolicy{Pull: true}))
	assert.Zero(t, eng.observed)
}

func TestResolveImagesUpstreamFailsAndLockPins(t *testing.T) {
	c := imgCatalog(t, "  source: upstream\n", catalog.Options{})
	eng := &fakeImages{present: map[string]bool{}, fail: map[string]error{"postgres:15": errors.New("dial tcp: lookup registry-1.docker.io: no such host")}}
	err := resolveImages(context.Background(), c, eng, &ImagePolicy{Pull: true, Only: []string{"user-service"}})
	require.Error(t, err)
	assert.Equal(t, "--images upstream: 1 store image(s) could not be pulled: postgres (pull postgres:15: dial tcp: lookup registry-1.docker.io: no such host); --images auto falls back to the offline set where a store has one, or set NOVADEV_IMAGE_MIRROR to a registry mirror", err.Error())
	assert.Equal(t, []string{"postgres:15"}, eng.pulled, "--only user-service: only its store is pulled")

	// --update-lock records digests; the next up pulls name@digest
	c = imgCatalog(t, "  source: upstream\n", catalog.Options{Mirror: "m.corp:5000"})
	eng = &fakeImages{present: map[string]bool{}}
	pol := &ImagePolicy{UpdateLock: true, Only: []string{"user-service"}}
	require.NoError(t, resolveImages(context.Background(), c, eng, pol))
	data, err := os.ReadFile(LockFile(c))
	require.NoError(t, err)
	assert.Contains(t, string(data), "docker.io/library/postgres:15 sha256:"+strings.Repeat("a", 64)+"\n")
	c = imgCatalog(t, "  source: upstream\n", catalog.Options{Mirror: "m.corp:5000"})
	require.NoError(t, os.WriteFile(LockFile(c), data, 0o644))
	eng = &fakeImages{present: map[string]bool{}}
	require.NoError(t, resolveImages(context.Background(), c, eng, &ImagePolicy{Pull: true, Only: []string{"user-service"}}))
	assert.Equal(t, []string{"m.corp:5000/library/postgres:15@sha256:" + strings.Repeat("a", 64)}, eng.pulled)
	assert.Equal(t, eng.pulled[0], c.Stores["postgres"].DockerImage())

	// a broken lock is an error with its position
	require.NoError(t, os.WriteFile(LockFile(c), []byte("postgres:15 nope\n"), 0o644))
	err = resolveImages(context.Background(), c, eng, nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "images.lock:1: ")
}

func TestResolveImagesOfflineNeverPulls(t *testing.T) {
	c := imgCatalog(t, "  source: offline\n", catalog.Options{})
	eng := &fakeImages{present: map[string]bool{"novadev/postgres:15": true}}
	pol := &ImagePolicy{Pull: true}
	require.NoError(t, resolveImages(context.Background(), c, eng, pol))
	assert.Empty(t, eng.pulled)
	got := map[string]string{}
	for _, ch := range pol.Choices {
		got[ch.Store] = ch.Status
	}
	assert.Equal(t, ImageOffline, got["postgres"])
	assert.Equal(t, ImageMissing, got["redis"], "not built")
	assert.Equal(t, ImageMissing, got["kafka"])
}

// Doctor on a machine with neither the offline images nor a registry says
// where each store's image would come from and what to do.
func TestImageSourcesCheckSaysWhatToDo(t *testing.T) {
	c := imgCatalog(t, "  source: auto\n", catalog.Options{Mirror: "127.0.0.1:5205"})
	pol := &ImagePolicy{}
	require.NoError(t, resolveImages(context.Background(), c, &fakeImages{present: map[string]bool{}}, pol))
	chk := imageSourcesCheck(c, pol.Choices)
	assert.False(t, chk.OK)
	assert.Equal(t, "image sources", chk.What)
	assert.Contains(t, chk.Detail, "source auto, mirror 127.0.0.1:5205; clickhouse: ")
	assert.Contains(t, chk.Detail, "postgres: novadev/postgres:15 (missing: neither 127.0.0.1:5205/library/postgres:15 nor the offline novadev/postgres:15 is on the engine)")
	assert.Contains(t, chk.Fix, "no image for clickhouse, kafka, postgres, redis: on Linux build the offline set with make images")
	assert.Contains(t, chk.Fix, "NOVADEV_IMAGE_MIRROR=host[:port][/prefix]")
}
