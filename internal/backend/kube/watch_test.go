package kube

import (
	"testing"

	"github.com/stretchr/testify/assert"
	corev1 "k8s.io/api/core/v1"
)

func TestFailureOf(t *testing.T) {
	pod := func(s corev1.ContainerStatus) *corev1.Pod {
		return &corev1.Pod{Status: corev1.PodStatus{ContainerStatuses: []corev1.ContainerStatus{s}}}
	}
	c, r, code := failureOf(pod(corev1.ContainerStatus{Name: "redis", State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}},
		LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 1, Reason: "Error"}}}))
	assert.Equal(t, []any{"redis", "CrashLoopBackOff (last exit 1: Error)", 1}, []any{c, r, code})
	c, r, _ = failureOf(pod(corev1.ContainerStatus{Name: "pg", State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ErrImageNeverPull", Message: "image not present"}}}))
	assert.Equal(t, []any{"pg", "ErrImageNeverPull: image not present"}, []any{c, r})
	_, r, code = failureOf(pod(corev1.ContainerStatus{Name: "ch", State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}},
		LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 137, Reason: "OOMKilled"}}}))
	assert.Equal(t, []any{"OOMKilled (exit 137)", 137}, []any{r, code})
	c, _, _ = failureOf(pod(corev1.ContainerStatus{Name: "ok", State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ContainerCreating"}}}))
	assert.Empty(t, c, "still starting is no failure")
}
