package bootstrap

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/novadev/novadev/internal/catalog"
)

func compileTestdata(t *testing.T, dir string) *Registry {
	t.Helper()
	reg, err := CompileProtos(context.Background(), filepath.Join("testdata", "proto", dir), "1.0.0")
	require.NoError(t, err)
	return reg
}

func TestCompileProtosRegistry(t *testing.T) {
	reg := compileTestdata(t, "v1")
	require.Len(t, reg.Files, 1)
	require.Equal(t, "shop/v1/shop.proto", reg.Files[0].Path())
	s := reg.Service("shop.v1.OrderService")
	require.NotNil(t, s)
	require.True(t, s.Methods().ByName("Watch").IsStreamingServer())
	ns, nm := reg.Counts()
	require.Equal(t, 2, ns)
	require.Equal(t, 4, nm, "GetRequest, Order, Order.Line, Unused: map entries are not counted")
	golden(t, "registry-v1.json", reg.Marshal())

	// the baseline round-trips: loading it back gives the same file, and no
	// difference under any category
	path := filepath.Join(t.TempDir(), "registry.json")
	require.NoError(t, os.WriteFile(path, reg.Marshal(), 0o644))
	back, err := LoadRegistry(path)
	require.NoError(t, err)
	require.Equal(t, string(reg.Marshal()), string(back.Marshal()))
	for _, cat := range BreakingCategories {
		require.Empty(t, BreakingChanges(back, reg, cat), cat)
	}
}

func TestLoadRegistryErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(s string) string {
		p := filepath.Join(dir, "r.json")
		require.NoError(t, os.WriteFile(p, []byte(s), 0o644))
		return p
	}
	_, err := LoadRegistry(write(`{"version": "1.0.0", "services": {}}`))
	require.ErrorContains(t, err, `unknown field "services"`, "the old registry format is refused")
	require.ErrorContains(t, err, RecordCommand)
	_, err = LoadRegistry(write(`{"version": "1.0.0", "files": [{"name": "a.proto", "bogus": 1}]}`))
	require.ErrorContains(t, err, "files[0]")
	_, err = LoadRegistry(write(`{"version": "1.0.0", "files": [{"name": "a.proto", "dependency": ["b.proto"]}]}`))
	require.ErrorContains(t, err, "import b.proto: not under the proto root and not a well-known type")
}

func TestBreakingChangesShop(t *testing.T) {
	var got []string
	for _, ch := range BreakingChanges(compileTestdata(t, "v1"), compileTestdata(t, "v2"), CategoryPackage) {
		got = append(got, ch.String())
	}
	require.Equal(t, []string{
		`FIELD_NO_DELETE: shop/v1/shop.proto: field 5 "created" of message shop.v1.Order was deleted (under PACKAGE rules a deleted field breaks generated code even when reserved; keep it, deprecated)`,
		`FIELD_NO_DELETE: shop/v1/shop.proto: field 6 "note" of message shop.v1.Order was deleted (under PACKAGE rules a deleted field breaks generated code even when reserved; keep it, deprecated)`,
		`FIELD_SAME_CARDINALITY: shop/v1/shop.proto: field 3 "lines" of message shop.v1.Order changed cardinality from "repeated" to "optional with explicit presence"`,
		`FIELD_SAME_TYPE: shop/v1/shop.proto: field 2 "amount_cents" of message shop.v1.Order changed type from int64 to int32`,
		`FIELD_SAME_TYPE: shop/v1/shop.proto: field 2 "value" of message shop.v1.Order.LabelsEntry changed type from string to int64`,
		`PACKAGE_MESSAGE_NO_DELETE: shop/v1/shop.proto: message Unused was deleted from package "shop.v1"`,
		`PACKAGE_SERVICE_NO_DELETE: shop/v1/shop.proto: service LegacyService was deleted from package "shop.v1"`,
		`RPC_NO_DELETE: shop/v1/shop.proto: method Cancel of service shop.v1.OrderService was deleted`,
		`RPC_SAME_RESPONSE_TYPE: shop/v1/shop.proto: method shop.v1.OrderService.Get changed its response type from shop.v1.Order to shop.v1.OrderV2`,
		`RPC_SAME_SERVER_STREAMING: shop/v1/shop.proto: method shop.v1.OrderService.Watch changed server streaming from true to false`,
		"compatible: field shop.v1.GetRequest.include_lines (2) added",
		"compatible: field shop.v1.Order.created (15) added",
		"compatible: message shop.v1.OrderV2 added",
		"compatible: method shop.v1.OrderService.List added",
	}, got)

	// under WIRE the reserved note (6) is fine, int64 -> int32 too
	got = nil
	for _, ch := range BreakingChanges(compileTestdata(t, "v1"), compileTestdata(t, "v2"), CategoryWire) {
		if ch.Breaking {
			got = append(got, ch.Rule+" "+ch.Text)
		}
	}
	require.Equal(t, []string{
		`FIELD_NO_DELETE_UNLESS_NUMBER_RESERVED field 5 "created" of message shop.v1.Order was deleted without reserving the number 5`,
		`FIELD_WIRE_COMPATIBLE_CARDINALITY field 3 "lines" of message shop.v1.Order changed cardinality from "repeated" to "optional with explicit presence"`,
		`FIELD_WIRE_COMPATIBLE_TYPE field 2 "value" of message shop.v1.Order.LabelsEntry changed type from string to int64`,
		`RPC_SAME_RESPONSE_TYPE method shop.v1.OrderService.Get changed its response type from shop.v1.Order to shop.v1.OrderV2`,
		`RPC_SAME_SERVER_STREAMING method shop.v1.OrderService.Watch changed server streaming from true to false`,
	}, got)
	require.Empty(t, BreakingChanges(compileTestdata(t, "v2"), compileTestdata(t, "v2"), CategoryFile))
}

func TestRulesOfCategories(t *testing.T) {
	require.Len(t, RulesOf(CategoryFile), 51)
	require.Len(t, RulesOf(CategoryPackage), 51)
	require.Len(t, RulesOf(CategoryWireJSON), 22)
	require.Len(t, RulesOf(CategoryWire), 15)
	require.Contains(t, RulesOf(CategoryWire), "FIELD_SAME_ONEOF")
	require.NotContains(t, RulesOf(CategoryWire), "FIELD_SAME_JSON_NAME")
	require.Equal(t, catalog.BreakingCategories, BreakingCategories)
}

func TestUncoveredRanges(t *testing.T) {
	cur := collapse([][2]int64{{25, 29}, {20, 24}, {40, 40}})
	require.Equal(t, [][2]int64{{20, 29}, {40, 40}}, cur)
	require.Empty(t, uncovered([2]int64{20, 29}, cur))
	require.Equal(t, [][2]int64{{30, 39}}, uncovered([2]int64{20, 40}, cur))
	require.Equal(t, [][2]int64{{10, 19}, {30, 35}}, uncovered([2]int64{10, 35}, cur))
	require.Equal(t, [][2]int64{{1, 2}}, uncovered([2]int64{1, 2}, cur))
	require.Equal(t, [][2]int64{{50, 60}}, uncovered([2]int64{50, 60}, cur))
}

func TestCompileProtosReportsEveryError(t *testing.T) {
	_, err := CompileProtos(context.Background(), filepath.Join("testdata", "proto", "broken"), "1")
	require.EqualError(t, err, "shop/a.proto:3:13: field shop.A.m: unknown type Missing\n"+
		"shop/b.proto:3:38: message shop.B: fields x and y both have the same tag 1")
	_, err = CompileProtos(context.Background(), t.TempDir(), "1")
	require.ErrorContains(t, err, "no .proto files under")
}

// TestFindProtosKubeletLayout rebuilds what the kubelet makes of a projected
// ConfigMap volume: every top-level entry is a link into ..data, which links
// to a timestamped directory holding the real files. filepath.WalkDir does
// not descend into a linked root; the walk must.
func TestFindProtosKubeletLayout(t *testing.T) {
	vol := t.TempDir()
	ts := filepath.Join(vol, "..2026_12_01_07_00_00.123456789")
	for _, f := range []string{"proto/nova/feed/v1/feed.proto", "proto/nova/user/v1/user.proto", "proto/registry-1.0.0.json", "nova.yaml"} {
		p := filepath.Join(ts, filepath.FromSlash(f))
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte("syntax = \"proto3\";\n"), 0o644))
	}
	require.NoError(t, os.Symlink(filepath.Base(ts), filepath.Join(vol, "..data")))
	require.NoError(t, os.Symlink("..data/proto", filepath.Join(vol, "proto")))
	require.NoError(t, os.Symlink("..data/nova.yaml", filepath.Join(vol, "nova.yaml")))

	root := filepath.Join(vol, "proto")
	names, err := findProtos(root)
	require.NoError(t, err)
	require.Equal(t, []string{"nova/feed/v1/feed.proto", "nova/user/v1/user.proto"}, names)
	// and from the volume itself: the ..data and timestamped dirs are not
	// walked twice
	names, err = findProtos(vol)
	require.NoError(t, err)
	require.Equal(t, []string{"proto/nova/feed/v1/feed.proto", "proto/nova/user/v1/user.proto"}, names)
	// a link cycle ends
	require.NoError(t, os.Symlink("..", filepath.Join(ts, "proto", "nova", "loop")))
	names, err = findProtos(root)
	require.NoError(t, err)
	require.Len(t, names, 2)

	// the real Nova tree in that layout compiles and validates
	c := novaCatalog(t, "local")
	src, _ := protoPaths(c, Targets{})
	kube := t.TempDir()
	data := filepath.Join(kube, "..2026_12_01_07_00_00.1")
	require.NoError(t, os.CopyFS(filepath.Join(data, "proto"), os.DirFS(src)))
	require.NoError(t, os.Symlink(filepath.Base(data), filepath.Join(kube, "..data")))
	require.NoError(t, os.Symlink("..data/proto", filepath.Join(kube, "proto")))
	var l logLines
	require.NoError(t, ProtoValidate{}.Run(context.Background(), c, Targets{ProtosDir: filepath.Join(kube, "proto"), Baseline: filepath.Join(kube, "proto", "registry-1.0.0.json")}, l.log))
	require.Equal(t, "no changes since baseline 1.0.0", l[len(l)-1])
}

func TestParseSemver(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Semver
		err  string
	}{
		{"1.0.0", Semver{1, 0, 0}, ""},
		{"0.10.3", Semver{0, 10, 3}, ""},
		{"10.0.0", Semver{10, 0, 0}, ""},
		{"01.0.0", Semver{}, `"01" is not a number without leading zeros`},
		{"1.00.0", Semver{}, `"00" is not a number without leading zeros`},
		{"v1.0.0", Semver{}, `"v1" is not a number`},
		{"1.0", Semver{}, "not MAJOR.MINOR.PATCH"},
		{"1.0.0.0", Semver{}, "not MAJOR.MINOR.PATCH"},
		{"1.0.0-rc.1", Semver{}, "not MAJOR.MINOR.PATCH"},
		{"1..0", Semver{}, `"" is not a number`},
		{"-1.0.0", Semver{}, `"-1" is not a number`},
		{"", Semver{}, "not MAJOR.MINOR.PATCH"},
		{"99999999999999999999.0.0", Semver{}, "out of range"},
	} {
		got, err := ParseSemver(tc.in)
		if tc.err != "" {
			require.ErrorContains(t, err, tc.err, tc.in)
			continue
		}
		require.NoError(t, err, tc.in)
		require.Equal(t, tc.want, got)
		require.Equal(t, tc.in, got.String())
	}
	require.Equal(t, -1, Semver{1, 9, 9}.Compare(Semver{2, 0, 0}))
	require.Equal(t, 1, Semver{1, 10, 0}.Compare(Semver{1, 9, 0}), "numeric, not text")
	require.Equal(t, 0, Semver{1, 2, 3}.Compare(Semver{1, 2, 3}))
}

// protoCatalog is the Nova catalog with its protos copied to a temporary
// root, so a test may edit them.
func protoCatalog(t *testing.T) (*catalog.Catalog, Targets) {
	c := novaCatalog(t, "local")
	root := t.TempDir()
	require.NoError(t, os.CopyFS(root, os.DirFS(filepath.Join(filepath.Dir(c.File), c.Protos.Root))))
	return c, Targets{ProtosDir: root, Baseline: filepath.Join(t.TempDir(), "registry.json")}
}

func TestProtoValidateNova(t *testing.T) {
	c, tg := protoCatalog(t)
	ctx := context.Background()
	run := func(p ProtoValidate) (logLines, error) {
		var l logLines
		err := p.Run(ctx, c, tg, l.log)
		return l, err
	}

	l, err := run(ProtoValidate{})
	require.EqualError(t, err, "proto-validate: baseline "+tg.Baseline+" does not exist: record it with `novadev bootstrap proto-validate --record`")
	require.Equal(t, "compiled "+tg.ProtosDir+": 15 services, 75 messages; every service's API is defined", l[0])

	l, err = run(ProtoValidate{Record: true})
	require.NoError(t, err)
	require.Equal(t, "recorded version 1.0.0 as the baseline in "+tg.Baseline, l[len(l)-1])
	l, err = run(ProtoValidate{})
	require.NoError(t, err)
	require.Equal(t, "no changes since baseline 1.0.0", l[len(l)-1])

	feed := filepath.Join(tg.ProtosDir, "nova", "feed", "v1", "feed.proto")
	orig, err := os.ReadFile(feed)
	require.NoError(t, err)
	edit := func(old, new string) {
		t.Helper()
		require.NoError(t, os.WriteFile(feed, []byte(replaceOnce(t, string(orig), old, new)), 0o644))
	}

	// the cases: json_name and moving a field into a oneof fail
	edit("string page_token = 3;", `string page_token = 3 [json_name = "pt"];`)
	_, err = run(ProtoValidate{})
	require.ErrorContains(t, err, "1 breaking changes (PACKAGE rules) against baseline")
	require.ErrorContains(t, err, `FIELD_SAME_JSON_NAME: nova/feed/v1/feed.proto: field 3 "page_token" of message nova.feed.v1.ListRequest changed json_name from "pageToken" to "pt"`)
	require.ErrorContains(t, err, "or set protos.version to 2.0.0 and record the new baseline with `novadev bootstrap proto-validate --record`")
	edit("  string page_token = 3;\n", "  oneof page {\n    string page_token = 3;\n  }\n")
	_, err = run(ProtoValidate{})
	require.ErrorContains(t, err, "FIELD_SAME_ONEOF")

	// reserving a deleted field: still breaking under PACKAGE (buf's rule),
	// fine under WIRE_JSON, which the catalog may choose
	edit("  string page_token = 3;\n", "  reserved 3;\n  reserved \"page_token\";\n")
	_, err = run(ProtoValidate{})
	require.ErrorContains(t, err, "FIELD_NO_DELETE")
	require.ErrorContains(t, err, "even when reserved")
	c.Protos.Breaking = CategoryWireJSON
	l, err = run(ProtoValidate{})
	require.NoError(t, err)
	require.Equal(t, "no changes since baseline 1.0.0", l[len(l)-1], "a reserved deletion is no change on the wire")
	c.Protos.Breaking = ""

	// recording a breaking change without a major bump is refused
	_, err = run(ProtoValidate{Record: true})
	require.ErrorContains(t, err, "not recording: 1 breaking changes (PACKAGE rules)")
	require.ErrorContains(t, err, "set protos.version to 2.0.0 and record again")

	// a minor bump does not excuse a breaking change
	c.Protos.Version = "1.1.0"
	_, err = run(ProtoValidate{})
	require.ErrorContains(t, err, "1 breaking changes (PACKAGE rules) against baseline")

	// a major bump must be recorded
	c.Protos.Version = "2.0.0"
	_, err = run(ProtoValidate{})
	require.ErrorContains(t, err, "protos.version 2.0.0 is a major bump over baseline "+tg.Baseline+" (version 1.0.0), which is not recorded yet (1 breaking changes under PACKAGE rules)")
	require.ErrorContains(t, err, "`novadev bootstrap proto-validate --record`")
	l, err = run(ProtoValidate{Record: true})
	require.NoError(t, err)
	require.Equal(t, "recorded version 2.0.0 as the baseline in "+tg.Baseline, l[len(l)-1])
	l, err = run(ProtoValidate{})
	require.NoError(t, err)
	require.Equal(t, "no changes since baseline 2.0.0", l[len(l)-1])

	// versions only move up; malformed ones are errors, not text compares
	c.Protos.Version = "1.9.9"
	_, err = run(ProtoValidate{})
	require.ErrorContains(t, err, "protos.version 1.9.9 is lower than baseline "+tg.Baseline+"'s version 2.0.0")
	_, err = run(ProtoValidate{Record: true})
	require.ErrorContains(t, err, "is lower than", "--record does not go back either")
	c.Protos.Version = "02.0.0"
	_, err = run(ProtoValidate{})
	require.ErrorContains(t, err, `protos.version (needed with protos.baseline): version "02.0.0": "02" is not a number without leading zeros`)
	c.Protos.Version = ""
	_, err = run(ProtoValidate{})
	require.ErrorContains(t, err, `protos.version (needed with protos.baseline): version "" is not MAJOR.MINOR.PATCH`)
	var nl logLines
	bl := c.Protos.Baseline
	c.Protos.Baseline = ""
	require.NoError(t, ProtoValidate{}.Run(ctx, c, Targets{ProtosDir: tg.ProtosDir}, nl.log), "no baseline, no version: fine")
	require.Equal(t, "no baseline (protos.baseline unset): breaking-change check skipped", nl[len(nl)-1])
	c.Protos.Baseline = bl
	c.Protos.Version = "10.0.0"
	_, err = run(ProtoValidate{})
	require.ErrorContains(t, err, "major bump", "10 > 2 as numbers")

	// an unknown category
	c.Protos.Version = "2.0.0"
	c.Protos.Breaking = "WIRE_ONLY"
	_, err = run(ProtoValidate{})
	require.ErrorContains(t, err, `protos.breaking "WIRE_ONLY": want one of FILE, PACKAGE, WIRE_JSON, WIRE`)
	c.Protos.Breaking = ""

	// a service whose API no proto defines
	c.Services["feed-service"].API = "nova.feed.v1.FeedServiceX"
	_, err = run(ProtoValidate{})
	require.ErrorContains(t, err, "feed-service serves nova.feed.v1.FeedServiceX, which no proto file under")
}

func TestRecordedNovaBaselineMatches(t *testing.T) {
	c := novaCatalog(t, "local")
	root, baseline := protoPaths(c, Targets{})
	reg, err := CompileProtos(context.Background(), root, c.Protos.Version)
	require.NoError(t, err)
	if *update {
		require.NoError(t, os.WriteFile(baseline, reg.Marshal(), 0o644))
	}
	old, err := LoadRegistry(baseline)
	require.NoError(t, err, "record it: go run ./cmd/novadev bootstrap proto-validate --record")
	require.Equal(t, c.Protos.Version, old.Version)
	require.Empty(t, BreakingChanges(old, reg, CategoryFile), "envs/proto changed since %s was recorded", baseline)
	require.Equal(t, string(old.Marshal()), string(reg.Marshal()), "envs/proto changed since %s was recorded: record it with `go run ./cmd/novadev bootstrap proto-validate --record`", baseline)
}

func replaceOnce(t *testing.T, s, old, new string) string {
	t.Helper()
	require.Contains(t, s, old)
	return strings.Replace(s, old, new, 1)
}

// TestCatalogProtosFields: the catalog refuses an unknown breaking-change
// category and a version with a leading zero, at the line they are on.
func TestCatalogProtosFields(t *testing.T) {
	envs := t.TempDir()
	require.NoError(t, os.CopyFS(envs, os.DirFS(filepath.Join("..", "..", "envs"))))
	path := filepath.Join(envs, "nova.yaml")
	src, err := os.ReadFile(path)
	require.NoError(t, err)
	load := func(old, new string) error {
		t.Helper()
		require.NoError(t, os.WriteFile(path, []byte(replaceOnce(t, string(src), old, new)), 0o644))
		_, err := catalog.Load(path, catalog.Options{Env: "local"})
		return err
	}
	require.NoError(t, load("  version: 1.0.0\n", "  version: 1.0.0\n  breaking: WIRE_JSON\n"))
	err = load("  version: 1.0.0\n", "  version: 1.0.0\n  breaking: WIRE_ONLY\n")
	require.ErrorContains(t, err, `protos.breaking: unknown breaking-change category "WIRE_ONLY" (one of FILE, PACKAGE, WIRE_JSON, WIRE)`)
	require.ErrorContains(t, err, "nova.yaml:24:")
	err = load("  version: 1.0.0\n", "  version: 01.0.0\n")
	require.ErrorContains(t, err, `version "01.0.0" is not semantic`)
}
