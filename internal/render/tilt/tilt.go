// Package tilt renders the catalog as one Tiltfile that serves both targets
// (the docker-compose stack and the kind cluster) for every environment,
// chosen at `tilt up` time with Tilt config settings. Every Tilt resource
// stands for one node of the catalog's dependency graph and its
// resource_deps are that node's edges, so Tilt brings the stack up in the
// same order as the supervisor does. docs/tilt.md explains the mapping.
package tilt

import (
	"fmt"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/novadev/novadev/internal/catalog"
	"github.com/novadev/novadev/internal/render"
)

// File is the path Render writes, relative to the repository root.
const File = "Tiltfile"

// Targets are the values of the Tiltfile's `--target` setting.
const (
	TargetCompose = "compose"
	TargetKind    = "kind"
)

// Labels group resources in the Tilt UI, one per graph node kind.
const (
	LabelServices   = "services"
	LabelStores     = "stores"
	LabelBootstraps = "bootstraps"
)

// DefaultEnv is the environment `tilt up` runs when no `--env` is given
// (when the catalog has it; otherwise the first environment by name).
const DefaultEnv = "local"

// width is where a call breaks onto several lines.
const width = 100

// Render turns the catalog and its environments into the Tiltfile. The
// output depends only on the catalog, so it is byte-for-byte reproducible.
func Render(set *catalog.Set) (render.Files, error) {
	if set == nil || len(set.Envs) == 0 {
		return nil, fmt.Errorf("tilt: the catalog has no environments (add envs/local.yaml)")
	}
	envs := set.EnvNames()
	def := envs[0]
	if _, ok := set.Envs[DefaultEnv]; ok {
		def = DefaultEnv
	}
	w := &writer{}
	w.header(set, envs, def)
	for _, t := range []string{TargetCompose, TargetKind} {
		for _, e := range targetEnvs(t, set, envs) {
			p, err := plan(t, e, set.Envs[e])
			if err != nil {
				return nil, err
			}
			w.function(p)
		}
	}
	w.dispatch(set, envs, def)
	return render.Files{File: []byte(w.String())}, nil
}

// targetEnvs are the environments a target offers: all for compose, those
// with an overlay for kind.
func targetEnvs(target string, set *catalog.Set, envs []string) []string {
	if target == TargetCompose {
		return envs
	}
	var out []string
	for _, e := range envs {
		if KindOverlay(set.Envs[e]) != "" {
			out = append(out, e)
		}
	}
	return out
}

// ComposeFile is the compose file the compose renderer writes for env.
func ComposeFile(env string) string {
	if env == DefaultEnv {
		return "compose/docker-compose.yaml"
	}
	return "compose/docker-compose." + env + ".yaml"
}

// Kind overlays whose shape the Tiltfile knows (as the kind renderer
// writes them): dev publishes the gateway through the cluster itself, pr
// suffixes workload names.
const (
	overlayDev = "dev"
	overlayPR  = "pr"
)

// KindOverlay is the kustomize overlay the kind target applies for an
// environment: the one it names in kindOverlay (envs/local.yaml: dev,
// envs/pr.yaml: pr). Other environments (ci) have none: "" and the kind
// target does not offer them.
func KindOverlay(c *catalog.Catalog) string {
	if c == nil || c.Env == nil || c.Env.KindOverlay == "" {
		return ""
	}
	return "kind/overlays/" + c.Env.KindOverlay
}

// PRSuffix is the name suffix the kind pr overlay puts on Deployments and
// Jobs (not on StatefulSets and Services, whose names are network
// identities). Tilt finds workloads by their names, so the pr Tiltfile
// function asks for workload <name>-pr and renames the resource back to
// <name>, keeping resource names equal to graph nodes.
const PRSuffix = "-pr"

// resource is one Tilt resource.
type resource struct {
	name     string
	workload string // kind target: the workload, when its name differs
	label    string
	deps     []string
	ports    []string // kind target: LOCAL:CONTAINER port forwards
	// standIn, when set, makes this a local_resource that only says why the
	// node runs nowhere (an external store, or an optional store the
	// environment has no image for).
	standIn string
}

// build is one docker_build.
type build struct {
	ref, context, dockerfile, target string
	syncs                            [][2]string
}

// env is what one (target, environment) function does.
type envPlan struct {
	target, env string
	c           *catalog.Catalog
	builds      []build
	layers      [][]resource
}

// plan maps the environment's graph onto Tilt resources for one target.
func plan(target, env string, c *catalog.Catalog) (*envPlan, error) {
	g := c.Graph()
	layers, err := g.Layers()
	if err != nil {
		return nil, fmt.Errorf("tilt: environment %s: %w", env, err)
	}
	names := func(n string) []string {
		it, _ := g.Node(n)
		return resourceNames(target, it)
	}
	p := &envPlan{target: target, env: env, c: c}
	for _, layer := range layers {
		var rs []resource
		for _, n := range layer {
			it, _ := g.Node(n)
			var deps []string
			for _, d := range g.Needs(n) {
				deps = append(deps, names(d)...)
			}
			for _, rn := range names(n) {
				r := resource{name: rn, label: label(it.Kind), deps: deps, standIn: standIn(it)}
				if target == TargetKind && r.standIn == "" {
					r.ports = portForwards(c.Env.KindOverlay, it)
					if c.Env.KindOverlay == overlayPR && it.Kind != catalog.KindStore {
						r.workload = rn + PRSuffix
					}
				}
				rs = append(rs, r)
			}
		}
		p.layers = append(p.layers, rs)
	}
	dir := catalogDir(c)
	for _, s := range c.ActiveServices() {
		if s.Build == nil {
			continue
		}
		b := build{
			ref:     imageRepo(s),
			context: path.Join(dir, s.Build.Context),
			target:  s.Build.Target,
		}
		df := s.Build.Dockerfile
		if df == "" {
			df = "Dockerfile"
		}
		// the catalog's dockerfile is relative to the context (as in
		// compose); Tilt's is relative to the Tiltfile
		b.dockerfile = path.Join(b.context, df)
		for _, sy := range s.Build.LiveUpdate {
			b.syncs = append(b.syncs, [2]string{path.Join(dir, sy.From), sy.To})
		}
		p.builds = append(p.builds, b)
	}
	return p, nil
}

// resourceNames are the Tilt resources one graph node becomes: one, except
// a Redis Cluster in compose, which runs one compose service per node
// (<store>-1 … <store>-N) and so becomes N resources.
func resourceNames(target string, it *catalog.Item) []string {
	if target == TargetCompose && it.Kind == catalog.KindStore && standIn(it) == "" &&
		it.Store.Kind == catalog.StoreRedisCluster && it.Store.Nodes > 0 {
		out := make([]string, it.Store.Nodes)
		for i := range out {
			out[i] = fmt.Sprintf("%s-%d", it.Name, i+1)
		}
		return out
	}
	return []string{it.Name}
}

func label(k catalog.NodeKind) string {
	switch k {
	case catalog.KindService:
		return LabelServices
	case catalog.KindStore:
		return LabelStores
	default:
		return LabelBootstraps
	}
}

// standIn says why a store runs in no container ("" when it does): an
// external store is no compose service and no workload (both renderers skip
// it), and an unavailable optional store is not started, yet each is a graph
// node, so a local_resource that only says so keeps the edges to it.
func standIn(it *catalog.Item) string {
	if it.Kind != catalog.KindStore {
		return ""
	}
	st := it.Store
	switch {
	case st.External && st.URI != "":
		return fmt.Sprintf("%s is external (%s): novadev does not run it", st.Name, st.URI)
	case st.External:
		return fmt.Sprintf("%s is external: novadev does not run it", st.Name)
	case it.Unavailable != "":
		// an optional store this environment has no image for: neither the
		// compose file (it sits behind a profile) nor the overlay starts
		// it; the stand-in keeps its users' resource_deps and says why
		return fmt.Sprintf("%s unavailable (%s): its users run degraded", st.Name, it.Unavailable)
	}
	return ""
}

// portForwards publishes on the host what the compose target publishes:
// each service port with a host port, and each store's client port. The
// dev overlay's http ports are the exception: the kind cluster itself
// publishes them (a NodePort and extraPortMappings in kind/cluster.yaml), and
// a port-forward on the same host port would collide with it.
func portForwards(overlay string, it *catalog.Item) []string {
	var out []string
	switch it.Kind {
	case catalog.KindService:
		for _, p := range it.Service.Ports {
			if overlay == overlayDev && p.Name == "http" {
				continue
			}
			if p.Host != 0 {
				out = append(out, fmt.Sprintf("%d:%d", p.Host, p.Port))
			}
		}
	case catalog.KindStore:
		if it.Store.Host != 0 && it.Store.Port != 0 {
			out = append(out, fmt.Sprintf("%d:%d", it.Store.Host, it.Store.Port))
		}
	}
	return out
}

// catalogDir is the catalog's directory as seen from the repository root,
// where the Tiltfile lives: the catalog directory (envs/) sits at the root.
// Using only its last element keeps the output independent of the path the
// catalog was loaded by.
func catalogDir(c *catalog.Catalog) string {
	return filepath.Base(filepath.Dir(c.File))
}

// imageRepo is the image reference without tag or digest: Tilt matches a
// tagless docker_build ref against any tag of that repository in the compose
// file or the Kubernetes objects.
func imageRepo(s *catalog.Service) string {
	ref := s.Image
	if ref == "" {
		return s.Name
	}
	if i := strings.IndexByte(ref, '@'); i >= 0 {
		ref = ref[:i]
	}
	if i := strings.LastIndexByte(ref, ':'); i > strings.LastIndexByte(ref, '/') {
		ref = ref[:i]
	}
	return ref
}

// funcName is the Starlark function of one (target, environment).
func funcName(target, env string) string {
	return target + "_" + strings.NewReplacer("-", "_", ".", "_").Replace(env)
}

// writer builds the Tiltfile text.
type writer struct{ strings.Builder }

func (w *writer) line(format string, args ...any) {
	fmt.Fprintf(w, format, args...)
	w.WriteByte('\n')
}

func (w *writer) header(set *catalog.Set, envs []string, def string) {
	first := set.Envs[envs[0]]
	file := path.Join(catalogDir(first), filepath.Base(first.File))
	w.line("# %s", render.Header)
	w.line("#")
	w.line("# Tilt for the %s catalog (%s): one file, two targets, every environment.", first.Metadata.Name, file)
	w.line("#")
	for _, ex := range [][2]string{
		{"tilt up", "compose target, " + def + " environment"},
		{"tilt up -- --env=" + envs[len(envs)-1], "compose target, another environment"},
		{"tilt up -- --target=kind", "the kind cluster (kustomize overlay), " + def + " environment"},
	} {
		w.line("#   %-40s # %s", ex[0], ex[1])
	}
	w.line("#")
	w.line("# Each resource is one node of the catalog's dependency graph (`novadev graph`)")
	w.line("# and its resource_deps are exactly that node's edges; docs/tilt.md has the mapping.")
	w.line("")
	w.line("config.define_string(%s, usage=%s)", q("target"), q("where to run: compose (default) or kind"))
	w.line("config.define_string(%s, usage=%s)", q("env"), q("which environment: "+strings.Join(envs, ", ")+
		" (default "+def+"; kind: "+strings.Join(targetEnvs(TargetKind, set, envs), ", ")+")"))
	w.line("cfg = config.parse()")
	w.line("target = cfg.get(%s, %s)", q("target"), q(TargetCompose))
	w.line("env = cfg.get(%s, %s)", q("env"), q(def))
}

func (w *writer) function(p *envPlan) {
	w.line("")
	w.line("")
	w.line("def %s():", funcName(p.target, p.env))
	switch p.target {
	case TargetCompose:
		w.line("    # %s (novadev render compose), Compose project %s", ComposeFile(p.env), p.c.Env.Project)
		args := []arg{pos(q(ComposeFile(p.env))), kw("project_name", q(p.c.Env.Project))}
		if profiles := slices.Sorted(slices.Values(p.c.Env.Profiles)); len(profiles) > 0 {
			// services behind a profile exist for Tilt only when it is on
			args = append(args, kwList("profiles", quoteAll(profiles)))
		}
		w.call("docker_compose", args...)
	case TargetKind:
		w.line("    # %s (novadev render kind), namespace %s", KindOverlay(p.c), p.c.Env.Namespace)
		w.call("k8s_yaml", pos(fmt.Sprintf("kustomize(%s)", q(KindOverlay(p.c)))))
	}
	for _, b := range p.builds {
		args := []arg{pos(q(b.ref)), pos(q(b.context)), kw("dockerfile", q(b.dockerfile))}
		if b.target != "" {
			args = append(args, kw("target", q(b.target)))
		}
		if len(b.syncs) > 0 {
			var syncs []string
			for _, s := range b.syncs {
				syncs = append(syncs, fmt.Sprintf("sync(%s, %s)", q(s[0]), q(s[1])))
			}
			args = append(args, kwList("live_update", syncs))
		}
		w.call("docker_build", args...)
	}
	for i, layer := range p.layers {
		w.line("")
		w.line("    # layer %d", i)
		for _, r := range layer {
			fn, args := "dc_resource", []arg{pos(q(r.name))}
			if r.workload != "" {
				args = []arg{kw("workload", q(r.workload)), kw("new_name", q(r.name))}
			}
			switch {
			case r.standIn != "":
				fn = "local_resource"
				args = append(args, kw("cmd", q("echo "+shellQuote(r.standIn))))
			case p.target == TargetKind:
				fn = "k8s_resource"
			}
			if len(r.deps) > 0 {
				args = append(args, kwList("resource_deps", quoteAll(r.deps)))
			}
			if len(r.ports) > 0 {
				args = append(args, kwList("port_forwards", quoteAll(r.ports)))
			}
			w.call(fn, append(args, kwList("labels", []string{q(r.label)}))...)
		}
	}
}

func (w *writer) dispatch(set *catalog.Set, envs []string, def string) {
	w.line("")
	w.line("")
	w.line("ENVIRONMENTS = {")
	for _, t := range []string{TargetCompose, TargetKind} {
		w.line("    %s: {", q(t))
		for _, e := range targetEnvs(t, set, envs) {
			w.line("        %s: %s,", q(e), funcName(t, e))
		}
		w.line("    },")
	}
	w.line("}")
	w.line("")
	w.line("if target not in ENVIRONMENTS:")
	w.line(`    fail("unknown --target=%%s: use one of %%s" %% (target, ", ".join(ENVIRONMENTS.keys())))`)
	w.line("if env not in ENVIRONMENTS[target]:")
	w.line(`    available = ", ".join(ENVIRONMENTS[target].keys())`)
	w.line(`    fail("--env=%%s is not available for --target=%%s: use one of %%s" %% (env, target, available))`)
	w.line("ENVIRONMENTS[target][env]()")
}

// arg is one call argument, already in Starlark syntax; list arguments keep
// their elements so that a long list can break one element per line.
type arg struct {
	key   string
	value string
	list  []string
	isLst bool
}

func pos(v string) arg                 { return arg{value: v} }
func kw(k, v string) arg               { return arg{key: k, value: v} }
func kwList(k string, vs []string) arg { return arg{key: k, list: vs, isLst: true} }

func (a arg) inline() string {
	v := a.value
	if a.isLst {
		v = "[" + strings.Join(a.list, ", ") + "]"
	}
	if a.key != "" {
		return a.key + "=" + v
	}
	return v
}

// call writes fn(args) inside a function body: on one line when it fits,
// otherwise one argument per line and long lists wrapped inside brackets.
func (w *writer) call(fn string, args ...arg) {
	parts := make([]string, len(args))
	for i, a := range args {
		parts[i] = a.inline()
	}
	one := "    " + fn + "(" + strings.Join(parts, ", ") + ")"
	if len(one) <= width {
		w.line("%s", one)
		return
	}
	w.line("    %s(", fn)
	for i, a := range args {
		if l := "        " + parts[i] + ","; len(l) <= width || !a.isLst {
			w.line("%s", l)
			continue
		}
		w.line("        %s=[", a.key)
		// short elements (resource names) share lines; long ones (sync
		// steps) get a line each
		long := false
		for _, v := range a.list {
			long = long || len(v) > 40
		}
		cur := "           "
		for _, v := range a.list {
			if (long || len(cur)+1+len(v)+1 > width) && strings.TrimSpace(cur) != "" {
				w.line("%s", cur)
				cur = "           "
			}
			cur += " " + v + ","
		}
		w.line("%s", cur)
		w.line("        ],")
	}
	w.line("    )")
}

// q quotes a string for Starlark (whose string escapes are Go's).
func q(s string) string { return strconv.Quote(s) }

func quoteAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = q(s)
	}
	return out
}

// shellQuote quotes a message for `sh -c echo …` (and Windows' cmd, which
// echoes single quotes verbatim: harmless).
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
