package catalog

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/distribution/reference"
)

// Image sources: where an environment's store images come from on the
// Docker target (images.source, novadev --images). docs/images.md.
const (
	// SourceUpstream pulls the images staging runs (the stores' upstream
	// references, through images.mirror when set) and never falls back.
	SourceUpstream = "upstream"
	// SourceOffline runs the offline image set (scripts/images/build.sh)
	// and never pulls.
	SourceOffline = "offline"
	// SourceAuto pulls the upstream image and, per image, falls back to the
	// store's offline image when the pull fails.
	SourceAuto = "auto"
)

// ImageSources lists the valid images.source values.
var ImageSources = []string{SourceAuto, SourceUpstream, SourceOffline}

// OfflineImage says ref is one of the offline image set: novadev/<name>
// with no registry host (scripts/images/build.sh builds them; no registry
// has them, so they are never pulled).
func OfflineImage(ref string) bool {
	first, _, ok := strings.Cut(ref, "/")
	return ok && first == "novadev"
}

// DockerImage is the image the Docker target runs for the store: the
// (mirrored, possibly digest-pinned) upstream reference when the
// environment pulls one, else Image.
func (st *Store) DockerImage() string {
	if st.Pull != "" {
		return st.Pull
	}
	return st.Image
}

// UpstreamImage is the upstream reference of the store as written (no
// mirror): upstream when set, else image unless that is an offline image.
// "" when the store has none.
func (st *Store) UpstreamImage() string {
	if st.Upstream != "" {
		return st.Upstream
	}
	if OfflineImage(st.base) {
		return ""
	}
	return st.base
}

// FallBack makes the store run its offline image (auto: its pull failed).
func (st *Store) FallBack() {
	st.Pull, st.Fallback = "", ""
}

// Mirror is a registry that serves pulls in place of the upstream
// registries (images.mirror, NOVADEV_IMAGE_MIRROR): host[:port][/prefix].
type Mirror struct {
	Host   string // host or host:port, as Docker names a registry
	Prefix string // path prepended to every repository, without slashes at either end
}

// String is the mirror as written: host[:port][/prefix].
func (m Mirror) String() string {
	if m.Prefix == "" {
		return m.Host
	}
	return m.Host + "/" + m.Prefix
}

// ParseMirror reads host[:port][/prefix]. The host must be one Docker
// reads as a registry (a dot, a port or localhost): "mirror/x" would
// otherwise mean docker.io/mirror/x.
func ParseMirror(s string) (Mirror, error) {
	if s == "" {
		return Mirror{}, fmt.Errorf("empty mirror: want host[:port][/prefix], e.g. mirror.corp:5000/dockerhub")
	}
	if i := strings.Index(s, "://"); i >= 0 {
		return Mirror{}, fmt.Errorf("mirror %q has a scheme: write %q (Docker talks HTTPS, or HTTP to loopback and insecure registries)", s, s[i+3:])
	}
	host, prefix, _ := strings.Cut(s, "/")
	if strings.HasSuffix(prefix, "/") || strings.Contains(prefix, "//") || (prefix == "" && strings.HasSuffix(s, "/")) {
		return Mirror{}, fmt.Errorf("mirror %q: empty path segment; write host[:port][/prefix] without a trailing slash", s)
	}
	name, port, hasPort := strings.Cut(host, ":")
	if hasPort {
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 || strconv.Itoa(n) != port {
			return Mirror{}, fmt.Errorf("mirror %q: port %q is not a number from 1 to 65535", s, port)
		}
	}
	if name == "" {
		return Mirror{}, fmt.Errorf("mirror %q: no host; want host[:port][/prefix]", s)
	}
	if !hasPort && !strings.Contains(name, ".") && name != "localhost" {
		return Mirror{}, fmt.Errorf("mirror %q: Docker would read %q as a Docker Hub user, not a registry: add a port or a domain (e.g. %s:5000)", s, name, name)
	}
	// the rewritten references must parse: check host and prefix with a
	// repository below them
	probe := s + "/library/x:1"
	named, err := reference.ParseNormalizedNamed(probe)
	if err != nil {
		return Mirror{}, fmt.Errorf("mirror %q: not a registry host and path (%v); want host[:port][/prefix], lower case", s, err)
	}
	if reference.Domain(named) != host {
		return Mirror{}, fmt.Errorf("mirror %q: %q is not read as a registry host", s, host)
	}
	return Mirror{Host: host, Prefix: prefix}, nil
}

// Rewrite names ref through the mirror: docker.io/library/postgres:15
// becomes host:port/prefix/library/postgres:15; an image of another
// registry keeps that registry as the first path segment
// (docker.elastic.co/elasticsearch/elasticsearch:8 becomes
// host:port/prefix/docker.elastic.co/elasticsearch/elasticsearch:8), so
// one mirror serves several upstreams without name clashes. The zero
// Mirror returns ref unchanged.
func (m Mirror) Rewrite(ref string) (string, error) {
	if m.Host == "" {
		return ref, nil
	}
	named, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		return "", fmt.Errorf("image %q: %w", ref, err)
	}
	path := reference.Path(named)
	if d := reference.Domain(named); d != "docker.io" {
		path = d + "/" + path
	}
	out := m.Host + "/"
	if m.Prefix != "" {
		out += m.Prefix + "/"
	}
	out += path
	if t, ok := named.(reference.Tagged); ok {
		out += ":" + t.Tag()
	}
	if d, ok := named.(reference.Digested); ok {
		out += "@" + d.Digest().String()
	}
	if _, err := reference.ParseNormalizedNamed(out); err != nil {
		return "", fmt.Errorf("image %q through mirror %s: %w", ref, m, err)
	}
	return out, nil
}

// CanonicalImage is ref fully qualified (docker.io/library/postgres:15):
// the key of the images lock file, whatever mirror pulls it.
func CanonicalImage(ref string) (string, error) {
	named, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		return "", err
	}
	return reference.TagNameOnly(named).String(), nil
}

// resolveImages sets what each store runs on the Docker target for the
// environment's images.source (applyEnv, after the store overrides):
// Image becomes the store's offline image where it has one (what kind's
// dev overlay and the offline set run), Pull the mirrored upstream
// reference for upstream and auto, Fallback the offline image for auto.
// An environment without images.source keeps Image as it is and pulls
// nothing (the behaviour before image sources existed).
func resolveImages(c *Catalog, env *Environment, p *problems) {
	src := env.Images.Source
	if src == "" {
		return
	}
	var m Mirror
	if env.Images.Mirror != "" {
		var err error
		if m, err = ParseMirror(env.Images.Mirror); err != nil {
			return // reported by validateEnv
		}
	}
	for _, name := range c.StoreNames() {
		st := c.Stores[name]
		if st.External {
			continue
		}
		if _, overridden := env.Images.Stores[name]; !overridden && st.Offline != "" {
			st.Image = st.Offline
		}
		up := st.UpstreamImage()
		if src == SourceOffline || up == "" {
			continue
		}
		ref, err := m.Rewrite(up)
		if err != nil {
			p.add(st.PosOf("image"), "stores."+name+".image", "", "%v", err)
			continue
		}
		st.Pull = ref
		if src == SourceAuto && st.Image != up && st.Image != ref {
			st.Fallback = st.Image
		}
	}
}

// validateEnvImages checks images.source and images.mirror.
func validateEnvImages(p *problems, env *Environment) {
	im := env.Images
	if im.Source != "" && !contains(ImageSources, im.Source) {
		p.add(im.PosOf("source"), "images.source", suggest(im.Source, ImageSources), "unknown image source %q (one of %s)", im.Source, strings.Join(ImageSources, ", "))
	}
	if im.Mirror != "" {
		if _, err := ParseMirror(im.Mirror); err != nil {
			p.add(im.PosOf("mirror"), "images.mirror", "host[:port][/prefix], e.g. mirror.corp:5000/dockerhub", "%v", err)
		}
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
