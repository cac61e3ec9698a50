package app

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/novadev/novadev/internal/backend"
	"github.com/novadev/novadev/internal/state"
)

func snapshotFixture(t *testing.T) (dir string, saved backend.StoreCopy, creds map[string]string) {
	t.Helper()
	dir = t.TempDir()
	require.NoError(t, os.CopyFS(dir, os.DirFS("../../envs")))
	files, err := inputDigests(dir)
	require.NoError(t, err)
	lookup := func(k string) (string, bool) { return "secret-" + k, true }
	creds = credentialPrints([]string{"NOVA_POSTGRES_PASSWORD", "NOVA_USER_SVC_PASSWORD"}, lookup)
	saved = backend.StoreCopy{Name: "base", Env: "ci", Labels: map[string]string{
		state.LabelSnapshotInputFiles:  encodePairs(files),
		state.LabelSnapshotCredentials: encodePairs(creds),
	}}
	return dir, saved, creds
}

// An unchanged catalog with the same credentials and environment is
// accepted; each change is refused with its reason and what to do.
func TestSnapshotRefusal(t *testing.T) {
	dir, saved, creds := snapshotFixture(t)
	files, err := inputDigests(dir)
	require.NoError(t, err)
	require.NoError(t, snapshotRefusal(saved, "ci", files, creds))

	mig := filepath.Join(dir, "migrations", "user-service", "20251114000000_init.sql")
	require.NoError(t, os.WriteFile(mig, []byte("CREATE TABLE changed (id int);\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "migrations", "user-service", "20251201000000_more.sql"), []byte("SELECT 1;\n"), 0o644))
	require.NoError(t, os.Remove(filepath.Join(dir, "pr.yaml")))
	files, err = inputDigests(dir)
	require.NoError(t, err)
	err = snapshotRefusal(saved, "ci", files, creds)
	require.Error(t, err)
	msg := err.Error()
	require.Contains(t, msg, "snapshot base is refused: the bootstraps' inputs changed since it was saved: migrations/user-service/20251114000000_init.sql changed, migrations/user-service/20251201000000_more.sql added, pr.yaml removed")
	require.Contains(t, msg, "start without --from-snapshot")
	require.Contains(t, msg, "novadev --instance NAME snapshot save base")

	_, saved, _ = snapshotFixture(t)
	other := credentialPrints([]string{"NOVA_POSTGRES_PASSWORD", "NOVA_USER_SVC_PASSWORD"}, func(k string) (string, bool) {
		if k == "NOVA_POSTGRES_PASSWORD" {
			return "another", true
		}
		return "secret-" + k, true
	})
	dir, _, _ = snapshotFixture(t)
	files, err = inputDigests(dir)
	require.NoError(t, err)
	err = snapshotRefusal(saved, "pr", files, other)
	require.ErrorContains(t, err, "saved from environment ci, not pr (use --env ci)")
	require.ErrorContains(t, err, "other credentials than compose/.env: NOVA_POSTGRES_PASSWORD (")
	require.NotContains(t, err.Error(), "NOVA_USER_SVC_PASSWORD")
	require.NotContains(t, err.Error(), "secret-", "no credential value is ever printed")
}

func TestCredentialPrintsRevealNoValue(t *testing.T) {
	p := credentialPrints([]string{"A"}, func(string) (string, bool) { return "hunter2hunter2", true })
	require.Len(t, p["A"], 16)
	require.NotContains(t, p["A"], "hunter2")
	q := credentialPrints([]string{"B"}, func(string) (string, bool) { return "hunter2hunter2", true })
	require.NotEqual(t, p["A"], q["B"], "the name is part of the print: equal values under two names differ")
}

func TestChangedInputsNamesTheVersion(t *testing.T) {
	got := changedInputs(map[string]string{versionInput: "v1", "a": "1"}, map[string]string{versionInput: "v2", "a": "1"})
	require.Equal(t, []string{"novadev version v2 (saved with v1)"}, got)
}

func TestSnapshotNames(t *testing.T) {
	require.NoError(t, validateSnapshotName("base-2026-12-01"))
	for _, bad := range []string{"", "Base", "a_b", "-a", strings.Repeat("a", 64)} {
		require.Error(t, validateSnapshotName(bad), bad)
	}
}

// FuzzDecodePairs: the labels' k=v,... lists parse without panicking,
// and what encodePairs writes reads back the same.
func FuzzDecodePairs(f *testing.F) {
	f.Add("migrations/a.sql=0123456789abcdef,nova.yaml=fedcba9876543210")
	f.Add("=,,a=b=c,")
	f.Fuzz(func(t *testing.T, s string) {
		m := decodePairs(s)
		for k, v := range m {
			if strings.ContainsAny(k, ",=") || strings.Contains(v, ",") {
				return // not what encodePairs writes
			}
		}
		back := decodePairs(encodePairs(m))
		delete(m, "")
		delete(back, "")
		for k, v := range m {
			if k != "" && back[k] != v {
				t.Fatalf("%q: %q -> %q", k, v, back[k])
			}
		}
	})
}
