package bootstrap

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"
	"unicode"

	"github.com/stretchr/testify/require"

	"github.com/novadev/novadev/internal/catalog"
	"github.com/novadev/novadev/internal/contract"
)

func TestClickHouseDDLGolden(t *testing.T) {
	stmts, drift := clickPlan(clickDatabases(novaCatalog(t, "local")), clickState{})
	require.Empty(t, drift)
	require.Len(t, stmts, 6, "one database, five tables")
	golden(t, "clickhouse-init.sql", []byte(strings.Join(stmts, ";\n")+";\n"))
}

// chTable is a clickTable with its columns in order.
func chTable(engine, partition, sorting, ttl string, cols ...string) *clickTable {
	t := &clickTable{Columns: map[string]string{}, Engine: engine, PartitionKey: partition, SortingKey: sorting, TTL: ttl}
	for i := 0; i < len(cols); i += 2 {
		t.Columns[cols[i]] = cols[i+1]
		t.Order = append(t.Order, cols[i])
	}
	return t
}

func TestClickPlan(t *testing.T) {
	dbs := []*catalog.ClickDatabase{{Name: "a", Tables: []*catalog.ClickTable{
		{Name: "t", Columns: []catalog.Column{{Name: "x", Type: "String"}, {Name: "y", Type: "UInt64"}, {Name: "d", Type: "Date"}},
			PartitionBy: "toYYYYMM(d)", OrderBy: "(x, d)"},
		{Name: "u", Engine: "ReplacingMergeTree()", Columns: []catalog.Column{{Name: "id", Type: "String"}}, OrderBy: "id"},
	}}}
	// what 18.16 and 23.8 report for the catalog's own DDL
	same := chTable("MergeTree", "toYYYYMM(d)", "x, d", "", "x", "String", "y", "UInt64", "d", "Date")
	stmts, drift := clickPlan(dbs, clickState{"a": {"t": same}})
	require.Equal(t, []string{"CREATE TABLE IF NOT EXISTS `a`.`u` (`id` String) ENGINE = ReplacingMergeTree() ORDER BY id"}, stmts)
	require.Empty(t, drift)

	stmts, drift = clickPlan(dbs, clickState{"a": {"t": same, "u": chTable("ReplacingMergeTree", "", "id", "", "id", "String")}})
	require.Empty(t, stmts)
	require.Empty(t, drift)

	other := chTable("ReplacingMergeTree(y)", "toDate(d)", "d", "d + toIntervalDay(30)", "x", "String", "y", "UInt32", "e", "String")
	_, drift = clickPlan(dbs, clickState{"a": {"t": other, "u": chTable("ReplacingMergeTree", "", "id", "", "id", "String")}})
	require.Equal(t, []string{
		"a.t: column y: catalog UInt64, ClickHouse UInt32",
		"a.t: column d: catalog Date, ClickHouse (none)",
		"a.t: column e: catalog (none), ClickHouse String",
		"a.t: engine: catalog MergeTree(), ClickHouse ReplacingMergeTree(y)",
		"a.t: partition key: catalog toYYYYMM(d), ClickHouse toDate(d)",
		"a.t: order key: catalog (x, d), ClickHouse d",
		"a.t: TTL: catalog (none), ClickHouse d + toIntervalDay(30)",
	}, drift)
}

func TestNormKey(t *testing.T) {
	for _, tc := range []struct{ catalog, server string }{
		{"(event_type, event_time)", "event_type, event_time"},
		{"(a,b)", "a, b"},
		{"x", "x"},
		{"tuple()", ""},
		{"toYYYYMM(event_date)", "toYYYYMM(event_date)"},
		{"(toYYYYMM(d), x)", "toYYYYMM(d), x"},
		{"`a`", "a"},
	} {
		require.Equal(t, normKey(tc.catalog), normKey(tc.server), "%q vs %q", tc.catalog, tc.server)
	}
	require.NotEqual(t, normKey("(a) + (b)"), normKey("a) + (b"), "only a pair enclosing everything is dropped")
	require.NotEqual(t, normKey("(a, b)"), normKey("b, a"))
	require.Equal(t, normEngine("MergeTree()"), normEngine("MergeTree"))
	require.NotEqual(t, normEngine("ReplacingMergeTree(v)"), normEngine("ReplacingMergeTree"))
}

func TestSplitEngineFull(t *testing.T) {
	for _, tc := range []struct{ full, engine, ttl string }{
		// 18.16.1 (the offline image), read from system.tables
		{"ReplacingMergeTree(v) PARTITION BY toYYYYMM(d) ORDER BY (x, d) SETTINGS index_granularity = 8192", "ReplacingMergeTree(v)", ""},
		{"MergeTree PARTITION BY toYYYYMM(event_date) ORDER BY (event_type, event_time) SETTINGS index_granularity = 8192", "MergeTree", ""},
		// 23.8's form, with a table TTL
		{"MergeTree PARTITION BY toYYYYMM(d) PRIMARY KEY x ORDER BY (x, d) TTL d + toIntervalDay(30) SETTINGS index_granularity = 8192", "MergeTree", "d + toIntervalDay(30)"},
		{"MergeTree ORDER BY x TTL d + toIntervalMonth(1)", "MergeTree", "d + toIntervalMonth(1)"},
		{"Memory", "Memory", ""},
		{"", "", ""},
	} {
		engine, ttl := splitEngineFull(tc.full)
		require.Equal(t, tc.engine, engine, tc.full)
		require.Equal(t, tc.ttl, ttl, tc.full)
	}
}

func TestUnescapeTSV(t *testing.T) {
	require.Equal(t, "a\tb\\c'd\ne", unescapeTSV(`a\tb\\c\'d\ne`))
	require.Equal(t, "plain", unescapeTSV("plain"))
}

func TestQuoteCH(t *testing.T) {
	require.Equal(t, "`we\\`ird`", quoteCH("we`ird"))
	require.Equal(t, `'it\'s'`, quoteCHString("it's"))
}

// FuzzSplitEngineFull: never panics; the engine is a prefix of the input
// and holds none of the clauses that follow it.
func FuzzSplitEngineFull(f *testing.F) {
	for _, s := range []string{"MergeTree ORDER BY x TTL d SETTINGS a = 1", " TTL ", "X TTL  SETTINGS ", "Memory", "(( PARTITION BY"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, full string) {
		engine, _ := splitEngineFull(full)
		if !strings.HasPrefix(strings.TrimLeftFunc(full, unicode.IsSpace), engine) {
			t.Fatalf("%q: engine %q", full, engine)
		}
		for _, c := range engineClauses {
			if strings.Contains(engine, c) {
				t.Fatalf("%q: engine %q holds %q", full, engine, c)
			}
		}
	})
}

// FuzzNormKey: never panics, and is idempotent up to one more pair of
// parentheses (normalising twice never grows the key).
func FuzzNormKey(f *testing.F) {
	for _, s := range []string{"(a, b)", "tuple()", "((a))", ")(", "(a) + (b)", "`x`"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n := normKey(s)
		if len(normKey(n)) > len(n) || len(n) > len(s) {
			t.Fatalf("%q -> %q -> %q", s, n, normKey(n))
		}
	})
}

// TestClickUserStmts: on a server with SQL-driven access control the
// service user is created with a SHA-256 hash of its password (the clear
// password never appears in a statement, so not in the query log), and its
// rights are reset to SELECT, INSERT on its own database.
func TestClickUserStmts(t *testing.T) {
	u := contract.ClickHouseUser{Service: "analytics-service", User: "nova_ch_analytics_service", Database: "nova_analytics"}
	stmts := clickUserStmts(u, "s3cret")
	require.Len(t, stmts, 4)
	sum := sha256.Sum256([]byte("s3cret"))
	h := hex.EncodeToString(sum[:])
	require.Equal(t, []string{
		"CREATE USER IF NOT EXISTS `nova_ch_analytics_service` IDENTIFIED WITH sha256_hash BY '" + h + "'",
		"ALTER USER `nova_ch_analytics_service` IDENTIFIED WITH sha256_hash BY '" + h + "'",
		"REVOKE ALL ON *.* FROM `nova_ch_analytics_service`",
		"GRANT SELECT, INSERT ON `nova_analytics`.* TO `nova_ch_analytics_service`",
	}, stmts)
	for _, s := range stmts {
		require.NotContains(t, s, "s3cret")
	}
}
