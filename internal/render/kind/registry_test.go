package kind

import (
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// Every container of the built dev overlay (init containers, Jobs and the
// run-as patches' volume-owner included) pulls from the local registry, and
// LocalImages lists exactly the engine's images behind those names: what
// the kind target pushes before it applies.
func TestDevOverlayPullsFromTheLocalRegistry(t *testing.T) {
	set, files := renderFiles(t, novaCatalog)
	var y strings.Builder
	for _, o := range build(t, set, files, OverlayDev) {
		if o.Kind != "ConfigMap" { // the catalog's own text names upstream images
			y.Write(o.raw)
		}
	}
	var pulled []string
	for _, m := range regexp.MustCompile(`(?m)^\s*(?:- )?image: (\S+)$`).FindAllStringSubmatch(y.String(), -1) {
		img := m[1]
		require.True(t, strings.HasPrefix(img, RegistryHost+"/"), "dev overlay image %s is not pulled from %s", img, RegistryHost)
		if rest := strings.TrimPrefix(img, RegistryHost+"/"); !slices.Contains(pulled, rest) {
			pulled = append(pulled, rest)
		}
	}
	slices.Sort(pulled)
	local, err := LocalImages(set)
	require.NoError(t, err)
	require.Equal(t, pulled, local)
	require.Equal(t, []string{"novadev/clickhouse:18.16", "novadev/kafka:kfake", "novadev/novadev:dev", "novadev/placeholder:dev", "novadev/postgres:15", "novadev/redis:7"}, local,
		"the six offline images")

	// pr and staging pull from their environment's registry, not this one.
	for _, o := range []string{OverlayPR, "staging"} {
		require.NotContains(t, string(buildYAML(t, set, files, o)), RegistryHost+"/", o)
	}
}

func TestRepositoryPath(t *testing.T) {
	for in, want := range map[string]string{
		"novadev/postgres":                   "novadev/postgres",
		"postgres":                           "postgres",
		"docker.io/library/redis":            "redis",
		"ghcr.io/nova-platform/user-service": "nova-platform/user-service",
		"localhost:5005/novadev/kafka":       "novadev/kafka",
		"localhost/x":                        "x",
	} {
		require.Equal(t, want, repositoryPath(in), in)
	}
}
