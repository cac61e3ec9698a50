package compose

import (
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/stretchr/testify/require"
	yaml2 "go.yaml.in/yaml/v2"
	"go.yaml.in/yaml/v3"

	"github.com/novadev/novadev/internal/catalog"
	"github.com/novadev/novadev/internal/catalog/catalogtest"
	"github.com/novadev/novadev/internal/render"
)

// referenceMarshal is the previous Marshal, kept as the reference the fast
// emitter is checked against: compose-go's MarshalYAML (yaml v4), a yaml.v3
// round trip to humanize memory sizes, the same header.
func referenceMarshal(p *types.Project) ([]byte, error) {
	raw, err := relativePaths(p).MarshalYAML()
	if err != nil {
		return nil, err
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return nil, err
	}
	humanizeMemory(&doc, false)
	var out strings.Builder
	out.WriteString("# " + render.Header + "\n")
	for _, line := range headerLines(p) {
		out.WriteString("# " + line + "\n")
	}
	enc := yaml.NewEncoder(&out)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return []byte(out.String()), nil
}

// humanizeMemory is the reference's rewrite of byte counts under resources.
func humanizeMemory(n *yaml.Node, inResources bool) {
	switch n.Kind {
	case yaml.DocumentNode, yaml.SequenceNode:
		for _, c := range n.Content {
			humanizeMemory(c, inResources)
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if inResources && k.Value == "memory" && v.Kind == yaml.ScalarNode {
				var b int64
				if _, err := fmt.Sscan(v.Value, &b); err == nil {
					v.Value, v.Tag, v.Style = bytesUnit(b), "!!str", 0
				}
				continue
			}
			humanizeMemory(v, inResources || k.Value == "resources")
		}
	}
}

// requireSameReload checks that Marshal's bytes and the reference's bytes
// load, with compose-go's loader, into equal projects, and that memory was
// humanized in both.
func requireSameReload(t *testing.T, p *types.Project, env map[string]string, opts ...func(*loader.Options)) *types.Project {
	t.Helper()
	got, err := Marshal(p)
	require.NoError(t, err)
	want, err := referenceMarshal(p)
	require.NoError(t, err)
	require.Equal(t, strings.Count(string(want), "memory: "), strings.Count(string(got), "memory: "))
	require.NotContains(t, string(got), "memory: \"", "memory is humanized, not a quoted byte count")
	dir := t.TempDir()
	gotP, err := loadWith(t, got, dir, env, opts...)
	require.NoError(t, err, "the new bytes must load:\n%s", got)
	wantP, err := loadWith(t, want, dir, env, opts...)
	require.NoError(t, err)
	require.Equal(t, wantP, gotP)
	return gotP
}

// loadWith is Load with loader options.
func loadWith(t *testing.T, data []byte, dir string, env map[string]string, opts ...func(*loader.Options)) (*types.Project, error) {
	mapping := types.Mapping{}
	for k, v := range env {
		mapping[k] = v
	}
	return loader.LoadWithContext(t.Context(), types.ConfigDetails{
		WorkingDir:  dir,
		ConfigFiles: []types.ConfigFile{{Filename: filepath.Join(dir, "docker-compose.yaml"), Content: data}},
		Environment: mapping,
	}, opts...)
}

func TestMarshalMatchesReferenceNova(t *testing.T) {
	set := loadNova(t)
	for _, envName := range set.EnvNames() {
		t.Run(envName, func(t *testing.T) {
			c := set.Envs[envName]
			p, err := Project(c)
			require.NoError(t, err)
			back := requireSameReload(t, p, dummyEnv(c))
			require.NotEmpty(t, back.Services["postgres"].HealthCheck.Test)
			require.Equal(t, p.Services["kafka"].Deploy.Resources.Limits.MemoryBytes, back.Services["kafka"].Deploy.Resources.Limits.MemoryBytes)
		})
	}
}

func TestMarshalMatchesReferenceSynthetic500(t *testing.T) {
	c, err := catalog.Parse("synthetic.yaml", catalogtest.Synthetic(500))
	require.NoError(t, err)
	p, err := Project(c)
	require.NoError(t, err)
	require.Greater(t, len(p.Services), 500)
	// compose-go's cycle check walks every path of the depends_on graph,
	// which never ends on 500 layered services: skip the consistency check
	back := requireSameReload(t, p, dummyEnv(c), func(o *loader.Options) { o.SkipConsistencyCheck = true })
	require.Len(t, append(back.ServiceNames(), disabled(back)...), len(p.Services))
}

// tricky are strings a careless YAML writer gets wrong: YAML 1.1 and 1.2
// booleans, nulls and numbers, indicators, quotes, blanks, control
// characters, unicode and compose's own ${} syntax.
var tricky = []string{
	"yes", "no", "on", "off", "y", "N", "True", "FALSE", "Yes", "~", "null", "Null", "NULL",
	"0x1F", "0o17", "017", "0b101", "1e3", "1E3", "-1", "+1", ".5", "1.", "1_000", "12:30", "190:20:30",
	".inf", "-.Inf", ".NaN", "2001-12-14", "2001-12-14t21:59:43.10-05:00", "2001-12-14 21:59:43.10 -5",
	"- a", "-", "--", "---", "--1", "---x", "-- x", "...", "a: b", "a:b", "a:", ":a", "? x", "?", "#x", "a #b", "a#b", "x # y",
	"'q'", "\"dq\"", "it's", "say \"hi\"", "back\\slash", "`tick`",
	" lead", "trail ", "  both  ", "", " ", "\t", "a\tb", "line1\nline2", "trailing\n", "\r\n", "nul\x00byte",
	"ünïcødé", "日本語", "emoji 🚀", "\u2028sep", "\ufeffbom", "\u0085nel",
	"[a, b]", "{a: b}", "a, b", "&anchor", "*alias", "!tag", "!!str x", "%YAML", "@at", "|", ">", "|-", "<<",
	"=", "a=b", "50051", "127.0.0.1", "0.5", "1m0s", "256m", "-healthcheck", "./x", "../y",
	"${VAR}", "$$x", "$x", "${VAR:-default}", "a$b", "$", "$$",
}

func TestTrickyStringsSurviveComposeLoader(t *testing.T) {
	p := &types.Project{Name: "tricky", Services: types.Services{}}
	svc := types.ServiceConfig{Name: "svc"}
	svc.Image, svc.Environment, svc.Labels = "busybox", types.MappingWithEquals{}, types.Labels{}
	for i, s := range tricky {
		v := escape(s)
		svc.Environment[fmt.Sprintf("V%03d", i)] = &v
		svc.Labels[fmt.Sprintf("l%03d", i)] = v
		svc.Command = append(svc.Command, v)
	}
	// awkward keys too: labels may be named anything
	for _, s := range tricky {
		if s != "" && !strings.ContainsAny(s, "$\x00") {
			svc.Labels[s] = "key"
		}
	}
	p.Services["svc"] = svc

	data, err := Marshal(p)
	require.NoError(t, err)
	back, err := Load(t.Context(), data, t.TempDir(), nil)
	require.NoError(t, err, "%s", data)
	got := back.Services["svc"]
	for i, s := range tricky {
		require.NotNil(t, got.Environment[fmt.Sprintf("V%03d", i)], "%q", s)
		require.Equal(t, s, *got.Environment[fmt.Sprintf("V%03d", i)], "environment value %q", s)
		require.Equal(t, s, got.Labels[fmt.Sprintf("l%03d", i)], "label value %q", s)
		require.Equal(t, s, got.Command[i], "command argument %q", s)
		if s != "" && !strings.ContainsAny(s, "$\x00") {
			require.Equal(t, "key", got.Labels[s], "label key %q", s)
		}
	}

	// a YAML 1.1 reader (yaml v2) and a YAML 1.2 one (yaml v3) read every
	// value as the same string, escaped for compose
	var v11 struct {
		Services map[string]struct {
			Environment map[string]any
			Command     []any
		}
	}
	require.NoError(t, yaml2.Unmarshal(data, &v11))
	var v12 struct {
		Services map[string]struct {
			Environment map[string]any
			Command     []any
		}
	}
	require.NoError(t, yaml.Unmarshal(data, &v12))
	for i, s := range tricky {
		key := fmt.Sprintf("V%03d", i)
		require.Equal(t, escape(s), v11.Services["svc"].Environment[key], "YAML 1.1 reading of %q", s)
		require.Equal(t, escape(s), v12.Services["svc"].Environment[key], "YAML 1.2 reading of %q", s)
		require.Equal(t, escape(s), v11.Services["svc"].Command[i], "YAML 1.1 reading of %q", s)
	}
}

func TestPlainSafe(t *testing.T) {
	for _, s := range []string{"postgres:5432", "novadev/placeholder:dev", "${NOVA_X_PASSWORD:?" + MissingCredential + "}",
		"$$1.00", "1m0s", "2s", "256m", "-healthcheck", "--cluster-enabled", "../synthetic", "dev.novadev.env", "on-failure",
		"http://clickhouse:8123", "postgres://u:${P}@postgres:5432/db?sslmode=disable", "a,b,c", "SIGINT"} {
		require.True(t, plainSafe(s), "%q should stay plain", s)
	}
	for _, s := range tricky {
		if plainSafe(s) {
			var v11, v12 any
			require.NoError(t, yaml2.Unmarshal([]byte("k: "+s), &v11), "%q", s)
			require.NoError(t, yaml.Unmarshal([]byte("k: "+s), &v12), "%q", s)
			require.Equal(t, map[any]any{"k": s}, v11, "%q is plain but YAML 1.1 reads it otherwise", s)
			require.Equal(t, map[string]any{"k": s}, v12, "%q is plain but YAML 1.2 reads it otherwise", s)
		}
	}
	for _, s := range []string{"yes", "No", "ON", "~", "null", "0x1F", "1e3", "12:30", "2001-12-14", "- a", "a: b", "#x", "'q'", "", " x", "x ", "127.0.0.1", "5432"} {
		require.False(t, plainSafe(s), "%q must be quoted", s)
	}
}

func TestMarshalKeyOrder(t *testing.T) {
	p, err := Project(loadShop(t))
	require.NoError(t, err)
	data, err := Marshal(p)
	require.NoError(t, err)
	var top []string
	var orders []string
	in := ""
	for _, line := range strings.Split(string(data), "\n") {
		if k, ok := strings.CutSuffix(line, ":"); ok && !strings.HasPrefix(line, " ") {
			top = append(top, k)
		}
		if strings.HasPrefix(line, "  ") && !strings.HasPrefix(line, "   ") {
			in = strings.TrimSuffix(strings.TrimSpace(line), ":")
		} else if in == "orders" && strings.HasPrefix(line, "    ") && !strings.HasPrefix(line, "     ") {
			orders = append(orders, strings.SplitN(strings.TrimSpace(line), ":", 2)[0])
		}
	}
	require.Equal(t, []string{"services", "networks", "volumes"}, top, "name is a one-line key")
	require.True(t, strings.HasPrefix(string(data[strings.Index(string(data), "\nname:")+1:]), "name: shop-dev\nservices:\n"))
	require.Equal(t, []string{"image", "restart", "depends_on", "environment", "ports", "healthcheck", "deploy", "labels", "networks", "stop_grace_period"}, orders)
	require.True(t, sort.StringsAreSorted(p.ServiceNames()))
}
