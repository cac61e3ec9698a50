package e2e

import (
	"encoding/xml"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/novadev/novadev/internal/backend/docker/dockertest"
)

// `novadev ci --only user-service` on the real engine: up, verify passing,
// a JUnit report that parses with its testcases, down --volumes leaving
// nothing of the project running.
func TestIntegrationCI(t *testing.T) {
	d := dockertest.New(t)
	needImages(t, d)
	t.Cleanup(func() {
		if out, code := novadev(t, "down", "--volumes"); code != 0 {
			t.Logf("cleanup down: %s", out)
		}
	})
	art := t.TempDir()
	out, code := novadev(t, "ci", "--only", "user-service", "--artifacts", art, "--junit", "junit.xml", "--timeout", "5m")
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "ci: exit 0\n")
	b, err := os.ReadFile(filepath.Join(art, "junit.xml"))
	require.NoError(t, err)
	var j struct {
		Suites []struct {
			Tests    int `xml:"tests,attr"`
			Failures int `xml:"failures,attr"`
			Cases    []struct {
				Name string `xml:"name,attr"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	require.NoError(t, xml.Unmarshal(b, &j), string(b))
	require.NotEmpty(t, j.Suites)
	require.Zero(t, j.Suites[0].Failures, string(b))
	require.GreaterOrEqual(t, len(j.Suites[0].Cases), 5, string(b))
	require.NoFileExists(t, filepath.Join(art, "events.jsonl"), "nothing failed: no failure artifacts")
	require.Empty(t, running(t, "nova-ci"), "ci tore the stack down")
}
