package kubegc

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"

	"github.com/novadev/novadev/internal/testenv/kubeapi"
)

func TestMain(m *testing.M) { os.Exit(kubeapi.Main(m)) }

// TestIntegrationGCOnARealAPIServer: labelled expired, labelled unexpired,
// unlabelled (with an expired-looking annotation), and rendered pr
// namespaces, created for real; gc deletes exactly the expired novadev
// ones. With no namespace controller a deleted namespace stays
// Terminating, which is what the test reads back.
func TestIntegrationGCOnARealAPIServer(t *testing.T) {
	env := kubeapi.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cs, err := corev1client.NewForConfig(env.Config())
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	plain := instanceNS("gc-plain", now.Add(-time.Hour))
	plain.Labels = map[string]string{"team": "nova"}
	for _, ns := range []corev1.Namespace{
		instanceNS("gc-expired", now.Add(-time.Minute)),
		instanceNS("gc-fresh", now.Add(time.Hour)),
		plain,
		ephemeralNS("gc-pr-old", time.Time{}, "1s"),
		ephemeralNS("gc-pr-young", time.Time{}, "72h"),
	} {
		ns.UID, ns.ResourceVersion, ns.CreationTimestamp = "", "", metav1.Time{}
		if _, err := cs.Namespaces().Create(ctx, &ns, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	// rendered pr namespaces count from their creationTimestamp: look 2 s ahead
	at := time.Now().Add(2 * time.Second)
	c, err := Connect(env.Config(), "test apiserver")
	if err != nil {
		t.Fatal(err)
	}
	list, bad, err := c.List(ctx)
	if err != nil || len(bad) != 0 {
		t.Fatal(err, bad)
	}
	if got := strings.Join(projects(only(list, "gc-")), ","); got != "gc-expired,gc-fresh,gc-pr-old,gc-pr-young" {
		t.Fatalf("list: %s", got)
	}
	rep, err := c.GC(ctx, at, true)
	if err != nil || strings.Join(projects(only(rep.Removed, "gc-")), ",") != "gc-expired,gc-pr-old" {
		t.Fatalf("dry run: %+v, %v", rep, err)
	}
	assertTerminating(t, cs, map[string]bool{"gc-expired": false, "gc-fresh": false, "gc-plain": false, "gc-pr-old": false, "gc-pr-young": false})

	rep, err = c.GC(ctx, at, false)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(projects(only(rep.Removed, "gc-")), ","); got != "gc-expired,gc-pr-old" {
		t.Fatalf("removed %s", got)
	}
	if got := strings.Join(projects(only(rep.Kept, "gc-")), ","); got != "gc-fresh,gc-pr-young" {
		t.Fatalf("kept %s", got)
	}
	assertTerminating(t, cs, map[string]bool{"gc-expired": true, "gc-fresh": false, "gc-plain": false, "gc-pr-old": true, "gc-pr-young": false})

	// a second gc sees them terminating and sends no delete (nothing fails)
	rep, err = c.GC(ctx, at, false)
	if err != nil || len(only(rep.Removed, "gc-")) != 2 || !rep.Removed[0].Terminating {
		t.Fatalf("second gc: %+v, %v", rep, err)
	}
}

func only(ins []Instance, prefix string) []Instance {
	var out []Instance
	for _, in := range ins {
		if strings.HasPrefix(in.Project, prefix) {
			out = append(out, in)
		}
	}
	return out
}

func assertTerminating(t *testing.T, cs corev1client.CoreV1Interface, want map[string]bool) {
	t.Helper()
	for name, terminating := range want {
		ns, err := cs.Namespaces().Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			t.Fatalf("namespace %s: %v", name, err)
		}
		if got := ns.DeletionTimestamp != nil; got != terminating {
			t.Errorf("namespace %s: terminating=%v, want %v", name, got, terminating)
		}
	}
}
