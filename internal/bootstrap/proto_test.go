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
	require.Equal(t, RegistryService{Methods: map[string]RegistryMethod{
		"Get":    {Request: "shop.v1.GetRequest", Response: "shop.v1.Order"},
		"Watch":  {Request: "shop.v1.GetRequest", Response: "shop.v1.Order", ServerStreaming: true},
		"Cancel": {Request: "shop.v1.GetRequest", Response: "shop.v1.Order"},
	}}, reg.Services["shop.v1.OrderService"])
	require.Equal(t, map[string]RegistryField{
		"id":           {1, "string"},
		"amount_cents": {2, "int64"},
		"lines":        {3, "repeated shop.v1.Order.Line"},
		"labels":       {4, "map<string, string>"},
		"created":      {5, "google.protobuf.Timestamp"},
		"note":         {6, "string"},
		"status":       {7, "shop.v1.Status"},
	}, reg.Messages["shop.v1.Order"].Fields)
	require.Contains(t, reg.Messages, "shop.v1.Order.Line")
	require.NotContains(t, reg.Messages, "shop.v1.Order.LabelsEntry", "map entries are part of the map field's type")
	golden(t, "registry-v1.json", reg.Marshal())
}

func TestDiffRegistriesBreakingChanges(t *testing.T) {
	var got []string
	for _, ch := range DiffRegistries(compileTestdata(t, "v1"), compileTestdata(t, "v2")) {
		got = append(got, ch.String())
	}
	require.Equal(t, []string{
		"breaking: field shop.v1.Order.amount_cents type changed from int64 to int32",
		"breaking: field shop.v1.Order.created number changed from 5 to 15",
		"breaking: field shop.v1.Order.labels type changed from map<string, string> to map<string, int64>",
		"breaking: field shop.v1.Order.lines type changed from repeated shop.v1.Order.Line to shop.v1.Order.Line",
		"breaking: field shop.v1.Order.note (6) removed; reserve its number and name instead",
		"breaking: message shop.v1.Unused removed",
		"breaking: method shop.v1.OrderService.Cancel removed",
		"breaking: method shop.v1.OrderService.Get response type changed from shop.v1.Order to shop.v1.OrderV2",
		"breaking: method shop.v1.OrderService.Watch streaming changed from server-streaming to unary",
		"breaking: service shop.v1.LegacyService removed",
		"compatible: field shop.v1.GetRequest.include_lines (2 bool) added",
		"compatible: message shop.v1.OrderV2 added",
		"compatible: method shop.v1.OrderService.List added",
	}, got)
	require.Empty(t, DiffRegistries(compileTestdata(t, "v2"), compileTestdata(t, "v2")))
}

func TestCompileProtosReportsEveryError(t *testing.T) {
	_, err := CompileProtos(context.Background(), filepath.Join("testdata", "proto", "broken"), "1")
	require.EqualError(t, err, "shop/a.proto:3:13: field shop.A.m: unknown type Missing\n"+
		"shop/b.proto:3:38: message shop.B: fields x and y both have the same tag 1")
	_, err = CompileProtos(context.Background(), t.TempDir(), "1")
	require.ErrorContains(t, err, "no .proto files under")
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

	var l logLines
	require.NoError(t, ProtoValidate{}.Run(ctx, c, Targets{ProtosDir: tg.ProtosDir}, l.log))
	require.Equal(t, logLines{
		"compiled " + tg.ProtosDir + ": 15 services, 75 messages; every service's API is defined",
		"no changes since baseline 1.0.0",
	}, l, "envs/nova.yaml records the 1.0.0 baseline, and the protos match it")

	err := ProtoValidate{}.Run(ctx, c, tg, l.log)
	require.ErrorContains(t, err, "does not exist: record it with `novadev bootstrap proto-validate --record`")

	l = nil
	require.NoError(t, ProtoValidate{Record: true}.Run(ctx, c, tg, l.log))
	require.Equal(t, "recorded version 1.0.0 as the baseline in "+tg.Baseline, l[1])
	l = nil
	require.NoError(t, ProtoValidate{}.Run(ctx, c, tg, l.log))
	require.Equal(t, "no changes since baseline 1.0.0", l[1])

	// a breaking edit fails the step; a major version bump accepts it
	feed := filepath.Join(tg.ProtosDir, "nova", "feed", "v1", "feed.proto")
	src, err := os.ReadFile(feed)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(feed, []byte(replaceOnce(t, string(src), "int64 created_unix = 4;", "string created_unix = 4;")), 0o644))
	err = ProtoValidate{}.Run(ctx, c, tg, l.log)
	require.ErrorContains(t, err, "1 breaking changes against baseline")
	require.ErrorContains(t, err, "field nova.feed.v1.Record.created_unix type changed from int64 to string")
	c.Protos.Version = "2.0.0"
	l = nil
	require.NoError(t, ProtoValidate{}.Run(ctx, c, tg, l.log))
	require.Equal(t, "1 breaking changes accepted: major version 1.0.0 -> 2.0.0", l[len(l)-1])

	// a service whose API no proto defines
	c.Services["feed-service"].API = "nova.feed.v1.FeedServiceX"
	err = ProtoValidate{}.Run(ctx, c, tg, l.log)
	require.ErrorContains(t, err, "feed-service serves nova.feed.v1.FeedServiceX, which no proto file under")
}

func TestRecordedNovaBaselineMatches(t *testing.T) {
	c := novaCatalog(t, "local")
	root, _ := protoPaths(c, Targets{})
	reg, err := CompileProtos(context.Background(), root, c.Protos.Version)
	require.NoError(t, err)
	path := filepath.Join(root, "registry-"+c.Protos.Version+".json")
	if *update {
		require.NoError(t, os.WriteFile(path, reg.Marshal(), 0o644))
	}
	old, err := LoadRegistry(path)
	require.NoError(t, err, "record it: go test ./internal/bootstrap -run TestRecordedNovaBaselineMatches -update")
	require.Empty(t, DiffRegistries(old, reg), "envs/proto changed since %s was recorded", path)
}

func replaceOnce(t *testing.T, s, old, new string) string {
	t.Helper()
	require.Contains(t, s, old)
	return strings.Replace(s, old, new, 1)
}
