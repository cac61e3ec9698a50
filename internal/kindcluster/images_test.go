package kindcluster

import (
	"context"
	"errors"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// fakeEngine is an in-memory engine: images by name, pushes recorded into a
// fakeRegistry the way a real push makes the engine record a RepoDigest.
type fakeEngine struct {
	images     map[string]*Image // by name or tag
	reg        *fakeRegistry
	pushes     []string
	tags       []string
	containers map[string]*Container
	pushErr    error
	// noKindNetwork: kind has not made its network yet (no cluster ever)
	noKindNetwork bool
}

func (f *fakeEngine) ImageInspect(_ context.Context, ref string) (Image, error) {
	img, ok := f.images[ref]
	if !ok {
		return Image{}, ErrNotFound
	}
	return *img, nil
}

func (f *fakeEngine) ImageTag(_ context.Context, src, dst string) error {
	img, ok := f.images[src]
	if !ok {
		return ErrNotFound
	}
	f.images[dst] = img
	f.tags = append(f.tags, dst)
	return nil
}

// ImagePush stores a manifest whose digest is derived from the image ID, and
// records host/repo@digest on the image, as the engine does.
func (f *fakeEngine) ImagePush(_ context.Context, ref string) error {
	if f.pushErr != nil {
		return f.pushErr
	}
	img, ok := f.images[ref]
	if !ok {
		return ErrNotFound
	}
	f.pushes = append(f.pushes, ref)
	name, tag, _ := strings.Cut(strings.SplitN(ref, "/", 2)[1], ":")
	host := strings.SplitN(ref, "/", 2)[0]
	digest := "sha256:m" + strings.TrimPrefix(img.ID, "sha256:")
	f.reg.manifests[name+":"+tag] = digest
	img.RepoDigests = append(img.RepoDigests, host+"/"+name+"@"+digest)
	return nil
}

func (f *fakeEngine) ContainerInspect(_ context.Context, name string) (Container, error) {
	c, ok := f.containers[name]
	if !ok {
		return Container{}, ErrNotFound
	}
	return *c, nil
}

func (f *fakeEngine) ContainerCreate(_ context.Context, s ContainerSpec) (string, error) {
	f.containers[s.Name] = &Container{ID: "id-" + s.Name, Image: s.Image, Status: "created", Networks: []string{s.Network},
		HostPorts: []string{s.HostIP + ":" + strconv.Itoa(s.HostPort)}, Labels: s.Labels}
	return "id-" + s.Name, nil
}

func (f *fakeEngine) ContainerStart(_ context.Context, id string) error {
	for _, c := range f.containers {
		if c.ID == id {
			c.Running, c.Status = true, "running"
			return nil
		}
	}
	return ErrNotFound
}

func (f *fakeEngine) ContainerRemove(_ context.Context, id string) error {
	for n, c := range f.containers {
		if c.ID == id {
			delete(f.containers, n)
			return nil
		}
	}
	return ErrNotFound
}

func (f *fakeEngine) NetworkConnect(_ context.Context, network, id string) error {
	for _, c := range f.containers {
		if c.ID == id {
			c.Networks = append(c.Networks, network)
			return nil
		}
	}
	return ErrNotFound
}

func (f *fakeEngine) NetworkExists(_ context.Context, network string) (bool, error) {
	return network == KindNetwork && !f.noKindNetwork, nil
}

type fakeRegistry struct {
	manifests map[string]string // repo:tag -> digest
	down      bool
}

func (r *fakeRegistry) ManifestDigest(_ context.Context, repo, tag string) (string, error) {
	if r.down {
		return "", errors.New("connection refused")
	}
	d, ok := r.manifests[repo+":"+tag]
	if !ok {
		return "", ErrNotFound
	}
	return d, nil
}

func (r *fakeRegistry) ping(context.Context) error {
	if r.down {
		return errors.New("connection refused")
	}
	return nil
}

func newFakes(images ...string) (*fakeEngine, *fakeRegistry) {
	reg := &fakeRegistry{manifests: map[string]string{}}
	eng := &fakeEngine{images: map[string]*Image{}, reg: reg, containers: map[string]*Container{}}
	for i, name := range images {
		eng.images[name] = &Image{ID: "sha256:" + strings.Repeat(string(rune('a'+i)), 64)}
	}
	return eng, reg
}

var offline = []string{"novadev/postgres:15", "novadev/redis:7", "novadev/clickhouse:18.16", "novadev/kafka:kfake", "novadev/placeholder:dev", "novadev/novadev:dev"}

func TestLoadPushesOnlyWhatChanged(t *testing.T) {
	ctx := context.Background()
	eng, reg := newFakes(offline...)
	var lines []string
	progress := func(s string) { lines = append(lines, s) }

	r, err := load(ctx, eng, reg, "localhost:5005", offline, progress)
	if err != nil {
		t.Fatal(err)
	}
	if p, u := r.Counts(); p != 6 || u != 0 {
		t.Fatalf("first load: %d pushed, %d unchanged; want 6, 0: %v", p, u, r)
	}
	for _, p := range r {
		if p.Reason != "new" {
			t.Errorf("%s: reason %q, want new", p.Image, p.Reason)
		}
	}
	if eng.pushes[0] != "localhost:5005/novadev/postgres:15" {
		t.Errorf("first push %q, want localhost:5005/novadev/postgres:15", eng.pushes[0])
	}
	if lines[0] != "pushing novadev/postgres:15 (new)" {
		t.Errorf("progress %q", lines[0])
	}

	// Nothing changed: nothing is tagged or pushed.
	eng.pushes, eng.tags, lines = nil, nil, nil
	r, err = load(ctx, eng, reg, "localhost:5005", offline, progress)
	if err != nil {
		t.Fatal(err)
	}
	if p, u := r.Counts(); p != 0 || u != 6 || len(eng.pushes) != 0 || len(eng.tags) != 0 {
		t.Fatalf("second load: %d pushed, %d unchanged, pushes %v tags %v; want nothing pushed", p, u, eng.pushes, eng.tags)
	}
	if !strings.HasPrefix(lines[0], "novadev/postgres:15 unchanged (") {
		t.Errorf("progress %q", lines[0])
	}

	// A rebuilt image (new ID, no RepoDigests) is pushed again, alone.
	eng.images["novadev/placeholder:dev"] = &Image{ID: "sha256:" + strings.Repeat("z", 64)}
	r, err = load(ctx, eng, reg, "localhost:5005", offline, progress)
	if err != nil {
		t.Fatal(err)
	}
	if p, _ := r.Counts(); p != 1 || len(eng.pushes) != 1 || eng.pushes[0] != "localhost:5005/novadev/placeholder:dev" {
		t.Fatalf("after a rebuild: pushes %v, want only the placeholder", eng.pushes)
	}
	if r[4].Reason != "changed" {
		t.Errorf("rebuilt image: reason %q, want changed", r[4].Reason)
	}

	// Someone pushed other content under the tag: the digest differs, push.
	reg.manifests["novadev/redis:7"] = "sha256:other"
	eng.pushes = nil
	if _, err := load(ctx, eng, reg, "localhost:5005", offline, progress); err != nil {
		t.Fatal(err)
	}
	if len(eng.pushes) != 1 || eng.pushes[0] != "localhost:5005/novadev/redis:7" {
		t.Fatalf("after a foreign push: pushes %v, want only redis", eng.pushes)
	}

	// A new (empty) registry: everything is pushed again.
	reg.manifests = map[string]string{}
	eng.pushes = nil
	if _, err := load(ctx, eng, reg, "localhost:5005", offline, progress); err != nil {
		t.Fatal(err)
	}
	if len(eng.pushes) != 6 {
		t.Fatalf("after a registry reset: %d pushes, want 6", len(eng.pushes))
	}

	// The digest is compared per registry host: the same image in another
	// registry is not "unchanged" here.
	eng.pushes = nil
	if _, err := load(ctx, eng, &fakeRegistry{manifests: reg.manifests}, "localhost:5105", offline[:1], progress); err != nil {
		t.Fatal(err)
	}
	if len(eng.pushes) != 1 {
		t.Fatalf("another registry host: pushes %v, want 1", eng.pushes)
	}
}

func TestLoadErrorsSayWhatToDo(t *testing.T) {
	ctx := context.Background()
	eng, reg := newFakes("novadev/postgres:15")
	_, err := load(ctx, eng, reg, "localhost:5005", []string{"novadev/postgres:15", "novadev/missing:1"}, func(string) {})
	if err == nil || !strings.Contains(err.Error(), "novadev/missing:1 is not on the Docker engine") || !strings.Contains(err.Error(), "scripts/images/build.sh") {
		t.Errorf("missing image: %v", err)
	}
	reg.down = true
	if _, err := load(ctx, eng, reg, "localhost:5005", []string{"novadev/postgres:15"}, func(string) {}); err == nil || !strings.Contains(err.Error(), "asking the local registry localhost:5005") {
		t.Errorf("registry down: %v", err)
	}
	eng, reg = newFakes("novadev/postgres:15")
	eng.pushErr = errors.New("connection refused")
	if _, err := load(ctx, eng, reg, "localhost:5005", []string{"novadev/postgres:15"}, func(string) {}); err == nil || !strings.Contains(err.Error(), "novadev doctor --target kind") {
		t.Errorf("push failure: %v", err)
	}
	if _, err := load(ctx, eng, reg, "localhost:5005", []string{"postgres@sha256:" + strings.Repeat("0", 64)}, func(string) {}); err == nil || !strings.Contains(err.Error(), "pinned by digest") {
		t.Errorf("digest reference: %v", err)
	}
}

func TestLoadSkipsDuplicates(t *testing.T) {
	eng, reg := newFakes("novadev/placeholder:dev")
	r, err := load(context.Background(), eng, reg, "localhost:5005", []string{"novadev/placeholder:dev", "novadev/placeholder:dev"}, func(string) {})
	if err != nil {
		t.Fatal(err)
	}
	if len(r) != 1 || len(eng.pushes) != 1 {
		t.Fatalf("report %v pushes %v, want one of each", r, eng.pushes)
	}
}

func TestRegistryRef(t *testing.T) {
	for _, c := range []struct{ in, ref, repo, tag string }{
		{"novadev/postgres:15", "localhost:5005/novadev/postgres:15", "novadev/postgres", "15"},
		{"postgres:15", "localhost:5005/postgres:15", "postgres", "15"},
		{"docker.io/library/redis", "localhost:5005/redis:latest", "redis", "latest"},
		{"ghcr.io/nova-platform/user-service:pr", "localhost:5005/nova-platform/user-service:pr", "nova-platform/user-service", "pr"},
		{"localhost:5005/novadev/kafka:kfake", "localhost:5005/novadev/kafka:kfake", "novadev/kafka", "kfake"},
	} {
		ref, repo, tag, err := RegistryRef("localhost:5005", c.in)
		if err != nil || ref != c.ref || repo != c.repo || tag != c.tag {
			t.Errorf("RegistryRef(%q) = %q %q %q %v; want %q %q %q", c.in, ref, repo, tag, err, c.ref, c.repo, c.tag)
		}
	}
	if _, _, _, err := RegistryRef("localhost:5005", "Not An Image"); err == nil || !strings.Contains(err.Error(), `"Not An Image"`) {
		t.Errorf("bad name: %v", err)
	}
}

func FuzzRegistryRef(f *testing.F) {
	for _, s := range append(offline, "postgres", "ghcr.io/a/b:c", "a@sha256:"+strings.Repeat("0", 64), "", "::", "A/B") {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, image string) {
		ref, repo, tag, err := RegistryRef("localhost:5005", image)
		if err != nil {
			return
		}
		if ref != "localhost:5005/"+repo+":"+tag || repo == "" || tag == "" {
			t.Fatalf("RegistryRef(%q) = %q %q %q", image, ref, repo, tag)
		}
		// The result is itself a valid name that maps to itself.
		ref2, _, _, err := RegistryRef("localhost:5005", ref)
		if err != nil || ref2 != ref {
			t.Fatalf("RegistryRef(%q) = %q, not a fixed point (%q, %v)", image, ref, ref2, err)
		}
	})
}

// The offline node image's tag follows the Kubernetes version the node
// image's build pins (hack/kubernetes/go.mod).
func TestOfflineNodeImageFollowsThePin(t *testing.T) {
	b, err := os.ReadFile("../../hack/kubernetes/go.mod")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^require k8s.io/kubernetes (v\S+)$`).FindSubmatch(b)
	if m == nil {
		t.Fatal("hack/kubernetes/go.mod: no `require k8s.io/kubernetes vX` line")
	}
	if want := "novadev/kind-node:" + string(m[1]); OfflineNodeImage != want {
		t.Errorf("OfflineNodeImage = %s, want %s (scripts/kind-node/build.sh's tag)", OfflineNodeImage, want)
	}
}

// The committed dev overlay names every image as RegistryRef names what
// LoadImages pushes (the renderer spells the rule out on its own: it may not
// import this package).
func TestDevOverlayNamesWhatLoadImagesPushes(t *testing.T) {
	b, err := os.ReadFile("../../kind/overlays/dev/kustomization.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var k struct {
		Images []struct{ Name, NewName, NewTag string } `json:"images"`
	}
	if err := yaml.Unmarshal(b, &k); err != nil {
		t.Fatal(err)
	}
	if len(k.Images) == 0 {
		t.Fatal("kind/overlays/dev/kustomization.yaml: no images entries")
	}
	for _, img := range k.Images {
		local, ok := strings.CutPrefix(img.NewName, "localhost:5005/")
		if !ok {
			t.Errorf("dev image %s -> %s: not in the local registry", img.Name, img.NewName)
			continue
		}
		tag := img.NewTag
		if tag == "" {
			tag = "anytag" // the base's tag is kept
		}
		ref, _, _, err := RegistryRef("localhost:5005", local+":"+tag)
		if err != nil || ref != img.NewName+":"+tag {
			t.Errorf("dev image %s: the overlay pulls %s:%s, LoadImages pushes %s (%v)", img.Name, img.NewName, tag, ref, err)
		}
	}
}
