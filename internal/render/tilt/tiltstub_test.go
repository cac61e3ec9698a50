package tilt_test

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"

	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"
	"go.starlark.net/syntax"
)

// Stand-ins for the Tilt builtins the rendered Tiltfile calls. Each one
// unpacks its arguments with Tilt's own parameter names (copied from
// tilt-dev/tilt internal/tiltfile: docker_compose.go, k8s.go, docker.go,
// local_resource.go, live_update.go, files.go, config/config_def.go), so a
// misspelled keyword fails as it would in Tilt, and records the call. Only
// these names are predeclared: any other builtin is an "undefined" error at
// compile time, as a typo would be in Tilt.

// tiltFileOptions are the Starlark dialect Tilt enables
// (internal/tiltfile/starkit/environment.go).
var tiltFileOptions = &syntax.FileOptions{Set: true, GlobalReassign: true, Recursion: true, TopLevelControl: true, While: true}

// tiltResource is one recorded dc_resource, k8s_resource or local_resource.
type tiltResource struct {
	Fn       string
	Workload string // k8s_resource: the workload it selects
	Deps     []string
	Labels   []string
	Ports    []string
	Cmd      string
}

// dockerBuild is one recorded docker_build.
type dockerBuild struct {
	Ref, Context, Dockerfile, Target string
	Syncs                            [][2]string
}

// recording is everything one evaluation of the Tiltfile did.
type recording struct {
	Compose         []string // docker_compose paths
	ComposeProject  string
	ComposeProfiles []string
	Kustomize       []string // k8s_yaml(kustomize(dir)) dirs
	Resources       map[string]*tiltResource
	Order           []string
	Builds          []dockerBuild
}

// syncStep is the value sync() returns.
type syncStep struct{ from, to string }

func (s syncStep) String() string        { return fmt.Sprintf("sync(%q, %q)", s.from, s.to) }
func (syncStep) Type() string            { return "live_update_sync_step" }
func (syncStep) Freeze()                 {}
func (syncStep) Truth() starlark.Bool    { return true }
func (syncStep) Hash() (uint32, error)   { return 0, fmt.Errorf("unhashable") }
func (k kustomized) String() string      { return "kustomize(" + string(k) + ")" }
func (kustomized) Type() string          { return "blob" }
func (kustomized) Freeze()               {}
func (kustomized) Truth() starlark.Bool  { return true }
func (kustomized) Hash() (uint32, error) { return 0, fmt.Errorf("unhashable") }

// kustomized is the blob kustomize() returns: the directory it would build.
type kustomized string

// evalTiltfile runs src as Tilt would with `tilt up -- --k=v` for each cli entry; root is the
// Tiltfile's directory, against which build contexts, Dockerfiles and sync
// paths must exist (Tilt reads them while loading).
func evalTiltfile(src []byte, root string, cli map[string]string) (*recording, error) {
	rec := &recording{Resources: map[string]*tiltResource{}}
	defined := map[string]bool{}
	parsed := false

	strs := func(fn, what string, v starlark.Value) ([]string, error) {
		if v == nil || v == starlark.None {
			return nil, nil
		}
		l, ok := v.(*starlark.List)
		if !ok {
			return nil, fmt.Errorf("%s: %s must be a list, got %s", fn, what, v.Type())
		}
		var out []string
		for i := range l.Len() {
			s, ok := starlark.AsString(l.Index(i))
			if !ok {
				return nil, fmt.Errorf("%s: %s[%d] is %s, not a string", fn, what, i, l.Index(i).Type())
			}
			out = append(out, s)
		}
		return out, nil
	}
	mustExist := func(fn, p string) error {
		if _, err := os.Stat(filepath.Join(root, filepath.FromSlash(p))); err != nil {
			return fmt.Errorf("%s: %s does not exist next to the Tiltfile", fn, p)
		}
		return nil
	}
	addResource := func(fn, name string, r *tiltResource) error {
		if name == "" {
			return fmt.Errorf("%s: empty name", fn)
		}
		if _, dup := rec.Resources[name]; dup {
			return fmt.Errorf("%s: resource %q declared twice", fn, name)
		}
		r.Fn = fn
		rec.Resources[name] = r
		rec.Order = append(rec.Order, name)
		return nil
	}
	builtin := func(name string, f func(b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error)) *starlark.Builtin {
		return starlark.NewBuiltin(name, func(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
			return f(b, args, kwargs)
		})
	}

	predeclared := starlark.StringDict{
		"docker_compose": builtin("docker_compose", func(b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
			var paths, envFile, wait, profiles starlark.Value
			var project string
			if err := starlark.UnpackArgs(b.Name(), args, kwargs, "configPaths", &paths, "env_file?", &envFile,
				"project_name?", &project, "profiles?", &profiles, "wait?", &wait); err != nil {
				return nil, err
			}
			p, ok := starlark.AsString(paths)
			if !ok {
				return nil, fmt.Errorf("docker_compose: want one path, got %s", paths)
			}
			rec.Compose = append(rec.Compose, p)
			rec.ComposeProject = project
			var err error
			if rec.ComposeProfiles, err = strs(b.Name(), "profiles", profiles); err != nil {
				return nil, err
			}
			return starlark.None, nil
		}),
		"dc_resource": builtin("dc_resource", func(b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
			var name, project, newName string
			var image, trigger, deps, inferLinks, links, labels, autoInit starlark.Value
			if err := starlark.UnpackArgs(b.Name(), args, kwargs, "name", &name, "image?", &image,
				"trigger_mode?", &trigger, "resource_deps?", &deps, "infer_links?", &inferLinks, "links?", &links,
				"labels?", &labels, "auto_init?", &autoInit, "project_name?", &project, "new_name?", &newName); err != nil {
				return nil, err
			}
			if len(rec.Compose) == 0 {
				return nil, fmt.Errorf("dc_resource(%q) before docker_compose: no Docker Compose service found", name)
			}
			r := &tiltResource{}
			var err error
			if r.Deps, err = strs(b.Name(), "resource_deps", deps); err != nil {
				return nil, err
			}
			if r.Labels, err = strs(b.Name(), "labels", labels); err != nil {
				return nil, err
			}
			return starlark.None, addResource(b.Name(), name, r)
		}),
		"kustomize": builtin("kustomize", func(b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
			var dir string
			var bin, flags starlark.Value
			if err := starlark.UnpackArgs(b.Name(), args, kwargs, "paths", &dir, "kustomize_bin?", &bin, "flags?", &flags); err != nil {
				return nil, err
			}
			return kustomized(dir), nil
		}),
		"k8s_yaml": builtin("k8s_yaml", func(b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
			var yaml, dup starlark.Value
			if err := starlark.UnpackArgs(b.Name(), args, kwargs, "yaml", &yaml, "allow_duplicates?", &dup); err != nil {
				return nil, err
			}
			k, ok := yaml.(kustomized)
			if !ok {
				return nil, fmt.Errorf("k8s_yaml: want kustomize(...), got %s", yaml)
			}
			rec.Kustomize = append(rec.Kustomize, string(k))
			return starlark.None, nil
		}),
		"k8s_resource": builtin("k8s_resource", func(b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
			var workload, newName string
			var ports, extra, trigger, deps, objects, autoInit, readiness, links, labels, discovery starlark.Value
			if err := starlark.UnpackArgs(b.Name(), args, kwargs, "workload?", &workload, "new_name?", &newName,
				"port_forwards?", &ports, "extra_pod_selectors?", &extra, "trigger_mode?", &trigger,
				"resource_deps?", &deps, "objects?", &objects, "auto_init?", &autoInit, "pod_readiness?", &readiness,
				"links?", &links, "labels?", &labels, "discovery_strategy?", &discovery); err != nil {
				return nil, err
			}
			if len(rec.Kustomize) == 0 {
				return nil, fmt.Errorf("k8s_resource(%q) before k8s_yaml: no workload found", workload)
			}
			r := &tiltResource{Workload: workload}
			var err error
			if r.Deps, err = strs(b.Name(), "resource_deps", deps); err != nil {
				return nil, err
			}
			if r.Labels, err = strs(b.Name(), "labels", labels); err != nil {
				return nil, err
			}
			if r.Ports, err = strs(b.Name(), "port_forwards", ports); err != nil {
				return nil, err
			}
			name := workload
			if newName != "" {
				name = newName
			}
			return starlark.None, addResource(b.Name(), name, r)
		}),
		"local_resource": builtin("local_resource", func(b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
			var name, cmd string
			var deps, trigger, resDeps, ignore, autoInit, serve, cmdBat, serveBat, parallel, links, labels, env, serveEnv, probe, dir, serveDir starlark.Value
			if err := starlark.UnpackArgs(b.Name(), args, kwargs, "name", &name, "cmd?", &cmd, "deps?", &deps,
				"trigger_mode?", &trigger, "resource_deps?", &resDeps, "ignore?", &ignore, "auto_init?", &autoInit,
				"serve_cmd?", &serve, "cmd_bat?", &cmdBat, "serve_cmd_bat?", &serveBat, "allow_parallel?", &parallel,
				"links?", &links, "labels?", &labels, "env?", &env, "serve_env?", &serveEnv,
				"readiness_probe?", &probe, "dir?", &dir, "serve_dir?", &serveDir); err != nil {
				return nil, err
			}
			r := &tiltResource{Cmd: cmd}
			var err error
			if r.Deps, err = strs(b.Name(), "resource_deps", resDeps); err != nil {
				return nil, err
			}
			if r.Labels, err = strs(b.Name(), "labels", labels); err != nil {
				return nil, err
			}
			return starlark.None, addResource(b.Name(), name, r)
		}),
		"sync": builtin("sync", func(b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
			var from, to string
			if err := starlark.UnpackArgs(b.Name(), args, kwargs, "local_path", &from, "remote_path", &to); err != nil {
				return nil, err
			}
			return syncStep{from, to}, nil
		}),
		"docker_build": builtin("docker_build", func(b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
			var ref, context, dockerfile, target string
			var buildArgs, contents, cache, live, match, ignore, only, entrypoint, cargs, ssh, secret, network, extraTag, cacheFrom, pull, platform, extraHosts starlark.Value
			if err := starlark.UnpackArgs(b.Name(), args, kwargs, "ref", &ref, "context", &context,
				"build_args?", &buildArgs, "dockerfile?", &dockerfile, "dockerfile_contents?", &contents, "cache?", &cache,
				"live_update?", &live, "match_in_env_vars?", &match, "ignore?", &ignore, "only?", &only,
				"entrypoint?", &entrypoint, "container_args?", &cargs, "target?", &target, "ssh?", &ssh,
				"secret?", &secret, "network?", &network, "extra_tag?", &extraTag, "cache_from?", &cacheFrom,
				"pull?", &pull, "platform?", &platform, "extra_hosts?", &extraHosts); err != nil {
				return nil, err
			}
			if dockerfile == "" {
				dockerfile = context + "/Dockerfile" // Tilt's default
			}
			for _, p := range []string{context, dockerfile} {
				if err := mustExist(b.Name(), p); err != nil {
					return nil, err
				}
			}
			d := dockerBuild{Ref: ref, Context: context, Dockerfile: dockerfile, Target: target}
			if live != nil {
				l, ok := live.(*starlark.List)
				if !ok {
					return nil, fmt.Errorf("docker_build: live_update must be a list")
				}
				for i := range l.Len() {
					s, ok := l.Index(i).(syncStep)
					if !ok {
						return nil, fmt.Errorf("docker_build: live_update[%d] is %s, not a sync step", i, l.Index(i).Type())
					}
					if err := mustExist("sync", s.from); err != nil {
						return nil, err
					}
					d.Syncs = append(d.Syncs, [2]string{s.from, s.to})
				}
			}
			rec.Builds = append(rec.Builds, d)
			return starlark.None, nil
		}),
		"config": &starlarkstruct.Module{Name: "config", Members: starlark.StringDict{
			"define_string": builtin("config.define_string", func(b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
				var name, usage string
				var isArgs bool
				if err := starlark.UnpackArgs(b.Name(), args, kwargs, "name", &name, "args?", &isArgs, "usage?", &usage); err != nil {
					return nil, err
				}
				if parsed {
					return nil, fmt.Errorf("%s cannot be called after config.parse is called", b.Name())
				}
				defined[name] = true
				return starlark.None, nil
			}),
			"parse": builtin("config.parse", func(b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
				if err := starlark.UnpackArgs(b.Name(), args, kwargs); err != nil {
					return nil, err
				}
				parsed = true
				d := starlark.NewDict(len(cli))
				keys := make([]string, 0, len(cli))
				for k := range cli {
					keys = append(keys, k)
				}
				sort.Strings(keys)
				for _, k := range keys {
					if !defined[k] {
						return nil, fmt.Errorf("invalid Tiltfile config args: unknown flag: --%s", k)
					}
					_ = d.SetKey(starlark.String(k), starlark.String(cli[k]))
				}
				return d, nil
			}),
		}},
	}
	thread := &starlark.Thread{Name: "Tiltfile", Print: func(*starlark.Thread, string) {}}
	if _, err := starlark.ExecFileOptions(tiltFileOptions, thread, "Tiltfile", src, predeclared); err != nil {
		return nil, err
	}
	// Tilt refuses a resource_deps entry that names no resource
	for _, name := range rec.Order {
		for _, d := range rec.Resources[name].Deps {
			if _, ok := rec.Resources[d]; !ok {
				return nil, fmt.Errorf("resource %s: resource_deps names unknown resource %q", name, d)
			}
		}
		slices.Sort(rec.Resources[name].Deps)
	}
	return rec, nil
}
