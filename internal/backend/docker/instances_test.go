package docker_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/novadev/novadev/internal/backend/docker"
	"github.com/novadev/novadev/internal/backend/docker/enginefake"
	"github.com/novadev/novadev/internal/state"
)

func TestInstancesRecordsAndRemove(t *testing.T) {
	ctx := context.Background()
	eng := enginefake.New(map[string]string{"img": "sha256:1"})
	in := docker.Instances{Engine: eng}
	r := state.InstanceRecord{Target: "docker", Env: "ci", Instance: "a", Project: "nova-ci-a", PortBase: 10000, PortSpan: 420,
		Created: time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC), Expires: time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)}
	require.NoError(t, in.Write(ctx, r))
	r.Expires = r.Expires.Add(time.Hour)
	require.NoError(t, in.Write(ctx, r), "a record is replaced, not refused")
	recs, bad, err := in.Records(ctx)
	require.NoError(t, err)
	assert.Empty(t, bad)
	require.Equal(t, []state.InstanceRecord{r}, recs)

	// a broken record is reported and never parsed into an instance
	l := r.Labels()
	l[state.LabelProject], l[state.LabelExpires] = "nova-ci-b", "tomorrow"
	require.NoError(t, eng.CreateVolume(ctx, docker.VolumeSpec{Name: state.InstanceRecordVolume("nova-ci-b"), Labels: l}))
	recs, bad, err = in.Records(ctx)
	require.NoError(t, err)
	assert.Len(t, recs, 1)
	require.Len(t, bad, 1)
	assert.Contains(t, bad[0].Error(), state.LabelExpires)

	// Remove takes novadev's objects of the project, nothing else
	id := state.Identity{Project: "nova-ci-a", Instance: "a", PortBase: 10000}
	require.NoError(t, eng.CreateNetwork(ctx, docker.NetworkSpec{Name: "nova-ci-a_default", Labels: id.NetworkLabels("default")}))
	require.NoError(t, eng.CreateVolume(ctx, docker.VolumeSpec{Name: "nova-ci-a_data", Labels: id.VolumeLabels("data")}))
	require.NoError(t, eng.CreateVolume(ctx, docker.VolumeSpec{Name: "nova-ci-a_theirs", Labels: map[string]string{state.LabelProject: "nova-ci-a"}}))
	_, err = eng.Create(ctx, docker.Workload{Name: "nova-ci-a-x-1", Image: "img", Labels: id.Labels("x", "x")})
	require.NoError(t, err)
	require.NoError(t, in.Remove(ctx, "nova-ci-a"))
	obs, err := eng.Observe(ctx, "nova-ci-a")
	require.NoError(t, err)
	assert.Empty(t, obs.Containers)
	assert.Empty(t, obs.Networks)
	require.Len(t, obs.Volumes, 1)
	assert.Equal(t, "nova-ci-a_theirs", obs.Volumes[0].Name, "not novadev's: left alone")
	recs, _, err = in.Records(ctx)
	require.NoError(t, err)
	assert.Empty(t, recs)
}
