package bootstrap

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/novadev/novadev/internal/catalog"
)

// TestIntegrationMigrationsSQLXParity runs the migrations step on a real
// PostgreSQL through sqlx's situations: reversible files (the down is never
// run), a -- no-transaction file (CREATE INDEX CONCURRENTLY, which refuses
// a transaction), the execution time written after the commit, a failing
// file leaving no row, an edited applied file (earlier pending ones still
// apply, as in sqlx), a dirty row, and a row whose file is gone.
func TestIntegrationMigrationsSQLXParity(t *testing.T) {
	c := novaCatalog(t, "local")
	tg, secrets, _ := startPostgres(t, c)
	require.NoError(t, PostgresInit{}.Run(ctxFor(t, time.Minute), c, tg, func(string, ...any) {}))
	// only feed-service migrates, from a folder this test writes
	for name, s := range c.Services {
		if name != "feed-service" {
			s.Migrations = ""
		}
	}
	tg.MigrationsDir = t.TempDir()
	dir := filepath.Join(tg.MigrationsDir, "feed-service")
	require.NoError(t, os.MkdirAll(dir, 0o755))
	write := func(name, sql string) {
		t.Helper()
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(sql), 0o644))
	}
	user := c.Services["feed-service"].Database.User
	conn, err := pgConnect(ctxFor(t, 10*time.Second), tg, user, secrets[catalog.PasswordVar(user)], c.Services["feed-service"].Database.Name)
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close(ctxFor(t, time.Second)) })
	type row = migrationRow
	rows := func() []row {
		t.Helper()
		r, err := conn.Query(ctxFor(t, 5*time.Second), "SELECT version, description, success, execution_time FROM _sqlx_migrations ORDER BY version")
		require.NoError(t, err)
		var out []row
		for r.Next() {
			var x row
			require.NoError(t, r.Scan(&x.Version, &x.Desc, &x.Success, &x.Took))
			out = append(out, x)
		}
		require.NoError(t, r.Err())
		return out
	}
	migrate := func() (logLines, error) {
		var l logLines
		err := Migrations{}.Run(ctxFor(t, time.Minute), c, tg, l.log)
		return l, err
	}

	write("1_create_items.up.sql", "CREATE TABLE items (id INT PRIMARY KEY, name TEXT);")
	write("1_create_items.down.sql", "DROP TABLE items;")
	write("2_items_name.sql.sql", "-- no-transaction\nCREATE INDEX CONCURRENTLY items_name_idx ON items (name);")
	_, err = migrate()
	require.NoError(t, err)
	got := rows()
	require.Len(t, got, 2)
	require.Equal(t, row{1, "create items", true, got[0].Took}, got[0])
	require.Equal(t, row{2, "items name", true, got[1].Took}, got[1], "sqlx's description of 2_items_name.sql.sql")
	require.Positive(t, got[0].Took, "execution_time is set after the commit, not left at -1")
	var n int
	require.NoError(t, conn.QueryRow(ctxFor(t, 5*time.Second), "SELECT count(*) FROM pg_indexes WHERE indexname = 'items_name_idx'").Scan(&n))
	require.Equal(t, 1, n, "the no-transaction migration ran (CONCURRENTLY refuses a transaction block)")
	require.NoError(t, conn.QueryRow(ctxFor(t, 5*time.Second), "SELECT count(*) FROM pg_tables WHERE tablename = 'items'").Scan(&n))
	require.Equal(t, 1, n, "the down migration never runs")

	l, err := migrate()
	require.NoError(t, err)
	require.Equal(t, logLines{"feed-service: 2 migrations already applied"}, l, "the down file is not counted")

	// a failing migration leaves no row, and nothing of its SQL
	write("3_broken.sql", "CREATE TABLE half (id INT); SELECT * FROM no_such_table;")
	_, err = migrate()
	require.ErrorContains(t, err, "3_broken.sql")
	require.Len(t, rows(), 2)
	require.NoError(t, conn.QueryRow(ctxFor(t, 5*time.Second), "SELECT count(*) FROM pg_tables WHERE tablename = 'half'").Scan(&n))
	require.Zero(t, n)
	require.NoError(t, os.Remove(filepath.Join(dir, "3_broken.sql")))

	// an edited applied file fails, after the pending one before it applied
	write("0_first.sql", "CREATE TABLE zeroth (id INT);")
	write("1_create_items.up.sql", "CREATE TABLE items (id INT PRIMARY KEY, name TEXT, extra INT);")
	_, err = migrate()
	require.ErrorContains(t, err, "migration 1 was previously applied but has been modified")
	require.Equal(t, []int64{0, 1, 2}, versions(rows()))
	write("1_create_items.up.sql", "CREATE TABLE items (id INT PRIMARY KEY, name TEXT);")

	// a row whose file is gone
	require.NoError(t, os.Remove(filepath.Join(dir, "0_first.sql")))
	_, err = migrate()
	require.ErrorContains(t, err, "migration 0 was previously applied but is missing in the resolved migrations")
	write("0_first.sql", "CREATE TABLE zeroth (id INT);")

	// a dirty row (sqlx marks none itself any more; an older sqlx or a
	// hand-made repair may) stops everything, even a pending migration
	_, err = conn.Exec(ctxFor(t, 5*time.Second), "UPDATE _sqlx_migrations SET success = false WHERE version = 2")
	require.NoError(t, err)
	write("4_later.sql", "CREATE TABLE later (id INT);")
	_, err = migrate()
	require.ErrorContains(t, err, "migration 2 is partially applied (success = false in _sqlx_migrations)")
	require.Equal(t, []int64{0, 1, 2}, versions(rows()), "4 was not applied")
	_, err = conn.Exec(ctxFor(t, 5*time.Second), "UPDATE _sqlx_migrations SET success = true WHERE version = 2")
	require.NoError(t, err)
	_, err = migrate()
	require.NoError(t, err)
	require.Equal(t, []int64{0, 1, 2, 4}, versions(rows()))
}

// migrationRow is a row of _sqlx_migrations as the test reads it.
type migrationRow struct {
	Version int64
	Desc    string
	Success bool
	Took    int64
}

func versions(rs []migrationRow) []int64 {
	var out []int64
	for _, r := range rs {
		out = append(out, r.Version)
	}
	return out
}
