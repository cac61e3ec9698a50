package catalog_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/distribution/reference"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/novadev/novadev/internal/catalog"
)

func TestParseMirror(t *testing.T) {
	for in, want := range map[string]catalog.Mirror{
		"127.0.0.1:5205":                  {Host: "127.0.0.1:5205"},
		"mirror.corp":                     {Host: "mirror.corp"},
		"localhost":                       {Host: "localhost"},
		"mirror.corp:443/dockerhub":       {Host: "mirror.corp:443", Prefix: "dockerhub"},
		"harbor.corp/proxy/docker-hub":    {Host: "harbor.corp", Prefix: "proxy/docker-hub"},
		"artifactory:8081/api/docker/hub": {Host: "artifactory:8081", Prefix: "api/docker/hub"},
	} {
		got, err := catalog.ParseMirror(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
		assert.Equal(t, in, got.String())
	}
	for in, msg := range map[string]string{
		"":                         "empty mirror",
		"https://mirror.corp":      `write "mirror.corp"`,
		"mirror":                   "Docker Hub user",
		"mirror/prefix":            "Docker Hub user",
		"mirror.corp:0":            "port",
		"mirror.corp:99999":        "port",
		"mirror.corp:50a":          "port",
		"mirror.corp:050":          "port",
		"mirror.corp/":             "trailing slash",
		"mirror.corp/a//b":         "empty path segment",
		":5000":                    "no host",
		"Mirror.corp/UPPER":        "lower case",
		"mirror.corp/p:tag":        "not a registry host and path",
		"mirror.corp/p@sha256:abc": "not a registry host and path",
	} {
		_, err := catalog.ParseMirror(in)
		require.Error(t, err, in)
		assert.Contains(t, err.Error(), msg, in)
	}
}

func TestMirrorRewrite(t *testing.T) {
	m, err := catalog.ParseMirror("127.0.0.1:5205/hub")
	require.NoError(t, err)
	const dg = "sha256:0123456789012345678901234567890123456789012345678901234567890123"
	for in, want := range map[string]string{
		"postgres:15":                                          "127.0.0.1:5205/hub/library/postgres:15",
		"docker.io/library/postgres:15":                        "127.0.0.1:5205/hub/library/postgres:15",
		"apache/kafka:3.7.0":                                   "127.0.0.1:5205/hub/apache/kafka:3.7.0",
		"clickhouse/clickhouse-server:23.8":                    "127.0.0.1:5205/hub/clickhouse/clickhouse-server:23.8",
		"docker.elastic.co/elasticsearch/elasticsearch:8.13.4": "127.0.0.1:5205/hub/docker.elastic.co/elasticsearch/elasticsearch:8.13.4",
		"redis":             "127.0.0.1:5205/hub/library/redis",
		"postgres:15@" + dg: "127.0.0.1:5205/hub/library/postgres:15@" + dg,
	} {
		got, err := m.Rewrite(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
	}
	got, err := catalog.Mirror{}.Rewrite("postgres:15")
	require.NoError(t, err)
	assert.Equal(t, "postgres:15", got, "no mirror: unchanged")
}

// FuzzParseMirror: any string either fails with a message or gives a
// mirror that writes itself back and rewrites every upstream image to a
// reference Docker parses, under the mirror's host.
func FuzzParseMirror(f *testing.F) {
	for _, s := range []string{"127.0.0.1:5205", "mirror.corp/a/b", "localhost", "https://x", "a:1/", "x.y:65535/p-q_r.s", "", "mirror", "m.c//x", "M.C"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := catalog.ParseMirror(s)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error")
			}
			return
		}
		if m.String() != s {
			t.Fatalf("%q parsed as %q", s, m.String())
		}
		for _, img := range []string{"postgres:15", "docker.elastic.co/elasticsearch/elasticsearch:8.13.4"} {
			out, err := m.Rewrite(img)
			if err != nil {
				t.Fatalf("%q: rewrite %s: %v", s, img, err)
			}
			named, err := reference.ParseNormalizedNamed(out)
			if err != nil || reference.Domain(named) != m.Host {
				t.Fatalf("%q: %s became %q (domain %v, %v)", s, img, out, named, err)
			}
		}
	})
}

// loadEnv loads the Nova catalog with an environment written to a file.
func loadEnv(t *testing.T, env string, opts catalog.Options) (*catalog.Catalog, error) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "img.yaml")
	require.NoError(t, os.WriteFile(path, []byte("apiVersion: novadev/v1alpha1\nkind: Environment\nmetadata: {name: img}\nhostPortBase: 21000\n"+env), 0o644))
	opts.Env = path
	return catalog.Load("../../envs/nova.yaml", opts)
}

func TestImageSources(t *testing.T) {
	type want struct{ image, pull, fallback string }
	cases := map[string]map[string]want{
		"": { // no source: as written, nothing pulled (pr, older environments)
			"postgres": {"postgres:15", "", ""}, "kafka": {"novadev/kafka:kfake", "", ""},
		},
		"images: {source: offline}": {
			"postgres": {"novadev/postgres:15", "", ""}, "redis": {"novadev/redis:7", "", ""},
			"kafka": {"novadev/kafka:kfake", "", ""}, "clickhouse": {"novadev/clickhouse:18.16", "", ""},
		},
		"images: {source: upstream}": {
			"postgres": {"novadev/postgres:15", "postgres:15", ""}, "kafka": {"novadev/kafka:kfake", "apache/kafka:3.7.0", ""},
			"clickhouse": {"novadev/clickhouse:18.16", "clickhouse/clickhouse-server:23.8", ""},
		},
		"images: {source: auto, mirror: \"127.0.0.1:5205\"}": {
			"postgres":      {"novadev/postgres:15", "127.0.0.1:5205/library/postgres:15", "novadev/postgres:15"},
			"redis":         {"novadev/redis:7", "127.0.0.1:5205/library/redis:7.0", "novadev/redis:7"},
			"kafka":         {"novadev/kafka:kfake", "127.0.0.1:5205/apache/kafka:3.7.0", "novadev/kafka:kfake"},
			"elasticsearch": {"docker.elastic.co/elasticsearch/elasticsearch:8.13.4", "127.0.0.1:5205/docker.elastic.co/elasticsearch/elasticsearch:8.13.4", ""},
		},
		"images: {source: auto, stores: {postgres: \"my.registry/pg:15\"}}": {
			"postgres": {"my.registry/pg:15", "postgres:15", "my.registry/pg:15"}, // an override is the fallback
		},
	}
	for env, stores := range cases {
		c, err := loadEnv(t, env, catalog.Options{})
		require.NoError(t, err, env)
		for name, w := range stores {
			st := c.Stores[name]
			assert.Equal(t, w, want{st.Image, st.Pull, st.Fallback}, "%s: %s", env, name)
			if w.pull != "" {
				assert.Equal(t, w.pull, st.DockerImage())
			} else {
				assert.Equal(t, w.image, st.DockerImage())
			}
		}
		assert.Empty(t, c.Stores["neo4j"].Pull, "external: never pulled")
	}

	// the runtime overrides win over the file (novadev --images, NOVADEV_IMAGE_MIRROR)
	c, err := loadEnv(t, "images: {source: offline}", catalog.Options{ImageSource: catalog.SourceAuto, Mirror: "m.corp/hub"})
	require.NoError(t, err)
	assert.Equal(t, "m.corp/hub/library/postgres:15", c.Stores["postgres"].Pull)
	c.Stores["postgres"].FallBack()
	assert.Equal(t, "novadev/postgres:15", c.Stores["postgres"].DockerImage())
}

func TestImageSourceProblems(t *testing.T) {
	_, err := loadEnv(t, "images:\n  source: autp\n  mirror: \"https://m.corp\"\n", catalog.Options{})
	require.Error(t, err)
	msg := err.Error()
	assert.Contains(t, msg, `img.yaml:6:3: images.source: unknown image source "autp" (one of auto, upstream, offline); did you mean "auto"?`)
	assert.Contains(t, msg, `img.yaml:7:3: images.mirror: mirror "https://m.corp" has a scheme`)
	_, err = loadEnv(t, "", catalog.Options{})
	require.NoError(t, err)
}

func TestOfflineImageField(t *testing.T) {
	data, err := os.ReadFile("../../envs/nova.yaml")
	require.NoError(t, err)
	bad := strings.Replace(string(data), "offline: novadev/redis:7", "offline: redis:7", 1)
	_, err = catalog.Parse("nova.yaml", []byte(bad))
	require.Error(t, err)
	assert.Contains(t, err.Error(), `stores.redis.offline: offline image "redis:7" is not in the offline set`)
}
