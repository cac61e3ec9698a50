package kind

import (
	"testing"

	"github.com/stretchr/testify/require"
	admissionv1 "k8s.io/api/admissionregistration/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"

	"github.com/novadev/novadev/internal/state"
)

// TestJanitor: the janitor's kustomization builds on its own, in its own
// namespace, runs `novadev gc --in-cluster` with the tool image as its
// ServiceAccount, and its ClusterRole grants list, watch and delete on
// namespaces and nothing else.
func TestJanitor(t *testing.T) {
	set, files := renderFiles(t, novaCatalog)
	objs := build(t, set, files, janitorOverlay)
	var kinds []string
	for _, o := range objs {
		kinds = append(kinds, o.Kind+"/"+o.Metadata.Namespace+"/"+o.Metadata.Name)
	}
	require.ElementsMatch(t, []string{
		"Namespace//novadev-janitor", "ServiceAccount/novadev-janitor/novadev-janitor",
		"ClusterRole//novadev-janitor", "ClusterRoleBinding//novadev-janitor",
		"ValidatingAdmissionPolicy//novadev-janitor", "ValidatingAdmissionPolicyBinding//novadev-janitor",
		"CronJob/novadev-janitor/novadev-janitor",
	}, kinds)

	ns := find[corev1.Namespace](t, objs, "Namespace", JanitorNamespace)
	require.NotContains(t, ns.Labels, state.LabelManagedBy, "the janitor's namespace must not be one gc collects")
	require.NotContains(t, ns.Labels, state.LabelEphemeral)

	role := find[rbacv1.ClusterRole](t, objs, "ClusterRole", JanitorName)
	require.Equal(t, []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"namespaces"}, Verbs: []string{"list", "watch", "delete"}}}, role.Rules)
	binding := find[rbacv1.ClusterRoleBinding](t, objs, "ClusterRoleBinding", JanitorName)
	require.Equal(t, rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: JanitorName}, binding.RoleRef)
	require.Equal(t, []rbacv1.Subject{{Kind: "ServiceAccount", Name: JanitorName, Namespace: JanitorNamespace}}, binding.Subjects)

	cj := find[batchv1.CronJob](t, objs, "CronJob", JanitorName)
	pod := cj.Spec.JobTemplate.Spec.Template.Spec
	require.Equal(t, JanitorName, pod.ServiceAccountName)
	require.Len(t, pod.Containers, 1)
	require.Equal(t, ToolImage, pod.Containers[0].Image)
	require.Equal(t, []string{"gc", "--in-cluster"}, pod.Containers[0].Args)
	require.Equal(t, batchv1.ForbidConcurrent, cj.Spec.ConcurrencyPolicy)
	require.Equal(t, JanitorSchedule, cj.Spec.Schedule)

	vap := find[admissionv1.ValidatingAdmissionPolicy](t, objs, "ValidatingAdmissionPolicy", JanitorName)
	require.Equal(t, `request.userInfo.username == "`+JanitorUser+`"`, vap.Spec.MatchConditions[0].Expression)
	require.Equal(t, JanitorUser, "system:serviceaccount:"+JanitorNamespace+":"+JanitorName)
	vapb := find[admissionv1.ValidatingAdmissionPolicyBinding](t, objs, "ValidatingAdmissionPolicyBinding", JanitorName)
	require.Equal(t, JanitorName, vapb.Spec.PolicyName)
	require.Equal(t, []admissionv1.ValidationAction{admissionv1.Deny}, vapb.Spec.ValidationActions)

	// the pr overlay itself does not pull the janitor in: its namespace
	// transformer would move it into the pull request's namespace
	for _, o := range build(t, set, files, OverlayPR) {
		require.NotEqual(t, "CronJob", o.Kind)
	}
}
