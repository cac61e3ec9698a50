package kubecluster

import (
	"bufio"
	"context"
	"fmt"
	"slices"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/novadev/novadev/internal/catalog"
	"github.com/novadev/novadev/internal/state"
	"github.com/novadev/novadev/internal/verify"
)

// Node reports what the cluster records about a graph node: a service's
// Deployment with every replica updated and Ready, a store's StatefulSet
// likewise, a bootstrap's Job Complete. The detail says which pod or
// container holds it up when not.
func (i *Instance) Node(ctx context.Context, name string) (verify.NodeState, error) {
	it, ok := i.c.Graph().Node(name)
	if !ok {
		return verify.NodeState{}, fmt.Errorf("%s is not a node of this environment", name)
	}
	switch it.Kind {
	case catalog.KindBootstrap:
		return i.JobState(ctx, name)
	case catalog.KindStore:
		if it.Store.External {
			return verify.NodeState{Skip: "external store (" + it.Store.URI + ")"}, nil
		}
		if it.Unavailable != "" {
			// the overlay deletes its workload (no image in this environment)
			return verify.NodeState{Skip: "unavailable, its users run degraded: " + it.Unavailable}, nil
		}
		return i.StatefulSetState(ctx, name)
	default:
		return i.DeploymentState(ctx, name)
	}
}

// selector selects the pods and workloads of a graph node (the renderer's
// app label).
func selector(node string) string {
	return labels.Set{state.LabelApp: node}.String()
}

// DeploymentState is a service's state: its Deployment has observed its
// latest spec and every replica is updated and Ready.
func (i *Instance) DeploymentState(ctx context.Context, node string) (verify.NodeState, error) {
	list, err := i.cs.AppsV1().Deployments(i.o.Namespace).List(ctx, metav1.ListOptions{LabelSelector: selector(node)})
	if err != nil {
		return verify.NodeState{}, fmt.Errorf("list Deployments %s in %s: %w", selector(node), i.o.Namespace, err)
	}
	if len(list.Items) == 0 {
		return verify.NodeState{Detail: fmt.Sprintf("no Deployment labelled %s in namespace %s (is the overlay applied?)", selector(node), i.o.Namespace)}, nil
	}
	var bad []string
	pods := 0
	for _, d := range list.Items {
		want := int32(1)
		if d.Spec.Replicas != nil {
			want = *d.Spec.Replicas
		}
		pods += int(want)
		if msg := deploymentProblem(&d, want); msg != "" {
			bad = append(bad, msg)
		}
	}
	return i.workloadState(ctx, node, bad, pods)
}

func deploymentProblem(d *appsv1.Deployment, want int32) string {
	st := d.Status
	switch {
	case st.ObservedGeneration < d.Generation:
		return fmt.Sprintf("Deployment %s has not observed its latest spec yet", d.Name)
	case st.UpdatedReplicas < want || st.ReadyReplicas < want || st.Replicas > want:
		return fmt.Sprintf("Deployment %s: %d of %d replicas Ready, %d updated, %d in all", d.Name, st.ReadyReplicas, want, st.UpdatedReplicas, st.Replicas)
	}
	return ""
}

// StatefulSetState is a store's state: its StatefulSet at its latest
// revision with every replica Ready.
func (i *Instance) StatefulSetState(ctx context.Context, node string) (verify.NodeState, error) {
	list, err := i.cs.AppsV1().StatefulSets(i.o.Namespace).List(ctx, metav1.ListOptions{LabelSelector: selector(node)})
	if err != nil {
		return verify.NodeState{}, fmt.Errorf("list StatefulSets %s in %s: %w", selector(node), i.o.Namespace, err)
	}
	if len(list.Items) == 0 {
		return verify.NodeState{Detail: fmt.Sprintf("no StatefulSet labelled %s in namespace %s (is the overlay applied?)", selector(node), i.o.Namespace)}, nil
	}
	var bad []string
	pods := 0
	for _, s := range list.Items {
		want := int32(1)
		if s.Spec.Replicas != nil {
			want = *s.Spec.Replicas
		}
		pods += int(want)
		st := s.Status
		switch {
		case want == 0:
			bad = append(bad, fmt.Sprintf("StatefulSet %s is scaled to 0", s.Name))
		case st.ObservedGeneration < s.Generation:
			bad = append(bad, fmt.Sprintf("StatefulSet %s has not observed its latest spec yet", s.Name))
		case st.ReadyReplicas < want || (st.UpdateRevision != "" && st.CurrentRevision != st.UpdateRevision):
			bad = append(bad, fmt.Sprintf("StatefulSet %s: %d of %d replicas Ready", s.Name, st.ReadyReplicas, want))
		}
	}
	return i.workloadState(ctx, node, bad, pods)
}

// workloadState turns workload problems into a NodeState, naming the pods
// (and their containers) that are not Ready.
func (i *Instance) workloadState(ctx context.Context, node string, bad []string, pods int) (verify.NodeState, error) {
	if len(bad) == 0 {
		return verify.NodeState{Ready: true, Detail: fmt.Sprintf("%d of %d pods Ready", pods, pods)}, nil
	}
	if ps, err := i.pods(ctx, node); err == nil {
		for _, p := range ps {
			if !PodReady(&p) {
				bad = append(bad, "pod "+p.Name+": "+PodProblem(&p))
			}
		}
	}
	return verify.NodeState{Detail: strings.Join(bad, "; ")}, nil
}

// JobState is a bootstrap's state: the Job labelled novadev.io/bootstrap
// with its name (what `novadev wait job://` waits for) is Complete.
func (i *Instance) JobState(ctx context.Context, bootstrap string) (verify.NodeState, error) {
	sel := labels.Set{state.LabelBootstrap: bootstrap}.String()
	list, err := i.cs.BatchV1().Jobs(i.o.Namespace).List(ctx, metav1.ListOptions{LabelSelector: sel})
	if err != nil {
		return verify.NodeState{}, fmt.Errorf("list Jobs %s in %s: %w", sel, i.o.Namespace, err)
	}
	if len(list.Items) == 0 {
		return verify.NodeState{Detail: fmt.Sprintf("no Job labelled %s in namespace %s (is the overlay applied?)", sel, i.o.Namespace)}, nil
	}
	var bad, good []string
	for _, j := range list.Items {
		if ok, msg := JobComplete(&j); ok {
			good = append(good, msg)
		} else {
			bad = append(bad, msg)
		}
	}
	if len(bad) > 0 {
		return verify.NodeState{Detail: strings.Join(bad, "; ")}, nil
	}
	return verify.NodeState{Ready: true, Detail: strings.Join(good, "; ")}, nil
}

// JobComplete reports whether a Job has its Complete condition, and says
// what it found (how long it took, or why it is not complete).
func JobComplete(j *batchv1.Job) (bool, string) {
	for _, c := range j.Status.Conditions {
		if c.Status != corev1.ConditionTrue {
			continue
		}
		switch c.Type {
		case batchv1.JobComplete:
			msg := "Job " + j.Name + " complete"
			if j.Status.StartTime != nil && j.Status.CompletionTime != nil {
				msg += fmt.Sprintf(" in %s", j.Status.CompletionTime.Sub(j.Status.StartTime.Time))
			}
			return true, msg
		case batchv1.JobFailed:
			return false, fmt.Sprintf("Job %s failed: %s %s", j.Name, c.Reason, c.Message)
		}
	}
	return false, fmt.Sprintf("Job %s not complete: %d active, %d failed attempts", j.Name, j.Status.Active, j.Status.Failed)
}

// PodReady reports whether a pod runs with its Ready condition true.
func PodReady(p *corev1.Pod) bool {
	if p.DeletionTimestamp != nil || p.Status.Phase != corev1.PodRunning {
		return false
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// PodProblem says why a pod is not Ready: the first init container not
// completed, else the containers not ready, else its phase and conditions.
func PodProblem(p *corev1.Pod) string {
	if p.DeletionTimestamp != nil {
		return "terminating"
	}
	for _, s := range p.Status.InitContainerStatuses {
		if t := s.State.Terminated; t != nil && t.ExitCode == 0 {
			continue
		}
		return "init container " + s.Name + " " + containerState(s)
	}
	var bad []string
	for _, s := range p.Status.ContainerStatuses {
		if !s.Ready {
			bad = append(bad, "container "+s.Name+" "+containerState(s))
		}
	}
	if len(bad) > 0 {
		return strings.Join(bad, ", ")
	}
	msg := string(p.Status.Phase)
	for _, c := range p.Status.Conditions {
		if c.Status != corev1.ConditionTrue && c.Message != "" {
			msg += fmt.Sprintf(" (%s: %s)", c.Type, c.Message)
		}
	}
	return msg
}

// containerState is a container's state as kubectl describes it.
func containerState(s corev1.ContainerStatus) string {
	switch {
	case s.State.Waiting != nil:
		msg := "waiting: " + s.State.Waiting.Reason
		if s.State.Waiting.Message != "" {
			msg += " (" + firstLine(s.State.Waiting.Message) + ")"
		}
		if t := s.LastTerminationState.Terminated; t != nil {
			msg += fmt.Sprintf(", last exit %d %s", t.ExitCode, t.Reason)
		}
		if s.RestartCount > 0 {
			msg += fmt.Sprintf(", %d restarts", s.RestartCount)
		}
		return msg
	case s.State.Running != nil:
		msg := "running since " + s.State.Running.StartedAt.UTC().Format("15:04:05")
		if s.RestartCount > 0 {
			msg += fmt.Sprintf(", %d restarts", s.RestartCount)
		}
		return msg
	case s.State.Terminated != nil:
		t := s.State.Terminated
		msg := fmt.Sprintf("terminated: exit %d %s", t.ExitCode, t.Reason)
		if t.Message != "" {
			msg += " (" + firstLine(t.Message) + ")"
		}
		return msg
	}
	return "not started"
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// pods returns the pods of a graph node that are not being deleted,
// sorted by name.
func (i *Instance) pods(ctx context.Context, node string) ([]corev1.Pod, error) {
	list, err := i.cs.CoreV1().Pods(i.o.Namespace).List(ctx, metav1.ListOptions{LabelSelector: selector(node)})
	if err != nil {
		return nil, fmt.Errorf("list pods %s in %s: %w", selector(node), i.o.Namespace, err)
	}
	out := slices.DeleteFunc(list.Items, func(p corev1.Pod) bool { return p.DeletionTimestamp != nil })
	slices.SortFunc(out, func(a, b corev1.Pod) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// LogTail returns about the last lines log lines of every container (init
// containers included) of a node's pods, each line prefixed with
// pod/container, as `kubectl logs --prefix` prints them.
func (i *Instance) LogTail(ctx context.Context, node string, lines int) (string, error) {
	ps, err := i.pods(ctx, node)
	if err != nil {
		return "", err
	}
	if len(ps) == 0 {
		return "", fmt.Errorf("no pods labelled %s in namespace %s", selector(node), i.o.Namespace)
	}
	n := int64(max(lines, 1))
	var b strings.Builder
	for _, p := range ps {
		// a container that is waiting to start for the first time has no
		// logs (the API answers an error): only the others are asked
		var names []string
		for _, s := range append(slices.Clone(p.Status.InitContainerStatuses), p.Status.ContainerStatuses...) {
			if s.State.Waiting == nil || s.RestartCount > 0 {
				names = append(names, s.Name)
			}
		}
		for _, c := range names {
			raw, err := i.cs.CoreV1().Pods(i.o.Namespace).GetLogs(p.Name, &corev1.PodLogOptions{Container: c, TailLines: &n}).DoRaw(ctx)
			if err != nil {
				fmt.Fprintf(&b, "%s/%s | (logs unavailable: %v)\n", p.Name, c, err)
				continue
			}
			sc := bufio.NewScanner(strings.NewReader(string(raw)))
			sc.Buffer(make([]byte, 64<<10), 1<<20)
			for sc.Scan() {
				fmt.Fprintf(&b, "%s/%s | %s\n", p.Name, c, sc.Text())
			}
		}
	}
	return b.String(), nil
}
