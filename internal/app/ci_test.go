package app_test

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/novadev/novadev/internal/app"
	"github.com/novadev/novadev/internal/backend"
	"github.com/novadev/novadev/internal/backend/fake"
	"github.com/novadev/novadev/internal/catalog"
	"github.com/novadev/novadev/internal/cli"
	"github.com/novadev/novadev/internal/probe"
)

// junitSuites is enough of a JUnit file to prove it parses.
type junitSuites struct {
	XMLName xml.Name `xml:"testsuites"`
	Suites  []struct {
		Tests    int `xml:"tests,attr"`
		Failures int `xml:"failures,attr"`
		Cases    []struct {
			Name string `xml:"name,attr"`
		} `xml:"testcase"`
	} `xml:"testsuite"`
}

func readJUnit(t *testing.T, path string) junitSuites {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	var j junitSuites
	require.NoError(t, xml.Unmarshal(b, &j), string(b))
	require.NotEmpty(t, j.Suites)
	return j
}

// On the fake backend verify's store checks fail (no store answers): ci
// exits 1, writes the JUnit report, the verify report, the events and the
// failed nodes' logs, and still tears down with the volumes.
func TestCIVerifyFailureExits1(t *testing.T) {
	f := newFakeApp(t)
	f.be.LogLines["postgres"] = []string{"database system is ready"}
	art := filepath.Join(t.TempDir(), "artifacts")
	r := f.run(context.Background(), "ci", "--only", "user-service", "--artifacts", art, "--junit", "junit.xml", "--check-timeout", "1s")
	require.Equal(t, 1, r.code, r.out+r.err)
	assert.Contains(t, r.out, "ci: up ok\n")
	assert.Contains(t, r.out, "FAILED")
	assert.Contains(t, r.out, "ci: down --volumes: removed ")
	assert.Contains(t, r.out, "ci: exit 1\n")
	j := readJUnit(t, filepath.Join(art, "junit.xml"))
	assert.Positive(t, j.Suites[0].Failures)
	for _, name := range []string{"verify.json", "events.jsonl", "nodes/postgres.log"} {
		assert.FileExists(t, filepath.Join(art, name))
	}
	b, err := os.ReadFile(filepath.Join(art, "nodes", "postgres.log"))
	require.NoError(t, err)
	assert.Contains(t, string(b), "| database system is ready")
	assert.Empty(t, f.be.Running(), "down ran")
}

func TestCIKeep(t *testing.T) {
	f := newFakeApp(t)
	art := t.TempDir()
	r := f.run(context.Background(), "ci", "--only", "user-service", "--artifacts", art, "--check-timeout", "1s", "--keep")
	require.Equal(t, 1, r.code, r.out+r.err)
	assert.Contains(t, r.out, "ci: --keep: the instance is left running\n")
	assert.Contains(t, f.be.Running(), "user-service")
	assert.NoFileExists(t, filepath.Join(art, "junit.xml"), "no --junit, no JUnit")
}

func TestCIUpFailureExits3(t *testing.T) {
	f := newFakeApp(t)
	f.be.LogLines["user-service"] = []string{"panic: no config"}
	f.be.OnApply = func(_ context.Context, node string) error {
		if node == "user-service" {
			return errors.New("image broken")
		}
		return nil
	}
	art := t.TempDir()
	r := f.run(context.Background(), "ci", "--only", "user-service", "--artifacts", art, "--junit", "junit.xml")
	require.Equal(t, 3, r.code, r.out+r.err)
	assert.Contains(t, r.out, "ci: up FAILED: ")
	j := readJUnit(t, filepath.Join(art, "junit.xml"))
	require.Len(t, j.Suites[0].Cases, 1, "verify never ran: one case, for the node up failed")
	assert.Equal(t, "user-service/up", j.Suites[0].Cases[0].Name)
	assert.Equal(t, 1, j.Suites[0].Failures)
	b, err := os.ReadFile(filepath.Join(art, "up-error.txt"))
	require.NoError(t, err)
	assert.Contains(t, string(b), "image broken")
	b, err = os.ReadFile(filepath.Join(art, "nodes", "user-service.log"))
	require.NoError(t, err)
	assert.Contains(t, string(b), "panic: no config")
	assert.Empty(t, f.be.Running(), "down ran")
}

func TestCITimeoutExits124AndTearsDown(t *testing.T) {
	f := newFakeApp(t)
	f.be.OnApply = func(ctx context.Context, node string) error {
		if node == "user-service" {
			<-ctx.Done()
			return ctx.Err()
		}
		return nil
	}
	start := time.Now()
	r := f.run(context.Background(), "ci", "--only", "user-service", "--artifacts", t.TempDir(), "--timeout", "500ms")
	require.Equal(t, 124, r.code, r.out+r.err)
	assert.Less(t, time.Since(start), 10*time.Second)
	assert.Contains(t, r.out, "ci: --timeout passed\n")
	assert.Empty(t, f.be.Running(), "down ran after the timeout")
}

func TestCIInterruptedExits130AndTearsDown(t *testing.T) {
	f := newFakeApp(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f.be.OnApply = func(_ context.Context, node string) error {
		if node == "user-service" {
			cancel()
			return context.Canceled
		}
		return nil
	}
	r := f.run(ctx, "ci", "--only", "user-service", "--artifacts", t.TempDir())
	require.Equal(t, 130, r.code, r.out+r.err)
	assert.Empty(t, f.be.Running(), "down ran after the interrupt")
}

func TestCIUsageExits2(t *testing.T) {
	f := newFakeApp(t)
	r := f.run(context.Background(), "ci", "--bogus")
	assert.Equal(t, 2, r.code, r.out+r.err)
	r = f.run(context.Background(), "ci", "--artifacts", "")
	assert.Equal(t, 2, r.code, r.out+r.err)
	assert.Contains(t, r.err, "--artifacts: a directory is needed")
	assert.Empty(t, f.be.Calls(), "nothing started")
}

// brokenTeardown is the fake backend whose teardown fails (an engine that
// went away between verify and down).
type brokenTeardown struct{ *fake.Backend }

func (b brokenTeardown) Teardown(context.Context, bool) ([]backend.Resource, error) {
	return nil, errors.New("engine gone")
}

// A teardown failing after a verify failure is printed and keeps verify's
// exit code: the first failure decides.
func TestCIDownFailureKeepsTheFirstCode(t *testing.T) {
	f := newFakeApp(t)
	var out, errb bytes.Buffer
	s := cli.Streams{In: strings.NewReader(""), Out: &out, Err: &errb, Getenv: func(string) string { return "" }}
	o := app.Options{
		Backends:  map[string]app.BackendFactory{"docker": func(context.Context, *app.Env) (backend.Backend, error) { return brokenTeardown{f.be}, nil }},
		Bootstrap: func(context.Context, *catalog.Bootstrap, func(string, ...any)) error { return nil },
		Ready:     func(string) (probe.Check, time.Duration) { return nil, 0 },
		StateDir:  f.state,
	}
	code := app.RunWith(context.Background(), s, []string{"--catalog", filepath.Join(f.root, "envs", "nova.yaml"), "--env", "ci",
		"ci", "--only", "user-service", "--artifacts", t.TempDir(), "--check-timeout", "1s"}, o)
	assert.Equal(t, 1, code, out.String()+errb.String())
	assert.Contains(t, out.String(), "ci: down FAILED: ")
	assert.Contains(t, out.String(), "engine gone")
}
