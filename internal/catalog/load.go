package catalog

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Options select what Load reads.
type Options struct {
	// Env is an environment name (read from <catalog dir>/<env>.yaml) or a
	// path to an Environment file. Empty: the base catalog alone, as an
	// environment named after the catalog.
	Env string
	// FS reads files; nil means the operating system's.
	FS fs.FS
}

// Load reads the base catalog at path, applies the environment overlay,
// fills defaults and validates everything. On failure the error is Problems
// (every problem found) or a read error.
func Load(path string, opts Options) (*Catalog, error) {
	read := func(p string) ([]byte, error) {
		if opts.FS != nil {
			return fs.ReadFile(opts.FS, filepath.ToSlash(filepath.Clean(p)))
		}
		return os.ReadFile(p)
	}
	data, err := read(path)
	if err != nil {
		return nil, fmt.Errorf("reading catalog: %w (pass --catalog with the path to your catalog, e.g. envs/nova.yaml)", err)
	}
	var env *Environment
	var envData []byte
	envFile := ""
	if opts.Env != "" {
		envFile = opts.Env
		if !strings.ContainsAny(envFile, `/\`) && !strings.HasSuffix(envFile, ".yaml") {
			envFile = filepath.Join(filepath.Dir(path), envFile+".yaml")
		}
		envData, err = read(envFile)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil, fmt.Errorf("environment %q: %s does not exist (environments are files next to the catalog, e.g. envs/local.yaml)", opts.Env, envFile)
			}
			return nil, fmt.Errorf("reading environment: %w", err)
		}
	}
	exists := func(rel string) bool {
		p := filepath.Join(filepath.Dir(path), rel)
		if opts.FS != nil {
			_, err := fs.Stat(opts.FS, filepath.ToSlash(filepath.Clean(p)))
			return err == nil
		}
		_, err := os.Stat(p)
		return err == nil
	}
	c, ps := parseCatalog(path, data)
	if envData != nil {
		var eps Problems
		env, eps = parseEnvironment(envFile, envData)
		ps = append(ps, eps...)
	}
	if c == nil || (envData != nil && env == nil) {
		ps.Sort()
		return nil, ps
	}
	if env == nil {
		env = &Environment{APIVersion: APIVersion, Kind: KindEnvironment, Metadata: Metadata{Name: c.Metadata.Name}}
	}
	ps = append(ps, resolve(c, env, exists)...)
	if len(ps) > 0 {
		ps.Sort()
		return nil, ps
	}
	return c, nil
}

// Parse decodes and validates a base catalog from bytes with no overlay and
// no file-system checks: what the fuzz target and tests of pure validation use.
func Parse(file string, data []byte) (*Catalog, error) {
	c, ps := parseCatalog(file, data)
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

func parseCatalog(file string, data []byte) (*Catalog, Problems) {
	root, perr := parse(file, data)
	if perr != nil {
		return nil, Problems{*perr}
	}
	p := &problems{}
	c := &Catalog{File: file}
	(&decoder{file: file, p: p}).decode(root, reflectValue(c), "")
	return c, p.list
}

func parseEnvironment(file string, data []byte) (*Environment, Problems) {
	root, perr := parse(file, data)
	if perr != nil {
		return nil, Problems{*perr}
	}
	p := &problems{}
	e := &Environment{File: file}
	(&decoder{file: file, p: p}).decode(root, reflectValue(e), "")
	return e, p.list
}

// resolve fills defaults, validates, and applies the overlay. exists may be
// nil to skip file-system checks.
func resolve(c *Catalog, env *Environment, exists func(string) bool) Problems {
	c.Env = env
	applyDefaults(c)
	p := &problems{}
	validate(c, p, exists)
	validateEnv(c, env, p)
	// go on after problems: a duplicate port or a cycle is reported in the
	// same run as an unknown field
	applyEnv(c, env, p)
	validateHostPorts(c, p)
	validateGraph(c, p)
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
func mergePorts(defaults, own []Port) []Port {
	out := make([]Port, 0, len(defaults)+len(own))
	used := map[int]bool{}
	for _, d := range defaults {
		p := d
		for i, o := range own {
			if o.Name == d.Name {
				used[i] = true
				if o.Port != 0 {
					p.Port = o.Port
				}
				p.Host = o.Host
				p.Node = o.Node
			}
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
		if img := env.Images.Stores[name]; img != "" {
			st.Image = img
		}
		if st.Host != 0 {
			st.Host += delta
		}
		scaleResources(&st.Resources, env.Resources.Scale)
	}
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
