package e2e

import (
	"context"
	"net"
)

type netConn = net.Conn

func dial(ctx context.Context, network, addr string) (net.Conn, error) {
	var d net.Dialer
	return d.DialContext(ctx, network, addr)
}
