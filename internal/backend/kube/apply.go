package kube

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/novadev/novadev/internal/backend"
	"github.com/novadev/novadev/internal/state"
)

// apply server-side applies o unless the cluster already holds its hash
// (have): a second up with nothing changed sends no write at all, so no
// resourceVersion moves.
func (b *Backend) apply(ctx context.Context, o object, have string) error {
	if have == o.hash {
		return nil
	}
	gvr, ok := gvrOf(o.u.GetKind())
	if !ok {
		return fmt.Errorf("kube: %s: kind %s is not one novadev applies", o.key(), o.u.GetKind())
	}
	data, err := json.Marshal(o.u.Object)
	if err != nil {
		return err
	}
	force := true
	opts := metav1.PatchOptions{FieldManager: FieldManager, Force: &force}
	var rc = b.dyn.Resource(gvr)
	if o.u.GetKind() == "Namespace" {
		_, err = rc.Patch(ctx, o.u.GetName(), types.ApplyPatchType, data, opts)
	} else {
		_, err = rc.Namespace(b.ns).Patch(ctx, o.u.GetName(), types.ApplyPatchType, data, opts)
	}
	if err != nil {
		return fmt.Errorf("kube: applying %s in %s: %w", o.key(), b.ns, err)
	}
	return nil
}

// applyAll applies objects whose observed hash differs.
func (b *Backend) applyAll(ctx context.Context, objs []object, l *listed) error {
	for _, o := range objs {
		have := ""
		if m := l.objs[o.key()]; m != nil && m.DeletionTimestamp == nil {
			have = m.Annotations[AnnotationHash]
		}
		if err := b.apply(ctx, o, have); err != nil {
			return err
		}
	}
	return nil
}

// Prepare implements backend.Backend: the namespace, then every object no
// graph node owns (ConfigMaps, the credentials Secret, RBAC, network
// policies), then the orphans (objects novadev applied earlier that are
// no longer rendered) are deleted.
func (b *Backend) Prepare(ctx context.Context, snap *backend.Snapshot, start []string) error {
	l, err := b.list(ctx)
	if err != nil {
		return err
	}
	have := ""
	if l.ns != nil {
		have = l.ns.Annotations[AnnotationHash]
	}
	if err := b.apply(ctx, *b.p.ns, have); err != nil {
		return err
	}
	if err := b.applyAll(ctx, b.p.shared, l); err != nil {
		return err
	}
	for _, o := range snap.Orphans {
		kind, name, _ := strings.Cut(o.Name, "/")
		if err := b.deleteObject(ctx, kind, name); err != nil {
			return err
		}
	}
	return nil
}

func (b *Backend) deleteObject(ctx context.Context, kind, name string) error {
	gvr, ok := gvrOf(kind)
	if !ok {
		return nil
	}
	bg := metav1.DeletePropagationBackground
	err := b.dyn.Resource(gvr).Namespace(b.ns).Delete(ctx, name, metav1.DeleteOptions{PropagationPolicy: &bg})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("kube: deleting %s/%s in %s: %w", kind, name, b.ns, err)
	}
	return nil
}

// Apply implements backend.Backend: it applies the node's objects that
// changed and waits until its workload is Available (Deployment: init
// containers passed, pods ready) or Ready (StatefulSet: every replica
// ready at the current revision).
func (b *Backend) Apply(ctx context.Context, node string) (*backend.Node, error) {
	objs, ok := b.p.nodes[node]
	if !ok {
		return nil, fmt.Errorf("kube: %s: %w", node, backend.ErrNotFound)
	}
	l, err := b.list(ctx)
	if err != nil {
		return nil, err
	}
	if err := b.applyAll(ctx, objs, l); err != nil {
		return nil, err
	}
	w := workload(objs)
	if w == nil {
		return b.node(node, objs, l), nil
	}
	deadline := time.Now().Add(b.WaitTimeout)
	for {
		var why string
		switch w.u.GetKind() {
		case "Deployment":
			d, err := b.cs.AppsV1().Deployments(b.ns).Get(ctx, w.u.GetName(), metav1.GetOptions{})
			if err != nil {
				return nil, err
			}
			why = deploymentWaiting(d)
		case "StatefulSet":
			s, err := b.cs.AppsV1().StatefulSets(b.ns).Get(ctx, w.u.GetName(), metav1.GetOptions{})
			if err != nil {
				return nil, err
			}
			why = statefulSetWaiting(s)
		}
		if why == "" {
			break
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("%s %s not ready after %s: %s%s", w.u.GetKind(), w.u.GetName(), b.WaitTimeout, why, b.podTrouble(ctx, node))
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(b.Poll):
		}
	}
	if l, err = b.list(ctx); err != nil {
		return nil, err
	}
	return b.node(node, objs, l), nil
}

func deploymentWaiting(d *appsv1.Deployment) string {
	want := int32(1)
	if d.Spec.Replicas != nil {
		want = *d.Spec.Replicas
	}
	st := d.Status
	switch {
	case st.ObservedGeneration < d.Generation:
		return "its controller has not seen the change yet"
	case st.UpdatedReplicas < want:
		return fmt.Sprintf("%d of %d pods updated", st.UpdatedReplicas, want)
	case st.Replicas > st.UpdatedReplicas:
		return fmt.Sprintf("%d old pods still terminating", st.Replicas-st.UpdatedReplicas)
	case st.AvailableReplicas < want:
		return fmt.Sprintf("%d of %d pods available", st.AvailableReplicas, want)
	}
	for _, c := range st.Conditions {
		if c.Type == appsv1.DeploymentAvailable && c.Status != corev1.ConditionTrue {
			return "not Available: " + c.Message
		}
	}
	return ""
}

func statefulSetWaiting(s *appsv1.StatefulSet) string {
	want := int32(1)
	if s.Spec.Replicas != nil {
		want = *s.Spec.Replicas
	}
	st := s.Status
	switch {
	case st.ObservedGeneration < s.Generation:
		return "its controller has not seen the change yet"
	case st.UpdateRevision != "" && st.CurrentRevision != st.UpdateRevision && st.UpdatedReplicas < want:
		return fmt.Sprintf("%d of %d pods updated", st.UpdatedReplicas, want)
	case st.ReadyReplicas < want:
		return fmt.Sprintf("%d of %d pods ready", st.ReadyReplicas, want)
	}
	return ""
}

// podTrouble describes why a node's pods are not ready (Pending reasons,
// waiting containers), for a timeout's error.
func (b *Backend) podTrouble(ctx context.Context, node string) string {
	pods, err := b.cs.CoreV1().Pods(b.ns).List(ctx, metav1.ListOptions{LabelSelector: state.LabelApp + "=" + node})
	if err != nil {
		return ""
	}
	var out []string
	for _, p := range pods.Items {
		var why []string
		for _, c := range p.Status.Conditions {
			if c.Status != corev1.ConditionTrue && c.Message != "" {
				why = append(why, c.Message)
			}
		}
		for _, cs := range append(p.Status.InitContainerStatuses, p.Status.ContainerStatuses...) {
			if w := cs.State.Waiting; w != nil && w.Reason != "PodInitializing" {
				why = append(why, cs.Name+": "+w.Reason+" "+w.Message)
			}
		}
		out = append(out, fmt.Sprintf("\n  pod %s: %s %s", p.Name, p.Status.Phase, strings.Join(why, "; ")))
	}
	return strings.Join(out, "")
}

// Delete implements backend.Backend: the node's objects (with volumes, a
// StatefulSet's claims too).
func (b *Backend) Delete(ctx context.Context, node string, volumes bool) error {
	objs := b.p.nodes[node]
	b.mu.Lock()
	b.deleting[node] = true
	b.mu.Unlock()
	for i := len(objs) - 1; i >= 0; i-- {
		if err := b.deleteObject(ctx, objs[i].u.GetKind(), objs[i].u.GetName()); err != nil {
			return err
		}
	}
	if volumes {
		pvcs, err := b.cs.CoreV1().PersistentVolumeClaims(b.ns).List(ctx, metav1.ListOptions{LabelSelector: state.LabelApp + "=" + node})
		if err != nil && !apierrors.IsNotFound(err) {
			return err
		}
		if pvcs != nil {
			for _, c := range pvcs.Items {
				if err := b.cs.CoreV1().PersistentVolumeClaims(b.ns).Delete(ctx, c.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
					return err
				}
			}
		}
	}
	return nil
}

// Teardown implements backend.Backend. With volumes the namespace goes,
// and with it everything in it (the call waits until it is gone); without,
// every object novadev applied goes and the volume claims and the
// namespace stay, as Docker keeps its volumes.
func (b *Backend) Teardown(ctx context.Context, volumes bool) ([]backend.Resource, error) {
	l, err := b.list(ctx)
	if err != nil {
		return nil, err
	}
	if l.ns == nil {
		return nil, nil
	}
	var out []backend.Resource
	if !volumes {
		for k := range l.objs {
			kind, name, _ := strings.Cut(k, "/")
			if err := b.deleteObject(ctx, kind, name); err != nil {
				return out, err
			}
			out = append(out, backend.Resource{Kind: strings.ToLower(kind), Name: name})
		}
		return out, nil
	}
	if l.ns.Labels[state.LabelAppManagedBy] != state.ManagedBy {
		return nil, fmt.Errorf("namespace %s was not created by novadev (no %s=%s label): not deleting it", b.ns, state.LabelAppManagedBy, state.ManagedBy)
	}
	bg := metav1.DeletePropagationBackground
	if err := b.cs.CoreV1().Namespaces().Delete(ctx, b.ns, metav1.DeleteOptions{PropagationPolicy: &bg}); err != nil && !apierrors.IsNotFound(err) {
		return nil, err
	}
	out = append(out, backend.Resource{Kind: "namespace", Name: b.ns})
	for {
		_, err := b.cs.CoreV1().Namespaces().Get(ctx, b.ns, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return out, nil
		}
		select {
		case <-ctx.Done():
			return out, fmt.Errorf("namespace %s still terminating: %w", b.ns, ctx.Err())
		case <-time.After(b.Poll):
		}
	}
}

// Record implements backend.Backend: an annotation on the bootstrap's Job
// (the Job is the bootstrap's state on this target: deleting it forgets
// the record, and the bootstrap runs again).
func (b *Backend) Record(ctx context.Context, bootstrap, sum string) error {
	objs := b.p.nodes[bootstrap]
	if len(objs) == 0 {
		return fmt.Errorf("kube: no Job renders bootstrap %s", bootstrap)
	}
	patch, _ := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": map[string]string{AnnotationRecord: sum}}})
	_, err := b.cs.BatchV1().Jobs(b.ns).Patch(ctx, objs[0].u.GetName(), types.MergePatchType, patch, metav1.PatchOptions{FieldManager: FieldManager + "-record"})
	if err != nil {
		return fmt.Errorf("kube: recording bootstrap %s: %w", bootstrap, err)
	}
	return nil
}

var errJobFailed = errors.New("job failed")
