package docker

import (
	"testing"

	"github.com/novadev/novadev/internal/state"
)

// FuzzParseStoreCopy: a manifest's labels, whatever they hold (another
// novadev, a hand-made volume), parse without panicking.
func FuzzParseStoreCopy(f *testing.F) {
	f.Add("base", "2026-12-01T10:00:00Z", "224345702", "postgres-data,redis-1-data")
	f.Add("", "yesterday", "-1", ",,")
	f.Fuzz(func(t *testing.T, name, created, size, volumes string) {
		sc := parseStoreCopy(map[string]string{state.LabelSnapshot: name, state.LabelSnapshotCreated: created,
			state.LabelSnapshotSize: size, state.LabelSnapshotVolumes: volumes})
		if sc.Name != name {
			t.Fatalf("name %q -> %q", name, sc.Name)
		}
		if volumes == "" && len(sc.Volumes) != 0 {
			t.Fatalf("no volumes -> %q", sc.Volumes)
		}
	})
}
