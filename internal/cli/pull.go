package cli

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/novadev/novadev/internal/event"
)

// PullOptions are pull's flags.
type PullOptions struct {
	// UpdateLock pulls every upstream store image by its tag and writes
	// the digests to the images lock (up then pulls those digests).
	UpdateLock bool
	// Only limits the stores to those these nodes need.
	Only []string
}

// PullResult is what pull did with one image of the environment.
type PullResult struct {
	Image string `json:"image"`
	// Node is the store or service the image is for ("" when several
	// services share it).
	Node string `json:"node,omitempty"`
	// Status: pulled, present (already on the engine), built locally (an
	// offline image: make images builds it, no registry has it), fell back
	// (auto: the upstream pull failed, the offline image is used), or
	// failed.
	Status string `json:"status"`
	// Present says the engine has the image after the pull.
	Present bool   `json:"present"`
	Digest  string `json:"digest,omitempty"`
	Error   string `json:"error,omitempty"`
	// Unavailable, with Status "unavailable", says why an optional
	// store's image is not pulled in this environment (no offline image
	// of it): not a failure, its users run degraded.
	Unavailable string `json:"unavailable,omitempty"`
}

// newPull is compose's `pull`: fetch the environment's images.
func newPull(s Streams, g *Global, svc Service) *cobra.Command {
	var o PullOptions
	var only []string
	cmd := &cobra.Command{
		Use:   "pull",
		Short: "Pull the images of the environment (offline images answer \"built locally\")",
		Long: `Pull every image the environment's containers run, as docker compose pull
does. Store images come from the environment's image source (--images,
images.source): upstream and auto pull the images staging runs, through
NOVADEV_IMAGE_MIRROR (or images.mirror) when set; auto falls back to the
offline image per store when a pull fails. The offline image set
(novadev/postgres:15, ...: built by make images from Debian packages) is
never pulled: pull says "built locally" and whether the engine has it.
--update-lock pulls the upstream tags again and records their digests in
the images lock (envs/images.lock), which up then pulls by digest.
Exit 1 when an image could not be pulled or an offline image is missing.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			for _, n := range only {
				o.Only = append(o.Only, strings.Split(n, ",")...)
			}
			var sink event.Sink = event.Discard
			if g.Output != "json" {
				pr := newProgress(s, g)
				pr.out = s.Err
				defer pr.Close()
				sink = pr
			}
			res, err := svc.Pull(cmd.Context(), g, o, sink)
			if err != nil {
				return problemsExit(s, err)
			}
			failed := 0
			for _, r := range res {
				if r.Unavailable == "" && (r.Error != "" && r.Status != "fell back" || !r.Present) {
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
				case r.Unavailable != "":
					line += ": " + r.Unavailable + "; not pulled"
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
	cmd.Flags().BoolVar(&o.UpdateLock, "update-lock", false, "pull the upstream store images by tag and record their digests in the images lock")
	cmd.Flags().StringSliceVar(&only, "only", nil, "only the stores these nodes need (comma-separated)")
	return cmd
}
