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
	e := NewEndpoints(f.c, f.spec, func(v string) string { return "pw-" + v })
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
	e := NewEndpoints(f.c, f.spec, func(v string) string { return "pw-" + v })
	tg := e.Targets()
	require.Equal(t, "127.0.0.1:16001", tg.Postgres)
	require.Equal(t, []string{"redis-1:7001", "redis-2:7002", "redis-3:7003"}, tg.RedisNodes)
	require.Equal(t, []string{"kafka:9092"}, tg.KafkaBrokers)
	require.Equal(t, "pw-NOVA_POSTGRES_PASSWORD", tg.Password("NOVA_POSTGRES_PASSWORD"))

	// the advertised name redis-2:7002 dials the published 127.0.0.1:16012
	require.Equal(t, "127.0.0.1:16012", f.spec.DialMap()["redis-2:7002"])
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	e.remap["kafka:9092"] = ln.Addr().String()
	conn, err := tg.Dial(context.Background(), "tcp", "kafka:9092")
	require.NoError(t, err)
	require.Equal(t, ln.Addr().String(), conn.RemoteAddr().String())
	conn.Close()
}
