package cli

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"
)

// PullResult is what pull did with one image of the environment.
type PullResult struct {
	Image string `json:"image"`
	// Status: pulled, built locally (an offline image: make images builds
	// it, no registry has it), or failed.
	Status string `json:"status"`
	// Present says the engine has the image after the pull.
	Present bool   `json:"present"`
	Error   string `json:"error,omitempty"`
}

// newPull is compose's `pull`: fetch the environment's images.
func newPull(s Streams, g *Global, svc Service) *cobra.Command {
	return &cobra.Command{
		Use:   "pull",
		Short: "Pull the images of the environment (offline images answer \"built locally\")",
		Long: `Pull every image the environment's containers run, as docker compose pull
does. The offline image set (novadev/postgres:15, novadev/redis:7, ...: no
registry host, built by make images from Debian packages) is never pulled:
pull says "built locally" and whether the engine has it. Exit 1 when an
image could not be pulled or an offline image is missing.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			res, err := svc.Pull(cmd.Context(), g)
			if err != nil {
				return problemsExit(s, err)
			}
			failed := 0
			for _, r := range res {
				if r.Error != "" || !r.Present {
					failed++
				}
			}
			if g.Output == "json" {
				if res == nil {
					res = []PullResult{}
				}
				enc := json.NewEncoder(s.Out)
				enc.SetIndent("", "  ")
				if err := enc.Encode(map[string]any{"ok": failed == 0, "images": res}); err != nil {
					return err
				}
				if failed > 0 {
					return &ExitError{Code: ExitFailure}
				}
				return nil
			}
			for _, r := range res {
				line := fmt.Sprintf("%-40s %s", r.Image, r.Status)
				switch {
				case r.Error != "":
					line += ": " + r.Error
				case r.Present:
					line += ", present"
				default:
					line += ", missing: run make images"
				}
				fmt.Fprintln(s.Out, line)
			}
			if failed > 0 {
				return &ExitError{Code: ExitFailure, Err: fmt.Errorf("%s not available", plural(failed, "image"))}
			}
			return nil
		},
	}
}
