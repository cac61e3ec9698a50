package kind

import (
	"context"
	"encoding/json"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	authenticationv1 "k8s.io/api/authentication/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"

	"github.com/novadev/novadev/internal/backend/docker/dockertest"
	"github.com/novadev/novadev/internal/state"
	"github.com/novadev/novadev/internal/testenv/kubeapi"
)

// TestIntegrationJanitorCronJobInAContainer runs the rendered CronJob's pod
// as the kubelet would, short of a cluster: its image (with this tree's
// novadev binary mounted over the image's, which predates the change), its
// arguments, user and read-only root, with a real ServiceAccount token
// from the TokenRequest API and the CA at the in-cluster paths, and the
// in-cluster service variables pointing at the test apiserver (host
// network, loopback). No impersonation: the token authenticates as the
// ServiceAccount, RBAC and the admission policy decide, and the expired
// namespace goes.
func TestIntegrationJanitorCronJobInAContainer(t *testing.T) {
	dockertest.New(t) // skips without an engine (fails under NOVADEV_E2E=1)
	bin := filepath.Join(t.TempDir(), "novadev")
	// the flags scripts/images/build.sh builds the image's binary with, so
	// in CI (images first) the Go build cache makes this a relink; with a
	// cold build cache it is a full build, minutes on a loaded machine:
	// it comes first, with its own bound, before the test's five minutes
	// and the token's ten start (a fresh-HOME CI run hit that once)
	bctx, bcancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer bcancel()
	gobuild := exec.CommandContext(bctx, "go", "build", "-trimpath", "-ldflags", "-s -w", "-o", bin, "./cmd/novadev")
	gobuild.Dir = repoRoot
	gobuild.Env = append(os.Environ(), "CGO_ENABLED=0") // the image is FROM scratch
	out, err := gobuild.CombinedOutput()
	require.NoError(t, err, "go build: %s", out)
	require.NoError(t, os.Chmod(filepath.Dir(bin), 0o755))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := exec.CommandContext(ctx, "docker", "image", "inspect", ToolImage).Run(); err != nil {
		if os.Getenv("NOVADEV_E2E") == "1" {
			t.Fatalf("NOVADEV_E2E=1 but %s is not built (scripts/images/build.sh)", ToolImage)
		}
		t.Skipf("%s is not built (scripts/images/build.sh)", ToolImage)
	}
	env := kubeapi.Start(t)
	installJanitor(ctx, t, env)
	admin, err := corev1client.NewForConfig(env.Config())
	require.NoError(t, err)

	now := time.Now().UTC()
	for name, exp := range map[string]time.Time{"cron-expired": now.Add(-time.Minute), "cron-fresh": now.Add(time.Hour)} {
		r := state.InstanceRecord{Target: "kube", Env: "pr", Instance: name, Project: name, PortBase: 10000, PortSpan: 420, Expires: exp}
		l, a := r.NamespaceMeta()
		_, err := admin.Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: l, Annotations: a}}, metav1.CreateOptions{})
		require.NoError(t, err)
	}

	// what the kubelet projects into the pod
	tok, err := admin.ServiceAccounts(JanitorNamespace).CreateToken(ctx, JanitorName,
		&authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr(int64(600))}}, metav1.CreateOptions{})
	require.NoError(t, err)
	sa := t.TempDir()
	require.NoError(t, os.Chmod(sa, 0o755))
	for name, data := range map[string][]byte{"token": []byte(tok.Status.Token), "ca.crt": env.Config().CAData, "namespace": []byte(JanitorNamespace)} {
		require.NoError(t, os.WriteFile(filepath.Join(sa, name), data, 0o644))
	}

	set, files := renderFiles(t, novaCatalog)
	cj := find[batchv1.CronJob](t, build(t, set, files, janitorOverlay), "CronJob", JanitorName)
	pod := cj.Spec.JobTemplate.Spec.Template.Spec
	c := pod.Containers[0]
	u, err := url.Parse(env.Config().Host)
	require.NoError(t, err)
	args := []string{"run", "--rm", "--name", "novadev-janitor-test-" + strconv.Itoa(os.Getpid()),
		"--network", "host", "--read-only", "--cap-drop", "ALL", "--security-opt", "no-new-privileges",
		"--user", strconv.FormatInt(*pod.SecurityContext.RunAsUser, 10) + ":" + strconv.FormatInt(*pod.SecurityContext.RunAsGroup, 10),
		"-v", bin + ":/usr/local/bin/novadev:ro",
		"-v", sa + ":/var/run/secrets/kubernetes.io/serviceaccount:ro",
		"-e", "KUBERNETES_SERVICE_HOST=" + u.Hostname(), "-e", "KUBERNETES_SERVICE_PORT=" + u.Port(),
		c.Image}
	args = append(args, c.Args...)
	args = append(args, "-o", "json")
	run := exec.CommandContext(ctx, "docker", args...)
	var stderr []byte
	out, err = run.Output()
	if ee, ok := err.(*exec.ExitError); ok {
		stderr = ee.Stderr
	}
	require.NoError(t, err, "docker %v\nstdout: %s\nstderr: %s", args, out, stderr)

	var rep struct {
		Removed []struct{ Project string } `json:"removed"`
		Kept    []struct{ Project string } `json:"kept"`
	}
	require.NoError(t, json.Unmarshal(out, &rep), "%s", out)
	removed := map[string]bool{}
	for _, r := range rep.Removed {
		removed[r.Project] = true
	}
	require.True(t, removed["cron-expired"], "%s", out)
	require.False(t, removed["cron-fresh"], "%s", out)
	for name, terminating := range map[string]bool{"cron-expired": true, "cron-fresh": false, "janitor-probe": false, JanitorNamespace: false} {
		ns, err := admin.Namespaces().Get(ctx, name, metav1.GetOptions{})
		require.NoError(t, err)
		require.Equal(t, terminating, ns.DeletionTimestamp != nil, name)
	}
}
