package kube

import (
	"context"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/novadev/novadev/internal/kubeforward"
	"github.com/novadev/novadev/internal/state"
)

// forwarder is the backend's view of internal/kubeforward: one 127.0.0.1
// listener per forwarded unit port for the life of the process, each
// connection sent to the unit's pod of that moment (a StatefulSet pod by
// name, a Deployment's newest running pod), so a pod replaced during `up`
// is followed without a new port.
type forwarder struct {
	b   *Backend
	fwd *kubeforward.Forwarder
}

func newForwarder(b *Backend) *forwarder {
	return &forwarder{b: b, fwd: kubeforward.New(b.cfg, b.cs, b.ns)}
}

// port returns the local port forwarded to unit's remote port, binding it
// on first use.
func (f *forwarder) port(node, unit string, byName bool, remote int) (int, error) {
	return f.fwd.Port(fmt.Sprintf("%s/%s/%d", node, unit, remote), remote, func(ctx context.Context) (string, error) {
		return f.pod(ctx, node, unit, byName)
	})
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

func (f *forwarder) close() { f.fwd.Close() }

// Explain implements backend.Explainer: err with the reasons the forwards
// to node (or the one err names) failed at or after since.
func (b *Backend) Explain(node string, since time.Time, err error) error {
	return b.fwd.fwd.Explain(err, since, func(key string) bool { return strings.HasPrefix(key, node+"/") })
}
