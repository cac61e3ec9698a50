package cli

import (
	"context"
	"time"

	"github.com/novadev/novadev/internal/catalog"
	"github.com/novadev/novadev/internal/event"
	"github.com/novadev/novadev/internal/supervisor"
	"github.com/novadev/novadev/internal/verify"
)

// Service is what the verbs that touch a target call: one library call per
// verb. internal/app implements it (catalog, environment, credentials, the
// backend chosen by --target); tests give it a fake backend. The commands
// only parse flags into options and print what comes back.
type Service interface {
	SurfaceService // surface.go: the compose-style verbs and their helpers
	// Plan observes the target and plans `up` without changing anything.
	Plan(ctx context.Context, g *Global, o UpOptions) (*supervisor.Plan, error)
	// Up brings the environment up, emitting progress to sink.
	Up(ctx context.Context, g *Global, o UpOptions, sink event.Sink) (*UpReport, error)
	// Down takes the environment down.
	Down(ctx context.Context, g *Global, o DownOptions, sink event.Sink) (*supervisor.DownResult, error)
	// Status reports each unit's state and readiness.
	Status(ctx context.Context, g *Global) (*supervisor.StatusReport, error)
	// Logs opens the logs of the environment's units (or of those named).
	Logs(ctx context.Context, g *Global, o LogsOptions) ([]supervisor.LogStream, error)
	// Doctor checks the machine can run the environment.
	Doctor(ctx context.Context, g *Global) ([]supervisor.Check, error)
	// Verify runs the staging guide's checks against the running
	// environment; a failed check is in the report, not an error.
	Verify(ctx context.Context, g *Global, o VerifyOptions) (*verify.Report, error)
	// Bootstrap runs one bootstrap step against the stores the process
	// environment names (what compose one-shots and kind Jobs run).
	Bootstrap(ctx context.Context, g *Global, step string, o BootstrapOptions, getenv func(string) string, log func(string, ...any)) error
	// Wait waits until every target (tcp://, grpc://, http://, job://)
	// is ready, calling ready for each as it is.
	Wait(ctx context.Context, targets []string, timeout time.Duration, ready func(what string)) error
	// Credentials creates the credentials files a render needs and that
	// do not exist yet (compose/.env; kind/overlays/*/credentials.env),
	// never changing an existing value.
	Credentials(root string, set *catalog.Set, compose, kind bool) (created, files []string, err error)
	// Env is what one service receives in the stack, with the addresses
	// the host reaches and its credentials resolved.
	Env(ctx context.Context, g *Global, service string) (*EnvReport, error)
	// CI runs up, verify and down --volumes as one pipeline step, writing
	// artifacts; the report's Code is the exit code.
	CI(ctx context.Context, g *Global, o CIOptions, sink event.Sink) (*CIReport, error)
}

// UpOptions are up's flags.
type UpOptions struct {
	Only []string
	// Except leaves these services out, with every node that needs them
	// (what they need still comes up).
	Except   []string
	DryRun   bool
	Timeout  time.Duration
	Parallel int
	// TTL is an instance's lifetime from this up (e.g. 8h); "": 24h.
	TTL string
	// FromSnapshot names the snapshot a new instance's store volumes are
	// created from (novadev snapshot save); "": none.
	FromSnapshot string
}

// UpReport is how an up went, with where to reach what it started.
type UpReport struct {
	Result    *supervisor.Result
	Endpoints []supervisor.Endpoint
}

// VerifyOptions are verify's flags.
type VerifyOptions struct {
	Only     []string
	Timeout  time.Duration // per check
	Parallel int
	LogLines int
}

// DownOptions are down's flags.
type DownOptions struct {
	Volumes bool
	// Cluster deletes the kind cluster and its registry (--target kind).
	Cluster bool
}

// BootstrapOptions are bootstrap's flags.
type BootstrapOptions struct {
	// Check reports every difference from the catalog and changes nothing.
	Check bool
	// AllowDrift warns about drift the step does not correct.
	AllowDrift bool
	// Record makes proto-validate record the current protos as the new
	// baseline.
	Record bool
}

// LogsOptions are logs' flags.
type LogsOptions struct {
	Names  []string
	Follow bool
	Tail   int
}

// UsageError is a Service error caused by how the command was called (a
// missing variable, a bad argument): exit code 2.
type UsageError struct{ Err error }

func (e *UsageError) Error() string { return e.Err.Error() }

func (e *UsageError) Unwrap() error { return e.Err }
