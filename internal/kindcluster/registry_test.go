package kindcluster

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/novadev/novadev/internal/state"
)

func newTestProvisioner(eng *fakeEngine, reg *fakeRegistry) (*Provisioner, *[]string) {
	var lines []string
	p := New(Options{Name: "nova", Engine: eng, Progress: func(s string) { lines = append(lines, s) }})
	p.reg = reg
	return p, &lines
}

func TestEnsureRegistryCreatesStartsAndConnects(t *testing.T) {
	ctx := context.Background()
	eng, reg := newFakes(DefaultRegistryImage)
	p, lines := newTestProvisioner(eng, reg)

	if err := p.ensureRegistry(ctx, KindNetwork); err != nil {
		t.Fatal(err)
	}
	c := eng.containers[DefaultRegistryName]
	if c == nil || !c.Running || c.Image != DefaultRegistryImage || !slices.Equal(c.HostPorts, []string{"127.0.0.1:5005"}) || !slices.Contains(c.Networks, KindNetwork) {
		t.Fatalf("registry container %+v: want running %s on 127.0.0.1:5005, network kind", c, DefaultRegistryImage)
	}
	if c.Labels[state.LabelManagedBy] != state.ManagedBy || c.Labels[state.LabelKindCluster] != "nova" {
		t.Errorf("labels %v", c.Labels)
	}
	if !strings.HasPrefix((*lines)[0], "creating registry novadev-registry (novadev/registry:3 on 127.0.0.1:5005") {
		t.Errorf("progress %q", (*lines)[0])
	}

	// Stopped and disconnected (docker network disconnect, or kind's
	// network recreated): started and connected again, not recreated.
	c.Running, c.Status, c.Networks = false, "exited", nil
	*lines = nil
	if err := p.ensureRegistry(ctx, KindNetwork); err != nil {
		t.Fatal(err)
	}
	if c2 := eng.containers[DefaultRegistryName]; c2 != c || !c.Running || !slices.Contains(c.Networks, KindNetwork) {
		t.Fatalf("after a stop: %+v", c2)
	}
	if len(*lines) != 2 || !strings.Contains((*lines)[0], "starting registry novadev-registry (was exited)") {
		t.Errorf("progress %q", *lines)
	}

	// Healthy: nothing to do, nothing said.
	*lines = nil
	if err := p.ensureRegistry(ctx, KindNetwork); err != nil || len(*lines) != 0 {
		t.Fatalf("healthy registry: %v %q", err, *lines)
	}
}

// Before kind has made its network (no cluster ever on this engine), the
// registry starts on Docker's default bridge, so the pushes can run while
// kind creates the cluster; asked for the kind network later, it is
// connected, not recreated.
func TestEnsureRegistryBeforeTheKindNetwork(t *testing.T) {
	ctx := context.Background()
	eng, reg := newFakes(DefaultRegistryImage)
	eng.noKindNetwork = true
	p, lines := newTestProvisioner(eng, reg)
	if err := p.ensureRegistry(ctx, DefaultBridge); err != nil {
		t.Fatal(err)
	}
	c := eng.containers[DefaultRegistryName]
	if c == nil || !c.Running || !slices.Equal(c.Networks, []string{DefaultBridge}) || !slices.Equal(c.HostPorts, []string{"127.0.0.1:5005"}) {
		t.Fatalf("registry container %+v: want running on bridge, 127.0.0.1:5005", c)
	}
	if !strings.Contains((*lines)[0], "network bridge)") {
		t.Errorf("progress %q", *lines)
	}
	// on the bridge it stays there while asked for the bridge
	*lines = nil
	if err := p.ensureRegistry(ctx, DefaultBridge); err != nil || len(*lines) != 0 {
		t.Fatalf("again on the bridge: %v %q", err, *lines)
	}
	eng.noKindNetwork = false
	if err := p.ensureRegistry(ctx, KindNetwork); err != nil {
		t.Fatal(err)
	}
	if c2 := eng.containers[DefaultRegistryName]; c2 != c || !slices.Equal(c.Networks, []string{DefaultBridge, KindNetwork}) {
		t.Fatalf("after kind made its network: %+v, want the same container on bridge and kind", c2)
	}
	if len(*lines) != 1 || !strings.Contains((*lines)[0], "connecting registry novadev-registry to network kind") {
		t.Errorf("progress %q", *lines)
	}
}

func TestEnsureRegistryRefusesWhatItCannotFix(t *testing.T) {
	ctx := context.Background()
	eng, reg := newFakes()
	p, _ := newTestProvisioner(eng, reg)
	if err := p.ensureRegistry(ctx, KindNetwork); err == nil || !strings.Contains(err.Error(), "scripts/images/build.sh registry") {
		t.Errorf("no registry image: %v", err)
	}
	// Ensure says so before it creates a cluster (the fake engine has no
	// kind behind it: reaching the cluster step would fail differently).
	if _, err := p.Ensure(ctx); err == nil || !strings.Contains(err.Error(), "scripts/images/build.sh registry") {
		t.Errorf("Ensure without a registry image: %v", err)
	}
	eng.containers[DefaultRegistryName] = &Container{ID: "x", Running: true, HostPorts: []string{"0.0.0.0:5000"}, Networks: []string{KindNetwork}}
	if err := p.ensureRegistry(ctx, KindNetwork); err == nil || !strings.Contains(err.Error(), "not 127.0.0.1:5005") || !strings.Contains(err.Error(), "docker rm -f novadev-registry") {
		t.Errorf("foreign container: %v", err)
	}
}

func TestOptionsDefaults(t *testing.T) {
	p := New(Options{Config: []byte("kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nname: nova\n")})
	if p.Name() != "nova" || p.Context() != "kind-nova" || p.RegistryHost() != "localhost:5005" || p.registryHostPort() != "127.0.0.1:5005" {
		t.Errorf("defaults: name %q context %q host %q published %q", p.Name(), p.Context(), p.RegistryHost(), p.registryHostPort())
	}
	p = New(Options{Name: "nova-k2", RegistryName: "novadev-registry-k2", RegistryPort: 5105, Config: []byte("name: nova")})
	if p.Name() != "nova-k2" || p.RegistryHost() != "localhost:5105" {
		t.Errorf("overrides: %q %q", p.Name(), p.RegistryHost())
	}
	if _, err := New(Options{Config: []byte("nodes: [")}).Ensure(context.Background()); err == nil || !strings.Contains(err.Error(), "no name") {
		t.Errorf("unnamed config: %v", err)
	}
}
