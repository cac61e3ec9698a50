package catalog

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// Options select what Load reads.
type Options struct {
	// Env is an environment name (read from <catalog dir>/<env>.yaml or
	// .yml) or a path to an Environment file. Empty: the base catalog alone,
	// as an environment named after the catalog.
	Env string
	// FS reads files; nil means the operating system's.
	FS fs.FS
	// Instance, when set, runs the environment as a named instance
	// (novadev --instance): its project becomes <project>-<Instance>, and
	// so does its namespace.
	Instance string
	// HostPortBase, when not 0, moves the environment's host-port block
	// there instead of the environment's own hostPortBase (an instance's
	// allocated block); the block is validated as the file's would be.
	HostPortBase int
	// Images, when set, replaces the environment's images section (e.g.
	// pr run from ci's offline set: NOVADEV_IMAGES_FROM=ci).
	Images *EnvImages
	// ImageSource and Mirror, when set, replace the environment's
	// images.source and images.mirror (novadev --images,
	// NOVADEV_IMAGE_MIRROR); the caller validates them (ParseMirror).
	ImageSource string
	Mirror      string
}

// Load is LoadContext with a background context.
func Load(path string, opts Options) (*Catalog, error) {
	return LoadContext(context.Background(), path, opts)
}

// LoadContext reads the base catalog at path, applies the environment
// overlay, fills defaults and validates everything. On failure the error is
// Problems (every problem found, unreadable files included), or the
// context's error when ctx ended first (a Ctrl-C during a slow load).
func LoadContext(ctx context.Context, path string, opts Options) (*Catalog, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	l := &loader{ctx: ctx, fsys: opts.FS, path: path}
	data, ps := l.read(path, "catalog", "pass --catalog with the path to your catalog, e.g. envs/nova.yaml")
	if ps != nil {
		return nil, l.fail(ps)
	}
	var env *Environment
	var envData []byte
	envFile := ""
	if opts.Env != "" {
		var eps Problems
		envFile, eps = l.envFile(opts.Env)
		if eps == nil {
			envData, eps = l.read(envFile, "environment "+strconv.Quote(opts.Env), "environments are files next to the catalog, e.g. envs/local.yaml")
		}
		if eps != nil {
			return nil, l.fail(eps)
		}
	}
	c, ps := parseCatalog(ctx, path, data)
	if envData != nil {
		var eps Problems
		env, eps = parseEnvironment(ctx, envFile, envData)
		ps = append(ps, eps...)
	}
	if err := ctx.Err(); err != nil {
		return nil, l.fail(nil)
	}
	if c == nil || (envData != nil && env == nil) {
		return nil, l.fail(ps)
	}
	if env == nil {
		env = &Environment{APIVersion: APIVersion, Kind: KindEnvironment, Metadata: Metadata{Name: c.Metadata.Name}}
	}
	env.instance = opts.Instance
	if opts.Images != nil {
		env.Images = *opts.Images
	}
	if opts.ImageSource != "" {
		env.Images.Source = opts.ImageSource
	}
	if opts.Mirror != "" {
		env.Images.Mirror = opts.Mirror
	}
	if opts.HostPortBase != 0 {
		env.HostPortBase = opts.HostPortBase
	}
	ps = append(ps, resolve(c, env, l)...)
	if len(ps) > 0 || ctx.Err() != nil {
		return nil, l.fail(ps)
	}
	return c, nil
}

// Parse decodes and validates a base catalog from bytes with no overlay and
// no file-system checks: what the fuzz target and tests of pure validation use.
func Parse(file string, data []byte) (*Catalog, error) {
	ctx := context.Background()
	if len(data) > MaxCatalogSize {
		return nil, Problems{{Pos: Pos{File: file}, Msg: fmt.Sprintf("file is larger than %s", sizeString(MaxCatalogSize))}}
	}
	c, ps := parseCatalog(ctx, file, data)
	if c == nil {
		return nil, ps
	}
	env := &Environment{APIVersion: APIVersion, Kind: KindEnvironment, Metadata: Metadata{Name: c.Metadata.Name}}
	ps = append(ps, resolve(c, env, nil)...)
	if len(ps) > 0 {
		ps.Sort()
		return nil, ps
	}
	return c, nil
}

// loader reads the files of one Load: the catalog, its environment, and
// the directories and files the catalog names, all confined to the
// project and capped in size.
type loader struct {
	ctx  context.Context
	fsys fs.FS
	path string // the base catalog
}

// fail turns the problems found into Load's error: the context's error
// wins, since an interrupted load's problems are incomplete.
func (l *loader) fail(ps Problems) error {
	if err := l.ctx.Err(); err != nil {
		return fmt.Errorf("loading %s: %w", l.path, err)
	}
	ps.Sort()
	return ps
}

// read reads a catalog or environment file; a refusal is a Problem naming
// the file.
func (l *loader) read(name, what, hint string) ([]byte, Problems) {
	data, err := ReadFile(l.ctx, l.fsys, name, MaxCatalogSize)
	if err != nil {
		if l.ctx.Err() != nil {
			return nil, Problems{}
		}
		msg := fmt.Sprintf("reading %s: %s", what, describeReadError(err))
		if errors.Is(err, fs.ErrNotExist) {
			msg = fmt.Sprintf("%s: %s does not exist", what, name)
			if l.fsys == nil {
				if target, lerr := os.Readlink(name); lerr == nil {
					msg = fmt.Sprintf("%s: %s is a symlink to %s, which does not exist", what, name, target)
				}
			}
		} else {
			hint = ""
		}
		return nil, Problems{{Pos: Pos{File: name}, Msg: msg, Hint: hint}}
	}
	return data, nil
}

// describeReadError is the reason of a read error without the path, which
// the problem's position already names.
func describeReadError(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// envFile finds the file of an environment named on the command line: a
// path as given, or <name>.yaml / <name>.yml next to the catalog. A name
// whose file is a dangling or looping symlink is that file (and its read
// error), never "no environment".
func (l *loader) envFile(env string) (string, Problems) {
	if strings.ContainsAny(env, `/\`) || strings.HasSuffix(env, ".yaml") || strings.HasSuffix(env, ".yml") {
		return env, nil
	}
	dir := filepath.Dir(l.path)
	var found []string
	for _, ext := range []string{".yaml", ".yml"} {
		f := filepath.Join(dir, env+ext)
		if l.lexists(f) {
			found = append(found, f)
		}
	}
	switch len(found) {
	case 0:
		f := filepath.Join(dir, env+".yaml")
		return "", Problems{{Pos: Pos{File: f}, Msg: fmt.Sprintf("environment %q: %s does not exist", env, f),
			Hint: "environments are files next to the catalog, e.g. envs/local.yaml; --env \"\" selects the bare catalog"}}
	case 2:
		return "", Problems{{Pos: Pos{File: found[1]}, Msg: fmt.Sprintf("environment %q: both %s and %s exist", env, found[0], found[1]), Hint: "remove one of them"}}
	}
	return found[0], nil
}

// lexists reports whether a directory entry exists at name, following no
// symlink: a dangling link exists (and fails to read, with its reason).
func (l *loader) lexists(name string) bool {
	if l.fsys != nil {
		_, err := fs.Stat(l.fsys, fsPath(name))
		return err == nil
	}
	_, err := os.Lstat(name)
	return err == nil
}

// EnvironmentFile returns the file of the environment named env next to the
// catalog at path (<env>.yaml or <env>.yml, dangling symlinks included),
// or "" when there is none.
func EnvironmentFile(path, env string) string {
	l := &loader{ctx: context.Background(), path: path}
	f, ps := l.envFile(env)
	if ps != nil {
		return ""
	}
	return f
}

func parseCatalog(ctx context.Context, file string, data []byte) (*Catalog, Problems) {
	root, perr := parse(file, data)
	if perr != nil {
		return nil, Problems{*perr}
	}
	p := &problems{}
	c := &Catalog{File: file}
	d := newDecoder(ctx, file, p, root)
	d.decode(root, reflectValue(c), "")
	if d.stopped {
		return nil, p.list
	}
	return c, p.list
}

func parseEnvironment(ctx context.Context, file string, data []byte) (*Environment, Problems) {
	root, perr := parse(file, data)
	if perr != nil {
		return nil, Problems{*perr}
	}
	p := &problems{}
	e := &Environment{File: file}
	d := newDecoder(ctx, file, p, root)
	d.decode(root, reflectValue(e), "")
	if d.stopped {
		return nil, p.list
	}
	return e, p.list
}

// resolve fills defaults, validates, and applies the overlay. l may be nil
// to skip file-system checks (Parse).
func resolve(c *Catalog, env *Environment, l *loader) Problems {
	c.Env = env
	applyDefaults(c)
	p := &problems{}
	done := func() bool { return l != nil && l.ctx.Err() != nil } // interrupted: the caller reports it
	validate(c, p)
	if done() {
		return p.list
	}
	l.checkFiles(c, p)
	p.fill(0, c.File)
	from := len(p.list)
	validateEnv(c, env, p)
	if env.File != "" {
		p.fill(from, env.File)
	}
	// go on after problems: a duplicate port or a cycle is reported in the
	// same run as an unknown field
	applyEnv(c, env, p)
	if done() {
		return p.list
	}
	validateHostPorts(c, p)
	if len(c.Bootstraps) <= MaxBootstraps { // else refused, and the graph would be slow
		validateGraph(c, p)
	}
	p.fill(0, c.File)
	return p.list
}

// DefaultDatabase derives a service's database name from its own name:
// feed-service -> nova_feed, feature-store -> nova_feature_store.
func DefaultDatabase(service string) string {
	base := strings.TrimSuffix(service, "-service")
	return "nova_" + strings.ReplaceAll(base, "-", "_")
}

var defaultStorePorts = map[string]int{
	StorePostgres:      5432,
	StoreRedisCluster:  7001,
	StoreKafka:         9092,
	StoreClickHouse:    8123,
	StoreNeo4j:         7687,
	StoreElasticsearch: 9200,
}

func applyDefaults(c *Catalog) {
	for name, s := range c.Services {
		if s == nil {
			s = &Service{}
			c.Services[name] = s
		}
		s.Name = name
		s.Ports = mergePorts(c.Defaults.Ports, s.Ports)
		if s.Readiness == nil {
			if c.Defaults.Readiness != nil {
				r := *c.Defaults.Readiness
				r.inherited = true
				s.Readiness = &r
			} else {
				s.Readiness = &Readiness{Node: Node{At: s.At}}
			}
		}
		if s.Readiness.Type == "" {
			s.Readiness.Type = CheckGRPC
		}
		if s.Readiness.Port == "" {
			s.Readiness.Port = "grpc"
		}
		fillQuantities(&s.Resources.Requests, c.Defaults.Resources.Requests)
		fillQuantities(&s.Resources.Limits, c.Defaults.Resources.Limits)
		if _, set := s.Keys["replicas"]; !set {
			s.Replicas = 1
		}
		if s.Database != nil {
			if s.Database.Name == "" {
				s.Database.Name = DefaultDatabase(name)
			}
			if s.Database.User == "" {
				s.Database.User = s.Database.Name + "_svc"
			}
		}
	}
	for name, st := range c.Stores {
		if st == nil {
			st = &Store{}
			c.Stores[name] = st
		}
		st.Name = name
		if _, set := st.Keys["port"]; !set {
			st.Port = defaultStorePorts[st.Kind]
		}
		if st.Kind == StoreRedisCluster && st.Nodes == 0 {
			st.Nodes = 3
		}
		for _, t := range st.Topics {
			if t == nil {
				continue
			}
			// only absent keys get defaults: an explicit 0 is reported
			if _, set := t.Keys["partitions"]; !set {
				t.Partitions = 1
			}
			if _, set := t.Keys["replication"]; !set {
				t.Replication = 1
			}
		}
		for _, db := range st.Databases {
			for _, t := range db.Tables {
				if t != nil && t.Engine == "" {
					t.Engine = "MergeTree()"
				}
			}
		}
	}
	for _, b := range c.Bootstraps {
		if b != nil && b.Step == "" {
			b.Step = b.Name
		}
	}
}

// mergePorts returns the defaults overridden, by name, by the service's own
// ports; ports the defaults lack are appended in the service's order.
//
// The rule (docs/catalog.md): a service port named like a default port
// overrides only the fields it writes (port, host); a field it leaves out
// keeps the default's. A second service port of the same name is not
// merged: it is kept, and validation reports the name as listed twice.
func mergePorts(defaults, own []Port) []Port {
	out := make([]Port, 0, len(defaults)+len(own))
	used := map[int]bool{}
	for _, d := range defaults {
		p := d
		p.inherited = true
		for i, o := range own {
			if o.Name != d.Name || used[i] {
				continue
			}
			used[i] = true
			p.inherited = false
			if _, set := o.Keys["port"]; set {
				p.Port = o.Port
			}
			if _, set := o.Keys["host"]; set {
				p.Host = o.Host
			}
			p.Node = o.Node
			break
		}
		out = append(out, p)
	}
	for i, o := range own {
		if !used[i] {
			out = append(out, o)
		}
	}
	return out
}

func fillQuantities(q *Quantities, d Quantities) {
	if q.CPU == "" {
		q.CPU = d.CPU
	}
	if q.Memory == "" {
		q.Memory = d.Memory
	}
}

// applyEnv resolves images, moves the host port block and scales resources.
func applyEnv(c *Catalog, env *Environment, p *problems) {
	if env.Project == "" {
		env.Project = c.Metadata.Name + "-" + env.Metadata.Name
		if env.Metadata.Name == c.Metadata.Name {
			env.Project = c.Metadata.Name
		}
	}
	if env.instance != "" {
		env.Project += "-" + env.instance
		if env.Namespace != "" {
			env.Namespace += "-" + env.instance
		}
	}
	if env.Namespace == "" {
		env.Namespace = env.Project
	}
	if env.Images.Registry != "" {
		c.Images.Registry = env.Images.Registry
	}
	if env.Images.Tag != "" {
		c.Images.Tag = env.Images.Tag
	}
	delta := 0
	if env.HostPortBase != 0 {
		delta = env.HostPortBase - c.HostPortBase
		c.HostPortBase = env.HostPortBase
	}
	for _, name := range c.ServiceNames() {
		s := c.Services[name]
		switch {
		case env.Images.Services[name] != "":
			s.Image = env.Images.Services[name]
		case env.Images.Placeholder != "" && s.Build == nil:
			s.Image = env.Images.Placeholder
		default:
			s.Image = c.ImageRef(s.Image)
		}
		for i := range s.Ports {
			if s.Ports[i].Host != 0 {
				s.Ports[i].Host += delta
			}
		}
		scaleResources(&s.Resources, env.Resources.Scale)
	}
	for name, st := range c.Stores {
		st.base = st.Image
		if img := env.Images.Stores[name]; img != "" {
			st.Image = img
		}
		if st.Host != 0 {
			st.Host += delta
		}
		scaleResources(&st.Resources, env.Resources.Scale)
	}
	resolveImages(c, env, p)
}

// ImageRef turns a repository name into Registry/name:Tag; references that
// already name a registry or a tag are returned as they are.
func (c *Catalog) ImageRef(image string) string {
	if image == "" || strings.ContainsAny(image, "/:@") {
		return image
	}
	ref := image
	if c.Images.Registry != "" {
		ref = strings.TrimSuffix(c.Images.Registry, "/") + "/" + ref
	}
	if c.Images.Tag != "" {
		ref += ":" + c.Images.Tag
	}
	return ref
}

// ServiceNames returns the names of every service, sorted.
func (c *Catalog) ServiceNames() []string { return sortedKeys(c.Services) }

// StoreNames returns the names of every store, sorted.
func (c *Catalog) StoreNames() []string { return sortedKeys(c.Stores) }

func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }
