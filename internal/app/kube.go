package app

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/novadev/novadev/internal/backend"
	"github.com/novadev/novadev/internal/backend/kube"
	"github.com/novadev/novadev/internal/catalog"
	"github.com/novadev/novadev/internal/render/kind"
	"github.com/novadev/novadev/internal/supervisor"
)

// openKube opens the Kubernetes backend on the cluster the kubeconfig
// context --context names (KUBECONFIG, else ~/.kube/config; no context:
// the current one). No cluster is created or deleted on this path.
func openKube(ctx context.Context, env *Env) (backend.Backend, error) {
	return openKubeContext(ctx, env, env.KubeContext, "kube", nil)
}

// openKind is the Kubernetes backend on the catalog's kind cluster
// (context kind-<catalog name>). up --target kind makes the cluster, its
// registry and images exist first (prepareKindCluster, kind.go); every
// other verb uses the cluster as it is.
func openKind(ctx context.Context, env *Env) (backend.Backend, error) {
	name := env.Catalog.Metadata.Name
	b, err := openKubeContext(ctx, env, "kind-"+name, "kind", nil)
	if err != nil {
		return nil, fmt.Errorf("%w\n(novadev up --target kind creates the cluster %s and its registry)", err, name)
	}
	return b, err
}

// restConfig loads the kubeconfig with kubectl's rules, for context kctx.
func restConfig(kctx string) (*rest.Config, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: kctx}).ClientConfig()
	if err != nil {
		what := "the current context"
		if kctx != "" {
			what = "context " + kctx
		}
		return nil, fmt.Errorf("kubeconfig (%s): %s: %w", rulesWhere(rules), what, err)
	}
	return cfg, nil
}

func rulesWhere(r *clientcmd.ClientConfigLoadingRules) string {
	if len(r.Precedence) > 0 {
		return fmt.Sprint(r.Precedence)
	}
	return r.ExplicitPath
}

// openKubeContext opens the kube backend on context kctx; load, when set,
// gets the spec's images into the cluster first (kind).
func openKubeContext(ctx context.Context, env *Env, kctx, target string, load func(kube.Spec) error) (backend.Backend, error) {
	cfg, err := restConfig(kctx)
	if err != nil {
		return nil, err
	}
	sp, err := kubeSpec(ctx, env)
	if err != nil {
		return nil, err
	}
	if load != nil {
		if err := load(sp); err != nil {
			return nil, err
		}
	}
	b, err := kube.New(cfg, sp)
	if err != nil {
		return nil, err
	}
	return kubeBackend{b, target}, nil
}

// kubeBackend is the kube backend with the target name it was opened for.
type kubeBackend struct {
	*kube.Backend
	target string
}

func (k kubeBackend) Info(ctx context.Context) (backend.Info, error) {
	i, err := k.Backend.Info(ctx)
	i.Target = k.target
	return i, err
}

// kubeSpec renders the kind/ tree in-process, builds the environment's
// overlay (kindOverlay) with its credentials, and moves it into the
// instance's namespace (the environment's namespace, else its project).
func kubeSpec(ctx context.Context, env *Env) (kube.Spec, error) {
	c := env.Catalog
	overlay := c.Env.KindOverlay
	if overlay == "" {
		return kube.Spec{}, fmt.Errorf("environment %s names no kindOverlay: --target kube/kind runs the environments rendered as kind overlays (%v); add `kindOverlay:` to %s or pick another --env", c.Env.Metadata.Name, catalog.KindOverlays, c.Env.File)
	}
	set, err := catalog.LoadSetContext(ctx, c.File)
	if err != nil {
		return kube.Spec{}, err
	}
	files, err := kind.Render(set)
	if err != nil {
		return kube.Spec{}, err
	}
	oc := set.ForKindOverlay(overlay)
	if oc == nil {
		oc = c
	}
	dir := path.Join(kind.Dir, "overlays", overlay)
	files[path.Join(dir, kind.CredentialsFile)] = kind.CredentialsEnv(oc, func(k string) string { v, _ := env.Lookup(k); return v })
	objs, err := kube.BuildCached(files, dir, kubeBuildCache())
	if err != nil {
		return kube.Spec{}, err
	}
	ns := c.Env.Namespace
	if ns == "" || env.Instance != nil {
		ns = c.Env.Project
	}
	kube.Retarget(objs, ns)
	sp := kube.Spec{Namespace: ns, Objects: objs, Nodes: map[string]kube.NodeSpec{}}
	g := c.Graph()
	for _, n := range g.Names() {
		it, _ := g.Node(n)
		ns := kube.NodeSpec{Kind: kube.NodeKind(it.Kind), Needs: g.Needs(n)}
		switch {
		case it.Store != nil && it.Store.Port != 0:
			ns.Ports = []int{it.Store.Port}
		case it.Service != nil:
			for _, p := range it.Service.Ports {
				ns.Ports = append(ns.Ports, p.Port)
			}
		}
		sp.Nodes[n] = ns
	}
	return sp, nil
}

// jobRunner is a backend that runs bootstraps itself (kube: the rendered
// Jobs) rather than the supervisor running them in-process.
type jobRunner interface {
	RunBootstrap(ctx context.Context, name string, log func(format string, args ...any)) error
}

// jobBootstrapper adapts a job runner to the supervisor's Bootstrapper.
func jobBootstrapper(j jobRunner) supervisor.Bootstrapper {
	return func(ctx context.Context, b *catalog.Bootstrap, log func(string, ...any)) error {
		return j.RunBootstrap(ctx, b.Name, log)
	}
}

// clusterAddresser says where a port is reachable inside the cluster.
type clusterAddresser interface {
	ClusterAddress(p backend.Port) string
}

// clusterEndpoints replaces 127.0.0.1 forwards (they end with the
// command) by the in-cluster addresses of the same ports.
func clusterEndpoints(b backend.Backend, eps []supervisor.Endpoint, ports func(node string) []backend.Port) []supervisor.Endpoint {
	ca, ok := b.(clusterAddresser)
	if !ok {
		return eps
	}
	var out []supervisor.Endpoint
	for _, e := range eps {
		i := slices.IndexFunc(ports(e.Node), func(p backend.Port) bool { return p.Unit == e.Unit && p.Container == e.Container })
		if i < 0 {
			continue
		}
		e.Host = ca.ClusterAddress(ports(e.Node)[i])
		out = append(out, e)
	}
	return out
}

// kubeBuildCache is where built overlays are kept ($NOVADEV_CACHE or
// ~/.cache/novadev, kube-build/); "" when there is no cache directory.
func kubeBuildCache() string {
	if d := os.Getenv("NOVADEV_CACHE"); d != "" {
		return filepath.Join(d, "kube-build")
	}
	d, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	return filepath.Join(d, "novadev", "kube-build")
}

// specImages lists every image the spec's pods run (init containers too),
// sorted, once each.
func specImages(sp kube.Spec) []string {
	seen := map[string]bool{}
	for _, o := range sp.Objects {
		for _, field := range []string{"containers", "initContainers"} {
			cs, _, _ := unstructured.NestedSlice(o.Object, "spec", "template", "spec", field)
			for _, c := range cs {
				if m, ok := c.(map[string]any); ok {
					if im, ok := m["image"].(string); ok && im != "" {
						seen[im] = true
					}
				}
			}
		}
	}
	return slices.Sorted(maps.Keys(seen))
}
