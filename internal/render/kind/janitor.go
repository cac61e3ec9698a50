package kind

import (
	"fmt"

	admissionv1 "k8s.io/api/admissionregistration/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/novadev/novadev/internal/catalog"
	"github.com/novadev/novadev/internal/render"
	"github.com/novadev/novadev/internal/state"
)

// The in-cluster janitor: a CronJob running `novadev gc --in-cluster`, which
// deletes the expired novadev namespaces of the cluster (internal/kubegc).
// It is one per cluster, not one per pull request, so it is its own
// kustomization beside the pr overlay (kind/overlays/pr/janitor), in a
// namespace of its own: inside a pull request's namespace it would be
// deleted with the first namespace it collected, and every pull request
// would rebind the same cluster-wide role to its own ServiceAccount.
const (
	// JanitorDir is the janitor's kustomization, relative to the pr overlay.
	JanitorDir = "janitor"
	// JanitorNamespace holds the janitor. It carries none of the labels gc
	// selects by, so the janitor never collects itself.
	JanitorNamespace = "novadev-janitor"
	// JanitorName names the CronJob, ServiceAccount, ClusterRole,
	// ClusterRoleBinding and ValidatingAdmissionPolicy (and its binding).
	JanitorName = "novadev-janitor"
	// JanitorSchedule: every 15 minutes, so an instance outlives its expiry
	// by at most that (plus a run).
	JanitorSchedule = "*/15 * * * *"
	// ComponentJanitor is the janitor's component label.
	ComponentJanitor = "janitor"
)

// JanitorUser is the user name the janitor's ServiceAccount authenticates as.
var JanitorUser = "system:serviceaccount:" + JanitorNamespace + ":" + JanitorName

// janitorDeletableCEL is true for a namespace gc may delete: one of the two
// labels kubegc selects by. RBAC cannot restrict a verb by label, so the
// ValidatingAdmissionPolicy says it, for the janitor's user only.
var janitorDeletableCEL = fmt.Sprintf("has(oldObject.metadata.labels) && "+
	"((%[1]q in oldObject.metadata.labels && oldObject.metadata.labels[%[1]q] == %[2]q) || "+
	"(%[3]q in oldObject.metadata.labels && oldObject.metadata.labels[%[3]q] == 'true'))",
	state.LabelManagedBy, state.ManagedBy, state.LabelEphemeral)

// renderJanitor is the janitor's kustomization: Namespace, ServiceAccount,
// the ClusterRole that can list, watch and delete namespaces and nothing
// else, its binding, the CronJob, and the admission policy refusing the
// janitor the deletion of a namespace that is not novadev's.
func renderJanitor(c *catalog.Catalog) (render.Files, error) {
	meta := func(name string, namespaced bool) metav1.ObjectMeta {
		m := metav1.ObjectMeta{Name: name, Labels: labels(c, JanitorName, ComponentJanitor)}
		if namespaced {
			m.Namespace = JanitorNamespace
		}
		return m
	}
	nonRoot := int64(65532)
	objs := []any{
		&corev1.Namespace{TypeMeta: typeMeta("v1", "Namespace"), ObjectMeta: meta(JanitorNamespace, false)},
		&corev1.ServiceAccount{TypeMeta: typeMeta("v1", "ServiceAccount"), ObjectMeta: meta(JanitorName, true), AutomountServiceAccountToken: ptr(true)},
		&rbacv1.ClusterRole{
			TypeMeta:   typeMeta("rbac.authorization.k8s.io/v1", "ClusterRole"),
			ObjectMeta: meta(JanitorName, false),
			Rules:      []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"namespaces"}, Verbs: []string{"list", "watch", "delete"}}},
		},
		&rbacv1.ClusterRoleBinding{
			TypeMeta:   typeMeta("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"),
			ObjectMeta: meta(JanitorName, false),
			RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: JanitorName},
			Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Name: JanitorName, Namespace: JanitorNamespace}},
		},
		&admissionv1.ValidatingAdmissionPolicy{
			TypeMeta:   typeMeta("admissionregistration.k8s.io/v1", "ValidatingAdmissionPolicy"),
			ObjectMeta: meta(JanitorName, false),
			Spec: admissionv1.ValidatingAdmissionPolicySpec{
				FailurePolicy: ptr(admissionv1.Fail),
				MatchConstraints: &admissionv1.MatchResources{ResourceRules: []admissionv1.NamedRuleWithOperations{{
					RuleWithOperations: admissionv1.RuleWithOperations{
						Operations: []admissionv1.OperationType{admissionv1.Delete},
						Rule:       admissionv1.Rule{APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{"namespaces"}},
					},
				}}},
				MatchConditions: []admissionv1.MatchCondition{{Name: "janitor", Expression: fmt.Sprintf("request.userInfo.username == %q", JanitorUser)}},
				Validations: []admissionv1.Validation{{
					Expression: janitorDeletableCEL,
					Message:    fmt.Sprintf("the novadev janitor deletes only namespaces labelled %s=%s or %s=true", state.LabelManagedBy, state.ManagedBy, state.LabelEphemeral),
					Reason:     ptr(metav1.StatusReasonForbidden),
				}},
			},
		},
		&admissionv1.ValidatingAdmissionPolicyBinding{
			TypeMeta:   typeMeta("admissionregistration.k8s.io/v1", "ValidatingAdmissionPolicyBinding"),
			ObjectMeta: meta(JanitorName, false),
			Spec: admissionv1.ValidatingAdmissionPolicyBindingSpec{
				PolicyName:        JanitorName,
				ValidationActions: []admissionv1.ValidationAction{admissionv1.Deny},
			},
		},
		&batchv1.CronJob{
			TypeMeta:   typeMeta("batch/v1", "CronJob"),
			ObjectMeta: meta(JanitorName, true),
			Spec: batchv1.CronJobSpec{
				Schedule:                   JanitorSchedule,
				ConcurrencyPolicy:          batchv1.ForbidConcurrent,
				StartingDeadlineSeconds:    ptr(int64(300)),
				SuccessfulJobsHistoryLimit: ptr(int32(1)),
				FailedJobsHistoryLimit:     ptr(int32(3)),
				JobTemplate: batchv1.JobTemplateSpec{
					ObjectMeta: metav1.ObjectMeta{Labels: labels(c, JanitorName, ComponentJanitor)},
					Spec: batchv1.JobSpec{
						BackoffLimit:          ptr(int32(2)),
						ActiveDeadlineSeconds: ptr(int64(600)),
						Template: corev1.PodTemplateSpec{
							ObjectMeta: metav1.ObjectMeta{Labels: labels(c, JanitorName, ComponentJanitor)},
							Spec: corev1.PodSpec{
								ServiceAccountName: JanitorName,
								RestartPolicy:      corev1.RestartPolicyNever,
								EnableServiceLinks: ptr(false),
								SecurityContext: &corev1.PodSecurityContext{
									RunAsNonRoot: ptr(true), RunAsUser: &nonRoot, RunAsGroup: &nonRoot,
									SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
								},
								Containers: []corev1.Container{{
									Name:            "gc",
									Image:           ToolImage,
									ImagePullPolicy: corev1.PullIfNotPresent,
									Args:            []string{"gc", "--in-cluster"},
									Resources:       toolResources(),
									SecurityContext: &corev1.SecurityContext{
										AllowPrivilegeEscalation: ptr(false),
										ReadOnlyRootFilesystem:   ptr(true),
										Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
									},
								}},
							},
						},
					},
				},
			},
		},
	}
	data, err := encode(objs...)
	if err != nil {
		return nil, err
	}
	k := kustomization()
	k.Resources = []string{"janitor.yaml"}
	kdata, err := encode(k)
	if err != nil {
		return nil, err
	}
	return render.Files{"janitor.yaml": data, "kustomization.yaml": kdata}, nil
}
