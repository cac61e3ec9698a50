package bootstrap

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// infoField returns one field of CLUSTER INFO output.
func infoField(info, field string) string {
	for _, line := range strings.Split(info, "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), ":"); ok && k == field {
			return v
		}
	}
	return ""
}

// clusterHealthy (a test oracle, independent of the probe package) reports whether one node's CLUSTER INFO says the cluster of
// n nodes is fully formed, and if not, why.
func clusterHealthy(info string, n int) (bool, string) {
	state, assigned, known := infoField(info, "cluster_state"), infoField(info, "cluster_slots_assigned"), infoField(info, "cluster_known_nodes")
	ok := state == "ok" && assigned == strconv.Itoa(ClusterSlots) && known == strconv.Itoa(n)
	return ok, fmt.Sprintf("cluster_state:%s slots_assigned:%s known_nodes:%s", state, assigned, known)
}

func TestSlotLayoutMatchesRedisCLI(t *testing.T) {
	require.Equal(t, []slotRange{{0, 5460}, {5461, 10922}, {10923, 16383}}, slotLayout(3))
	require.Equal(t, []slotRange{{0, 16383}}, slotLayout(1))
	for n := 1; n <= 7; n++ {
		l := slotLayout(n)
		require.Equal(t, 0, l[0].Lo)
		require.Equal(t, ClusterSlots-1, l[n-1].Hi)
		for i := 1; i < n; i++ {
			require.Equal(t, l[i-1].Hi+1, l[i].Lo, "contiguous for n=%d", n)
		}
	}
}

func TestParseClusterNodes(t *testing.T) {
	const out = `07c37dfeb235213a872192d90877d0cd55635b91 172.18.0.3:7001@17001,redis-1 myself,master - 0 1700000000000 1 connected 0-5460 [5461->-e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca]
e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca 172.18.0.4:7002@17002,redis-2 master - 0 1700000000000 2 connected 5461-10921 10922
292f8b365bb7edb5e285caf0b7e6ddc7265d2f4f :0@0 master,noaddr - 0 0 0 disconnected
`
	nodes, err := parseClusterNodes(out)
	require.NoError(t, err)
	require.Equal(t, []clusterNode{
		{ID: "07c37dfeb235213a872192d90877d0cd55635b91", Addr: "172.18.0.3:7001", Flags: []string{"myself", "master"}, Slots: []slotRange{{0, 5460}}, Myself: true, Master: true},
		{ID: "e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca", Addr: "172.18.0.4:7002", Flags: []string{"master"}, Slots: []slotRange{{5461, 10921}, {10922, 10922}}, Master: true},
		{ID: "292f8b365bb7edb5e285caf0b7e6ddc7265d2f4f", Addr: ":0", Flags: []string{"master", "noaddr"}, Master: true},
	}, nodes)
	_, err = parseClusterNodes("abc def\n")
	require.ErrorContains(t, err, "too few fields")
	_, err = parseClusterNodes("a b master - 0 0 0 connected x-1\n")
	require.ErrorContains(t, err, `bad slot "x-1"`)
}

func TestMissingRanges(t *testing.T) {
	owned := make([]bool, ClusterSlots)
	require.Equal(t, []slotRange{{0, 5460}}, missingRanges(slotRange{0, 5460}, owned))
	for s := 100; s <= 200; s++ {
		owned[s] = true
	}
	owned[5460] = true
	require.Equal(t, []slotRange{{0, 99}, {201, 5459}}, missingRanges(slotRange{0, 5460}, owned))
	for s := range owned {
		owned[s] = true
	}
	require.Empty(t, missingRanges(slotRange{0, 5460}, owned))
}

func TestClientInfoAndClusterInfo(t *testing.T) {
	const client = "id=7 addr=172.18.0.1:51234 laddr=172.18.0.3:7001 fd=9 name= age=0 idle=0 flags=N db=0 cmd=client|info\n"
	require.Equal(t, "172.18.0.3:7001", clientInfoField(client, "laddr"))
	require.Equal(t, "", clientInfoField(client, "nope"))
	const info = "cluster_enabled:1\r\ncluster_state:ok\r\ncluster_slots_assigned:16384\r\ncluster_known_nodes:3\r\n"
	ok, why := clusterHealthy(info, 3)
	require.True(t, ok)
	require.Equal(t, "cluster_state:ok slots_assigned:16384 known_nodes:3", why)
	ok, why = clusterHealthy("cluster_state:fail\r\ncluster_slots_assigned:5461\r\ncluster_known_nodes:1\r\n", 3)
	require.False(t, ok)
	require.Equal(t, "cluster_state:fail slots_assigned:5461 known_nodes:1", why)
}
