package verify

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/novadev/novadev/internal/catalog"
)

// Cluster is what a Kubernetes target adds to an Instance. When the
// instance passed to Checks implements it, the kind-only steps of the
// staging guide become checks too (Step 4's init containers, Step 5's
// in-cluster DNS, "check network policies"). internal/verify/kubecluster
// implements it for one namespace of a kubeconfig context.
type Cluster interface {
	// InitContainers returns the init containers of a service's pods.
	InitContainers(ctx context.Context, service string) ([]InitContainer, error)
	// ServiceDNSName is the in-cluster name of a service
	// (user-service.nova-staging.svc.cluster.local).
	ServiceDNSName(service string) string
	// LookupInCluster resolves a name from inside the cluster (a pod in
	// the namespace), as the guide's `kubectl run ... nslookup` does.
	LookupInCluster(ctx context.Context, name string) ([]string, error)
	// NetworkPolicies returns the names of the NetworkPolicies in the
	// namespace, as the kind renderer names them (overlay suffixes removed).
	NetworkPolicies(ctx context.Context) ([]string, error)
}

// InitContainer is one init container of one pod.
type InitContainer struct {
	Pod, Name string
	// Completed: terminated with exit code 0.
	Completed bool
	// Detail is its state when not completed (waiting: CrashLoopBackOff,
	// terminated: exit 1, ...).
	Detail string
}

// DefaultDenyPolicy and AllowPolicy are the NetworkPolicy names the kind
// renderer produces: one default deny, one allow-<workload> per pod
// workload.
const DefaultDenyPolicy = "default-deny"

// AllowPolicy returns the name of a workload's allow policy.
func AllowPolicy(workload string) string { return "allow-" + workload }

// ClusterChecks returns the Kubernetes-only checks: each service's init
// containers completed and its DNS name resolving in-cluster, and the
// NetworkPolicies present.
func ClusterChecks(c *catalog.Catalog, cl Cluster) []Check {
	var out []Check
	services := c.ActiveServices()
	for _, s := range services {
		// No Needs: a service that is not ready is what this check
		// explains (the init container still waiting names the missing
		// dependency), so it must not be blocked by the service's gate.
		out = append(out, Check{
			ID: s.Name + "/init-containers", Kind: KindInitContainers, Node: s.Name,
			What: "every init container of " + s.Name + "'s pods completed (it waited for its dependencies)",
			Run: func(ctx context.Context) (string, error) {
				ics, err := cl.InitContainers(ctx, s.Name)
				if err != nil {
					return "", err
				}
				// init containers run one after another: per pod, the
				// first not completed is the one holding it up; the rest
				// are only counted
				var bad []string
				held := map[string]int{} // pod -> its entry in bad
				more := map[string]int{}
				for _, ic := range ics {
					if ic.Completed {
						continue
					}
					if _, ok := held[ic.Pod]; ok {
						more[ic.Pod]++
						continue
					}
					held[ic.Pod] = len(bad)
					bad = append(bad, fmt.Sprintf("%s/%s: %s", ic.Pod, ic.Name, ic.Detail))
				}
				for pod, n := range more {
					bad[held[pod]] += fmt.Sprintf(" (%d more after it)", n)
				}
				if len(bad) > 0 {
					return "", errors.New("not completed: " + strings.Join(bad, "; "))
				}
				return fmt.Sprintf("%d init containers completed", len(ics)), nil
			},
		})
		out = append(out, Check{
			ID: s.Name + "/dns", Kind: KindServiceDNS, Node: s.Name, Needs: []string{s.Name},
			What: s.Name + "'s Service name resolves inside the cluster",
			Run: func(ctx context.Context) (string, error) {
				name := cl.ServiceDNSName(s.Name)
				addrs, err := cl.LookupInCluster(ctx, name)
				if err != nil {
					return "", fmt.Errorf("nslookup %s: %w", name, err)
				}
				if len(addrs) == 0 {
					return "", fmt.Errorf("nslookup %s: no addresses", name)
				}
				return name + " -> " + strings.Join(addrs, ", "), nil
			},
		})
	}
	want := []string{DefaultDenyPolicy}
	for _, s := range services {
		want = append(want, AllowPolicy(s.Name))
	}
	out = append(out, Check{
		ID: "network-policies/present", Kind: KindNetworkPolicies,
		What: fmt.Sprintf("%s and an allow policy for each of the %d services exist", DefaultDenyPolicy, len(services)),
		Run: func(ctx context.Context) (string, error) {
			have, err := cl.NetworkPolicies(ctx)
			if err != nil {
				return "", err
			}
			var missing []string
			for _, w := range want {
				if !slices.Contains(have, w) {
					missing = append(missing, w)
				}
			}
			if len(missing) > 0 {
				return "", errors.New("missing: " + strings.Join(missing, ", "))
			}
			return fmt.Sprintf("%d NetworkPolicies present", len(have)), nil
		},
	})
	return out
}
