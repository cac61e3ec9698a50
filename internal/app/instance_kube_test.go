package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/novadev/novadev/internal/app"
	"github.com/novadev/novadev/internal/cli"
	"github.com/novadev/novadev/internal/state"
	"github.com/novadev/novadev/internal/testenv/kubeapi"
)

type kubeRun struct {
	code     int
	out, err string
}

// runKube runs novadev with KUBECONFIG set to kubeconfig.
func runKube(t *testing.T, kubeconfig string, args ...string) kubeRun {
	t.Helper()
	var out, errb bytes.Buffer
	getenv := func(k string) string {
		if k == "KUBECONFIG" {
			return kubeconfig
		}
		return os.Getenv(k)
	}
	s := cli.Streams{In: strings.NewReader(""), Out: &out, Err: &errb, Getenv: getenv}
	code := app.RunWith(context.Background(), s, append([]string{"--catalog", "../../envs/nova.yaml"}, args...), app.Options{StateDir: t.TempDir()})
	return kubeRun{code, out.String(), errb.String()}
}

// writeKubeconfig writes a kubeconfig with one context per server.
func writeKubeconfig(t *testing.T, contexts map[string]string, token string, ca []byte) string {
	t.Helper()
	cfg := clientcmdapi.NewConfig()
	for name, host := range contexts {
		cfg.Clusters[name] = &clientcmdapi.Cluster{Server: host, CertificateAuthorityData: ca}
		cfg.AuthInfos[name] = &clientcmdapi.AuthInfo{Token: token}
		cfg.Contexts[name] = &clientcmdapi.Context{Cluster: name, AuthInfo: name}
	}
	p := filepath.Join(t.TempDir(), "kubeconfig")
	require.NoError(t, clientcmd.WriteToFile(*cfg, p))
	return p
}

// TestIntegrationListAndGCOnACluster: novadev list and gc with --target
// kube --context NAME against a real apiserver: list shows the instance
// namespaces with their expiry, gc --dry-run deletes nothing, gc deletes
// exactly the expired one; an unreachable context fails with its name and
// deletes nothing.
func TestIntegrationListAndGCOnACluster(t *testing.T) {
	env := kubeapi.Start(t)
	ctx := context.Background()
	rc := env.Config()
	free, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	gone := "https://" + free.Addr().String()
	free.Close()
	kc := writeKubeconfig(t, map[string]string{"test": rc.Host, "gone": gone}, rc.BearerToken, rc.CAData)

	admin, err := corev1client.NewForConfig(rc)
	require.NoError(t, err)
	now := time.Now().UTC().Truncate(time.Second)
	for name, exp := range map[string]time.Time{"nova-pr-app-old": now.Add(-time.Minute), "nova-pr-app-new": now.Add(8 * time.Hour)} {
		r := state.InstanceRecord{Target: "kube", Env: "pr", Instance: strings.TrimPrefix(name, "nova-pr-"), Project: name, PortBase: 10000, PortSpan: 420, Created: now.Add(-time.Hour), Expires: exp}
		l, a := r.NamespaceMeta()
		_, err := admin.Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: l, Annotations: a}}, metav1.CreateOptions{})
		require.NoError(t, err)
	}
	// a hand-applied pr overlay namespace: 1s to live, from its creation
	_, err = admin.Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "nova-pr-hand",
		Labels: map[string]string{state.LabelEphemeral: "true"}, Annotations: map[string]string{state.AnnotationExpiresAfter: "1s"}}}, metav1.CreateOptions{})
	require.NoError(t, err)
	time.Sleep(1100 * time.Millisecond)
	_, err = admin.Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "app-plain",
		Annotations: map[string]string{state.LabelExpires: now.Add(-time.Hour).Format(time.RFC3339)}}}, metav1.CreateOptions{})
	require.NoError(t, err)

	r := runKube(t, kc, "--target", "kube", "--context", "test", "list", "-o", "json")
	require.Equal(t, 0, r.code, r.err)
	var list []cli.Instance
	require.NoError(t, json.Unmarshal([]byte(r.out), &list), r.out)
	require.Len(t, list, 3, r.out)
	assert.Equal(t, "nova-pr-app-new", list[0].Project)
	assert.Equal(t, "app-new", list[0].Instance)
	assert.True(t, list[0].Expires.Equal(now.Add(8*time.Hour)))
	assert.False(t, list[0].Expired)
	assert.Equal(t, "nova-pr-app-old", list[1].Project)
	assert.True(t, list[1].Expired)
	assert.Equal(t, "active", list[1].State)
	assert.Equal(t, "kube", list[1].Target)
	assert.Equal(t, 10419, list[1].PortEnd)
	assert.Equal(t, "nova-pr-hand", list[2].Project)
	assert.True(t, list[2].Expired)

	r = runKube(t, kc, "--target", "kube", "--context", "test", "gc", "--dry-run")
	require.Equal(t, 0, r.code, r.err)
	assert.Contains(t, r.out, "would remove nova-pr-app-old (environment pr")
	assert.Contains(t, r.out, "would remove nova-pr-hand (expired ")
	assert.Contains(t, r.out, "2 expired, 1 kept")
	ns, err := admin.Namespaces().Get(ctx, "nova-pr-app-old", metav1.GetOptions{})
	require.NoError(t, err)
	require.Nil(t, ns.DeletionTimestamp, "a dry run deletes nothing")

	r = runKube(t, kc, "--target", "kube", "--context", "test", "gc", "-o", "json")
	require.Equal(t, 0, r.code, r.err)
	var rep cli.GCReport
	require.NoError(t, json.Unmarshal([]byte(r.out), &rep), r.out)
	require.Len(t, rep.Removed, 2)
	assert.Equal(t, "nova-pr-app-old", rep.Removed[0].Project)
	assert.Equal(t, "nova-pr-hand", rep.Removed[1].Project)
	require.Len(t, rep.Kept, 1)
	for name, terminating := range map[string]bool{"nova-pr-app-old": true, "nova-pr-hand": true, "nova-pr-app-new": false, "app-plain": false} {
		ns, err := admin.Namespaces().Get(ctx, name, metav1.GetOptions{})
		require.NoError(t, err)
		assert.Equal(t, terminating, ns.DeletionTimestamp != nil, name)
	}
	r = runKube(t, kc, "--target", "kube", "--context", "test", "list")
	require.Equal(t, 0, r.code, r.err)
	assert.Regexp(t, `nova-pr-app-old .* terminating`, r.out)

	t.Run("an unreachable cluster", func(t *testing.T) {
		start := time.Now()
		r := runKube(t, kc, "--target", "kube", "--context", "gone", "gc")
		assert.Equal(t, 1, r.code)
		assert.Less(t, time.Since(start), 10*time.Second)
		assert.Contains(t, r.err, "cannot reach the cluster (context gone)")
		assert.Contains(t, r.err, "nothing was deleted")
		assert.Contains(t, r.err, "kubectl --context gone cluster-info")
		assert.Empty(t, r.out)
		r = runKube(t, kc, "--target", "kube", "--context", "gone", "list")
		assert.Equal(t, 1, r.code)
		assert.Contains(t, r.err, "context gone")
	})
	t.Run("an unknown context", func(t *testing.T) {
		r := runKube(t, kc, "--target", "kube", "--context", "nope", "gc")
		assert.Equal(t, 1, r.code)
		assert.Contains(t, r.err, "context nope")
		assert.Contains(t, r.err, "kubectl config get-contexts")
	})
}

// gc --in-cluster outside a pod says where it works.
func TestGCInClusterOutsideAPod(t *testing.T) {
	t.Setenv("KUBERNETES_SERVICE_HOST", "")
	r := runKube(t, "", "gc", "--in-cluster")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.err, "--in-cluster:")
	assert.Contains(t, r.err, "only in a pod")
}
