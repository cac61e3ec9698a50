package app

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/novadev/novadev/internal/catalog"
	"github.com/novadev/novadev/internal/cli"
	"github.com/novadev/novadev/internal/state"
)

func TestValidateInstanceName(t *testing.T) {
	for _, ok := range []string{"pr-123", "a", "e2e-i1", "x0", strings.Repeat("a", 63)} {
		assert.NoError(t, ValidateInstanceName(ok), ok)
	}
	for _, bad := range []string{"", "PR-1", "pr_1", "-pr", "pr-", "pr.1", "p r", strings.Repeat("a", 64)} {
		err := ValidateInstanceName(bad)
		require.Error(t, err, bad)
		assert.Contains(t, err.Error(), "DNS-1123", bad)
		assert.Contains(t, err.Error(), "e.g. pr-123", bad)
	}
}

func TestParseTTL(t *testing.T) {
	for in, want := range map[string]time.Duration{"1s": time.Second, "8h": 8 * time.Hour, "90m": 90 * time.Minute, "3d": 72 * time.Hour} {
		got, err := ParseTTL(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
	}
	for _, bad := range []string{"", "8", "-1h", "0s", "0d", "xd", "1w", "8 h", "400d"} {
		_, err := ParseTTL(bad)
		require.Error(t, err, bad)
		assert.Contains(t, err.Error(), "30m, 8h or 3d", bad)
	}
}

func FuzzParseTTL(f *testing.F) {
	for _, s := range []string{"1s", "8h", "3d", "-1h", "d", "99999999999999d"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseTTL(s)
		if err == nil && d <= 0 {
			t.Fatalf("ParseTTL(%q) = %v without error", s, d)
		}
	})
}

func FuzzValidateInstanceName(f *testing.F) {
	for _, s := range []string{"pr-123", "PR", "-", "a-b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if ValidateInstanceName(s) == nil && (len(s) == 0 || len(s) > 63 || s[0] == '-' || s[len(s)-1] == '-') {
			t.Fatalf("accepted %q", s)
		}
	})
}

func allFree(int) error { return nil }

func TestAllocateSkipsRecordedBlocksUsedAndBusyPorts(t *testing.T) {
	b := block{offsets: []int{0, 1, 5, 42}, span: 50}
	base, err := allocate(b, nil, nil, allFree)
	require.NoError(t, err)
	assert.Equal(t, PortRangeMin, base)

	// another instance holds 10000-10049 (and overlaps into the next one)
	others := []state.InstanceRecord{{Project: "a", PortBase: 10000, PortSpan: 50}, {Project: "b", PortBase: 10060, PortSpan: 10}}
	base, err = allocate(b, others, nil, allFree)
	require.NoError(t, err)
	assert.Equal(t, 10100, base, "10050-10099 overlaps b's 10060-10069")

	// a container of something else publishes 10105 (offset 5)
	base, err = allocate(b, others, []int{10105}, allFree)
	require.NoError(t, err)
	assert.Equal(t, 10150, base)

	// a port bound by a process outside Docker fails the bind test
	busy := func(p int) error {
		if p == 10192 {
			return errors.New("address in use")
		}
		return nil
	}
	base, err = allocate(b, others, []int{10105}, busy)
	require.NoError(t, err)
	assert.Equal(t, 10200, base)

	// a port not in the block's offsets does not matter
	base, err = allocate(b, nil, []int{10002, 10010}, allFree)
	require.NoError(t, err)
	assert.Equal(t, 10000, base)
}

func TestAllocateNeverEntersTheEphemeralRange(t *testing.T) {
	b := block{offsets: []int{0, 999}, span: 1000}
	seen := map[int]bool{}
	var others []state.InstanceRecord
	for {
		base, err := allocate(b, others, nil, allFree)
		if err != nil {
			require.ErrorIs(t, err, ErrNoPortBlock)
			assert.Contains(t, err.Error(), "novadev gc")
			assert.Contains(t, err.Error(), "novadev list")
			break
		}
		require.False(t, seen[base])
		seen[base] = true
		assert.GreaterOrEqual(t, base, PortRangeMin)
		assert.Less(t, base+999, catalog.EphemeralPortMin)
		others = append(others, state.InstanceRecord{Project: fmt.Sprint(base), PortBase: base, PortSpan: 1000})
	}
	assert.Len(t, seen, (PortRangeMax-PortRangeMin+1)/1000)
}

func TestBlockOfTheCIEnvironment(t *testing.T) {
	c, err := catalog.Load("../../envs/nova.yaml", catalog.Options{Env: "ci"})
	require.NoError(t, err)
	b, err := blockOf(c)
	require.NoError(t, err)
	require.NotEmpty(t, b.offsets)
	for _, p := range hostPorts(c) {
		assert.Contains(t, b.offsets, p-c.HostPortBase)
		assert.Less(t, p-c.HostPortBase, b.span)
	}
	// moved to an allocated block, the catalog publishes exactly the shifted ports
	moved, err := catalog.Load("../../envs/nova.yaml", catalog.Options{Env: "ci", Instance: "i1", HostPortBase: 12000})
	require.NoError(t, err)
	assert.Equal(t, "nova-ci-i1", moved.Env.Project)
	var want []int
	for _, off := range b.offsets {
		want = append(want, 12000+off)
	}
	assert.Equal(t, want, hostPorts(moved))
}

// raceStore is a store on which another novadev (another state dir)
// writes a record for the same block just before this one's write lands.
type raceStore struct {
	recs  []state.InstanceRecord
	raced bool
}

func (s *raceStore) Records(context.Context) ([]state.InstanceRecord, []error, error) {
	return slices.Clone(s.recs), nil, nil
}
func (s *raceStore) UsedPorts(context.Context) ([]int, error) { return nil, nil }
func (s *raceStore) Write(_ context.Context, r state.InstanceRecord) error {
	if !s.raced {
		s.raced = true
		s.recs = append(s.recs, state.InstanceRecord{Project: "nova-ci-a", Env: "ci", Instance: "a", PortBase: r.PortBase, PortSpan: r.PortSpan})
	}
	s.recs = slices.DeleteFunc(s.recs, func(o state.InstanceRecord) bool { return o.Project == r.Project })
	s.recs = append(s.recs, r)
	return nil
}
func (s *raceStore) Observe(context.Context, string) (*state.Observed, error) {
	return &state.Observed{}, nil
}
func (s *raceStore) Remove(context.Context, string) error { return nil }
func (s *raceStore) Close() error                         { return nil }

func TestAllocationYieldsToAConcurrentWriterThatSortsFirst(t *testing.T) {
	c, err := catalog.Load("../../envs/nova.yaml", catalog.Options{Env: "ci"})
	require.NoError(t, err)
	st := &raceStore{}
	sv := &service{o: Options{StateDir: t.TempDir(), PortFree: allFree,
		Instances: func(context.Context, string) (InstanceStore, error) { return st, nil }}}
	r, err := sv.resolveInstance(context.Background(), &cli.Global{Target: "docker", Instance: "b"}, c, writeInstance, time.Hour)
	require.NoError(t, err)
	b, _ := blockOf(c)
	assert.Equal(t, PortRangeMin+b.span, r.record.PortBase, "nova-ci-a sorts first and keeps 10000; b moves on")
	for _, o := range st.recs {
		if o.Project != "nova-ci-b" {
			assert.False(t, o.PortBase <= r.record.PortEnd() && r.record.PortBase <= o.PortEnd(), "no overlap left")
		}
	}
}
