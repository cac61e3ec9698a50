package catalog

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/bufbuild/protocompile"
	"github.com/bufbuild/protocompile/reporter"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// MaxMigrations caps the entries of one migrations directory.
const MaxMigrations = 10_000

// ProjectRoot returns the project a catalog belongs to: the directory that
// holds the envs/ directory the catalog sits in (at any depth), and true.
// A catalog outside any envs/ directory has no project root of its own:
// ProjectRoot then returns the catalog's directory and false, and render
// asks for --project-directory rather than guess.
func ProjectRoot(catalogPath string) (string, bool) {
	abs, err := filepath.Abs(catalogPath)
	if err != nil {
		return filepath.Dir(catalogPath), false
	}
	dir := filepath.Dir(abs)
	for d := dir; ; {
		if filepath.Base(d) == "envs" {
			return filepath.Dir(d), true
		}
		parent := filepath.Dir(d)
		if parent == d {
			return dir, false
		}
		d = parent
	}
}

// Within reports whether path is root or below it, lexically (both
// cleaned and absolute, or both relative to the same directory).
func Within(root, path string) bool {
	rel, err := filepath.Rel(root, path)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) && !filepath.IsAbs(rel)
}

// local resolves a path written in the catalog (relative to the catalog's
// directory) and checks that it stays inside the project, lexically and
// after following symlinks. It returns the path to open, or a problem.
func (l *loader) local(p *problems, pos Pos, field, rel string) (string, bool) {
	if rel == "" {
		return "", false
	}
	if filepath.IsAbs(rel) || path.IsAbs(rel) || strings.HasPrefix(rel, `\`) {
		p.add(pos, field, "write it relative to the catalog's directory", "path %q is absolute: catalog paths stay inside the project", rel)
		return "", false
	}
	dir := filepath.Dir(l.path)
	full := filepath.Join(dir, filepath.FromSlash(rel))
	if l.fsys != nil {
		// an fs.FS cannot name anything above its root
		if c := fsPath(full); c == ".." || strings.HasPrefix(c, "../") {
			p.add(pos, field, "", "path %q leaves the catalog's file system", rel)
			return "", false
		}
		return full, true
	}
	root, _ := ProjectRoot(l.path)
	abs, err := filepath.Abs(full)
	if err != nil || !Within(root, abs) {
		p.add(pos, field, "keep protos, migrations, baselines and build contexts inside the project (the directory holding envs/)", "path %q leads outside the project", rel)
		return "", false
	}
	// a symlink inside the project may still point out of it
	if real, err := filepath.EvalSymlinks(abs); err == nil {
		realRoot, rerr := filepath.EvalSymlinks(root)
		if rerr == nil && !Within(realRoot, real) {
			p.add(pos, field, "keep protos, migrations, baselines and build contexts inside the project", "path %q is a symlink to %s, outside the project", rel, real)
			return "", false
		}
	} else if errors.Is(err, fs.ErrNotExist) {
		return full, true // reported by the caller, which knows what it expected
	} else {
		p.add(pos, field, "", "path %q: %s", rel, describeReadError(err))
		return "", false
	}
	return full, true
}

func (l *loader) stat(name string) (fs.FileInfo, error) {
	if l.fsys != nil {
		return fs.Stat(l.fsys, fsPath(name))
	}
	return os.Stat(name)
}

// checkDir reports a catalog path that is not a directory inside the project.
func (l *loader) checkDir(p *problems, pos Pos, field, rel string) (string, bool) {
	full, ok := l.local(p, pos, field, rel)
	if !ok {
		return "", false
	}
	info, err := l.stat(full)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		p.add(pos, field, "", "directory %q does not exist", rel)
		return "", false
	case err != nil:
		p.add(pos, field, "", "directory %q: %s", rel, describeReadError(err))
		return "", false
	case !info.IsDir():
		p.add(pos, field, "", "%q is not a directory", rel)
		return "", false
	}
	return full, true
}

// checkFile reports a catalog path that is not a regular file inside the
// project, or is larger than limit.
func (l *loader) checkFile(p *problems, pos Pos, field, rel string, limit int64) (string, bool) {
	full, ok := l.local(p, pos, field, rel)
	if !ok {
		return "", false
	}
	info, err := l.stat(full)
	if errors.Is(err, fs.ErrNotExist) {
		p.add(pos, field, "", "file %q does not exist", rel)
		return "", false
	}
	if err == nil {
		err = regular(full, info, limit)
	}
	if err != nil {
		p.add(pos, field, "", "file %q: %s", rel, describeReadError(err))
		return "", false
	}
	return full, true
}

// checkFiles checks every path of the catalog that names a file or
// directory: build contexts, migrations, protos and the baseline; then
// compiles the protos and checks migration file names.
func (l *loader) checkFiles(c *Catalog, p *problems) {
	if l == nil {
		return
	}
	protoRoot, rootOK := "", false
	if c.Protos.Root != "" {
		protoRoot, rootOK = l.checkDir(p, c.Protos.PosOf("root"), "protos.root", c.Protos.Root)
	}
	if c.Protos.Baseline != "" {
		// a baseline not recorded yet is fine (proto-validate records it);
		// one outside the project, not a regular file or too large is not
		if full, ok := l.local(p, c.Protos.PosOf("baseline"), "protos.baseline", c.Protos.Baseline); ok {
			if info, err := l.stat(full); err == nil {
				if err := regular(full, info, MaxProtoSize); err != nil {
					p.add(c.Protos.PosOf("baseline"), "protos.baseline", "", "file %q: %s", c.Protos.Baseline, describeReadError(err))
				}
			}
		}
	}
	anyProtos, protosBroken := false, false
	for _, name := range c.ServiceNames() {
		s := c.Services[name]
		f := "services." + name
		if s.Build != nil && s.Build.Context != "" {
			l.checkDir(p, s.Build.PosOf("context"), f+".build.context", s.Build.Context)
		}
		if s.Migrations != "" {
			if dir, ok := l.checkDir(p, s.PosOf("migrations"), f+".migrations", s.Migrations); ok {
				l.checkMigrations(p, s.PosOf("migrations"), f+".migrations", dir)
			}
		}
		for i, pf := range s.Protos {
			if !rootOK && c.Protos.Root != "" {
				protosBroken = true
				break
			}
			pfield := fmt.Sprintf("%s.protos[%d]", f, i)
			if path.IsAbs(pf) || slices.Contains(strings.Split(path.Clean(pf), "/"), "..") {
				p.add(s.PosOf("protos"), pfield, "name it relative to protos.root, without ..", "proto file %q leaves protos.root", pf)
				protosBroken = true
				continue
			}
			if _, ok := l.checkFile(p, s.PosOf("protos"), pfield, path.Join(c.Protos.Root, pf), MaxProtoSize); !ok {
				protosBroken = true
				continue
			}
			anyProtos = true
		}
	}
	if protosBroken || !anyProtos || l.ctx.Err() != nil {
		// compile only a complete set: a missing file is reported already
		return
	}
	if protoRoot == "" {
		protoRoot = filepath.Dir(l.path)
	}
	l.compileProtos(c, p, protoRoot)
}

// compileProtos compiles every service's proto files with protocompile (what
// proto-validate does) and checks each service's api names a service its
// own files declare. Proto errors point into the proto files.
func (l *loader) compileProtos(c *Catalog, p *problems, root string) {
	count := 0
	seen := map[string]bool{} // a file shared by services is reported once
	comp := protocompile.Compiler{
		Resolver: protocompile.WithStandardImports(&protocompile.SourceResolver{
			ImportPaths: []string{root},
			Accessor: func(name string) (io.ReadCloser, error) {
				// imports are read with the same caps and confinement
				if !Within(root, name) {
					return nil, fmt.Errorf("import %s leaves protos.root", name)
				}
				data, err := ReadFile(l.ctx, l.fsys, name, MaxProtoSize)
				if err != nil {
					return nil, err
				}
				return io.NopCloser(strings.NewReader(string(data))), nil
			},
		}),
		Reporter: reporter.NewReporter(func(err reporter.ErrorWithPos) error {
			pos := err.GetPosition()
			count++
			if count > 50 {
				return err // enough: stop compiling
			}
			file := pos.Filename
			if !filepath.IsAbs(file) {
				file = filepath.Join(root, file)
			}
			at := Pos{File: file, Line: pos.Line, Col: pos.Col}
			if key := at.String() + err.Unwrap().Error(); !seen[key] {
				seen[key] = true
				p.add(at, "protos", "proto-validate would reject it", "%s", err.Unwrap().Error())
			}
			return nil
		}, nil),
	}
	// each service's files on their own: one broken file does not hide
	// another service's api mismatch
	declared := map[string][]string{} // proto file -> services it declares
	compiled := map[string]bool{}     // services whose files compiled
	for _, name := range c.ServiceNames() {
		s := c.Services[name]
		if len(s.Protos) == 0 || l.ctx.Err() != nil {
			continue
		}
		var files []string
		for _, pf := range s.Protos {
			files = append(files, path.Clean(pf))
		}
		out, err := comp.Compile(l.ctx, slices.Compact(slices.Sorted(slices.Values(files)))...)
		if err != nil {
			if count == 0 && l.ctx.Err() == nil {
				p.add(s.PosOf("protos"), "services."+name+".protos", "", "compiling the proto files: %v", err)
			}
			continue
		}
		compiled[name] = true
		for _, f := range out {
			svcs := f.Services()
			var names []string
			for i := 0; i < svcs.Len(); i++ {
				names = append(names, string(svcs.Get(i).FullName()))
			}
			declared[f.Path()] = names
		}
	}
	for _, name := range c.ServiceNames() {
		s := c.Services[name]
		if s.API == "" {
			continue
		}
		f := "services." + name + ".api"
		if !protoreflect.FullName(s.API).IsValid() {
			p.add(s.PosOf("api"), f, "e.g. nova.user.v1.UserService", "%q is not a fully-qualified proto service name", s.API)
			continue
		}
		if len(s.Protos) == 0 {
			p.add(s.PosOf("api"), f, "list the proto files that declare it in protos", "the service serves %s but names no proto files", s.API)
			continue
		}
		if !compiled[name] {
			continue // its proto errors are reported
		}
		var all []string
		for _, pf := range s.Protos {
			all = append(all, declared[path.Clean(pf)]...)
		}
		if !slices.Contains(all, s.API) {
			p.add(s.PosOf("api"), f, suggest(s.API, all), "no service %s in %s", s.API, strings.Join(s.Protos, ", "))
		}
	}
}

// ParseMigrationName checks a migration file name by sqlx's rules:
// <version>_<description>.sql, the version a signed 64-bit integer, with
// an optional .up or .down before .sql. ok is false for files sqlx
// ignores (no .sql suffix); err says what is wrong with a .sql file sqlx
// would refuse or misread.
func ParseMigrationName(name string) (version int64, description string, ok bool, err error) {
	if !strings.HasSuffix(name, ".sql") {
		return 0, "", false, nil
	}
	v, rest, found := strings.Cut(name, "_")
	if !found {
		return 0, "", true, fmt.Errorf("no '_' between the version and the description")
	}
	version, perr := strconv.ParseInt(v, 10, 64)
	if perr != nil || v == "" || v[0] == '+' || v[0] == '-' {
		return 0, "", true, fmt.Errorf("version %q is not a 64-bit integer", v)
	}
	desc := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(rest, ".sql"), ".up"), ".down")
	if desc == "" {
		return 0, "", true, fmt.Errorf("no description after the version")
	}
	return version, strings.ReplaceAll(desc, "_", " "), true, nil
}

// checkMigrations reports migration files sqlx would refuse: bad names,
// one version twice, files that are not regular or too large.
func (l *loader) checkMigrations(p *problems, pos Pos, field, dir string) {
	var entries []fs.DirEntry
	var err error
	if l.fsys != nil {
		entries, err = fs.ReadDir(l.fsys, fsPath(dir))
	} else {
		var f *os.File
		if f, err = os.Open(dir); err == nil {
			entries, err = f.ReadDir(MaxMigrations + 1)
			if errors.Is(err, io.EOF) {
				err = nil
			}
			f.Close()
		}
	}
	if err != nil {
		p.add(pos, field, "", "reading migrations: %s", describeReadError(err))
		return
	}
	if len(entries) > MaxMigrations {
		p.add(pos, field, "", "more than %d entries in %s", MaxMigrations, dir)
		return
	}
	slices.SortFunc(entries, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	versions := map[string]string{} // version+direction -> file
	for _, e := range entries {
		name := e.Name()
		v, _, ok, err := ParseMigrationName(name)
		if !ok {
			continue
		}
		full := filepath.Join(dir, name)
		if err != nil {
			p.add(Pos{File: full}, field, "name it <version>_<description>.sql, e.g. 20251114000000_init.sql", "migration %s: %v", name, err)
			continue
		}
		info, err := l.stat(full)
		if err == nil {
			err = regular(full, info, MaxMigrationSize)
		}
		if err != nil {
			p.add(Pos{File: full}, field, "", "migration %s: %s", name, describeReadError(err))
			continue
		}
		key := strconv.FormatInt(v, 10)
		if strings.HasSuffix(name, ".down.sql") {
			key += " down"
		}
		if other, dup := versions[key]; dup {
			p.add(Pos{File: full}, field, "give each migration its own version", "migration %s has the version of %s", name, other)
			continue
		}
		versions[key] = name
	}
}
