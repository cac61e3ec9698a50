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

	"github.com/novadev/novadev/internal/cli"
	"github.com/novadev/novadev/internal/event"
	"github.com/novadev/novadev/internal/kindcluster"
)

type recordingKind struct {
	calls []string
	err   error
}

func (k *recordingKind) Ensure(context.Context) (string, error) {
	k.calls = append(k.calls, "ensure")
	return "kind-nova", k.err
}
func (k *recordingKind) LoadImages(_ context.Context, images []string) error {
	k.calls = append(k.calls, "load "+strings.Join(images, " "))
	return nil
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
