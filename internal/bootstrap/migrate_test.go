package bootstrap

import (
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestParseMigrationName: sqlx's resolve_blocking (sqlx-core
// migrate/source.rs), case by case: splitn(2, '_'), ends_with(".sql"),
// i64 parse of the prefix, MigrationType::from_filename, then
// trim_end_matches(suffix) and '_' -> ' '.
func TestParseMigrationName(t *testing.T) {
	S, U, D := MigrationSimple, MigrationReversibleUp, MigrationReversibleDown
	for _, tc := range []struct {
		name    string
		version int64
		desc    string
		typ     MigrationType
		ok      bool
		err     string
	}{
		{"20251114000000_init.sql", 20251114000000, "init", S, true, ""},
		{"1_create_users_table.sql", 1, "create users table", S, true, ""},
		{"0002_add_index.up.sql", 2, "add index", U, true, ""},
		{"0002_add_index.down.sql", 2, "add index", D, true, ""},
		{"3_multi_part_name_with.dots.sql", 3, "multi part name with.dots", S, true, ""},
		// trim_end_matches removes every trailing copy of the type's suffix
		{"1_x.sql.sql", 1, "x", S, true, ""},
		{"1_x.sql.up.sql", 1, "x.sql", U, true, ""},
		{"1_x.up.sql.up.sql", 1, "x", U, true, ""},
		{"1_x.down.sql.sql", 1, "x.down", S, true, ""},
		{"1_x.up.sql.down.sql", 1, "x.up.sql", D, true, ""},
		{"1_x.down.sql.up.sql", 1, "x.down.sql", U, true, ""},
		{"1_.sql", 1, "", S, true, ""},
		{"1_.up.sql", 1, "", U, true, ""},
		{"1_.sql.sql.sql", 1, "", S, true, ""},
		{"1__x.sql", 1, " x", S, true, ""},
		{"1_a_b_.sql", 1, "a b ", S, true, ""},
		// Rust's i64 parse: a sign is allowed, leading zeros too
		{"+7_x.sql", 7, "x", S, true, ""},
		{"-7_x.sql", -7, "x", S, true, ""},
		{"007_x.sql", 7, "x", S, true, ""},
		// not migrations: no '_' or no .sql ending (case matters)
		{"README.md", 0, "", S, false, ""},
		{"init.sql", 0, "", S, false, ""},
		{"4_notes.txt", 0, "", S, false, ""},
		{"1_x.SQL", 0, "", S, false, ""},
		{"1_x.sql ", 0, "", S, false, ""},
		{"1_x.sq", 0, "", S, false, ""},
		// sqlx refuses these, a revert too
		{"v1_init.sql", 0, "", S, false, "expected integer version prefix"},
		{"v1_init.down.sql", 0, "", S, false, "expected integer version prefix"},
		{"_x.sql", 0, "", S, false, "expected integer version prefix"},
		{"1 _x.sql", 0, "", S, false, "expected integer version prefix"},
		{"1.5_x.sql", 0, "", S, false, "expected integer version prefix"},
		{"0x10_x.sql", 0, "", S, false, "expected integer version prefix"},
		{"+_x.sql", 0, "", S, false, "expected integer version prefix"},
		{"99999999999999999999_x.sql", 0, "", S, false, "expected integer version prefix"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, d, typ, ok, err := ParseMigrationName(tc.name)
			if tc.err != "" {
				require.ErrorContains(t, err, tc.err)
				require.False(t, ok)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.ok, ok)
			require.Equal(t, tc.version, v)
			require.Equal(t, tc.desc, d)
			require.Equal(t, tc.typ, typ)
		})
	}
}

func TestChecksumIsSHA384(t *testing.T) {
	// FIPS 180-2 test vector
	require.Equal(t, "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed8086072ba1e7cc2358baeca134c825a7",
		hex.EncodeToString(Checksum([]byte("abc"))))
}

func TestLoadMigrations(t *testing.T) {
	ms, err := LoadMigrations(filepath.Join("testdata", "migrations", "mixed"))
	require.NoError(t, err)
	type row struct {
		Version  int64
		Desc     string
		Type     MigrationType
		Checksum string // sha384sum of the file
		NoTx     bool
	}
	var got []row
	for _, m := range ms {
		got = append(got, row{m.Version, m.Description, m.Type, hex.EncodeToString(m.Checksum), m.NoTx})
	}
	require.Equal(t, []row{
		{1, "create a", MigrationSimple, "52dcffb424aeb77cd96de966de88547001ad9656d3d53e03c8907e0f31653840336ff6b02aeb25a48ef7d46e1ce5f7f9", false},
		{3, "concurrent index", MigrationSimple, "b49f8bcfdca45e9c82f13e6176f4cc4fb0cf4504d3b3d87894056e40c6764bf24cba3ab5aaafb03fb57b93108cac2ded", true},
		{20251114000000, "add user index", MigrationReversibleUp, "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed8086072ba1e7cc2358baeca134c825a7", false},
		{20251114000000, "add user index", MigrationReversibleDown, hex.EncodeToString(Checksum(readFile(t, "testdata/migrations/mixed/20251114000000_add_user_index.down.sql"))), false},
	}, got, "4_dir.sql is a directory and README.md no migration: both skipped")
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return b
}

// TestLoadMigrationsErrors: what sqlx refuses is refused before anything
// runs.
func TestLoadMigrationsErrors(t *testing.T) {
	write := func(t *testing.T, files map[string]string) string {
		dir := t.TempDir()
		for n, src := range files {
			require.NoError(t, os.WriteFile(filepath.Join(dir, n), []byte(src), 0o644))
		}
		return dir
	}
	_, err := LoadMigrations(write(t, map[string]string{"1_a.sql": "", "1_b.sql": ""}))
	require.ErrorContains(t, err, "have the same version 1")
	_, err = LoadMigrations(write(t, map[string]string{"1_a.up.sql": "", "1_a.down.sql": ""}))
	require.NoError(t, err, "an up and its down share a version")
	_, err = LoadMigrations(write(t, map[string]string{"1_a.sql": "\xff\xfe"}))
	require.ErrorContains(t, err, "is not UTF-8")
	_, err = LoadMigrations(write(t, map[string]string{"x_a.down.sql": ""}))
	require.ErrorContains(t, err, "expected integer version prefix")
	dir := write(t, map[string]string{"1_a.sql": "SELECT 1;"})
	require.NoError(t, os.Symlink("gone", filepath.Join(dir, "2_b.sql")))
	_, err = LoadMigrations(dir)
	require.ErrorContains(t, err, "error getting metadata of migration path", "sqlx fails on a dangling link too")
}

// TestLoadMigrationsKubeletLayout: a ConfigMap volume's entries are links
// into ..data; the links are followed, ..data and the timestamped
// directory skipped.
func TestLoadMigrationsKubeletLayout(t *testing.T) {
	vol := t.TempDir()
	ts := filepath.Join(vol, "..2026_12_01_07_00_00.1")
	require.NoError(t, os.MkdirAll(ts, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(ts, "1_init.sql"), []byte("SELECT 1;"), 0o644))
	require.NoError(t, os.Symlink(filepath.Base(ts), filepath.Join(vol, "..data")))
	require.NoError(t, os.Symlink("..data/1_init.sql", filepath.Join(vol, "1_init.sql")))
	ms, err := LoadMigrations(vol)
	require.NoError(t, err)
	require.Len(t, ms, 1)
	require.Equal(t, "init", ms[0].Description)
}

func TestLoadNovaMigrations(t *testing.T) {
	c := novaCatalog(t, "local")
	n := 0
	for _, s := range c.ActiveServices() {
		if s.Database == nil {
			continue
		}
		ms, err := LoadMigrations(migrationsDir(c, Targets{}, s))
		require.NoError(t, err, s.Name)
		require.NotEmpty(t, ms, s.Name)
		require.Equal(t, "init", ms[0].Description)
		n++
	}
	require.Equal(t, 15, n)
	require.Equal(t, filepath.Join("/cm", "feed-service"), migrationsDir(c, Targets{MigrationsDir: "/cm"}, c.Services["feed-service"]))
}

// TestMigrationPlan: sqlx's Migrator::run decisions over the recorded rows.
func TestMigrationPlan(t *testing.T) {
	files := []Migration{
		{Version: 1, File: "m/1_a.sql", Checksum: []byte{1}},
		{Version: 2, File: "m/2_b.up.sql", Type: MigrationReversibleUp, Checksum: []byte{2}},
		{Version: 2, File: "m/2_b.down.sql", Type: MigrationReversibleDown, Checksum: []byte{0x22}},
		{Version: 3, File: "m/3_c.sql", Checksum: []byte{3}},
		{Version: 4, File: "m/4_d.down.sql", Type: MigrationReversibleDown, Checksum: []byte{4}},
	}
	for _, tc := range []struct {
		name    string
		applied []Applied
		todo    []int64
		err     string
	}{
		{"fresh: every up, no down", nil, []int64{1, 2, 3}, ""},
		{"half", []Applied{{1, []byte{1}, true}}, []int64{2, 3}, ""},
		{"done", []Applied{{1, []byte{1}, true}, {2, []byte{2}, true}, {3, []byte{3}, true}}, nil, ""},
		{"the up's checksum counts, not the down's", []Applied{{2, []byte{0x22}, true}}, []int64{1}, "migration 2 was previously applied but has been modified: m/2_b.up.sql was changed after it was applied: recorded checksum 22, file checksum 02"},
		{"changed: earlier pending ones still apply", []Applied{{3, []byte{9}, true}}, []int64{1, 2}, "migration 3 was previously applied but has been modified"},
		{"dirty stops everything", []Applied{{1, []byte{1}, true}, {3, []byte{9}, false}}, nil, "migration 3 is partially applied (success = false in _sqlx_migrations)"},
		{"lowest dirty first", []Applied{{3, []byte{3}, false}, {2, []byte{2}, false}}, nil, "migration 2 is partially applied"},
		{"dirty before missing", []Applied{{7, []byte{7}, true}, {3, []byte{3}, false}}, nil, "migration 3 is partially applied"},
		{"missing file", []Applied{{7, []byte{7}, true}}, nil, "migration 7 was previously applied but is missing in the resolved migrations"},
		{"a down-only version is not missing", []Applied{{4, []byte{4}, true}}, []int64{1, 2, 3}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			todo, err := migrationPlan(files, tc.applied)
			if tc.err != "" {
				require.ErrorContains(t, err, tc.err)
			} else {
				require.NoError(t, err)
			}
			var got []int64
			for _, m := range todo {
				got = append(got, m.Version)
			}
			require.Equal(t, tc.todo, got)
		})
	}
}

func TestSQLXLockID(t *testing.T) {
	// 0x3d32ad9e * zlib.crc32(b"nova_auth"), computed in Python
	require.Equal(t, int64(1458460976336693316), sqlxLockID("nova_auth"))
}
