package cli

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/compose-spec/compose-go/v2/dotenv"
	"github.com/spf13/cobra"

	"github.com/novadev/novadev/internal/bootstrap"
	"github.com/novadev/novadev/internal/catalog"
	"github.com/novadev/novadev/internal/driver/docker"
	"github.com/novadev/novadev/internal/event"
	"github.com/novadev/novadev/internal/render/compose"
	"github.com/novadev/novadev/internal/secrets"
	"github.com/novadev/novadev/internal/state"
	"github.com/novadev/novadev/internal/supervisor"
)

func init() { register(newUp) }

type upOptions struct {
	only     []string
	dryRun   bool
	timeout  time.Duration
	parallel int
}

func newUp(s Streams, g *Global) *cobra.Command {
	o := &upOptions{}
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Start the environment on Docker: stores, bootstraps, services, each proven ready",
		Long: `Start the environment on Docker. novadev finds what already runs (by label),
plans what to create, start or replace (--dry-run prints the plan), then
starts every store, bootstrap and service once all it needs is ready.
An unchanged, running container is left alone: a second up changes nothing.
Ctrl-C stops cleanly; the next up resumes.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runUp(cmd.Context(), s, g, o) },
	}
	f := cmd.Flags()
	f.StringSliceVar(&o.only, "only", nil, "start only these services (and what they need)")
	f.BoolVar(&o.dryRun, "dry-run", false, "print the plan and change nothing")
	f.DurationVar(&o.timeout, "timeout", 15*time.Minute, "give up after this long")
	f.IntVar(&o.parallel, "parallel", 6, "containers created or bootstraps run at once")
	return cmd
}

// stack is one environment as the CLI drives it.
type stack struct {
	c      *catalog.Catalog
	spec   *supervisor.Spec
	ends   *supervisor.Endpoints
	drv    *docker.Driver
	lookup func(string) (string, bool)
}

// openStack loads the catalog, its compose project and credentials, and
// connects to Docker. With ensureSecrets, missing credentials are generated
// into compose/.env first (as `novadev secrets` does).
func openStack(ctx context.Context, s Streams, g *Global, ensureSecrets bool) (*stack, error) {
	c, err := loadCatalog(s, g)
	if err != nil {
		return nil, err
	}
	p, err := compose.Project(c)
	if err != nil {
		return nil, err
	}
	envFile := filepath.Join(p.WorkingDir, ".env")
	if ensureSecrets {
		if created, err := secrets.EnsureEnvFile(envFile, secrets.Names(c)); err != nil {
			return nil, err
		} else if len(created) > 0 {
			fmt.Fprintf(s.Err, "novadev: generated %d credentials into %s\n", len(created), envFile)
		}
	}
	vals := map[string]string{}
	if _, err := os.Stat(envFile); err == nil {
		if vals, err = dotenv.Read(envFile); err != nil {
			return nil, fmt.Errorf("reading %s: %w", envFile, err)
		}
	}
	lookup := func(k string) (string, bool) {
		if v := s.Getenv(k); v != "" {
			return v, true
		}
		v, ok := vals[k]
		if !ok && !ensureSecrets {
			// dry-run, status, doctor: never write; a credential not
			// generated yet belongs to containers that do not exist yet
			return "not-generated-yet", true
		}
		return v, ok
	}
	id := state.Identity{Project: c.Env.Project, Env: c.Env.Metadata.Name, WorkingDir: p.WorkingDir}
	if file := filepath.Join(filepath.Dir(p.WorkingDir), compose.FileName(c.Env.Metadata.Name)); fileExists(file) {
		id.ConfigFiles = []string{file}
	}
	spec, err := supervisor.FromCompose(p, id, lookup)
	if err != nil {
		return nil, fmt.Errorf("%w (credentials live in %s: run novadev up or novadev secrets to create them)", err, envFile)
	}
	if spec.InputsHash, err = inputsHash(filepath.Dir(c.File)); err != nil {
		return nil, err
	}
	drv, err := docker.New(ctx)
	if err != nil {
		return nil, err
	}
	password := func(k string) string { v, _ := lookup(k); return v }
	return &stack{c: c, spec: spec, ends: supervisor.NewEndpoints(c, spec, password), drv: drv, lookup: lookup}, nil
}

// inputsHash fingerprints every file bootstraps may read (the catalog's
// folder: environments, migrations, protos) and the novadev version, so a
// completed bootstrap runs again only when one of them changed.
func inputsHash(dir string) (string, error) {
	h := sha256.New()
	fmt.Fprintf(h, "novadev %s\x00", Version)
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

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

// plan observes the engine and plans g.
func (st *stack) plan(ctx context.Context, g *catalog.Graph) (*supervisor.Plan, error) {
	obs, err := st.drv.Observe(ctx, st.spec.Identity.Project)
	if err != nil {
		return nil, err
	}
	images := map[string]string{}
	for _, w := range st.spec.Workloads() {
		if _, seen := images[w.Image]; seen {
			continue
		}
		if id, err := st.drv.ImageID(ctx, w.Image); err == nil {
			images[w.Image] = id
		}
	}
	return supervisor.MakePlan(g, st.spec, obs, images)
}

// runner returns a supervisor runner wired to this stack.
func (st *stack) runner(sink event.Sink, parallel int) *supervisor.Runner {
	targets := st.ends.Targets()
	return &supervisor.Runner{
		Driver: st.drv, Sink: sink, Parallel: parallel, Ready: st.ends.Readiness, Recheck: st.ends.Recheck,
		Bootstrap: func(ctx context.Context, b *catalog.Bootstrap, log func(string, ...any)) error {
			step, ok := bootstrap.Lookup(b.Step)
			if !ok {
				return fmt.Errorf("unknown bootstrap step %q", b.Step)
			}
			return step.Run(ctx, st.c, targets, log)
		},
	}
}

func runUp(ctx context.Context, s Streams, g *Global, o *upOptions) error {
	if o.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.timeout)
		defer cancel()
	}
	st, err := openStack(ctx, s, g, !o.dryRun)
	if err != nil {
		return err
	}
	defer st.drv.Close()
	gr := st.c.Graph()
	if len(o.only) > 0 {
		if gr, err = gr.Subgraph(o.only...); err != nil {
			return err
		}
	}
	plan, err := st.plan(ctx, gr)
	if err != nil {
		return err
	}
	if o.dryRun {
		fmt.Fprint(s.Out, plan.String())
		return nil
	}
	pr := newProgress(s, g)
	res, err := st.runner(pr, o.parallel).Up(ctx, plan)
	pr.Close()
	if res != nil {
		pr.Summary(res, st.endpointLines(gr))
	}
	if err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			err = fmt.Errorf("gave up after --timeout %s: %w", o.timeout, err)
		}
		return &ExitError{Code: 1, Err: err}
	}
	return nil
}

// endpointLines lists where people reach the stores and services.
func (st *stack) endpointLines(gr *catalog.Graph) []string {
	var out []string
	for _, n := range gr.Names() {
		for _, w := range st.spec.Nodes[n] {
			for _, p := range w.Ports {
				out = append(out, fmt.Sprintf("%-24s %s:%d -> %d", w.Service, p.HostIP, p.Host, p.Container))
			}
		}
	}
	return out
}
