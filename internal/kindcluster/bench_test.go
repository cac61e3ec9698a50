package kindcluster

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
)

// kindCLI is the kind binary scripts/kind-node/smoke.sh builds (the version
// go.mod pins), or $NOVADEV_KIND; "" when neither exists.
func kindCLI(t testing.TB) string {
	if p := os.Getenv("NOVADEV_KIND"); p != "" {
		return p
	}
	b, err := os.ReadFile("../../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^\s*sigs\.k8s\.io/kind (v\S+)`).FindSubmatch(b)
	if m == nil {
		return ""
	}
	cache := os.Getenv("NOVADEV_CACHE")
	if cache == "" {
		home, _ := os.UserHomeDir()
		cache = filepath.Join(home, ".cache", "novadev")
	}
	p := filepath.Join(cache, "bin", "kind-"+string(m[1]), "kind")
	if _, err := os.Stat(p); err != nil {
		return ""
	}
	return p
}

// BenchmarkKindImages measures, on one cluster of its own (nova-k2), the
// ways the six offline images reach the node:
//
//	push-cold:      LoadImages into an empty registry (every image pushed)
//	push-warm:      LoadImages with nothing changed (six manifest HEADs)
//	node-pull-cold: the node's containerd pulling the six through the
//	                mirror on a fresh node (what the first pods do after a
//	                push-cold)
//	kind-load-cold: `kind load docker-image` of the six, their names removed
//	                from the node first (docker save, then ctr import)
//	kind-load-warm: the same, all six already on the node (kind skips them)
//
// The order matters: node-pull-cold runs on the fresh node (containerd may
// keep content and snapshots for a while after crictl rmi, which would make
// a second "cold" pull look cheap); kind-load-cold streams the whole docker
// save whatever the node holds.
//
// It skips without the machinery (the integration test's rule) and deletes
// the cluster afterwards. One iteration of each is minutes on a loaded
// 2-core machine: run it with -benchtime 1x.
func BenchmarkKindImages(b *testing.B) {
	eng := integration(b, offline...)
	p, _, _ := newTestCluster(b, eng)
	p.opts.Progress = func(string) {}
	ctx := context.Background()
	if err := p.Delete(ctx); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = p.Delete(context.Background()) })
	if _, err := p.Ensure(ctx); err != nil {
		b.Fatal(err)
	}
	node := testCluster + "-control-plane"
	inNode := func(b *testing.B, args ...string) {
		b.Helper()
		if out, err := exec.Command("docker", append([]string{"exec", node}, args...)...).CombinedOutput(); err != nil {
			b.Fatalf("docker exec %s %v: %v\n%s", node, args, err, out)
		}
	}
	// Every name the six have on the node (kind load's docker.io/... and
	// the registry's), removed before a cold step so it must transfer:
	// kind load re-tags instead of loading an image ID the node already has.
	var names []string
	for _, img := range offline {
		r, _, _, _ := RegistryRef(p.RegistryHost(), img)
		names = append(names, r, "docker.io/"+img)
	}
	forget := func() {
		for _, n := range names {
			_ = exec.Command("docker", "exec", node, "crictl", "rmi", n).Run()
		}
	}
	kind := kindCLI(b)
	kindLoad := func(b *testing.B) {
		if out, err := exec.Command(kind, append([]string{"load", "docker-image", "--name", testCluster}, offline...)...).CombinedOutput(); err != nil {
			b.Fatalf("kind load: %v\n%s", err, out)
		}
	}
	b.Run("push-cold", func(b *testing.B) {
		for b.Loop() {
			b.StopTimer()
			c, err := eng.ContainerInspect(ctx, testRegistry)
			if err != nil {
				b.Fatal(err)
			}
			if err := eng.ContainerRemove(ctx, c.ID); err != nil {
				b.Fatal(err)
			}
			if err := p.ensureRegistry(ctx, KindNetwork); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
			r, err := p.Load(ctx, offline)
			if pushed, _ := r.Counts(); err != nil || pushed != len(offline) {
				b.Fatalf("push-cold: %v %v", r, err)
			}
		}
	})
	b.Run("push-warm", func(b *testing.B) {
		for b.Loop() {
			r, err := p.Load(ctx, offline)
			if pushed, _ := r.Counts(); err != nil || pushed != 0 {
				b.Fatalf("push-warm: %v %v", r, err)
			}
		}
	})
	b.Run("node-pull-cold", func(b *testing.B) {
		for b.Loop() {
			b.StopTimer()
			forget() // a no-op on the first (fresh node) iteration
			b.StartTimer()
			for _, img := range offline {
				r, _, _, _ := RegistryRef(p.RegistryHost(), img)
				inNode(b, "crictl", "pull", r)
			}
		}
	})
	b.Run("kind-load-cold", func(b *testing.B) {
		if kind == "" {
			b.Skip("no kind CLI (scripts/kind-node/smoke.sh builds it; or set NOVADEV_KIND)")
		}
		for b.Loop() {
			b.StopTimer()
			forget()
			b.StartTimer()
			kindLoad(b)
		}
	})
	b.Run("kind-load-warm", func(b *testing.B) {
		if kind == "" {
			b.Skip("no kind CLI")
		}
		kindLoad(b) // the images are on the node
		for b.Loop() {
			kindLoad(b)
		}
	})
}
