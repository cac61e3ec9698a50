package bootstrap

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// The mutation corpus: changes to the Nova protos, each with the verdict a
// reader of buf's rules expects under FILE, PACKAGE, WIRE_JSON and WIRE
// (B breaking, - compatible). TestProtoMutations checks novadev against
// these; TestIntegrationBufOracle checks buf itself against novadev on the
// same corpus.

const (
	feedProto   = "nova/feed/v1/feed.proto"
	legacyProto = "nova/feed/v1/legacy.proto"
	extraProto  = "nova/feed/v1/extra.proto"
)

// richFeed is appended to feed.proto in the base of most mutations: the
// Nova protos have no enums, oneofs, presence, maps or reserved ranges, and
// every rule class needs something to change.
const richFeed = `
enum Kind {
  reserved 100 to 200;
  reserved "KIND_OLD";
  KIND_UNSPECIFIED = 0;
  KIND_POST = 1;
  KIND_VIDEO = 2;
}

enum Visibility {
  VISIBILITY_UNSPECIFIED = 0;
  VISIBILITY_PUBLIC = 1;
}

message Item {
  reserved 20 to 29;
  reserved "legacy";
  string id = 1;
  Kind kind = 2;
  oneof body {
    string text = 3;
    bytes blob = 4;
  }
  optional int32 rank = 5;
  map<string, string> tags = 6;
  int64 score = 7;
  repeated string links = 8;
  string title = 9;
  sint32 delta = 10;
}

message Unused {
  string x = 1;
}

service FeedAdmin {
  rpc Ping(GetRequest) returns (GetResponse);
}
`

// legacy is a proto2 file: required fields, defaults, ctype, extensions.
const legacy = `syntax = "proto2";

package nova.feed.v1;

message Legacy {
  optional string a = 1;
  required int32 b = 2;
  optional int32 c = 3 [default = 5];
  optional int32 d = 4;
  extensions 100 to 199;
}

extend Legacy {
  optional string note = 100;
}
`

const extra = `syntax = "proto3";

package nova.feed.v1;

message Extra {
  string id = 1;
  Tier tier = 2;
}

enum Tier {
  TIER_UNSPECIFIED = 0;
  TIER_GOLD = 1;
}
`

// protoEdit changes a tree of proto sources (path -> text).
type protoEdit func(files map[string]string) error

// sub replaces the one occurrence of old in path.
func sub(path, old, new string) protoEdit {
	return func(files map[string]string) error {
		src, ok := files[path]
		if !ok {
			return fmt.Errorf("%s: no such file", path)
		}
		if strings.Count(src, old) != 1 {
			return fmt.Errorf("%s: %q occurs %d times, want once", path, old, strings.Count(src, old))
		}
		files[path] = strings.Replace(src, old, new, 1)
		return nil
	}
}

func put(path, src string) protoEdit {
	return func(files map[string]string) error { files[path] = src; return nil }
}

func del(path string) protoEdit {
	return func(files map[string]string) error {
		if _, ok := files[path]; !ok {
			return fmt.Errorf("%s: no such file", path)
		}
		delete(files, path)
		return nil
	}
}

func appendTo(path, text string) protoEdit {
	return func(files map[string]string) error { files[path] += text; return nil }
}

type protoMutation struct {
	name string
	// want is the verdict under FILE, PACKAGE, WIRE_JSON, WIRE: B or -.
	want  string
	plain bool // from the plain Nova protos; otherwise from richBase
	edits []protoEdit
}

// richBase is the base of every mutation that is not plain.
var richBase = []protoEdit{appendTo(feedProto, richFeed), put(legacyProto, legacy), put(extraProto, extra)}

func protoMutations() []protoMutation {
	f, l := feedProto, legacyProto
	return []protoMutation{
		// additions and no-ops
		{"rich additions to the Nova protos", "----", true, richBase},
		{"comment only", "----", false, []protoEdit{sub(f, "message Item {", "// Item is a feed item.\nmessage Item {")}},
		{"field added", "----", false, []protoEdit{sub(f, "sint32 delta = 10;", "sint32 delta = 10;\n  string summary = 11;")}},
		{"message added", "----", false, []protoEdit{appendTo(f, "\nmessage Added {\n  string id = 1;\n}\n")}},
		{"method added", "----", false, []protoEdit{sub(f, "rpc Ping(GetRequest) returns (GetResponse);", "rpc Ping(GetRequest) returns (GetResponse);\n  rpc Pong(GetRequest) returns (GetResponse);")}},
		{"enum value added", "----", false, []protoEdit{sub(f, "KIND_VIDEO = 2;", "KIND_VIDEO = 2;\n  KIND_LINK = 3;")}},
		{"enum value alias added", "----", false, []protoEdit{sub(f, "KIND_VIDEO = 2;", "option allow_alias = true;\n  KIND_VIDEO = 2;\n  KIND_CLIP = 2;")}},
		{"fields reordered in the file", "----", false, []protoEdit{sub(f, "  string title = 9;\n  sint32 delta = 10;", "  sint32 delta = 10;\n  string title = 9;")}},
		{"reserved range widened", "----", false, []protoEdit{sub(f, "reserved 20 to 29;", "reserved 20 to 39;")}},
		{"reserved range split but covered", "----", false, []protoEdit{sub(f, "reserved 20 to 29;", "reserved 20 to 24, 25 to 29;")}},

		// fields
		{"field deleted", "BBBB", false, []protoEdit{sub(f, "  string title = 9;\n", "")}},
		{"field deleted, number reserved", "BBB-", false, []protoEdit{sub(f, "  string title = 9;\n", "  reserved 9;\n")}},
		{"field deleted, number and name reserved", "BB--", false, []protoEdit{sub(f, "  string title = 9;\n", "  reserved 9;\n  reserved \"title\";\n")}},
		{"field renamed", "BBB-", false, []protoEdit{sub(f, "string title = 9;", "string headline = 9;")}},
		{"field json_name changed", "BBB-", false, []protoEdit{sub(f, "string title = 9;", `string title = 9 [json_name = "heading"];`)}},
		{"field json_name set to its default", "----", false, []protoEdit{sub(f, "string title = 9;", `string title = 9 [json_name = "title"];`)}},
		{"field number changed", "BBBB", false, []protoEdit{sub(f, "string title = 9;", "string title = 11;")}},
		{"field int64 -> int32", "BBB-", false, []protoEdit{sub(f, "int64 score = 7;", "int32 score = 7;")}},
		{"field int64 -> uint64", "BB--", false, []protoEdit{sub(f, "int64 score = 7;", "uint64 score = 7;")}},
		{"field sint32 -> int32", "BBBB", false, []protoEdit{sub(f, "sint32 delta = 10;", "int32 delta = 10;")}},
		{"field string -> bytes", "BBB-", false, []protoEdit{sub(f, "string title = 9;", "bytes title = 9;")}},
		{"field bytes -> string", "BBBB", false, []protoEdit{sub(f, "bytes blob = 4;", "string blob = 4;")}},
		{"field message type changed", "BBBB", false, []protoEdit{sub(f, "message GetResponse {\n  Record record = 1;", "message GetResponse {\n  Item record = 1;")}},
		{"field enum type changed", "BBBB", false, []protoEdit{sub(f, "Kind kind = 2;", "Visibility kind = 2;")}},
		{"field singular -> repeated", "BBBB", false, []protoEdit{sub(f, "string title = 9;", "repeated string title = 9;")}},
		{"field gains presence (optional)", "BB--", false, []protoEdit{sub(f, "int64 score = 7;", "optional int64 score = 7;")}},
		{"field loses presence", "BB--", false, []protoEdit{sub(f, "optional int32 rank = 5;", "int32 rank = 5;")}},
		{"map value type changed", "BBBB", false, []protoEdit{sub(f, "map<string, string> tags = 6;", "map<string, int64> tags = 6;")}},
		{"map -> repeated", "BBBB", false, []protoEdit{sub(f, "map<string, string> tags = 6;", "repeated string tags = 6;")}},
		{"field jstype changed", "BB--", false, []protoEdit{sub(f, "int64 score = 7;", "int64 score = 7 [jstype = JS_STRING];")}},

		// oneofs
		{"field moved into a oneof", "BBBB", false, []protoEdit{sub(f, "  string title = 9;\n", ""), sub(f, "bytes blob = 4;", "bytes blob = 4;\n    string title = 9;")}},
		{"field moved out of a oneof", "BBBB", false, []protoEdit{sub(f, "    string text = 3;\n", ""), sub(f, "sint32 delta = 10;", "sint32 delta = 10;\n  string text = 3;")}},
		{"oneof renamed", "BBBB", false, []protoEdit{sub(f, "oneof body {", "oneof content {")}},
		{"oneof deleted, fields kept", "BBBB", false, []protoEdit{sub(f, "  oneof body {\n    string text = 3;\n    bytes blob = 4;\n  }\n", "  string text = 3;\n  bytes blob = 4;\n")}},

		// enums
		{"enum value deleted", "BBBB", false, []protoEdit{sub(f, "  KIND_VIDEO = 2;\n", "")}},
		{"enum value deleted, number reserved", "BBB-", false, []protoEdit{sub(f, "  KIND_VIDEO = 2;\n", "  reserved 2;\n")}},
		{"enum value deleted, number and name reserved", "BB--", false, []protoEdit{sub(f, "  KIND_VIDEO = 2;\n", "  reserved 2;\n  reserved \"KIND_VIDEO\";\n")}},
		{"enum value renamed", "BBB-", false, []protoEdit{sub(f, "KIND_VIDEO = 2;", "KIND_CLIP = 2;")}},
		{"enum deleted", "BB--", false, []protoEdit{sub(f, "enum Visibility {\n  VISIBILITY_UNSPECIFIED = 0;\n  VISIBILITY_PUBLIC = 1;\n}\n", "")}},

		// reserved ranges and names
		{"reserved range deleted", "BBBB", false, []protoEdit{sub(f, "  reserved 20 to 29;\n", "")}},
		{"reserved range narrowed", "BBBB", false, []protoEdit{sub(f, "reserved 20 to 29;", "reserved 20 to 25;")}},
		{"reserved name deleted", "BBBB", false, []protoEdit{sub(f, "  reserved \"legacy\";\n", "")}},

		// messages, files, packages
		{"message deleted", "BB--", false, []protoEdit{sub(f, "message Unused {\n  string x = 1;\n}\n", "")}},
		{"message moved to another file of the package", "B---", false, []protoEdit{sub(f, "message Unused {\n  string x = 1;\n}\n", ""), appendTo(extraProto, "\nmessage Unused {\n  string x = 1;\n}\n")}},
		{"file deleted", "BB--", false, []protoEdit{del(extraProto)}},
		{"package deleted", "BB--", false, []protoEdit{del("nova/search/v1/search.proto")}},
		{"file package changed", "BBBB", false, []protoEdit{sub(extraProto, "package nova.feed.v1;", "package nova.feed.v2;")}},
		{"go_package changed", "BB--", false, []protoEdit{sub(f, `option go_package = "github.com/nova-platform/nova/gen/feed/v1;feedv1";`, `option go_package = "github.com/nova-platform/nova/gen/feed/v1;feed";`)}},
		{"java_package set", "BB--", false, []protoEdit{sub(extraProto, "package nova.feed.v1;", "package nova.feed.v1;\n\noption java_package = \"dev.nova.feed.v1\";")}},
		{"optimize_for changed", "BB--", false, []protoEdit{sub(extraProto, "package nova.feed.v1;", "package nova.feed.v1;\n\noption optimize_for = LITE_RUNTIME;")}},

		// services and methods
		{"service deleted", "BB--", false, []protoEdit{sub(f, "service FeedAdmin {\n  rpc Ping(GetRequest) returns (GetResponse);\n}\n", "")}},
		{"method deleted", "BB--", false, []protoEdit{sub(f, "  rpc List(ListRequest) returns (ListResponse);\n", "")}},
		{"method request type changed", "BBBB", false, []protoEdit{sub(f, "rpc Get(GetRequest) returns (GetResponse);", "rpc Get(ListRequest) returns (GetResponse);")}},
		{"method response type changed", "BBBB", false, []protoEdit{sub(f, "rpc Get(GetRequest) returns (GetResponse);", "rpc Get(GetRequest) returns (ListResponse);")}},
		{"method becomes server-streaming", "BBBB", false, []protoEdit{sub(f, "rpc Get(GetRequest) returns (GetResponse);", "rpc Get(GetRequest) returns (stream GetResponse);")}},
		{"method becomes client-streaming", "BBBB", false, []protoEdit{sub(f, "rpc Get(GetRequest) returns (GetResponse);", "rpc Get(stream GetRequest) returns (GetResponse);")}},
		{"method idempotency level set", "BBBB", false, []protoEdit{sub(f, "rpc Ping(GetRequest) returns (GetResponse);", "rpc Ping(GetRequest) returns (GetResponse) {\n    option idempotency_level = NO_SIDE_EFFECTS;\n  }")}},

		// proto2: required fields, defaults, ctype, extensions
		{"required field made optional", "BBBB", false, []protoEdit{sub(l, "required int32 b = 2;", "optional int32 b = 2;")}},
		{"required field added", "BBBB", false, []protoEdit{sub(l, "optional int32 d = 4;", "required int32 d = 4;")}},
		{"default changed", "BBBB", false, []protoEdit{sub(l, "[default = 5]", "[default = 6]")}},
		{"default added", "BBBB", false, []protoEdit{sub(l, "optional int32 d = 4;", "optional int32 d = 4 [default = 7];")}},
		{"default spelled differently, same value", "----", false, []protoEdit{sub(l, "[default = 5]", "[default = 0x5]")}},
		{"ctype changed", "BB--", false, []protoEdit{sub(l, "optional string a = 1;", "optional string a = 1 [ctype = CORD];")}},
		{"java_string_check_utf8 set", "BB--", false, []protoEdit{sub(l, "package nova.feed.v1;", "package nova.feed.v1;\n\noption java_string_check_utf8 = true;")}},
		{"extension range deleted", "BB--", false, []protoEdit{sub(l, "  extensions 100 to 199;\n", "  extensions 100 to 100;\n")}},
		{"last extension of the package deleted", "B---", false, []protoEdit{sub(l, "extend Legacy {\n  optional string note = 100;\n}\n", "")}},
		{"extension renamed", "BBB-", false, []protoEdit{sub(l, "optional string note = 100;", "optional string remark = 100;")}},
		{"extension deleted, another kept", "BB--", false, []protoEdit{sub(l, "optional string note = 100;", "optional string remark = 101;")}},
		{"enums deleted, one kept in another file", "BBBB", false, []protoEdit{sub(f, "enum Visibility {\n  VISIBILITY_UNSPECIFIED = 0;\n  VISIBILITY_PUBLIC = 1;\n}\n", ""), sub(f, "enum Kind {\n  reserved 100 to 200;\n  reserved \"KIND_OLD\";\n  KIND_UNSPECIFIED = 0;\n  KIND_POST = 1;\n  KIND_VIDEO = 2;\n}\n", ""), sub(f, "Kind kind = 2;", "int32 kind = 2;")}},
		{"extension type changed", "BBBB", false, []protoEdit{sub(l, "optional string note = 100;", "optional int64 note = 100;")}},
		{"enum reserved range deleted", "BBBB", false, []protoEdit{sub(f, "  reserved 100 to 200;\n", "")}},
		{"enum reserved name deleted", "BBBB", false, []protoEdit{sub(f, "  reserved \"KIND_OLD\";\n", "")}},
		{"enum reserved range widened", "----", false, []protoEdit{sub(f, "reserved 100 to 200;", "reserved 100 to max;")}},
		{"enum moved to another file of the package", "B---", false, []protoEdit{sub(f, "enum Visibility {\n  VISIBILITY_UNSPECIFIED = 0;\n  VISIBILITY_PUBLIC = 1;\n}\n", ""), appendTo(extraProto, "\nenum Visibility {\n  VISIBILITY_UNSPECIFIED = 0;\n  VISIBILITY_PUBLIC = 1;\n}\n")}},
		{"service moved to another file of the package", "B---", false, []protoEdit{sub(f, "service FeedAdmin {\n  rpc Ping(GetRequest) returns (GetResponse);\n}\n", ""), sub(extraProto, "package nova.feed.v1;\n", "package nova.feed.v1;\n\nimport \"nova/feed/v1/feed.proto\";\n\nservice FeedAdmin {\n  rpc Ping(GetRequest) returns (GetResponse);\n}\n")}},
		{"proto3 file becomes proto2", "BBB-", false, []protoEdit{sub(extraProto, `syntax = "proto3";`, `syntax = "proto2";`), sub(extraProto, "  string id = 1;\n  Tier tier = 2;", "  optional string id = 1;\n  optional Tier tier = 2;")}},
		{"proto3 file becomes edition 2023, same semantics", "BB--", false, []protoEdit{sub(extraProto, `syntax = "proto3";`, "edition = \"2023\";\n\noption features.field_presence = IMPLICIT;")}},
		{"edition 2023 file, enum made closed", "BB--", false, []protoEdit{sub(extraProto, `syntax = "proto3";`, "edition = \"2023\";\n\noption features.field_presence = IMPLICIT;"), sub(extraProto, "enum Tier {\n", "enum Tier {\n  option features.enum_type = CLOSED;\n"), sub(extraProto, "Tier tier = 2;", "Tier tier = 2 [features.field_presence = EXPLICIT];")}},
		{"edition 2023 file, field gains presence", "BB--", false, []protoEdit{sub(extraProto, `syntax = "proto3";`, "edition = \"2023\";\n\noption features.field_presence = IMPLICIT;"), sub(extraProto, "string id = 1;", "string id = 1 [features.field_presence = EXPLICIT];")}},
		{"no_standard_descriptor_accessor set", "BB--", false, []protoEdit{sub(l, "optional string a = 1;", "option no_standard_descriptor_accessor = true;\n  optional string a = 1;")}},
	}
}

// novaProtoFiles returns the Nova proto sources by path under the root.
func novaProtoFiles(t *testing.T) map[string]string {
	t.Helper()
	c := novaCatalog(t, "local")
	root, _ := protoPaths(c, Targets{})
	names, err := findProtos(root)
	require.NoError(t, err)
	files := map[string]string{}
	for _, n := range names {
		b, err := os.ReadFile(filepath.Join(root, n))
		require.NoError(t, err)
		files[n] = string(b)
	}
	return files
}

// mutationTrees writes the before and after trees of m under dir and
// returns their roots.
func mutationTrees(t *testing.T, nova map[string]string, m protoMutation, dir string) (before, after string) {
	t.Helper()
	base := maps.Clone(nova)
	if !m.plain {
		for _, e := range richBase {
			require.NoError(t, e(base))
		}
	}
	changed := maps.Clone(base)
	for _, e := range m.edits {
		require.NoError(t, e(changed), m.name)
	}
	before, after = filepath.Join(dir, "before"), filepath.Join(dir, "after")
	writeTree(t, before, base)
	writeTree(t, after, changed)
	return before, after
}

func writeTree(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for path, src := range files {
		p := filepath.Join(root, filepath.FromSlash(path))
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(src), 0o644))
	}
}

// baseRegistries compiles the two bases (plain and rich) once: most of the
// corpus's cost is compiling, and every mutation shares one of two bases.
type baseRegistries map[bool]*Registry

func (b baseRegistries) of(t *testing.T, m protoMutation, before string) *Registry {
	t.Helper()
	if b[m.plain] == nil {
		reg, err := CompileProtos(context.Background(), before, "1.0.0")
		require.NoError(t, err)
		b[m.plain] = reg
	}
	return b[m.plain]
}

// novadevVerdicts compiles the changed tree and returns, per category, the
// sorted rule IDs novadev reports against old.
func novadevVerdicts(t *testing.T, old *Registry, after string) map[string][]string {
	t.Helper()
	cur, err := CompileProtos(context.Background(), after, "1.0.0")
	require.NoError(t, err)
	out := map[string][]string{}
	for _, cat := range BreakingCategories {
		var rules []string
		for _, ch := range BreakingChanges(old, cur, cat) {
			if ch.Breaking && !slices.Contains(rules, ch.Rule) {
				rules = append(rules, ch.Rule)
			}
		}
		slices.Sort(rules)
		out[cat] = rules
	}
	return out
}

func verdictString(rules map[string][]string) string {
	var b strings.Builder
	for _, cat := range BreakingCategories {
		if len(rules[cat]) > 0 {
			b.WriteByte('B')
		} else {
			b.WriteByte('-')
		}
	}
	return b.String()
}

func TestProtoMutations(t *testing.T) {
	nova := novaProtoFiles(t)
	muts := protoMutations()
	require.GreaterOrEqual(t, len(muts), 40)
	names := map[string]bool{}
	bases := baseRegistries{}
	for _, m := range muts {
		require.False(t, names[m.name], "duplicate mutation %q", m.name)
		names[m.name] = true
		t.Run(m.name, func(t *testing.T) {
			before, after := mutationTrees(t, nova, m, t.TempDir())
			got := novadevVerdicts(t, bases.of(t, m, before), after)
			require.Equal(t, m.want, verdictString(got), "FILE PACKAGE WIRE_JSON WIRE; rules: %v", got)
		})
	}
}
