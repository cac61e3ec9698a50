package kind

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	appsv1client "k8s.io/client-go/kubernetes/typed/apps/v1"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"

	"github.com/novadev/novadev/internal/kubegc"
	"github.com/novadev/novadev/internal/state"
	"github.com/novadev/novadev/internal/testenv/kubeapi"
)

// TestIntegrationJanitor installs the rendered janitor (after a strict
// dry-run of every object) on a real apiserver running RBAC, then acts as
// its ServiceAccount (impersonation, with the groups a pod's token carries):
// gc through kubegc deletes exactly the expired novadev namespace; every
// other request is Forbidden (secrets, deployments, creating, reading or
// relabelling a namespace); deleting an unlabelled namespace directly, past
// kubegc's own guard, is refused by the admission policy, which leaves
// everyone else alone.
func TestIntegrationJanitor(t *testing.T) {
	env := kubeapi.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	jcfg := installJanitor(ctx, t, env)
	admin, err := corev1client.NewForConfig(env.Config())
	require.NoError(t, err)
	now := time.Now().UTC()
	mkNS := func(name string, expires time.Time, labelled bool) {
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
		if labelled {
			r := state.InstanceRecord{Target: "kube", Env: "pr", Instance: name, Project: name, PortBase: 10000, PortSpan: 420, Expires: expires}
			ns.Labels, ns.Annotations = r.NamespaceMeta()
		} else {
			// expired by the annotation, but not novadev's
			ns.Annotations = map[string]string{state.LabelExpires: expires.Format(time.RFC3339)}
		}
		_, err := admin.Namespaces().Create(ctx, ns, metav1.CreateOptions{})
		require.NoError(t, err)
	}
	mkNS("jan-expired", now.Add(-time.Minute), true)
	mkNS("jan-fresh", now.Add(time.Hour), true)
	mkNS("jan-plain", now.Add(-time.Hour), false)
	mkNS("jan-admins", now.Add(-time.Hour), false)

	janitor, err := corev1client.NewForConfig(jcfg)
	require.NoError(t, err)

	t.Run("gc as the janitor deletes exactly the expired one", func(t *testing.T) {
		c, err := kubegc.Connect(jcfg, kubegc.InCluster)
		require.NoError(t, err)
		rep, err := c.GC(ctx, time.Now(), false)
		require.NoError(t, err)
		var removed, kept []string
		for _, in := range rep.Removed {
			if strings.HasPrefix(in.Project, "jan-") {
				removed = append(removed, in.Project)
			}
		}
		for _, in := range rep.Kept {
			if strings.HasPrefix(in.Project, "jan-") {
				kept = append(kept, in.Project)
			}
		}
		require.Equal(t, []string{"jan-expired"}, removed)
		require.Equal(t, []string{"jan-fresh"}, kept)
		for name, terminating := range map[string]bool{"jan-expired": true, "jan-fresh": false, "jan-plain": false, "jan-admins": false, JanitorNamespace: false} {
			ns, err := admin.Namespaces().Get(ctx, name, metav1.GetOptions{})
			require.NoError(t, err)
			require.Equal(t, terminating, ns.DeletionTimestamp != nil, name)
		}
	})

	t.Run("the janitor can do nothing else", func(t *testing.T) {
		apps, err := appsv1client.NewForConfig(env.Config())
		require.NoError(t, err)
		dep := &appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Name: "victim", Namespace: "jan-fresh"},
			Spec: appsv1.DeploymentSpec{
				Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "victim"}},
				Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "victim"}},
					Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "novadev/placeholder:dev"}}}},
			},
		}
		_, err = apps.Deployments("jan-fresh").Create(ctx, dep, metav1.CreateOptions{})
		require.NoError(t, err)
		japps, err := appsv1client.NewForConfig(jcfg)
		require.NoError(t, err)

		for what, err := range map[string]error{
			"list secrets":            listErr(janitor.Secrets("jan-fresh").List(ctx, metav1.ListOptions{})),
			"list secrets everywhere": listErr(janitor.Secrets("").List(ctx, metav1.ListOptions{})),
			"delete a deployment":     japps.Deployments("jan-fresh").Delete(ctx, "victim", metav1.DeleteOptions{}),
			"list deployments":        listErr(japps.Deployments("jan-fresh").List(ctx, metav1.ListOptions{})),
			"create a namespace":      listErr(janitor.Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "jan-new"}}, metav1.CreateOptions{})),
			"get a namespace":         listErr(janitor.Namespaces().Get(ctx, "jan-plain", metav1.GetOptions{})),
			"label a namespace":       listErr(janitor.Namespaces().Patch(ctx, "jan-plain", types.MergePatchType, []byte(`{"metadata":{"labels":{"dev.novadev.managed-by":"novadev"}}}`), metav1.PatchOptions{})),
			"delete a pod":            janitor.Pods("jan-fresh").Delete(ctx, "any", metav1.DeleteOptions{}),
			"delete every pod":        janitor.Pods("jan-fresh").DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{}),
		} {
			require.True(t, apierrors.IsForbidden(err), "%s: want Forbidden, got %v", what, err)
		}
		_, err = apps.Deployments("jan-fresh").Get(ctx, "victim", metav1.GetOptions{})
		require.NoError(t, err, "the deployment is still there")
	})

	t.Run("the policy refuses the janitor an unlabelled namespace", func(t *testing.T) {
		err := janitor.Namespaces().Delete(ctx, "jan-plain", metav1.DeleteOptions{})
		require.True(t, apierrors.IsForbidden(err), "got %v", err)
		require.ErrorContains(t, err, "the novadev janitor deletes only namespaces labelled dev.novadev.managed-by=novadev or novadev.io/ephemeral=true")
		ns, err := admin.Namespaces().Get(ctx, "jan-plain", metav1.GetOptions{})
		require.NoError(t, err)
		require.Nil(t, ns.DeletionTimestamp)
		// nor its own namespace
		require.True(t, apierrors.IsForbidden(janitor.Namespaces().Delete(ctx, JanitorNamespace, metav1.DeleteOptions{DryRun: []string{metav1.DryRunAll}})))
		// the policy binds the janitor only: an admin still deletes it
		require.NoError(t, admin.Namespaces().Delete(ctx, "jan-admins", metav1.DeleteOptions{}))
	})
}

// installJanitor applies the rendered janitor for real (after a strict
// dry-run of every object) and returns the janitor ServiceAccount's client
// configuration (impersonation, with the groups a pod's token carries),
// once RBAC and the admission policy are enforced: the apiserver's
// informers take a moment to see new roles and policies.
func installJanitor(ctx context.Context, t *testing.T, env *kubeapi.Env) *rest.Config {
	t.Helper()
	set, files := renderFiles(t, novaCatalog)
	objs, err := kubeapi.DecodeYAMLStream(buildYAML(t, set, files, janitorOverlay))
	require.NoError(t, err)
	require.NoError(t, env.EnsureNamespace(ctx, JanitorNamespace))
	require.Empty(t, env.DryRunApply(ctx, objs))
	require.Empty(t, env.Apply(ctx, objs))
	require.NoError(t, env.EnsureNamespace(ctx, "janitor-probe")) // unlabelled

	jcfg := env.Config()
	jcfg.Impersonate = rest.ImpersonationConfig{UserName: JanitorUser,
		Groups: []string{"system:serviceaccounts", "system:serviceaccounts:" + JanitorNamespace, "system:authenticated"}}
	janitor, err := corev1client.NewForConfig(jcfg)
	require.NoError(t, err)
	require.NoError(t, wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 20*time.Second, true, func(ctx context.Context) (bool, error) {
		_, err := janitor.Namespaces().List(ctx, metav1.ListOptions{})
		return err == nil, nil
	}), "the janitor never got to list namespaces")
	var lastErr error
	require.NoError(t, wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 20*time.Second, true, func(ctx context.Context) (bool, error) {
		lastErr = janitor.Namespaces().Delete(ctx, "janitor-probe", metav1.DeleteOptions{DryRun: []string{metav1.DryRunAll}})
		return apierrors.IsForbidden(lastErr) && strings.Contains(lastErr.Error(), "deletes only namespaces labelled"), nil
	}), "the admission policy never refused the janitor a dry-run delete of an unlabelled namespace: %v", lastErr)
	return jcfg
}

func listErr[T any](_ T, err error) error { return err }
