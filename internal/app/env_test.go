package app_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestUpExcept(t *testing.T) {
	f := newFakeApp(t)
	ctx := context.Background()
	r := f.run(ctx, "up", "--dry-run", "--except", "feed-service")
	require.Equal(t, 0, r.code, r.err)
	assert.NotContains(t, r.out, "feed-service")
	assert.NotContains(t, r.out, "graphql-gateway", "it needs feed-service: left out too")
	assert.Contains(t, r.out, "  service content-service:", "what feed-service needs stays")
	assert.Contains(t, r.out, "  service user-service:")
	assert.Contains(t, r.out, "  store kafka:")
	assert.Contains(t, r.err, "novadev: --except feed-service: leaving out feed-service, graphql-gateway\n")

	r = f.run(ctx, "up", "--except", "feed-service")
	require.Equal(t, 0, r.code, r.err+r.out)
	running := f.be.Running()
	assert.NotContains(t, running, "feed-service")
	assert.NotContains(t, running, "graphql-gateway")
	assert.Contains(t, running, "content-service")
	assert.Len(t, running, 18, "20 less feed-service and the gateway")

	r = f.run(ctx, "up", "--dry-run", "--except", "postgres")
	assert.Equal(t, 2, r.code)
	assert.Contains(t, r.err, "--except postgres: not a service of this environment")
	assert.Contains(t, r.err, "feed-service")
}

func TestEnvOfFeedService(t *testing.T) {
	f := newFakeApp(t)
	ctx := context.Background()
	r := f.run(ctx, "env", "feed-service")
	assert.Equal(t, 1, r.code, "no credentials yet")
	assert.Contains(t, r.err, "credential NOVA_FEED_SVC_PASSWORD not in "+filepath.Join(f.root, "compose", ".env"))

	require.NoError(t, os.MkdirAll(filepath.Join(f.root, "compose"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(f.root, "compose", ".env"), []byte(`NOVA_FEED_SVC_PASSWORD="s3'cr\$t"`+"\n"), 0o600))
	r = f.run(ctx, "env", "feed-service", "--format", "json")
	require.Equal(t, 0, r.code, r.err)
	var got map[string]string
	require.NoError(t, json.Unmarshal([]byte(r.out), &got))
	assert.Equal(t, "postgres://nova_feed_svc:s3'cr$t@127.0.0.1:30001/nova_feed?sslmode=disable", got["DATABASE_URL"])
	assert.Equal(t, "s3'cr$t", got["NOVA_FEED_SVC_PASSWORD"])
	assert.Equal(t, "127.0.0.1:30092", got["KAFKA_BROKERS"])
	assert.Equal(t, "kafka:9092=127.0.0.1:30092", got["NOVA_HOST_MAP"])

	r = f.run(ctx, "env", "feed-service")
	require.Equal(t, 0, r.code, r.err)
	assert.Contains(t, r.out, "export DATABASE_URL='postgres://nova_feed_svc:s3'\\''cr$t@127.0.0.1:30001/nova_feed?sslmode=disable'\n")

	r = f.run(ctx, "env", "feed-service", "--format", "yaml")
	assert.Equal(t, 2, r.code)
	assert.Contains(t, r.err, "--format \"yaml\": want one of shell, dotenv, json")
	r = f.run(ctx, "env", "feed")
	assert.Equal(t, 2, r.code)
	assert.Contains(t, r.err, "\"feed\" is not a service of project nova-ci; services: ")
}
