package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

// Snapshot is one store snapshot on the engine, as snapshot save and list
// show it.
type Snapshot struct {
	Name    string    `json:"name"`
	Env     string    `json:"environment"`
	Source  string    `json:"source"` // the project it was saved from
	Created time.Time `json:"created"`
	Size    int64     `json:"sizeBytes"`
	// Inputs is the bootstraps' input hash it was saved at.
	Inputs     string   `json:"inputsHash"`
	Stores     []string `json:"stores"`
	Volumes    []string `json:"volumes"`
	Bootstraps []string `json:"bootstraps"` // completed against the saved stores
}

// SnapshotService saves, lists and removes store snapshots. The Service of
// internal/app implements it.
type SnapshotService interface {
	SnapshotSave(ctx context.Context, g *Global, name string) (*Snapshot, error)
	SnapshotList(ctx context.Context, g *Global) ([]Snapshot, error)
	SnapshotRemove(ctx context.Context, g *Global, name string) error
}

func snapshotService(svc Service) (SnapshotService, error) {
	ss, ok := svc.(SnapshotService)
	if !ok {
		return nil, errors.New("this build has no snapshot support")
	}
	return ss, nil
}

func newSnapshot(s Streams, g *Global, svc Service) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "snapshot",
		Short: "Save, list and remove copies of an instance's stores (up --from-snapshot starts a new instance from one)",
		Long: `A snapshot is a copy of a bootstrapped instance's store volumes (PostgreSQL,
Redis, Kafka, ClickHouse data), kept on the engine as labelled volumes and
keyed by the bootstraps' inputs (envs/: migrations, topics, schemas, users).
novadev --instance pr-124 up --from-snapshot NAME starts a new instance on a
copy of it: the bootstraps it vouches for are proven and skipped. A snapshot
whose inputs no longer match the catalog is refused, saying which changed.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return &UsageError{Err: errors.New("snapshot needs a subcommand: save NAME, list or rm NAME")}
		},
	}
	cmd.AddCommand(newSnapshotSave(s, g, svc), newSnapshotList(s, g, svc), newSnapshotRemove(s, g, svc))
	return cmd
}

func newSnapshotSave(s Streams, g *Global, svc Service) *cobra.Command {
	return &cobra.Command{
		Use:   "save NAME",
		Short: "Copy the stores of the instance (--instance) into a snapshot called NAME",
		Long: `Copy the store volumes of the instance (--instance, or the environment
itself) into a new snapshot. Every running store's bootstraps must have
completed against it with the current catalog (run up first). The stores are
paused while their volumes are copied (crash-consistent, like a power cut:
each store recovers from that by itself), then resumed.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ss, err := snapshotService(svc)
			if err != nil {
				return err
			}
			snap, err := ss.SnapshotSave(cmd.Context(), g, args[0])
			if err != nil {
				return problemsExit(s, err)
			}
			if g.Output == "json" {
				return writeJSON(s, snap)
			}
			fmt.Fprintf(s.Out, "saved snapshot %s of %s: %s in %d volumes (%s); bootstraps it vouches for: %s\n", snap.Name, snap.Source,
				humanBytes(snap.Size), len(snap.Volumes), strings.Join(snap.Stores, ", "), strings.Join(snap.Bootstraps, ", "))
			return nil
		},
	}
}

func newSnapshotList(s Streams, g *Global, svc Service) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List the snapshots on the engine",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ss, err := snapshotService(svc)
			if err != nil {
				return err
			}
			list, err := ss.SnapshotList(cmd.Context(), g)
			if err != nil {
				return problemsExit(s, err)
			}
			if g.Output == "json" {
				if list == nil {
					list = []Snapshot{}
				}
				return writeJSON(s, list)
			}
			if len(list) == 0 {
				fmt.Fprintln(s.Out, "no snapshots (novadev snapshot save NAME saves one)")
				return nil
			}
			fmt.Fprintf(s.Out, "%-20s %-8s %-24s %-21s %9s %-14s %s\n", "NAME", "ENV", "SOURCE", "CREATED", "SIZE", "INPUTS", "STORES")
			for _, sn := range list {
				fmt.Fprintf(s.Out, "%-20s %-8s %-24s %-21s %9s %-14s %s\n", sn.Name, sn.Env, sn.Source, sn.Created.UTC().Format(time.RFC3339),
					humanBytes(sn.Size), short(sn.Inputs), strings.Join(sn.Stores, ","))
			}
			return nil
		},
	}
}

func newSnapshotRemove(s Streams, g *Global, svc Service) *cobra.Command {
	return &cobra.Command{
		Use:     "rm NAME",
		Aliases: []string{"remove"},
		Short:   "Remove a snapshot (its volumes); no instance is touched",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ss, err := snapshotService(svc)
			if err != nil {
				return err
			}
			if err := ss.SnapshotRemove(cmd.Context(), g, args[0]); err != nil {
				return problemsExit(s, err)
			}
			if g.Output == "json" {
				return writeJSON(s, map[string]any{"removed": args[0]})
			}
			fmt.Fprintf(s.Out, "removed snapshot %s\n", args[0])
			return nil
		},
	}
}

func writeJSON(s Streams, v any) error {
	enc := json.NewEncoder(s.Out)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func short(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1fG", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1fM", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1fK", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%dB", n)
}
