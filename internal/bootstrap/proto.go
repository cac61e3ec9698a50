package bootstrap

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/bufbuild/protocompile"
	"github.com/bufbuild/protocompile/reporter"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"

	// The well-known types, so a recorded baseline that imports them
	// resolves against protoregistry.GlobalFiles (protocompile's standard
	// imports are the same files).
	_ "google.golang.org/protobuf/types/known/anypb"
	_ "google.golang.org/protobuf/types/known/apipb"
	_ "google.golang.org/protobuf/types/known/durationpb"
	_ "google.golang.org/protobuf/types/known/emptypb"
	_ "google.golang.org/protobuf/types/known/fieldmaskpb"
	_ "google.golang.org/protobuf/types/known/sourcecontextpb"
	_ "google.golang.org/protobuf/types/known/structpb"
	_ "google.golang.org/protobuf/types/known/timestamppb"
	_ "google.golang.org/protobuf/types/known/typepb"
	_ "google.golang.org/protobuf/types/known/wrapperspb"
	_ "google.golang.org/protobuf/types/pluginpb"

	"github.com/novadev/novadev/internal/catalog"
)

// ProtoValidate compiles every proto file under protos.root, checks that
// every service's API (its fully-qualified gRPC service) is defined, and
// checks the compiled files against the recorded baseline (protos.baseline)
// with buf's breaking-change rules of the catalog's category
// (protos.breaking: FILE, PACKAGE, WIRE_JSON or WIRE; default PACKAGE).
// Breaking changes fail the step; so does a protos.version lower than the
// baseline's, and a major bump that was not recorded. With Record it writes
// the current files as the baseline for protos.version instead.
type ProtoValidate struct {
	// Record writes the compiled files to the baseline file.
	Record bool
}

// Name returns catalog.StepProtoValidate.
func (ProtoValidate) Name() string { return catalog.StepProtoValidate }

// RecordCommand is the command that records a baseline; messages name it.
const RecordCommand = "novadev bootstrap proto-validate --record"

// Registry is a compiled API contract: the proto files under a root, as
// descriptors, and the contract version they were recorded as. Its JSON
// form (Marshal, LoadRegistry) is the baseline file: the version and each
// file's google.protobuf.FileDescriptorProto in protojson, without source
// info. Imports outside the root (the well-known types) are not recorded.
type Registry struct {
	Version string
	// Files are the files under the root, sorted by path.
	Files []protoreflect.FileDescriptor
}

// Service returns the service with that full name, or nil.
func (r *Registry) Service(name string) protoreflect.ServiceDescriptor {
	for _, f := range r.Files {
		for i := range f.Services().Len() {
			if s := f.Services().Get(i); string(s.FullName()) == name {
				return s
			}
		}
	}
	return nil
}

// Counts returns how many services and messages (map entries excluded)
// the files define.
func (r *Registry) Counts() (services, messages int) {
	for _, f := range r.Files {
		services += f.Services().Len()
		var walk func(ms protoreflect.MessageDescriptors)
		walk = func(ms protoreflect.MessageDescriptors) {
			for i := range ms.Len() {
				if m := ms.Get(i); !m.IsMapEntry() {
					messages++
					walk(m.Messages())
				}
			}
		}
		walk(f.Messages())
	}
	return services, messages
}

// findProtos returns the .proto files under root, relative to root with
// slashes, sorted. It follows symbolic links, the root's included: in a
// projected ConfigMap volume the kubelet makes every top-level entry a link
// into a timestamped directory (proto -> ..data/proto, ..data ->
// ..2026_01_02_...), which filepath.WalkDir would not descend into.
func findProtos(root string) ([]string, error) {
	var names []string
	seen := map[string]bool{} // resolved directories: a link cycle ends here
	var walk func(dir, rel string) error
	walk = func(dir, rel string) error {
		real, err := filepath.EvalSymlinks(dir)
		if err != nil {
			return err
		}
		if seen[real] {
			return nil
		}
		seen[real] = true
		entries, err := os.ReadDir(dir)
		if err != nil {
			return err
		}
		for _, e := range entries {
			if strings.HasPrefix(e.Name(), "..") {
				continue // the kubelet's own ..data and timestamped dirs
			}
			path, r := filepath.Join(dir, e.Name()), e.Name()
			if rel != "" {
				r = rel + "/" + e.Name()
			}
			st, err := os.Stat(path) // follows links
			if err != nil {
				if errors.Is(err, fs.ErrNotExist) {
					continue // a dangling link
				}
				return err
			}
			switch {
			case st.IsDir():
				if err := walk(path, r); err != nil {
					return err
				}
			case st.Mode().IsRegular() && strings.HasSuffix(e.Name(), ".proto"):
				names = append(names, r)
			}
		}
		return nil
	}
	if err := walk(root, ""); err != nil {
		return nil, err
	}
	slices.Sort(names)
	return names, nil
}

// CompileProtos compiles every .proto file under root (imports resolve
// against root and the well-known types) and returns its registry. Every
// compile error is reported, not only the first.
func CompileProtos(ctx context.Context, root, version string) (*Registry, error) {
	names, err := findProtos(root)
	if err != nil {
		return nil, err
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("no .proto files under %s", root)
	}
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
	fdps := make([]*descriptorpb.FileDescriptorProto, 0, len(files))
	for _, f := range files {
		fdps = append(fdps, protodesc.ToFileDescriptorProto(f))
	}
	// Both sides of a comparison are built the same way (from descriptor
	// protos), so a freshly compiled tree and a recorded one never differ
	// in how they resolve presence, features or JSON names.
	return newRegistry(version, fdps)
}

// newRegistry links descriptor protos into a Registry. Imports not among
// them must be well-known types.
func newRegistry(version string, fdps []*descriptorpb.FileDescriptorProto) (*Registry, error) {
	byName := map[string]*descriptorpb.FileDescriptorProto{}
	for _, f := range fdps {
		if _, dup := byName[f.GetName()]; dup {
			return nil, fmt.Errorf("file %s appears twice", f.GetName())
		}
		byName[f.GetName()] = f
	}
	files := new(protoregistry.Files)
	state := map[string]int{} // 1 linking, 2 done
	var link func(name string) error
	link = func(name string) error {
		switch state[name] {
		case 1:
			return fmt.Errorf("import cycle through %s", name)
		case 2:
			return nil
		}
		state[name] = 1
		fdp, ok := byName[name]
		if !ok {
			fd, err := protoregistry.GlobalFiles.FindFileByPath(name)
			if err != nil {
				return fmt.Errorf("import %s: not under the proto root and not a well-known type", name)
			}
			state[name] = 2
			return files.RegisterFile(fd)
		}
		for _, dep := range fdp.GetDependency() {
			if err := link(dep); err != nil {
				return err
			}
		}
		fd, err := protodesc.NewFile(fdp, files)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		state[name] = 2
		return files.RegisterFile(fd)
	}
	reg := &Registry{Version: version}
	names := slices.Sorted(maps.Keys(byName))
	for _, n := range names {
		if err := link(n); err != nil {
			return nil, err
		}
		fd, _ := files.FindFileByPath(n)
		reg.Files = append(reg.Files, fd)
	}
	return reg, nil
}

// registryFile is the JSON form of a Registry.
type registryFile struct {
	Version string            `json:"version"`
	Files   []json.RawMessage `json:"files"` // google.protobuf.FileDescriptorProto, protojson
}

// Marshal returns the baseline file: indented JSON, stable byte for byte
// for the same files.
func (r *Registry) Marshal() []byte {
	out := registryFile{Version: r.Version}
	for _, f := range r.Files {
		fdp := protodesc.ToFileDescriptorProto(f)
		fdp.SourceCodeInfo = nil
		b, err := protojson.MarshalOptions{UseProtoNames: true}.Marshal(fdp)
		if err != nil {
			panic(err) // a linked descriptor always marshals
		}
		out.Files = append(out.Files, b)
	}
	// protojson varies its whitespace on purpose; re-indenting the raw
	// messages makes the file deterministic
	b, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		panic(err)
	}
	return append(b, '\n')
}

// LoadRegistry reads a baseline file.
func LoadRegistry(path string) (*Registry, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	reg, err := ParseRegistry(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return reg, nil
}

// ParseRegistry reads a baseline file's contents (Marshal's form).
func ParseRegistry(data []byte) (*Registry, error) {
	var rf registryFile
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&rf); err != nil {
		return nil, fmt.Errorf("%w (a baseline is {\"version\": ..., \"files\": [FileDescriptorProto...]}; re-record it with `%s`)", err, RecordCommand)
	}
	if dec.More() {
		return nil, errors.New("data after the baseline object")
	}
	fdps := make([]*descriptorpb.FileDescriptorProto, 0, len(rf.Files))
	for i, raw := range rf.Files {
		fdp := new(descriptorpb.FileDescriptorProto)
		if err := protojson.Unmarshal(raw, fdp); err != nil {
			return nil, fmt.Errorf("files[%d]: %w", i, err)
		}
		fdps = append(fdps, fdp)
	}
	return newRegistry(rf.Version, fdps)
}

// Semver is a parsed semantic version MAJOR.MINOR.PATCH.
type Semver struct{ Major, Minor, Patch uint64 }

func (v Semver) String() string { return fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Patch) }

// Compare returns -1, 0 or 1 as v is lower than, equal to or higher than w.
func (v Semver) Compare(w Semver) int {
	for _, d := range [][2]uint64{{v.Major, w.Major}, {v.Minor, w.Minor}, {v.Patch, w.Patch}} {
		switch {
		case d[0] < d[1]:
			return -1
		case d[0] > d[1]:
			return 1
		}
	}
	return 0
}

// ParseSemver parses MAJOR.MINOR.PATCH as semver.org defines the numbers:
// decimal, no sign, no leading zero ("01.0.0" is an error, not 1.0.0).
// Pre-release and build suffixes are not accepted: the contract version
// orders baselines, and one ordering is enough.
func ParseSemver(s string) (Semver, error) {
	parts := strings.Split(s, ".")
	if len(parts) != 3 {
		return Semver{}, fmt.Errorf("version %q is not MAJOR.MINOR.PATCH (e.g. 1.0.0)", s)
	}
	var n [3]uint64
	for i, p := range parts {
		if p == "" || strings.Trim(p, "0123456789") != "" || (len(p) > 1 && p[0] == '0') {
			return Semver{}, fmt.Errorf("version %q: %q is not a number without leading zeros", s, p)
		}
		v, err := strconv.ParseUint(p, 10, 64)
		if err != nil {
			return Semver{}, fmt.Errorf("version %q: %w", s, err)
		}
		n[i] = v
	}
	return Semver{n[0], n[1], n[2]}, nil
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
	category := c.Protos.Breaking
	if category == "" {
		category = DefaultBreakingCategory
	}
	if !slices.Contains(BreakingCategories, category) {
		return fmt.Errorf("proto-validate: protos.breaking %q: want one of %s", category, strings.Join(BreakingCategories, ", "))
	}
	var version Semver
	if c.Protos.Version != "" || baseline != "" {
		// without a baseline the version orders nothing; with one it must parse
		v, err := ParseSemver(c.Protos.Version)
		if err != nil {
			return fmt.Errorf("proto-validate: protos.version (needed with protos.baseline): %w", err)
		}
		version = v
	}
	reg, err := CompileProtos(ctx, root, c.Protos.Version)
	if err != nil {
		return fmt.Errorf("proto-validate: %w", err)
	}
	var missing []string
	for _, s := range c.ActiveServices() {
		if s.API == "" {
			continue
		}
		if reg.Service(s.API) == nil {
			missing = append(missing, fmt.Sprintf("%s serves %s, which no proto file under %s defines", s.Name, s.API, root))
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("proto-validate: %s", strings.Join(missing, "; "))
	}
	ns, nm := reg.Counts()
	log("compiled %s: %d services, %d messages; every service's API is defined", root, ns, nm)

	if baseline == "" {
		if p.Record {
			return errors.New("proto-validate: nowhere to record: set protos.baseline in the catalog (or " + EnvBaseline + ")")
		}
		log("no baseline (protos.baseline unset): breaking-change check skipped")
		return nil
	}
	old, err := LoadRegistry(baseline)
	switch {
	case errors.Is(err, fs.ErrNotExist) && p.Record:
		old = nil
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("proto-validate: baseline %s does not exist: record it with `%s`", baseline, RecordCommand)
	case err != nil:
		return fmt.Errorf("proto-validate: %w", err)
	}

	var changes []ProtoChange
	var oldVersion Semver
	if old != nil {
		oldVersion, err = ParseSemver(old.Version)
		if err != nil {
			return fmt.Errorf("proto-validate: baseline %s: %w; re-record it with `%s`", baseline, err, RecordCommand)
		}
		if version.Compare(oldVersion) < 0 {
			return fmt.Errorf("proto-validate: protos.version %s is lower than baseline %s's version %s: versions only move up; set protos.version to %s or higher",
				version, baseline, oldVersion, oldVersion)
		}
		changes = BreakingChanges(old, reg, category)
	}
	var breaking []string
	for _, ch := range changes {
		log("%s", ch)
		if ch.Breaking {
			breaking = append(breaking, ch.String())
		}
	}
	sameMajor := old != nil && version.Major == oldVersion.Major

	if p.Record {
		if len(breaking) > 0 && sameMajor {
			return fmt.Errorf("proto-validate: not recording: %d breaking changes (%s rules) against baseline %s (version %s) without a major version bump: %s; restore compatibility, or set protos.version to %d.0.0 and record again",
				len(breaking), category, baseline, oldVersion, strings.Join(breaking, "; "), oldVersion.Major+1)
		}
		if err := os.WriteFile(baseline, reg.Marshal(), 0o644); err != nil {
			return fmt.Errorf("proto-validate: %w", err)
		}
		log("recorded version %s as the baseline in %s", reg.Version, baseline)
		return nil
	}
	switch {
	case !sameMajor:
		return fmt.Errorf("proto-validate: protos.version %s is a major bump over baseline %s (version %s), which is not recorded yet (%d breaking changes under %s rules): review them, then record the new baseline with `%s`",
			version, baseline, oldVersion, len(breaking), category, RecordCommand)
	case len(breaking) > 0:
		return fmt.Errorf("proto-validate: %d breaking changes (%s rules) against baseline %s (version %s): %s; restore compatibility, or set protos.version to %d.0.0 and record the new baseline with `%s`",
			len(breaking), category, baseline, oldVersion, strings.Join(breaking, "; "), oldVersion.Major+1, RecordCommand)
	case len(changes) == 0:
		log("no changes since baseline %s", old.Version)
	default:
		log("%d compatible changes since baseline %s (%s rules)", len(changes), old.Version, category)
	}
	return nil
}
