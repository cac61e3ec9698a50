package bootstrap

import (
	"strconv"
	"strings"
	"testing"
)

// FuzzParseMigrationName: never panics; an accepted name round-trips to
// its version and description the way sqlx reads it.
func FuzzParseMigrationName(f *testing.F) {
	for _, s := range []string{"20251114000000_init.sql", "1_a_b.up.sql", "2_x.down.sql", "x_y.sql", "_.sql", "1_.sql", "README.md"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		v, desc, ok, err := ParseMigrationName(name)
		if err != nil || !ok {
			if ok {
				t.Fatalf("%q: ok with an error", name)
			}
			return
		}
		prefix, _, _ := strings.Cut(name, "_")
		if want, _ := strconv.ParseInt(prefix, 10, 64); want != v {
			t.Fatalf("%q: version %d, want %d", name, v, want)
		}
		if strings.Contains(desc, "_") || strings.HasSuffix(desc, ".sql") {
			t.Fatalf("%q: description %q keeps sqlx's separators", name, desc)
		}
	})
}

// FuzzParseDialMap: never panics; every accepted pair is host:port=host:port.
func FuzzParseDialMap(f *testing.F) {
	for _, s := range []string{"kafka:9092=127.0.0.1:30092", "redis-1:7001=127.0.0.1:1,redis-2:7002=127.0.0.1:2", "a=b", "", ",,", "[::1]:1=[::1]:2"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := ParseDialMap(s)
		if err != nil {
			return
		}
		for from, to := range m {
			if !strings.Contains(from, ":") || !strings.Contains(to, ":") {
				t.Fatalf("%q: accepted %q=%q", s, from, to)
			}
		}
	})
}
