package state

import (
	"fmt"
	"strconv"
	"time"
)

// On a cluster an instance is a namespace, and the namespace is its own
// record: the identity that never changes (instance, environment, target,
// port block) is in labels, so a label selector finds every instance, and
// the times are annotations, because an RFC 3339 time (its colons) is not
// a valid label value. Unlike a Docker volume's labels, a namespace's
// annotations can be updated in place, so extending the expiry needs no
// replacement. The keys are the Docker ones (dev.novadev.*): a dotted name
// without a prefix is a valid Kubernetes label key.

// NamespaceMeta returns the labels and annotations of the namespace that
// holds the instance (its Project is the namespace name).
func (r InstanceRecord) NamespaceMeta() (labels, annotations map[string]string) {
	labels = map[string]string{
		LabelManagedBy: ManagedBy,
		LabelInstance:  r.Instance,
		LabelEnv:       r.Env,
		LabelTarget:    r.Target,
		LabelPortBase:  strconv.Itoa(r.PortBase),
		LabelPortSpan:  strconv.Itoa(r.PortSpan),
	}
	annotations = map[string]string{LabelExpires: r.Expires.UTC().Format(time.RFC3339)}
	if !r.Created.IsZero() {
		annotations[LabelCreated] = r.Created.UTC().Format(time.RFC3339)
	}
	return labels, annotations
}

// InstanceFromNamespace reads an instance back from its namespace's name,
// labels and annotations. A namespace without novadev's managed-by label is
// not an instance; an error names the namespace and the label or
// annotation that is missing or malformed, so gc can report and skip it.
func InstanceFromNamespace(name string, labels, annotations map[string]string) (InstanceRecord, error) {
	r := InstanceRecord{Target: labels[LabelTarget], Env: labels[LabelEnv], Instance: labels[LabelInstance], Project: name}
	if name == "" {
		return r, fmt.Errorf("not an instance namespace: it has no name")
	}
	if labels[LabelManagedBy] != ManagedBy {
		return r, fmt.Errorf("namespace %s: not a novadev instance: label %s=%q, want %q", name, LabelManagedBy, labels[LabelManagedBy], ManagedBy)
	}
	if r.Instance == "" {
		return r, fmt.Errorf("namespace %s: label %s is required", name, LabelInstance)
	}
	var err error
	if r.PortBase, err = portLabel(name, labels, LabelPortBase, 65535); err != nil {
		return r, err
	}
	if r.PortSpan, err = portLabel(name, labels, LabelPortSpan, 65536-r.PortBase); err != nil {
		return r, err
	}
	if r.Expires, err = timeAnnotation(name, annotations, LabelExpires); err != nil {
		return r, err
	}
	if annotations[LabelCreated] != "" {
		if r.Created, err = timeAnnotation(name, annotations, LabelCreated); err != nil {
			return r, err
		}
	}
	return r, nil
}

// portLabel parses a port-block label: a whole number from 0 to max.
func portLabel(ns string, labels map[string]string, key string, max int) (int, error) {
	v, ok := labels[key]
	if !ok {
		return 0, fmt.Errorf("namespace %s: label %s is required", ns, key)
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 || n > max {
		return 0, fmt.Errorf("namespace %s: label %s=%q: want a whole number from 0 to %d", ns, key, v, max)
	}
	return n, nil
}

// timeAnnotation parses an RFC 3339 annotation, in UTC.
func timeAnnotation(ns string, annotations map[string]string, key string) (time.Time, error) {
	v, ok := annotations[key]
	if !ok {
		return time.Time{}, fmt.Errorf("namespace %s: annotation %s is required (RFC 3339, e.g. 2026-12-01T17:00:00Z)", ns, key)
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}, fmt.Errorf("namespace %s: annotation %s=%q: not an RFC 3339 time (e.g. 2026-12-01T17:00:00Z): %w", ns, key, v, err)
	}
	return t.UTC(), nil
}
