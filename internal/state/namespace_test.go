package state

import (
	"strings"
	"testing"
	"time"
)

func TestInstanceNamespaceRoundTrip(t *testing.T) {
	r := InstanceRecord{Target: "kube", Env: "pr", Instance: "pr-123", Project: "nova-pr-pr-123", PortBase: 10420, PortSpan: 420,
		Created: time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC), Expires: time.Date(2026, 12, 1, 17, 0, 0, 0, time.UTC)}
	labels, ann := r.NamespaceMeta()
	want := map[string]string{LabelManagedBy: "novadev", LabelInstance: "pr-123", LabelEnv: "pr", LabelTarget: "kube", LabelPortBase: "10420", LabelPortSpan: "420"}
	if len(labels) != len(want) {
		t.Fatalf("labels %v, want %v", labels, want)
	}
	for k, v := range want {
		if labels[k] != v {
			t.Errorf("label %s=%q, want %q", k, labels[k], v)
		}
	}
	if ann[LabelExpires] != "2026-12-01T17:00:00Z" || ann[LabelCreated] != "2026-12-01T09:00:00Z" || len(ann) != 2 {
		t.Fatalf("annotations %v", ann)
	}
	got, err := InstanceFromNamespace("nova-pr-pr-123", labels, ann)
	if err != nil || got != r {
		t.Fatalf("InstanceFromNamespace = %+v, %v; want %+v", got, err, r)
	}
	// a time in another zone reads back as the same instant, in UTC
	ann[LabelExpires] = "2026-12-01T19:00:00+02:00"
	if got, err := InstanceFromNamespace("nova-pr-pr-123", labels, ann); err != nil || got.Expires != r.Expires {
		t.Fatalf("zoned expiry: %v, %v", got.Expires, err)
	}
	// created is optional (and not written when unknown)
	r.Created = time.Time{}
	if _, ann := r.NamespaceMeta(); len(ann) != 1 {
		t.Fatalf("annotations without created: %v", ann)
	}
}

func TestInstanceFromNamespaceErrors(t *testing.T) {
	good := func() (map[string]string, map[string]string) {
		return map[string]string{LabelManagedBy: "novadev", LabelInstance: "pr-1", LabelEnv: "pr", LabelTarget: "kube", LabelPortBase: "10000", LabelPortSpan: "420"},
			map[string]string{LabelExpires: "2026-12-01T17:00:00Z"}
	}
	for _, tc := range []struct {
		name string
		edit func(l, a map[string]string)
		want string
	}{
		{"not novadev's", func(l, a map[string]string) { delete(l, LabelManagedBy) }, `not a novadev instance: label dev.novadev.managed-by=""`},
		{"someone else's", func(l, a map[string]string) { l[LabelManagedBy] = "helm" }, `dev.novadev.managed-by="helm", want "novadev"`},
		{"no instance", func(l, a map[string]string) { delete(l, LabelInstance) }, "label dev.novadev.instance is required"},
		{"no base", func(l, a map[string]string) { delete(l, LabelPortBase) }, "label dev.novadev.port-base is required"},
		{"bad base", func(l, a map[string]string) { l[LabelPortBase] = "ten" }, `label dev.novadev.port-base="ten": want a whole number from 0 to 65535`},
		{"negative span", func(l, a map[string]string) { l[LabelPortSpan] = "-1" }, `label dev.novadev.port-span="-1"`},
		{"span past 65535", func(l, a map[string]string) { l[LabelPortSpan] = "55537" }, "from 0 to 55536"},
		{"no expiry", func(l, a map[string]string) { delete(a, LabelExpires) }, "annotation dev.novadev.expires is required"},
		{"bad expiry", func(l, a map[string]string) { a[LabelExpires] = "tomorrow" }, `annotation dev.novadev.expires="tomorrow": not an RFC 3339 time`},
		{"bad created", func(l, a map[string]string) { a[LabelCreated] = "2026-12-01" }, `annotation dev.novadev.created="2026-12-01"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, a := good()
			tc.edit(l, a)
			_, err := InstanceFromNamespace("ns-x", l, a)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "ns-x") {
				t.Fatalf("err = %v; want it to name ns-x and contain %q", err, tc.want)
			}
		})
	}
	l, a := good()
	if _, err := InstanceFromNamespace("", l, a); err == nil {
		t.Fatal("a namespace without a name parsed")
	}
}

func FuzzInstanceFromNamespace(f *testing.F) {
	f.Add("nova-pr-pr-1", "novadev", "pr-1", "10000", "420", "2026-12-01T09:00:00Z", "2026-12-01T08:00:00Z")
	f.Add("x", "novadev", "x", "65535", "1", "2026-12-01T09:00:00.5+01:00", "")
	f.Add("", "", "", "x", "", "", "")
	f.Fuzz(func(t *testing.T, name, managed, inst, base, span, exp, created string) {
		l := map[string]string{LabelManagedBy: managed, LabelInstance: inst, LabelPortBase: base, LabelPortSpan: span}
		a := map[string]string{LabelExpires: exp}
		if created != "" {
			a[LabelCreated] = created
		}
		r, err := InstanceFromNamespace(name, l, a)
		if err != nil {
			return
		}
		if r.Instance == "" || r.Project != name || r.Expires.IsZero() || r.PortBase < 0 || r.PortSpan < 0 || r.PortBase+r.PortSpan > 65536 {
			t.Fatalf("accepted %+v", r)
		}
		// what was accepted writes back and reads back the same (to the second)
		l2, a2 := r.NamespaceMeta()
		r2, err := InstanceFromNamespace(name, l2, a2)
		if err != nil {
			t.Fatalf("re-reading %+v: %v", r, err)
		}
		if r2.Instance != r.Instance || r2.PortBase != r.PortBase || r2.PortSpan != r.PortSpan ||
			!r2.Expires.Equal(r.Expires.Truncate(time.Second)) || !r2.Created.Equal(r.Created.Truncate(time.Second)) {
			t.Fatalf("round trip %+v -> %+v", r, r2)
		}
	})
}
