package kube

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/httpstream"
	"k8s.io/client-go/tools/portforward"
	"k8s.io/client-go/transport/spdy"

	"github.com/novadev/novadev/internal/state"
)

// forwarder serves one 127.0.0.1 listener per forwarded unit port for the
// life of the process. Each accepted connection goes to the unit's pod of
// that moment (a StatefulSet pod by name, a Deployment's newest ready pod),
// over one SPDY port-forward connection per pod (client-go's protocol), so
// a pod replaced during `up` is followed without a new port.
type forwarder struct {
	b *Backend

	mu        sync.Mutex
	listeners map[string]*fwdPort // node/unit/port -> listener
	conns     map[string]httpstream.Connection
	closed    bool
	reqID     int
}

type fwdPort struct {
	ln   net.Listener
	port int
}

func newForwarder(b *Backend) *forwarder {
	return &forwarder{b: b, listeners: map[string]*fwdPort{}, conns: map[string]httpstream.Connection{}}
}

// port returns the local port forwarded to unit's remote port, binding it
// on first use.
func (f *forwarder) port(node, unit string, byName bool, remote int) (int, error) {
	k := fmt.Sprintf("%s/%s/%d", node, unit, remote)
	f.mu.Lock()
	defer f.mu.Unlock()
	if p := f.listeners[k]; p != nil {
		return p.port, nil
	}
	if f.closed {
		return 0, errors.New("closed")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	p := &fwdPort{ln: ln, port: ln.Addr().(*net.TCPAddr).Port}
	f.listeners[k] = p
	go f.serve(ln, node, unit, byName, remote)
	return p.port, nil
}

func (f *forwarder) serve(ln net.Listener, node, unit string, byName bool, remote int) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go f.handle(c, node, unit, byName, remote)
	}
}

// pod finds the pod a connection goes to now.
func (f *forwarder) pod(ctx context.Context, node, unit string, byName bool) (string, error) {
	b := f.b
	if byName {
		p, err := b.cs.CoreV1().Pods(b.ns).Get(ctx, unit, metav1.GetOptions{})
		if err != nil {
			return "", err
		}
		if p.Status.Phase != corev1.PodRunning {
			return "", fmt.Errorf("pod %s is %s", unit, p.Status.Phase)
		}
		return p.Name, nil
	}
	pods, err := b.cs.CoreV1().Pods(b.ns).List(ctx, metav1.ListOptions{LabelSelector: state.LabelApp + "=" + node})
	if err != nil {
		return "", err
	}
	var running []corev1.Pod
	for _, p := range pods.Items {
		if p.Status.Phase == corev1.PodRunning && p.Labels["batch.kubernetes.io/job-name"] == "" {
			running = append(running, p)
		}
	}
	p := newestPod(running)
	if p == nil {
		return "", fmt.Errorf("no running pod of %s", node)
	}
	return p.Name, nil
}

func (f *forwarder) conn(pod string) (httpstream.Connection, error) {
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
	b := f.b
	rt, upgrader, err := spdy.RoundTripperFor(b.cfg)
	if err != nil {
		return nil, err
	}
	u := b.cs.CoreV1().RESTClient().Post().Resource("pods").Namespace(b.ns).Name(pod).SubResource("portforward").URL()
	d := spdy.NewDialer(upgrader, &http.Client{Transport: rt}, http.MethodPost, u)
	c, _, err := d.Dial(portforward.PortForwardProtocolV1Name)
	if err != nil {
		return nil, fmt.Errorf("port-forward to pod %s: %w", pod, err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		c.Close()
		return nil, errors.New("closed")
	}
	if old := f.conns[pod]; old != nil {
		c.Close()
		return old, nil
	}
	f.conns[pod] = c
	return c, nil
}

// handle forwards one local connection (what kubectl port-forward does
// per connection: an error stream and a data stream with one request ID).
func (f *forwarder) handle(local net.Conn, node, unit string, byName bool, remote int) {
	defer local.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	pod, err := f.pod(ctx, node, unit, byName)
	cancel()
	if err != nil {
		return
	}
	c, err := f.conn(pod)
	if err != nil {
		return
	}
	f.mu.Lock()
	f.reqID++
	id := f.reqID
	f.mu.Unlock()
	h := http.Header{}
	h.Set(corev1.StreamType, corev1.StreamTypeError)
	h.Set(corev1.PortHeader, strconv.Itoa(remote))
	h.Set(corev1.PortForwardRequestIDHeader, strconv.Itoa(id))
	errStream, err := c.CreateStream(h)
	if err != nil {
		c.Close()
		return
	}
	errStream.Close()
	go io.Copy(io.Discard, errStream)
	h.Set(corev1.StreamType, corev1.StreamTypeData)
	data, err := c.CreateStream(h)
	if err != nil {
		return
	}
	done := make(chan struct{}, 2)
	go func() { io.Copy(local, data); done <- struct{}{} }()
	go func() { io.Copy(data, local); data.Close(); done <- struct{}{} }()
	<-done
	c.RemoveStreams(data, errStream)
	data.Reset()
}

func (f *forwarder) close() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed = true
	for _, p := range f.listeners {
		p.ln.Close()
	}
	for _, c := range f.conns {
		c.Close()
	}
}
