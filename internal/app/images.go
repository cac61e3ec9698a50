package app

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/novadev/novadev/internal/backend/docker"
	"github.com/novadev/novadev/internal/catalog"
	"github.com/novadev/novadev/internal/event"
	"github.com/novadev/novadev/internal/images"
	"github.com/novadev/novadev/internal/state"
	"github.com/novadev/novadev/internal/supervisor"
)

// EnvImageMirror names the registry mirror for this run
// (host[:port][/prefix]); it replaces the environment's images.mirror.
const EnvImageMirror = "NOVADEV_IMAGE_MIRROR"

// Image choice statuses (ImageChoice.Status).
const (
	ImagePulled   = "pulled"    // pulled from the registry (or mirror) now
	ImagePresent  = "present"   // the upstream image was on the engine already
	ImageFellBack = "fell back" // auto: the pull failed, the offline image runs
	ImageOffline  = "offline"   // the environment runs the offline image
	// ImageInUse: auto, the upstream image is absent and the store's running
	// containers already run its offline image; up keeps that without
	// trying the pull again (novadev pull does, and so does an up that has
	// to create the store's containers).
	ImageInUse   = "in use"
	ImageMissing = "missing" // neither could be had: up reports the node
)

// ImageChoice is what one store runs and why.
type ImageChoice struct {
	Store  string `json:"store"`
	Image  string `json:"image"`  // the reference the containers run
	Status string `json:"status"` // ImagePulled, ...
	// Upstream is the mirrored upstream reference that was tried ("" when
	// the environment pulls nothing for the store).
	Upstream string `json:"upstream,omitempty"`
	Digest   string `json:"digest,omitempty"` // the manifest digest when known
	Reason   string `json:"reason,omitempty"` // why it fell back or is missing
}

// ImagePolicy says what opening the docker backend does about store
// images (docs/images.md). Without one (status, down, doctor) nothing is
// pulled: auto runs what is on the engine, preferring the upstream image.
type ImagePolicy struct {
	// Pull pulls upstream images the engine lacks (up).
	Pull bool
	// Retry also pulls, under auto, for a store whose running containers
	// already run its offline image (novadev pull). Without it (up) such a
	// store keeps running that image: on a machine with no registry a
	// failed pull costs every up 4-50 ms per store where DNS fails at once
	// (measured here) and the registry's timeout where it does not, and
	// changes nothing when it fails.
	Retry bool
	// UpdateLock pulls every upstream tag again and records its digest in
	// the lock file (pull --update-lock).
	UpdateLock bool
	// Sink gets the pull progress and the summary.
	Sink event.Sink
	// Only limits pulling to the stores these nodes need (up --only):
	// images of stores that will not start are left alone.
	Only []string
	// Choices is filled with one entry per store that has an image.
	Choices []ImageChoice
}

// imageEngine is what resolving images needs of the engine (docker.Moby).
type imageEngine interface {
	ImageID(ctx context.Context, ref string) (string, error)
	Pull(ctx context.Context, ref string, fn func(docker.PullProgress)) error
	RepoDigest(ctx context.Context, ref string) (string, error)
	Observe(ctx context.Context, project string) (*state.Observed, error)
}

// LockFile is where the environment's images lock lives: images.lock
// beside the catalog, or the environment's images.lock (relative to the
// environment file).
func LockFile(c *catalog.Catalog) string {
	if c.Env != nil && c.Env.Images.Lock != "" {
		if filepath.IsAbs(c.Env.Images.Lock) || c.Env.File == "" {
			return c.Env.Images.Lock
		}
		return filepath.Join(filepath.Dir(c.Env.File), c.Env.Images.Lock)
	}
	return filepath.Join(filepath.Dir(c.File), images.FileName)
}

func readLock(path string) (images.Lock, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return images.Lock{}, nil
	}
	if err != nil {
		return nil, err
	}
	return images.Parse(path, data)
}

// resolveImages decides, per store, the image the docker backend runs:
// the upstream one (pinned by the lock when it has the tag) when it is on
// the engine or can be pulled; for auto, the offline image when the pull
// fails. It rewrites the stores' Pull in c before the compose project is
// built, so the containers are created from what was chosen.
func resolveImages(ctx context.Context, c *catalog.Catalog, eng imageEngine, pol *ImagePolicy) error {
	if pol == nil {
		pol = &ImagePolicy{}
	}
	sink := pol.Sink
	if sink == nil {
		sink = event.Discard
	}
	lockPath := LockFile(c)
	lock, err := readLock(lockPath)
	if err != nil {
		return err
	}
	lockChanged := false
	var failed []string
	running := runningImages(ctx, eng, c.Env.Project)
	var needed func(string) bool
	if len(pol.Only) > 0 {
		if sub, err := c.Graph().Subgraph(pol.Only...); err == nil {
			needed = func(n string) bool { _, ok := sub.Node(n); return ok }
		}
	}
	for _, name := range c.StoreNames() {
		st := c.Stores[name]
		if st.External || !c.Active(st.Profiles) || (needed != nil && !needed(name)) || c.Unavailable(name) != "" {
			continue // an unavailable store is not run: nothing to pull (catalog.Unavailable)
		}
		ch := ImageChoice{Store: name, Image: st.DockerImage(), Status: ImageOffline}
		if st.Pull == "" {
			if _, err := eng.ImageID(ctx, st.Image); err != nil {
				ch.Status, ch.Reason = ImageMissing, "not on the engine: build the offline set with make images (scripts/images/build.sh)"
			}
			pol.Choices = append(pol.Choices, ch)
			continue
		}
		ch.Upstream = st.Pull
		key, kerr := images.Canonical(st.UpstreamImage())
		target := st.Pull
		if dg := lock[key]; kerr == nil && dg != "" && !pol.UpdateLock {
			if pinned, err := images.Pin(st.Pull, dg); err == nil {
				target, ch.Digest = pinned, dg
			}
		}
		_, err := eng.ImageID(ctx, target)
		present := err == nil
		switch {
		case present && !pol.UpdateLock:
			ch.Status = ImagePresent
		case pol.Pull && !pol.UpdateLock && !pol.Retry && st.Fallback != "" && running()[name][st.Fallback]:
			ch.Status, ch.Reason = ImageInUse, target+" is not on the engine and the running containers use the offline image: novadev pull tries it again"
			st.FallBack()
		case pol.Pull || pol.UpdateLock:
			err = pullOne(ctx, eng, name, target, sink)
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if err == nil {
				ch.Status = ImagePulled
				if dg, derr := eng.RepoDigest(ctx, target); derr == nil {
					ch.Digest = dg
					if pol.UpdateLock && kerr == nil && lock[key] != dg {
						lock[key], lockChanged = dg, true
					}
				}
				break
			}
			ch.Reason = "pull " + target + ": " + strings.TrimPrefix(firstLineOf(err.Error()), "Error response from daemon: ")
			if st.Fallback == "" {
				ch.Status = ImageMissing
				failed = append(failed, name+" ("+ch.Reason+")")
				break
			}
			ch.Status = ImageFellBack
			sink.Emit(event.Event{Time: time.Now(), Type: event.ImageFallback, Node: name, Kind: string(catalog.KindStore),
				Detail: "using the offline image " + st.Fallback + ": " + ch.Reason})
			st.FallBack()
		default:
			// no pulling (status, down, doctor): run what up would have
			// left on the engine
			if st.Fallback != "" {
				ch.Status, ch.Reason = ImageOffline, target+" is not on the engine"
				if _, err := eng.ImageID(ctx, st.Fallback); err != nil {
					ch.Status, ch.Reason = ImageMissing, "neither "+target+" nor the offline "+st.Fallback+" is on the engine"
				}
				st.FallBack()
			} else {
				ch.Status, ch.Reason = ImageMissing, target+" is not on the engine: novadev pull"
			}
		}
		if ch.Status == ImagePulled || ch.Status == ImagePresent {
			st.Pull = target
		}
		ch.Image = st.DockerImage()
		pol.Choices = append(pol.Choices, ch)
	}
	if lockChanged {
		if err := os.WriteFile(lockPath, lock.Format(), 0o644); err != nil {
			return fmt.Errorf("writing the images lock: %w", err)
		}
		sink.Emit(event.Event{Time: time.Now(), Type: event.Note, Detail: "images lock written: " + lockPath})
	}
	if pol.Pull || pol.UpdateLock {
		sink.Emit(event.Event{Time: time.Now(), Type: event.Note, Detail: ImageSummary(pol.Choices)})
	}
	if c.Env.Images.Source == catalog.SourceUpstream && len(failed) > 0 && (pol.Pull || pol.UpdateLock) {
		return fmt.Errorf("--images upstream: %s could not be pulled: %s; --images auto falls back to the offline set where a store has one, or set %s to a registry mirror",
			fmt.Sprintf("%d store image(s)", len(failed)), strings.Join(failed, "; "), EnvImageMirror)
	}
	return nil
}

// runningImages returns a function listing, once and only when first
// called, the images the project's running containers use, per catalog
// node. An engine that cannot list them gives none: up then pulls as it
// would for a store with no containers.
func runningImages(ctx context.Context, eng imageEngine, project string) func() map[string]map[string]bool {
	var by map[string]map[string]bool
	return func() map[string]map[string]bool {
		if by != nil {
			return by
		}
		by = map[string]map[string]bool{}
		o, err := eng.Observe(ctx, project)
		if err != nil {
			return by
		}
		for _, ct := range o.Containers {
			if ct.State != state.Running || ct.Node == "" {
				continue
			}
			if by[ct.Node] == nil {
				by[ct.Node] = map[string]bool{}
			}
			by[ct.Node][ct.Image] = true
		}
		return by
	}
}

// ImageSummary is the one line saying where the stores' images came
// from: what was pulled, what was already there, what fell back and why.
func ImageSummary(choices []ImageChoice) string {
	by := map[string][]string{}
	for _, ch := range choices {
		item := ch.Store
		if ch.Status == ImageFellBack || ch.Status == ImageMissing {
			item += " (" + ch.Reason + ")"
		}
		by[ch.Status] = append(by[ch.Status], item)
	}
	var parts []string
	for _, st := range []string{ImagePulled, ImagePresent, ImageInUse, ImageFellBack, ImageOffline, ImageMissing} {
		if len(by[st]) > 0 {
			label := st
			switch st {
			case ImageFellBack:
				label = "fell back to offline"
			case ImageInUse:
				label = "offline image in use (not pulled again)"
			}
			parts = append(parts, fmt.Sprintf("%s %s", label, strings.Join(by[st], ", ")))
		}
	}
	if len(parts) == 0 {
		return "images: no store images"
	}
	return "images: " + strings.Join(parts, "; ")
}

// pullOne pulls ref, turning the engine's layer messages into Pulling
// events (one per layer state change, downloads at most once a second)
// and ending with Pulled.
func pullOne(ctx context.Context, eng imageEngine, node, ref string, sink event.Sink) error {
	start := time.Now()
	sink.Emit(event.Event{Time: start, Type: event.Pulling, Node: node, Kind: string(catalog.KindStore), Detail: ref})
	var mu sync.Mutex
	layers := map[string]string{}
	done := 0
	last := time.Time{}
	err := eng.Pull(ctx, ref, func(p docker.PullProgress) {
		mu.Lock()
		defer mu.Unlock()
		if p.Layer == "" || p.Layer == tagOf(ref) {
			return // the image-level lines ("Pulling from", "Digest: ...")
		}
		prev := layers[p.Layer]
		layers[p.Layer] = p.Status
		if p.Status == prev && time.Since(last) < time.Second {
			return
		}
		if p.Status == "Pull complete" || p.Status == "Already exists" {
			done++
		}
		last = time.Now()
		detail := fmt.Sprintf("%s: layer %s %s (%d of %d layers done)", ref, p.Layer, strings.ToLower(p.Status), done, len(layers))
		if p.Total > 0 {
			detail += fmt.Sprintf(", %.1f of %.1f MB", float64(p.Current)/1e6, float64(p.Total)/1e6)
		}
		sink.Emit(event.Event{Time: last, Type: event.Pulling, Node: node, Kind: string(catalog.KindStore), Detail: detail})
	})
	if err != nil {
		return err
	}
	sink.Emit(event.Event{Time: time.Now(), Type: event.Pulled, Node: node, Kind: string(catalog.KindStore), Detail: ref,
		Elapsed: event.Duration(time.Since(start))})
	return nil
}

func tagOf(ref string) string {
	if i := strings.LastIndexAny(ref, ":@"); i >= 0 && !strings.Contains(ref[i:], "/") {
		return ref[i+1:]
	}
	return ""
}

func firstLineOf(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}

// imageSourcesCheck is doctor's line saying where each store's image comes
// from, and what to do when a store has neither its upstream nor its
// offline image.
func imageSourcesCheck(c *catalog.Catalog, choices []ImageChoice) supervisor.Check {
	src := c.Env.Images.Source
	if src == "" {
		src = "as written (no images.source)"
	}
	head := "source " + src
	if c.Env.Images.Mirror != "" {
		head += ", mirror " + c.Env.Images.Mirror
	}
	var parts, missing []string
	for _, ch := range choices {
		p := ch.Store + ": " + ch.Image
		switch ch.Status {
		case ImagePresent:
			p += " (upstream, present)"
		case ImageOffline:
			if ch.Upstream != "" {
				p += " (offline set; up pulls " + ch.Upstream + " first)"
			} else {
				p += " (offline set, present)"
			}
		case ImageMissing:
			p += " (missing: " + ch.Reason + ")"
			missing = append(missing, ch.Store)
		default:
			p += " (" + ch.Status + ")"
		}
		parts = append(parts, p)
	}
	chk := supervisor.Check{OK: len(missing) == 0, Note: len(missing) == 0, What: "image sources", Detail: head + "; " + strings.Join(parts, "; ")}
	if len(missing) > 0 {
		chk.Fix = "no image for " + strings.Join(missing, ", ") + ": on Linux build the offline set with make images (scripts/images/build.sh); " +
			"elsewhere make the registry reachable (novadev --images upstream pull), or set " + EnvImageMirror + "=host[:port][/prefix] to a registry mirror"
	}
	return chk
}
