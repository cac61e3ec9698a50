package bootstrap

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// FuzzParseMigrationName states sqlx's file name rule as properties of
// the input, not as a second implementation: never panics; ignored names
// are exactly those without "_" or a ".sql" ending; refused ones exactly
// those whose prefix is no i64; for an accepted one the version is the
// prefix, the type is given by the ending (.up.sql, then .down.sql), and
// the rest is the description ('_' for ' ') followed by one or more copies
// of the type's suffix, the description never ending in another copy.
func FuzzParseMigrationName(f *testing.F) {
	for _, s := range []string{"20251114000000_init.sql", "1_a_b.up.sql", "2_x.down.sql", "x_y.sql", "_.sql", "1_.sql", "README.md",
		"1_x.sql.sql", "1_x.sql.up.sql", "1_x.up.sql.down.sql", "-1_x.sql", "+1_.up.sql"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		v, desc, typ, ok, err := ParseMigrationName(name)
		prefix, rest, found := strings.Cut(name, "_")
		if !found || !strings.HasSuffix(rest, ".sql") {
			if ok || err != nil {
				t.Fatalf("%q: not a migration name, got ok=%v err=%v", name, ok, err)
			}
			return
		}
		want, perr := strconv.ParseInt(prefix, 10, 64)
		if (perr != nil) != (err != nil) || ok == (err != nil) {
			t.Fatalf("%q: prefix parse error %v, got ok=%v err=%v", name, perr, ok, err)
		}
		if err != nil {
			return
		}
		if v != want {
			t.Fatalf("%q: version %d, want %d", name, v, want)
		}
		wantType := MigrationSimple
		if strings.HasSuffix(name, ".up.sql") {
			wantType = MigrationReversibleUp
		} else if strings.HasSuffix(name, ".down.sql") {
			wantType = MigrationReversibleDown
		}
		if typ != wantType {
			t.Fatalf("%q: type %v, want %v", name, typ, wantType)
		}
		sfx := typ.Suffix()
		if strings.Contains(desc, "_") || strings.HasSuffix(desc, sfx) {
			t.Fatalf("%q: description %q keeps a '_' or a %s suffix", name, desc, sfx)
		}
		under := strings.ReplaceAll(rest, "_", " ")
		tail, isPrefix := strings.CutPrefix(under, desc)
		if !isPrefix || len(tail) == 0 || len(tail)%len(sfx) != 0 || tail != strings.Repeat(sfx, len(tail)/len(sfx)) {
			t.Fatalf("%q: rest %q is not description %q plus copies of %s", name, rest, desc, sfx)
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

// FuzzParseSemver: never panics; an accepted version prints back as the
// input (so "01.0.0", "1.0" or "v1.0.0" can never be accepted), and
// comparing it with itself is 0.
func FuzzParseSemver(f *testing.F) {
	for _, s := range []string{"1.0.0", "0.10.3", "01.0.0", "1.0", "v1.0.0", "1.0.0-rc.1", "18446744073709551615.0.0", "18446744073709551616.0.0", "+1.0.0", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := ParseSemver(s)
		if err != nil {
			return
		}
		if v.String() != s {
			t.Fatalf("%q accepted as %s", s, v)
		}
		if v.Compare(v) != 0 {
			t.Fatalf("%s does not equal itself", v)
		}
	})
}

// FuzzParseRegistry: never panics; an accepted baseline marshals to a
// baseline that parses to the same bytes again (what --record writes is
// what the next run reads).
func FuzzParseRegistry(f *testing.F) {
	if b, err := os.ReadFile(filepath.Join("testdata", "registry-v1.json")); err == nil {
		f.Add(b)
	}
	for _, s := range []string{`{"version": "1.0.0", "files": []}`, `{"version": "1.0.0", "services": {}}`,
		`{"version": "1", "files": [{"name": "a.proto", "package": "a", "message_type": [{"name": "M", "field": [{"name": "x", "number": 1, "label": "LABEL_OPTIONAL", "type": "TYPE_STRING"}]}]}]}`,
		`{"version": "1", "files": [{"name": "a.proto", "dependency": ["a.proto"]}]}`, `{} {}`, `null`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		reg, err := ParseRegistry(data)
		if err != nil {
			return
		}
		out := reg.Marshal()
		again, err := ParseRegistry(out)
		if err != nil {
			t.Fatalf("Marshal of an accepted baseline does not parse: %v\n%s", err, out)
		}
		if string(again.Marshal()) != string(out) {
			t.Fatalf("baseline changes on a second round trip:\n%s\n%s", out, again.Marshal())
		}
	})
}
