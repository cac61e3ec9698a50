package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/novadev/novadev/internal/backend"
	"github.com/novadev/novadev/internal/backend/docker"
	"github.com/novadev/novadev/internal/cli"
	"github.com/novadev/novadev/internal/state"
	"github.com/novadev/novadev/internal/supervisor"
)

// PlanAssumingNothing implements cli.Service: up --dry-run when no engine
// answers. The docker backend observes through absentEngine: no
// containers, networks, volumes or images, so the plan creates everything.
func (sv *service) PlanAssumingNothing(ctx context.Context, g *cli.Global, o cli.UpOptions) (*supervisor.Plan, error) {
	if g.Target != "docker" {
		return nil, fmt.Errorf("--target %s: planning without its engine is done for docker only", g.Target)
	}
	offline := *sv
	offline.o.Backends = map[string]BackendFactory{"docker": func(_ context.Context, env *Env) (backend.Backend, error) {
		return openDockerOn(env, absentEngine{})
	}}
	return offline.Plan(ctx, g, o)
}

// unreachable marks an error of a verb whose engine did not answer, so the
// CLI can say what it does instead (cli.ErrEngineUnreachable).
func unreachable(err error) error {
	var u *docker.UnreachableError
	if errors.As(err, &u) {
		return fmt.Errorf("%w: %w", cli.ErrEngineUnreachable, err)
	}
	return err
}

// errAbsent is what absentEngine answers to anything but an observation.
var errAbsent = errors.New("no engine: this backend only plans (up --dry-run without an engine)")

// absentEngine is an engine where nothing exists: what up --dry-run
// assumes when the real one is unreachable. It never changes anything.
type absentEngine struct{}

func (absentEngine) Info(context.Context) (docker.Info, error) { return docker.Info{}, errAbsent }
func (absentEngine) Observe(_ context.Context, project string) (*state.Observed, error) {
	return &state.Observed{Project: project}, nil
}
func (absentEngine) ImageID(context.Context, string) (string, error) { return "", docker.ErrNotFound }
func (absentEngine) PortUses(context.Context) ([]docker.PortUse, error) {
	return nil, errAbsent
}
func (absentEngine) CreateNetwork(context.Context, docker.NetworkSpec) error { return errAbsent }
func (absentEngine) CreateVolume(context.Context, docker.VolumeSpec) error   { return errAbsent }
func (absentEngine) Create(context.Context, docker.Workload) (string, error) { return "", errAbsent }
func (absentEngine) Start(context.Context, string) error                     { return errAbsent }
func (absentEngine) Stop(context.Context, string, time.Duration) error       { return errAbsent }
func (absentEngine) Remove(context.Context, string) error                    { return errAbsent }
func (absentEngine) RemoveNetwork(context.Context, string) error             { return errAbsent }
func (absentEngine) RemoveVolume(context.Context, string) error              { return errAbsent }
func (absentEngine) Logs(context.Context, string, docker.LogOptions) (io.ReadCloser, error) {
	return nil, errAbsent
}
func (absentEngine) Memory(context.Context, string) (uint64, error) { return 0, errAbsent }
func (absentEngine) Events(context.Context, string) (<-chan docker.Death, <-chan error) {
	errs := make(chan error, 1)
	errs <- errAbsent
	return nil, errs
}

var _ docker.Engine = absentEngine{}
