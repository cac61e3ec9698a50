package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestMergeKeepsOtherSettings(t *testing.T) {
	in := `{"log-level":"warn","max-concurrent-downloads":12,"runtimes":{"crun":{"path":"/usr/bin/crun","runtimeArgs":["--x"]}}}`
	out, changed, err := merge([]byte(in), "novadev-runc", "/usr/local/libexec/novadev/runc-wrapper")
	if err != nil || !changed {
		t.Fatalf("changed=%v err=%v", changed, err)
	}
	var doc map[string]any
	if err := json.Unmarshal(out, &doc); err != nil {
		t.Fatal(err)
	}
	if doc["default-runtime"] != "novadev-runc" || doc["log-level"] != "warn" || doc["max-concurrent-downloads"] != 12.0 {
		t.Fatalf("got %s", out)
	}
	rts := doc["runtimes"].(map[string]any)
	if rts["novadev-runc"].(map[string]any)["path"] != "/usr/local/libexec/novadev/runc-wrapper" || rts["crun"] == nil {
		t.Fatalf("runtimes: %s", out)
	}
	if _, again, err := merge(out, "novadev-runc", "/usr/local/libexec/novadev/runc-wrapper"); err != nil || again {
		t.Fatalf("second merge: changed=%v err=%v", again, err)
	}
}

func TestMergeErrors(t *testing.T) {
	for _, in := range []string{`[1]`, `null`, `{"runtimes":"x"}`, `{"a":`} {
		if _, _, err := merge([]byte(in), "n", "/p"); err == nil {
			t.Errorf("%s: no error", in)
		}
	}
}

func TestRegisterCreatesAndReportsUnchanged(t *testing.T) {
	file := filepath.Join(t.TempDir(), "daemon.json")
	if changed, err := register(file, "novadev-runc", "/w"); err != nil || !changed {
		t.Fatalf("first: changed=%v err=%v", changed, err)
	}
	data, _ := os.ReadFile(file)
	if !strings.Contains(string(data), `"default-runtime": "novadev-runc"`) {
		t.Fatalf("got %s", data)
	}
	if changed, err := register(file, "novadev-runc", "/w"); err != nil || changed {
		t.Fatalf("second: changed=%v err=%v", changed, err)
	}
	if err := os.WriteFile(file, []byte("{oops"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := register(file, "novadev-runc", "/w"); err == nil || !strings.Contains(err.Error(), file) {
		t.Fatalf("bad file: err=%v, want one naming %s", err, file)
	}
}

// FuzzMerge: whatever daemon.json holds, merge either refuses it or returns
// JSON in which the runtime is registered, and a second merge changes nothing.
func FuzzMerge(f *testing.F) {
	f.Add([]byte(`{"runtimes":{"a":{"path":"/a"}},"default-runtime":"a"}`))
	f.Add([]byte(``))
	f.Add([]byte(`{"runtimes":{"novadev-runc":null}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		out, changed, err := merge(data, "novadev-runc", "/w")
		if err != nil || !changed {
			return
		}
		if _, again, err := merge(out, "novadev-runc", "/w"); err != nil || again {
			t.Fatalf("second merge of %s: changed=%v err=%v", out, again, err)
		}
	})
}
