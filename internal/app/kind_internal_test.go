package app

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/novadev/novadev/internal/backend"
	"github.com/novadev/novadev/internal/cli"
	"github.com/novadev/novadev/internal/event"
	"github.com/novadev/novadev/internal/kindcluster"
)

type recordingKind struct {
	calls []string
	err   error
	// addons and present: what Addons returns, and the images the engine has
	addons  []kindcluster.Addon
	present map[string]bool
	// installed: the addons' DaemonSets are on the cluster already
	installed bool
}

func (k *recordingKind) AddonInstalled(context.Context, kindcluster.Addon) (bool, error) {
	return k.installed, nil
}

func (k *recordingKind) Addons() []kindcluster.Addon { return k.addons }
func (k *recordingKind) ImagePresent(_ context.Context, image string) (bool, error) {
	return k.present[image], nil
}
func (k *recordingKind) ApplyAddon(_ context.Context, a kindcluster.Addon) (kindcluster.AddonReport, error) {
	k.calls = append(k.calls, "apply "+a.Name)
	return kindcluster.AddonReport{}, nil
}

// Provision records an ensure, then (when it worked) a load of the images.
func (k *recordingKind) Provision(_ context.Context, images []string) (string, kindcluster.LoadReport, error) {
	k.calls = append(k.calls, "ensure")
	if k.err != nil {
		return "", nil, k.err
	}
	if len(images) > 0 {
		k.calls = append(k.calls, "load "+strings.Join(images, " "))
	}
	return "kind-nova", nil, nil
}
func (k *recordingKind) Delete(context.Context) error                 { return nil }
func (k *recordingKind) Doctor(context.Context) []kindcluster.Finding { return nil }
func (k *recordingKind) Name() string                                 { return "nova" }
func (k *recordingKind) Close() error                                 { return nil }

// up --target kind's preparation: Ensure, then the dev overlay's six
// images pushed, then the context for the backend.
func TestPrepareKindClusterEnsuresThenLoadsTheDevImages(t *testing.T) {
	root := t.TempDir()
	require.NoError(t, os.CopyFS(filepath.Join(root, "envs"), os.DirFS("../../envs")))
	k := &recordingKind{}
	sv := &service{o: Options{KindCluster: func(context.Context, *cli.Global, func(string)) (KindCluster, error) { return k, nil }}}
	g := &cli.Global{Catalog: filepath.Join(root, "envs", "nova.yaml"), Target: TargetKind}
	var rec event.Recorder
	kctx, err := sv.prepareKindCluster(context.Background(), g, &rec)
	require.NoError(t, err)
	assert.Equal(t, "kind-nova", kctx)
	assert.Equal(t, []string{"ensure", "load novadev/clickhouse:18.16 novadev/kafka:kfake novadev/novadev:dev novadev/placeholder:dev novadev/postgres:15 novadev/redis:7"}, k.calls)

	k = &recordingKind{err: errors.New("kind create failed")}
	_, err = sv.prepareKindCluster(context.Background(), g, &rec)
	require.ErrorContains(t, err, "kind create failed")
	assert.Equal(t, []string{"ensure"}, k.calls, "no push into a cluster that is not there")
}

// The NetworkPolicy engine: with its image on the engine, up pushes it with
// the dev overlay's images and applies the addon before the backend opens;
// without it, up goes on and says plainly that nothing is enforced and what
// to run.
func TestPrepareKindClusterInstallsTheNetworkPolicyEngine(t *testing.T) {
	root := t.TempDir()
	require.NoError(t, os.CopyFS(filepath.Join(root, "envs"), os.DirFS("../../envs")))
	g := &cli.Global{Catalog: filepath.Join(root, "envs", "nova.yaml"), Target: TargetKind}
	real, err := openKindCluster(context.Background(), g, nil)
	require.NoError(t, err)
	addons := real.(*kindcluster.Provisioner).Addons()
	require.Len(t, addons, 1)
	a := addons[0]
	assert.Equal(t, "novadev/kube-router:v2.1.0", a.Image)
	assert.Equal(t, "kube-system/kube-router", a.DaemonSet)
	assert.Contains(t, string(a.Manifest), "image: localhost:5005/novadev/kube-router:v2.1.0", "the rendered addon, pulling from the local registry")

	devImages := "novadev/clickhouse:18.16 novadev/kafka:kfake novadev/novadev:dev novadev/placeholder:dev novadev/postgres:15 novadev/redis:7"
	k := &recordingKind{addons: addons, present: map[string]bool{a.Image: true}}
	sv := &service{o: Options{KindCluster: func(context.Context, *cli.Global, func(string)) (KindCluster, error) { return k, nil }}}
	var rec event.Recorder
	_, err = sv.prepareKindCluster(context.Background(), g, &rec)
	require.NoError(t, err)
	assert.Equal(t, []string{"ensure", "load " + devImages + " novadev/kube-router:v2.1.0", "apply NetworkPolicy engine"}, k.calls)
	assert.Empty(t, rec.Of(event.Note))

	k = &recordingKind{addons: addons}
	rec = event.Recorder{}
	_, err = sv.prepareKindCluster(context.Background(), g, &rec)
	require.NoError(t, err, "up works without the engine image")
	assert.Equal(t, []string{"ensure", "load " + devImages}, k.calls, "no push of a missing image, no addon")
	notes := rec.Of(event.Note)
	require.Len(t, notes, 1)
	assert.Equal(t, "NetworkPolicy engine not installed: image novadev/kube-router:v2.1.0 is not on the Docker engine, so NetworkPolicies are rendered but NOT enforced (every pod can reach every other); build it with scripts/netpol/build.sh (make up TARGET=kind does), then run up again", notes[0].Detail)

	// an engine an earlier up installed keeps enforcing: up says so rather
	// than "not enforced"
	k = &recordingKind{addons: addons, installed: true}
	rec = event.Recorder{}
	_, err = sv.prepareKindCluster(context.Background(), g, &rec)
	require.NoError(t, err)
	assert.Equal(t, []string{"ensure", "load " + devImages}, k.calls)
	notes = rec.Of(event.Note)
	require.Len(t, notes, 1)
	assert.Equal(t, "NetworkPolicy engine not updated: image novadev/kube-router:v2.1.0 is not on the Docker engine; the one an earlier up installed stays as it is; build it with scripts/netpol/build.sh (make up TARGET=kind does), then run up again", notes[0].Detail)
}

// The kube backend as the app opens it (wrapped with its target name) still
// tells the supervisor that its init containers gate services' needs
// (decision 44): a wrapper hiding the method would silently drop it.
func TestOpenedKubeBackendGatesServiceNeeds(t *testing.T) {
	var b backend.Backend = kubeBackend{target: TargetKind}
	g, ok := b.(backend.NeedGater)
	require.True(t, ok, "kubeBackend must expose backend.NeedGater")
	require.True(t, g.GatesServiceNeeds())
}
