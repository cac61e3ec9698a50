package app_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/novadev/novadev/internal/app"
	"github.com/novadev/novadev/internal/backend/docker"
	"github.com/novadev/novadev/internal/backend/docker/dockertest"
	"github.com/novadev/novadev/internal/cli"
)

// TestIntegrationPull: pull on the real engine reports the offline images
// as built locally, never pulls them, and says whether the engine has each
// (the engine itself is the oracle).
func TestIntegrationPull(t *testing.T) {
	eng := dockertest.New(t)
	r := run(t, nil, "pull", "--env", "ci", "-o", "json")
	var v struct {
		OK     bool             `json:"ok"`
		Images []cli.PullResult `json:"images"`
	}
	require.NoError(t, json.Unmarshal([]byte(r.out), &v), r.out+r.err)
	require.NotEmpty(t, v.Images)
	allPresent := true
	unavailable := 0
	for _, img := range v.Images {
		if img.Status == "unavailable" {
			// Elasticsearch has no offline image: not pulled, not a failure
			unavailable++
			assert.Equal(t, "elasticsearch unavailable (no offline image; use --images upstream or a mirror)", img.Unavailable, img.Image)
			continue
		}
		assert.True(t, app.OfflineImage(img.Image), img.Image)
		assert.Equal(t, "built locally", img.Status, img.Image)
		_, err := eng.ImageID(context.Background(), img.Image)
		require.True(t, err == nil || errors.Is(err, docker.ErrNotFound), "%v", err)
		assert.Equal(t, err == nil, img.Present, img.Image)
		allPresent = allPresent && img.Present
	}
	assert.Equal(t, 1, unavailable, "ci runs the offline set: elasticsearch is its one unavailable store")
	assert.Equal(t, allPresent, v.OK)
	if allPresent {
		assert.Equal(t, 0, r.code)
	} else {
		assert.Equal(t, 1, r.code)
	}
}

func TestOfflineImage(t *testing.T) {
	for ref, want := range map[string]bool{
		"novadev/postgres:15": true, "novadev/placeholder:dev": true,
		"docker.io/novadev/postgres:15": false, "ghcr.io/nova-platform/user-service:1.0.0": false,
		"postgres:15": false, "novadev": false,
	} {
		assert.Equal(t, want, app.OfflineImage(ref), ref)
	}
}
