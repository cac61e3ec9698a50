package kubecluster

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/novadev/novadev/internal/catalog"
	"github.com/novadev/novadev/internal/contract"
	"github.com/novadev/novadev/internal/kubeforward"
)

// forwardTimeout bounds finding the pod behind an address (Address and
// Credential have no context).
const forwardTimeout = 15 * time.Second

// Address returns 127.0.0.1:<port> of a port-forward to the node, opened
// on first use and kept until Close; each connection goes to a Ready pod
// of the node at that moment. For a Redis Cluster
// store, verify asks for node i at the store's port + i (its compose
// numbering); on a cluster every node is pod <store>-i on the store's own
// port, and that pod is forwarded.
func (i *Instance) Address(node string, port int) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), forwardTimeout)
	defer cancel()
	// the pod is picked again for every connection (a replaced pod is
	// followed); picking it now says at once when there is none
	_, podPort, err := i.target(ctx, node, port)
	if err != nil {
		return "", err
	}
	return i.forward(fmt.Sprintf("node/%s/%d", node, port), podPort, func(ctx context.Context) (string, error) {
		pod, _, err := i.target(ctx, node, port)
		return pod, err
	})
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
	key, to := fmt.Sprintf("pod/%s/%d", pod, port), kubeforward.Pod(pod)
	if pod == "" {
		node := i.renderedName(service)
		if _, err := i.readyPod(ctx, node); err != nil {
			return nil, fmt.Errorf("dial %s: %w", addr, err)
		}
		key, to = fmt.Sprintf("service/%s/%d", node, port), func(ctx context.Context) (string, error) { return i.readyPod(ctx, node) }
	}
	local, err := i.forward(key, port, to)
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

// forward returns the local address of forward key (kubeforward),
// opening it on first use.
func (i *Instance) forward(key string, port int, to kubeforward.Target) (string, error) {
	if i.fwd == nil {
		return "", kubeforward.ErrNoConnection
	}
	return i.fwd.Address(key, port, to)
}

// Explain implements verify.Explainer: err with the reasons its
// port-forwards failed at or after since (kubeforward.Forwarder.Explain),
// those whose address err names and those to node (by node or Service,
// and to its pods).
func (i *Instance) Explain(node string, since time.Time, err error) error {
	if err == nil || i.fwd == nil {
		return err
	}
	pods := i.objectName(node) + "-"
	return i.fwd.Explain(err, since, func(key string) bool {
		kind, rest, _ := strings.Cut(key, "/")
		name, _, _ := strings.Cut(rest, "/")
		switch kind {
		case "node", "service":
			return name == node
		case "pod":
			return name == i.objectName(node) || strings.HasPrefix(name, pods)
		}
		return false
	})
}
