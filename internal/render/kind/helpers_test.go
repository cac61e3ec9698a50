package kind

import (
	"bytes"
	"flag"
	"fmt"
	"path"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	admissionv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"sigs.k8s.io/kind/pkg/apis/config/v1alpha4"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"

	"github.com/novadev/novadev/internal/catalog"
	"github.com/novadev/novadev/internal/render"
)

var update = flag.Bool("update", false, "rewrite golden files and the committed kind/ tree")

const (
	novaCatalog = "../../../envs/nova.yaml"
	miniCatalog = "testdata/catalog/mini.yaml"
	repoRoot    = "../../.."
)

// janitorOverlay is the janitor's kustomization, built like an overlay.
const janitorOverlay = OverlayPR + "/" + JanitorDir

// overlays are the rendered overlays with the namespace each must produce.
var overlays = map[string]string{"dev": "nova-local", "pr": "nova-pr", "staging": StagingNamespace}

func loadSet(t testing.TB, file string) *catalog.Set {
	t.Helper()
	set, err := catalog.LoadSet(file)
	require.NoError(t, err)
	return set
}

func renderFiles(t testing.TB, file string) (*catalog.Set, render.Files) {
	t.Helper()
	set := loadSet(t, file)
	files, err := Render(set)
	require.NoError(t, err)
	return set, files
}

// fakeCredentials is a credentials.env with obviously fake values.
func fakeCredentials(c *catalog.Catalog) []byte {
	return CredentialsEnv(c, func(k string) string { return "test-" + strings.ToLower(k) })
}

// object is one decoded manifest.
type object struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name        string            `json:"name"`
		Namespace   string            `json:"namespace"`
		Labels      map[string]string `json:"labels"`
		Annotations map[string]string `json:"annotations"`
	} `json:"metadata"`
	raw []byte
}

func (o object) id() string { return o.Kind + "/" + o.Metadata.Name }

// splitDocs splits a YAML stream into documents, dropping comment-only ones.
func splitDocs(t testing.TB, data []byte) []object {
	t.Helper()
	var out []object
	for _, doc := range bytes.Split(data, []byte("\n---\n")) {
		var o object
		require.NoError(t, yaml.Unmarshal(doc, &o))
		if o.Kind == "" {
			continue
		}
		o.raw = doc
		out = append(out, o)
	}
	return out
}

// build runs kustomize, as a library on an in-memory file system holding
// the rendered tree and a fake credentials.env, and returns the objects.
func build(t testing.TB, set *catalog.Set, files render.Files, overlay string) []object {
	t.Helper()
	return splitDocs(t, buildYAML(t, set, files, overlay))
}

// buildYAML is build's output as one YAML stream.
func buildYAML(t testing.TB, set *catalog.Set, files render.Files, overlay string) []byte {
	t.Helper()
	fs := filesys.MakeFsInMemory()
	for p, data := range files {
		require.NoError(t, fs.MkdirAll(path.Dir("/"+p)))
		require.NoError(t, fs.WriteFile("/"+p, data))
	}
	require.NoError(t, fs.WriteFile(path.Join("/", Dir, "overlays", overlay, CredentialsFile), fakeCredentials(set.Base)))
	m, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(fs, path.Join("/", Dir, "overlays", overlay))
	require.NoError(t, err, "kustomize build %s", overlay)
	y, err := m.AsYaml()
	require.NoError(t, err)
	return y
}

// typedFor is the k8s.io/api (or kind, kustomize) type a manifest must
// decode into; nil for custom resources, which the API server validates
// against their CRDs in TestIntegrationKindDryRun.
func typedFor(apiVersion, kind string) (any, error) {
	switch apiVersion + " " + kind {
	case "v1 Namespace":
		return &corev1.Namespace{}, nil
	case "v1 Service":
		return &corev1.Service{}, nil
	case "v1 ServiceAccount":
		return &corev1.ServiceAccount{}, nil
	case "v1 ConfigMap":
		return &corev1.ConfigMap{}, nil
	case "v1 Secret":
		return &corev1.Secret{}, nil
	case "apps/v1 Deployment":
		return &appsv1.Deployment{}, nil
	case "apps/v1 DaemonSet":
		return &appsv1.DaemonSet{}, nil
	case "apps/v1 StatefulSet":
		return &appsv1.StatefulSet{}, nil
	case "batch/v1 Job":
		return &batchv1.Job{}, nil
	case "networking.k8s.io/v1 NetworkPolicy":
		return &networkingv1.NetworkPolicy{}, nil
	case "rbac.authorization.k8s.io/v1 Role":
		return &rbacv1.Role{}, nil
	case "rbac.authorization.k8s.io/v1 RoleBinding":
		return &rbacv1.RoleBinding{}, nil
	case "rbac.authorization.k8s.io/v1 ClusterRole":
		return &rbacv1.ClusterRole{}, nil
	case "rbac.authorization.k8s.io/v1 ClusterRoleBinding":
		return &rbacv1.ClusterRoleBinding{}, nil
	case "batch/v1 CronJob":
		return &batchv1.CronJob{}, nil
	case "admissionregistration.k8s.io/v1 ValidatingAdmissionPolicy":
		return &admissionv1.ValidatingAdmissionPolicy{}, nil
	case "admissionregistration.k8s.io/v1 ValidatingAdmissionPolicyBinding":
		return &admissionv1.ValidatingAdmissionPolicyBinding{}, nil
	case "kustomize.config.k8s.io/v1beta1 Kustomization":
		return &types.Kustomization{}, nil
	case "kind.x-k8s.io/v1alpha4 Cluster":
		return &v1alpha4.Cluster{}, nil
	case "external-secrets.io/v1 ExternalSecret", "clickhouse.altinity.com/v1 ClickHouseInstallation", "builtin PrefixSuffixTransformer":
		return nil, nil
	}
	return nil, fmt.Errorf("no type known for %s %s", apiVersion, kind)
}

// decodeStrict decodes a manifest into its type, failing on unknown or
// duplicate fields.
func decodeStrict(o object) (any, error) {
	v, err := typedFor(o.APIVersion, o.Kind)
	if err != nil || v == nil {
		return nil, err
	}
	if err := yaml.UnmarshalStrict(o.raw, v); err != nil {
		return nil, fmt.Errorf("%s: %w", o.id(), err)
	}
	return v, nil
}

func find[T any](t testing.TB, objs []object, kind, name string) *T {
	t.Helper()
	for _, o := range objs {
		if o.Kind == kind && o.Metadata.Name == name {
			v := new(T)
			require.NoError(t, yaml.UnmarshalStrict(o.raw, v))
			return v
		}
	}
	t.Fatalf("no %s %s among %d objects", kind, name, len(objs))
	return nil
}

func ofKind(objs []object, kind string) []object {
	var out []object
	for _, o := range objs {
		if o.Kind == kind {
			out = append(out, o)
		}
	}
	return out
}

func names(objs []object) []string {
	var out []string
	for _, o := range objs {
		out = append(out, o.Metadata.Name)
	}
	sort.Strings(out)
	return out
}

// baseObjects are every object of the base (not built: as rendered).
func baseObjects(t testing.TB, files render.Files) []object {
	t.Helper()
	var out []object
	for _, p := range files.Paths() {
		if strings.HasPrefix(p, Dir+"/base/") && strings.HasSuffix(p, ".yaml") && path.Base(p) != "kustomization.yaml" {
			out = append(out, splitDocs(t, files[p])...)
		}
	}
	return out
}
