package app_test

import (
	"bufio"
	"bytes"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const mod = "github.com/novadev/novadev/"

// importRules are the package layout's rules (docs/architecture.md): who
// may not depend on whom. deps: the package's transitive imports (what
// `go list -deps` prints); direct: its own import lines.
var importRules = []struct {
	pkg, why string
	// a package matches when its path equals or starts with the prefix
	// (a prefix ending in "/" means "a package below")
	noDeps, noDirect []string
	// except lists packages excused from noDeps (for backend/ prefixes).
	except []string
}{
	{pkg: "internal/supervisor", why: "the supervisor drives any backend through the interface only",
		noDeps: []string{"github.com/compose-spec/compose-go", "github.com/moby/", mod + "internal/backend/", mod + "internal/render/"}},
	{pkg: "internal/backend/docker", why: "a backend never reaches into the supervisor or another backend",
		noDeps: []string{mod + "internal/supervisor", mod + "internal/backend/"}, except: []string{mod + "internal/backend/docker"}},
	{pkg: "internal/backend/kube", why: "a backend never reaches into the supervisor or another backend; any cluster, so nothing of kind",
		noDeps: []string{mod + "internal/supervisor", mod + "internal/backend/", mod + "internal/render/", "sigs.k8s.io/kind"}, except: []string{mod + "internal/backend/kube"}},
	{pkg: "internal/backend", why: "the contract is a leaf: state and event at most",
		noDeps: []string{mod + "internal/"}, except: []string{mod + "internal/backend", mod + "internal/state", mod + "internal/event"}},
	{pkg: "internal/cli", why: "commands parse flags and call a Service; app wires the machinery",
		noDeps:   []string{mod + "internal/backend/", "github.com/moby/"},
		noDirect: []string{mod + "internal/backend", mod + "internal/bootstrap", mod + "internal/probe", mod + "internal/secrets"}},
	{pkg: "internal/render/compose", why: "renderers read the disk only through the catalog's file system", noDirect: []string{"os", "io/ioutil", "os/exec"}},
	{pkg: "internal/render/kind", why: "renderers read the disk only through the catalog's file system", noDirect: []string{"os", "io/ioutil", "os/exec"}},
	{pkg: "internal/render/tilt", why: "renderers read the disk only through the catalog's file system", noDirect: []string{"os", "io/ioutil", "os/exec"}},
	{pkg: "internal/contract", why: "the runtime contract is derived from the catalog alone; renderers, bootstraps and the placeholder read it",
		noDeps: []string{mod + "internal/"}, except: []string{mod + "internal/contract", mod + "internal/catalog", mod + "internal/graph"}},
	{pkg: "internal/verify", why: "verify reaches an instance through its Instance interface, never a backend",
		noDeps: []string{mod + "internal/backend", mod + "internal/supervisor", "github.com/moby/", "github.com/compose-spec/compose-go"}},
	{pkg: "internal/verify/kubecluster", why: "verify on a cluster sees it through client-go as kubectl does, whichever backend applied the overlay",
		noDeps: []string{mod + "internal/backend", mod + "internal/supervisor", mod + "internal/render/", "sigs.k8s.io/kind", "github.com/moby/moby/"}},
	{pkg: "internal/kubeforward", why: "the one port-forwarder serves the kube backend and verify alike: client-go only, nothing of ours",
		noDeps: []string{mod + "internal/"}, except: []string{mod + "internal/kubeforward"}},
	{pkg: "internal/graph", why: "the DAG is generic", noDeps: []string{mod + "internal/"}, except: []string{mod + "internal/graph"}},
	{pkg: "internal/state", why: "state is the vocabulary everyone shares", noDeps: []string{mod + "internal/"}, except: []string{mod + "internal/state"}},
	{pkg: "internal/event", why: "events are plain values", noDeps: []string{mod + "internal/"}, except: []string{mod + "internal/event"}},
	{pkg: "internal/kubegc", why: "the janitor lists and deletes namespaces with client-go alone, no backend",
		noDeps: []string{mod + "internal/"}, except: []string{mod + "internal/kubegc", mod + "internal/state"}},
}

func matches(path, prefix string) bool {
	if strings.HasSuffix(prefix, "/") {
		return strings.HasPrefix(path, prefix)
	}
	return path == prefix || strings.HasPrefix(path, prefix+"/")
}

// violations checks every rule against an import graph (package -> its
// direct imports) and returns one line per broken rule.
func violations(imports map[string][]string) []string {
	deps := func(p string) []string {
		seen := map[string]bool{}
		var walk func(string)
		walk = func(p string) {
			for _, i := range imports[p] {
				if !seen[i] {
					seen[i] = true
					walk(i)
				}
			}
		}
		walk(p)
		out := make([]string, 0, len(seen))
		for d := range seen {
			out = append(out, d)
		}
		slices.Sort(out)
		return out
	}
	var out []string
	for _, r := range importRules {
		pkg := mod + r.pkg
		if _, ok := imports[pkg]; !ok {
			out = append(out, r.pkg+": package not found")
			continue
		}
		for _, d := range deps(pkg) {
			if slices.Contains(r.except, d) {
				continue
			}
			for _, bad := range r.noDeps {
				if matches(d, bad) {
					out = append(out, r.pkg+" depends on "+d+" ("+r.why+")")
				}
			}
		}
		for _, d := range imports[pkg] {
			for _, bad := range r.noDirect {
				if matches(d, bad) {
					out = append(out, r.pkg+" imports "+d+" ("+r.why+")")
				}
			}
		}
	}
	return out
}

// TestImportRules runs the rules over the real tree (`go list -deps` of
// every package, tests excluded).
func TestImportRules(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list over the module")
	}
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(file), "..", "..")
	cmd := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}} {{join .Imports \",\"}}", "./...")
	cmd.Dir = root
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, stderr.String())
	imports := map[string][]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		path, list, _ := strings.Cut(sc.Text(), " ")
		imports[path] = nil
		if list != "" {
			imports[path] = strings.Split(list, ",")
		}
	}
	require.Greater(t, len(imports), 50)
	require.Empty(t, violations(imports))
}

// The rules catch what they are meant to: each broken edge is reported.
func TestImportRulesCatchViolations(t *testing.T) {
	ok := map[string][]string{}
	for _, r := range importRules {
		ok[mod+r.pkg] = nil
	}
	require.Empty(t, violations(ok))
	bad := map[string][]string{}
	for k := range ok {
		bad[k] = nil
	}
	bad[mod+"internal/supervisor"] = []string{mod + "internal/x"}
	bad[mod+"internal/x"] = []string{"github.com/compose-spec/compose-go/v2/types"} // through another package
	bad[mod+"internal/backend/docker"] = []string{mod + "internal/supervisor"}
	bad[mod+"internal/cli"] = []string{mod + "internal/probe", mod + "internal/app"}
	bad[mod+"internal/app"] = []string{mod + "internal/backend/docker"}
	bad[mod+"internal/render/kind"] = []string{"os"}
	got := violations(bad)
	for _, want := range []string{
		"internal/supervisor depends on github.com/compose-spec/compose-go/v2/types",
		"internal/backend/docker depends on " + mod + "internal/supervisor",
		"internal/cli imports " + mod + "internal/probe",
		"internal/cli depends on " + mod + "internal/backend/docker",
		"internal/render/kind imports os",
	} {
		require.True(t, slices.ContainsFunc(got, func(s string) bool { return strings.HasPrefix(s, want) }), "%q not reported in %q", want, got)
	}
}
