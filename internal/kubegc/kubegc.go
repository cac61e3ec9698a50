// Package kubegc lists and collects novadev instances on a Kubernetes
// cluster, where an instance is a namespace. It is what `novadev list` and
// `novadev gc` do on a cluster (--target kube --context NAME) and what the
// in-cluster janitor runs (`novadev gc --in-cluster`, a CronJob of the pr
// overlay).
//
// Two kinds of namespace are novadev's:
//
//   - an instance namespace (`novadev up --instance NAME` on a cluster):
//     labelled dev.novadev.managed-by=novadev, its expiry in the
//     dev.novadev.expires annotation (state.InstanceFromNamespace);
//   - a rendered pull-request namespace (kubectl apply -k kind/overlays/pr):
//     labelled novadev.io/ephemeral=true, its lifetime in
//     novadev.io/expires-after, counted from its creationTimestamp.
//
// RBAC cannot grant "delete namespaces with this label", so the janitor's
// ClusterRole allows deleting every namespace; this package is the guard
// that deletes only expired namespaces carrying one of those labels (and
// the pr overlay's ValidatingAdmissionPolicy is the server-side one).
package kubegc

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/novadev/novadev/internal/state"
)

// Namespaces is the part of client-go's typed NamespaceInterface that gc
// uses; corev1client.NamespaceInterface satisfies it.
type Namespaces interface {
	List(ctx context.Context, opts metav1.ListOptions) (*corev1.NamespaceList, error)
	Delete(ctx context.Context, name string, opts metav1.DeleteOptions) error
}

// Kinds of novadev namespace (Instance.Source).
const (
	// SourceInstance is a namespace `novadev up --instance` created.
	SourceInstance = "instance"
	// SourceEphemeral is a namespace of the rendered pr overlay.
	SourceEphemeral = "ephemeral"
)

// Instance is one novadev namespace on the cluster.
type Instance struct {
	state.InstanceRecord
	// Source is SourceInstance or SourceEphemeral.
	Source string
	// Terminating: a delete was accepted and the namespace controller is
	// removing what it holds.
	Terminating bool

	uid, resourceVersion string
}

// Report is what GC deleted (or, dry-run, would delete) and kept.
type Report struct {
	DryRun  bool
	Removed []Instance
	Kept    []Instance
	// LeftAlone says, per namespace, why a namespace that looked like
	// novadev's was not touched (unreadable labels, changed since listed).
	LeftAlone []string
}

// Cluster lists and collects the instances of one cluster.
type Cluster struct {
	ns Namespaces
	// where names the cluster in errors: "context kind-nova", InCluster.
	where string
}

// New returns a Cluster over ns; where names the cluster in errors, as
// "context kind-nova" (Where) or InCluster.
func New(ns Namespaces, where string) *Cluster { return &Cluster{ns: ns, where: where} }

// Selectors: one list per kind of novadev namespace. A namespace matching
// both is read as an instance.
var selectors = []struct{ source, selector string }{
	{SourceInstance, state.LabelManagedBy + "=" + state.ManagedBy},
	{SourceEphemeral, state.LabelEphemeral + "=true"},
}

// List returns every novadev namespace on the cluster, sorted by name, and
// one error per namespace whose labels or annotations do not parse (those
// are never deleted). The error is an *UnreachableError when the cluster
// cannot be reached and an *APIError when it refuses.
func (c *Cluster) List(ctx context.Context) ([]Instance, []error, error) {
	seen := map[string]bool{}
	var out []Instance
	var bad []error
	for _, s := range selectors {
		list, err := c.ns.List(ctx, metav1.ListOptions{LabelSelector: s.selector})
		if err != nil {
			return nil, nil, c.wrap(ctx, "list namespaces", err, true)
		}
		for i := range list.Items {
			ns := &list.Items[i]
			if seen[ns.Name] {
				continue
			}
			seen[ns.Name] = true
			in, err := read(ns)
			if err != nil {
				bad = append(bad, err)
				continue
			}
			if in != nil {
				out = append(out, *in)
			}
		}
	}
	slices.SortFunc(out, func(a, b Instance) int { return strings.Compare(a.Project, b.Project) })
	return out, bad, nil
}

// read turns a namespace into an instance; nil, nil when it carries neither
// label (a list that ignored its selector must not make gc delete it).
func read(ns *corev1.Namespace) (*Instance, error) {
	in := &Instance{Terminating: ns.DeletionTimestamp != nil || ns.Status.Phase == corev1.NamespaceTerminating,
		uid: string(ns.UID), resourceVersion: ns.ResourceVersion}
	switch {
	case ns.Labels[state.LabelManagedBy] == state.ManagedBy:
		r, err := state.InstanceFromNamespace(ns.Name, ns.Labels, ns.Annotations)
		if err != nil {
			return nil, err
		}
		if r.Created.IsZero() {
			r.Created = ns.CreationTimestamp.UTC()
		}
		in.InstanceRecord, in.Source = r, SourceInstance
	case ns.Labels[state.LabelEphemeral] == "true":
		v, ok := ns.Annotations[state.AnnotationExpiresAfter]
		if !ok {
			return nil, fmt.Errorf("namespace %s: labelled %s=true but has no annotation %s (a lifetime such as 72h)", ns.Name, state.LabelEphemeral, state.AnnotationExpiresAfter)
		}
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return nil, fmt.Errorf("namespace %s: annotation %s=%q: want a positive Go duration such as 72h", ns.Name, state.AnnotationExpiresAfter, v)
		}
		created := ns.CreationTimestamp.UTC()
		in.InstanceRecord = state.InstanceRecord{Target: "kube", Env: ns.Labels[state.LabelEnv], Instance: ns.Name, Project: ns.Name,
			Created: created, Expires: created.Add(d)}
		in.Source = SourceEphemeral
	default:
		return nil, nil
	}
	return in, nil
}

// GC deletes exactly the novadev namespaces whose expiry has passed at now;
// with dryRun it deletes nothing and reports what it would delete. Each
// delete is conditional on the namespace's UID and resourceVersion as
// listed, so a namespace whose expiry an `up` extended in between (or one
// replaced by a namespace of the same name) is left for the next gc. A
// namespace already terminating is reported as removed and not deleted
// again. One failed delete does not stop the others.
func (c *Cluster) GC(ctx context.Context, now time.Time, dryRun bool) (*Report, error) {
	list, bad, err := c.List(ctx)
	if err != nil {
		return nil, err
	}
	rep := &Report{DryRun: dryRun, Removed: []Instance{}, Kept: []Instance{}}
	for _, b := range bad {
		rep.LeftAlone = append(rep.LeftAlone, b.Error())
	}
	var errs []error
	for _, in := range list {
		if !in.Expired(now) {
			rep.Kept = append(rep.Kept, in)
			continue
		}
		if dryRun || in.Terminating {
			rep.Removed = append(rep.Removed, in)
			continue
		}
		err := c.ns.Delete(ctx, in.Project, metav1.DeleteOptions{Preconditions: in.preconditions()})
		switch {
		case err == nil, apierrors.IsNotFound(err):
			in.Terminating = true
			rep.Removed = append(rep.Removed, in)
		case apierrors.IsConflict(err):
			rep.LeftAlone = append(rep.LeftAlone, fmt.Sprintf("namespace %s: changed since it was listed (an up extended it?); the next gc decides again", in.Project))
		default:
			errs = append(errs, c.wrap(ctx, "delete namespace "+in.Project, err, false))
		}
	}
	return rep, errors.Join(errs...)
}

// preconditions make a delete apply only to the namespace as listed.
func (in Instance) preconditions() *metav1.Preconditions {
	p := &metav1.Preconditions{}
	if in.uid != "" {
		uid := types.UID(in.uid)
		p.UID = &uid
	}
	if in.resourceVersion != "" {
		rv := in.resourceVersion
		p.ResourceVersion = &rv
	}
	return p
}

// UnreachableError is a cluster that did not answer.
type UnreachableError struct {
	Where string
	Op    string
	Err   error
	// Untouched: the failed request came before any delete (the list).
	Untouched bool
}

func (e *UnreachableError) Error() string {
	what := ""
	if e.Untouched {
		what = "; nothing was deleted"
	}
	return fmt.Sprintf("%s: cannot reach the cluster (%s): %v%s. Check that it answers (kubectl %scluster-info) or pick another with --context", e.Op, e.Where, e.Err, what, kubectlFlag(e.Where))
}

func (e *UnreachableError) Unwrap() error { return e.Err }

// APIError is a cluster that answered with a refusal (Forbidden,
// Unauthorized, ...).
type APIError struct {
	Where string
	Op    string
	Err   error
}

func (e *APIError) Error() string {
	hint := ""
	if apierrors.IsForbidden(e.Err) {
		hint = " (gc needs list and delete on namespaces: the janitor's ClusterRole novadev-janitor grants them)"
	}
	return fmt.Sprintf("%s on the cluster (%s): %v%s", e.Op, e.Where, e.Err, hint)
}

func (e *APIError) Unwrap() error { return e.Err }

func (c *Cluster) wrap(ctx context.Context, op string, err error, untouched bool) error {
	var st apierrors.APIStatus
	switch {
	case errors.As(err, &st):
		return &APIError{Where: c.where, Op: op, Err: err}
	case ctx.Err() != nil:
		return err // interrupted: not the cluster's fault
	}
	return &UnreachableError{Where: c.where, Op: op, Err: err, Untouched: untouched}
}

// kubectlFlag is the kubectl flag naming the same cluster, for hints.
func kubectlFlag(where string) string {
	if name, ok := strings.CutPrefix(where, "context "); ok {
		return "--context " + name + " "
	}
	return ""
}
