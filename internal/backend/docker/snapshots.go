package docker

// Store snapshots: copies of an instance's store volumes as volumes of
// their own (state/snapshot.go names and labels them), saved while the
// stores are paused and restored into a new instance's volumes before its
// stores start (backend.Snapshotter).
//
// Why pause and not stop: a frozen process writes nothing, and what it had
// acknowledged is already in the kernel's page cache, which the copying
// container reads; the copy is what a power cut at that instant would
// leave, and surviving that is each store's own durability promise
// (PostgreSQL's WAL replay, Redis's AOF load, ClickHouse's atomic parts,
// kfake's data dir, which survives docker kill). Stopping would give
// cleaner files at a higher price: the containers would get new IP
// addresses when started again (Redis Cluster's nodes.conf would then name
// stale ones), services would see their connections drop, and every store
// would have to be proven ready again. A pause keeps container IDs and
// addresses, so the source instance's bootstrap records stay true.

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/novadev/novadev/internal/backend"
	"github.com/novadev/novadev/internal/state"
)

// CopyImage is the image the volume copies run in: the offline set's base
// (a Debian with cp and du), present wherever the offline images were built.
const CopyImage = "novadev/debian-base:bookworm"

// VolumeCopier is what snapshots need from the engine besides Engine:
// freezing containers and copying one volume into another. Moby and
// enginefake implement it.
type VolumeCopier interface {
	RecordLister
	// Pause freezes a running container's processes; Unpause thaws them.
	Pause(ctx context.Context, id string) error
	Unpause(ctx context.Context, id string) error
	// CopyVolumes copies every file of each pair's From volume into its
	// To volume (both exist), keeping owners, modes and times, all pairs
	// at once in one throwaway container of image with no network; it
	// returns the bytes each To then holds.
	CopyVolumes(ctx context.Context, image string, pairs []VolumePair) ([]int64, error)
}

// VolumePair is one volume copy: From's files into To.
type VolumePair struct{ From, To string }

func (b *Backend) copier() (VolumeCopier, error) {
	c, ok := b.eng.(VolumeCopier)
	if !ok {
		return nil, fmt.Errorf("engine %T cannot copy volumes", b.eng)
	}
	return c, nil
}

// storeVolumes returns the engine names and compose keys of the volumes the
// nodes' units mount, in spec order.
func (b *Backend) storeVolumes(nodes []string) (names, keys []string) {
	for _, v := range b.spec.Volumes {
		for _, node := range nodes {
			for _, w := range b.spec.Nodes[node] {
				for _, m := range w.Mounts {
					if m.Type == "volume" && m.Source == v.Name && !slices.Contains(names, v.Name) {
						names = append(names, v.Name)
						keys = append(keys, v.Labels[state.LabelVolume])
					}
				}
			}
		}
	}
	return names, keys
}

// snapshotVolumes lists the volumes of one snapshot, or of all (name "").
func snapshotVolumes(ctx context.Context, c VolumeCopier, name string) ([]state.Volume, error) {
	vols, err := c.VolumesWithLabel(ctx, state.LabelSnapshot)
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(vols, func(v state.Volume) bool {
		return v.Labels[state.LabelManagedBy] != state.ManagedBy || (name != "" && v.Labels[state.LabelSnapshot] != name)
	}), nil
}

// SaveStores implements backend.Snapshotter.
func (b *Backend) SaveStores(ctx context.Context, name string, nodes []string, labels map[string]string) (backend.StoreCopy, error) {
	c, err := b.copier()
	if err != nil {
		return backend.StoreCopy{}, err
	}
	existing, err := snapshotVolumes(ctx, c, name)
	if err != nil {
		return backend.StoreCopy{}, err
	}
	for _, v := range existing {
		if v.Labels[state.LabelSnapshotManifest] != "" {
			return backend.StoreCopy{}, fmt.Errorf("snapshot %s exists (saved %s from %s); remove it first: novadev snapshot rm %s", name, v.Labels[state.LabelSnapshotCreated], v.Labels[state.LabelSnapshotSource], name)
		}
	}
	for _, v := range existing { // an interrupted save's leftovers
		if err := b.eng.RemoveVolume(ctx, v.Name); err != nil && !errors.Is(err, ErrNotFound) {
			return backend.StoreCopy{}, fmt.Errorf("removing %s, left by an interrupted save: %w", v.Name, err)
		}
	}
	names, keys := b.storeVolumes(nodes)
	if len(names) == 0 {
		return backend.StoreCopy{}, fmt.Errorf("the stores %s keep no data in volumes: nothing to save", strings.Join(nodes, ", "))
	}
	if _, err := b.eng.ImageID(ctx, CopyImage); err != nil {
		return backend.StoreCopy{}, fmt.Errorf("image %s (the volume copies run in it): %w; build the offline set with make images", CopyImage, err)
	}
	obs, err := b.eng.Observe(ctx, b.project())
	if err != nil {
		return backend.StoreCopy{}, err
	}
	for _, n := range names {
		if obs.Volume(n) == nil {
			return backend.StoreCopy{}, fmt.Errorf("volume %s does not exist: run novadev up for this instance first", n)
		}
	}
	var ids []string
	for _, ct := range obs.Containers {
		if slices.Contains(nodes, nodeOf(ct)) {
			if ct.State != state.Running {
				return backend.StoreCopy{}, fmt.Errorf("%s is %s, not running: run novadev up for this instance first", ct.Name, ct.State)
			}
			ids = append(ids, ct.ID)
		}
	}
	for i, key := range keys {
		if err := b.eng.CreateVolume(ctx, VolumeSpec{Name: state.SnapshotDataVolume(name, key), Labels: map[string]string{
			state.LabelManagedBy: state.ManagedBy, state.LabelSnapshot: name, state.LabelSnapshotVolume: key, state.LabelSnapshotSource: b.project(),
		}}); err != nil {
			return backend.StoreCopy{}, fmt.Errorf("volume for %s: %w", names[i], err)
		}
	}
	size, err := b.copyPaused(ctx, c, ids, names, keys, name)
	if err != nil {
		b.dropSnapshot(c, name)
		return backend.StoreCopy{}, err
	}
	sc := backend.StoreCopy{Name: name, Env: b.spec.Identity.Env, Source: b.project(), Created: time.Now().UTC().Truncate(time.Second), Size: size, Volumes: keys}
	l := map[string]string{}
	for k, v := range labels {
		l[k] = v
	}
	l[state.LabelManagedBy] = state.ManagedBy
	l[state.LabelSnapshot] = name
	l[state.LabelSnapshotManifest] = "true"
	l[state.LabelSnapshotSource] = sc.Source
	l[state.LabelEnv] = sc.Env
	l[state.LabelSnapshotCreated] = sc.Created.Format(time.RFC3339)
	l[state.LabelSnapshotSize] = strconv.FormatInt(size, 10)
	l[state.LabelSnapshotVolumes] = strings.Join(keys, ",")
	if err := b.eng.CreateVolume(ctx, VolumeSpec{Name: state.SnapshotManifestVolume(name), Labels: l}); err != nil {
		b.dropSnapshot(c, name)
		return backend.StoreCopy{}, err
	}
	sc.Labels = l
	return sc, nil
}

// copyPaused freezes the containers, copies every volume (at once, in one
// container: the freeze lasts about as long as the largest copy), and thaws them again, also
// when a copy failed or ctx ended.
func (b *Backend) copyPaused(ctx context.Context, c VolumeCopier, ids, names, keys []string, snap string) (int64, error) {
	var paused []string
	defer func() {
		uctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		for _, id := range paused {
			_ = c.Unpause(uctx, id) // best effort: a thaw that fails leaves it paused, docker unpause thaws it
		}
	}()
	for _, id := range ids {
		if err := c.Pause(ctx, id); err != nil {
			return 0, fmt.Errorf("pausing %s: %w", id, err)
		}
		paused = append(paused, id)
	}
	var pairs []VolumePair
	for i := range names {
		pairs = append(pairs, VolumePair{From: names[i], To: state.SnapshotDataVolume(snap, keys[i])})
	}
	sizes, err := c.CopyVolumes(ctx, CopyImage, pairs)
	if err != nil {
		return 0, fmt.Errorf("copying %s: %w", strings.Join(names, ", "), err)
	}
	var total int64
	for _, n := range sizes {
		total += n
	}
	return total, nil
}

// dropSnapshot removes what a failed save created (best effort: the next
// save of that name removes leftovers too).
func (b *Backend) dropSnapshot(c VolumeCopier, name string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	vols, _ := snapshotVolumes(ctx, c, name)
	for _, v := range vols {
		_ = b.eng.RemoveVolume(ctx, v.Name)
	}
}

// RestoreStores implements backend.Snapshotter: each volume of the copy
// becomes the instance's volume of the same compose key, with the
// instance's labels (its down --volumes and gc remove it like any other).
func (b *Backend) RestoreStores(ctx context.Context, sc backend.StoreCopy) error {
	c, err := b.copier()
	if err != nil {
		return err
	}
	if _, err := b.eng.ImageID(ctx, CopyImage); err != nil {
		return fmt.Errorf("image %s (the volume copies run in it): %w; build the offline set with make images", CopyImage, err)
	}
	obs, err := b.eng.Observe(ctx, b.project())
	if err != nil {
		return err
	}
	var specs []VolumeSpec
	for _, key := range sc.Volumes {
		i := slices.IndexFunc(b.spec.Volumes, func(v VolumeSpec) bool { return v.Labels[state.LabelVolume] == key })
		if i < 0 {
			return fmt.Errorf("snapshot %s holds volume %s, which environment %s does not have", sc.Name, key, b.spec.Identity.Env)
		}
		v := b.spec.Volumes[i]
		if obs.Volume(v.Name) != nil {
			return fmt.Errorf("volume %s exists already: --from-snapshot creates a new instance's stores and overwrites nothing; remove this one first (novadev --instance %s down --volumes) or pick another instance name", v.Name, b.spec.Identity.Instance)
		}
		specs = append(specs, v)
	}
	var created []string
	var errs []error
	var pairs []VolumePair
	for i, v := range specs {
		if err := b.eng.CreateVolume(ctx, v); err != nil {
			errs = append(errs, err)
			break
		}
		created = append(created, v.Name)
		pairs = append(pairs, VolumePair{From: state.SnapshotDataVolume(sc.Name, sc.Volumes[i]), To: v.Name})
	}
	if len(errs) == 0 {
		if _, err := c.CopyVolumes(ctx, CopyImage, pairs); err != nil {
			errs = append(errs, fmt.Errorf("restoring the store volumes of %s from snapshot %s: %w", b.project(), sc.Name, err))
		}
	}
	if len(errs) > 0 {
		// half-restored stores must not start: their bootstraps would be
		// skipped on data that is not all there
		rctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		for _, n := range created {
			_ = b.eng.RemoveVolume(rctx, n)
		}
		return errors.Join(errs...)
	}
	return nil
}

// StoreCopies implements backend.Snapshotter: every snapshot with a
// manifest on the engine, by name.
func (b *Backend) StoreCopies(ctx context.Context) ([]backend.StoreCopy, error) {
	c, err := b.copier()
	if err != nil {
		return nil, err
	}
	vols, err := snapshotVolumes(ctx, c, "")
	if err != nil {
		return nil, err
	}
	var out []backend.StoreCopy
	for _, v := range vols {
		if v.Labels[state.LabelSnapshotManifest] == "" {
			continue
		}
		out = append(out, parseStoreCopy(v.Labels))
	}
	slices.SortFunc(out, func(a, b backend.StoreCopy) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

func parseStoreCopy(l map[string]string) backend.StoreCopy {
	sc := backend.StoreCopy{Name: l[state.LabelSnapshot], Env: l[state.LabelEnv], Source: l[state.LabelSnapshotSource], Labels: l}
	sc.Created, _ = time.Parse(time.RFC3339, l[state.LabelSnapshotCreated])
	sc.Size, _ = strconv.ParseInt(l[state.LabelSnapshotSize], 10, 64)
	if v := l[state.LabelSnapshotVolumes]; v != "" {
		sc.Volumes = strings.Split(v, ",")
	}
	return sc
}

// RemoveStoreCopy implements backend.Snapshotter: the data volumes first,
// the manifest last (an interrupted rm still lists, and rm again finishes).
func (b *Backend) RemoveStoreCopy(ctx context.Context, name string) error {
	c, err := b.copier()
	if err != nil {
		return err
	}
	vols, err := snapshotVolumes(ctx, c, name)
	if err != nil {
		return err
	}
	if len(vols) == 0 {
		return fmt.Errorf("snapshot %s: %w", name, backend.ErrNotFound)
	}
	slices.SortFunc(vols, func(a, b state.Volume) int {
		return strings.Compare(a.Labels[state.LabelSnapshotManifest], b.Labels[state.LabelSnapshotManifest])
	})
	for _, v := range vols {
		if err := b.eng.RemoveVolume(ctx, v.Name); err != nil && !errors.Is(err, ErrNotFound) {
			return fmt.Errorf("removing %s: %w", v.Name, err)
		}
	}
	return nil
}

var _ backend.Snapshotter = (*Backend)(nil)
