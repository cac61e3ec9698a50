package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/novadev/novadev/internal/app"
	"github.com/novadev/novadev/internal/backend"
	"github.com/novadev/novadev/internal/catalog"
	"github.com/novadev/novadev/internal/cli"
	"github.com/novadev/novadev/internal/kindcluster"
	"github.com/novadev/novadev/internal/probe"
)

// fakeKind records what the kind verbs ask of the cluster.
type fakeKind struct {
	calls    []string
	findings []kindcluster.Finding
	progress func(string)
	err      error
}

// Provision records an ensure, then (when it worked) a load of the images.
func (k *fakeKind) Provision(_ context.Context, images []string) (string, kindcluster.LoadReport, error) {
	k.calls = append(k.calls, "ensure")
	if k.err != nil {
		return "", nil, k.err
	}
	if len(images) > 0 {
		k.calls = append(k.calls, "load "+strings.Join(images, " "))
	}
	return "kind-nova", nil, k.err
}
func (k *fakeKind) Delete(context.Context) error {
	k.calls = append(k.calls, "delete")
	if k.progress != nil {
		k.progress("deleting cluster nova")
	}
	return k.err
}
func (k *fakeKind) Doctor(context.Context) []kindcluster.Finding {
	k.calls = append(k.calls, "doctor")
	return k.findings
}
func (k *fakeKind) Addons() []kindcluster.Addon                        { return nil }
func (k *fakeKind) ImagePresent(context.Context, string) (bool, error) { return false, nil }
func (k *fakeKind) ApplyAddon(context.Context, kindcluster.Addon) (kindcluster.AddonReport, error) {
	return kindcluster.AddonReport{}, nil
}
func (k *fakeKind) AddonInstalled(context.Context, kindcluster.Addon) (bool, error) {
	return false, nil
}
func (k *fakeKind) Name() string { return "nova" }
func (k *fakeKind) Close() error { return nil }

func runKind(t *testing.T, k *fakeKind, args ...string) result {
	t.Helper()
	root := t.TempDir()
	require.NoError(t, os.CopyFS(filepath.Join(root, "envs"), os.DirFS("../../envs")))
	var out, errb bytes.Buffer
	s := cli.Streams{In: strings.NewReader(""), Out: &out, Err: &errb, Getenv: func(string) string { return "" }}
	o := app.Options{
		StateDir: t.TempDir(),
		KindCluster: func(_ context.Context, g *cli.Global, progress func(string)) (app.KindCluster, error) {
			assert.Equal(t, filepath.Join(root, "envs", "nova.yaml"), g.Catalog)
			k.progress = progress
			return k, nil
		},
	}
	code := app.RunWith(context.Background(), s, append([]string{"--catalog", filepath.Join(root, "envs", "nova.yaml")}, args...), o)
	return result{code, out.String(), errb.String()}
}

func TestDownClusterDeletesTheKindCluster(t *testing.T) {
	k := &fakeKind{}
	r := runKind(t, k, "down", "--cluster", "--target", "kind")
	require.Equal(t, 0, r.code, r.err)
	assert.Equal(t, []string{"delete"}, k.calls)
	assert.Contains(t, r.out, "kind cluster nova: deleted, with its registry container\n")
	assert.Regexp(t, `(?m)note: deleting cluster nova$`, r.out, "the Provisioner's progress reaches the user")

	k = &fakeKind{err: errors.New("kind delete failed")}
	r = runKind(t, k, "down", "--cluster", "--target", "kind")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.err, "kind delete failed")

	k = &fakeKind{}
	r = runKind(t, k, "down", "--cluster")
	assert.Equal(t, 2, r.code, "--cluster on docker is a usage error")
	assert.Contains(t, r.err, "--cluster deletes a kind cluster: it needs --target kind (not docker)")
	assert.Empty(t, k.calls)
}

func TestDoctorOnKind(t *testing.T) {
	k := &fakeKind{findings: []kindcluster.Finding{
		{Check: "node image", Status: kindcluster.OK, Detail: "novadev/kind-node:v1.34.4"},
		{Check: "cluster", Status: kindcluster.Warn, Detail: "no kind cluster nova", Next: "novadev up --target kind creates it"},
		{Check: "registry", Status: kindcluster.Fail, Detail: "container novadev-registry is exited", Next: "novadev up --target kind starts it"},
	}}
	r := runKind(t, k, "doctor", "--target", "kind")
	assert.Equal(t, 1, r.code, "a failed finding fails doctor")
	assert.Equal(t, []string{"doctor"}, k.calls)
	assert.Contains(t, r.out, "ok   node image     novadev/kind-node:v1.34.4\n")
	assert.Contains(t, r.out, "note cluster        no kind cluster nova\n     fix: novadev up --target kind creates it\n")
	assert.Contains(t, r.out, "FAIL registry       container novadev-registry is exited\n     fix: novadev up --target kind starts it\n")

	k.findings = k.findings[:2]
	r = runKind(t, k, "doctor", "--target", "kind", "-o", "json")
	assert.Equal(t, 0, r.code, "a warning is a note: "+r.out+r.err)
	var doc struct {
		OK     bool `json:"ok"`
		Checks []struct {
			What string `json:"what"`
			OK   bool   `json:"ok"`
			Note bool   `json:"note"`
		} `json:"checks"`
	}
	require.NoError(t, json.Unmarshal([]byte(r.out), &doc))
	assert.True(t, doc.OK)
	assert.Len(t, doc.Checks, 2)
	assert.True(t, doc.Checks[1].Note)
}

// The NetworkPolicy engine is kind's: up --target kind prepares the
// cluster (addon included) before the backend opens, up --target kube
// (someone else's cluster, its own CNI) never asks for a kind cluster at
// all.
func TestOnlyTheKindTargetPreparesACluster(t *testing.T) {
	for _, target := range []string{"kube", "kind"} {
		t.Run(target, func(t *testing.T) {
			f := newFakeApp(t)
			k := &fakeKind{}
			var out, errb bytes.Buffer
			s := cli.Streams{In: strings.NewReader(""), Out: &out, Err: &errb, Getenv: func(k string) string {
				if k == "CI" {
					return "true"
				}
				return ""
			}}
			open := func(context.Context, *app.Env) (backend.Backend, error) { return f.be, nil }
			o := app.Options{
				Backends:    map[string]app.BackendFactory{"docker": open, "kube": open, "kind": open},
				Bootstrap:   func(context.Context, *catalog.Bootstrap, func(string, ...any)) error { return nil },
				Ready:       func(string) (probe.Check, time.Duration) { return nil, 0 },
				StateDir:    f.state,
				KindCluster: func(context.Context, *cli.Global, func(string)) (app.KindCluster, error) { return k, nil },
			}
			code := app.RunWith(context.Background(), s, []string{"--catalog", filepath.Join(f.root, "envs", "nova.yaml"), "--env", "ci", "up", "--target", target}, o)
			require.Equal(t, 0, code, errb.String())
			if target == "kube" {
				assert.Empty(t, k.calls, "--target kube creates, fills and installs nothing")
			} else {
				require.NotEmpty(t, k.calls)
				assert.Equal(t, "ensure", k.calls[0])
			}
		})
	}
}
