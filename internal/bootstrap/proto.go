package bootstrap

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/bufbuild/protocompile"
	"github.com/bufbuild/protocompile/reporter"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/novadev/novadev/internal/catalog"
)

// ProtoValidate compiles every proto file under protos.root, checks that
// every service's API (its fully-qualified gRPC service) is defined, and
// compares the compiled registry with the recorded baseline
// (protos.baseline): a removed service, method or field, or a changed
// method type, field number or field type is a breaking change and fails
// the step unless protos.version's major version moved past the baseline's.
// With Record it writes the current registry as the new baseline instead.
type ProtoValidate struct {
	// Record writes the compiled registry to the baseline file.
	Record bool
}

// Name returns catalog.StepProtoValidate.
func (ProtoValidate) Name() string { return catalog.StepProtoValidate }

// Registry is the recorded shape of the API contract: what a breaking-change
// check needs and nothing else. Its JSON form is the baseline file.
type Registry struct {
	Version  string                     `json:"version"`
	Services map[string]RegistryService `json:"services"` // by fully-qualified name
	Messages map[string]RegistryMessage `json:"messages"` // by fully-qualified name, map entries excluded
}

// RegistryService is a gRPC service's methods.
type RegistryService struct {
	Methods map[string]RegistryMethod `json:"methods"`
}

// RegistryMethod is a method's request and response types.
type RegistryMethod struct {
	Request         string `json:"request"`
	Response        string `json:"response"`
	ClientStreaming bool   `json:"clientStreaming,omitempty"`
	ServerStreaming bool   `json:"serverStreaming,omitempty"`
}

// RegistryMessage is a message's fields by name.
type RegistryMessage struct {
	Fields map[string]RegistryField `json:"fields"`
}

// RegistryField is a field's number and type ("string", "repeated int64",
// "nova.feed.v1.Record", "map<string, int64>").
type RegistryField struct {
	Number int32  `json:"number"`
	Type   string `json:"type"`
}

// CompileProtos compiles every .proto file under root (imports resolve
// against root and the well-known types) and returns its registry. Every
// compile error is reported, not only the first.
func CompileProtos(ctx context.Context, root, version string) (*Registry, error) {
	var names []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasSuffix(path, ".proto") {
			rel, err := filepath.Rel(root, path)
			if err != nil {
				return err
			}
			names = append(names, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("no .proto files under %s", root)
	}
	slices.Sort(names)
	var errs []error
	comp := protocompile.Compiler{
		Resolver: protocompile.WithStandardImports(&protocompile.SourceResolver{ImportPaths: []string{root}}),
		Reporter: reporter.NewReporter(func(e reporter.ErrorWithPos) error {
			errs = append(errs, e)
			return nil // keep going: report every problem at once
		}, nil),
	}
	files, err := comp.Compile(ctx, names...)
	if len(errs) > 0 {
		// files compile in parallel: sort for a stable report
		slices.SortFunc(errs, func(a, b error) int { return strings.Compare(a.Error(), b.Error()) })
		return nil, errors.Join(errs...)
	}
	if err != nil {
		return nil, err
	}
	reg := &Registry{Version: version, Services: map[string]RegistryService{}, Messages: map[string]RegistryMessage{}}
	for _, f := range files {
		addFile(reg, f)
	}
	return reg, nil
}

func addFile(reg *Registry, f protoreflect.FileDescriptor) {
	for i := range f.Services().Len() {
		s := f.Services().Get(i)
		rs := RegistryService{Methods: map[string]RegistryMethod{}}
		for j := range s.Methods().Len() {
			m := s.Methods().Get(j)
			rs.Methods[string(m.Name())] = RegistryMethod{
				Request: string(m.Input().FullName()), Response: string(m.Output().FullName()),
				ClientStreaming: m.IsStreamingClient(), ServerStreaming: m.IsStreamingServer(),
			}
		}
		reg.Services[string(s.FullName())] = rs
	}
	addMessages(reg, f.Messages())
}

func addMessages(reg *Registry, ms protoreflect.MessageDescriptors) {
	for i := range ms.Len() {
		m := ms.Get(i)
		if m.IsMapEntry() {
			continue
		}
		rm := RegistryMessage{Fields: map[string]RegistryField{}}
		for j := range m.Fields().Len() {
			fd := m.Fields().Get(j)
			rm.Fields[string(fd.Name())] = RegistryField{Number: int32(fd.Number()), Type: fieldType(fd)}
		}
		reg.Messages[string(m.FullName())] = rm
		addMessages(reg, m.Messages())
	}
}

// fieldType renders a field's type with its cardinality.
func fieldType(fd protoreflect.FieldDescriptor) string {
	if fd.IsMap() {
		return "map<" + kindName(fd.MapKey()) + ", " + kindName(fd.MapValue()) + ">"
	}
	if fd.IsList() {
		return "repeated " + kindName(fd)
	}
	return kindName(fd)
}

func kindName(fd protoreflect.FieldDescriptor) string {
	switch fd.Kind() {
	case protoreflect.MessageKind, protoreflect.GroupKind:
		return string(fd.Message().FullName())
	case protoreflect.EnumKind:
		return string(fd.Enum().FullName())
	}
	return fd.Kind().String()
}

// ProtoChange is one difference between a baseline and the current registry.
type ProtoChange struct {
	Breaking bool
	Text     string
}

func (c ProtoChange) String() string {
	if c.Breaking {
		return "breaking: " + c.Text
	}
	return "compatible: " + c.Text
}

// DiffRegistries lists what changed from old to cur, breaking changes
// first, each group sorted.
func DiffRegistries(old, cur *Registry) []ProtoChange {
	var out []ProtoChange
	add := func(breaking bool, format string, args ...any) {
		out = append(out, ProtoChange{breaking, fmt.Sprintf(format, args...)})
	}
	for name, osvc := range old.Services {
		cs, ok := cur.Services[name]
		if !ok {
			add(true, "service %s removed", name)
			continue
		}
		for mname, om := range osvc.Methods {
			cm, ok := cs.Methods[mname]
			switch {
			case !ok:
				add(true, "method %s.%s removed", name, mname)
			default:
				if om.Request != cm.Request {
					add(true, "method %s.%s request type changed from %s to %s", name, mname, om.Request, cm.Request)
				}
				if om.Response != cm.Response {
					add(true, "method %s.%s response type changed from %s to %s", name, mname, om.Response, cm.Response)
				}
				if om.ClientStreaming != cm.ClientStreaming || om.ServerStreaming != cm.ServerStreaming {
					add(true, "method %s.%s streaming changed from %s to %s", name, mname, streaming(om), streaming(cm))
				}
			}
		}
		for mname := range cs.Methods {
			if _, ok := osvc.Methods[mname]; !ok {
				add(false, "method %s.%s added", name, mname)
			}
		}
	}
	for name := range cur.Services {
		if _, ok := old.Services[name]; !ok {
			add(false, "service %s added", name)
		}
	}
	for name, om := range old.Messages {
		cm, ok := cur.Messages[name]
		if !ok {
			add(true, "message %s removed", name)
			continue
		}
		for fname, of := range om.Fields {
			cf, ok := cm.Fields[fname]
			switch {
			case !ok:
				add(true, "field %s.%s (%d) removed; reserve its number and name instead", name, fname, of.Number)
			default:
				if of.Number != cf.Number {
					add(true, "field %s.%s number changed from %d to %d", name, fname, of.Number, cf.Number)
				}
				if of.Type != cf.Type {
					add(true, "field %s.%s type changed from %s to %s", name, fname, of.Type, cf.Type)
				}
			}
		}
		for fname, cf := range cm.Fields {
			if _, ok := om.Fields[fname]; !ok {
				add(false, "field %s.%s (%d %s) added", name, fname, cf.Number, cf.Type)
			}
		}
	}
	for name := range cur.Messages {
		if _, ok := old.Messages[name]; !ok {
			add(false, "message %s added", name)
		}
	}
	slices.SortFunc(out, func(a, b ProtoChange) int {
		if a.Breaking != b.Breaking {
			if a.Breaking {
				return -1
			}
			return 1
		}
		return strings.Compare(a.Text, b.Text)
	})
	return out
}

func streaming(m RegistryMethod) string {
	switch {
	case m.ClientStreaming && m.ServerStreaming:
		return "bidi"
	case m.ClientStreaming:
		return "client-streaming"
	case m.ServerStreaming:
		return "server-streaming"
	}
	return "unary"
}

// Marshal returns the registry as indented JSON (maps sorted by key).
func (r *Registry) Marshal() []byte {
	b, _ := json.MarshalIndent(r, "", "  ")
	return append(b, '\n')
}

// LoadRegistry reads a baseline file.
func LoadRegistry(path string) (*Registry, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var r Registry
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &r, nil
}

// major returns the major part of a semantic version ("1.2.3" -> "1").
func major(v string) string {
	m, _, _ := strings.Cut(strings.TrimPrefix(v, "v"), ".")
	return m
}

// protoPaths returns the proto root and baseline file for c and t.
func protoPaths(c *catalog.Catalog, t Targets) (root, baseline string) {
	dir := filepath.Dir(c.File)
	root = t.ProtosDir
	if root == "" {
		root = filepath.Join(dir, c.Protos.Root)
	}
	baseline = t.Baseline
	if baseline == "" && c.Protos.Baseline != "" {
		baseline = filepath.Join(dir, c.Protos.Baseline)
	}
	return root, baseline
}

// Run implements Step.
func (p ProtoValidate) Run(ctx context.Context, c *catalog.Catalog, t Targets, log func(string, ...any)) error {
	root, baseline := protoPaths(c, t)
	reg, err := CompileProtos(ctx, root, c.Protos.Version)
	if err != nil {
		return fmt.Errorf("proto-validate: %w", err)
	}
	var missing []string
	for _, s := range c.ActiveServices() {
		if s.API == "" {
			continue
		}
		if _, ok := reg.Services[s.API]; !ok {
			missing = append(missing, fmt.Sprintf("%s serves %s, which no proto file under %s defines", s.Name, s.API, root))
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("proto-validate: %s", strings.Join(missing, "; "))
	}
	log("compiled %s: %d services, %d messages; every service's API is defined", root, len(reg.Services), len(reg.Messages))

	if p.Record {
		if baseline == "" {
			return errors.New("proto-validate: nowhere to record: set protos.baseline in the catalog (or " + EnvBaseline + ")")
		}
		if err := os.WriteFile(baseline, reg.Marshal(), 0o644); err != nil {
			return fmt.Errorf("proto-validate: %w", err)
		}
		log("recorded version %s as the baseline in %s", reg.Version, baseline)
		return nil
	}
	if baseline == "" {
		log("no baseline (protos.baseline unset): breaking-change check skipped")
		return nil
	}
	old, err := LoadRegistry(baseline)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("proto-validate: baseline %s does not exist: record it with `novadev bootstrap proto-validate --record`", baseline)
	}
	if err != nil {
		return fmt.Errorf("proto-validate: %w", err)
	}
	changes := DiffRegistries(old, reg)
	var breaking []string
	for _, ch := range changes {
		log("%s", ch)
		if ch.Breaking {
			breaking = append(breaking, ch.Text)
		}
	}
	switch {
	case len(changes) == 0:
		log("no changes since baseline %s", old.Version)
	case len(breaking) > 0 && major(reg.Version) == major(old.Version):
		return fmt.Errorf("proto-validate: %d breaking changes against baseline %s (version %s): %s; restore compatibility, or bump protos.version's major version and re-record the baseline",
			len(breaking), baseline, old.Version, strings.Join(breaking, "; "))
	case len(breaking) > 0:
		log("%d breaking changes accepted: major version %s -> %s", len(breaking), old.Version, reg.Version)
	}
	return nil
}
