package kubegc

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"

	"github.com/novadev/novadev/internal/state"
)

var t0 = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

// fakeNamespaces is a namespace store; ignoreSelector makes List return
// everything, as a broken or hostile server might.
type fakeNamespaces struct {
	items          []corev1.Namespace
	ignoreSelector bool
	listErr        error
	deleteErr      map[string]error
	deleted        []string
}

func (f *fakeNamespaces) List(_ context.Context, o metav1.ListOptions) (*corev1.NamespaceList, error) {
	if f.listErr != nil {
		return nil, f.listErr
	}
	sel, err := labels.Parse(o.LabelSelector)
	if err != nil {
		return nil, err
	}
	out := &corev1.NamespaceList{}
	for _, ns := range f.items {
		if f.ignoreSelector || sel.Matches(labels.Set(ns.Labels)) {
			out.Items = append(out.Items, ns)
		}
	}
	return out, nil
}

func (f *fakeNamespaces) Delete(_ context.Context, name string, o metav1.DeleteOptions) error {
	if err := f.deleteErr[name]; err != nil {
		return err
	}
	for i, ns := range f.items {
		if ns.Name == name {
			if o.Preconditions == nil || o.Preconditions.UID == nil || *o.Preconditions.UID != ns.UID ||
				o.Preconditions.ResourceVersion == nil || *o.Preconditions.ResourceVersion != ns.ResourceVersion {
				return apierrors.NewConflict(schema.GroupResource{Resource: "namespaces"}, name, errors.New("precondition failed"))
			}
			f.deleted = append(f.deleted, name)
			f.items = append(f.items[:i], f.items[i+1:]...)
			return nil
		}
	}
	return apierrors.NewNotFound(schema.GroupResource{Resource: "namespaces"}, name)
}

// instanceNS is the namespace `up --instance` makes, expiring at exp.
func instanceNS(name string, exp time.Time) corev1.Namespace {
	r := state.InstanceRecord{Target: "kube", Env: "pr", Instance: name, Project: name, PortBase: 10000, PortSpan: 420, Created: t0.Add(-time.Hour), Expires: exp}
	l, a := r.NamespaceMeta()
	return corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: l, Annotations: a, UID: types.UID("uid-" + name), ResourceVersion: "1"}}
}

// ephemeralNS is a rendered pr namespace created at created, living for life.
func ephemeralNS(name string, created time.Time, life string) corev1.Namespace {
	return corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, UID: types.UID("uid-" + name), ResourceVersion: "1",
		CreationTimestamp: metav1.NewTime(created),
		Labels:            map[string]string{state.LabelEphemeral: "true"}, Annotations: map[string]string{state.AnnotationExpiresAfter: life}}}
}

func projects(ins []Instance) []string {
	var out []string
	for _, in := range ins {
		out = append(out, in.Project)
	}
	return out
}

func TestGCDeletesExactlyTheExpired(t *testing.T) {
	foreign := instanceNS("foreign", t0.Add(-time.Hour))
	delete(foreign.Labels, state.LabelManagedBy) // expired by its annotation, but not novadev's
	helm := instanceNS("helm-owned", t0.Add(-time.Hour))
	helm.Labels[state.LabelManagedBy] = "helm"
	broken := instanceNS("broken", t0.Add(-time.Hour))
	broken.Annotations[state.LabelExpires] = "yesterday"
	f := &fakeNamespaces{items: []corev1.Namespace{
		instanceNS("old", t0.Add(-time.Second)),
		instanceNS("now", t0), // expiry == now: expired
		instanceNS("young", t0.Add(time.Second)),
		ephemeralNS("nova-pr-1", t0.Add(-73*time.Hour), "72h"),
		ephemeralNS("nova-pr-2", t0.Add(-71*time.Hour), "72h"),
		foreign, helm, broken,
		{ObjectMeta: metav1.ObjectMeta{Name: "kube-system"}},
	}}
	c := New(f, Where("kind-nova"))

	dry, err := c.GC(context.Background(), t0, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.deleted) != 0 || !dry.DryRun {
		t.Fatalf("dry run deleted %v", f.deleted)
	}
	rep, err := c.GC(context.Background(), t0, false)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []*Report{dry, rep} {
		if got := strings.Join(projects(r.Removed), ","); got != "nova-pr-1,now,old" {
			t.Errorf("removed %s", got)
		}
		if got := strings.Join(projects(r.Kept), ","); got != "nova-pr-2,young" {
			t.Errorf("kept %s", got)
		}
		if len(r.LeftAlone) != 1 || !strings.Contains(r.LeftAlone[0], "namespace broken: annotation dev.novadev.expires=\"yesterday\"") {
			t.Errorf("left alone %q", r.LeftAlone)
		}
	}
	if got := strings.Join(f.deleted, ","); got != "nova-pr-1,now,old" {
		t.Fatalf("deleted %s", got)
	}
	if rep.Removed[0].Source != SourceEphemeral || !rep.Removed[0].Expires.Equal(t0.Add(-time.Hour)) || rep.Removed[1].Source != SourceInstance {
		t.Fatalf("sources/expiry %+v", rep.Removed)
	}
}

func TestGCNeverDeletesUnlabelledEvenIfListedAnyway(t *testing.T) {
	plain := instanceNS("plain", t0.Add(-time.Hour))
	plain.Labels = nil
	f := &fakeNamespaces{ignoreSelector: true, items: []corev1.Namespace{plain, instanceNS("old", t0.Add(-time.Hour))}}
	rep, err := New(f, "test").GC(context.Background(), t0, false)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(f.deleted, ",") != "old" || len(rep.Removed) != 1 {
		t.Fatalf("deleted %v", f.deleted)
	}
}

// racingNamespaces extends every namespace (a concurrent up) just before
// gc's delete reaches the store.
type racingNamespaces struct{ *fakeNamespaces }

func (r racingNamespaces) Delete(ctx context.Context, name string, o metav1.DeleteOptions) error {
	for i := range r.items {
		r.items[i].ResourceVersion = "2"
		r.items[i].Annotations[state.LabelExpires] = t0.Add(time.Hour).Format(time.RFC3339)
	}
	return r.fakeNamespaces.Delete(ctx, name, o)
}

func TestGCLeavesANamespaceChangedSinceListed(t *testing.T) {
	f := &fakeNamespaces{items: []corev1.Namespace{instanceNS("old", t0.Add(-time.Hour))}}
	rep, err := New(racingNamespaces{f}, "test").GC(context.Background(), t0, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.deleted) != 0 || len(rep.Removed) != 0 || len(rep.LeftAlone) != 1 || !strings.Contains(rep.LeftAlone[0], "namespace old: changed since it was listed") {
		t.Fatalf("deleted %v, report %+v", f.deleted, rep)
	}
}

func TestGCReportsFailuresAndGoesOn(t *testing.T) {
	f := &fakeNamespaces{items: []corev1.Namespace{instanceNS("a", t0.Add(-time.Hour)), instanceNS("b", t0.Add(-time.Hour))},
		deleteErr: map[string]error{"a": apierrors.NewForbidden(schema.GroupResource{Resource: "namespaces"}, "a", errors.New("denied"))}}
	rep, err := New(f, Where("kind-nova")).GC(context.Background(), t0, false)
	var apiErr *APIError
	if !errors.As(err, &apiErr) || !strings.Contains(err.Error(), "delete namespace a on the cluster (context kind-nova)") || !strings.Contains(err.Error(), "ClusterRole novadev-janitor") {
		t.Fatalf("err = %v", err)
	}
	if strings.Join(f.deleted, ",") != "b" || len(rep.Removed) != 1 {
		t.Fatalf("deleted %v", f.deleted)
	}
}

func TestGCLosingTheClusterMidwayDoesNotClaimNothingWasDeleted(t *testing.T) {
	f := &fakeNamespaces{items: []corev1.Namespace{instanceNS("a", t0.Add(-time.Hour)), instanceNS("b", t0.Add(-time.Hour))},
		deleteErr: map[string]error{"b": &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}}}
	rep, err := New(f, Where("kind-nova")).GC(context.Background(), t0, false)
	var un *UnreachableError
	if !errors.As(err, &un) || !strings.Contains(err.Error(), "delete namespace b: cannot reach the cluster (context kind-nova)") || strings.Contains(err.Error(), "nothing was deleted") {
		t.Fatalf("err = %v", err)
	}
	if strings.Join(f.deleted, ",") != "a" || len(rep.Removed) != 1 {
		t.Fatalf("deleted %v, removed %v", f.deleted, projects(rep.Removed))
	}
}

func TestGCTerminatingIsNotDeletedAgain(t *testing.T) {
	ns := instanceNS("going", t0.Add(-time.Hour))
	now := metav1.NewTime(t0)
	ns.DeletionTimestamp = &now
	f := &fakeNamespaces{items: []corev1.Namespace{ns}}
	rep, err := New(f, "test").GC(context.Background(), t0, false)
	if err != nil || len(f.deleted) != 0 || len(rep.Removed) != 1 || !rep.Removed[0].Terminating {
		t.Fatalf("deleted %v, report %+v, %v", f.deleted, rep, err)
	}
}

func TestEphemeralWithoutALifetimeIsLeftAlone(t *testing.T) {
	noLife := ephemeralNS("nova-pr-3", t0.Add(-100*time.Hour), "")
	delete(noLife.Annotations, state.AnnotationExpiresAfter)
	f := &fakeNamespaces{items: []corev1.Namespace{noLife, ephemeralNS("nova-pr-4", t0.Add(-100*time.Hour), "forever")}}
	rep, err := New(f, "test").GC(context.Background(), t0, false)
	if err != nil || len(f.deleted) != 0 || len(rep.LeftAlone) != 2 {
		t.Fatalf("deleted %v, report %+v, %v", f.deleted, rep, err)
	}
	if !strings.Contains(rep.LeftAlone[0], "has no annotation novadev.io/expires-after") || !strings.Contains(rep.LeftAlone[1], `novadev.io/expires-after="forever"`) {
		t.Fatalf("%q", rep.LeftAlone)
	}
}

func TestUnreachableClusterNamesTheContext(t *testing.T) {
	// a loopback port nobody listens on: connection refused
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	c, err := Connect(&rest.Config{Host: "https://" + addr}, Where("kind-gone"))
	if err != nil {
		t.Fatal(err)
	}
	begin := time.Now()
	_, err = c.GC(context.Background(), t0, false)
	var un *UnreachableError
	if !errors.As(err, &un) {
		t.Fatalf("err = %v (%T), want *UnreachableError", err, err)
	}
	for _, want := range []string{"list namespaces: cannot reach the cluster (context kind-gone)", "nothing was deleted", "kubectl --context kind-gone cluster-info"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q lacks %q", err, want)
		}
	}
	if d := time.Since(begin); d > 10*time.Second {
		t.Errorf("took %s to give up on a refused connection", d)
	}
}

func TestForContextUnknown(t *testing.T) {
	_, err := ForContext(t.TempDir()+"/none", "nope")
	if err == nil || !strings.Contains(err.Error(), "context nope") || !strings.Contains(err.Error(), "kubectl config get-contexts") {
		t.Fatalf("err = %v", err)
	}
}

// FuzzRead: whatever a namespace's labels and annotations hold, read never
// panics, and returns an instance only for a namespace carrying one of the
// two labels gc selects by, with an expiry.
func FuzzRead(f *testing.F) {
	f.Add("novadev", "", "pr-1", "10000", "420", "2026-12-01T09:00:00Z", "")
	f.Add("", "true", "", "", "", "", "72h")
	f.Add("", "true", "", "", "", "", "-1h")
	f.Add("helm", "false", "x", "1", "1", "", "1e9h")
	f.Fuzz(func(t *testing.T, managed, ephemeral, inst, base, span, exp, life string) {
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "ns", CreationTimestamp: metav1.NewTime(t0),
			Labels: map[string]string{state.LabelManagedBy: managed, state.LabelEphemeral: ephemeral, state.LabelInstance: inst,
				state.LabelPortBase: base, state.LabelPortSpan: span},
			Annotations: map[string]string{state.LabelExpires: exp, state.AnnotationExpiresAfter: life}}}
		in, err := read(ns)
		if err != nil || in == nil {
			return
		}
		if managed != state.ManagedBy && ephemeral != "true" {
			t.Fatalf("read an instance from a namespace that is not novadev's: %+v", in)
		}
		if in.Expires.IsZero() || (in.Source == SourceEphemeral && !in.Expires.After(t0)) {
			t.Fatalf("expiry %v for %+v", in.Expires, in)
		}
	})
}
