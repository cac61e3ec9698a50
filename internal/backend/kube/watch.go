package kube

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/novadev/novadev/internal/backend"
	"github.com/novadev/novadev/internal/state"
)

// imageTrouble are waiting reasons that will not resolve by waiting.
var imageTrouble = map[string]bool{"ImagePullBackOff": true, "ErrImagePull": true, "ErrImageNeverPull": true, "InvalidImageName": true, "CreateContainerConfigError": true}

// failureOf says why a pod's container failed for good, or "".
func failureOf(p *corev1.Pod) (container, reason string, code int) {
	for _, cs := range append(append([]corev1.ContainerStatus{}, p.Status.InitContainerStatuses...), p.Status.ContainerStatuses...) {
		if w := cs.State.Waiting; w != nil && (imageTrouble[w.Reason] || w.Reason == "CrashLoopBackOff") {
			r := w.Reason
			if t := cs.LastTerminationState.Terminated; t != nil {
				r += fmt.Sprintf(" (last exit %d: %s)", t.ExitCode, t.Reason)
				code = int(t.ExitCode)
			} else if w.Message != "" {
				r += ": " + w.Message
			}
			return cs.Name, r, code
		}
		if t := cs.LastTerminationState.Terminated; t != nil && t.Reason == "OOMKilled" {
			return cs.Name, "OOMKilled (exit 137)", 137
		}
		if t := cs.State.Terminated; t != nil && t.Reason == "OOMKilled" {
			return cs.Name, "OOMKilled (exit 137)", 137
		}
	}
	return "", "", 0
}

// Watch implements backend.Backend: every second it reads the instance's
// pods and reports CrashLoopBackOff, OOMKilled and image problems
// (ImagePullBackOff, ErrImageNeverPull, ...) once per pod. Bootstrap Jobs'
// pods are left to RunBootstrap, which fails its node with its log tail.
func (b *Backend) Watch(ctx context.Context) (<-chan backend.Failure, error) {
	ch := make(chan backend.Failure, 16)
	go func() {
		defer close(ch)
		seen := map[string]bool{}
		for {
			pods, err := b.cs.CoreV1().Pods(b.ns).List(ctx, metav1.ListOptions{LabelSelector: state.LabelAppManagedBy + "=" + state.ManagedBy})
			if err == nil {
				for i := range pods.Items {
					p := &pods.Items[i]
					if p.Labels["batch.kubernetes.io/job-name"] != "" || p.DeletionTimestamp != nil {
						continue
					}
					node := p.Labels[state.LabelApp]
					b.mu.Lock()
					quiet := b.deleting[node]
					b.mu.Unlock()
					c, reason, code := failureOf(p)
					if c == "" || quiet || seen[string(p.UID)+reason] {
						continue
					}
					seen[string(p.UID)+reason] = true
					select {
					case ch <- backend.Failure{Node: node, Unit: p.Name, ExitCode: code, Reason: "container " + c + ": " + reason}:
					case <-ctx.Done():
						return
					}
				}
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Second):
			}
		}
	}()
	return ch, nil
}

// Logs implements backend.Backend: one stream per pod of the node (its
// main container), or the bootstrap Job's pods.
func (b *Backend) Logs(ctx context.Context, node string, opts backend.LogOptions) ([]backend.LogStream, error) {
	objs := b.p.nodes[node]
	if len(objs) == 0 {
		return nil, fmt.Errorf("kube: %s: %w", node, backend.ErrNotFound)
	}
	sel := state.LabelApp + "=" + node
	if w := workload(objs); w != nil && w.u.GetKind() == "Job" {
		sel = state.LabelBootstrap + "=" + node
	}
	pods, err := b.cs.CoreV1().Pods(b.ns).List(ctx, metav1.ListOptions{LabelSelector: sel})
	if err != nil {
		return nil, err
	}
	var out []backend.LogStream
	for _, p := range pods.Items {
		if len(p.Spec.Containers) == 0 {
			continue
		}
		o := &corev1.PodLogOptions{Container: p.Spec.Containers[0].Name, Follow: opts.Follow}
		if opts.Tail > 0 {
			t := int64(opts.Tail)
			o.TailLines = &t
		}
		rc, err := b.cs.CoreV1().Pods(b.ns).GetLogs(p.Name, o).Stream(ctx)
		if err != nil {
			continue // not started yet: nothing to read
		}
		out = append(out, backend.LogStream{Unit: p.Name, Name: p.Name, ReadCloser: rc})
	}
	return out, nil
}
