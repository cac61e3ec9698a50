package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestSpecFile(t *testing.T) {
	for _, tc := range []struct {
		args      []string
		file      string
		isProcess bool
	}{
		// What containerd-shim-runc-v2 runs for dockerd 20.10.
		{[]string{"--root", "/var/run/docker/runtime-runc/moby", "--log", "/run/x/log.json", "--log-format", "json", "create", "--bundle", "/run/b", "--pid-file", "/run/b/init.pid", "id"}, "/run/b/config.json", false},
		{[]string{"create", "-b", "/run/b", "id"}, "/run/b/config.json", false},
		{[]string{"--systemd-cgroup", "run", "--bundle=/run/b", "id"}, "/run/b/config.json", false},
		{[]string{"create", "id"}, "config.json", false},
		{[]string{"--root", "/r", "exec", "--process", "/tmp/runc-process1", "--detach", "--pid-file", "/p", "id"}, "/tmp/runc-process1", true},
		{[]string{"exec", "-p", "/tmp/p", "id"}, "/tmp/p", true},
		{[]string{"exec", "--process=/tmp/p", "id"}, "/tmp/p", true},
		{[]string{"exec", "id", "sh"}, "", true},
		{[]string{"--root", "/r", "start", "id"}, "", false},
		{[]string{"--root", "/r", "delete", "--force", "id"}, "", false},
		{[]string{"--version"}, "", false},
		{nil, "", false},
	} {
		file, isProcess := specFile(tc.args)
		if file != tc.file || (file != "" && isProcess != tc.isProcess) {
			t.Errorf("specFile(%q) = %q, %v; want %q, %v", tc.args, file, isProcess, tc.file, tc.isProcess)
		}
	}
}

func TestMissingFrom(t *testing.T) {
	// The bounding set of dockerd on the VMs this was written for.
	got := missingFrom(0x000001fffeffffff)
	if len(got) != 1 || !got["CAP_SYS_RESOURCE"] {
		t.Fatalf("missingFrom(0x1fffeffffff) = %v, want only CAP_SYS_RESOURCE", got)
	}
	if got := missingFrom(0x000001ffffffffff); len(got) != 0 {
		t.Fatalf("full set: missing %v, want none", got)
	}
}

// A config.json shaped like Docker 20.10's for a --privileged container:
// every capability, and 64-bit numbers that float64 would round.
const privilegedSpec = `{"ociVersion":"1.0.2-dev","process":{"user":{"uid":0,"gid":0},"args":["/sbin/init","CAP_SYS_RESOURCE"],` +
	`"capabilities":{"bounding":["CAP_CHOWN","CAP_SYS_RESOURCE","CAP_SYS_TIME"],"effective":["CAP_SYS_RESOURCE"],` +
	`"inheritable":["CAP_CHOWN","CAP_SYS_RESOURCE"],"permitted":["CAP_SYS_RESOURCE","CAP_CHOWN"]},` +
	`"rlimits":[{"type":"RLIMIT_NOFILE","hard":1048576,"soft":1048576}]},` +
	`"linux":{"resources":{"memory":{"limit":9223372036854775807,"swap":-1}}},"x-unknown":{"kept":true}}`

func TestDropCapsFromBundleSpec(t *testing.T) {
	out, changed, err := dropCaps([]byte(privilegedSpec), false, map[string]bool{"CAP_SYS_RESOURCE": true})
	if err != nil || !changed {
		t.Fatalf("dropCaps: changed=%v err=%v", changed, err)
	}
	var doc struct {
		Process struct {
			Args         []string            `json:"args"`
			Capabilities map[string][]string `json:"capabilities"`
		} `json:"process"`
		Linux   json.RawMessage `json:"linux"`
		Unknown json.RawMessage `json:"x-unknown"`
	}
	if err := json.Unmarshal(out, &doc); err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{
		"bounding":    {"CAP_CHOWN", "CAP_SYS_TIME"},
		"effective":   {},
		"inheritable": {"CAP_CHOWN"},
		"permitted":   {"CAP_CHOWN"},
	}
	for set, caps := range want {
		if !slices.Equal(doc.Process.Capabilities[set], caps) {
			t.Errorf("%s = %q, want %q", set, doc.Process.Capabilities[set], caps)
		}
	}
	// Only capability sets change: an argument that happens to spell a
	// capability stays, and so do numbers and unknown fields.
	if !slices.Equal(doc.Process.Args, []string{"/sbin/init", "CAP_SYS_RESOURCE"}) {
		t.Errorf("args = %q", doc.Process.Args)
	}
	if !strings.Contains(string(doc.Linux), `"limit":9223372036854775807`) {
		t.Errorf("memory limit not kept exactly: %s", doc.Linux)
	}
	if string(doc.Unknown) != `{"kept":true}` {
		t.Errorf("unknown field = %s", doc.Unknown)
	}
}

func TestDropCapsFromProcessFile(t *testing.T) {
	proc := `{"args":["sh"],"capabilities":{"bounding":["CAP_KILL","CAP_SYS_RESOURCE"],"effective":["CAP_KILL"]}}`
	out, changed, err := dropCaps([]byte(proc), true, map[string]bool{"CAP_SYS_RESOURCE": true})
	if err != nil || !changed {
		t.Fatalf("dropCaps: changed=%v err=%v", changed, err)
	}
	if !strings.Contains(string(out), `"bounding":["CAP_KILL"]`) {
		t.Fatalf("got %s", out)
	}
}

func TestDropCapsLeavesOrdinarySpecsAlone(t *testing.T) {
	spec := `{"process":{"capabilities":{"bounding":["CAP_CHOWN","CAP_KILL"]}}}`
	_, changed, err := dropCaps([]byte(spec), false, map[string]bool{"CAP_SYS_RESOURCE": true})
	if err != nil || changed {
		t.Fatalf("an ordinary spec: changed=%v err=%v, want untouched", changed, err)
	}
	for _, s := range []string{`{}`, `{"process":{}}`, `{"process":{"capabilities":{"bounding":null}}}`} {
		if _, changed, err := dropCaps([]byte(s), false, map[string]bool{"CAP_SYS_RESOURCE": true}); err != nil || changed {
			t.Errorf("%s: changed=%v err=%v", s, changed, err)
		}
	}
	if _, _, err := dropCaps([]byte(`{"process":`), false, nil); err == nil {
		t.Error("truncated JSON: no error")
	}
}

func TestRewriteKeepsModeAndSkipsUnchanged(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "config.json")
	if err := os.WriteFile(file, []byte(privilegedSpec), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := rewrite(file, false, map[string]bool{"CAP_SYS_RESOURCE": true}); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(file)
	if strings.Contains(string(data), `"effective":["CAP_SYS_RESOURCE"]`) {
		t.Fatalf("not rewritten: %s", data)
	}
	fi, _ := os.Stat(file)
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", fi.Mode().Perm())
	}
	before := fi.ModTime()
	if err := rewrite(file, false, map[string]bool{"CAP_SYS_RESOURCE": true}); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(file); !fi.ModTime().Equal(before) {
		t.Error("a spec with nothing to drop was written again")
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("left %d files behind", len(entries))
	}
}

// FuzzDropCaps: any input either fails to parse or yields valid JSON in which
// no dropped capability is left in a capability set.
func FuzzDropCaps(f *testing.F) {
	f.Add([]byte(privilegedSpec), false)
	f.Add([]byte(`{"capabilities":{"bounding":["CAP_SYS_RESOURCE"]}}`), true)
	f.Add([]byte(`{"process":{"capabilities":[]}}`), false)
	f.Fuzz(func(t *testing.T, data []byte, isProcess bool) {
		missing := map[string]bool{"CAP_SYS_RESOURCE": true}
		out, changed, err := dropCaps(data, isProcess, missing)
		if err != nil || !changed {
			return
		}
		if !json.Valid(out) {
			t.Fatalf("invalid JSON out: %s", out)
		}
		if _, again, err := dropCaps(out, isProcess, missing); err != nil || again {
			t.Fatalf("second pass: changed=%v err=%v", again, err)
		}
	})
}

// FuzzSpecFile: the command-line scan never panics, whatever runc is given.
func FuzzSpecFile(f *testing.F) {
	f.Add("--root\x00/r\x00create\x00--bundle\x00/b\x00id")
	f.Add("exec\x00-p")
	f.Fuzz(func(t *testing.T, joined string) {
		specFile(strings.Split(joined, "\x00"))
	})
}
