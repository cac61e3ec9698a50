package contract

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestHostTargetOfFeedService(t *testing.T) {
	c := nova(t, "ci") // port block 30000
	feed := c.Services["feed-service"]
	env := ServiceEnv(c, Host, feed)
	got := env.Resolve(dummy)
	require.Equal(t, "postgres://nova_feed_svc:pw-nova_feed_svc_password@127.0.0.1:30001/nova_feed?sslmode=disable", got[EnvDatabaseURL])
	require.Equal(t, "127.0.0.1:30092", got[EnvKafkaBrokers])
	require.Equal(t, "127.0.0.1:30303,127.0.0.1:30302", got[EnvGRPCDependencies], "content-service, user-service: their published grpc ports")
	require.Equal(t, "nova.content.v1.ContentService=127.0.0.1:30303,nova.user.v1.UserService=127.0.0.1:30302", got[EnvGRPCRoutes])
	require.Equal(t, "kafka:9092=127.0.0.1:30092", got[EnvHostMap], "feed-service uses Kafka, not Redis")
	abs, err := filepath.Abs("../../envs/proto")
	require.NoError(t, err)
	require.Equal(t, abs, got[EnvProtoDir], "the folder the stack mounts, not the container path")
	require.Equal(t, "50051", got[EnvGRPCPort], "its own port stays what it listens on")
	require.Empty(t, Unreachable(c, feed))
	// the same names as in the stack, plus the host map
	require.Equal(t, append(ServiceEnv(c, Compose, feed).Names(), EnvHostMap), env.Names())
}

func TestHostTargetRedisCluster(t *testing.T) {
	c := nova(t, "ci")
	st := c.Stores["redis"]
	require.Equal(t, "127.0.0.1:30011,127.0.0.1:30012,127.0.0.1:30013", Address(Host, st))
	user := c.Services["notification-service"]
	got := ServiceEnv(c, Host, user).Resolve(dummy)
	require.Equal(t, "127.0.0.1:30011,127.0.0.1:30012,127.0.0.1:30013", got[EnvRedisNodes])
	require.Contains(t, got[EnvHostMap], "redis-1:7001=127.0.0.1:30011,redis-2:7002=127.0.0.1:30012,redis-3:7003=127.0.0.1:30013")
	require.Nil(t, Endpoints(Host, c.Stores["neo4j"]), "an external store runs nowhere")
	require.Equal(t, "bolt://neo4j:7687", URL(Host, c.Stores["neo4j"], "bolt"), "its URI is the same everywhere")
}

func TestHostTargetUnpublished(t *testing.T) {
	c := nova(t, "ci")
	st := *c.Stores["postgres"]
	st.Host = 0
	require.Nil(t, Endpoints(Host, &st))
	require.Equal(t, "", Address(Host, &st))
}

// A store or dependency that publishes no host port: its variable is left
// out on the host and Unreachable says why, while compose still has it.
func TestHostTargetLeavesOutTheUnpublished(t *testing.T) {
	c := nova(t, "ci")
	feed := c.Services["feed-service"]
	c.Stores["kafka"].Host = 0
	for i := range c.Services["user-service"].Ports {
		c.Services["user-service"].Ports[i].Host = 0
	}
	got := ServiceEnv(c, Host, feed).Resolve(dummy)
	require.NotContains(t, got, EnvKafkaBrokers)
	require.NotContains(t, got, EnvHostMap, "nothing announced is published")
	require.Equal(t, "127.0.0.1:30303", got[EnvGRPCDependencies], "content-service only")
	require.Equal(t, []string{"store kafka publishes no host port", "service user-service publishes no grpc port"}, Unreachable(c, feed))
	require.Equal(t, "kafka:9092", ServiceEnv(c, Compose, feed).Resolve(dummy)[EnvKafkaBrokers])
}
