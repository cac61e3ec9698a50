package kind

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	"sigs.k8s.io/yaml"
)

// TestNetworkPolicyEngineMatchesThePin keeps the addon's image tag on the
// version the engine is built from (hack/kube-router/go.mod, read by
// scripts/netpol/build.sh): a bumped pin with a stale tag would load one
// image and run another.
func TestNetworkPolicyEngineMatchesThePin(t *testing.T) {
	path := filepath.Join("..", "..", "..", "hack", "kube-router", "go.mod")
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	var pinned string
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) == 3 && f[0] == "require" && f[1] == "github.com/cloudnativelabs/kube-router/v2" {
			pinned = f[2]
		}
	}
	require.Equal(t, pinned, NetworkPolicyEngineVersion, "%s pins kube-router %s; set NetworkPolicyEngineVersion to it and run make render", path, pinned)
}

// TestNetworkPolicyAddonRunsOnlyTheFirewall checks the rendered DaemonSet:
// the engine image, only kube-router's policy controller (routing or its
// service proxy would fight the node's bridge CNI and kube-proxy), on the
// node's network, privileged, sharing the xtables lock.
func TestNetworkPolicyAddonRunsOnlyTheFirewall(t *testing.T) {
	_, files := renderFiles(t, novaCatalog)
	docs := splitDocs(t, files[Dir+"/"+NetworkPolicyAddon])
	require.Len(t, docs, 4)
	var ds appsv1.DaemonSet
	require.NoError(t, yaml.UnmarshalStrict(docs[3].raw, &ds))
	require.Equal(t, "DaemonSet", ds.Kind)
	require.Equal(t, "kube-system", ds.Namespace)
	spec := ds.Spec.Template.Spec
	require.True(t, spec.HostNetwork)
	require.Len(t, spec.Containers, 1)
	c := spec.Containers[0]
	require.Equal(t, NetworkPolicyEngineRef, c.Image, "the node pulls it from the local registry, like the dev overlay's images")
	require.Subset(t, c.Args, []string{"--run-firewall=true", "--run-router=false", "--run-service-proxy=false"})
	require.NotNil(t, c.SecurityContext.Privileged)
	require.True(t, *c.SecurityContext.Privileged)
	require.Equal(t, "/run/xtables.lock", c.VolumeMounts[0].MountPath)
}
