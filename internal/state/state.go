// Package state is what novadev knows about a running environment: its
// identity (project name, labels) and the containers, networks and volumes
// observed on the engine. It is the one home of the label and annotation
// keys the runtime writes and reads. There is no state file: everything is rediscovered
// from labels, so a crashed `up` resumes and `down` finds everything.
package state

import (
	"slices"
	"strconv"
	"strings"
	"time"
)

// Compose-compatible labels: `docker compose -p <project> ps|logs` lists
// what novadev started because the containers carry them.
const (
	LabelProject     = "com.docker.compose.project"
	LabelService     = "com.docker.compose.service"
	LabelOneoff      = "com.docker.compose.oneoff"
	LabelNumber      = "com.docker.compose.container-number"
	LabelConfigHash  = "com.docker.compose.config-hash"
	LabelWorkingDir  = "com.docker.compose.project.working_dir"
	LabelConfigFiles = "com.docker.compose.project.config_files"
	LabelVersion     = "com.docker.compose.version"
	LabelNetwork     = "com.docker.compose.network"
	LabelVolume      = "com.docker.compose.volume"
)

// novadev's own labels.
const (
	// LabelManagedBy marks every resource novadev created ("novadev").
	LabelManagedBy = "dev.novadev.managed-by"
	// LabelNode is the catalog graph node a container belongs to (a store
	// such as redis runs several containers).
	LabelNode = "dev.novadev.node"
	// LabelKind is the node's kind: service, store or bootstrap.
	LabelKind = "dev.novadev.kind"
	// LabelEnv is the catalog environment name.
	LabelEnv = "dev.novadev.env"
	// LabelBootstrapRecord holds, on a bootstrap's done-marker volume,
	// what the bootstrap last completed against (its record sum).
	LabelBootstrapRecord = "dev.novadev.bootstrap-hash"
	// LabelKindCluster names the kind cluster a local registry container
	// serves (internal/kindcluster), so doctor and down --cluster find it.
	LabelKindCluster = "dev.novadev.kind-cluster"
)

// ComposeVersion is written to LabelVersion; compose only displays it.
const ComposeVersion = "2.40.3"

// Identity names one environment on an engine: every resource it owns
// carries its project name.
type Identity struct {
	Project     string
	Env         string
	WorkingDir  string
	ConfigFiles []string
	// Instance and PortBase are set for an instance (--instance): every
	// container, network and volume then carries LabelInstance and
	// LabelPortBase, so the block is read back from the engine.
	Instance string
	PortBase int
}

// instanceLabels adds the instance labels to l, when id is an instance.
func (id Identity) instanceLabels(l map[string]string) map[string]string {
	if id.Instance != "" {
		l[LabelInstance] = id.Instance
		l[LabelPortBase] = strconv.Itoa(id.PortBase)
	}
	return l
}

// Labels returns the labels of a container of service (in node).
func (id Identity) Labels(service, node string) map[string]string {
	l := map[string]string{
		LabelProject:   id.Project,
		LabelService:   service,
		LabelOneoff:    "False",
		LabelNumber:    "1",
		LabelVersion:   ComposeVersion,
		LabelManagedBy: "novadev",
		LabelNode:      node,
	}
	if id.Env != "" {
		l[LabelEnv] = id.Env
	}
	if id.WorkingDir != "" {
		l[LabelWorkingDir] = id.WorkingDir
	}
	if len(id.ConfigFiles) > 0 {
		l[LabelConfigFiles] = strings.Join(id.ConfigFiles, ",")
	}
	return id.instanceLabels(l)
}

// NetworkLabels returns the labels of the project network called name
// (compose's key, e.g. "default").
func (id Identity) NetworkLabels(name string) map[string]string {
	return id.instanceLabels(map[string]string{LabelProject: id.Project, LabelNetwork: name, LabelVersion: ComposeVersion, LabelManagedBy: "novadev"})
}

// VolumeLabels returns the labels of the project volume called name.
func (id Identity) VolumeLabels(name string) map[string]string {
	return id.instanceLabels(map[string]string{LabelProject: id.Project, LabelVolume: name, LabelVersion: ComposeVersion, LabelManagedBy: "novadev"})
}

// ContainerName is compose's container name for a service: project-service-1.
func ContainerName(project, service string) string { return project + "-" + service + "-1" }

// Container states as the engine reports them.
const (
	Running = "running"
	Created = "created"
	Exited  = "exited"
)

// Port is a published port of a container.
type Port struct {
	HostIP    string `json:"hostIP"`
	Host      int    `json:"host"`
	Container int    `json:"container"`
	Protocol  string `json:"protocol"`
}

// Container is one observed container.
type Container struct {
	ID         string            `json:"id"`
	Name       string            `json:"name"`
	Service    string            `json:"service"`
	Node       string            `json:"node"`
	Image      string            `json:"image"`
	State      string            `json:"state"`
	ConfigHash string            `json:"configHash"`
	Created    time.Time         `json:"created"`
	Started    time.Time         `json:"started,omitzero"`
	Ports      []Port            `json:"ports,omitempty"`
	Labels     map[string]string `json:"-"`
}

// Network is one observed network.
type Network struct {
	ID     string            `json:"id"`
	Name   string            `json:"name"`
	Key    string            `json:"key"` // the compose key (LabelNetwork)
	Labels map[string]string `json:"-"`
}

// Volume is one observed volume.
type Volume struct {
	Name   string            `json:"name"`
	Key    string            `json:"key"` // the compose key (LabelVolume)
	Labels map[string]string `json:"-"`
}

// Observed is everything of one project found on the engine by label.
type Observed struct {
	Project    string      `json:"project"`
	Containers []Container `json:"containers"`
	Networks   []Network   `json:"networks"`
	Volumes    []Volume    `json:"volumes"`
}

// Sort orders everything by name so output and plans are deterministic.
func (o *Observed) Sort() {
	slices.SortFunc(o.Containers, func(a, b Container) int { return strings.Compare(a.Name, b.Name) })
	slices.SortFunc(o.Networks, func(a, b Network) int { return strings.Compare(a.Name, b.Name) })
	slices.SortFunc(o.Volumes, func(a, b Volume) int { return strings.Compare(a.Name, b.Name) })
}

// Service returns the container of a compose service, or nil.
func (o *Observed) Service(name string) *Container {
	if o == nil {
		return nil
	}
	for i := range o.Containers {
		if o.Containers[i].Service == name {
			return &o.Containers[i]
		}
	}
	return nil
}

// Network returns the network with this engine name, or nil.
func (o *Observed) Network(name string) *Network {
	if o == nil {
		return nil
	}
	for i := range o.Networks {
		if o.Networks[i].Name == name {
			return &o.Networks[i]
		}
	}
	return nil
}

// Volume returns the volume with this engine name, or nil.
func (o *Observed) Volume(name string) *Volume {
	if o == nil {
		return nil
	}
	for i := range o.Volumes {
		if o.Volumes[i].Name == name {
			return &o.Volumes[i]
		}
	}
	return nil
}

// Empty reports whether nothing of the project exists.
func (o *Observed) Empty() bool {
	return o == nil || len(o.Containers)+len(o.Networks)+len(o.Volumes) == 0
}
