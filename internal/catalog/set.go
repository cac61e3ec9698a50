package catalog

import (
	"bytes"
	"os"
	"path/filepath"
	"sort"
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
func (s *Set) EnvNames() []string {
	out := make([]string, 0, len(s.Envs))
	for n := range s.Envs {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// LoadSet loads the catalog at path and every Environment file in its
// directory (YAML files whose kind is Environment). Problems of all of them
// are reported together.
func LoadSet(path string) (*Set, error) {
	base, err := Load(path, Options{})
	var all Problems
	if ps, ok := err.(Problems); ok {
		all = append(all, ps...)
	} else if err != nil {
		return nil, err
	}
	set := &Set{Base: base, Envs: map[string]*Catalog{}}
	files, _ := filepath.Glob(filepath.Join(filepath.Dir(path), "*.yaml"))
	sort.Strings(files)
	for _, f := range files {
		if filepath.Clean(f) == filepath.Clean(path) {
			continue
		}
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		if !bytes.Contains(data, []byte("kind: "+KindEnvironment)) {
			continue
		}
		c, err := Load(path, Options{Env: f})
		if ps, ok := err.(Problems); ok {
			all = append(all, ps...)
			continue
		} else if err != nil {
			return nil, err
		}
		set.Envs[c.Env.Metadata.Name] = c
	}
	if len(all) > 0 {
		all = dedupe(all)
		all.Sort()
		return nil, all
	}
	return set, nil
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
