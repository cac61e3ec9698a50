package cli

import (
	"encoding/json"
	"fmt"
	"slices"

	"github.com/novadev/novadev/internal/catalog"
	"github.com/novadev/novadev/internal/render"
	"github.com/novadev/novadev/internal/render/compose"
	"github.com/novadev/novadev/internal/render/kind"
	"github.com/novadev/novadev/internal/render/tilt"
	"github.com/spf13/cobra"
)

// renderers maps a render target to its pure renderer.
var renderers = map[string]func(*catalog.Set) (render.Files, error){
	"compose": compose.Render,
	"kind":    kind.Render,
	"tilt":    tilt.Render,
}

type renderOptions struct {
	root  string
	check bool
}

func newRender(s Streams, g *Global, svc Service) *cobra.Command {
	o := &renderOptions{}
	cmd := &cobra.Command{
		Use:   "render compose|kind|tilt|all",
		Short: "Write the artifacts rendered from the catalog (compose/, kind/, Tiltfile)",
		Long: `Render the catalog and every environment next to it into committed artifacts:
  compose  compose/docker-compose.yaml (local) and compose/docker-compose.<env>.yaml
  kind     kind/cluster.yaml, kind/base and kind/overlays/{dev,pr,staging}
  tilt     Tiltfile
  all      all of them
Files whose content is already right are left untouched. --check writes
nothing and exits 1 when a file would change (the CI drift check).
render compose also creates compose/.env (mode 0600, git-ignored) with a
random password for every credential that is not there yet; existing values
are never changed.`,
		Example:   "  novadev render all\n  novadev render compose --check",
		Args:      cobra.ExactArgs(1),
		ValidArgs: []string{"compose", "kind", "tilt", "all"},
		RunE: func(cmd *cobra.Command, args []string) error {
			var targets []string
			if args[0] == "all" {
				targets = []string{"compose", "kind", "tilt"}
			} else if _, ok := renderers[args[0]]; ok {
				targets = []string{args[0]}
			} else {
				return &UsageError{Err: fmt.Errorf("unknown render target %q: use compose, kind, tilt or all", args[0])}
			}
			set, err := catalog.LoadSetContext(cmd.Context(), g.Catalog)
			if err != nil {
				return problemsExit(s, err)
			}
			root, err := render.ProjectRoot(g.Catalog, o.root)
			if err != nil {
				return err
			}
			files := render.Files{}
			for _, t := range targets {
				if err := cmd.Context().Err(); err != nil {
					return fmt.Errorf("render interrupted, nothing written: %w", err)
				}
				out, err := renderers[t](set)
				if err != nil {
					return fmt.Errorf("render %s: %w", t, err)
				}
				for p, b := range out {
					files[p] = b
				}
			}
			plan, err := render.NewPlan(root, files)
			if err != nil {
				return err
			}
			if o.check {
				return checkRendered(s, g, plan)
			}
			// every file rendered, secrets allowed: only now is anything written
			if err := plan.RequireIgnored(secretFiles(targets)...); err != nil {
				return err
			}
			results, err := plan.Write(cmd.Context())
			if err != nil {
				return err
			}
			createdSecrets, credentialFiles, err := svc.Credentials(root, set, slices.Contains(targets, "compose"), slices.Contains(targets, "kind"))
			if err != nil {
				return err
			}
			return reportRendered(s, g, results, createdSecrets, credentialFiles)
		},
	}
	cmd.Flags().StringVar(&o.root, "project-directory", "", "the project root to write into (default: the directory holding envs/)")
	cmd.Flags().StringVar(&o.root, "root", "", "old name of --project-directory")
	_ = cmd.Flags().MarkHidden("root")
	cmd.Flags().BoolVar(&o.check, "check", false, "write nothing; exit 1 when a rendered file differs from the catalog")
	return cmd
}

// secretFiles are the git-ignored credential files a render of targets
// may create (see ensureKindCredentials).
func secretFiles(targets []string) []string {
	var out []string
	if slices.Contains(targets, "compose") || slices.Contains(targets, "kind") {
		out = append(out, "compose/.env")
	}
	if slices.Contains(targets, "kind") {
		for _, overlay := range catalog.KindOverlays {
			out = append(out, "kind/overlays/"+overlay+"/"+kind.CredentialsFile)
		}
	}
	return out
}

func checkRendered(s Streams, g *Global, plan *render.Plan) error {
	drifts, err := plan.Drift()
	if err != nil {
		return err
	}
	var drift []string
	for _, d := range drifts {
		drift = append(drift, d.Path)
	}
	files := plan.Files
	if g.Output == "json" {
		if err := json.NewEncoder(s.Out).Encode(map[string]any{"upToDate": len(drift) == 0, "drifted": drift, "drift": drifts}); err != nil {
			return err
		}
	} else {
		for _, d := range drifts {
			switch d.Reason {
			case "stale":
				fmt.Fprintf(s.Err, "%s: generated, but the catalog no longer renders it (render removes it)\n", d.Path)
			case "missing":
				fmt.Fprintf(s.Err, "%s: missing\n", d.Path)
			default:
				fmt.Fprintf(s.Err, "%s: differs from the catalog\n", d.Path)
			}
		}
	}
	if len(drift) > 0 {
		return &ExitError{Code: 1, Err: fmt.Errorf("%s out of date: run novadev render all (or make render) and commit the result", plural(len(drift), "rendered file"))}
	}
	if g.Output != "json" {
		fmt.Fprintf(s.Out, "%d rendered files up to date\n", len(files))
	}
	return nil
}

func reportRendered(s Streams, g *Global, results []render.Result, createdSecrets, credentialFiles []string) error {
	changed := 0
	for _, r := range results {
		if r.Changed {
			changed++
		}
	}
	if g.Output == "json" {
		return json.NewEncoder(s.Out).Encode(map[string]any{"files": results, "changed": changed, "secretsCreated": createdSecrets, "credentialFilesCreated": credentialFiles})
	}
	for _, r := range results {
		switch {
		case r.Removed:
			fmt.Fprintf(s.Out, "removed %s (no longer rendered)\n", r.Path)
		case r.Changed:
			fmt.Fprintf(s.Out, "wrote %s\n", r.Path)
		}
	}
	fmt.Fprintf(s.Out, "%d files rendered, %d changed", len(results), changed)
	if len(createdSecrets) > 0 {
		fmt.Fprintf(s.Out, "; %d new credentials in compose/.env", len(createdSecrets))
	}
	for _, f := range credentialFiles {
		fmt.Fprintf(s.Out, "; wrote %s (mode 0600, git-ignored)", f)
	}
	fmt.Fprintln(s.Out)
	return nil
}
