package bootstrap

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

// TestIntegrationRedisClusterInit starts three cluster-mode nodes that
// announce their names (redis-N:700N), as the stack does, and runs the step
// from the host through published ports and a dialer remap.
func TestIntegrationRedisClusterInit(t *testing.T) {
	needEngine(t, "novadev/redis:7")
	c := novaCatalog(t, "local")
	net := network(t)
	remap := map[string]string{}
	var nodes []string
	for i := 1; i <= 3; i++ {
		name, port, host := fmt.Sprintf("redis-%d", i), 7000+i, freePort(t)
		run(t, "--network", net, "--network-alias", name, "-p", fmt.Sprintf("127.0.0.1:%d:%d", host, port), "novadev/redis:7",
			"--port", fmt.Sprint(port), "--cluster-enabled", "yes", "--cluster-node-timeout", "1000",
			"--cluster-announce-hostname", name, "--cluster-preferred-endpoint-type", "hostname", "--appendonly", "no", "--protected-mode", "no")
		addr := fmt.Sprintf("%s:%d", name, port)
		remap[addr] = fmt.Sprintf("127.0.0.1:%d", host)
		nodes = append(nodes, addr)
	}
	tg := Targets{RedisNodes: nodes, Dial: RemapDialer(remap)}
	for _, a := range nodes {
		eventually(t, 30*time.Second, a, func() error {
			cl := redis.NewClient(&redis.Options{Addr: a, Dialer: tg.Dial})
			defer cl.Close()
			return cl.Ping(ctxFor(t, 2*time.Second)).Err()
		})
	}

	var check logLines
	err := RedisClusterInit{Options: Options{Check: true}}.Run(ctxFor(t, time.Minute), c, tg, check.log)
	var de *DriftError
	require.ErrorAs(t, err, &de, "--check before the cluster is formed")
	require.Len(t, de.Diffs, 1)
	require.Contains(t, de.Diffs[0], "would have formed the cluster, now redis-1:7001: cluster_state:fail")
	require.Empty(t, check)

	var first logLines
	start := time.Now()
	require.NoError(t, RedisClusterInit{}.Run(ctxFor(t, time.Minute), c, tg, first.log))
	t.Logf("redis-cluster-init cold: %s: %q", time.Since(start), first)
	require.Len(t, first, 6, "3 slot assignments, 2 meets, 1 ok")
	require.Contains(t, first[0], "redis-1:7001 (")
	require.Contains(t, first[0], "): assigned slots 0-5460")
	require.Contains(t, first[1], "): assigned slots 5461-10922")
	require.Contains(t, first[2], "): assigned slots 10923-16383")
	require.Equal(t, "cluster ok: 3 masters, all 16384 slots assigned", first[5])

	var second logLines
	require.NoError(t, RedisClusterInit{}.Run(ctxFor(t, time.Minute), c, tg, second.log))
	require.Equal(t, logLines{"cluster already ok: 3 masters, all 16384 slots assigned; nothing changed"}, second)

	check = nil
	require.NoError(t, RedisClusterInit{Options: Options{Check: true}}.Run(ctxFor(t, time.Minute), c, tg, check.log))
	require.Equal(t, logLines{"cluster already ok: 3 masters, all 16384 slots assigned; nothing changed"}, check)

	ctx := ctxFor(t, time.Minute)
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: nodes, Dialer: tg.Dial})
	defer cc.Close()
	info, err := cc.ClusterInfo(ctx).Result()
	require.NoError(t, err)
	ok, why := clusterHealthy(info, 3)
	require.True(t, ok, why)
	text, err := cc.ClusterNodes(ctx).Result()
	require.NoError(t, err)
	parsed, err := parseClusterNodes(text)
	require.NoError(t, err)
	masters := 0
	for _, n := range parsed {
		if n.Master {
			masters++
		}
	}
	require.Equal(t, 3, masters, text)
	// keys in every node's slots: MOVED redirections name redis-N, which the
	// remap turns into the published ports
	for i := range 30 {
		k := fmt.Sprintf("key-%d", i)
		require.NoError(t, cc.Set(ctx, k, i, 0).Err())
		require.Equal(t, fmt.Sprint(i), cc.Get(ctx, k).Val())
	}
	shards, err := cc.ClusterShards(ctx).Result()
	require.NoError(t, err)
	var hosts []string
	for _, s := range shards {
		for _, n := range s.Nodes {
			hosts = append(hosts, n.Hostname)
		}
	}
	require.ElementsMatch(t, []string{"redis-1", "redis-2", "redis-3"}, hosts, strings.Join(hosts, ","))
}
