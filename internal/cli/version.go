package cli

import (
	"encoding/json"
	"fmt"
	"runtime"

	"github.com/novadev/novadev/internal/catalog"
	"github.com/spf13/cobra"
)

func newVersion(s Streams, g *Global) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the novadev version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return printVersion(s, g)
		},
	}
}

// printVersion prints what version and --version print.
func printVersion(s Streams, g *Global) error {
	v := map[string]string{"version": Version, "go": runtime.Version(), "catalogAPI": catalog.APIVersion, "platform": runtime.GOOS + "/" + runtime.GOARCH}
	if g.Output == "json" {
		return json.NewEncoder(s.Out).Encode(v)
	}
	_, err := fmt.Fprintf(s.Out, "novadev %s (%s, %s, catalog %s)\n", v["version"], v["go"], v["platform"], v["catalogAPI"])
	return err
}
