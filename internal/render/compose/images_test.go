package compose_test

import (
	"testing"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/novadev/novadev/internal/catalog"
	"github.com/novadev/novadev/internal/render/compose"
)

// The upstream images get what they need, the offline ones what they need,
// and a store that falls back at up time is rendered as offline.
func TestStoreSettingsFollowTheImage(t *testing.T) {
	load := func(src string) *catalog.Catalog {
		c, err := catalog.Load("../../../envs/nova.yaml", catalog.Options{Env: "local", ImageSource: src})
		require.NoError(t, err)
		return c
	}
	svc := func(c *catalog.Catalog, name string) types.ServiceConfig {
		p, err := compose.Project(c)
		require.NoError(t, err)
		s, err := p.GetService(name)
		require.NoError(t, err)
		return s
	}
	up := load(catalog.SourceUpstream)
	k := svc(up, "kafka")
	assert.Equal(t, "apache/kafka:3.7.0", k.Image)
	assert.Empty(t, k.Command)
	env := map[string]string{}
	for n, v := range k.Environment {
		env[n] = *v
	}
	assert.Equal(t, "broker,controller", env["KAFKA_PROCESS_ROLES"])
	assert.Equal(t, "PLAINTEXT://kafka:9092", env["KAFKA_ADVERTISED_LISTENERS"])
	assert.Equal(t, "1@127.0.0.1:9093", env["KAFKA_CONTROLLER_QUORUM_VOTERS"])
	assert.Equal(t, "-Xms128m -Xmx128m", env["KAFKA_HEAP_OPTS"], "half of local's 256Mi limit")
	assert.Len(t, env["CLUSTER_ID"], 22, "16 bytes, base64url")
	assert.Equal(t, env["CLUSTER_ID"], func() string {
		v := svc(load(catalog.SourceUpstream), "kafka").Environment["CLUSTER_ID"]
		return *v
	}(), "stable: a kept volume is accepted again")
	assert.Equal(t, compose.KafkaDataDir, k.Volumes[0].Target)
	r := svc(up, "redis-1")
	assert.Equal(t, "redis:7.0", r.Image)
	assert.Empty(t, r.Entrypoint, "the official entrypoint runs")
	assert.Equal(t, "redis-server", r.Command[0])

	off := load(catalog.SourceOffline)
	k = svc(off, "kafka")
	assert.Equal(t, "novadev/kafka:kfake", k.Image)
	assert.Equal(t, types.ShellCommand{"--listen", "0.0.0.0:9092", "--advertise", "kafka:9092", "--data-dir", "/data"}, k.Command)
	assert.Empty(t, k.Environment)
	r = svc(off, "redis-1")
	assert.Equal(t, types.ShellCommand{"redis-server"}, r.Entrypoint)
	assert.Equal(t, "--port", r.Command[0])

	// auto after a failed pull: the fallen-back store is rendered offline
	auto := load(catalog.SourceAuto)
	auto.Stores["kafka"].FallBack()
	assert.Equal(t, "novadev/kafka:kfake", svc(auto, "kafka").Image)
	assert.Equal(t, "postgres:15", svc(auto, "postgres").Image)
}
