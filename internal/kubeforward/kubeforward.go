// Package kubeforward forwards 127.0.0.1 ports to pod ports through the
// Kubernetes API server, with the SPDY port-forward protocol kubectl
// port-forward speaks. It is the one port-forwarder of the project: the
// Kubernetes backend reaches stores and services through it (probes,
// bootstraps, up's readiness), and verify on a cluster
// (internal/verify/kubecluster) reaches them through it too.
//
// A forward is one listener that lives until Close. Each connection it
// accepts goes to the pod its Target picks at that moment, over one
// multiplexed connection per pod, so a pod replaced while the process runs
// (a Deployment rolled by up, a StatefulSet pod recreated) is followed
// without a new local port, and a caller may keep the address it was
// given.
package kubeforward

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/httpstream"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/portforward"
	"k8s.io/client-go/transport/spdy"
)

// PickTimeout bounds a Target's choice of pod for one connection.
const PickTimeout = 10 * time.Second

// ErrClosed is what Port answers after Close.
var ErrClosed = errors.New("port-forwards closed")

// Target picks the pod a new connection is forwarded to (its name in the
// forwarder's namespace).
type Target func(ctx context.Context) (pod string, err error)

// Pod is the Target of one pod by name (a StatefulSet pod).
func Pod(name string) Target {
	return func(context.Context) (string, error) { return name, nil }
}

// Forwarder serves the forwards of one namespace. The zero value is not
// usable: call New.
type Forwarder struct {
	cfg *rest.Config // nil: every connection fails with ErrNoConnection
	cs  kubernetes.Interface
	ns  string

	mu        sync.Mutex
	forwards  map[string]*forward
	conns     map[string]httpstream.Connection // pod -> its SPDY connection
	closed    bool
	requestID int
}

// ErrNoConnection is the error of a connection through a Forwarder that
// has no REST config (unit tests over a fake clientset).
var ErrNoConnection = errors.New("port-forward needs a cluster connection")

type forward struct {
	ln     net.Listener
	port   int
	remote int
	to     Target

	mu     sync.Mutex
	last   error
	lastAt time.Time
}

func (fw *forward) fail(err error) {
	fw.mu.Lock()
	fw.last, fw.lastAt = err, time.Now()
	fw.mu.Unlock()
}

// New returns the forwarder of namespace ns on the cluster cfg reaches (cs
// is a clientset of cfg: it builds the port-forward URLs). cfg may be nil
// in tests: forwards then bind, and every connection fails.
func New(cfg *rest.Config, cs kubernetes.Interface, ns string) *Forwarder {
	return &Forwarder{cfg: cfg, cs: cs, ns: ns, forwards: map[string]*forward{}, conns: map[string]httpstream.Connection{}}
}

// Port returns the local port of the forward named key to port remote of
// the pod to picks, binding a 127.0.0.1 listener on first use. Later calls
// with the same key return the same port (their remote and to are not
// used): a key names one forward for the forwarder's life.
func (f *Forwarder) Port(key string, remote int, to Target) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return 0, ErrClosed
	}
	if fw := f.forwards[key]; fw != nil {
		return fw.port, nil
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("port-forward %s: %w", key, err)
	}
	fw := &forward{ln: ln, port: ln.Addr().(*net.TCPAddr).Port, remote: remote, to: to}
	f.forwards[key] = fw
	go f.serve(fw)
	return fw.port, nil
}

// Address is Port as a host:port (127.0.0.1:<port>).
func (f *Forwarder) Address(key string, remote int, to Target) (string, error) {
	p, err := f.Port(key, remote, to)
	if err != nil {
		return "", err
	}
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(p)), nil
}

// Explain adds to err, a client's failure through this forwarder, the
// reasons its forwards failed at or after since, which the client never
// sees (it reads EOF; the forward knows the pod's or the kubelet's
// reason): those of the forwards whose local address (127.0.0.1:<port>)
// err names, and of those whose key byKey accepts. A reason already in
// err is not repeated; err is returned as it is when none is left.
func (f *Forwarder) Explain(err error, since time.Time, byKey func(key string) bool) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	var add []string
	for _, why := range f.failedSince(since, func(key, addr string) bool { return namesAddr(msg, addr) || byKey(key) }) {
		if s := why.Error(); !strings.Contains(msg, s) && !slices.Contains(add, s) {
			add = append(add, s)
		}
	}
	if len(add) == 0 {
		return err
	}
	return fmt.Errorf("%w (%s)", err, strings.Join(add, "; "))
}

// failedSince returns the last failure of every forward that match
// accepts (by its key and its local address) and whose last failed
// connection came at or after since, in key order.
func (f *Forwarder) failedSince(since time.Time, match func(key, addr string) bool) []error {
	f.mu.Lock()
	var keys []string
	for k, fw := range f.forwards {
		if match(k, net.JoinHostPort("127.0.0.1", strconv.Itoa(fw.port))) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	fws := make([]*forward, len(keys))
	for n, k := range keys {
		fws[n] = f.forwards[k]
	}
	f.mu.Unlock()
	var out []error
	for _, fw := range fws {
		fw.mu.Lock()
		if fw.last != nil && !fw.lastAt.Before(since) {
			out = append(out, fw.last)
		}
		fw.mu.Unlock()
	}
	return out
}

// namesAddr says whether msg contains addr (127.0.0.1:<port>) not followed
// by another digit (127.0.0.1:4123 is not in "127.0.0.1:41234").
func namesAddr(msg, addr string) bool {
	for rest := msg; ; {
		n := strings.Index(rest, addr)
		if n < 0 {
			return false
		}
		rest = rest[n+len(addr):]
		if rest == "" || rest[0] < '0' || rest[0] > '9' {
			return true
		}
	}
}

func (f *Forwarder) serve(fw *forward) {
	for {
		c, err := fw.ln.Accept()
		if err != nil {
			return
		}
		go f.handle(c, fw)
	}
}

// handle forwards one local connection as kubectl port-forward does: an
// error stream and a data stream sharing one request ID on the pod's
// connection. The local connection is closed when either side ends; a
// failure is kept for Explain.
func (f *Forwarder) handle(local net.Conn, fw *forward) {
	defer local.Close()
	ctx, cancel := context.WithTimeout(context.Background(), PickTimeout)
	pod, err := fw.to(ctx)
	cancel()
	if err != nil {
		fw.fail(err)
		return
	}
	c, err := f.conn(pod)
	if err != nil {
		fw.fail(err)
		return
	}
	f.mu.Lock()
	f.requestID++
	id := f.requestID
	f.mu.Unlock()
	h := http.Header{}
	h.Set(corev1.StreamType, corev1.StreamTypeError)
	h.Set(corev1.PortHeader, strconv.Itoa(fw.remote))
	h.Set(corev1.PortForwardRequestIDHeader, strconv.Itoa(id))
	errStream, err := c.CreateStream(h)
	if err != nil {
		// the connection is broken: drop it, the next connection dials anew
		c.Close()
		fw.fail(fmt.Errorf("port-forward to pod %s port %d: %w", pod, fw.remote, err))
		return
	}
	errStream.Close() // nothing is sent on it; the kubelet writes its failures
	go func() {
		msg, err := io.ReadAll(errStream)
		if err == nil && len(msg) > 0 {
			fw.fail(fmt.Errorf("port-forward to pod %s port %d: %s", pod, fw.remote, strings.TrimSpace(string(msg))))
		}
	}()
	h.Set(corev1.StreamType, corev1.StreamTypeData)
	data, err := c.CreateStream(h)
	if err != nil {
		fw.fail(fmt.Errorf("port-forward to pod %s port %d: %w", pod, fw.remote, err))
		return
	}
	done := make(chan struct{}, 2)
	go func() { io.Copy(local, data); done <- struct{}{} }()
	go func() { io.Copy(data, local); data.Close(); done <- struct{}{} }()
	<-done
	c.RemoveStreams(data, errStream)
	data.Reset()
}

// conn returns the live SPDY connection to pod, dialling one when there is
// none (or the last one closed).
func (f *Forwarder) conn(pod string) (httpstream.Connection, error) {
	f.mu.Lock()
	if c := f.conns[pod]; c != nil {
		select {
		case <-c.CloseChan():
			delete(f.conns, pod)
		default:
			f.mu.Unlock()
			return c, nil
		}
	}
	f.mu.Unlock()
	if f.cfg == nil {
		return nil, ErrNoConnection
	}
	rt, upgrader, err := spdy.RoundTripperFor(f.cfg)
	if err != nil {
		return nil, err
	}
	u := f.cs.CoreV1().RESTClient().Post().Resource("pods").Namespace(f.ns).Name(pod).SubResource("portforward").URL()
	d := spdy.NewDialer(upgrader, &http.Client{Transport: rt}, http.MethodPost, u)
	c, _, err := d.Dial(portforward.PortForwardProtocolV1Name)
	if err != nil {
		return nil, fmt.Errorf("port-forward to pod %s: %w", pod, err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		c.Close()
		return nil, ErrClosed
	}
	if old := f.conns[pod]; old != nil {
		c.Close() // another connection dialled meanwhile: share it
		return old, nil
	}
	f.conns[pod] = c
	return c, nil
}

// Close stops every forward (listeners and pod connections); Port answers
// ErrClosed afterwards.
func (f *Forwarder) Close() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed = true
	for _, fw := range f.forwards {
		fw.ln.Close()
	}
	for _, c := range f.conns {
		c.Close()
	}
}
