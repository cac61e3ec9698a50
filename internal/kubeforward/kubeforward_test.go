package kubeforward

import (
	"context"
	"errors"
	"io"
	"net"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"k8s.io/client-go/kubernetes/fake"
)

// lastErr is the last failure of forward key, or nil.
func lastErr(f *Forwarder, key string) error {
	errs := f.failedSince(time.Time{}, func(k, _ string) bool { return k == key })
	if len(errs) == 0 {
		return nil
	}
	return errs[0]
}

// readEOF dials a forward and waits for the forwarder to close it.
func readEOF(t *testing.T, port int) {
	t.Helper()
	c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), 5*time.Second)
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.SetReadDeadline(time.Now().Add(5*time.Second)))
	_, err = c.Read(make([]byte, 1))
	require.ErrorIs(t, err, io.EOF, "the forwarder closes a connection it cannot forward")
}

// A key names one forward: the same key keeps its port, another key gets
// its own; a connection that cannot be forwarded is closed and its
// failure says why (no pod to pick; no cluster connection); Close ends every listener.
func TestForwardsWithoutACluster(t *testing.T) {
	f := New(nil, fake.NewClientset(), "nova-local")
	var picks atomic.Int32
	noPod := func(context.Context) (string, error) { picks.Add(1); return "", errors.New("no running pod of kafka") }
	p1, err := f.Port("kafka/kafka-0/9092", 9092, noPod)
	require.NoError(t, err)
	again, err := f.Port("kafka/kafka-0/9092", 1, Pod("other"))
	require.NoError(t, err)
	require.Equal(t, p1, again, "the same key is the same forward")
	require.Zero(t, picks.Load(), "the pod is picked per connection, not when the port is bound")
	require.NoError(t, lastErr(f, "kafka/kafka-0/9092"))

	readEOF(t, p1)
	require.Eventually(t, func() bool { return lastErr(f, "kafka/kafka-0/9092") != nil }, 5*time.Second, 10*time.Millisecond)
	require.EqualError(t, lastErr(f, "kafka/kafka-0/9092"), "no running pod of kafka")
	require.Equal(t, int32(1), picks.Load())

	addr, err := f.Address("redis/redis-1/7001", 7001, Pod("redis-1"))
	require.NoError(t, err)
	host, port, err := net.SplitHostPort(addr)
	require.NoError(t, err)
	require.Equal(t, "127.0.0.1", host)
	require.NotEqual(t, strconv.Itoa(p1), port)
	p2, _ := strconv.Atoi(port)
	readEOF(t, p2)
	require.Eventually(t, func() bool { return errors.Is(lastErr(f, "redis/redis-1/7001"), ErrNoConnection) }, 5*time.Second, 10*time.Millisecond)
	require.NoError(t, lastErr(f, "unknown"))

	// Explain: the reasons at or after a time, of the forwards err names
	// by local address or byKey accepts, each once, in key order
	none := func(string) bool { return false }
	eof := errors.New("read tcp " + addr + ": EOF")
	require.EqualError(t, f.Explain(eof, time.Time{}, none), eof.Error()+" (port-forward needs a cluster connection)", "named by its address")
	require.EqualError(t, f.Explain(io.EOF, time.Time{}, func(string) bool { return true }), "EOF (no running pod of kafka; port-forward needs a cluster connection)")
	require.EqualError(t, f.Explain(io.EOF, time.Time{}, func(k string) bool { return k == "kafka/kafka-0/9092" }), "EOF (no running pod of kafka)", "by its key")
	require.Equal(t, eof, f.Explain(eof, time.Now().Add(time.Second), none), "nothing failed after now")
	require.Equal(t, io.EOF, f.Explain(io.EOF, time.Time{}, none))
	already := errors.New("dial: no running pod of kafka")
	require.Equal(t, already, f.Explain(already, time.Time{}, func(k string) bool { return k == "kafka/kafka-0/9092" }), "a reason already in err is not repeated")
	require.NoError(t, f.Explain(nil, time.Time{}, none))
	require.False(t, namesAddr("dial "+addr+"0: EOF", addr), "127.0.0.1:<port> followed by a digit is another address")
	require.True(t, namesAddr("127.0.0.1:1"+addr[len("127.0.0.1:"):]+" or "+addr, addr))

	f.Close()
	_, err = f.Port("postgres/postgres-0/5432", 5432, Pod("postgres-0"))
	require.ErrorIs(t, err, ErrClosed)
	_, err = net.DialTimeout("tcp", addr, time.Second)
	require.Error(t, err, "Close stops the listeners")
}
