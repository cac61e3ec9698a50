// Package compose turns one catalog environment into a docker-compose
// project: a compose-go types.Project that the Docker supervisor can create
// containers from, and the same project as deterministic YAML for
// `docker compose`. Stores, one-shot bootstraps and services become compose
// services on one network; the catalog's dependency graph becomes depends_on
// with health conditions; secrets appear only as ${VAR} references that
// docker compose fills from compose/.env (see internal/secrets and
// docs/compose.md).
package compose

import (
	"context"
	"fmt"
	"path"
	"path/filepath"
	"strings"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"

	"github.com/novadev/novadev/internal/catalog"
	"github.com/novadev/novadev/internal/render"
)

// Dir is the folder, relative to the repository root, holding the rendered
// compose files and the env file docker compose reads by itself.
const Dir = "compose"

// DefaultEnv is the environment rendered as plain docker-compose.yaml.
const DefaultEnv = "local"

// FileName returns the repository-relative path of an environment's compose
// file: compose/docker-compose.yaml for DefaultEnv, compose/docker-compose.<env>.yaml
// otherwise.
func FileName(env string) string {
	if env == DefaultEnv {
		return Dir + "/docker-compose.yaml"
	}
	return Dir + "/docker-compose." + env + ".yaml"
}

// Render renders every environment of the set, each into its FileName.
// The bytes depend only on the catalog: same catalog, same files.
func Render(set *catalog.Set) (render.Files, error) {
	files := render.Files{}
	for _, env := range set.EnvNames() {
		p, err := Project(set.Envs[env])
		if err != nil {
			return nil, fmt.Errorf("environment %s: %w", env, err)
		}
		data, err := Marshal(p)
		if err != nil {
			return nil, fmt.Errorf("environment %s: %w", env, err)
		}
		files[FileName(env)] = data
	}
	return files, nil
}

// Marshal writes a project made by Project as compose YAML: a header comment
// (render.Header first), paths relative to the project's working directory
// (the compose folder) and memory sizes in compose units (512m). It is
// compose-go's own JSON form written as block YAML (emit.go): keys in a
// fixed order, strings quoted wherever YAML could read them otherwise, the
// same bytes for the same project.
func Marshal(p *types.Project) ([]byte, error) {
	tree, err := projectTree(relativePaths(p))
	if err != nil {
		return nil, err
	}
	e := &emitter{buf: make([]byte, 0, 2048*(len(p.Services)+1))}
	e.buf = append(e.buf, "# "+render.Header+"\n"...)
	for _, line := range headerLines(p) {
		e.buf = append(e.buf, "# "+line+"\n"...)
	}
	e.mapping(tree, 0, false, ctxTop)
	return e.buf, nil
}

func headerLines(p *types.Project) []string {
	env := ""
	for _, s := range p.Services {
		env = s.Labels[LabelEnv]
		break
	}
	lines := []string{
		fmt.Sprintf("Environment %q, project %s. Credentials: %s/.env (novadev render compose or novadev up creates them); never in this file.", env, p.Name, Dir),
	}
	var profiles []string
	seen := map[string]bool{}
	for _, name := range p.ServiceNames() {
		for _, pr := range p.Services[name].Profiles {
			if !seen[pr] {
				seen[pr] = true
				profiles = append(profiles, pr)
			}
		}
	}
	if len(profiles) > 0 {
		lines = append(lines, "Optional parts: add --profile "+strings.Join(profiles, " --profile ")+" to start them.")
	}
	return lines
}

// relativePaths returns a copy of p whose bind-mount sources and build
// contexts under the project's working directory's parent are relative to
// the working directory, so the file does not depend on where the checkout
// lives (compose resolves them against the file's folder again).
func relativePaths(p *types.Project) *types.Project {
	out := *p
	out.Services = types.Services{}
	for name, s := range p.Services {
		if len(s.Volumes) > 0 {
			vols := make([]types.ServiceVolumeConfig, len(s.Volumes))
			copy(vols, s.Volumes)
			for i, v := range vols {
				if v.Type == types.VolumeTypeBind {
					vols[i].Source = relTo(p.WorkingDir, v.Source)
				}
			}
			s.Volumes = vols
		}
		if s.Build != nil {
			b := *s.Build
			b.Context = relTo(p.WorkingDir, b.Context)
			s.Build = &b
		}
		out.Services[name] = s
	}
	return &out
}

func relTo(base, target string) string {
	if base == "" || !filepath.IsAbs(target) {
		return target
	}
	r, err := filepath.Rel(base, target)
	if err != nil {
		return target
	}
	r = filepath.ToSlash(r)
	if !strings.HasPrefix(r, ".") {
		r = "./" + r
	}
	return r
}

// bytesUnit writes b with the largest binary unit that divides it exactly,
// in the suffixes compose (go-units RAMInBytes) reads: k, m, g are 1024-based.
func bytesUnit(b int64) string {
	for _, u := range []struct {
		suffix string
		size   int64
	}{{"g", 1 << 30}, {"m", 1 << 20}, {"k", 1 << 10}} {
		if b >= u.size && b%u.size == 0 {
			return fmt.Sprintf("%d%s", b/u.size, u.suffix)
		}
	}
	return fmt.Sprintf("%d", b)
}

// Load parses compose YAML the way docker compose does (compose-go's own
// loader: schema validation, ${VAR} interpolation from env, normalization)
// with workingDir as the project directory. The supervisor can use it to
// turn Marshal's bytes plus the env file into the exact project docker
// compose would run; tests use it to prove the rendered file is valid.
func Load(ctx context.Context, data []byte, workingDir string, env map[string]string) (*types.Project, error) {
	mapping := types.Mapping{} // the loader adds to it: never the caller's map
	for k, v := range env {
		mapping[k] = v
	}
	return loader.LoadWithContext(ctx, types.ConfigDetails{
		WorkingDir:  workingDir,
		ConfigFiles: []types.ConfigFile{{Filename: path.Join(workingDir, "docker-compose.yaml"), Content: data}},
		Environment: mapping,
	})
}
