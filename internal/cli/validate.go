package cli

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/novadev/novadev/internal/catalog"
	"github.com/spf13/cobra"
)

func newValidate(s Streams, g *Global) *cobra.Command {
	var all bool
	cmd := &cobra.Command{
		Use:   "validate",
		Short: "Check the catalog and its environment; report every problem at once",
		Long: `Check the catalog and the selected environment overlay (or, with --all,
every environment next to the catalog). Exit 0 with a one-line summary, or
exit 1 with every problem on stderr as file:line:col: field: message.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var cats []*catalog.Catalog
			var err error
			if all {
				var set *catalog.Set
				set, err = catalog.LoadSetContext(cmd.Context(), g.Catalog)
				if err == nil {
					cats = append(cats, set.Base)
					for _, n := range set.EnvNames() {
						cats = append(cats, set.Envs[n])
					}
				}
			} else {
				var c *catalog.Catalog
				c, err = catalog.LoadContext(cmd.Context(), g.Catalog, catalog.Options{Env: envFor(g)})
				cats = append(cats, c)
			}
			if g.Output == "json" {
				return validateJSON(s, cats, err)
			}
			if err != nil {
				return problemsExit(s, err)
			}
			for _, c := range cats {
				gr := c.Graph()
				fmt.Fprintf(s.Out, "%s: ok: environment %s (project %s): %d services, %d stores, %d bootstraps, %d edges\n",
					g.Catalog, c.Env.Metadata.Name, c.Env.Project, len(c.ActiveServices()), len(c.ActiveStores()), len(c.Bootstraps), len(gr.Edges()))
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&all, "all", false, "validate the bare catalog and every environment next to it")
	return cmd
}

func validateJSON(s Streams, cats []*catalog.Catalog, err error) error {
	var ps catalog.Problems
	if err != nil && !errors.As(err, &ps) {
		return err
	}
	type envSummary struct {
		Env        string `json:"env"`
		Project    string `json:"project"`
		Services   int    `json:"services"`
		Stores     int    `json:"stores"`
		Bootstraps int    `json:"bootstraps"`
	}
	out := struct {
		OK       bool              `json:"ok"`
		Problems []catalog.Problem `json:"problems"`
		Envs     []envSummary      `json:"environments,omitempty"`
	}{OK: err == nil, Problems: ps}
	if out.Problems == nil {
		out.Problems = []catalog.Problem{}
	}
	if err == nil {
		for _, c := range cats {
			out.Envs = append(out.Envs, envSummary{c.Env.Metadata.Name, c.Env.Project, len(c.ActiveServices()), len(c.ActiveStores()), len(c.Bootstraps)})
		}
	}
	enc := json.NewEncoder(s.Out)
	enc.SetIndent("", "  ")
	if e := enc.Encode(out); e != nil {
		return e
	}
	if err != nil {
		return &ExitError{Code: 1}
	}
	return nil
}
