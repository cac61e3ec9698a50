package supervisor

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/novadev/novadev/internal/catalog"
)

// Check is one finding of `novadev doctor`.
type Check struct {
	OK     bool   `json:"ok"`
	Note   bool   `json:"note,omitempty"` // informational, never a failure
	What   string `json:"what"`
	Detail string `json:"detail"`
	Fix    string `json:"fix,omitempty"`
}

// Doctor checks that this machine can run the graph on the runner's
// backend: the engine answers (and its API is recent enough), it has
// memory, every image is present, and the host ports are free. It returns
// every finding; the caller counts failures.
func (r *Runner) Doctor(ctx context.Context, g *catalog.Graph) []Check {
	var out []Check
	add := func(ok bool, what, detail, fix string) {
		out = append(out, Check{OK: ok, What: what, Detail: detail, Fix: fix})
	}
	info, err := r.Backend.Info(ctx)
	if err != nil {
		add(false, "engine", err.Error(), "")
		return out
	}
	add(true, "engine", fmt.Sprintf("%s %s on %s, %d CPUs", info.Engine, info.ServerVersion, info.OS, info.CPUs), "")
	if info.Target == "docker" {
		add(apiAtLeast(info.APIVersion, 1, 41), "api version", info.APIVersion+" (need 1.41 or later)", "upgrade Docker to 20.10 or later")
	}
	const needMem = 4 << 30
	add(info.MemoryBytes >= needMem, "memory", fmt.Sprintf("%.1f GiB for the engine (the full stack wants about 4 GiB)", float64(info.MemoryBytes)/(1<<30)),
		"give Docker more memory (Docker Desktop: Settings > Resources), or start fewer services with novadev up --only")
	snap, err := r.Backend.Observe(ctx)
	if err != nil {
		add(false, "observe", err.Error(), "")
		return out
	}
	plan, err := MakePlan(g, snap, "")
	if err != nil {
		add(false, "plan", err.Error(), "")
		return out
	}
	var images []string
	for name, n := range snap.Nodes {
		if plan.Steps[name].Op == Skip {
			continue // an unavailable optional store: nothing to pull (noted below)
		}
		for _, u := range n.Units {
			if !slices.Contains(images, u.Image) {
				images = append(images, u.Image)
			}
		}
	}
	miss := ""
	if len(plan.MissingImages) > 0 {
		miss = "; missing: " + strings.Join(plan.MissingImages, ", ")
	}
	add(len(plan.MissingImages) == 0, "images", fmt.Sprintf("%d of %d present%s", len(images)-len(plan.MissingImages), len(images), miss),
		"make images (builds the offline image set from Debian packages), or docker pull them")
	var skipped []string
	for _, n := range plan.Order {
		if st := plan.Steps[n]; st.Op == Skip {
			skipped = append(skipped, n+" ("+st.Reason+")")
		}
	}
	if len(skipped) > 0 {
		out = append(out, Check{OK: true, Note: true, What: "not started", Detail: strings.Join(skipped, "; ")})
	}
	if err := r.Backend.Preflight(ctx, snap, plan.Apply()); err != nil {
		add(false, "host ports", err.Error(), "")
	} else {
		add(true, "host ports", "every port "+snap.Instance+" publishes is free or already its own", "")
	}
	return out
}

func apiAtLeast(v string, major, minor int) bool {
	var a, b int
	if _, err := fmt.Sscanf(v, "%d.%d", &a, &b); err != nil {
		return false
	}
	return a > major || (a == major && b >= minor)
}
