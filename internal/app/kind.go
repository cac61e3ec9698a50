package app

// The kind target's cluster: creating, filling, checking and deleting the
// kind cluster itself (internal/kindcluster). The Kubernetes backend that
// applies the overlay on it lives in kube*.go; the kind target's `up` asks
// KindCluster.Ensure for the context, LoadImages for the images, then opens
// that backend on the context.

import (
	"context"
	"fmt"
	"path"
	"time"

	"github.com/novadev/novadev/internal/catalog"
	"github.com/novadev/novadev/internal/cli"
	"github.com/novadev/novadev/internal/event"
	"github.com/novadev/novadev/internal/kindcluster"
	"github.com/novadev/novadev/internal/render/kind"
	"github.com/novadev/novadev/internal/supervisor"
)

// TargetKind is the --target of a local kind cluster.
const TargetKind = "kind"

// KindCluster is what the kind target needs of its cluster: internal/kindcluster's
// Provisioner, or a fake in tests.
type KindCluster interface {
	// Provision creates or reuses the cluster and its registry, pushes the
	// images whose digest changed to the registry (on a new cluster while
	// kind creates it) and returns the kubeconfig context (kind-<name>).
	Provision(ctx context.Context, images []string) (kubeContext string, r kindcluster.LoadReport, err error)
	// Addons are the cluster-wide addons up installs (the NetworkPolicy engine).
	Addons() []kindcluster.Addon
	// ImagePresent reports whether the Docker engine has an image.
	ImagePresent(ctx context.Context, image string) (bool, error)
	// ApplyAddon applies an addon's changed objects and waits for its DaemonSet.
	ApplyAddon(ctx context.Context, a kindcluster.Addon) (kindcluster.AddonReport, error)
	// AddonInstalled reports whether an addon's DaemonSet is on the cluster.
	AddonInstalled(ctx context.Context, a kindcluster.Addon) (bool, error)
	// Delete deletes the cluster and the registry container.
	Delete(ctx context.Context) error
	// Doctor checks the node image, context, registry and cluster health.
	Doctor(ctx context.Context) []kindcluster.Finding
	// Name is the cluster's name.
	Name() string
	Close() error
}

// KindClusterFactory opens the kind cluster of the catalog g names;
// progress receives lines for people.
type KindClusterFactory func(ctx context.Context, g *cli.Global, progress func(string)) (KindCluster, error)

var _ KindCluster = (*kindcluster.Provisioner)(nil)

func (sv *service) kindCluster(ctx context.Context, g *cli.Global, progress func(string)) (KindCluster, error) {
	f := sv.o.KindCluster
	if f == nil {
		f = openKindCluster
	}
	return f(ctx, g, progress)
}

// openKindCluster renders the kind tree in memory (what `novadev render
// kind` would write, so a stale kind/ on disk cannot mislead) and gives its
// cluster config and registry-hosting ConfigMap to a Provisioner, with the
// registry names the renderer wrote into them.
func openKindCluster(ctx context.Context, g *cli.Global, progress func(string)) (KindCluster, error) {
	set, err := catalog.LoadSetContext(ctx, g.Catalog)
	if err != nil {
		return nil, err
	}
	files, err := kind.Render(set)
	if err != nil {
		return nil, err
	}
	return kindcluster.New(kindcluster.Options{
		Config:          files[path.Join(kind.Dir, "cluster.yaml")],
		RegistryHosting: files[path.Join(kind.Dir, "local-registry-hosting.yaml")],
		RegistryName:    kind.RegistryName,
		RegistryPort:    kind.RegistryHostPort,
		Progress:        progress,
		Addons:          []kindcluster.Addon{networkPolicyAddon(files)},
	}), nil
}

// networkPolicyAddon is the NetworkPolicy engine (decision 34) as the kind
// target installs it: kind's CNI enforces no NetworkPolicy, so without it
// the rendered policies are applied and filter nothing, and the cluster
// does not mirror staging. kind only: --target kube clusters bring their
// own CNI, and nothing on that path installs addons.
func networkPolicyAddon(files map[string][]byte) kindcluster.Addon {
	return kindcluster.Addon{
		Name:      "NetworkPolicy engine",
		Manifest:  files[path.Join(kind.Dir, kind.NetworkPolicyAddon)],
		DaemonSet: "kube-system/" + kind.NetworkPolicyEngineName,
		Image:     kind.NetworkPolicyEngineImage,
		Build:     "scripts/netpol/build.sh",
		Without:   "NetworkPolicies are rendered but NOT enforced (every pod can reach every other)",
	}
}

// prepareKindCluster is the kind target's part of up, before the
// Kubernetes backend opens: the cluster and its registry exist, the images
// the dev overlay pulls from the registry are there, pushed only where
// their digest changed (kind.LocalImages; Provision, on a new cluster
// while kind creates it), and the addons
// (the NetworkPolicy engine) are applied and their DaemonSets ready, so
// the policies filter from the first pod of the environment on. An addon
// whose image the engine lacks is left out with a note saying what that
// costs and what to run: up still works, without enforcement. It returns
// the kube context for the backend.
func (sv *service) prepareKindCluster(ctx context.Context, g *cli.Global, sink event.Sink) (string, error) {
	set, err := catalog.LoadSetContext(ctx, g.Catalog)
	if err != nil {
		return "", err
	}
	images, err := kind.LocalImages(set)
	if err != nil {
		return "", err
	}
	note := noteSink(sink)
	kc, err := sv.kindCluster(ctx, g, note)
	if err != nil {
		return "", err
	}
	defer kc.Close()
	// the addons whose image the engine has are pushed with the overlay's
	// images; the others are left out, with a note once the cluster is
	// there to say whether an earlier up installed them
	var addons, missing []kindcluster.Addon
	for _, a := range kc.Addons() {
		if a.Image != "" {
			ok, err := kc.ImagePresent(ctx, a.Image)
			if err != nil {
				return "", err
			}
			if !ok {
				missing = append(missing, a)
				continue
			}
			images = append(images, a.Image)
		}
		addons = append(addons, a)
	}
	kubeContext, _, err := kc.Provision(ctx, images)
	if err != nil {
		return "", err
	}
	for _, a := range missing {
		// say what holds on this cluster: an engine an earlier up
		// installed still enforces, at its old version
		if there, err := kc.AddonInstalled(ctx, a); err == nil && there {
			note(fmt.Sprintf("%s not updated: image %s is not on the Docker engine; the one an earlier up installed stays as it is; build it with %s (make up TARGET=kind does), then run up again", a.Name, a.Image, a.Build))
		} else {
			note(fmt.Sprintf("%s not installed: image %s is not on the Docker engine, so %s; build it with %s (make up TARGET=kind does), then run up again", a.Name, a.Image, a.Without, a.Build))
		}
	}
	for _, a := range addons {
		if _, err := kc.ApplyAddon(ctx, a); err != nil {
			return "", err
		}
	}
	return kubeContext, nil
}

// noteSink turns progress lines into Note events.
func noteSink(sink event.Sink) func(string) {
	return func(s string) {
		if sink != nil {
			sink.Emit(event.Event{Time: time.Now(), Type: event.Note, Detail: s})
		}
	}
}

// downCluster is `down --cluster --target kind`: the cluster (with every
// namespace on it) and the registry container go; no backend is opened.
func (sv *service) downCluster(ctx context.Context, g *cli.Global, sink event.Sink) (*supervisor.DownResult, error) {
	if g.Target != TargetKind {
		return nil, &cli.UsageError{Err: fmt.Errorf("--cluster deletes a kind cluster: it needs --target kind (not %s)", g.Target)}
	}
	kc, err := sv.kindCluster(ctx, g, noteSink(sink))
	if err != nil {
		return nil, err
	}
	defer kc.Close()
	if err := kc.Delete(ctx); err != nil {
		return &supervisor.DownResult{Instance: "kind cluster " + kc.Name()}, err
	}
	return &supervisor.DownResult{Instance: "kind cluster " + kc.Name(), VolumesRemoved: true}, nil
}

// kindDoctor is `doctor --target kind`: the cluster's findings as checks
// (a warning, such as "no cluster yet", is a note, not a failure).
func (sv *service) kindDoctor(ctx context.Context, g *cli.Global) ([]supervisor.Check, error) {
	kc, err := sv.kindCluster(ctx, g, nil)
	if err != nil {
		return nil, err
	}
	defer kc.Close()
	return findingsToChecks(kc.Doctor(ctx)), nil
}

func findingsToChecks(fs []kindcluster.Finding) []supervisor.Check {
	out := make([]supervisor.Check, 0, len(fs))
	for _, f := range fs {
		out = append(out, supervisor.Check{OK: f.Status == kindcluster.OK, Note: f.Status == kindcluster.Warn, What: f.Check, Detail: f.Detail, Fix: f.Next})
	}
	return out
}
