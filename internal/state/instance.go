package state

import (
	"fmt"
	"strconv"
	"time"
)

// Instance labels: an instance (`novadev up --instance NAME`) is one
// environment run under its own compose project, with its own host-port
// block. Its network and containers carry LabelInstance and LabelPortBase
// (immutable, fine: neither changes for the instance's life); the expiry
// changes on every up, so it lives on the instance's record volume, which
// is replaced when it changes (volume labels are immutable too).
const (
	// LabelInstance is the instance name, e.g. pr-123.
	LabelInstance = "dev.novadev.instance"
	// LabelPortBase is the first host port of the instance's block.
	LabelPortBase = "dev.novadev.port-base"
	// LabelPortSpan is how many host ports the block covers.
	LabelPortSpan = "dev.novadev.port-span"
	// LabelExpires is when the instance expires (RFC 3339, UTC); gc
	// deletes it after that.
	LabelExpires = "dev.novadev.expires"
	// LabelCreated is when the instance was first brought up (RFC 3339);
	// the record volume's own creation time changes when it is replaced.
	LabelCreated = "dev.novadev.created"
	// LabelTarget is what runs the instance (docker, kube).
	LabelTarget = "dev.novadev.target"
)

// InstanceRecordKey is the compose key (LabelVolume) of an instance's
// record volume: <project>_novadev-instance.
const InstanceRecordKey = "novadev-instance"

// InstanceRecordVolume is the engine name of a project's record volume.
func InstanceRecordVolume(project string) string { return project + "_" + InstanceRecordKey }

// InstanceRecord is what novadev knows of one instance without reading its
// containers: who it is, its port block and its expiry.
type InstanceRecord struct {
	Target   string    `json:"target"`
	Env      string    `json:"environment"`
	Instance string    `json:"instance"`
	Project  string    `json:"project"`
	PortBase int       `json:"portBase"`
	PortSpan int       `json:"portSpan"`
	Created  time.Time `json:"created"`
	Expires  time.Time `json:"expires"`
}

// PortEnd is the last host port of the block.
func (r InstanceRecord) PortEnd() int { return r.PortBase + r.PortSpan - 1 }

// Expired reports whether the record's expiry has passed at now.
func (r InstanceRecord) Expired(now time.Time) bool {
	return !r.Expires.IsZero() && !now.Before(r.Expires)
}

// Labels returns the labels of the record volume.
func (r InstanceRecord) Labels() map[string]string {
	id := Identity{Project: r.Project, Env: r.Env, Instance: r.Instance, PortBase: r.PortBase}
	l := id.VolumeLabels(InstanceRecordKey)
	l[LabelEnv] = r.Env
	l[LabelTarget] = r.Target
	l[LabelPortSpan] = strconv.Itoa(r.PortSpan)
	l[LabelCreated] = r.Created.UTC().Format(time.RFC3339)
	l[LabelExpires] = r.Expires.UTC().Format(time.RFC3339)
	return l
}

// ParseInstanceRecord reads a record volume's labels back; an error names
// the label that is missing or malformed.
func ParseInstanceRecord(l map[string]string) (InstanceRecord, error) {
	r := InstanceRecord{Target: l[LabelTarget], Env: l[LabelEnv], Instance: l[LabelInstance], Project: l[LabelProject]}
	if r.Instance == "" || r.Project == "" {
		return r, fmt.Errorf("not an instance record: labels %s and %s are required", LabelInstance, LabelProject)
	}
	var err error
	if r.PortBase, err = strconv.Atoi(l[LabelPortBase]); err != nil {
		return r, fmt.Errorf("instance %s: label %s=%q: %w", r.Instance, LabelPortBase, l[LabelPortBase], err)
	}
	if r.PortSpan, err = strconv.Atoi(l[LabelPortSpan]); err != nil {
		return r, fmt.Errorf("instance %s: label %s=%q: %w", r.Instance, LabelPortSpan, l[LabelPortSpan], err)
	}
	if r.Expires, err = time.Parse(time.RFC3339, l[LabelExpires]); err != nil {
		return r, fmt.Errorf("instance %s: label %s: %w", r.Instance, LabelExpires, err)
	}
	if c := l[LabelCreated]; c != "" {
		if r.Created, err = time.Parse(time.RFC3339, c); err != nil {
			return r, fmt.Errorf("instance %s: label %s: %w", r.Instance, LabelCreated, err)
		}
	}
	return r, nil
}
