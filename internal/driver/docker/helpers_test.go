package docker_test

import (
	"context"
	"testing"
	"time"

	"github.com/novadev/novadev/internal/driver/docker"
)

func newDriver(t *testing.T) (*docker.Driver, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return docker.New(ctx)
}
