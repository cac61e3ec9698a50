package bootstrap

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/novadev/novadev/internal/catalog"
)

func TestClickHouseDDLGolden(t *testing.T) {
	stmts, drift := clickPlan(clickDatabases(novaCatalog(t, "local")), clickState{})
	require.Empty(t, drift)
	require.Len(t, stmts, 6, "one database, five tables")
	golden(t, "clickhouse-init.sql", []byte(strings.Join(stmts, ";\n")+";\n"))
}

func TestClickPlan(t *testing.T) {
	dbs := []*catalog.ClickDatabase{{Name: "a", Tables: []*catalog.ClickTable{
		{Name: "t", Columns: []catalog.Column{{Name: "x", Type: "String"}, {Name: "y", Type: "UInt64"}}, OrderBy: "x"},
		{Name: "u", Engine: "ReplacingMergeTree()", Columns: []catalog.Column{{Name: "id", Type: "String"}}, OrderBy: "id"},
	}}}
	stmts, drift := clickPlan(dbs, clickState{"a": {"t": {"x": "String", "y": "UInt32"}}})
	require.Equal(t, []string{"CREATE TABLE IF NOT EXISTS `a`.`u` (`id` String) ENGINE = ReplacingMergeTree() ORDER BY id"}, stmts)
	require.Equal(t, []string{"a.t.y is UInt32, the catalog says UInt64 (left as is)"}, drift)

	stmts, drift = clickPlan(dbs, clickState{"a": {"t": {"x": "String", "y": "UInt64"}, "u": {"id": "String"}}})
	require.Empty(t, stmts)
	require.Empty(t, drift)
	_, drift = clickPlan(dbs, clickState{"a": {"t": {"x": "String"}, "u": {"id": "String"}}})
	require.Equal(t, []string{"a.t has no column y UInt64 (left as is)"}, drift)
}

func TestQuoteCH(t *testing.T) {
	require.Equal(t, "`we\\`ird`", quoteCH("we`ird"))
	require.Equal(t, `'it\'s'`, quoteCHString("it's"))
}
