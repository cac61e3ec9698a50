package app

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/compose-spec/compose-go/v2/dotenv"

	"github.com/novadev/novadev/internal/backend"
	"github.com/novadev/novadev/internal/bootstrap"
	"github.com/novadev/novadev/internal/catalog"
	"github.com/novadev/novadev/internal/cli"
	"github.com/novadev/novadev/internal/event"
	"github.com/novadev/novadev/internal/probe"
	"github.com/novadev/novadev/internal/render/compose"
	"github.com/novadev/novadev/internal/render/kind"
	"github.com/novadev/novadev/internal/secrets"
	"github.com/novadev/novadev/internal/state"
	"github.com/novadev/novadev/internal/supervisor"
)

// Env is one loaded environment, as a backend factory gets it.
type Env struct {
	Catalog *catalog.Catalog
	// Lookup returns a credential (or any ${VAR} of the rendered files)
	// by variable name.
	Lookup func(string) (string, bool)
	// CredentialsFile is where the credentials live (compose/.env).
	CredentialsFile string
	// Instance is the instance's record when --instance names one (its
	// labels go on every Docker object); nil: the environment itself.
	Instance *state.InstanceRecord
	// Images says whether opening pulls store images and where progress
	// goes (up, pull); nil: nothing is pulled.
	Images *ImagePolicy
	// KubeContext is --context: the kubeconfig context --target kube
	// runs on ("": the current one).
	KubeContext string
}

// BackendFactory opens the backend of one target for an environment.
type BackendFactory func(ctx context.Context, env *Env) (backend.Backend, error)

// Targets that are planned but have no backend yet.
var comingTargets = map[string]string{}

// notGenerated stands in for a credential not generated yet, for verbs
// that never write (dry-run, status, doctor, down).
const notGenerated = "not-generated-yet"

// service implements cli.Service over a backend.
type service struct {
	s cli.Streams
	o Options
}

var _ cli.Service = (*service)(nil)

// opened is one environment on its backend, for one verb.
type opened struct {
	c      *catalog.Catalog
	b      backend.Backend
	ends   *supervisor.Endpoints
	lookup func(string) (string, bool)
	lock   *supervisor.Lock // held for up and down
}

// close releases the backend and the instance lock.
func (e *opened) close() {
	e.b.Close()
	e.lock.Release()
}

// openOptions say what a verb needs besides the catalog and the backend.
type openOptions struct {
	ensureSecrets bool
	lockFor       string     // the verb taking the instance lock; "": none
	sink          event.Sink // told when the lock must be waited for
	ttl           string     // up --ttl: an instance's record is written (see instance.go)
	preview       bool       // up --dry-run: a new instance gets a block, recorded nowhere
	images        *ImagePolicy
}

func (sv *service) load(g *cli.Global) (*catalog.Catalog, error) {
	o, err := sv.loadOptions(g)
	if err != nil {
		return nil, err
	}
	return catalog.Load(g.Catalog, o)
}

// credentialsFile is compose/.env beside envs/ (where render compose
// writes it and docker compose reads it).
func credentialsFile(c *catalog.Catalog) (string, error) {
	abs, err := filepath.Abs(c.File)
	if err != nil {
		return "", err
	}
	return filepath.Join(filepath.Dir(filepath.Dir(abs)), compose.Dir, ".env"), nil
}

func (sv *service) targetNames() string {
	var names []string
	for n := range sv.o.Backends {
		names = append(names, n)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// open loads the environment, takes the instance lock (o.lockFor), then
// its credentials (generated first with o.ensureSecrets: under the lock, so
// two first ups never append two passwords for one name) and the backend
// of --target.
func (sv *service) open(ctx context.Context, g *cli.Global, o openOptions) (e *opened, err error) {
	ensureSecrets := o.ensureSecrets
	factory, ok := sv.o.Backends[g.Target]
	if !ok {
		if what, coming := comingTargets[g.Target]; coming {
			return nil, &cli.UsageError{Err: fmt.Errorf("--target %s (%s) is not available yet; valid targets: %s", g.Target, what, sv.targetNames())}
		}
		return nil, &cli.UsageError{Err: fmt.Errorf("unknown --target %q; valid targets: %s", g.Target, sv.targetNames())}
	}
	c, err := sv.load(g)
	if err != nil {
		return nil, err
	}
	mode := readInstance
	switch {
	case o.lockFor == "up":
		mode = writeInstance
	case o.lockFor == "down":
		mode = downInstance
	case o.preview:
		mode = previewInstance
	}
	c, inst, err := sv.openInstance(ctx, g, c, mode, o.ttl)
	if err != nil {
		return nil, err
	}
	envFile, err := credentialsFile(c)
	if err != nil {
		return nil, err
	}
	var lock *supervisor.Lock
	if o.lockFor != "" {
		if lock, err = sv.lock(ctx, g, c, o.lockFor, o.sink); err != nil {
			return nil, err
		}
		defer func() {
			if err != nil {
				lock.Release()
			}
		}()
	}
	if ensureSecrets {
		if created, err := secrets.EnsureEnvFile(envFile, secrets.Names(c)); err != nil {
			return nil, err
		} else if len(created) > 0 {
			fmt.Fprintf(sv.s.Err, "novadev: generated %d credentials into %s\n", len(created), envFile)
		}
	}
	vals := map[string]string{}
	if _, err := os.Stat(envFile); err == nil {
		if vals, err = dotenv.Read(envFile); err != nil {
			return nil, fmt.Errorf("reading %s: %w", envFile, err)
		}
	}
	lookup := func(k string) (string, bool) {
		if v := sv.s.Getenv(k); v != "" {
			return v, true
		}
		v, ok := vals[k]
		if !ok && !ensureSecrets {
			// dry-run, status, doctor, down: never write; a credential
			// not generated yet belongs to containers that do not exist
			return notGenerated, true
		}
		return v, ok
	}
	b, err := factory(ctx, &Env{Catalog: c, Lookup: lookup, CredentialsFile: envFile, Instance: inst, Images: o.images, KubeContext: g.Context})
	if err != nil {
		return nil, err
	}
	password := func(k string) string { v, _ := lookup(k); return v }
	return &opened{c: c, b: b, ends: supervisor.NewEndpoints(c, b, password), lookup: lookup, lock: lock}, nil
}

func (sv *service) runner(e *opened, sink event.Sink, parallel int) *supervisor.Runner {
	r := &supervisor.Runner{Backend: e.b, Sink: sink, Parallel: parallel, Clock: sv.o.Clock,
		Ready: e.ends.Readiness, Recheck: e.ends.Recheck, Bootstrap: e.ends.Bootstraps()}
	if sv.o.Ready != nil {
		r.Ready, r.Recheck = sv.o.Ready, nil
	}
	if j, ok := e.b.(jobRunner); ok {
		// kube: bootstraps run as the rendered Jobs (docs/decisions.md)
		r.Bootstrap = jobBootstrapper(j)
	}
	if sv.o.Bootstrap != nil {
		r.Bootstrap = sv.o.Bootstrap
	}
	return r
}

func (sv *service) graph(c *catalog.Catalog, only, except []string) (*catalog.Graph, error) {
	gr := c.Graph()
	if len(only) > 0 {
		var err error
		if gr, err = gr.Subgraph(only...); err != nil {
			return nil, err
		}
	}
	if len(except) > 0 {
		sub, left, err := withoutServices(c, gr, except)
		if err == nil {
			fmt.Fprintf(sv.s.Err, "novadev: --except %s: leaving out %s\n", strings.Join(except, ","), strings.Join(left, ", "))
		}
		return sub, err
	}
	return gr, nil
}

// Plan implements cli.Service.
func (sv *service) Plan(ctx context.Context, g *cli.Global, o cli.UpOptions) (*supervisor.Plan, error) {
	e, err := sv.open(ctx, g, openOptions{preview: true})
	if err != nil {
		return nil, unreachable(err)
	}
	defer e.close()
	var restore *supervisor.Restore
	if o.FromSnapshot != "" {
		if restore, err = sv.restoreStores(ctx, g, e, o.FromSnapshot, true); err != nil {
			return nil, err
		}
	}
	return sv.planWith(ctx, e, o, restore)
}

func (sv *service) plan(ctx context.Context, e *opened, o cli.UpOptions) (*supervisor.Plan, error) {
	return sv.planWith(ctx, e, o, nil)
}

// planWith plans up; with restore, for stores just created from a snapshot.
func (sv *service) planWith(ctx context.Context, e *opened, o cli.UpOptions, restore *supervisor.Restore) (*supervisor.Plan, error) {
	gr, err := sv.graph(e.c, o.Only, o.Except)
	if err != nil {
		return nil, err
	}
	snap, err := e.b.Observe(ctx)
	if err != nil {
		return nil, err
	}
	inputs, err := inputsHash(filepath.Dir(e.c.File))
	if err != nil {
		return nil, err
	}
	if restore != nil {
		return supervisor.MakeRestorePlan(gr, snap, inputs, *restore)
	}
	return supervisor.MakePlan(gr, snap, inputs)
}

// lock takes the instance lock for verb, telling sink when it must wait
// for another novadev first.
func (sv *service) lock(ctx context.Context, g *cli.Global, c *catalog.Catalog, verb string, sink event.Sink) (*supervisor.Lock, error) {
	path := supervisor.LockPath(sv.o.StateDir, g.Target, c.Env.Project)
	return supervisor.AcquireLock(ctx, path, verb+" "+c.Env.Project, func(h supervisor.Holder) {
		sink.Emit(event.Event{Time: time.Now(), Type: event.Note, Detail: fmt.Sprintf("waiting for %s to finish", h)})
	})
}

// timedOut marks an error of an up whose --timeout passed.
type timedOut struct{ error }

func (timedOut) Is(target error) bool { return target == cli.ErrTimeout }

func (t timedOut) Unwrap() error { return t.error }

// Up implements cli.Service.
func (sv *service) Up(ctx context.Context, g *cli.Global, o cli.UpOptions, sink event.Sink) (*cli.UpReport, error) {
	if o.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.Timeout)
		defer cancel()
	}
	if _, known := sv.o.Backends[g.Target]; known && g.Target == TargetKind {
		// the cluster, its registry and the dev overlay's images first:
		// the backend opens on the context this makes exist
		if _, err := sv.prepareKindCluster(ctx, g, sink); err != nil {
			return nil, err
		}
	}
	e, err := sv.open(ctx, g, openOptions{ensureSecrets: true, lockFor: "up", sink: sink, ttl: o.TTL, images: &ImagePolicy{Pull: true, Sink: sink, Only: o.Only}})
	if err != nil {
		return nil, err
	}
	defer e.close()
	var restore *supervisor.Restore
	if o.FromSnapshot != "" {
		// before anything starts: the stores must come up on the copy
		if restore, err = sv.restoreStores(ctx, g, e, o.FromSnapshot, false); err != nil {
			return nil, err
		}
		sink.Emit(event.Event{Time: time.Now(), Type: event.Note, Detail: fmt.Sprintf("store volumes of %s created from snapshot %s (%s)", e.c.Env.Project, o.FromSnapshot, strings.Join(restore.Stores, ", "))})
	}
	plan, err := sv.planWith(ctx, e, o, restore)
	if err != nil {
		return nil, err
	}
	res, err := sv.runner(e, sink, o.Parallel).Up(ctx, plan)
	if err != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
		err = timedOut{err}
	}
	if res == nil {
		return nil, err
	}
	return &cli.UpReport{Result: res, Endpoints: clusterEndpoints(e.b, e.ends.Reachable(res), e.b.Ports)}, err
}

// Down implements cli.Service.
func (sv *service) Down(ctx context.Context, g *cli.Global, o cli.DownOptions, sink event.Sink) (*supervisor.DownResult, error) {
	if o.Cluster {
		return sv.downCluster(ctx, g, sink)
	}
	e, err := sv.open(ctx, g, openOptions{lockFor: "down", sink: sink})
	if err != nil {
		return nil, err
	}
	defer e.close()
	return sv.runner(e, sink, 0).Down(ctx, e.c.Graph(), o.Volumes)
}

// Status implements cli.Service.
func (sv *service) Status(ctx context.Context, g *cli.Global) (*supervisor.StatusReport, error) {
	e, err := sv.open(ctx, g, openOptions{})
	if err != nil {
		return nil, err
	}
	defer e.close()
	ready := e.ends.Readiness
	if sv.o.Ready != nil {
		ready = sv.o.Ready
	}
	return supervisor.Inspect(ctx, e.b, e.c.Graph(), ready, time.Now)
}

// Logs implements cli.Service. The streams outlive the call, so the backend
// stays open (the process ends with the command).
func (sv *service) Logs(ctx context.Context, g *cli.Global, o cli.LogsOptions) ([]supervisor.LogStream, error) {
	e, err := sv.open(ctx, g, openOptions{})
	if err != nil {
		return nil, err
	}
	return supervisor.Logs(ctx, e.b, o.Names, o.Follow, o.Tail)
}

// Doctor implements cli.Service.
func (sv *service) Doctor(ctx context.Context, g *cli.Global) ([]supervisor.Check, error) {
	if g.Target == TargetKind {
		return sv.kindDoctor(ctx, g)
	}
	pol := &ImagePolicy{} // resolve without pulling: what up would start from
	e, err := sv.open(ctx, g, openOptions{images: pol})
	if err != nil {
		return nil, err
	}
	defer e.close()
	checks := sv.runner(e, nil, 0).Doctor(ctx, e.c.Graph())
	if g.Target == "docker" && len(pol.Choices) > 0 {
		checks = append(checks, imageSourcesCheck(e.c, pol.Choices))
	}
	return checks, nil
}

// Bootstrap implements cli.Service.
func (sv *service) Bootstrap(ctx context.Context, g *cli.Global, name string, o cli.BootstrapOptions, getenv func(string) string, log func(string, ...any)) error {
	step, ok := bootstrap.Lookup(name)
	if !ok {
		return &cli.UsageError{Err: fmt.Errorf("unknown step %q: want one of %s", name, strings.Join(catalog.Steps, ", "))}
	}
	if o.Record {
		if name != catalog.StepProtoValidate {
			return &cli.UsageError{Err: fmt.Errorf("--record applies to %s only", catalog.StepProtoValidate)}
		}
		step = bootstrap.ProtoValidate{Record: true}
	}
	step, err := bootstrap.WithOptions(step, bootstrap.Options{Check: o.Check, AllowDrift: o.AllowDrift})
	if err != nil {
		return &cli.UsageError{Err: err}
	}
	c, err := sv.load(g)
	if err != nil {
		return err
	}
	t, err := bootstrap.TargetsFromEnv(getenv)
	if err != nil {
		return &cli.UsageError{Err: err}
	}
	return step.Run(ctx, c, t, log)
}

// Wait implements cli.Service.
func (sv *service) Wait(ctx context.Context, targets []string, timeout time.Duration, ready func(string)) error {
	checks := make([]probe.Check, len(targets))
	for i, a := range targets {
		c, err := probe.ParseTarget(a)
		if err != nil {
			return err
		}
		checks[i] = c
	}
	var mu sync.Mutex
	var failed []string
	var wg sync.WaitGroup
	for _, c := range checks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := probe.Poll(ctx, probe.Real, probe.DefaultBackoff, timeout, c)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				failed = append(failed, err.Error())
				return
			}
			ready(c.String())
		}()
	}
	wg.Wait()
	if len(failed) > 0 {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return errors.New(strings.Join(failed, "\n"))
	}
	return nil
}

// Credentials implements cli.Service.
func (sv *service) Credentials(root string, set *catalog.Set, withCompose, withKind bool) (created, files []string, err error) {
	if withCompose {
		var names []string
		for _, c := range append([]*catalog.Catalog{set.Base}, envCatalogs(set)...) {
			names = append(names, secrets.Names(c)...)
		}
		created, err = secrets.EnsureEnvFile(filepath.Join(root, "compose", ".env"), slices.Compact(slices.Sorted(slices.Values(names))))
		if err != nil {
			return nil, nil, fmt.Errorf("credentials file: %w", err)
		}
	}
	if withKind {
		if files, err = ensureKindCredentials(root, set); err != nil {
			return created, files, fmt.Errorf("kind credentials: %w", err)
		}
	}
	return created, files, nil
}

func envCatalogs(set *catalog.Set) []*catalog.Catalog {
	var out []*catalog.Catalog
	for _, n := range set.EnvNames() {
		out = append(out, set.Envs[n])
	}
	return out
}

// ensureKindCredentials writes kind/overlays/{dev,pr}/credentials.env
// (mode 0600, git-ignored) when missing, with the same passwords as
// compose/.env (created there first if needed), so both targets share one
// set of credentials. An existing file is never rewritten: a key the
// catalog gained since (a new service, ClickHouse's admin) is appended
// with compose/.env's value, and every value already there stays; without
// that, `kubectl apply -k` of the overlay makes a Secret lacking the key
// and the pods that read it fail with CreateContainerConfigError.
func ensureKindCredentials(root string, set *catalog.Set) ([]string, error) {
	envFile := filepath.Join(root, "compose", ".env")
	var written []string
	for _, overlay := range catalog.KindOverlays {
		// the environment rendered as this overlay names the keys
		c := set.ForKindOverlay(overlay)
		if c == nil {
			c = set.Base
		}
		path := filepath.Join(root, "kind", "overlays", overlay, "credentials.env")
		keys := kind.CredentialKeys(c)
		old, err := os.ReadFile(path)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return written, err
		}
		exists := err == nil
		var missing []string
		have := secrets.Defined(old)
		for _, k := range keys {
			if !have[k] {
				missing = append(missing, k)
			}
		}
		if exists && len(missing) == 0 {
			continue
		}
		if _, err := secrets.EnsureEnvFile(envFile, keys); err != nil {
			return written, err
		}
		data, err := os.ReadFile(envFile)
		if err != nil {
			return written, err
		}
		values := secrets.Values(data)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return written, err
		}
		rel := filepath.ToSlash(filepath.Join("kind", "overlays", overlay, "credentials.env"))
		if !exists {
			if err := os.WriteFile(path, kind.CredentialsEnv(c, func(k string) string { return values[k] }), 0o600); err != nil {
				return written, err
			}
			written = append(written, rel)
			continue
		}
		var add strings.Builder
		if len(old) > 0 && old[len(old)-1] != '\n' {
			add.WriteByte('\n') // never glue a new line onto the last value
		}
		for _, k := range missing {
			fmt.Fprintf(&add, "%s=%s\n", k, values[k])
		}
		// appended, not rewritten: a crash half-way can at worst leave a
		// partial last line, never lose a value already there
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			return written, err
		}
		_, werr := f.WriteString(add.String())
		if cerr := f.Close(); werr == nil {
			werr = cerr
		}
		if werr != nil {
			return written, fmt.Errorf("%s: %w", rel, werr)
		}
		written = append(written, rel+" (added "+strings.Join(missing, ", ")+")")
	}
	return written, nil
}

// inputsHash fingerprints every file bootstraps may read (the catalog's
// folder: environments, migrations, protos) and the novadev version, so a
// completed bootstrap runs again only when one of them changed.
func inputsHash(dir string) (string, error) {
	h := sha256.New()
	fmt.Fprintf(h, "novadev %s\x00", cli.Version)
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		fmt.Fprintf(h, "%s\x00%d\x00", filepath.ToSlash(rel), len(b))
		h.Write(b)
		return nil
	})
	return hex.EncodeToString(h.Sum(nil)), err
}
