package docker_test

import (
	"context"
	"testing"
	"time"

	"github.com/novadev/novadev/internal/backend/docker"
)

func newDriver(t *testing.T) (*docker.Moby, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return docker.Connect(ctx)
}
