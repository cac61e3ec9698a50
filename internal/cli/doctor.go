package cli

import (
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/novadev/novadev/internal/supervisor"
)

func init() { register(newDoctor) }

func newDoctor(s Streams, g *Global) *cobra.Command {
	return &cobra.Command{
		Use:   "doctor",
		Short: "Check this machine can run the environment: engine, API version, memory, images, free ports",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			failed := 0
			report := func(ok bool, what, detail, fix string) {
				mark := "ok  "
				if !ok {
					mark = "FAIL"
					failed++
				}
				fmt.Fprintf(s.Out, "%s %-14s %s\n", mark, what, detail)
				if !ok && fix != "" {
					fmt.Fprintf(s.Out, "     fix: %s\n", fix)
				}
			}
			st, err := openStack(ctx, s, g, false)
			if err != nil {
				report(false, "engine", err.Error(), "")
				return &ExitError{Code: 1}
			}
			defer st.drv.Close()
			info, err := st.drv.Info(ctx)
			if err != nil {
				report(false, "engine", err.Error(), "")
				return &ExitError{Code: 1}
			}
			report(true, "engine", fmt.Sprintf("Docker %s on %s, %d CPUs", info.ServerVersion, info.OS, info.CPUs), "")
			report(apiAtLeast(info.APIVersion, 1, 41), "api version", info.APIVersion+" (need 1.41 or later)", "upgrade Docker to 20.10 or later")
			const needMem = 4 << 30
			report(info.MemoryBytes >= needMem, "memory", fmt.Sprintf("%.1f GiB for the engine (the full stack wants about 4 GiB)", float64(info.MemoryBytes)/(1<<30)),
				"give Docker more memory (Docker Desktop: Settings > Resources), or start fewer services with novadev up --only")
			plan, err := st.plan(ctx, st.c.Graph())
			if err != nil {
				report(false, "plan", err.Error(), "")
				return &ExitError{Code: 1}
			}
			var images []string
			for _, w := range st.spec.Workloads() {
				if !slices.Contains(images, w.Image) {
					images = append(images, w.Image)
				}
			}
			report(len(plan.MissingImages) == 0, "images", fmt.Sprintf("%d of %d present%s", len(images)-len(plan.MissingImages), len(images), missing(plan.MissingImages)),
				"make images (builds the offline image set from Debian packages), or docker pull them")
			var skipped []string
			for _, n := range plan.Order {
				if ns := plan.Nodes[n]; ns.Action == supervisor.Skip {
					skipped = append(skipped, n+" ("+ns.Reason+")")
				}
			}
			if len(skipped) > 0 {
				fmt.Fprintf(s.Out, "note %-14s %s\n", "not started", strings.Join(skipped, "; "))
			}
			r := &supervisor.Runner{Driver: st.drv}
			plan.MissingImages = nil // reported above
			if err := r.Preflight(ctx, plan); err != nil {
				report(false, "host ports", strings.ReplaceAll(err.Error(), "\n", "\n                    "), "")
			} else {
				report(true, "host ports", "every port "+st.spec.Identity.Project+" publishes is free or already its own", "")
			}
			if failed > 0 {
				return &ExitError{Code: 1, Err: fmt.Errorf("%d checks failed", failed)}
			}
			return nil
		},
	}
}

func apiAtLeast(v string, major, minor int) bool {
	var a, b int
	if _, err := fmt.Sscanf(v, "%d.%d", &a, &b); err != nil {
		return false
	}
	return a > major || (a == major && b >= minor)
}

func missing(m []string) string {
	if len(m) == 0 {
		return ""
	}
	return "; missing: " + strings.Join(m, ", ")
}
