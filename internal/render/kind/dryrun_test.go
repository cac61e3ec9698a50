package kind

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/novadev/novadev/internal/testenv/kubeapi"
)

func TestMain(m *testing.M) { os.Exit(kubeapi.Main(m)) }

// TestIntegrationKindDryRun server-side applies (dry-run, strict field
// validation) every object of every built overlay, and the kube-public
// registry ConfigMap, against a real kube-apiserver with the staging
// overlay's CRDs installed from testdata.
func TestIntegrationKindDryRun(t *testing.T) {
	env := kubeapi.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	crds, err := filepath.Glob("testdata/crds/*.yaml")
	require.NoError(t, err)
	require.Len(t, crds, 2)
	for _, f := range crds {
		data, err := os.ReadFile(f)
		require.NoError(t, err)
		require.NoError(t, env.InstallCRDs(ctx, data), f)
	}

	set, files := renderFiles(t, novaCatalog)
	var names []string
	for o := range overlays {
		names = append(names, o)
	}
	sort.Strings(names)
	for _, overlay := range names {
		t.Run(overlay, func(t *testing.T) {
			objs, err := kubeapi.DecodeYAMLStream(buildYAML(t, set, files, overlay))
			require.NoError(t, err)
			require.Greater(t, len(objs), 100, "every overlay holds the whole platform")
			require.NoError(t, env.EnsureNamespace(ctx, overlays[overlay]))
			require.Empty(t, env.DryRunApply(ctx, objs))
		})
	}

	t.Run("local-registry-hosting", func(t *testing.T) {
		objs, err := kubeapi.DecodeYAMLStream(files[Dir+"/local-registry-hosting.yaml"])
		require.NoError(t, err)
		require.NoError(t, env.EnsureNamespace(ctx, "kube-public"))
		require.Empty(t, env.DryRunApply(ctx, objs))
	})

	t.Run("network-policy addon", func(t *testing.T) {
		objs, err := kubeapi.DecodeYAMLStream(files[Dir+"/"+NetworkPolicyAddon])
		require.NoError(t, err)
		require.Len(t, objs, 4)
		require.NoError(t, env.EnsureNamespace(ctx, "kube-system"))
		require.Empty(t, env.DryRunApply(ctx, objs))
	})

	t.Run("the CRDs are strict", func(t *testing.T) {
		objs, err := kubeapi.DecodeYAMLStream([]byte("apiVersion: external-secrets.io/v1\nkind: ExternalSecret\nmetadata: {name: x, namespace: nova-staging}\n" +
			"spec:\n  secretStoreRef: {kind: ClusterSecretStore, name: s}\n  target: {name: x}\n  dataa: []\n"))
		require.NoError(t, err)
		errs := env.DryRunApply(ctx, objs)
		require.Len(t, errs, 1)
		require.ErrorContains(t, errs[0], ".spec.dataa: field not declared in schema")
	})

	t.Run("a broken rendered object is rejected", func(t *testing.T) {
		objs, err := kubeapi.DecodeYAMLStream(buildYAML(t, set, files, "dev"))
		require.NoError(t, err)
		for _, o := range objs {
			if o.GetKind() == "Deployment" && o.GetName() == "feed-service" {
				containers, _, _ := unstructured.NestedSlice(o.Object, "spec", "template", "spec", "containers")
				require.NoError(t, unstructured.SetNestedField(containers[0].(map[string]any), "lots", "resources", "limits", "cpu"))
				require.NoError(t, unstructured.SetNestedSlice(o.Object, containers, "spec", "template", "spec", "containers"))
				errs := env.DryRunApply(ctx, []*unstructured.Unstructured{o})
				require.Len(t, errs, 1)
				require.ErrorContains(t, errs[0], "Deployment nova-local/feed-service")
				require.ErrorContains(t, errs[0], "quantities must match the regular expression")
				return
			}
		}
		t.Fatal("no feed-service Deployment in the dev overlay")
	})
}
