package state

// The label and annotation keys the renderers write (compose files, kind
// manifests), declared here beside the runtime's own (state.go) so that
// the whole vocabulary lives in one package. Docker keys follow Docker's
// reverse-DNS convention (dev.novadev.*); Kubernetes keys need the
// prefix/name form (novadev.io/*, app.kubernetes.io/*).

// Docker: the rendered compose files label every service, network and
// volume with LabelEnvProject and LabelEnv, and every service with LabelNode
// and LabelKind (state.go), so a compose-started stack carries the same
// ownership as one novadev started.
const (
	// LabelEnvProject is the environment's project, e.g. nova-local.
	LabelEnvProject = "dev.novadev.project"
)

// Kubernetes: every rendered object.
const (
	// LabelApp is the selector label (the staging guide selects pods with
	// -l app=<name>).
	LabelApp = "app"
	// LabelAppName is the recommended name label (the same value as LabelApp).
	LabelAppName = "app.kubernetes.io/name"
	// LabelAppComponent is service, store or bootstrap (catalog.NodeKind).
	LabelAppComponent = "app.kubernetes.io/component"
	// LabelAppPartOf is the catalog's name, e.g. nova.
	LabelAppPartOf = "app.kubernetes.io/part-of"
	// LabelAppManagedBy is ManagedBy on everything novadev renders.
	LabelAppManagedBy = "app.kubernetes.io/managed-by"
	// LabelBootstrap names the bootstrap a Job runs; `novadev wait
	// job://<name>` finds the Job by it (so a name suffix does not matter).
	LabelBootstrap = "novadev.io/bootstrap"
	// LabelEphemeral marks a namespace a janitor may delete once
	// AnnotationExpiresAfter has passed since its creation.
	LabelEphemeral = "novadev.io/ephemeral"
	// AnnotationExpiresAfter is a namespace's lifetime, relative to its
	// creationTimestamp (e.g. 72h), so a committed manifest holds no date.
	AnnotationExpiresAfter = "novadev.io/expires-after"
)

// ManagedBy is the value of the managed-by labels.
const ManagedBy = "novadev"
