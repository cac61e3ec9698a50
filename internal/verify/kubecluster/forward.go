package kubecluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/tools/portforward"
	"k8s.io/client-go/transport/spdy"

	"github.com/novadev/novadev/internal/catalog"
	"github.com/novadev/novadev/internal/contract"
)

// forwardTimeout bounds opening one port-forward (Address has no context).
const forwardTimeout = 15 * time.Second

type forwardKey struct {
	pod  string
	port int
}

// forward is one running port-forward: 127.0.0.1:<local> -> pod:port.
type forward struct {
	local    string
	stopOnce sync.Once
	stopCh   chan struct{}
	done     chan struct{} // closed when ForwardPorts returned
}

func (f *forward) stop() { f.stopOnce.Do(func() { close(f.stopCh) }) }

func (f *forward) alive() bool {
	select {
	case <-f.done:
		return false
	default:
		return true
	}
}

// Address returns 127.0.0.1:<port> of a port-forward to a Ready pod of the
// node, opened on first use and kept until Close. For a Redis Cluster
// store, verify asks for node i at the store's port + i (its compose
// numbering); on a cluster every node is pod <store>-i on the store's own
// port, and that pod is forwarded.
func (i *Instance) Address(node string, port int) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), forwardTimeout)
	defer cancel()
	pod, podPort, err := i.target(ctx, node, port)
	if err != nil {
		return "", err
	}
	return i.forwardTo(ctx, pod, podPort)
}

// target picks the pod and container port behind a node's port.
func (i *Instance) target(ctx context.Context, node string, port int) (string, int, error) {
	if st, ok := i.c.Stores[node]; ok && st.Kind == catalog.StoreRedisCluster && st.Nodes > 1 {
		idx := port - st.Port
		eps := contract.Endpoints(contract.Kind, st)
		if idx < 0 || idx >= len(eps) {
			return "", 0, fmt.Errorf("%s has %d nodes on port %d; port %d names none of them", node, len(eps), st.Port, port)
		}
		return i.objectName(node) + "-" + strconv.Itoa(idx), eps[idx].Port, nil
	}
	pod, err := i.readyPod(ctx, node)
	return pod, port, err
}

// readyPod returns a Ready pod of a node, else a running one (so a check
// can say what the process answers), else an error naming the pods.
func (i *Instance) readyPod(ctx context.Context, node string) (string, error) {
	ps, err := i.pods(ctx, node)
	if err != nil {
		return "", err
	}
	var problems []string
	running := ""
	for _, p := range ps {
		if PodReady(&p) {
			return p.Name, nil
		}
		if running == "" && p.Status.Phase == "Running" {
			running = p.Name
		}
		problems = append(problems, p.Name+": "+PodProblem(&p))
	}
	if running != "" {
		return running, nil
	}
	if len(ps) == 0 {
		return "", fmt.Errorf("no pods labelled %s in namespace %s", selector(node), i.o.Namespace)
	}
	return "", fmt.Errorf("no running pod of %s: %s", node, strings.Join(problems, "; "))
}

// Dial connects to an address as the cluster names it: an IP address (a
// port-forward's 127.0.0.1:<port>) directly; <service>[.<namespace>[.svc
// [.<domain>]]]:port through a port-forward to a Ready pod of that
// service; <pod>.<service>[...]:port (a StatefulSet pod behind its
// headless Service, what Redis and Kafka advertise) through a port-forward
// to that pod.
func (i *Instance) Dial(ctx context.Context, network, addr string) (net.Conn, error) {
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	var d net.Dialer
	if net.ParseIP(host) != nil || host == "localhost" {
		return d.DialContext(ctx, network, addr)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port <= 0 || port > 65535 {
		return nil, fmt.Errorf("dial %s: bad port %q", addr, portStr)
	}
	pod, service, err := ParseClusterName(host, i.o.Namespace, i.o.ClusterDomain)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", addr, err)
	}
	if pod == "" {
		if pod, err = i.readyPod(ctx, i.renderedName(service)); err != nil {
			return nil, fmt.Errorf("dial %s: %w", addr, err)
		}
	}
	local, err := i.forwardTo(ctx, pod, port)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", addr, err)
	}
	return d.DialContext(ctx, network, local)
}

// ParseClusterName splits an in-cluster host name of namespace ns into a
// pod (empty unless the name is <pod>.<service>) and a Service:
// "kafka", "kafka.nova-local", "kafka.nova-local.svc",
// "kafka.nova-local.svc.cluster.local" name Service kafka;
// "redis-0.redis" and its longer forms name pod redis-0 of Service redis.
// A name of another namespace, or with labels that are not DNS-1123
// labels, is an error.
func ParseClusterName(host, ns, domain string) (pod, service string, err error) {
	h := strings.TrimSuffix(strings.ToLower(host), ".")
	for _, tail := range []string{"." + ns + ".svc." + domain, "." + ns + ".svc", "." + ns} {
		if t, ok := strings.CutSuffix(h, tail); ok {
			h = t
			break
		}
	}
	labels := strings.Split(h, ".")
	for _, l := range labels {
		if errs := validation.IsDNS1123Label(l); len(errs) > 0 {
			return "", "", fmt.Errorf("%q is not a name in namespace %s: %s", host, ns, strings.Join(errs, "; "))
		}
	}
	switch len(labels) {
	case 1:
		return "", labels[0], nil
	case 2:
		return labels[0], labels[1], nil
	}
	return "", "", fmt.Errorf("%q is not a name in namespace %s (want service, pod.service, or either followed by .%s.svc.%s)", host, ns, ns, domain)
}

// forwardTo returns the local address of a port-forward to pod:port,
// opening one unless a live one exists.
func (i *Instance) forwardTo(ctx context.Context, pod string, port int) (string, error) {
	key := forwardKey{pod, port}
	i.mu.Lock()
	if i.closed {
		i.mu.Unlock()
		return "", errors.New("instance closed")
	}
	if f, ok := i.forwards[key]; ok && f.alive() {
		i.mu.Unlock()
		return f.local, nil
	}
	i.mu.Unlock()
	f, err := i.startForward(ctx, pod, port)
	if err != nil {
		return "", err
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	if old, ok := i.forwards[key]; ok && old.alive() {
		f.stop() // another check opened one meanwhile
		return old.local, nil
	}
	if i.closed {
		f.stop()
		return "", errors.New("instance closed")
	}
	i.forwards[key] = f
	return f.local, nil
}

// lockedBuffer collects a port-forward's error output.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.TrimSpace(l.b.String())
}

// startForward opens a port-forward (SPDY through the API server, what
// kubectl port-forward does) on 127.0.0.1 and an ephemeral port.
func (i *Instance) startForward(ctx context.Context, pod string, port int) (*forward, error) {
	if i.cfg == nil {
		return nil, errors.New("port-forward needs a cluster connection")
	}
	transport, upgrader, err := spdy.RoundTripperFor(i.cfg)
	if err != nil {
		return nil, err
	}
	u := i.cs.CoreV1().RESTClient().Post().Resource("pods").Namespace(i.o.Namespace).Name(pod).SubResource("portforward").URL()
	dialer := spdy.NewDialer(upgrader, &http.Client{Transport: transport}, http.MethodPost, u)
	f := &forward{stopCh: make(chan struct{}), done: make(chan struct{})}
	ready := make(chan struct{})
	errOut := &lockedBuffer{}
	pf, err := portforward.NewOnAddresses(dialer, []string{"127.0.0.1"}, []string{"0:" + strconv.Itoa(port)}, f.stopCh, ready, io.Discard, errOut)
	if err != nil {
		return nil, err
	}
	var ferr error
	go func() {
		ferr = pf.ForwardPorts()
		close(f.done)
	}()
	select {
	case <-ready:
	case <-f.done:
		return nil, fmt.Errorf("port-forward to pod %s port %d: %v %s", pod, port, ferr, errOut.String())
	case <-ctx.Done():
		f.stop()
		return nil, fmt.Errorf("port-forward to pod %s port %d: %w", pod, port, ctx.Err())
	}
	ports, err := pf.GetPorts()
	if err != nil || len(ports) == 0 {
		f.stop()
		return nil, fmt.Errorf("port-forward to pod %s port %d: no local port: %v", pod, port, err)
	}
	f.local = net.JoinHostPort("127.0.0.1", strconv.Itoa(int(ports[0].Local)))
	return f, nil
}
