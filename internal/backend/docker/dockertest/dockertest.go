// Package dockertest connects integration tests to a Docker engine: without
// one the test is skipped with the reason printed, unless NOVADEV_E2E=1
// (CI), where a missing engine fails the test.
package dockertest

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/novadev/novadev/internal/backend/docker"
)

// New returns a driver for the engine named by the environment, or skips
// (fails under NOVADEV_E2E=1) when none is reachable. Short mode skips.
func New(t testing.TB) *docker.Moby {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test: skipped in -short mode")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	d, err := docker.Connect(ctx)
	if err != nil {
		if os.Getenv("NOVADEV_E2E") == "1" {
			t.Fatalf("NOVADEV_E2E=1 but %v", err)
		}
		t.Skipf("integration test skipped: %v", err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// Skip skips the test with the reason printed, or fails it under
// NOVADEV_E2E=1 (CI), where missing machinery (a tool, an image) is a
// failure rather than a reason.
func Skip(t testing.TB, format string, args ...any) {
	t.Helper()
	if os.Getenv("NOVADEV_E2E") == "1" {
		t.Fatalf("NOVADEV_E2E=1 but "+format, args...)
	}
	t.Skipf(format, args...)
}
