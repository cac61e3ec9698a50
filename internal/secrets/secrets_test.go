package secrets

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/novadev/novadev/internal/catalog"
)

var generated = regexp.MustCompile(`^[A-Za-z0-9_-]{32}$`)

// parse reads NAME=value lines (the test's own minimal reader).
func parse(t *testing.T, data []byte) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, line := range strings.Split(string(data), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		require.True(t, ok, "line %q", line)
		out[k] = v
	}
	return out
}

func mode(t *testing.T, path string) os.FileMode {
	t.Helper()
	st, err := os.Stat(path)
	require.NoError(t, err)
	return st.Mode().Perm()
}

func TestEnsureEnvFileCreates(t *testing.T) {
	path := filepath.Join(t.TempDir(), "compose", ".env")
	created, err := EnsureEnvFile(path, []string{"B_PASSWORD", "A_PASSWORD", "B_PASSWORD"})
	require.NoError(t, err)
	require.Equal(t, []string{"B_PASSWORD", "A_PASSWORD"}, created)
	require.Equal(t, os.FileMode(0o600), mode(t, path))

	data, err := os.ReadFile(path)
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(string(data), "# "), "the file explains itself")
	vals := parse(t, data)
	require.Len(t, vals, 2)
	for name, v := range vals {
		require.Regexp(t, generated, v, name)
	}
	require.NotEqual(t, vals["A_PASSWORD"], vals["B_PASSWORD"])
}

func TestEnsureEnvFileKeepsWhatIsThere(t *testing.T) {
	for _, tc := range []struct {
		name, before string
		names        []string
		wantCreated  []string
	}{
		{
			name:        "adds only the missing name",
			before:      "# mine\nA_PASSWORD=keep-me\nUNRELATED=1\n",
			names:       []string{"A_PASSWORD", "B_PASSWORD"},
			wantCreated: []string{"B_PASSWORD"},
		},
		{
			name:        "no trailing newline",
			before:      "A_PASSWORD=keep-me",
			names:       []string{"A_PASSWORD", "B_PASSWORD"},
			wantCreated: []string{"B_PASSWORD"},
		},
		{
			name:        "export form and empty values count as defined",
			before:      "export A_PASSWORD=keep-me\nB_PASSWORD=\n",
			names:       []string{"A_PASSWORD", "B_PASSWORD"},
			wantCreated: nil,
		},
		{
			name:        "commented-out names do not",
			before:      "# A_PASSWORD=old\n",
			names:       []string{"A_PASSWORD"},
			wantCreated: []string{"A_PASSWORD"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), ".env")
			require.NoError(t, os.WriteFile(path, []byte(tc.before), 0o644))
			created, err := EnsureEnvFile(path, tc.names)
			require.NoError(t, err)
			require.Equal(t, tc.wantCreated, created)
			require.Equal(t, os.FileMode(0o600), mode(t, path), "mode is fixed even when nothing is added")

			after, err := os.ReadFile(path)
			require.NoError(t, err)
			require.True(t, strings.HasPrefix(string(after), tc.before), "existing bytes are kept as they were")
			added := strings.TrimPrefix(string(after), tc.before)
			if len(tc.wantCreated) == 0 {
				require.Empty(t, added)
				return
			}
			vals := parse(t, []byte(strings.TrimPrefix(added, "\n")))
			require.Len(t, vals, len(tc.wantCreated))
			for _, n := range tc.wantCreated {
				require.Regexp(t, generated, vals[n])
			}
		})
	}
}

func TestEnsureEnvFileIsIdempotent(t *testing.T) {
	path := filepath.Join(t.TempDir(), ".env")
	_, err := EnsureEnvFile(path, []string{"A_PASSWORD"})
	require.NoError(t, err)
	first, err := os.ReadFile(path)
	require.NoError(t, err)
	require.NoError(t, os.Chmod(path, 0o644))

	created, err := EnsureEnvFile(path, []string{"A_PASSWORD"})
	require.NoError(t, err)
	require.Empty(t, created)
	second, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, first, second)
	require.Equal(t, os.FileMode(0o600), mode(t, path))
}

func TestNames(t *testing.T) {
	set, err := catalog.LoadSet("../../envs/nova.yaml")
	require.NoError(t, err)
	names := Names(set.Envs["local"])
	require.Len(t, names, 18, "the superuser, 15 service users, the ClickHouse admin and analytics-service's ClickHouse user")
	require.Contains(t, names, "NOVA_CH_ADMIN_PASSWORD")
	require.Contains(t, names, "NOVA_CH_ANALYTICS_SERVICE_PASSWORD")
	require.Contains(t, names, "NOVA_POSTGRES_PASSWORD")
	require.Contains(t, names, "NOVA_FEED_SVC_PASSWORD")
	require.Contains(t, names, "NOVA_FEATURE_STORE_SVC_PASSWORD")
	require.IsIncreasing(t, names)
	for _, n := range names {
		require.Regexp(t, `^[A-Z][A-Z0-9_]*$`, n)
	}
}

func TestDefined(t *testing.T) {
	got := Defined([]byte("# c\n\nA=1\n  export B = 2\nC\nD=x=y\n"))
	require.Equal(t, map[string]bool{"A": true, "B": true, "D": true}, got)
}

func TestValues(t *testing.T) {
	v := Values([]byte("# c\nA=1\nexport B = two\n\nbad line\nC=x=y\n"))
	if len(v) != 3 || v["A"] != "1" || v["B"] != "two" || v["C"] != "x=y" {
		t.Fatalf("got %v", v)
	}
}
