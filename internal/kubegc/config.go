package kubegc

import (
	"fmt"
	"path/filepath"
	"time"

	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// InCluster names the cluster a pod runs in, in errors.
const InCluster = "in-cluster, the pod's ServiceAccount"

// RequestTimeout bounds every request: a cluster that does not answer makes
// gc fail in seconds rather than hang a CronJob or a CI step.
const RequestTimeout = 20 * time.Second

// Where names a kubeconfig context in errors ("context kind-nova"), as
// Cluster reports it.
func Where(context string) string {
	if context == "" {
		return "the kubeconfig's current context"
	}
	return "context " + context
}

// ForContext loads the client configuration of a kubeconfig context, the
// way kubectl does: kubeconfig is the value of $KUBECONFIG (a list of
// files), "" for ~/.kube/config; context "" is the current context.
func ForContext(kubeconfig, context string) (*rest.Config, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.Precedence = []string{clientcmd.RecommendedHomeFile}
	if kubeconfig != "" {
		rules.Precedence = filepath.SplitList(kubeconfig)
	}
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: context}).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("kubeconfig (%s): %w; `kubectl config get-contexts` lists the contexts", Where(context), err)
	}
	return cfg, nil
}

// ForInCluster is the configuration of a pod: its ServiceAccount token and
// the API server's in-cluster address.
func ForInCluster() (*rest.Config, error) {
	cfg, err := rest.InClusterConfig()
	if err != nil {
		return nil, fmt.Errorf("--in-cluster: %w (it works only in a pod; from outside use --target kube --context NAME)", err)
	}
	return cfg, nil
}

// Connect returns the Cluster that cfg reaches; where names it in errors.
func Connect(cfg *rest.Config, where string) (*Cluster, error) {
	cfg = rest.CopyConfig(cfg)
	if cfg.Timeout == 0 {
		cfg.Timeout = RequestTimeout
	}
	cs, err := corev1client.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("cluster (%s): %w", where, err)
	}
	return New(cs.Namespaces(), where), nil
}
