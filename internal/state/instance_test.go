package state

import (
	"testing"
	"time"
)

func TestInstanceRecordRoundTrip(t *testing.T) {
	r := InstanceRecord{Target: "docker", Env: "ci", Instance: "pr-1", Project: "nova-ci-pr-1", PortBase: 10420, PortSpan: 420,
		Created: time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC), Expires: time.Date(2026, 12, 1, 17, 0, 0, 0, time.UTC)}
	l := r.Labels()
	if l[LabelManagedBy] != ManagedBy || l[LabelVolume] != InstanceRecordKey || l[LabelPortBase] != "10420" {
		t.Fatalf("labels %v", l)
	}
	got, err := ParseInstanceRecord(l)
	if err != nil || got != r {
		t.Fatalf("ParseInstanceRecord = %+v, %v; want %+v", got, err, r)
	}
	if r.PortEnd() != 10839 || !r.Expired(r.Expires) || r.Expired(r.Expires.Add(-time.Second)) {
		t.Fatal("PortEnd or Expired")
	}
	delete(l, LabelExpires)
	if _, err := ParseInstanceRecord(l); err == nil {
		t.Fatal("a record without expiry parsed")
	}
}

func FuzzParseInstanceRecord(f *testing.F) {
	f.Add("pr-1", "p", "10000", "420", "2026-12-01T09:00:00Z")
	f.Add("", "", "x", "", "")
	f.Fuzz(func(t *testing.T, inst, project, base, span, exp string) {
		r, err := ParseInstanceRecord(map[string]string{LabelInstance: inst, LabelProject: project, LabelPortBase: base, LabelPortSpan: span, LabelExpires: exp})
		if err == nil && (r.Instance == "" || r.Project == "" || r.Expires.IsZero()) {
			t.Fatalf("accepted %+v", r)
		}
	})
}
