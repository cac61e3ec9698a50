package compose

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/novadev/novadev/internal/catalog"
	"github.com/novadev/novadev/internal/secrets"
)

// requireComposeV2 returns the output of `docker compose version`, or skips
// the test with the reason printed when docker compose v2 cannot run here
// (scripts/compose-v2.sh builds and installs it). Under NOVADEV_E2E=1 the
// integration tests are required, so a missing compose fails instead.
func requireComposeV2(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test: skipped in -short mode")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "docker", "compose", "version").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "v2.") {
		msg := "docker compose v2 is not available (run scripts/compose-v2.sh): " + strings.TrimSpace(string(out))
		if err != nil {
			msg += " (" + err.Error() + ")"
		}
		if os.Getenv("NOVADEV_E2E") == "1" {
			t.Fatalf("NOVADEV_E2E=1 but %s", msg)
		}
		t.Skip(msg)
	}
	return strings.TrimSpace(string(out))
}

// dockerCompose runs `docker compose args...` and returns its stdout and
// stderr. COMPOSE_* and *_PASSWORD variables of the caller are dropped so
// that only the arguments and the env file decide the project, files,
// profiles and credentials (compose prefers the process environment).
func dockerCompose(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "docker", append([]string{"compose"}, args...)...)
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(name, "COMPOSE_") && !strings.HasSuffix(name, "_PASSWORD") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err = cmd.Run()
	return o.String(), e.String(), err
}

// writeEnvFile writes an env file assigning every name a recognisable value.
func writeEnvFile(t *testing.T, names []string) string {
	t.Helper()
	var b strings.Builder
	for _, n := range names {
		b.WriteString(n + "=it-" + strings.ToLower(n) + "\n")
	}
	path := filepath.Join(t.TempDir(), "compose.env")
	require.NoError(t, os.WriteFile(path, []byte(b.String()), 0o600))
	return path
}

// lines returns the non-empty lines of s, sorted.
func lines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	sort.Strings(out)
	return out
}

// TestIntegrationComposeV2 proves that the real docker compose v2 accepts
// every committed compose file unchanged (`config --quiet`, with an env file
// holding every credential secrets.Names lists) and sees exactly the services
// compose.Project builds: those without a profile by default, all of them
// once every profile is enabled with --profile.
func TestIntegrationComposeV2(t *testing.T) {
	version := requireComposeV2(t)
	t.Logf("%s", version)
	set := loadNova(t)
	envs := set.EnvNames()
	require.ElementsMatch(t, []string{"local", "ci", "pr"}, envs, "the nova catalog's environments")
	for _, env := range envs {
		t.Run(env, func(t *testing.T) {
			c := set.Envs[env]
			p, err := Project(c)
			require.NoError(t, err)
			file := filepath.Join(repoRoot, FileName(env))
			require.FileExists(t, file)
			names := secrets.Names(c)
			require.NotEmpty(t, names, "the nova stack needs credentials")
			envFile := writeEnvFile(t, names)
			base := []string{"-f", file, "--env-file", envFile}

			// Every service, split by whether a profile gates it.
			var all, plain, profiles []string
			for _, name := range p.ServiceNames() {
				s := p.Services[name]
				all = append(all, name)
				if len(s.Profiles) == 0 {
					plain = append(plain, name)
				}
				for _, pr := range s.Profiles {
					if !slices.Contains(profiles, pr) {
						profiles = append(profiles, pr)
					}
				}
			}
			sort.Strings(all)
			sort.Strings(plain)
			require.NotEmpty(t, plain)

			withProfiles := slices.Clone(base)
			for _, pr := range profiles {
				withProfiles = append(withProfiles, "--profile", pr)
			}

			out, errOut, err := dockerCompose(t, append(slices.Clone(withProfiles), "config", "--quiet")...)
			require.NoError(t, err, "docker compose config --quiet refused %s:\n%s", file, errOut)
			require.Empty(t, strings.TrimSpace(out), "config --quiet prints nothing when the file is valid")

			out, errOut, err = dockerCompose(t, append(slices.Clone(base), "config", "--services")...)
			require.NoError(t, err, errOut)
			require.Equal(t, plain, lines(out), "services docker compose starts without --profile")

			out, errOut, err = dockerCompose(t, append(slices.Clone(withProfiles), "config", "--services")...)
			require.NoError(t, err, errOut)
			require.Equal(t, all, lines(out), "services with every profile (%v) enabled", profiles)

			// The project name, network and every credential reference come
			// through compose's own interpolation from the env file.
			out, errOut, err = dockerCompose(t, append(slices.Clone(withProfiles), "config", "--format", "json")...)
			require.NoError(t, err, errOut)
			require.Contains(t, out, `"name": "`+c.Env.Project+`"`)
			for _, n := range names {
				require.Contains(t, out, "it-"+strings.ToLower(n), "%s is interpolated from the env file", n)
			}
			require.NotContains(t, out, "${", "no reference is left uninterpolated")
		})
	}

	t.Run("missing credential", func(t *testing.T) {
		c := set.Envs["ci"]
		names := secrets.Names(c)
		require.Contains(t, names, catalog.SuperuserPasswordVar)
		var rest []string
		for _, n := range names {
			if n != catalog.SuperuserPasswordVar {
				rest = append(rest, n)
			}
		}
		envFile := writeEnvFile(t, rest)
		_, errOut, err := dockerCompose(t, "-f", filepath.Join(repoRoot, FileName("ci")), "--env-file", envFile, "config", "--quiet")
		require.Error(t, err, "compose must refuse a file whose credential is missing")
		require.Contains(t, errOut, catalog.SuperuserPasswordVar)
		require.Contains(t, errOut, MissingCredential)
	})
}
