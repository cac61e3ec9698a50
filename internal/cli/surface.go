package cli

import (
	"context"
	"errors"

	"github.com/novadev/novadev/internal/event"
	"github.com/novadev/novadev/internal/supervisor"
)

// ErrEngineUnreachable marks a Service error of a target whose engine did
// not answer (no Docker engine): up --dry-run then plans as if nothing
// existed.
var ErrEngineUnreachable = errors.New("engine unreachable")

// SurfaceService is the part of Service behind the familiar verbs and
// fallbacks (issue 12 item 7), kept apart so verbs added elsewhere merge.
type SurfaceService interface {
	// PlanAssumingNothing plans up as if nothing of the environment
	// existed on the target: for up --dry-run without an engine.
	PlanAssumingNothing(ctx context.Context, g *Global, o UpOptions) (*supervisor.Plan, error)
	// Pull pulls the images of the environment (docker only): the stores'
	// upstream images by the environment's image source (through the
	// mirror), service images from their registry; offline images are
	// reported, never pulled. Progress goes to sink.
	Pull(ctx context.Context, g *Global, o PullOptions, sink event.Sink) ([]PullResult, error)
	// Stop removes the containers of the named nodes and of every node
	// that needs them (dependents first; all nodes when none is named),
	// keeping volumes and network; it returns the nodes stopped, in order.
	Stop(ctx context.Context, g *Global, nodes []string) ([]string, error)
	// Exec runs argv in the running container of a unit (a service or
	// store name; a Redis Cluster node by its unit name, e.g. redis-1),
	// docker only, with the command's streams; it returns the command's
	// exit code.
	Exec(ctx context.Context, g *Global, unit string, argv []string, s Streams) (int, error)
}
