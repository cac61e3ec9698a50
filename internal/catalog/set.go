package catalog

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Set is a base catalog together with every environment overlay found next
// to it: what the renderers turn into committed artifacts.
type Set struct {
	// Base is the catalog with no overlay (environment named after it).
	Base *Catalog
	// Envs maps environment names (local, ci, pr) to the catalog with that
	// overlay applied.
	Envs map[string]*Catalog
}

// EnvNames returns the environment names, sorted.
func (s *Set) EnvNames() []string { return sortedKeys(s.Envs) }

// ForKindOverlay returns the environment rendered as the kind overlay
// (Environment.KindOverlay), or nil when no environment names it.
func (s *Set) ForKindOverlay(overlay string) *Catalog {
	for _, name := range s.EnvNames() {
		if c := s.Envs[name]; c.Env.KindOverlay == overlay {
			return c
		}
	}
	return nil
}

// LoadSet is LoadSetContext with a background context.
func LoadSet(path string) (*Set, error) { return LoadSetContext(context.Background(), path) }

// LoadSetContext loads the catalog at path and every environment next to
// it. Every *.yaml and *.yml file in the catalog's directory is parsed: a
// document of kind Environment (quoted or not) is an environment, a
// Catalog is left alone, anything else (another kind, no kind, not YAML)
// is a problem. Two environments of one name, and host port blocks that
// overlap between environments, are problems too. Problems of all of them
// are reported together.
func LoadSetContext(ctx context.Context, path string) (*Set, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	base, err := LoadContext(ctx, path, Options{})
	var all Problems
	if ps, ok := err.(Problems); ok {
		all = append(all, ps...)
	} else if err != nil {
		return nil, err
	}
	set := &Set{Base: base, Envs: map[string]*Catalog{}}
	envFiles, ps := FindEnvironments(ctx, path)
	all = append(all, ps...)
	byName := map[string]string{}
	for _, f := range envFiles {
		c, err := LoadContext(ctx, path, Options{Env: f})
		if ps, ok := err.(Problems); ok {
			all = append(all, ps...)
			continue
		} else if err != nil {
			return nil, err
		}
		name := c.Env.Metadata.Name
		if other, dup := byName[name]; dup {
			all = append(all, Problem{Pos: c.Env.Metadata.PosOf("name"), Field: "metadata.name",
				Msg: fmt.Sprintf("environment %q is also defined in %s", name, other), Hint: "give each environment its own name and file"})
			continue
		}
		byName[name] = f
		set.Envs[name] = c
	}
	all = append(all, portBlockOverlaps(set)...)
	overlays := map[string]string{}
	for _, name := range set.EnvNames() {
		env := set.Envs[name].Env
		if o := env.KindOverlay; o != "" {
			if other, dup := overlays[o]; dup {
				all = append(all, Problem{Pos: env.PosOf("kindOverlay"), Field: "kindOverlay",
					Msg: fmt.Sprintf("kind overlay %q is also rendered from environment %s", o, other), Hint: "one environment per overlay"})
			}
			overlays[o] = name
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("loading %s: %w", path, err)
	}
	if len(all) > 0 {
		all = dedupe(all)
		all.Sort()
		return nil, all
	}
	return set, nil
}

// FindEnvironments returns the environment files next to the catalog at
// path, sorted, by parsing every *.yaml and *.yml file there (never by
// searching text); files that are neither an Environment nor a Catalog are
// problems.
func FindEnvironments(ctx context.Context, path string) ([]string, Problems) {
	dir := filepath.Dir(path)
	var files []string
	for _, pat := range []string{"*.yaml", "*.yml"} {
		m, _ := filepath.Glob(filepath.Join(dir, pat))
		files = append(files, m...)
	}
	slices.Sort(files)
	var envs []string
	var ps Problems
	for _, f := range files {
		if ctx.Err() != nil {
			return nil, nil
		}
		if filepath.Clean(f) == filepath.Clean(path) {
			continue
		}
		kind, p := documentKind(ctx, f)
		switch {
		case p != nil:
			ps = append(ps, *p)
		case kind == KindEnvironment:
			envs = append(envs, f)
		case kind == KindCatalog:
			// another catalog beside this one: not an overlay of it
		}
	}
	return envs, ps
}

// documentKind reads the top-level kind of a YAML file.
func documentKind(ctx context.Context, file string) (string, *Problem) {
	data, err := ReadFile(ctx, nil, file, MaxCatalogSize)
	if err != nil {
		return "", &Problem{Pos: Pos{File: file}, Msg: "reading " + file + ": " + describeReadError(err)}
	}
	root, perr := parse(file, data)
	if perr != nil {
		return "", perr
	}
	n := root
	for n.Kind == yaml.DocumentNode && len(n.Content) == 1 {
		n = n.Content[0]
	}
	hint := fmt.Sprintf("a file next to the catalog is an environment (kind: %s) or a catalog (kind: %s); move other files elsewhere", KindEnvironment, KindCatalog)
	if n.Kind != yaml.MappingNode {
		return "", &Problem{Pos: Pos{File: file, Line: n.Line, Col: n.Column}, Msg: "expected a mapping with kind: " + KindEnvironment, Hint: hint}
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k := n.Content[i]; k.Value == "kind" {
			v := n.Content[i+1]
			if v.Kind == yaml.ScalarNode && (v.Value == KindEnvironment || v.Value == KindCatalog) {
				return v.Value, nil
			}
			what := fmt.Sprintf("%q", v.Value)
			if v.Kind != yaml.ScalarNode {
				what = kindName(v)
			}
			return "", &Problem{Pos: Pos{File: file, Line: v.Line, Col: v.Column}, Field: "kind",
				Msg: fmt.Sprintf("kind %s is neither %s nor %s", what, KindEnvironment, KindCatalog), Hint: suggestOr(v.Value, hint)}
		}
	}
	return "", &Problem{Pos: Pos{File: file, Line: n.Line, Col: n.Column}, Field: "kind", Msg: "no kind: this file is neither an environment nor a catalog", Hint: "add kind: " + KindEnvironment + " (" + hint + ")"}
}

func suggestOr(got, fallback string) string {
	if s := suggest(got, []string{KindEnvironment, KindCatalog}); s != "" {
		return s
	}
	return fallback
}

// DefaultEnvironment is the environment to load when none was asked for:
// env (the default, local) when the catalog has environments next to it.
// A catalog alone in its directory (a catalog mounted into a kind Job) is
// the bare catalog: "" . A missing, dangling or looping default file next
// to other environments is not silently skipped: env is returned and Load
// reports the file.
func DefaultEnvironment(path, env string) string {
	if env == "" || EnvironmentFile(path, env) != "" {
		return env
	}
	dir := filepath.Dir(path)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return env
	}
	for _, e := range entries {
		n := e.Name()
		if (strings.HasSuffix(n, ".yaml") || strings.HasSuffix(n, ".yml")) && filepath.Join(dir, n) != filepath.Clean(path) {
			return env
		}
	}
	return ""
}

// portBlockOverlaps reports environments whose host port blocks overlap:
// run side by side on one engine, they would fight over ports.
func portBlockOverlaps(set *Set) Problems {
	type block struct {
		name     string
		c        *Catalog
		min, max int
	}
	var blocks []block
	for _, name := range set.EnvNames() {
		c := set.Envs[name]
		lo, hi := c.HostPortRange()
		if hi == 0 {
			continue
		}
		blocks = append(blocks, block{name, c, lo, hi})
	}
	var ps Problems
	for i, a := range blocks {
		for _, b := range blocks[:i] {
			if a.min <= b.max && b.min <= a.max {
				ps = append(ps, Problem{Pos: a.c.Env.PosOf("hostPortBase"), Field: "hostPortBase",
					Msg:  fmt.Sprintf("host ports %d-%d of environment %s overlap %d-%d of environment %s (%s)", a.min, a.max, a.name, b.min, b.max, b.name, b.c.Env.File),
					Hint: "give each environment its own hostPortBase, far enough apart for the whole block"})
			}
		}
	}
	return ps
}

// HostPortRange returns the lowest and highest host port the environment
// publishes (0, 0 when it publishes none).
func (c *Catalog) HostPortRange() (lo, hi int) {
	see := func(p int) {
		if p == 0 {
			return
		}
		if lo == 0 || p < lo {
			lo = p
		}
		if p > hi {
			hi = p
		}
	}
	for _, st := range c.ActiveStores() {
		if st.External || st.Host == 0 {
			continue
		}
		see(st.Host)
		if st.Kind == StoreRedisCluster && st.Nodes > 1 && st.Nodes <= MaxRedisNodes {
			see(st.Host + st.Nodes - 1)
		}
	}
	for _, s := range c.ActiveServices() {
		for _, p := range s.Ports {
			see(p.Host)
		}
	}
	return lo, hi
}

func dedupe(ps Problems) Problems {
	seen := map[string]bool{}
	var out Problems
	for _, p := range ps {
		if k := p.String(); !seen[k] {
			seen[k] = true
			out = append(out, p)
		}
	}
	return out
}
