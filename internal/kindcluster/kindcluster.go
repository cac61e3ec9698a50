// Package kindcluster makes the kind cluster of the kind target exist and
// hold the environment's images: it creates or reuses the cluster through
// kind's Go library (sigs.k8s.io/kind/pkg/cluster) from the rendered
// kind/cluster.yaml, runs the local registry the rendered containerd mirror
// names (a registry container on the kind network, published on loopback),
// applies the KEP-1755 local-registry-hosting ConfigMap, and pushes to that
// registry the images whose manifest digest changed.
//
// It knows nothing of the catalog, the supervisor or any backend: the
// composition root (internal/app) gives it the rendered bytes and names, and
// hands the kube context Ensure returns to the Kubernetes backend.
package kindcluster

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/novadev/novadev/internal/state"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/kind/pkg/apis/config/defaults"
	"sigs.k8s.io/kind/pkg/cluster"
	"sigs.k8s.io/yaml"
)

// The defaults of Options, the names the rendered kind/cluster.yaml and
// kind/local-registry-hosting.yaml use.
const (
	DefaultRegistryName  = "novadev-registry"
	DefaultRegistryPort  = 5005
	DefaultRegistryImage = "novadev/registry:3"
	// OfflineNodeImage is the node image scripts/kind-node/build.sh builds
	// (Kubernetes as pinned by hack/kubernetes/go.mod).
	OfflineNodeImage = "novadev/kind-node:v1.34.4"
	// FieldManager is the server-side apply field manager of what novadev applies.
	FieldManager = "novadev"
)

// Options configure a Provisioner. Only Config is required.
type Options struct {
	// Name is the cluster's name; empty means the config's name.
	Name string
	// Config is the rendered kind/cluster.yaml.
	Config []byte
	// RegistryHosting is the rendered kind/local-registry-hosting.yaml,
	// applied after create (and on reuse); empty applies nothing.
	RegistryHosting []byte
	// NodeImage overrides the choice: empty means OfflineNodeImage when the
	// engine has it, kind's default node image otherwise.
	NodeImage string
	// RegistryName is the registry container (default novadev-registry).
	RegistryName string
	// RegistryHostIP and RegistryPort are where it is published on the host
	// (default 127.0.0.1:5005); images are pushed as localhost:<port>/<name>.
	RegistryHostIP string
	RegistryPort   int
	// RegistryImage is the registry's image (default novadev/registry:3,
	// built by scripts/images/build.sh registry).
	RegistryImage string
	// Kubeconfig is the file kind writes the context kind-<name> into; empty
	// means kind's rule ($KUBECONFIG's first file, else ~/.kube/config).
	Kubeconfig string
	// ReadyTimeout bounds the wait for the control plane after a create or a
	// restart of stopped nodes (default 3m).
	ReadyTimeout time.Duration
	// Progress receives one line per step, for people.
	Progress func(string)
	// Engine is the Docker engine; nil connects to the one DOCKER_HOST names.
	Engine Engine
	// Addons are the cluster-wide manifests the kind target installs
	// (ApplyAddon) and Doctor checks: the NetworkPolicy engine.
	Addons []Addon
}

// Provisioner creates, reuses, fills, checks and deletes one kind cluster and
// its registry.
type Provisioner struct {
	opts     Options
	eng      Engine
	closeEng func() error
	reg      registryAPI
	kind     *cluster.Provider
	cs       *kubernetes.Clientset // see client
	restCfg  *rest.Config          // what cs was made from
	server   string                // the API server cs talks to
	mu       sync.Mutex            // serialises Progress
}

// registryAPI is the registry as the Provisioner uses it.
type registryAPI interface {
	Registry
	ping(ctx context.Context) error
}

// New returns a Provisioner for opts, with the defaults filled in. Nothing
// is contacted before the first call.
func New(opts Options) *Provisioner {
	if opts.RegistryName == "" {
		opts.RegistryName = DefaultRegistryName
	}
	if opts.RegistryHostIP == "" {
		opts.RegistryHostIP = "127.0.0.1"
	}
	if opts.RegistryPort == 0 {
		opts.RegistryPort = DefaultRegistryPort
	}
	if opts.RegistryImage == "" {
		opts.RegistryImage = DefaultRegistryImage
	}
	if opts.ReadyTimeout == 0 {
		opts.ReadyTimeout = 3 * time.Minute
	}
	if opts.Progress == nil {
		opts.Progress = func(string) {}
	}
	if opts.Name == "" {
		opts.Name = configName(opts.Config)
	}
	p := &Provisioner{opts: opts, eng: opts.Engine}
	p.reg = &httpRegistry{base: fmt.Sprintf("http://%s:%d", opts.RegistryHostIP, opts.RegistryPort), c: &http.Client{Timeout: 30 * time.Second}}
	p.kind = cluster.NewProvider(cluster.ProviderWithDocker(), cluster.ProviderWithLogger(&kindLogger{progress: p.progress}))
	return p
}

// configName is the name field of a kind config ("" when absent or bad;
// Ensure then reports the problem).
func configName(cfg []byte) string {
	var c struct {
		Name string `json:"name"`
	}
	if yaml.Unmarshal(cfg, &c) != nil {
		return ""
	}
	return c.Name
}

// Name is the cluster's name.
func (p *Provisioner) Name() string { return p.opts.Name }

// Context is the kubeconfig context kind writes for the cluster.
func (p *Provisioner) Context() string { return "kind-" + p.opts.Name }

// RegistryHost is the registry as the engine and the containerd mirror name
// it (localhost:5005): the prefix of the images LoadImages pushes.
func (p *Provisioner) RegistryHost() string { return fmt.Sprintf("localhost:%d", p.opts.RegistryPort) }

// Addons are the addons the Provisioner was configured with.
func (p *Provisioner) Addons() []Addon { return p.opts.Addons }

// ImagePresent reports whether the Docker engine has the image.
func (p *Provisioner) ImagePresent(ctx context.Context, image string) (bool, error) {
	eng, err := p.engine(ctx)
	if err != nil {
		return false, err
	}
	_, err = eng.ImageInspect(ctx, image)
	switch {
	case errors.Is(err, ErrNotFound):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("inspecting image %s: %w", image, err)
	}
	return true, nil
}

// Close releases the engine connection the Provisioner opened itself.
func (p *Provisioner) Close() error {
	if p.closeEng != nil {
		return p.closeEng()
	}
	return nil
}

// progress says s; lines may come from the pushes and kind's create at once.
func (p *Provisioner) progress(s string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.opts.Progress(s)
}

func (p *Provisioner) engine(ctx context.Context) (Engine, error) {
	if p.eng != nil {
		return p.eng, nil
	}
	m, err := ConnectEngine(ctx)
	if err != nil {
		return nil, err
	}
	p.eng, p.closeEng = m, m.Close
	return m, nil
}

// Ensure creates the cluster, or reuses the existing one of that name after
// checking it (stopped node containers are started again), then makes the
// registry run on the kind network and applies the registry-hosting
// ConfigMap. It returns the kubeconfig context (kind-<name>) kind wrote.
func (p *Provisioner) Ensure(ctx context.Context) (string, error) {
	kctx, _, err := p.Provision(ctx, nil)
	return kctx, err
}

// Provision is Ensure, then Load of images. For a cluster that does not
// exist yet the registry starts first (on the kind network when kind's
// network is there, else on Docker's default bridge, connected to the kind
// network once kind has made it) and the images are pushed while kind
// creates the cluster: a cold up pays the longer of the two, not their
// sum. It returns the context and what Load did.
func (p *Provisioner) Provision(ctx context.Context, images []string) (string, LoadReport, error) {
	if p.opts.Name == "" {
		return "", nil, errors.New("kind cluster: no name (the rendered kind/cluster.yaml has no name field; run novadev render kind)")
	}
	eng, err := p.engine(ctx)
	if err != nil {
		return "", nil, err
	}
	// Before minutes of cluster creation: the registry must be possible.
	if err := p.registryPossible(ctx); err != nil {
		return "", nil, err
	}
	exists, err := p.exists()
	if err != nil {
		return "", nil, err
	}
	var r LoadReport
	if exists {
		if err := p.reuse(ctx); err != nil {
			return "", nil, err
		}
		if err := p.ensureRegistry(ctx, KindNetwork); err != nil {
			return "", nil, err
		}
	} else {
		net := KindNetwork
		if ok, err := eng.NetworkExists(ctx, KindNetwork); err != nil {
			return "", nil, fmt.Errorf("inspecting network %s: %w", KindNetwork, err)
		} else if !ok {
			net = DefaultBridge
		}
		if err := p.ensureRegistry(ctx, net); err != nil {
			return "", nil, err
		}
		var loadErr error
		loaded := make(chan struct{})
		go func() {
			defer close(loaded)
			if len(images) > 0 {
				r, loadErr = p.Load(ctx, images)
			}
		}()
		err := p.create(ctx)
		if err == nil {
			err = p.waitDefaultServiceAccount(ctx, time.Minute)
		}
		<-loaded // kind's create cannot be cancelled; nor is a push left running
		if err != nil {
			return "", nil, err
		}
		if loadErr != nil {
			return "", r, loadErr
		}
		images = nil                                               // pushed already: nothing left for the Load below
		if err := p.ensureRegistry(ctx, KindNetwork); err != nil { // connects it
			return "", nil, err
		}
	}
	if len(p.opts.RegistryHosting) > 0 {
		if err := p.applyRegistryHosting(ctx); err != nil {
			return "", nil, err
		}
	}
	if len(images) > 0 {
		if r, err = p.Load(ctx, images); err != nil {
			return "", r, err
		}
	}
	return p.Context(), r, nil
}

func (p *Provisioner) exists() (bool, error) {
	names, err := p.kind.List()
	if err != nil {
		return false, fmt.Errorf("listing kind clusters: %w", err)
	}
	return slices.Contains(names, p.opts.Name), nil
}

// nodeImage is the node image to create with and why, for the progress line.
func (p *Provisioner) nodeImage(ctx context.Context) (image, why string) {
	if p.opts.NodeImage != "" {
		return p.opts.NodeImage, "as configured"
	}
	if _, err := p.eng.ImageInspect(ctx, OfflineNodeImage); err == nil {
		return OfflineNodeImage, "the offline node image scripts/kind-node/build.sh built"
	}
	return "", "kind's default " + strings.SplitN(defaults.Image, "@", 2)[0] + ", pulled from its registry; build the offline one with scripts/kind-node/build.sh"
}

func (p *Provisioner) create(ctx context.Context) error {
	image, why := p.nodeImage(ctx)
	shown := image
	if shown == "" {
		shown = "default"
	}
	p.progress(fmt.Sprintf("creating cluster %s (node image %s: %s)", p.opts.Name, shown, why))
	start := time.Now()
	opts := []cluster.CreateOption{
		cluster.CreateWithRawConfig(p.opts.Config),
		cluster.CreateWithKubeconfigPath(p.opts.Kubeconfig),
		cluster.CreateWithWaitForReady(p.opts.ReadyTimeout),
		cluster.CreateWithDisplayUsage(false),
		cluster.CreateWithDisplaySalutation(false),
	}
	if image != "" {
		opts = append(opts, cluster.CreateWithNodeImage(image))
	}
	// kind's create is not cancellable; it deletes what it made on failure.
	p.forget()
	if err := p.kind.Create(p.opts.Name, opts...); err != nil {
		return fmt.Errorf("creating kind cluster %s: %w", p.opts.Name, err)
	}
	p.progress(fmt.Sprintf("cluster %s created in %.1fs (context %s)", p.opts.Name, time.Since(start).Seconds(), p.Context()))
	return ctx.Err()
}

// reuse checks an existing cluster: every node container running (stopped
// ones are started, as `docker start` after a reboot would), the context
// written, the API server ready and every node Ready.
func (p *Provisioner) reuse(ctx context.Context) error {
	nodes, err := p.kind.ListNodes(p.opts.Name)
	if err != nil {
		return fmt.Errorf("listing the nodes of kind cluster %s: %w", p.opts.Name, err)
	}
	restarted := false
	for _, n := range nodes {
		c, err := p.eng.ContainerInspect(ctx, n.String())
		if err != nil {
			return fmt.Errorf("kind cluster %s: node %s: %w", p.opts.Name, n, err)
		}
		if c.Running {
			continue
		}
		p.progress(fmt.Sprintf("starting stopped node %s of cluster %s (was %s)", n, p.opts.Name, c.Status))
		if err := p.eng.ContainerStart(ctx, c.ID); err != nil {
			return fmt.Errorf("starting node %s: %w; if it does not come back, recreate the cluster: novadev down --cluster --target kind, then up", n, err)
		}
		restarted = true
	}
	p.forget()
	if _, err := p.client(); err != nil {
		return err
	}
	if !p.contextCurrent() {
		if err := p.kind.ExportKubeConfig(p.opts.Name, p.opts.Kubeconfig, false); err != nil {
			return fmt.Errorf("writing the kubeconfig of kind cluster %s: %w", p.opts.Name, err)
		}
	}
	wait := 15 * time.Second
	if restarted {
		wait = p.opts.ReadyTimeout
	}
	if err := p.waitHealthy(ctx, wait); err != nil {
		return fmt.Errorf("kind cluster %s exists but is not healthy: %w; recreate it: novadev down --cluster --target kind, then up", p.opts.Name, err)
	}
	if err := p.mirrorConfigured(ctx, nodes); err != nil {
		return fmt.Errorf("kind cluster %s: %w; recreate it: novadev down --cluster --target kind, then up", p.opts.Name, err)
	}
	p.progress(fmt.Sprintf("reusing cluster %s (%d node(s) Ready, context %s)", p.opts.Name, len(nodes), p.Context()))
	return nil
}

// client is a clientset for the cluster, from the kubeconfig kind derives
// from the running nodes (not the file, which a user may have edited).
// The clientset is kept: kind reads the kubeconfig out of the node
// (docker exec), which costs a few hundred milliseconds on a loaded machine,
// and a reused cluster's second up should take seconds in all.
func (p *Provisioner) client() (*kubernetes.Clientset, error) {
	if p.cs != nil {
		return p.cs, nil
	}
	kc, err := p.kind.KubeConfig(p.opts.Name, false)
	if err != nil {
		return nil, fmt.Errorf("kubeconfig of kind cluster %s: %w", p.opts.Name, err)
	}
	cfg, err := clientcmd.RESTConfigFromKubeConfig([]byte(kc))
	if err != nil {
		return nil, fmt.Errorf("kubeconfig of kind cluster %s: %w", p.opts.Name, err)
	}
	cfg.Timeout = 10 * time.Second
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	p.cs, p.restCfg, p.server = cs, cfg, cfg.Host
	return cs, nil
}

// dynamicClient is a dynamic client for the cluster client() talks to.
func (p *Provisioner) dynamicClient() (dynamic.Interface, error) {
	if _, err := p.client(); err != nil {
		return nil, err
	}
	return dynamic.NewForConfig(p.restCfg)
}

// forget drops the kept clientset (the cluster was deleted or recreated).
func (p *Provisioner) forget() { p.cs, p.restCfg, p.server = nil, nil, "" }

// waitDefaultServiceAccount waits until namespace default has its default
// ServiceAccount. kind's create returns once the node is Ready, when the
// controller manager may not have made it yet, and until then the API
// server refuses a pod there ("serviceaccount default not found"), as
// `kubectl run` right after `up` would be. Before the pushes ran during
// the create, their half a minute hid this.
func (p *Provisioner) waitDefaultServiceAccount(ctx context.Context, d time.Duration) error {
	cs, err := p.client()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	for {
		_, err := cs.CoreV1().ServiceAccounts(metav1.NamespaceDefault).Get(ctx, "default", metav1.GetOptions{})
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("kind cluster %s: no default ServiceAccount in namespace default after %s (%v): is kube-controller-manager running? novadev doctor --target kind", p.opts.Name, d, err)
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// health is nil when the API server is ready and every node is Ready.
func (p *Provisioner) health(ctx context.Context) error {
	cs, err := p.client()
	if err != nil {
		return err
	}
	if _, err := cs.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx); err != nil {
		return fmt.Errorf("API server not ready: %w", err)
	}
	nodes, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return fmt.Errorf("listing nodes: %w", err)
	}
	if len(nodes.Items) == 0 {
		return errors.New("no nodes registered")
	}
	for _, n := range nodes.Items {
		ready := false
		for _, c := range n.Status.Conditions {
			if c.Type == "Ready" && c.Status == "True" {
				ready = true
			}
		}
		if !ready {
			return fmt.Errorf("node %s is not Ready", n.Name)
		}
	}
	return nil
}

func (p *Provisioner) waitHealthy(ctx context.Context, d time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	for {
		err := p.health(ctx)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (waited %s)", err, d)
		case <-time.After(time.Second):
		}
	}
}

// applyRegistryHosting server-side applies the KEP-1755 ConfigMap, so tools
// (Tilt, ctlptl) find the registry.
func (p *Provisioner) applyRegistryHosting(ctx context.Context) error {
	data, err := yaml.YAMLToJSON(p.opts.RegistryHosting)
	if err != nil {
		return fmt.Errorf("kind/local-registry-hosting.yaml: %w", err)
	}
	var meta struct {
		Kind     string `json:"kind"`
		Metadata struct {
			Name      string `json:"name"`
			Namespace string `json:"namespace"`
		} `json:"metadata"`
	}
	if err := yaml.Unmarshal(data, &meta); err != nil || meta.Kind != "ConfigMap" || meta.Metadata.Name == "" || meta.Metadata.Namespace == "" {
		return fmt.Errorf("kind/local-registry-hosting.yaml: want a ConfigMap with a name and a namespace (run novadev render kind)")
	}
	cs, err := p.client()
	if err != nil {
		return err
	}
	force := true
	if _, err := cs.CoreV1().ConfigMaps(meta.Metadata.Namespace).Patch(ctx, meta.Metadata.Name, types.ApplyPatchType, data,
		metav1.PatchOptions{FieldManager: FieldManager, Force: &force}); err != nil {
		return fmt.Errorf("applying ConfigMap %s/%s: %w", meta.Metadata.Namespace, meta.Metadata.Name, err)
	}
	return nil
}

// LoadImages pushes to the local registry every image whose manifest there
// is not the local image's, and reports each as pushed or unchanged through
// Progress. Images are named as the engine knows them (novadev/postgres:15);
// the cluster pulls them as localhost:<port>/<name> (RegistryRef).
func (p *Provisioner) LoadImages(ctx context.Context, images []string) error {
	_, err := p.Load(ctx, images)
	return err
}

// Load is LoadImages returning what it did per image.
func (p *Provisioner) Load(ctx context.Context, images []string) (LoadReport, error) {
	eng, err := p.engine(ctx)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	r, err := load(ctx, eng, p.reg, p.RegistryHost(), images, p.progress)
	if err != nil {
		return r, err
	}
	pushed, unchanged := r.Counts()
	p.progress(fmt.Sprintf("images: %d pushed, %d unchanged to %s in %.1fs", pushed, unchanged, p.RegistryHost(), time.Since(start).Seconds()))
	return r, nil
}

// Delete deletes the cluster (and its kubeconfig context) and the registry
// container, when novadev created it. Missing ones are not an error.
func (p *Provisioner) Delete(ctx context.Context) error {
	eng, err := p.engine(ctx)
	if err != nil {
		return err
	}
	exists, err := p.exists()
	if err != nil {
		return err
	}
	if exists {
		p.progress(fmt.Sprintf("deleting cluster %s", p.opts.Name))
		p.forget()
		if err := p.kind.Delete(p.opts.Name, p.opts.Kubeconfig); err != nil {
			return fmt.Errorf("deleting kind cluster %s: %w", p.opts.Name, err)
		}
	} else {
		p.progress(fmt.Sprintf("cluster %s does not exist", p.opts.Name))
	}
	c, err := eng.ContainerInspect(ctx, p.opts.RegistryName)
	switch {
	case errors.Is(err, ErrNotFound):
		return nil
	case err != nil:
		return fmt.Errorf("inspecting registry container %s: %w", p.opts.RegistryName, err)
	case c.Labels[state.LabelManagedBy] != state.ManagedBy:
		p.progress(fmt.Sprintf("registry container %s left alone: novadev did not create it", p.opts.RegistryName))
		return nil
	}
	p.progress(fmt.Sprintf("removing registry %s", p.opts.RegistryName))
	if err := eng.ContainerRemove(ctx, c.ID); err != nil && !errors.Is(err, ErrNotFound) {
		return fmt.Errorf("removing registry container %s: %w", p.opts.RegistryName, err)
	}
	return nil
}
