package kindcluster

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/distribution/reference"
)

// ErrNotFound is what an Engine or Registry returns for a missing image,
// container or manifest.
var ErrNotFound = errors.New("not found")

// Image is what LoadImages needs to know about a local image.
type Image struct {
	// ID is the engine's image ID (sha256:...).
	ID string
	// RepoDigests are the manifest digests the engine recorded when it
	// pushed (or pulled) the image, as repository@sha256:...; a rebuilt
	// image has a new ID and none of the old image's digests.
	RepoDigests []string
}

// Engine is the part of the Docker engine the Provisioner uses: images for
// LoadImages, one container for the registry. Moby implements it; unit
// tests use a fake.
type Engine interface {
	ImageInspect(ctx context.Context, ref string) (Image, error)
	ImageTag(ctx context.Context, source, target string) error
	// ImagePush pushes ref and returns once the engine has finished.
	ImagePush(ctx context.Context, ref string) error

	ContainerInspect(ctx context.Context, name string) (Container, error)
	ContainerCreate(ctx context.Context, spec ContainerSpec) (string, error)
	ContainerStart(ctx context.Context, id string) error
	ContainerRemove(ctx context.Context, id string) error
	NetworkConnect(ctx context.Context, network, container string) error
	// NetworkExists reports whether the engine has a network of that name.
	NetworkExists(ctx context.Context, network string) (bool, error)
}

// Registry answers which manifest a repository's tag points at.
type Registry interface {
	// ManifestDigest is the digest of repo:tag's manifest, or ErrNotFound.
	ManifestDigest(ctx context.Context, repo, tag string) (string, error)
}

// Pushed says what LoadImages did with one image.
type Pushed struct {
	// Image is the name as given (novadev/postgres:15).
	Image string
	// Ref is its name in the registry (localhost:5005/novadev/postgres:15).
	Ref string
	// Pushed is false when the registry already held the local image's
	// manifest.
	Pushed bool
	// Reason is why it was pushed: "new" (the registry does not have the
	// tag) or "changed" (the registry's manifest is not the local image's).
	Reason string
}

// LoadReport is the outcome of Load, per image in the order given.
type LoadReport []Pushed

// Counts returns how many images were pushed and how many were unchanged.
func (r LoadReport) Counts() (pushed, unchanged int) {
	for _, p := range r {
		if p.Pushed {
			pushed++
		} else {
			unchanged++
		}
	}
	return pushed, unchanged
}

// RegistryRef is image's name in the local registry that host (as the
// engine and the cluster's containerd mirror know it, localhost:5005)
// serves: the repository path without its registry, so
// novadev/postgres:15 -> localhost:5005/novadev/postgres:15 and
// ghcr.io/nova-platform/user-service:pr ->
// localhost:5005/nova-platform/user-service:pr. An image without a tag gets
// latest; one pinned by digest cannot be re-tagged and is refused.
func RegistryRef(host, image string) (ref, repo, tag string, err error) {
	named, err := reference.ParseNormalizedNamed(image)
	if err != nil {
		return "", "", "", fmt.Errorf("image %q: %w", image, err)
	}
	if _, ok := named.(reference.Digested); ok {
		return "", "", "", fmt.Errorf("image %q is pinned by digest: tag it to load it into the local registry", image)
	}
	tag = "latest"
	if t, ok := named.(reference.Tagged); ok {
		tag = t.Tag()
	}
	repo = reference.Path(named)
	if reference.Domain(named) == "docker.io" {
		// The familiar form: postgres, not library/postgres, the name people
		// write and the kind overlay renders.
		repo = strings.TrimPrefix(repo, "library/")
	}
	return host + "/" + repo + ":" + tag, repo, tag, nil
}

// load pushes each image to the registry under RegistryRef(host, image)
// unless the registry's manifest for that tag is one the engine recorded for
// the local image (its RepoDigests hold host/repo@<that digest>): the digest
// is the registry's own name for the content, so an equal digest means the
// cluster would pull exactly the local image. A rebuilt image has a new ID
// and no digest for host/repo yet, so it is pushed; so is every image after
// the registry was recreated (404).
func load(ctx context.Context, eng Engine, reg Registry, host string, images []string, progress func(string)) (LoadReport, error) {
	var report LoadReport
	seen := map[string]bool{}
	for _, img := range images {
		if seen[img] {
			continue
		}
		seen[img] = true
		ref, repo, tag, err := RegistryRef(host, img)
		if err != nil {
			return report, err
		}
		local, err := eng.ImageInspect(ctx, img)
		if errors.Is(err, ErrNotFound) {
			return report, fmt.Errorf("image %s is not on the Docker engine: build it (scripts/images/build.sh builds the offline set) or pull it, then run again", img)
		}
		if err != nil {
			return report, fmt.Errorf("inspecting image %s: %w", img, err)
		}
		remote, err := reg.ManifestDigest(ctx, repo, tag)
		reason := "changed"
		switch {
		case errors.Is(err, ErrNotFound):
			reason = "new"
		case err != nil:
			return report, fmt.Errorf("asking the local registry %s for %s:%s: %w", host, repo, tag, err)
		case slices.Contains(local.RepoDigests, host+"/"+repo+"@"+remote):
			report = append(report, Pushed{Image: img, Ref: ref})
			progress(fmt.Sprintf("%s unchanged (%s)", img, short(remote)))
			continue
		}
		progress(fmt.Sprintf("pushing %s (%s)", img, reason))
		if err := eng.ImageTag(ctx, img, ref); err != nil {
			return report, fmt.Errorf("tagging %s as %s: %w", img, ref, err)
		}
		if err := eng.ImagePush(ctx, ref); err != nil {
			return report, fmt.Errorf("pushing %s: %w (is the registry up? novadev doctor --target kind)", ref, err)
		}
		report = append(report, Pushed{Image: img, Ref: ref, Pushed: true, Reason: reason})
	}
	return report, nil
}

// short is a digest's first 12 hex digits, for progress lines.
func short(digest string) string {
	d := strings.TrimPrefix(digest, "sha256:")
	if len(d) > 12 {
		d = d[:12]
	}
	return d
}
