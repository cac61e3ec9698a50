package state

// Store snapshots (novadev snapshot save): copies of an instance's store
// volumes, kept as Docker volumes of their own. They carry no compose
// project label, so no instance's down, gc or teardown ever removes them;
// they are found by LabelSnapshot alone.

// Snapshot labels.
const (
	// LabelSnapshot is the snapshot's name, on every volume of it.
	LabelSnapshot = "dev.novadev.snapshot"
	// LabelSnapshotVolume is, on a snapshot's data volume, the compose
	// key of the store volume it copies (postgres-data).
	LabelSnapshotVolume = "dev.novadev.snapshot-volume"
	// LabelSnapshotManifest marks the snapshot's manifest volume (empty,
	// mounted by nothing), created last: a snapshot without one is the
	// leftover of an interrupted save.
	LabelSnapshotManifest = "dev.novadev.snapshot-manifest"
	// LabelSnapshotSource is the project the snapshot was saved from.
	LabelSnapshotSource = "dev.novadev.snapshot-source"
	// LabelSnapshotCreated is when it was saved (RFC 3339, UTC).
	LabelSnapshotCreated = "dev.novadev.snapshot-created"
	// LabelSnapshotSize is the bytes its data volumes hold.
	LabelSnapshotSize = "dev.novadev.snapshot-size"
	// LabelSnapshotVolumes lists the compose keys of its data volumes,
	// comma-separated.
	LabelSnapshotVolumes = "dev.novadev.snapshot-volumes"
	// LabelSnapshotInputs is the bootstraps' input hash it was saved at.
	LabelSnapshotInputs = "dev.novadev.snapshot-inputs"
	// LabelSnapshotInputFiles lists each input file with a digest
	// (path=digest,...), so a refusal can say which input changed.
	LabelSnapshotInputFiles = "dev.novadev.snapshot-input-files"
	// LabelSnapshotCredentials lists a fingerprint of each credential the
	// stores were bootstrapped with (NAME=fingerprint,...): never a value.
	LabelSnapshotCredentials = "dev.novadev.snapshot-credentials"
	// LabelSnapshotBootstraps lists the bootstraps that had completed
	// against the saved stores, comma-separated.
	LabelSnapshotBootstraps = "dev.novadev.snapshot-bootstraps"
)

// SnapshotPrefix starts the engine name of every snapshot volume.
const SnapshotPrefix = "novadev-snapshot-"

// SnapshotManifestVolume is the engine name of a snapshot's manifest.
func SnapshotManifestVolume(name string) string { return SnapshotPrefix + name }

// SnapshotDataVolume is the engine name of a snapshot's copy of the store
// volume with compose key key.
func SnapshotDataVolume(name, key string) string { return SnapshotPrefix + name + "_" + key }

// LabelSnapshotStores lists the store nodes a snapshot holds the volumes
// of, comma-separated.
const LabelSnapshotStores = "dev.novadev.snapshot-stores"
