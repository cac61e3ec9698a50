package bootstrap

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"

	"github.com/novadev/novadev/internal/catalog"
)

// startPostgres runs novadev/postgres:15 on a free loopback port and returns
// Targets for it with a password for every user of c.
func startPostgres(t *testing.T, c *catalog.Catalog) (Targets, map[string]string) {
	needEngine(t, "novadev/postgres:15")
	port := freePort(t)
	secrets := map[string]string{catalog.SuperuserPasswordVar: "super-" + fmt.Sprint(time.Now().UnixNano())}
	for _, d := range postgresDatabases(c) {
		secrets[catalog.PasswordVar(d.User)] = "pw-" + d.User + "-1"
	}
	run(t, "-p", fmt.Sprintf("127.0.0.1:%d:5432", port), "-e", "POSTGRES_PASSWORD="+secrets[catalog.SuperuserPasswordVar], "novadev/postgres:15")
	tg := Targets{Postgres: fmt.Sprintf("127.0.0.1:%d", port), Password: func(v string) string { return secrets[v] }}
	eventually(t, 60*time.Second, "postgres", func() error {
		conn, err := pgConnect(ctxFor(t, 5*time.Second), tg, PostgresSuperuser, secrets[catalog.SuperuserPasswordVar], "postgres")
		if err == nil {
			conn.Close(ctxFor(t, time.Second))
		}
		return err
	})
	return tg, secrets
}

// sqlState returns the SQLSTATE of a PostgreSQL error, or "".
func sqlState(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

func TestIntegrationPostgresInitAndMigrations(t *testing.T) {
	c := novaCatalog(t, "local")
	tg, secrets := startPostgres(t, c)
	dbs := postgresDatabases(c)

	var first logLines
	start := time.Now()
	require.NoError(t, PostgresInit{}.Run(ctxFor(t, time.Minute), c, tg, first.log))
	t.Logf("postgres-init cold: %s, %d changes", time.Since(start), len(first))
	joined := strings.Join(first, "\n")
	require.Equal(t, 15, strings.Count(joined, "created role "))
	require.Equal(t, 15, strings.Count(joined, "created database "))
	require.Equal(t, 30, strings.Count(joined, "created extension "))
	require.Contains(t, joined, `revoked PUBLIC's CONNECT on "postgres", "template1"`)

	var second logLines
	start = time.Now()
	require.NoError(t, PostgresInit{}.Run(ctxFor(t, time.Minute), c, tg, second.log))
	t.Logf("postgres-init warm: %s", time.Since(start))
	require.Equal(t, logLines{"15 databases and users already as the catalog says; nothing changed"}, second)

	ctx := ctxFor(t, 2*time.Minute)
	t.Run("each user enters only its own database", func(t *testing.T) {
		for i, d := range dbs {
			conn, err := pgConnect(ctx, tg, d.User, secrets[catalog.PasswordVar(d.User)], d.Name)
			require.NoError(t, err, d.User)
			var user, owner string
			var super, createdb, createrole bool
			require.NoError(t, conn.QueryRow(ctx, `SELECT current_user, pg_get_userbyid(d.datdba), r.rolsuper, r.rolcreatedb, r.rolcreaterole
				FROM pg_database d, pg_roles r WHERE d.datname = current_database() AND r.rolname = current_user`).
				Scan(&user, &owner, &super, &createdb, &createrole))
			require.Equal(t, []any{d.User, d.User, false, false, false}, []any{user, owner, super, createdb, createrole})
			var exts []string
			rows, err := conn.Query(ctx, "SELECT extname FROM pg_extension WHERE extname <> 'plpgsql' ORDER BY 1")
			require.NoError(t, err)
			exts, err = pgx.CollectRows(rows, pgx.RowTo[string])
			require.NoError(t, err)
			require.Equal(t, []string{"pgcrypto", "uuid-ossp"}, exts, d.Name)
			conn.Close(ctx)

			other := dbs[(i+1)%len(dbs)].Name
			for _, db := range []string{other, "postgres", "template1"} {
				_, err := pgConnect(ctx, tg, d.User, secrets[catalog.PasswordVar(d.User)], db)
				require.Error(t, err, "%s must not enter %s", d.User, db)
				require.Equal(t, "42501", sqlState(err), "%s on %s: %v", d.User, db, err)
			}
		}
	})

	t.Run("a rotated password takes effect", func(t *testing.T) {
		v := catalog.PasswordVar("nova_feed_svc")
		old := secrets[v]
		secrets[v] = "rotated-pw"
		var l logLines
		require.NoError(t, PostgresInit{}.Run(ctx, c, tg, l.log))
		require.Equal(t, logLines{"set new password of nova_feed_svc"}, l)
		conn, err := pgConnect(ctx, tg, "nova_feed_svc", "rotated-pw", "nova_feed")
		require.NoError(t, err)
		conn.Close(ctx)
		_, err = pgConnect(ctx, tg, "nova_feed_svc", old, "nova_feed")
		require.Equal(t, "28P01", sqlState(err), "old password refused: %v", err)
	})

	t.Run("migrations", func(t *testing.T) {
		var l logLines
		require.NoError(t, Migrations{}.Run(ctx, c, tg, l.log))
		require.Len(t, l, 15)
		require.Contains(t, l, "feed-service: applied 20251114000000 init as nova_feed_svc in "+strings.TrimPrefix(l[slicesIndexPrefix(l, "feed-service:")], "feed-service: applied 20251114000000 init as nova_feed_svc in "))
		var again logLines
		require.NoError(t, Migrations{}.Run(ctx, c, tg, again.log))
		require.Len(t, again, 15)
		for _, line := range again {
			require.Contains(t, line, ": 1 migrations already applied")
		}
		for _, s := range c.ActiveServices() {
			if s.Database == nil {
				continue
			}
			files, err := LoadMigrations(migrationsDir(c, tg, s))
			require.NoError(t, err)
			conn, err := pgConnect(ctx, tg, s.Database.User, secrets[catalog.PasswordVar(s.Database.User)], s.Database.Name)
			require.NoError(t, err)
			var version, took int64
			var desc string
			var ok bool
			var sum []byte
			var installed time.Time
			require.NoError(t, conn.QueryRow(ctx, "SELECT version, description, installed_on, success, checksum, execution_time FROM _sqlx_migrations").
				Scan(&version, &desc, &installed, &ok, &sum, &took))
			require.Equal(t, files[0].Version, version)
			require.Equal(t, "init", desc)
			require.True(t, ok)
			require.Equal(t, files[0].Checksum, sum)
			require.Positive(t, took)
			require.WithinDuration(t, time.Now(), installed, 5*time.Minute)
			var owners []string
			rows, err := conn.Query(ctx, "SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname = 'public'")
			require.NoError(t, err)
			owners, err = pgx.CollectRows(rows, pgx.RowTo[string])
			require.NoError(t, err)
			require.Equal(t, []string{s.Database.User}, owners, "tables created as the service's own user")
			conn.Close(ctx)
		}
	})

	t.Run("a failed half-run re-runs cleanly; an edited migration is refused", func(t *testing.T) {
		root := t.TempDir()
		require.NoError(t, os.CopyFS(root, os.DirFS(filepath.Join(filepath.Dir(c.File), "migrations"))))
		feed := filepath.Join(root, "feed-service")
		write := func(name, sql string) {
			require.NoError(t, os.WriteFile(filepath.Join(feed, name), []byte(sql), 0o644))
		}
		write("20251115000000_add_score.sql", "ALTER TABLE feed_records ADD COLUMN score int;\n")
		write("20251116000000_add_rank.sql", "ALTER TABLE feed_records ADD COLUMN rank int;\nSELECT * FROM no_such_table;\n")
		tg2 := tg
		tg2.MigrationsDir = root
		var l logLines
		err := Migrations{}.Run(ctx, c, tg2, l.log)
		require.ErrorContains(t, err, "migrations: feed-service: 20251116000000_add_rank.sql:")
		require.ErrorContains(t, err, "no_such_table")
		require.Contains(t, l, "feed-service: applied 20251115000000 add score as nova_feed_svc in "+strings.TrimPrefix(l[slicesIndexPrefix(l, "feed-service: applied 20251115000000")], "feed-service: applied 20251115000000 add score as nova_feed_svc in "))

		conn, err := pgConnect(ctx, tg, "nova_feed_svc", secrets[catalog.PasswordVar("nova_feed_svc")], "nova_feed")
		require.NoError(t, err)
		defer conn.Close(ctx)
		columns := func() []string {
			rows, err := conn.Query(ctx, "SELECT column_name::text FROM information_schema.columns WHERE table_name = 'feed_records' AND column_name IN ('score', 'rank') ORDER BY 1")
			require.NoError(t, err)
			cols, err := pgx.CollectRows(rows, pgx.RowTo[string])
			require.NoError(t, err)
			return cols
		}
		versions := func() []int64 {
			rows, err := conn.Query(ctx, "SELECT version FROM _sqlx_migrations ORDER BY 1")
			require.NoError(t, err)
			vs, err := pgx.CollectRows(rows, pgx.RowTo[int64])
			require.NoError(t, err)
			return vs
		}
		require.Equal(t, []string{"score"}, columns(), "the failed migration left nothing behind")
		require.Equal(t, []int64{20251114000000, 20251115000000}, versions())

		write("20251116000000_add_rank.sql", "ALTER TABLE feed_records ADD COLUMN rank int;\n")
		l = nil
		require.NoError(t, Migrations{}.Run(ctx, c, tg2, l.log))
		require.Equal(t, []string{"rank", "score"}, columns())
		require.Equal(t, []int64{20251114000000, 20251115000000, 20251116000000}, versions())

		write("20251115000000_add_score.sql", "ALTER TABLE feed_records ADD COLUMN score bigint;\n")
		err = Migrations{}.Run(ctx, c, tg2, l.log)
		require.ErrorContains(t, err, filepath.Join(feed, "20251115000000_add_score.sql")+" was changed after it was applied: recorded checksum ")
		require.ErrorContains(t, err, fmt.Sprintf("%x", Checksum([]byte("ALTER TABLE feed_records ADD COLUMN score int;\n"))))
		require.ErrorContains(t, err, fmt.Sprintf("%x", Checksum([]byte("ALTER TABLE feed_records ADD COLUMN score bigint;\n"))))
	})
}

// slicesIndexPrefix returns the index of the first line with prefix p, or 0.
func slicesIndexPrefix(lines []string, p string) int {
	for i, l := range lines {
		if strings.HasPrefix(l, p) {
			return i
		}
	}
	return 0
}
