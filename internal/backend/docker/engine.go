package docker

// The container-engine contract under the Docker backend: what a workload
// (one container) is, and the few engine operations the backend needs.

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"time"

	"github.com/novadev/novadev/internal/state"
)

// ErrNotFound says a container, image, network or volume does not exist.
var ErrNotFound = errors.New("not found")

// Info describes the engine.
type Info struct {
	Name          string `json:"name"`          // e.g. docker
	ServerVersion string `json:"serverVersion"` // e.g. 20.10.24
	APIVersion    string `json:"apiVersion"`    // negotiated, e.g. 1.41
	OS            string `json:"os"`
	CPUs          int    `json:"cpus"`
	MemoryBytes   int64  `json:"memoryBytes"`
}

// PortMapping publishes a container port on the host.
type PortMapping struct {
	HostIP    string `json:"hostIP"` // 127.0.0.1
	Host      int    `json:"host"`
	Container int    `json:"container"`
	Protocol  string `json:"protocol"` // tcp (default) or udp
}

// Mount is a volume, bind or tmpfs mount.
type Mount struct {
	Type     string `json:"type"`   // volume, bind, tmpfs
	Source   string `json:"source"` // the engine's volume name, or a host path
	Target   string `json:"target"`
	ReadOnly bool   `json:"readOnly,omitempty"`
}

// Workload is one container to run.
type Workload struct {
	Name        string            `json:"name"`    // container name
	Service     string            `json:"service"` // compose service name
	Node        string            `json:"node"`    // catalog graph node
	Image       string            `json:"image"`
	Entrypoint  []string          `json:"entrypoint,omitempty"` // nil: the image's
	Command     []string          `json:"command,omitempty"`    // nil: the image's
	Env         []string          `json:"env,omitempty"`        // KEY=VALUE, sorted
	Ports       []PortMapping     `json:"ports,omitempty"`
	Mounts      []Mount           `json:"mounts,omitempty"`
	Network     string            `json:"network,omitempty"` // the engine's network name
	Aliases     []string          `json:"aliases,omitempty"` // DNS names in Network
	Hostname    string            `json:"hostname,omitempty"`
	User        string            `json:"user,omitempty"`
	WorkingDir  string            `json:"workingDir,omitempty"`
	StopSignal  string            `json:"stopSignal,omitempty"`
	StopTimeout time.Duration     `json:"stopTimeout,omitempty"`
	MemoryLimit int64             `json:"memoryLimit,omitempty"`
	NanoCPUs    int64             `json:"nanoCPUs,omitempty"`
	Restart     string            `json:"restart,omitempty"` // no, on-failure, always, unless-stopped
	Labels      map[string]string `json:"labels,omitempty"`
}

// Hash is the configuration hash of w run from the image with imageID: it
// covers everything that shapes the container except the hash label itself,
// so a changed catalog or a rebuilt image gives a different hash.
func Hash(w Workload, imageID string) string {
	w.Labels = maps.Clone(w.Labels)
	delete(w.Labels, state.LabelConfigHash)
	b, _ := json.Marshal(struct {
		W     Workload
		Image string
	}{w, imageID})
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// NetworkSpec is a project network.
type NetworkSpec struct {
	Name   string            `json:"name"` // the engine's name, e.g. nova-ci_default
	Labels map[string]string `json:"labels"`
}

// VolumeSpec is a project volume.
type VolumeSpec struct {
	Name   string            `json:"name"` // the engine's name, e.g. nova-ci_postgres-data
	Labels map[string]string `json:"labels"`
}

// PortUse is a host port some container on the engine publishes.
type PortUse struct {
	Port      int
	Container string
	Project   string // its compose project label, if any
}

// LogOptions select which log lines to read.
type LogOptions struct {
	Follow bool
	Tail   int // 0: all
}

// Engine is the container-engine subset the backend converges with: one
// engine, found by label. Moby implements it; enginefake fakes it.
type Engine interface {
	// Info checks the engine is reachable and describes it.
	Info(ctx context.Context) (Info, error)
	// Observe lists the containers (running or not), networks and volumes
	// labelled with the project.
	Observe(ctx context.Context, project string) (*state.Observed, error)
	// ImageID returns the local image's ID, or ErrNotFound.
	ImageID(ctx context.Context, ref string) (string, error)
	// PortUses lists every host port published by any running container.
	PortUses(ctx context.Context) ([]PortUse, error)
	// CreateNetwork creates a network; an existing one is left alone.
	CreateNetwork(ctx context.Context, n NetworkSpec) error
	// CreateVolume creates a volume; an existing one is left alone.
	CreateVolume(ctx context.Context, v VolumeSpec) error
	// Create creates a container and returns its ID.
	Create(ctx context.Context, w Workload) (string, error)
	// Start starts a created or stopped container.
	Start(ctx context.Context, id string) error
	// Stop stops a container, killing it after timeout (0: the
	// container's own stop timeout).
	Stop(ctx context.Context, id string, timeout time.Duration) error
	// Remove removes a container (running or not) and its anonymous volumes.
	Remove(ctx context.Context, id string) error
	// RemoveNetwork and RemoveVolume remove by engine name.
	RemoveNetwork(ctx context.Context, name string) error
	RemoveVolume(ctx context.Context, name string) error
	// Logs streams a container's stdout and stderr as plain lines.
	Logs(ctx context.Context, id string, opts LogOptions) (io.ReadCloser, error)
	// Memory returns a running container's memory use in bytes.
	Memory(ctx context.Context, id string) (uint64, error)
	// Events streams the project's container deaths (die, oom) until ctx
	// ends; the error channel reports a broken stream.
	Events(ctx context.Context, project string) (<-chan Death, <-chan error)
}

// Death is a container that stopped: its exit code, and whether the
// kernel's OOM killer did it.
type Death struct {
	ID       string
	Name     string
	Node     string
	ExitCode int
	OOM      bool
}
