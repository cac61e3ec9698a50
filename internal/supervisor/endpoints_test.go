package supervisor

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestReadinessChecks(t *testing.T) {
	f := newFixture(t)
	e := NewEndpoints(f.c, f.be, func(v string) string { return "pw-" + v })
	var b strings.Builder
	for _, n := range f.c.Graph().Names() {
		c, timeout := e.Readiness(n)
		if c == nil {
			fmt.Fprintf(&b, "%s: none\n", n)
			continue
		}
		fmt.Fprintf(&b, "%s: %s (timeout %s)\n", n, c, timeout)
	}
	golden(t, "readiness.txt", b.String())
}

func TestTargetsReachStoresThroughPublishedPorts(t *testing.T) {
	f := newFixture(t)
	e := NewEndpoints(f.c, f.be, func(v string) string { return "pw-" + v })
	tg := e.Targets()
	require.Equal(t, "127.0.0.1:16001", tg.Postgres)
	require.Equal(t, []string{"redis-1:7001", "redis-2:7002", "redis-3:7003"}, tg.RedisNodes)
	require.Equal(t, []string{"kafka:9092"}, tg.KafkaBrokers)
	require.Equal(t, "pw-NOVA_POSTGRES_PASSWORD", tg.Password("NOVA_POSTGRES_PASSWORD"))

	// the advertised name redis-2:7002 dials the published 127.0.0.1:16012
	require.Equal(t, "127.0.0.1:16012", e.remap["redis-2:7002"])
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	e.remap["kafka:9092"] = ln.Addr().String()
	conn, err := tg.Dial(context.Background(), "tcp", "kafka:9092")
	require.NoError(t, err)
	require.Equal(t, ln.Addr().String(), conn.RemoteAddr().String())
	conn.Close()
}

func TestReachableListsOnlyStartedNodes(t *testing.T) {
	f := newFixture(t)
	e := NewEndpoints(f.c, f.be, func(string) string { return "" })
	res := &Result{Nodes: map[string]*NodeResult{
		"postgres": {Status: StatusReady}, "users": {Status: StatusUnchanged}, "orders": {Status: StatusCanceled}, "redis": {Status: StatusBlocked},
	}}
	require.Equal(t, []Endpoint{
		{Node: "postgres", Unit: "postgres", Host: "127.0.0.1:16001", Container: 5432},
		{Node: "users", Unit: "users", Host: "127.0.0.1:16101", Container: 50051},
	}, e.Reachable(res))
}
