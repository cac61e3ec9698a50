package bootstrap

import (
	"encoding/hex"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseMigrationName(t *testing.T) {
	for _, tc := range []struct {
		name    string
		version int64
		desc    string
		ok      bool
		err     string
	}{
		{"20251114000000_init.sql", 20251114000000, "init", true, ""},
		{"1_create_users_table.sql", 1, "create users table", true, ""},
		{"0002_add_index.up.sql", 2, "add index", true, ""},
		{"0002_add_index.down.sql", 0, "", false, ""},
		{"3_multi_part_name_with.dots.sql", 3, "multi part name with.dots", true, ""},
		{"README.md", 0, "", false, ""},
		{"init.sql", 0, "", false, ""},
		{"4_notes.txt", 0, "", false, ""},
		{"v1_init.sql", 0, "", false, "expected integer version prefix"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, d, ok, err := ParseMigrationName(tc.name)
			if tc.err != "" {
				require.ErrorContains(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.ok, ok)
			require.Equal(t, tc.version, v)
			require.Equal(t, tc.desc, d)
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
		Checksum string // sha384sum of the file
		NoTx     bool
	}
	var got []row
	for _, m := range ms {
		got = append(got, row{m.Version, m.Description, hex.EncodeToString(m.Checksum), m.NoTx})
	}
	require.Equal(t, []row{
		{1, "create a", "52dcffb424aeb77cd96de966de88547001ad9656d3d53e03c8907e0f31653840336ff6b02aeb25a48ef7d46e1ce5f7f9", false},
		{3, "concurrent index", "b49f8bcfdca45e9c82f13e6176f4cc4fb0cf4504d3b3d87894056e40c6764bf24cba3ab5aaafb03fb57b93108cac2ded", true},
		{20251114000000, "add user index", "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed8086072ba1e7cc2358baeca134c825a7", false},
	}, got)
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

func TestMigrationPlan(t *testing.T) {
	files := []Migration{
		{Version: 1, File: "m/1_a.sql", Checksum: []byte{1}},
		{Version: 2, File: "m/2_b.sql", Checksum: []byte{2}},
	}
	for _, tc := range []struct {
		name    string
		applied []Applied
		todo    []int64
		err     []string
	}{
		{"fresh", nil, []int64{1, 2}, nil},
		{"half", []Applied{{1, []byte{1}, true}}, []int64{2}, nil},
		{"done", []Applied{{1, []byte{1}, true}, {2, []byte{2}, true}}, nil, nil},
		{"changed", []Applied{{1, []byte{9}, true}}, nil, []string{"m/1_a.sql was changed after it was applied: recorded checksum 09, file checksum 01"}},
		{"dirty", []Applied{{1, []byte{1}, false}}, nil, []string{"migration 1 is recorded as failed (dirty)"}},
		{"missing file", []Applied{{7, []byte{7}, true}}, nil, []string{"migration 7 was applied but its file is missing"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			todo, err := migrationPlan(files, tc.applied)
			for _, e := range tc.err {
				require.ErrorContains(t, err, e)
			}
			if tc.err != nil {
				return
			}
			require.NoError(t, err)
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
