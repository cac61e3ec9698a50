package bootstrap

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// EnvBuf names the buf binary the oracle test runs (.ci/run sets it from
// scripts/buf.sh); without it, buf on PATH.
const EnvBuf = "NOVADEV_BUF"

// requireBuf returns the buf binary, or skips the test with the reason
// (fails under NOVADEV_E2E=1, where the integration tests are required).
func requireBuf(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test skipped in -short mode")
	}
	miss := func(format string, args ...any) {
		t.Helper()
		skipOrFail(t, format, args...) // the package's one skip-or-fail rule (docker_test.go)
	}
	bin := os.Getenv(EnvBuf)
	if bin == "" {
		p, err := exec.LookPath("buf")
		if err != nil {
			miss("no buf: set %s or put buf on PATH (scripts/buf.sh builds it)", EnvBuf)
		}
		bin = p
	}
	out, err := exec.Command(bin, "--version").CombinedOutput()
	if err != nil {
		miss("%s --version: %v: %s", bin, err, strings.TrimSpace(string(out)))
	}
	t.Logf("oracle: %s %s", bin, strings.TrimSpace(string(out)))
	return bin
}

func bufConfig(category string) []byte {
	return fmt.Appendf(nil, "version: v2\nbreaking:\n  use: [%s]\n", category)
}

// runBuf runs buf with a private cache and returns stdout, the exit code
// and stderr.
func runBuf(bin, cache string, args ...string) (string, int, string) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), "BUF_CACHE_DIR="+cache)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	code := 0
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		code = exit.ExitCode()
	} else if err != nil {
		code = -1
		e.WriteString(err.Error())
	}
	return o.String(), code, e.String()
}

// bufBreaking returns the rule IDs `buf breaking after --against before`
// reports with buf.yaml `breaking: use: [category]` in both modules.
func bufBreaking(bin, cache, before, after, category string) ([]string, error) {
	for _, d := range []string{before, after} {
		if err := os.WriteFile(filepath.Join(d, "buf.yaml"), bufConfig(category), 0o644); err != nil {
			return nil, err
		}
	}
	out, code, stderr := runBuf(bin, cache, "breaking", after, "--against", before, "--error-format", "json")
	switch code {
	case 0, 100: // 100: breaking changes found
	default:
		return nil, fmt.Errorf("buf breaking exited %d: %s%s", code, stderr, out)
	}
	var rules []string
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		var a struct {
			Type string `json:"type"`
		}
		if err := json.Unmarshal(sc.Bytes(), &a); err != nil {
			return nil, fmt.Errorf("buf output %q: %w", sc.Text(), err)
		}
		if !slices.Contains(rules, a.Type) {
			rules = append(rules, a.Type)
		}
	}
	slices.Sort(rules)
	if (code == 100) != (len(rules) > 0) {
		return nil, fmt.Errorf("buf exited %d with %d annotations: %s", code, len(rules), stderr)
	}
	return rules, nil
}

// TestIntegrationBufOracle: buf is the reference for the breaking-change
// rules. First its rule set per category must be novadev's table; then, for
// every mutation of the Nova protos in the corpus and every category, buf
// and novadev must reach the same verdict and name the same rules.
func TestIntegrationBufOracle(t *testing.T) {
	bin := requireBuf(t)
	cache := t.TempDir()

	for _, cat := range BreakingCategories {
		cfg := filepath.Join(t.TempDir(), "buf.yaml")
		require.NoError(t, os.WriteFile(cfg, bufConfig(cat), 0o644))
		out, code, stderr := runBuf(bin, cache, "config", "ls-breaking-rules", "--configured-only", "--config", cfg, "--format", "json")
		require.Equal(t, 0, code, stderr)
		var ids []string
		sc := bufio.NewScanner(strings.NewReader(out))
		for sc.Scan() {
			var r struct {
				ID string `json:"id"`
			}
			require.NoError(t, json.Unmarshal(sc.Bytes(), &r))
			ids = append(ids, r.ID)
		}
		slices.Sort(ids)
		require.Equal(t, ids, RulesOf(cat), "buf's %s rules differ from novadev's table (ruleCategories)", cat)
	}

	nova := novaProtoFiles(t)
	muts := protoMutations()
	require.GreaterOrEqual(t, len(muts), 40)
	type result struct {
		buf, ours map[string][]string
		err       error
	}
	results := make([]result, len(muts))
	dir := t.TempDir()
	bases := baseRegistries{}
	var wg sync.WaitGroup
	sem := make(chan struct{}, 4) // buf mostly waits; 4 at once on 2 cores
	for i, m := range muts {
		before, after := mutationTrees(t, nova, m, filepath.Join(dir, fmt.Sprint(i)))
		results[i].ours = novadevVerdicts(t, bases.of(t, m, before), after)
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			results[i].buf = map[string][]string{}
			for _, cat := range BreakingCategories {
				rules, err := bufBreaking(bin, cache, before, after, cat)
				if err != nil {
					results[i].err = fmt.Errorf("%s: %w", cat, err)
					return
				}
				results[i].buf[cat] = rules
			}
		})
	}
	wg.Wait()

	var table strings.Builder
	fmt.Fprintf(&table, "%-48s  %-9s  %-9s  %-9s  %-9s  (verdicts buf/novadev: B breaking, - compatible)\n", "mutation", "FILE", "PACKAGE", "WIRE_JSON", "WIRE")
	agree, verdicts := 0, 0
	for i, m := range muts {
		r := results[i]
		require.NoError(t, r.err, m.name)
		fmt.Fprintf(&table, "%-48s", m.name)
		for _, cat := range BreakingCategories {
			b, o := verdictOf(r.buf[cat]), verdictOf(r.ours[cat])
			mark := " "
			if b != o || !slices.Equal(r.buf[cat], r.ours[cat]) {
				mark = "!"
			}
			fmt.Fprintf(&table, "  %s/%s%s      ", b, o, mark)
			verdicts++
			if b == o {
				agree++
			}
			if b != o {
				t.Errorf("%s under %s: buf says %s %v, novadev says %s %v", m.name, cat, b, r.buf[cat], o, r.ours[cat])
			} else if !slices.Equal(r.buf[cat], r.ours[cat]) {
				t.Errorf("%s under %s: same verdict, other rules: buf %v, novadev %v", m.name, cat, r.buf[cat], r.ours[cat])
			}
		}
		fmt.Fprintf(&table, "%v\n", r.buf[CategoryFile])
	}
	t.Logf("%d mutations, %d verdicts, %d agree\n%s", len(muts), verdicts, agree, table.String())
}

func verdictOf(rules []string) string {
	if len(rules) > 0 {
		return "B"
	}
	return "-"
}
