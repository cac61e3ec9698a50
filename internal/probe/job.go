package probe

import (
	"context"
	"fmt"
	"os"
	"strings"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	batchclient "k8s.io/client-go/kubernetes/typed/batch/v1"
	"k8s.io/client-go/rest"

	"github.com/novadev/novadev/internal/state"
)

// BootstrapLabel marks the Job of a bootstrap in rendered kind manifests;
// `novadev wait job://<name>` finds the Job by it, so name suffixes added by
// overlays do not matter.
const BootstrapLabel = state.LabelBootstrap

// jobLister lists Jobs; the batch client implements it, tests fake it.
type jobLister interface {
	List(ctx context.Context, opts metav1.ListOptions) (*batchv1.JobList, error)
}

// jobCheck is ready when the Job labelled for a bootstrap has completed.
type jobCheck struct {
	name string
	jobs func() (jobLister, error)
}

func (c jobCheck) String() string {
	return "job " + c.name + " (label " + BootstrapLabel + "=" + c.name + ") to complete"
}

// Check implements Check.
func (c jobCheck) Check(ctx context.Context) (bool, error) {
	jobs, err := c.jobs()
	if err != nil {
		return false, err
	}
	list, err := jobs.List(ctx, metav1.ListOptions{LabelSelector: BootstrapLabel + "=" + c.name})
	if err != nil {
		return false, err
	}
	if len(list.Items) == 0 {
		return false, fmt.Errorf("no Job labelled %s=%s in this namespace yet", BootstrapLabel, c.name)
	}
	for _, j := range list.Items {
		for _, cond := range j.Status.Conditions {
			if cond.Status != corev1.ConditionTrue {
				continue
			}
			switch cond.Type {
			case batchv1.JobComplete:
				return true, nil
			case batchv1.JobFailed:
				return false, fmt.Errorf("Job %s failed: %s (see kubectl logs job/%s)", j.Name, cond.Message, j.Name)
			}
		}
	}
	return false, fmt.Errorf("Job %s has not completed yet (%d active, %d failed pods)", list.Items[0].Name, list.Items[0].Status.Active, list.Items[0].Status.Failed)
}

// inClusterJobs reads Jobs of the pod's own namespace with its
// ServiceAccount token.
func inClusterJobs() (jobLister, error) {
	cfg, err := rest.InClusterConfig()
	if err != nil {
		return nil, fmt.Errorf("job:// works inside a Kubernetes pod only: %w", err)
	}
	ns, err := os.ReadFile("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
	if err != nil {
		return nil, fmt.Errorf("reading the pod's namespace: %w", err)
	}
	cl, err := batchclient.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	return cl.Jobs(strings.TrimSpace(string(ns))), nil
}
