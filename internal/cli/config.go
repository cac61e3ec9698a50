package cli

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"
)

// newConfig is compose's `config`: the effective configuration, here the
// catalog with the environment's overlay applied.
func newConfig(s Streams, g *Global) *cobra.Command {
	return &cobra.Command{
		Use:   "config",
		Short: "Print the effective catalog: envs/nova.yaml with the --env overlay applied",
		Long: `Print the catalog as novadev runs it for the selected environment (--env):
the base catalog with the overlay applied and defaults filled in, as YAML
(-o json: as JSON, with the environment and project). What up, render and
verify read; compare two environments with diff.`,
		Example: "  novadev config --env ci\n  diff <(novadev config --env local) <(novadev config --env ci)",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := loadCatalog(s, g)
			if err != nil {
				return err
			}
			doc, err := yaml.Marshal(c)
			if err != nil {
				return fmt.Errorf("config: %w", err)
			}
			if g.Output == "json" {
				// through a generic value: the catalog's types carry yaml
				// names only
				var v any
				if err := yaml.Unmarshal(doc, &v); err != nil {
					return fmt.Errorf("config: %w", err)
				}
				enc := json.NewEncoder(s.Out)
				enc.SetIndent("", "  ")
				return enc.Encode(map[string]any{"environment": c.Env.Metadata.Name, "project": c.Env.Project, "catalog": v})
			}
			fmt.Fprintf(s.Out, "# %s with environment %s (project %s)\n", c.File, c.Env.Metadata.Name, c.Env.Project)
			_, err = s.Out.Write(doc)
			return err
		},
	}
}
