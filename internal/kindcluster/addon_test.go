package kindcluster

import (
	"context"
	"os"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestDecodeAddonTheRenderedOne(t *testing.T) {
	raw, err := os.ReadFile("../../kind/addons/network-policy.yaml")
	if err != nil {
		t.Fatal(err)
	}
	objs, err := decodeAddon(raw)
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, o := range objs {
		keys = append(keys, o.key())
		if len(o.hash) != 64 || o.u.GetAnnotations()[AnnotationHash] != o.hash {
			t.Errorf("%s: hash %q, annotation %q", o.key(), o.hash, o.u.GetAnnotations()[AnnotationHash])
		}
	}
	if got := strings.Join(keys, " "); got != "ServiceAccount/kube-system/kube-router ClusterRole/kube-router ClusterRoleBinding/kube-router DaemonSet/kube-system/kube-router" {
		t.Errorf("objects %s", got)
	}
	// The hash is of the object as rendered: the same bytes give the same
	// hashes, a changed object a new one (and only that one).
	again, _ := decodeAddon(raw)
	changed, err := decodeAddon([]byte(strings.Replace(string(raw), "cpu: 10m", "cpu: 20m", 1)))
	if err != nil {
		t.Fatal(err)
	}
	for i := range objs {
		if again[i].hash != objs[i].hash {
			t.Errorf("%s: hash not stable", objs[i].key())
		}
		if (changed[i].hash != objs[i].hash) != (objs[i].u.GetKind() == "DaemonSet") {
			t.Errorf("%s: hash changed %v after the DaemonSet's request changed", objs[i].key(), changed[i].hash != objs[i].hash)
		}
	}
}

func TestDecodeAddonErrorsSayWhereAndWhat(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", "no objects"},
		{"---\n---\n", "no objects"},
		{"apiVersion: v1\nkind: Pod\nmetadata: {name: x, namespace: y}\n", `document 1: kind "Pod" is not one an addon may hold (ClusterRole, ClusterRoleBinding, ConfigMap, DaemonSet, ServiceAccount)`},
		{"apiVersion: v1\nmetadata: {name: x}\n", "document 1: no kind"},
		{"apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: a, namespace: b}\n---\napiVersion: v1\nkind: ServiceAccount\nmetadata: {namespace: b}\n", "document 2: ServiceAccount without metadata.name"},
		{"apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: a}\n", "document 1: ServiceAccount a without metadata.namespace"},
		{"apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: a, namespace: b}\n", `document 1: ClusterRole a is cluster-wide but has metadata.namespace "b"`},
		{"apiVersion: extensions/v1beta1\nkind: DaemonSet\nmetadata: {name: a, namespace: b}\n", `document 1: DaemonSet a: apiVersion "extensions/v1beta1", want apps/v1`},
		{"kind: [\n", "document 1: "},
	} {
		_, err := decodeAddon([]byte(tc.in))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("decodeAddon(%q) = %v, want %q", tc.in, err, tc.want)
		}
	}
}

func FuzzDecodeAddon(f *testing.F) {
	if raw, err := os.ReadFile("../../kind/addons/network-policy.yaml"); err == nil {
		f.Add(raw)
	}
	f.Add([]byte("apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: a, namespace: b}\n"))
	f.Add([]byte("---\n{}\n---\nkind: 3\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		objs, err := decodeAddon(data)
		if err != nil {
			return
		}
		for _, o := range objs {
			if o.u.GetName() == "" || o.hash == "" || o.gvr.Resource == "" {
				t.Fatalf("accepted object without name, hash or resource: %+v", o)
			}
		}
	})
}

func TestDaemonSetReady(t *testing.T) {
	ds := func(gen, observed int64, desired, updated, ready, unavailable int32) *appsv1.DaemonSet {
		return &appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Generation: gen}, Status: appsv1.DaemonSetStatus{
			ObservedGeneration: observed, DesiredNumberScheduled: desired, UpdatedNumberScheduled: updated, NumberReady: ready, NumberUnavailable: unavailable}}
	}
	for _, tc := range []struct {
		ds   *appsv1.DaemonSet
		want bool
		says string
	}{
		{ds(1, 1, 1, 1, 1, 0), true, "desired 1, updated 1, ready 1"},
		{ds(2, 1, 1, 1, 1, 0), false, "controller has not seen the new template yet"},
		{ds(1, 1, 0, 0, 0, 0), false, "no node to run on yet"},
		{ds(1, 1, 1, 0, 1, 0), false, "updated 0"},
		{ds(1, 1, 1, 1, 0, 1), false, "ready 0"},
	} {
		ok, state := daemonSetReady(tc.ds)
		if ok != tc.want || !strings.Contains(state, tc.says) {
			t.Errorf("%+v: %v %q, want %v and %q", tc.ds.Status, ok, state, tc.want, tc.says)
		}
	}
}

// Without its image the addon cannot be installed: doctor says what that
// costs and what to run, without looking at the cluster.
func TestDoctorAddonWithoutItsImage(t *testing.T) {
	eng, _ := newFakes()
	p := New(Options{Name: "nova", Engine: eng})
	a := Addon{Name: "NetworkPolicy engine", Image: "novadev/kube-router:v2.1.0", DaemonSet: "kube-system/kube-router",
		Build: "scripts/netpol/build.sh", Without: "NetworkPolicies are rendered but NOT enforced"}
	f := p.addonFinding(context.Background(), eng, a, true, true)
	want := Finding{Check: "NetworkPolicy engine", Status: Warn,
		Detail: "image novadev/kube-router:v2.1.0 is not on the Docker engine: NetworkPolicies are rendered but NOT enforced",
		Next:   "scripts/netpol/build.sh, then novadev up --target kind (it installs the addon)"}
	if f != want {
		t.Errorf("finding\n%+v\nwant\n%+v", f, want)
	}
	eng.images["novadev/kube-router:v2.1.0"] = &Image{ID: "sha256:1"}
	f = p.addonFinding(context.Background(), eng, a, false, false)
	if f.Status != Warn || !strings.Contains(f.Detail, "image novadev/kube-router:v2.1.0 present") || f.Next != "novadev up --target kind" {
		t.Errorf("image present, no cluster: %+v", f)
	}
}
