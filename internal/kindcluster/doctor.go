package kindcluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/kind/pkg/cluster/nodes"
)

// Status is a Finding's verdict.
type Status string

// The verdicts, in increasing gravity.
const (
	OK   Status = "ok"
	Warn Status = "warn"
	Fail Status = "fail"
)

// Finding is one check of Doctor: what was checked, what was found and, when
// it is not OK, what to do next.
type Finding struct {
	Check  string
	Status Status
	Detail string
	Next   string
}

func (f Finding) String() string {
	s := fmt.Sprintf("%-4s %s: %s", f.Status, f.Check, f.Detail)
	if f.Next != "" {
		s += " -> " + f.Next
	}
	return s
}

// Doctor checks, without changing anything: the node image, the cluster's
// node containers, the kubeconfig context, the registry container and its
// API, and the cluster's health (API server ready, nodes Ready).
func (p *Provisioner) Doctor(ctx context.Context) []Finding {
	eng, err := p.engine(ctx)
	if err != nil {
		return []Finding{{Check: "docker engine", Status: Fail, Detail: err.Error(), Next: "start Docker (scripts/install-docker.sh installs Debian's docker.io)"}}
	}
	var out []Finding
	add := func(check string, st Status, detail, next string) {
		out = append(out, Finding{Check: check, Status: st, Detail: detail, Next: next})
	}

	if image, why := p.nodeImage(ctx); image != "" {
		add("node image", OK, image+" ("+why+")", "")
	} else {
		add("node image", Warn, "no offline node image: "+why, "scripts/kind-node/build.sh (no registry needed), or let kind pull its default")
	}

	exists, err := p.exists()
	switch {
	case err != nil:
		add("cluster", Fail, err.Error(), "check that the docker CLI is on PATH (kind drives the engine through it)")
	case !exists:
		add("cluster", Warn, fmt.Sprintf("no kind cluster %s", p.opts.Name), "novadev up --target kind creates it")
	default:
		nodes, err := p.kind.ListNodes(p.opts.Name)
		if err != nil {
			add("cluster", Fail, err.Error(), "")
			break
		}
		var stopped []string
		for _, n := range nodes {
			if c, err := eng.ContainerInspect(ctx, n.String()); err != nil || !c.Running {
				stopped = append(stopped, n.String())
			}
		}
		if len(stopped) > 0 {
			add("cluster", Fail, fmt.Sprintf("cluster %s: node container(s) not running: %s", p.opts.Name, strings.Join(stopped, ", ")), "novadev up --target kind starts them again; if they do not come back: novadev down --cluster --target kind, then up")
		} else {
			add("cluster", OK, fmt.Sprintf("cluster %s: %d node container(s) running", p.opts.Name, len(nodes)), "")
		}
		if err := p.health(ctx); err != nil {
			add("cluster health", Fail, err.Error(), fmt.Sprintf("docker logs %s-control-plane; recreate with novadev down --cluster --target kind, then up", p.opts.Name))
		} else {
			add("cluster health", OK, "API server ready, every node Ready", "")
		}
		if len(stopped) == 0 {
			if err := p.mirrorConfigured(ctx, nodes); err != nil {
				add("registry mirror", Fail, err.Error(), "recreate the cluster from the rendered kind/cluster.yaml: novadev down --cluster --target kind, then up")
			} else {
				add("registry mirror", OK, fmt.Sprintf("containerd on every node mirrors %s", p.RegistryHost()), "")
			}
		}
	}

	file, ctxOK := p.kubeconfigHasContext()
	switch {
	case ctxOK:
		add("kube context", OK, fmt.Sprintf("%s in %s", p.Context(), file), "")
	case exists:
		add("kube context", Fail, fmt.Sprintf("%s missing from %s", p.Context(), file), "novadev up --target kind writes it again (kind export kubeconfig --name "+p.opts.Name+" does too)")
	default:
		add("kube context", Warn, fmt.Sprintf("%s not in %s (no cluster yet)", p.Context(), file), "novadev up --target kind writes it")
	}

	c, err := eng.ContainerInspect(ctx, p.opts.RegistryName)
	switch {
	case errors.Is(err, ErrNotFound):
		if _, err := eng.ImageInspect(ctx, p.opts.RegistryImage); err != nil {
			add("registry", Warn, fmt.Sprintf("no container %s and no image %s", p.opts.RegistryName, p.opts.RegistryImage), "scripts/images/build.sh registry, then novadev up --target kind")
		} else {
			add("registry", Warn, fmt.Sprintf("no container %s", p.opts.RegistryName), "novadev up --target kind creates it")
		}
	case err != nil:
		add("registry", Fail, err.Error(), "")
	case !c.Running:
		add("registry", Fail, fmt.Sprintf("container %s is %s", p.opts.RegistryName, c.Status), "novadev up --target kind starts it (docker logs "+p.opts.RegistryName+" says why it stopped)")
	case !slices.Contains(c.HostPorts, p.registryHostPort()):
		add("registry", Fail, fmt.Sprintf("container %s publishes %v, not %s", p.opts.RegistryName, c.HostPorts, p.registryHostPort()), "docker rm -f "+p.opts.RegistryName+", then novadev up --target kind")
	case !slices.Contains(c.Networks, KindNetwork):
		add("registry", Fail, fmt.Sprintf("container %s is not on the %s network: the nodes cannot pull from it", p.opts.RegistryName, KindNetwork), "novadev up --target kind connects it (docker network connect kind "+p.opts.RegistryName+")")
	default:
		if err := p.reg.ping(ctx); err != nil {
			add("registry", Fail, fmt.Sprintf("%s on %s: %v", p.opts.RegistryName, p.registryHostPort(), err), "docker logs "+p.opts.RegistryName)
		} else {
			add("registry", OK, fmt.Sprintf("%s answers on %s (network %s)", p.opts.RegistryName, p.registryHostPort(), KindNetwork), "")
		}
	}
	healthy := exists && !slices.ContainsFunc(out, func(f Finding) bool { return f.Check == "cluster health" && f.Status != OK })
	for _, a := range p.opts.Addons {
		out = append(out, p.addonFinding(ctx, eng, a, exists, healthy))
	}
	return out
}

// addonFinding checks one addon: its image on the engine (without it, up
// cannot install it and says so) and, on a healthy cluster, its DaemonSet
// installed and ready.
func (p *Provisioner) addonFinding(ctx context.Context, eng Engine, a Addon, exists, healthy bool) Finding {
	f := Finding{Check: a.Name}
	lacking := ""
	if a.Without != "" {
		lacking = ": " + a.Without
	}
	if a.Image != "" {
		if _, err := eng.ImageInspect(ctx, a.Image); err != nil {
			f.Status, f.Detail = Warn, fmt.Sprintf("image %s is not on the Docker engine%s", a.Image, lacking)
			f.Next = a.Build + ", then novadev up --target kind (it installs the addon)"
			return f
		}
	}
	if !exists || !healthy || a.DaemonSet == "" {
		f.Status, f.Detail = OK, fmt.Sprintf("image %s present; novadev up --target kind installs it", a.Image)
		if !exists || !healthy {
			f.Status = Warn
			f.Detail += " (no healthy cluster to check it on)"
			f.Next = "novadev up --target kind"
		}
		return f
	}
	cs, err := p.client()
	if err != nil {
		f.Status, f.Detail = Fail, err.Error()
		return f
	}
	ns, name, _ := strings.Cut(a.DaemonSet, "/")
	ds, err := cs.AppsV1().DaemonSets(ns).Get(ctx, name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		f.Status, f.Detail, f.Next = Warn, fmt.Sprintf("not installed on cluster %s (no DaemonSet %s)%s", p.opts.Name, a.DaemonSet, lacking), "novadev up --target kind installs it"
	case err != nil:
		f.Status, f.Detail = Fail, fmt.Sprintf("reading DaemonSet %s: %v", a.DaemonSet, err)
	default:
		if ok, state := daemonSetReady(ds); ok {
			f.Status, f.Detail = OK, fmt.Sprintf("DaemonSet %s ready (%s)", a.DaemonSet, state)
		} else {
			f.Status, f.Detail = Fail, fmt.Sprintf("DaemonSet %s not ready: %s%s%s", a.DaemonSet, state, podWaits(cs, ns, ds), lacking)
			f.Next = fmt.Sprintf("kubectl -n %s logs ds/%s; novadev up --target kind applies it again", ns, name)
		}
	}
	return f
}

// mirrorConfigured checks that containerd on every node mirrors the
// registry host (the rendered containerdConfigPatches): a cluster created
// by hand, or from an older config, cannot pull what LoadImages pushes.
func (p *Provisioner) mirrorConfigured(ctx context.Context, nodes []nodes.Node) error {
	want := fmt.Sprintf(`mirrors."%s"`, p.RegistryHost())
	for _, n := range nodes {
		var out bytes.Buffer
		if err := n.CommandContext(ctx, "cat", "/etc/containerd/config.toml").SetStdout(&out).Run(); err != nil {
			return fmt.Errorf("node %s: reading /etc/containerd/config.toml: %w", n, err)
		}
		if !strings.Contains(out.String(), want) {
			return fmt.Errorf("node %s: containerd has no mirror for %s: the cluster was not created from the rendered kind/cluster.yaml, and cannot pull the images novadev pushes", n, p.RegistryHost())
		}
	}
	return nil
}

// contextCurrent reports whether the kubeconfig file already holds the
// cluster's context pointing at the API server kind reports (then there is
// nothing to write; kind rewrites the file otherwise).
func (p *Provisioner) contextCurrent() bool {
	file, ok := p.kubeconfigHasContext()
	if !ok || p.server == "" {
		return false
	}
	cfg, err := clientcmd.LoadFromFile(file)
	if err != nil {
		return false
	}
	kctx := cfg.Contexts[p.Context()]
	if kctx == nil || cfg.Clusters[kctx.Cluster] == nil || cfg.AuthInfos[kctx.AuthInfo] == nil {
		return false
	}
	return cfg.Clusters[kctx.Cluster].Server == p.server
}

// kubeconfigHasContext reports the file kind writes to and whether it holds
// the cluster's context.
func (p *Provisioner) kubeconfigHasContext() (string, bool) {
	file := p.opts.Kubeconfig
	if file == "" {
		if env := filepath.SplitList(os.Getenv("KUBECONFIG")); len(env) > 0 && env[0] != "" {
			file = env[0]
		} else if home, err := os.UserHomeDir(); err == nil {
			file = filepath.Join(home, ".kube", "config")
		}
	}
	cfg, err := clientcmd.LoadFromFile(file)
	if err != nil {
		return file, false
	}
	_, ok := cfg.Contexts[p.Context()]
	return file, ok
}
