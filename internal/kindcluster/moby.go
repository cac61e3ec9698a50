package kindcluster

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
)

// Moby is the Engine on the Docker Engine's Go SDK, with API version
// negotiation (the 20.10 engines of CI speak 1.41).
type Moby struct{ c *client.Client }

// ConnectEngine connects to the engine the environment names (DOCKER_HOST).
func ConnectEngine(ctx context.Context) (*Moby, error) {
	c, err := client.New(client.FromEnv)
	if err != nil {
		return nil, fmt.Errorf("docker: %w", err)
	}
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := c.Ping(pctx, client.PingOptions{NegotiateAPIVersion: true}); err != nil {
		c.Close()
		return nil, fmt.Errorf("no Docker engine reachable (%v): kind runs its nodes as Docker containers; start Docker or set DOCKER_HOST", err)
	}
	return &Moby{c: c}, nil
}

// Close releases the client.
func (m *Moby) Close() error { return m.c.Close() }

func notFound(err error) error {
	if cerrdefs.IsNotFound(err) {
		return fmt.Errorf("%w: %v", ErrNotFound, err)
	}
	return err
}

// ImageInspect implements Engine.
func (m *Moby) ImageInspect(ctx context.Context, ref string) (Image, error) {
	r, err := m.c.ImageInspect(ctx, ref)
	if err != nil {
		return Image{}, notFound(err)
	}
	return Image{ID: r.ID, RepoDigests: r.RepoDigests}, nil
}

// ImageTag implements Engine.
func (m *Moby) ImageTag(ctx context.Context, source, target string) error {
	_, err := m.c.ImageTag(ctx, client.ImageTagOptions{Source: source, Target: target})
	return err
}

// ImagePush implements Engine. The local registry needs no credentials;
// the engine treats localhost registries as insecure (plain HTTP).
func (m *Moby) ImagePush(ctx context.Context, ref string) error {
	// Engines before 25 refuse a push without an X-Registry-Auth header
	// ("Bad parameters and missing X-Registry-Auth"): send empty credentials.
	r, err := m.c.ImagePush(ctx, ref, client.ImagePushOptions{RegistryAuth: base64.URLEncoding.EncodeToString([]byte("{}"))})
	if err != nil {
		return err
	}
	defer r.Close()
	// Errors of the push itself arrive in the message stream, not as the
	// HTTP status.
	for msg, err := range r.JSONMessages(ctx) {
		if err != nil {
			return err
		}
		if msg.Error != nil {
			return fmt.Errorf("%s", msg.Error.Message)
		}
	}
	return nil
}

// ContainerInspect implements Engine.
func (m *Moby) ContainerInspect(ctx context.Context, name string) (Container, error) {
	r, err := m.c.ContainerInspect(ctx, name, client.ContainerInspectOptions{})
	if err != nil {
		return Container{}, notFound(err)
	}
	c := r.Container
	out := Container{ID: c.ID}
	if c.Config != nil {
		out.Image, out.Labels = c.Config.Image, c.Config.Labels
	}
	if c.State != nil {
		out.Running, out.Status = c.State.Running, string(c.State.Status)
	}
	if c.NetworkSettings != nil {
		for n := range c.NetworkSettings.Networks {
			out.Networks = append(out.Networks, n)
		}
	}
	if c.HostConfig != nil {
		if port, ok := network.PortFrom(registryPort, network.TCP); ok {
			for _, b := range c.HostConfig.PortBindings[port] {
				ip := "0.0.0.0"
				if b.HostIP.IsValid() {
					ip = b.HostIP.String()
				}
				out.HostPorts = append(out.HostPorts, ip+":"+b.HostPort)
			}
		}
	}
	return out, nil
}

// ContainerCreate implements Engine: the container restarts with the engine
// (a laptop reboot keeps the registry next to the cluster, as kind's nodes).
func (m *Moby) ContainerCreate(ctx context.Context, s ContainerSpec) (string, error) {
	port, ok := network.PortFrom(uint16(s.ContainerPort), network.TCP)
	if !ok {
		return "", fmt.Errorf("bad container port %d", s.ContainerPort)
	}
	ip, err := netip.ParseAddr(s.HostIP)
	if err != nil {
		return "", fmt.Errorf("registry host IP %q: %w", s.HostIP, err)
	}
	cfg := &container.Config{Image: s.Image, Labels: s.Labels, ExposedPorts: network.PortSet{port: {}}}
	hc := &container.HostConfig{
		PortBindings:  network.PortMap{port: {{HostIP: ip, HostPort: strconv.Itoa(s.HostPort)}}},
		NetworkMode:   container.NetworkMode(s.Network),
		RestartPolicy: container.RestartPolicy{Name: container.RestartPolicyAlways},
	}
	nc := &network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{s.Network: {}}}
	r, err := m.c.ContainerCreate(ctx, client.ContainerCreateOptions{Name: s.Name, Config: cfg, HostConfig: hc, NetworkingConfig: nc})
	if err != nil {
		return "", notFound(err)
	}
	return r.ID, nil
}

// ContainerStart implements Engine.
func (m *Moby) ContainerStart(ctx context.Context, id string) error {
	_, err := m.c.ContainerStart(ctx, id, client.ContainerStartOptions{})
	return err
}

// ContainerRemove implements Engine (forced: a running registry goes too).
func (m *Moby) ContainerRemove(ctx context.Context, id string) error {
	_, err := m.c.ContainerRemove(ctx, id, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
	return notFound(err)
}

// NetworkConnect implements Engine.
func (m *Moby) NetworkConnect(ctx context.Context, net, id string) error {
	_, err := m.c.NetworkConnect(ctx, net, client.NetworkConnectOptions{Container: id})
	return err
}

// NetworkExists implements Engine.
func (m *Moby) NetworkExists(ctx context.Context, name string) (bool, error) {
	_, err := m.c.NetworkInspect(ctx, name, client.NetworkInspectOptions{})
	switch err := notFound(err); {
	case errors.Is(err, ErrNotFound):
		return false, nil
	case err != nil:
		return false, err
	}
	return true, nil
}
