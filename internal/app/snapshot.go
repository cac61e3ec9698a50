package app

// Store snapshots: novadev snapshot save|list|rm and up --from-snapshot.
// The backend copies volumes (backend.Snapshotter); what a snapshot may be
// used for is decided here: it records the bootstraps' inputs file by file,
// a fingerprint of every credential, and which bootstraps had completed
// against the saved stores; a restore is refused when any of them no longer
// holds, saying which and what to do. See docs/instances.md (Snapshots).

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/novadev/novadev/internal/backend"
	"github.com/novadev/novadev/internal/bootstrap"
	"github.com/novadev/novadev/internal/catalog"
	"github.com/novadev/novadev/internal/cli"
	"github.com/novadev/novadev/internal/event"
	"github.com/novadev/novadev/internal/secrets"
	"github.com/novadev/novadev/internal/state"
	"github.com/novadev/novadev/internal/supervisor"
)

// versionInput is the digest list's entry for the novadev version (part of
// the inputs hash: a new novadev may bootstrap differently).
const versionInput = "(novadev version)"

// inputDigests is inputsHash's input, file by file: each file under dir
// (slash-separated, relative) with the first 16 hex digits of its SHA-256,
// and the novadev version.
func inputDigests(dir string) (map[string]string, error) {
	out := map[string]string{versionInput: cli.Version}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		sum := sha256.Sum256(b)
		out[filepath.ToSlash(rel)] = hex.EncodeToString(sum[:8])
		return nil
	})
	return out, err
}

// encodePairs writes k=v,... sorted by key (label values: no commas or
// equals signs in keys or values, which file paths here and hex never hold).
func encodePairs(m map[string]string) string {
	var parts []string
	for _, k := range slices.Sorted(func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}) {
		parts = append(parts, k+"="+m[k])
	}
	return strings.Join(parts, ",")
}

// decodePairs reads encodePairs' output; an entry without "=" is kept
// with an empty value.
func decodePairs(s string) map[string]string {
	out := map[string]string{}
	for _, p := range strings.Split(s, ",") {
		if p == "" {
			continue
		}
		k, v, _ := strings.Cut(p, "=")
		out[k] = v
	}
	return out
}

// changedInputs says, per input, how now differs from what was saved:
// "migrations/x.sql changed", "... added", "... removed", sorted.
func changedInputs(saved, now map[string]string) []string {
	var out []string
	for k, v := range now {
		old, ok := saved[k]
		switch {
		case k == versionInput && ok && old != v:
			out = append(out, fmt.Sprintf("novadev version %s (saved with %s)", v, old))
		case !ok:
			out = append(out, k+" added")
		case old != v:
			out = append(out, k+" changed")
		}
	}
	for k := range saved {
		if _, ok := now[k]; !ok {
			out = append(out, k+" removed")
		}
	}
	slices.Sort(out)
	return out
}

// credentialPrints fingerprints each credential the environment's stores
// are bootstrapped with: a salted SHA-256 of name and value (16 hex
// digits of 32 random characters: says "same or not", reveals nothing).
func credentialPrints(names []string, lookup func(string) (string, bool)) map[string]string {
	out := map[string]string{}
	for _, n := range names {
		v, _ := lookup(n)
		sum := sha256.Sum256([]byte("novadev snapshot credential\x00" + n + "\x00" + v))
		out[n] = hex.EncodeToString(sum[:8])
	}
	return out
}

// snapshotRefusal says why a snapshot cannot start this environment, every
// reason at once, and what to do; nil when it can.
func snapshotRefusal(sc backend.StoreCopy, env string, inputs map[string]string, creds map[string]string) error {
	var why []string
	if sc.Env != env {
		why = append(why, fmt.Sprintf("it was saved from environment %s, not %s (use --env %s)", sc.Env, env, sc.Env))
	}
	if changed := changedInputs(decodePairs(sc.Labels[state.LabelSnapshotInputFiles]), inputs); len(changed) > 0 {
		why = append(why, "the bootstraps' inputs changed since it was saved: "+strings.Join(changed, ", "))
	}
	saved := decodePairs(sc.Labels[state.LabelSnapshotCredentials])
	var differ []string
	for n, p := range creds {
		if old, ok := saved[n]; ok && old != p {
			differ = append(differ, n)
		}
	}
	if len(differ) > 0 {
		slices.Sort(differ)
		why = append(why, "its stores hold other credentials than compose/.env: "+strings.Join(differ, ", ")+
			" (the PostgreSQL superuser's password lives in its data; use the compose/.env it was saved with)")
	}
	if len(why) == 0 {
		return nil
	}
	return fmt.Errorf("snapshot %s is refused: %s; start without --from-snapshot (the bootstraps run), or save a new one from an instance brought up with the current catalog: novadev --instance NAME up, then novadev --instance NAME snapshot save %s (after novadev snapshot rm %s)",
		sc.Name, strings.Join(why, "; "), sc.Name, sc.Name)
}

func snapshotter(e *opened, target string) (backend.Snapshotter, error) {
	s, ok := e.b.(backend.Snapshotter)
	if !ok {
		return nil, &cli.UsageError{Err: fmt.Errorf("snapshots are not available on --target %s; they work on --target docker", target)}
	}
	return s, nil
}

func toCLISnapshot(sc backend.StoreCopy) cli.Snapshot {
	split := func(s string) []string {
		if s == "" {
			return []string{}
		}
		return strings.Split(s, ",")
	}
	vols := sc.Volumes
	if vols == nil {
		vols = []string{}
	}
	return cli.Snapshot{Name: sc.Name, Env: sc.Env, Source: sc.Source, Created: sc.Created, Size: sc.Size, Inputs: sc.Labels[state.LabelSnapshotInputs],
		Stores: split(sc.Labels[state.LabelSnapshotStores]), Volumes: vols, Bootstraps: split(sc.Labels[state.LabelSnapshotBootstraps])}
}

// SnapshotSave implements cli.SnapshotService.
func (sv *service) SnapshotSave(ctx context.Context, g *cli.Global, name string) (*cli.Snapshot, error) {
	if err := validateSnapshotName(name); err != nil {
		return nil, err
	}
	// under the instance lock: no up or down changes the stores meanwhile
	e, err := sv.open(ctx, g, openOptions{lockFor: "snapshot", sink: event.Discard})
	if err != nil {
		return nil, err
	}
	defer e.close()
	sn, err := snapshotter(e, g.Target)
	if err != nil {
		return nil, err
	}
	plan, err := sv.plan(ctx, e, cli.UpOptions{})
	if err != nil {
		return nil, err
	}
	stores, completed, problems := plan.SnapshotContent()
	if len(problems) > 0 {
		return nil, fmt.Errorf("cannot save snapshot %s of %s: %s; bring it up first (novadev%s up), then save again",
			name, e.c.Env.Project, strings.Join(problems, "; "), instanceFlag(g))
	}
	dir := filepath.Dir(e.c.File)
	hash, err := inputsHash(dir)
	if err != nil {
		return nil, err
	}
	files, err := inputDigests(dir)
	if err != nil {
		return nil, err
	}
	labels := map[string]string{
		state.LabelSnapshotInputs:      hash,
		state.LabelSnapshotInputFiles:  encodePairs(files),
		state.LabelSnapshotCredentials: encodePairs(credentialPrints(secrets.Names(e.c), e.lookup)),
		state.LabelSnapshotStores:      strings.Join(stores, ","),
		state.LabelSnapshotBootstraps:  strings.Join(completed, ","),
	}
	if err := sv.checkpoint(ctx, e, stores); err != nil {
		return nil, err
	}
	sc, err := sn.SaveStores(ctx, name, stores, labels)
	if err != nil {
		return nil, err
	}
	out := toCLISnapshot(sc)
	return &out, nil
}

// checkpoint has PostgreSQL write every dirty page and mark a checkpoint
// just before the pause: the copy is then one a restored server starts from
// at once, instead of replaying all the WAL since the last timed checkpoint
// (the bootstraps' CREATE DATABASEs alone write each database into it;
// replaying that doubled the restored server's start here).
func (sv *service) checkpoint(ctx context.Context, e *opened, stores []string) error {
	for _, s := range stores {
		st := e.c.Stores[s]
		if st == nil || st.Kind != catalog.StorePostgres {
			continue
		}
		addr := e.ends.Targets().Postgres
		pw, _ := e.lookup(catalog.SuperuserPasswordVar)
		u := url.URL{Scheme: "postgres", User: url.UserPassword(bootstrap.PostgresSuperuser, pw), Host: addr, Path: "/postgres", RawQuery: "sslmode=disable"}
		cctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		conn, err := pgx.Connect(cctx, u.String())
		if err != nil {
			return fmt.Errorf("snapshot: CHECKPOINT of %s before the copy: %w", s, err)
		}
		_, err = conn.Exec(cctx, "CHECKPOINT")
		conn.Close(cctx)
		if err != nil {
			return fmt.Errorf("snapshot: CHECKPOINT of %s before the copy: %w", s, err)
		}
	}
	return nil
}

func instanceFlag(g *cli.Global) string {
	s := ""
	if g.Env != "" {
		s += " --env " + g.Env
	}
	if g.Instance != "" {
		s += " --instance " + g.Instance
	}
	return s
}

// validateSnapshotName accepts what an instance name accepts (it becomes
// part of volume names).
func validateSnapshotName(name string) error {
	if len(name) > 63 || !dnsLabel.MatchString(name) {
		return &cli.UsageError{Err: fmt.Errorf("snapshot name %q is not a DNS-1123 label: use at most 63 lower-case letters, digits and '-', starting and ending with a letter or digit, e.g. base-2026-12-01", name)}
	}
	return nil
}

// snapshotsOf opens the environment's backend (no instance lock: a
// snapshot belongs to no instance) for the engine-wide verbs.
func (sv *service) snapshotsOf(ctx context.Context, g *cli.Global) (*opened, backend.Snapshotter, error) {
	h := *g
	h.Instance = "" // engine-wide: the environment's backend reaches every snapshot
	e, err := sv.open(ctx, &h, openOptions{})
	if err != nil {
		return nil, nil, err
	}
	sn, err := snapshotter(e, g.Target)
	if err != nil {
		e.close()
		return nil, nil, err
	}
	return e, sn, nil
}

// SnapshotList implements cli.SnapshotService.
func (sv *service) SnapshotList(ctx context.Context, g *cli.Global) ([]cli.Snapshot, error) {
	e, sn, err := sv.snapshotsOf(ctx, g)
	if err != nil {
		return nil, err
	}
	defer e.close()
	list, err := sn.StoreCopies(ctx)
	if err != nil {
		return nil, err
	}
	out := []cli.Snapshot{}
	for _, sc := range list {
		out = append(out, toCLISnapshot(sc))
	}
	return out, nil
}

// SnapshotRemove implements cli.SnapshotService.
func (sv *service) SnapshotRemove(ctx context.Context, g *cli.Global, name string) error {
	if err := validateSnapshotName(name); err != nil {
		return err
	}
	e, sn, err := sv.snapshotsOf(ctx, g)
	if err != nil {
		return err
	}
	defer e.close()
	err = sn.RemoveStoreCopy(ctx, name)
	if errors.Is(err, backend.ErrNotFound) {
		return sv.unknownSnapshot(ctx, sn, name)
	}
	return err
}

// unknownSnapshot is the error for a name that matches no snapshot: it
// lists those that exist.
func (sv *service) unknownSnapshot(ctx context.Context, sn backend.Snapshotter, name string) error {
	list, err := sn.StoreCopies(ctx)
	if err != nil {
		return err
	}
	var names []string
	for _, sc := range list {
		names = append(names, fmt.Sprintf("%s (%s, from %s)", sc.Name, sc.Env, sc.Source))
	}
	have := "there are none (novadev --instance NAME snapshot save SNAPSHOT saves one)"
	if len(names) > 0 {
		have = "the snapshots on this engine: " + strings.Join(names, ", ")
	}
	return &cli.UsageError{Err: fmt.Errorf("no snapshot named %q; %s", name, have)}
}

// restoreStores is up --from-snapshot's first step, under the instance
// lock: the snapshot is found and checked against the catalog, the
// instance's credentials and its environment, and the instance's store
// volumes are created from it (not with dryRun). It returns what the plan needs to keep the
// bootstraps the snapshot vouches for. Nothing of another instance is
// touched; a refused snapshot leaves a new instance as it found it.
func (sv *service) restoreStores(ctx context.Context, g *cli.Global, e *opened, name string, dryRun bool) (*supervisor.Restore, error) {
	if err := validateSnapshotName(name); err != nil {
		return nil, err
	}
	sn, err := snapshotter(e, g.Target)
	if err != nil {
		return nil, err
	}
	list, err := sn.StoreCopies(ctx)
	if err != nil {
		return nil, err
	}
	i := slices.IndexFunc(list, func(sc backend.StoreCopy) bool { return sc.Name == name })
	if i < 0 {
		return nil, sv.unknownSnapshot(ctx, sn, name)
	}
	sc := list[i]
	files, err := inputDigests(filepath.Dir(e.c.File))
	if err != nil {
		return nil, err
	}
	if err := snapshotRefusal(sc, e.c.Env.Metadata.Name, files, credentialPrints(secrets.Names(e.c), e.lookup)); err != nil {
		return nil, err
	}
	if !dryRun {
		if err := sn.RestoreStores(ctx, sc); err != nil {
			return nil, err
		}
	}
	r := toCLISnapshot(sc)
	return &supervisor.Restore{Snapshot: name, Stores: r.Stores, Completed: r.Bootstraps}, nil
}
