package kube

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// MaxJobRestarts is how many times a bootstrap's container may fail
// before RunBootstrap gives up with its log tail, although the Job itself
// would retry up to its backoffLimit: the stores it needs were proven
// ready before it started, so repeated failures are not a store still
// starting.
const MaxJobRestarts = 2

// RunBootstrap runs a bootstrap as its rendered Job and waits for it:
// Complete is done, Failed (or its container failing MaxJobRestarts+1
// times) fails with the last lines it logged. The Job's lines are passed
// to log as they come. A Job already complete with the same configuration
// against the same instances of what it needs is done at once, with no
// write (a second up changes nothing); one that is not (its configuration
// changed, a store was recreated, it failed) is deleted and created again.
func (b *Backend) RunBootstrap(ctx context.Context, name string, log func(format string, args ...any)) error {
	objs := b.p.nodes[name]
	if len(objs) == 0 || objs[0].u.GetKind() != "Job" {
		return fmt.Errorf("kube: no Job renders bootstrap %s", name)
	}
	want := objs[0]
	l, err := b.list(ctx)
	if err != nil {
		return err
	}
	against := b.ranAgainst(name, l)
	if cur := l.jobs[want.u.GetName()]; cur != nil {
		same := cur.Annotations[AnnotationHash] == want.hash && cur.Annotations[AnnotationRanAgainst] == against && cur.DeletionTimestamp == nil
		switch {
		case same && jobDone(cur, batchv1.JobComplete):
			log("job %s completed before against the same configuration and stores", cur.Name)
			return nil
		case same && !jobDone(cur, batchv1.JobFailed):
			// still running (an interrupted up): wait for it
		default:
			log("job %s: running again (%s)", cur.Name, rerunWhy(cur, want.hash, against))
			if err := b.deleteJob(ctx, cur.Name); err != nil {
				return err
			}
			cur = nil
		}
		if cur != nil {
			return b.waitJob(ctx, name, cur.Name, log)
		}
	}
	u := want.u.DeepCopy()
	a := u.GetAnnotations()
	a[AnnotationRanAgainst] = against
	u.SetAnnotations(a)
	if err := b.apply(ctx, object{u: u, hash: want.hash}, ""); err != nil {
		return err
	}
	return b.waitJob(ctx, name, want.u.GetName(), log)
}

func rerunWhy(j *batchv1.Job, hash, against string) string {
	switch {
	case jobDone(j, batchv1.JobFailed):
		return "it failed before"
	case j.Annotations[AnnotationHash] != hash:
		return "its configuration changed"
	case j.Annotations[AnnotationRanAgainst] != against:
		return "what it needs was recreated since"
	}
	return "it is being deleted"
}

// ranAgainst fingerprints the instances of what a bootstrap needs: pod
// UIDs of stores and services, Job UIDs of bootstraps.
func (b *Backend) ranAgainst(name string, l *listed) string {
	var parts []string
	for _, need := range b.sp.Nodes[name].Needs {
		if b.sp.Nodes[need].Kind == Bootstrap {
			if objs := b.p.nodes[need]; len(objs) > 0 {
				if j := l.jobs[objs[0].u.GetName()]; j != nil {
					parts = append(parts, need+"="+string(j.UID))
				}
			}
			continue
		}
		var uids []string
		for _, p := range l.podsOf(need) {
			if p.DeletionTimestamp == nil {
				uids = append(uids, string(p.UID))
			}
		}
		sort.Strings(uids)
		parts = append(parts, need+"="+strings.Join(uids, ","))
	}
	s := sha256.Sum256([]byte(strings.Join(parts, "\n")))
	return hex.EncodeToString(s[:12])
}

func jobDone(j *batchv1.Job, t batchv1.JobConditionType) bool {
	for _, c := range j.Status.Conditions {
		if c.Type == t && c.Status == corev1.ConditionTrue {
			return true
		}
	}
	return false
}

// podSucceeded says whether a Job of one completion has a pod that
// succeeded: it is done then, although the Job controller sets Complete
// 2-4 s later (its sync; docs/benchmarks.md, session 5), twice on the
// critical path of a cold up (postgres-init, then migrations).
func podSucceeded(j *batchv1.Job, pods []corev1.Pod) bool {
	if c := j.Spec.Completions; c != nil && *c != 1 {
		return false
	}
	for _, p := range pods {
		if p.Status.Phase == corev1.PodSucceeded && p.DeletionTimestamp == nil {
			return true
		}
	}
	return false
}

// deleteJob deletes a Job and its pods and waits until it is gone (a new
// Job of the same name cannot be created before).
func (b *Backend) deleteJob(ctx context.Context, name string) error {
	fg := metav1.DeletePropagationForeground
	if err := b.cs.BatchV1().Jobs(b.ns).Delete(ctx, name, metav1.DeleteOptions{PropagationPolicy: &fg}); err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	for {
		if _, err := b.cs.BatchV1().Jobs(b.ns).Get(ctx, name, metav1.GetOptions{}); apierrors.IsNotFound(err) {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(b.Poll):
		}
	}
}

// waitJob waits for the Job, streaming its pods' logs to log.
func (b *Backend) waitJob(ctx context.Context, node, job string, log func(string, ...any)) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	defer wg.Wait()
	streamed := map[string]bool{} // pod/restart -> following
	var tailMu sync.Mutex
	var tail []string
	keep := func(line string) {
		tailMu.Lock()
		tail = append(tail, line)
		if len(tail) > 20 {
			tail = tail[len(tail)-20:]
		}
		tailMu.Unlock()
	}
	lastTail := func() string {
		tailMu.Lock()
		defer tailMu.Unlock()
		if len(tail) == 0 {
			return "(it logged nothing)"
		}
		return "last log lines:\n    " + strings.Join(tail, "\n    ")
	}
	for {
		j, err := b.cs.BatchV1().Jobs(b.ns).Get(ctx, job, metav1.GetOptions{})
		if err != nil {
			return fmt.Errorf("kube: job %s: %w", job, err)
		}
		pods, err := b.cs.CoreV1().Pods(b.ns).List(ctx, metav1.ListOptions{LabelSelector: "batch.kubernetes.io/controller-uid=" + string(j.UID)})
		if err != nil {
			return err
		}
		restarts := 0
		for _, p := range pods.Items {
			for _, cs := range p.Status.ContainerStatuses {
				restarts += int(cs.RestartCount)
				if w := cs.State.Waiting; w != nil && imageTrouble[w.Reason] {
					return fmt.Errorf("job %s: pod %s: %s: %s", job, p.Name, w.Reason, w.Message)
				}
				if cs.State.Running == nil && cs.State.Terminated == nil {
					continue
				}
				k := fmt.Sprintf("%s/%d", p.Name, cs.RestartCount)
				if streamed[k] {
					continue
				}
				streamed[k] = true
				wg.Add(1)
				go func(pod, container string) {
					defer wg.Done()
					b.follow(ctx, pod, container, func(line string) { keep(line); log("%s", line) })
				}(p.Name, cs.Name)
			}
		}
		if jobDone(j, batchv1.JobComplete) || podSucceeded(j, pods.Items) {
			cancel()
			return nil
		}
		if jobDone(j, batchv1.JobFailed) || restarts > MaxJobRestarts {
			time.Sleep(200 * time.Millisecond) // let the last lines arrive
			cancel()
			wg.Wait()
			why := "failed"
			if !jobDone(j, batchv1.JobFailed) {
				why = fmt.Sprintf("its container failed %d times", restarts+1)
			}
			return fmt.Errorf("job %s %s; %s", job, why, lastTail())
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("job %s not complete: %w; %s", job, ctx.Err(), lastTail())
		case <-time.After(b.Poll):
		}
	}
}

// follow streams one container's log lines until it ends or ctx does.
func (b *Backend) follow(ctx context.Context, pod, container string, line func(string)) {
	rc, err := b.cs.CoreV1().Pods(b.ns).GetLogs(pod, &corev1.PodLogOptions{Container: container, Follow: true}).Stream(ctx)
	if err != nil {
		return
	}
	defer rc.Close()
	sc := bufio.NewScanner(rc)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		line(sc.Text())
	}
}
