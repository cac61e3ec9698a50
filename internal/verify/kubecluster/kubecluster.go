// Package kubecluster lets `novadev verify` check a Nova environment that
// runs in one namespace of a Kubernetes cluster (kind or any cluster a
// kubeconfig names), from outside the cluster, with client-go only.
//
// An Instance is both a verify.Instance and a verify.Cluster:
//
//   - the data-layer checks (PostgreSQL logins, _sqlx_migrations, Redis
//     Cluster, Kafka topics, ClickHouse tables, gRPC health and reflection,
//     /metrics) reach the pods through API-server port-forwards that
//     Address opens on 127.0.0.1 (internal/kubeforward, the backend's
//     forwarder too: each connection goes to the node's Ready pod of that
//     moment), and Dial maps the in-cluster names the
//     stores advertise (kafka:9092, redis-1.redis:7001) to port-forwards;
//   - node states come from the workloads the kind renderer writes (a
//     Deployment per service, a StatefulSet per store, a Job per bootstrap,
//     each found by its app / novadev.io/bootstrap label);
//   - credentials come from the nova-db-credentials Secret;
//   - the kind-only checks read init container statuses and
//     NetworkPolicies, and resolve service names inside the cluster by
//     exec'ing getent in a running pod of the namespace.
//
// It imports no backend: whichever backend brought the environment up, the
// checks see the cluster as a user with kubectl would.
package kubecluster

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/novadev/novadev/internal/catalog"
	"github.com/novadev/novadev/internal/contract"
	"github.com/novadev/novadev/internal/kubeforward"
	"github.com/novadev/novadev/internal/state"
	"github.com/novadev/novadev/internal/verify"
)

// Options say which environment to verify.
type Options struct {
	// Kubeconfig is the kubeconfig file; empty means the usual rules
	// (KUBECONFIG, then ~/.kube/config). Only Open reads it.
	Kubeconfig string
	// Context is the kubeconfig context (kind-nova); empty means the
	// current one. Only Open reads it.
	Context string
	// Namespace is where the environment runs (nova-local for the dev
	// overlay). Required.
	Namespace string
	// NameSuffix is a kustomize nameSuffix the overlay adds to every
	// object name, if any; NetworkPolicy and Service names are reported
	// and built without it, as the renderer names them.
	NameSuffix string
	// ClusterDomain is the cluster's DNS domain (default cluster.local).
	ClusterDomain string
	// Name is the instance name in reports (default: the namespace).
	Name string
}

// Instance is one environment in one namespace, seen from outside the
// cluster. It implements verify.Instance and verify.Cluster. Close stops
// its port-forwards.
type Instance struct {
	c   *catalog.Catalog
	cfg *rest.Config // nil in unit tests: no port-forward or exec
	cs  kubernetes.Interface
	o   Options

	fwd *kubeforward.Forwarder // nil without cfg

	mu sync.Mutex
	// lookupPod is the pod whose getent answered last (reused: every
	// pod of the namespace resolves the same names).
	lookupPod string
	// exec runs a command in a pod (remotecommand; replaced in tests).
	exec func(ctx context.Context, pod, container string, cmd []string) (stdout, stderr string, err error)
}

var (
	_ verify.Instance  = (*Instance)(nil)
	_ verify.Cluster   = (*Instance)(nil)
	_ verify.Explainer = (*Instance)(nil)
)

// Open loads the kubeconfig (o.Kubeconfig, o.Context) and returns the
// instance of c in o.Namespace.
func Open(c *catalog.Catalog, o Options) (*Instance, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	if o.Kubeconfig != "" {
		rules.ExplicitPath = o.Kubeconfig
	}
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: o.Context}).ClientConfig()
	if err != nil {
		where := "the current context"
		if o.Context != "" {
			where = "context " + o.Context
		}
		return nil, fmt.Errorf("kubeconfig %s: %w (kind get kubeconfig --name <cluster> writes one)", where, err)
	}
	return New(c, cfg, o)
}

// New returns the instance of c in o.Namespace of the cluster cfg reaches.
func New(c *catalog.Catalog, cfg *rest.Config, o Options) (*Instance, error) {
	cfg = rest.CopyConfig(cfg)
	// verify runs its checks in parallel; client-go's default of 5 QPS
	// would serialise them behind its rate limiter
	cfg.QPS, cfg.Burst = 50, 100
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	i, err := newInstance(c, cs, o)
	if err != nil {
		return nil, err
	}
	i.cfg = cfg
	i.fwd = kubeforward.New(cfg, cs, i.o.Namespace)
	i.exec = i.remoteExec
	return i, nil
}

// NewClientset is New over a clientset without a REST config, for tests
// over client-go's fake clientset: the API reads work, port-forwards and
// in-cluster lookups answer an error.
func NewClientset(c *catalog.Catalog, cs kubernetes.Interface, o Options) (*Instance, error) {
	return newInstance(c, cs, o)
}

// newInstance is New without a REST config (unit tests pass a fake
// clientset).
func newInstance(c *catalog.Catalog, cs kubernetes.Interface, o Options) (*Instance, error) {
	if o.Namespace == "" {
		return nil, errors.New("kubecluster: no namespace (the overlay's namespace, e.g. nova-local)")
	}
	if o.ClusterDomain == "" {
		o.ClusterDomain = "cluster.local"
	}
	if o.Name == "" {
		o.Name = o.Namespace
	}
	return &Instance{c: c, cs: cs, o: o}, nil
}

// Name is the instance name for reports (the namespace unless set).
func (i *Instance) Name() string { return i.o.Name }

// Namespace is the namespace the instance runs in.
func (i *Instance) Namespace() string { return i.o.Namespace }

// Pods counts the pods of the environment in the namespace (those with
// the renderer's app label, whatever their state): none means nothing of
// it was applied there.
func (i *Instance) Pods(ctx context.Context) (int, error) {
	list, err := i.cs.CoreV1().Pods(i.o.Namespace).List(ctx, metav1.ListOptions{LabelSelector: state.LabelApp})
	if err != nil {
		return 0, fmt.Errorf("list pods in namespace %s: %w", i.o.Namespace, err)
	}
	return len(list.Items), nil
}

// Catalog is the catalog and environment the instance runs.
func (i *Instance) Catalog() *catalog.Catalog { return i.c }

// Close stops every port-forward the instance opened.
func (i *Instance) Close() error {
	if i.fwd != nil {
		i.fwd.Close()
	}
	return nil
}

// objectName is the name of a rendered object in this namespace (the
// overlay's name suffix added).
func (i *Instance) objectName(name string) string { return name + i.o.NameSuffix }

// renderedName removes the overlay's name suffix.
func (i *Instance) renderedName(name string) string {
	if i.o.NameSuffix == "" {
		return name
	}
	return strings.TrimSuffix(name, i.o.NameSuffix)
}

// Credential returns a secret value by its variable name (the key in the
// nova-db-credentials Secret). The dev and pr overlays generate that
// Secret with a hash suffix (nova-db-credentials-<hash>); when several
// generations exist, the newest wins, as the pods were rolled to it.
func (i *Instance) Credential(name string) (string, error) {
	// Credential has no context (verify's interface): bound the API call
	ctx, cancel := context.WithTimeout(context.Background(), forwardTimeout)
	defer cancel()
	secrets, err := i.credentialSecrets(ctx)
	if err != nil {
		return "", err
	}
	if len(secrets) == 0 {
		return "", fmt.Errorf("credential %s: no Secret %s in namespace %s (the overlay generates it from credentials.env: novadev render kind writes that file)",
			name, contract.CredentialsSecret, i.o.Namespace)
	}
	for _, s := range secrets {
		if v, ok := s.Data[name]; ok && len(v) > 0 {
			return string(v), nil
		}
	}
	return "", fmt.Errorf("credential %s: not a key of Secret %s in namespace %s", name, secrets[0].Name, i.o.Namespace)
}

// credentialSecrets returns the credentials Secrets of the namespace,
// newest first.
func (i *Instance) credentialSecrets(ctx context.Context) ([]corev1.Secret, error) {
	list, err := i.cs.CoreV1().Secrets(i.o.Namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("list Secrets in %s: %w", i.o.Namespace, err)
	}
	base := i.objectName(contract.CredentialsSecret)
	var out []corev1.Secret
	for _, s := range list.Items {
		if s.Name == base || isGeneratedName(s.Name, contract.CredentialsSecret, i.o.NameSuffix) {
			out = append(out, s)
		}
	}
	slices.SortStableFunc(out, func(a, b corev1.Secret) int {
		return b.CreationTimestamp.Compare(a.CreationTimestamp.Time)
	})
	return out, nil
}

// isGeneratedName reports whether name is what kustomize's generators make
// of base: base, the suffix, then "-" and a 10-character hash.
func isGeneratedName(name, base, suffix string) bool {
	rest, ok := strings.CutPrefix(name, base+suffix+"-")
	if !ok || len(rest) != 10 {
		return false
	}
	for _, r := range rest {
		if (r < 'a' || r > 'z') && (r < '0' || r > '9') {
			return false
		}
	}
	return true
}
