// Command coredns is the CoreDNS of the offline kind node image
// (scripts/kind-node/build.sh), linked with only the plugins the Corefile
// that kubeadm writes for the pinned Kubernetes names (the coredns
// ConfigMap in kube-system: errors, health, ready, kubernetes, prometheus,
// forward, cache, loop, reload, loadbalance).
//
// Upstream's own main imports github.com/coredns/coredns/core/plugin, which
// links every plugin CoreDNS ships, the cloud DNS backends (Route 53, Azure,
// Cloud DNS) and their SDKs included; that tripled the cold build. CoreDNS
// documents building a binary with a chosen plugin set from an external main
// that imports coremain and the wanted plugin packages: this is that main.
// Keep the version equal to what `kubeadm config images list` prints for the
// pinned Kubernetes (build.sh refuses a mismatch), and add a plugin here
// when kubeadm's Corefile starts naming one (a Corefile naming a plugin not
// linked fails at start with "unknown directive").
package main

import (
	"github.com/coredns/coredns/core/dnsserver"
	"github.com/coredns/coredns/coremain"

	// The plugins kubeadm's Corefile uses; importing one registers it.
	_ "github.com/coredns/coredns/plugin/cache"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/forward"
	_ "github.com/coredns/coredns/plugin/health"
	_ "github.com/coredns/coredns/plugin/kubernetes"
	_ "github.com/coredns/coredns/plugin/loadbalance"
	_ "github.com/coredns/coredns/plugin/loop"
	_ "github.com/coredns/coredns/plugin/metrics" // the "prometheus" directive
	_ "github.com/coredns/coredns/plugin/ready"
	_ "github.com/coredns/coredns/plugin/reload"
)

// linked names the directives of the plugins imported above.
var linked = map[string]bool{
	"cache": true, "errors": true, "forward": true, "health": true,
	"kubernetes": true, "loadbalance": true, "loop": true, "prometheus": true,
	"ready": true, "reload": true,
}

func init() {
	// dnsserver.Directives lists every upstream plugin in the order a
	// request passes through them (the order matters, so it is kept).
	// Narrowing it to what is linked makes a Corefile that names any other
	// plugin fail with "unknown directive" instead of silently skipping it.
	kept := dnsserver.Directives[:0:0]
	for _, d := range dnsserver.Directives {
		if linked[d] {
			kept = append(kept, d)
		}
	}
	dnsserver.Directives = kept
}

func main() { coremain.Run() }
