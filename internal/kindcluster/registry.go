package kindcluster

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/novadev/novadev/internal/state"
)

// KindNetwork is the Docker network kind puts its nodes on; the registry
// joins it so containerd on the node reaches it by container name.
const KindNetwork = "kind"

// DefaultBridge is Docker's default network, where the registry starts
// when kind's network does not exist yet (Provision connects it later).
const DefaultBridge = "bridge"

// registryPort is the port the registry listens on inside its container
// (the one the rendered containerd mirror names: http://novadev-registry:5000).
const registryPort = 5000

// Container is what the Provisioner needs to know about a container.
type Container struct {
	ID      string
	Image   string
	Running bool
	// Status is the engine's word for the state (running, exited, ...).
	Status string
	// Networks are the networks it is attached to.
	Networks []string
	// HostPorts are the host bindings of registryPort/tcp, as ip:port.
	HostPorts []string
	Labels    map[string]string
}

// ContainerSpec is the registry container to create.
type ContainerSpec struct {
	Name, Image   string
	Labels        map[string]string
	Network       string
	HostIP        string
	HostPort      int
	ContainerPort int
}

// ensureRegistry makes the registry container exist, run, sit on network
// (the kind network; Docker's default bridge before kind has made it) and
// publish host:port; it is created only when missing (its content lives in
// the container, so it survives `up` after `up`).
func (p *Provisioner) ensureRegistry(ctx context.Context, network string) error {
	o := p.opts
	c, err := p.eng.ContainerInspect(ctx, o.RegistryName)
	switch {
	case errors.Is(err, ErrNotFound):
		if _, err := p.eng.ImageInspect(ctx, o.RegistryImage); errors.Is(err, ErrNotFound) {
			return fmt.Errorf("registry image %s is not on the Docker engine: build it with scripts/images/build.sh registry (no registry needs to be reachable)", o.RegistryImage)
		} else if err != nil {
			return fmt.Errorf("inspecting registry image %s: %w", o.RegistryImage, err)
		}
		p.progress(fmt.Sprintf("creating registry %s (%s on %s, network %s)", o.RegistryName, o.RegistryImage, p.registryHostPort(), network))
		id, err := p.eng.ContainerCreate(ctx, ContainerSpec{
			Name: o.RegistryName, Image: o.RegistryImage,
			Labels:  map[string]string{state.LabelManagedBy: state.ManagedBy, state.LabelKindCluster: o.Name},
			Network: network, HostIP: o.RegistryHostIP, HostPort: o.RegistryPort, ContainerPort: registryPort,
		})
		if err != nil {
			return fmt.Errorf("creating registry container %s: %w", o.RegistryName, err)
		}
		if err := p.eng.ContainerStart(ctx, id); err != nil {
			return fmt.Errorf("starting registry container %s: %w (is %s free? novadev doctor --target kind)", o.RegistryName, err, p.registryHostPort())
		}
	case err != nil:
		return fmt.Errorf("inspecting registry container %s: %w", o.RegistryName, err)
	default:
		if want := p.registryHostPort(); !slices.Contains(c.HostPorts, want) {
			return fmt.Errorf("container %s exists but publishes %v, not %s: remove it (docker rm -f %s, or novadev down --cluster) or choose another registry name", o.RegistryName, c.HostPorts, want, o.RegistryName)
		}
		if !c.Running {
			p.progress(fmt.Sprintf("starting registry %s (was %s)", o.RegistryName, c.Status))
			if err := p.eng.ContainerStart(ctx, c.ID); err != nil {
				return fmt.Errorf("starting registry container %s: %w", o.RegistryName, err)
			}
		}
		if network == KindNetwork && !slices.Contains(c.Networks, KindNetwork) {
			p.progress(fmt.Sprintf("connecting registry %s to network %s", o.RegistryName, KindNetwork))
			if err := p.eng.NetworkConnect(ctx, KindNetwork, c.ID); err != nil {
				return fmt.Errorf("connecting %s to network %s: %w", o.RegistryName, KindNetwork, err)
			}
		}
	}
	return p.waitRegistry(ctx)
}

// registryPossible fails when the registry container is missing and its
// image too, so Ensure says so before it creates a cluster.
func (p *Provisioner) registryPossible(ctx context.Context) error {
	if _, err := p.eng.ContainerInspect(ctx, p.opts.RegistryName); !errors.Is(err, ErrNotFound) {
		return nil // exists (or cannot be asked: ensureRegistry reports it)
	}
	if _, err := p.eng.ImageInspect(ctx, p.opts.RegistryImage); errors.Is(err, ErrNotFound) {
		return fmt.Errorf("registry image %s is not on the Docker engine: build it with scripts/images/build.sh registry (no registry needs to be reachable)", p.opts.RegistryImage)
	}
	return nil
}

// waitRegistry waits until the registry answers its API root.
func (p *Provisioner) waitRegistry(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var last error
	for {
		if last = p.reg.ping(ctx); last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("registry %s on %s does not answer: %w (docker logs %s)", p.opts.RegistryName, p.registryHostPort(), last, p.opts.RegistryName)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func (p *Provisioner) registryHostPort() string {
	return p.opts.RegistryHostIP + ":" + strconv.Itoa(p.opts.RegistryPort)
}

// httpRegistry is the Registry API (distribution's /v2) over plain HTTP on
// the host port: the registry is published on loopback only.
type httpRegistry struct {
	base string // http://127.0.0.1:5005
	c    *http.Client
}

// manifestTypes are the manifest media types the Docker engine pushes
// (schema 2 from 20.10; OCI from the containerd image store) and their
// lists; asking for all of them makes the registry answer with the digest
// of what was stored, not of a conversion.
var manifestTypes = []string{
	"application/vnd.docker.distribution.manifest.v2+json",
	"application/vnd.docker.distribution.manifest.list.v2+json",
	"application/vnd.oci.image.manifest.v1+json",
	"application/vnd.oci.image.index.v1+json",
}

// ManifestDigest implements Registry with HEAD /v2/<repo>/manifests/<tag>.
func (r *httpRegistry) ManifestDigest(ctx context.Context, repo, tag string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodHead, r.base+"/v2/"+repo+"/manifests/"+tag, nil)
	if err != nil {
		return "", err
	}
	for _, t := range manifestTypes {
		req.Header.Add("Accept", t)
	}
	resp, err := r.c.Do(req)
	if err != nil {
		return "", err
	}
	resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return "", ErrNotFound
	case resp.StatusCode != http.StatusOK:
		return "", fmt.Errorf("HEAD %s: %s", req.URL, resp.Status)
	}
	d := resp.Header.Get("Docker-Content-Digest")
	if d == "" {
		return "", fmt.Errorf("HEAD %s: no Docker-Content-Digest header", req.URL)
	}
	return d, nil
}

// ping is GET /v2/ (the registry API's version check).
func (r *httpRegistry) ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.base+"/v2/", nil)
	if err != nil {
		return err
	}
	resp, err := r.c.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", req.URL, resp.Status)
	}
	return nil
}
