package app

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/novadev/novadev/internal/backend"
	"github.com/novadev/novadev/internal/backend/docker"
	"github.com/novadev/novadev/internal/render/compose"
	"github.com/novadev/novadev/internal/state"
)

func defaultBackends() map[string]BackendFactory {
	return map[string]BackendFactory{"docker": openDocker, "kube": openKube, "kind": openKind}
}

// openDocker translates the environment's compose project (the one
// `docker compose` would run) and connects to the Docker engine.
func openDocker(ctx context.Context, env *Env) (backend.Backend, error) {
	eng, err := docker.Connect(ctx)
	if err != nil {
		return nil, err
	}
	if err := resolveImages(ctx, env.Catalog, eng, env.Images); err != nil {
		eng.Close()
		return nil, err
	}
	b, err := openDockerOn(env, eng)
	if err != nil {
		eng.Close()
	}
	return b, err
}

// openDockerOn is the docker backend of the environment on eng.
func openDockerOn(env *Env, eng docker.Engine) (backend.Backend, error) {
	c := env.Catalog
	p, err := compose.Project(c)
	if err != nil {
		return nil, err
	}
	id := state.Identity{Project: c.Env.Project, Env: c.Env.Metadata.Name, WorkingDir: p.WorkingDir}
	if env.Instance != nil {
		id.Instance, id.PortBase = env.Instance.Instance, env.Instance.PortBase
	}
	if file := filepath.Join(filepath.Dir(p.WorkingDir), compose.FileName(c.Env.Metadata.Name)); fileExists(file) {
		id.ConfigFiles = []string{file}
	}
	spec, err := docker.FromCompose(p, id, env.Lookup)
	if err != nil {
		return nil, fmt.Errorf("%w (credentials live in %s: novadev up or novadev render compose creates them)", err, env.CredentialsFile)
	}
	return docker.New(eng, spec), nil
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }
