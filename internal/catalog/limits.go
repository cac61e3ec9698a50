package catalog

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/distribution/reference"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation"
)

// Bounds on every count and quantity a catalog declares. They are checked
// during validation, before any renderer or the supervisor allocates per
// node, partition or replica, so `nodes: 2000000000` is one problem and
// not an out-of-memory crash.
const (
	// MaxRedisNodes bounds a Redis Cluster's masters (each gets a container
	// and a published port).
	MaxRedisNodes = 32
	// MaxPartitions bounds a Kafka topic's partitions.
	MaxPartitions = 1000
	// MaxReplicas bounds a service's replicas (kind).
	MaxReplicas = 100
	// MaxScale bounds an environment's resources.scale.
	MaxScale = 16
	// KafkaBrokers is how many brokers every target runs (one kfake broker
	// on Docker, one Kafka pod on kind): a topic's replication cannot be
	// above it.
	KafkaBrokers = 1
	// MaxBootstraps bounds the bootstraps list: finding a store's final
	// bootstraps is quadratic in them (Nova has 6).
	MaxBootstraps = 64
	// MaxTimeoutHours bounds readiness and bootstrap timeouts.
	MaxTimeoutHours = 24
)

// Linux's default ephemeral port range (net.ipv4.ip_local_port_range):
// outgoing connections take their source ports from it, so a host port
// published inside it collides at random (CI once found 36012 taken).
const (
	EphemeralPortMin = 32768
	EphemeralPortMax = 60999
)

// KindOverlays are the kind overlays an environment can be rendered as
// (Environment.KindOverlay); staging is rendered from the base catalog.
var KindOverlays = []string{"dev", "pr"}

var (
	maxCPU    = resource.MustParse("1024")
	maxMemory = resource.MustParse("16Ti")
	imageTag  = regexp.MustCompile(`^[\w][\w.-]{0,127}$`)
)

// validateDefaults checks defaults.ports, defaults.readiness and
// defaults.resources once, at their own positions: services inherit them
// and are not blamed for them.
func validateDefaults(c *Catalog, p *problems) {
	d := c.Defaults
	names := map[string]bool{}
	for i, pt := range d.Ports {
		pf := fmt.Sprintf("defaults.ports[%d]", i)
		if pt.Name == "" || !dnsLabel.MatchString(pt.Name) || len(pt.Name) > 15 {
			p.add(pt.PosOf("name"), pf+".name", "use a short lower-case name like grpc or metrics", "port name %q is not valid", pt.Name)
		}
		if names[pt.Name] {
			p.add(pt.PosOf("name"), pf+".name", "", "port %q is listed twice", pt.Name)
		}
		names[pt.Name] = true
		if pt.Port < 1 || pt.Port > 65535 {
			p.add(pt.PosOf("port"), pf+".port", "", "port %d out of range", pt.Port)
		}
		if _, set := pt.Keys["host"]; set {
			p.add(pt.PosOf("host"), pf+".host", "publish ports per service, each with its own host port", "a default port cannot have a host port: every service would publish the same one")
		}
	}
	if d.Readiness != nil {
		checkReadiness(p, d.Readiness, "defaults.readiness")
	}
	validateResources(d.Resources, "defaults", p)
}

// checkReadiness checks a readiness block's own fields (not its port,
// which depends on the service).
func checkReadiness(p *problems, r *Readiness, f string) {
	switch r.Type {
	case CheckGRPC, CheckTCP, "":
	case CheckHTTP:
		if !strings.HasPrefix(r.Path, "/") {
			p.add(r.PosOf("path"), f+".path", "e.g. /healthz", "an http check needs a path starting with /")
		}
	default:
		p.add(r.PosOf("type"), f+".type", suggest(r.Type, []string{CheckGRPC, CheckTCP, CheckHTTP}), "unknown readiness type %q (grpc, tcp or http)", r.Type)
	}
	checkTimeout(p, r.Node, f+".timeout", r.Timeout)
}

// checkTimeout refuses a written timeout that is not positive or is
// absurdly long.
func checkTimeout(p *problems, n Node, field string, d Duration) {
	if _, set := n.Keys["timeout"]; !set {
		return
	}
	if d.Duration <= 0 || d.Hours() > MaxTimeoutHours {
		p.add(n.PosOf("timeout"), field, "e.g. 30s or 2m", "timeout %s must be above 0 and at most %dh", d.Duration, MaxTimeoutHours)
	}
}

// validateImage checks an image reference the way Docker and Kubernetes
// parse it (github.com/distribution/reference): a bare repository
// (user-service) is fine, a reference with upper case, spaces or a bad
// tag is not.
func validateImage(p *problems, pos Pos, field, image string) {
	if _, err := reference.ParseNormalizedNamed(image); err != nil {
		hint := "e.g. postgres:15 or ghcr.io/org/name:tag"
		if image != strings.ToLower(image) {
			hint = fmt.Sprintf("repository names are lower case: %q", strings.ToLower(image))
		}
		p.add(pos, field, hint, "invalid image reference %q: %v", image, err)
	}
}

// validateImageSource checks images.registry and images.tag: together with a
// repository name they must make a valid reference.
func validateImageSource(p *problems, regPos Pos, regField, registry string, tagPos Pos, tagField, tag string) {
	if registry != "" {
		if _, err := reference.ParseNormalizedNamed(strings.TrimSuffix(registry, "/") + "/x"); err != nil {
			p.add(regPos, regField, "e.g. ghcr.io/org", "invalid registry %q: %v", registry, err)
		}
	}
	if tag != "" && !imageTag.MatchString(tag) {
		p.add(tagPos, tagField, "letters, digits, '_', '.' and '-', at most 128, not starting with '.' or '-'", "invalid image tag %q", tag)
	}
}

// validateLabels checks metadata.labels as Kubernetes does: every label is
// copied onto rendered objects, where a bad key or value is rejected.
func validateLabels(p *problems, m Metadata, field string) {
	for _, k := range sortedKeys(m.Labels) {
		if errs := validation.IsQualifiedName(k); len(errs) > 0 {
			p.add(m.PosOf("labels"), field+"."+k, "", "label key %q: %s", k, strings.Join(errs, "; "))
		}
		if errs := validation.IsValidLabelValue(m.Labels[k]); len(errs) > 0 {
			p.add(m.PosOf("labels"), field+"."+k, "", "label value %q: %s", m.Labels[k], strings.Join(errs, "; "))
		}
	}
}
