package docker

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/distribution/reference"
	"github.com/moby/moby/client"
)

// PullProgress is one progress message of a pull: a layer's status
// (Pulling fs layer, Downloading, Pull complete, ...) and its bytes.
type PullProgress struct {
	Layer          string
	Status         string
	Current, Total int64
}

// Pull pulls ref (a tag or a name@digest) and reports the engine's progress
// messages to fn as they arrive. The error is the registry's, as the engine
// reports it (unreachable registry, unknown manifest, refused credentials).
func (d *Moby) Pull(ctx context.Context, ref string, fn func(PullProgress)) error {
	resp, err := d.c.ImagePull(ctx, ref, client.ImagePullOptions{})
	if err != nil {
		return err
	}
	for m, err := range resp.JSONMessages(ctx) {
		if err != nil {
			return err
		}
		if m.Error != nil {
			return errors.New(m.Error.Message)
		}
		if fn != nil && m.Status != "" {
			p := PullProgress{Layer: m.ID, Status: m.Status}
			if m.Progress != nil {
				p.Current, p.Total = m.Progress.Current, m.Progress.Total
			}
			fn(p)
		}
	}
	return ctx.Err()
}

// RepoDigest returns the manifest digest (sha256:...) the engine recorded
// for ref's repository when it was pulled, or ErrNotFound when the image is
// absent or was never pulled from that repository (built or tagged here).
func (d *Moby) RepoDigest(ctx context.Context, ref string) (string, error) {
	named, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		return "", err
	}
	r, err := d.c.ImageInspect(ctx, ref)
	if err != nil {
		return "", notFound(err, "image "+ref)
	}
	for _, rd := range r.RepoDigests {
		repo, dg, ok := strings.Cut(rd, "@")
		if !ok {
			continue
		}
		if rn, err := reference.ParseNormalizedNamed(repo); err == nil && rn.Name() == named.Name() {
			return dg, nil
		}
	}
	return "", fmt.Errorf("image %s has no digest from %s: %w", ref, named.Name(), ErrNotFound)
}
