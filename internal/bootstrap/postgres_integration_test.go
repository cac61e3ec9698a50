package bootstrap

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"

	"github.com/novadev/novadev/internal/catalog"
)

// startPostgres runs novadev/postgres:15 on a free loopback port with every
// statement logged (log_statement = all) and returns Targets for it with a
// password for every user of c, and the container's ID.
func startPostgres(t *testing.T, c *catalog.Catalog) (Targets, map[string]string, string) {
	needEngine(t, "novadev/postgres:15")
	port := freePort(t)
	secrets := map[string]string{catalog.SuperuserPasswordVar: "super-" + fmt.Sprint(time.Now().UnixNano())}
	for _, d := range postgresDatabases(c) {
		secrets[catalog.PasswordVar(d.User)] = "pw-" + d.User + "-1"
	}
	id := run(t, "-p", fmt.Sprintf("127.0.0.1:%d:5432", port), "-e", "POSTGRES_PASSWORD="+secrets[catalog.SuperuserPasswordVar], "novadev/postgres:15")
	tg := Targets{Postgres: fmt.Sprintf("127.0.0.1:%d", port), Password: func(v string) string { return secrets[v] }}
	eventually(t, 60*time.Second, "postgres", func() error {
		conn, err := pgConnect(ctxFor(t, 5*time.Second), tg, PostgresSuperuser, secrets[catalog.SuperuserPasswordVar], "postgres")
		if err == nil {
			conn.Close(ctxFor(t, time.Second))
		}
		return err
	})
	conn, err := pgConnect(ctxFor(t, 5*time.Second), tg, PostgresSuperuser, secrets[catalog.SuperuserPasswordVar], "postgres")
	require.NoError(t, err)
	defer conn.Close(ctxFor(t, time.Second))
	for _, q := range []string{"ALTER SYSTEM SET log_statement = 'all'", "SELECT pg_reload_conf()"} {
		_, err := conn.Exec(ctxFor(t, 5*time.Second), q)
		require.NoError(t, err, q)
	}
	return tg, secrets, id
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
	tg, secrets, container := startPostgres(t, c)
	dbs := postgresDatabases(c)

	var check logLines
	err := PostgresInit{Options: Options{Check: true}}.Run(ctxFor(t, time.Minute), c, tg, check.log)
	var de *DriftError
	require.ErrorAs(t, err, &de, "--check on a fresh server")
	require.Contains(t, de.Diffs, "would have created role nova_feed_svc")
	require.Contains(t, de.Diffs, "would have created extension pgcrypto in nova_feed")
	require.Empty(t, check)
	conn, err := pgConnect(ctxFor(t, 5*time.Second), tg, PostgresSuperuser, secrets[catalog.SuperuserPasswordVar], "postgres")
	require.NoError(t, err)
	var roles int
	require.NoError(t, conn.QueryRow(ctxFor(t, 5*time.Second), "SELECT count(*) FROM pg_roles WHERE rolname LIKE 'nova%'").Scan(&roles))
	require.Zero(t, roles, "--check created nothing")
	conn.Close(ctxFor(t, time.Second))

	var first logLines
	start := time.Now()
	require.NoError(t, PostgresInit{}.Run(ctxFor(t, time.Minute), c, tg, first.log))
	t.Logf("postgres-init cold: %s, %d changes", time.Since(start), len(first))
	joined := strings.Join(first, "\n")
	require.Equal(t, 15, strings.Count(joined, "created role "))
	require.Equal(t, 15, strings.Count(joined, "created owner role "))
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
			require.Equal(t, []any{d.User, d.Owner, false, false, false}, []any{user, owner, super, createdb, createrole})
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
		checked, err := WithOptions(Migrations{}, Options{Check: true})
		require.NoError(t, err)
		var l logLines
		err = checked.Run(ctx, c, tg, l.log)
		var de *DriftError
		require.ErrorAs(t, err, &de)
		require.Len(t, de.Diffs, 15)
		require.Contains(t, de.Diffs, "would have applied feed-service 20251114000000 init")
		require.ErrorContains(t, err, "`novadev bootstrap migrations` (or `novadev up`) applies them")
		require.NotContains(t, err.Error(), "--allow-drift", "migrations have no drift to allow")
		require.Empty(t, l)
		conn, err := pgConnect(ctx, tg, PostgresSuperuser, secrets[catalog.SuperuserPasswordVar], "nova_feed")
		require.NoError(t, err)
		var table *string
		require.NoError(t, conn.QueryRow(ctx, "SELECT to_regclass('_sqlx_migrations')::text").Scan(&table))
		require.Nil(t, table, "--check created nothing")
		conn.Close(ctx)

		require.NoError(t, Migrations{}.Run(ctx, c, tg, l.log))
		require.Len(t, l, 15)
		require.Contains(t, l, "feed-service: applied 20251114000000 init as nova_feed_owner in "+strings.TrimPrefix(l[slicesIndexPrefix(l, "feed-service:")], "feed-service: applied 20251114000000 init as nova_feed_owner in "))
		var again logLines
		require.NoError(t, Migrations{}.Run(ctx, c, tg, again.log))
		require.Len(t, again, 15)
		for _, line := range again {
			require.Contains(t, line, ": 1 migrations already applied")
		}
		again = nil
		require.NoError(t, checked.Run(ctx, c, tg, again.log))
		require.Equal(t, logLines{"the store is as the catalog says; nothing would change"}, again)
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
			require.Equal(t, []string{OwnerRole(s.Database)}, owners, "tables created as the database's owner role")
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
		require.Contains(t, l, "feed-service: applied 20251115000000 add score as nova_feed_owner in "+strings.TrimPrefix(l[slicesIndexPrefix(l, "feed-service: applied 20251115000000")], "feed-service: applied 20251115000000 add score as nova_feed_owner in "))

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

	t.Run("the login role has run-time privileges only", func(t *testing.T) {
		// a table with a sequence, created as the migrations step creates
		// tables (superuser, SET ROLE owner): default privileges cover both
		owner, err := pgConnect(ctx, tg, PostgresSuperuser, secrets[catalog.SuperuserPasswordVar], "nova_user")
		require.NoError(t, err)
		for _, q := range []string{"SET ROLE nova_user_owner", "CREATE TABLE counters (id bigserial PRIMARY KEY, n int NOT NULL)"} {
			_, err := owner.Exec(ctx, q)
			require.NoError(t, err, q)
		}
		owner.Close(ctx)

		conn, err := pgConnect(ctx, tg, "nova_user_svc", secrets[catalog.PasswordVar("nova_user_svc")], "nova_user")
		require.NoError(t, err)
		defer conn.Close(ctx)
		for _, q := range []string{
			"INSERT INTO counters (n) VALUES (1), (2)",
			"UPDATE counters SET n = n + 1",
			"DELETE FROM counters WHERE n = 3",
			"INSERT INTO user_records (owner_id) VALUES (gen_random_uuid())", // a table of the service's own migration
			"UPDATE user_records SET payload = '{\"a\": 1}'",
			"SELECT count(*) FROM user_records",
			"DELETE FROM user_records",
		} {
			_, err := conn.Exec(ctx, q)
			require.NoError(t, err, q)
		}
		var n int
		require.NoError(t, conn.QueryRow(ctx, "SELECT sum(n) FROM counters").Scan(&n))
		require.Equal(t, 2, n)
		for _, q := range []string{
			"CREATE TABLE mine (x int)",
			"CREATE ROLE intruder",
			"CREATE DATABASE other",
			"ALTER TABLE counters ADD COLUMN y int",
			"DROP TABLE counters",
			"TRUNCATE counters",
			"CREATE SCHEMA mine",
			"SET ROLE nova_user_owner",
		} {
			_, err := conn.Exec(ctx, q)
			require.Error(t, err, "%s must be refused", q)
			require.Equal(t, "42501", sqlState(err), "%s: %v", q, err)
		}
	})

	t.Run("hand-made privileges are found by --check and gone after the next run", func(t *testing.T) {
		admin := func(db string, qs ...string) {
			conn, err := pgConnect(ctx, tg, PostgresSuperuser, secrets[catalog.SuperuserPasswordVar], db)
			require.NoError(t, err)
			defer conn.Close(ctx)
			for _, q := range qs {
				_, err := conn.Exec(ctx, q)
				require.NoError(t, err, q)
			}
		}
		admin("postgres",
			"GRANT nova_user_svc TO nova_feed_svc",
			"GRANT nova_feed_owner TO nova_feed_svc",
			"ALTER ROLE nova_feed_svc CREATEDB CREATEROLE BYPASSRLS CONNECTION LIMIT 2 VALID UNTIL '2030-01-01'",
			"ALTER ROLE nova_feed_owner LOGIN",
			"GRANT CONNECT ON DATABASE nova_user TO nova_feed_svc",
			"GRANT CREATE, TEMPORARY ON DATABASE nova_feed TO nova_feed_svc")
		admin("nova_feed",
			"GRANT CREATE ON SCHEMA public TO nova_feed_svc",
			"GRANT TRUNCATE ON feed_records TO nova_feed_svc",
			"CREATE TABLE stray (x int)", "ALTER TABLE stray OWNER TO nova_feed_svc")
		members := func() []string {
			conn, err := pgConnect(ctx, tg, PostgresSuperuser, secrets[catalog.SuperuserPasswordVar], "postgres")
			require.NoError(t, err)
			defer conn.Close(ctx)
			rows, err := conn.Query(ctx, "SELECT pg_get_userbyid(roleid) || ' > ' || pg_get_userbyid(member) FROM pg_auth_members WHERE pg_get_userbyid(member) LIKE 'nova_%' ORDER BY 1")
			require.NoError(t, err)
			m, err := pgx.CollectRows(rows, pgx.RowTo[string])
			require.NoError(t, err)
			return m
		}
		require.Equal(t, []string{"nova_feed_owner > nova_feed_svc", "nova_user_svc > nova_feed_svc"}, members())

		var l logLines
		err := PostgresInit{Options: Options{Check: true}}.Run(ctx, c, tg, l.log)
		var de *DriftError
		require.ErrorAs(t, err, &de)
		require.ElementsMatch(t, []string{
			"would have reset owner role nova_feed_owner: login true -> false",
			"would have reset role nova_feed_svc: createdb true -> false, createrole true -> false, bypassrls true -> false, connection limit 2 -> none, valid until 2030-01-01 00:00:00+00 -> always",
			"would have revoked membership of nova_feed_svc in nova_feed_owner",
			"would have revoked membership of nova_feed_svc in nova_user_svc",
			"would have revoked nova_feed_svc's privileges on nova_user",
			"would have revoked CREATE, TEMPORARY on nova_feed from nova_feed_svc",
			"would have 1 objects of nova_feed_svc now owned by nova_feed_owner in nova_feed",
			"would have revoked CREATE on schema public from PUBLIC and nova_feed_svc in nova_feed",
			"would have granted SELECT, INSERT, UPDATE, DELETE on every table to nova_feed_svc in nova_feed",
			"would have revoked TRUNCATE, REFERENCES, TRIGGER on every table from PUBLIC and nova_feed_svc in nova_feed",
			"would have granted USAGE, SELECT, UPDATE on every sequence to nova_feed_svc in nova_feed",
		}, de.Diffs, strings.Join(de.Diffs, "\n"))
		require.Empty(t, l, "--check logs nothing else")
		require.Len(t, members(), 2, "--check changed nothing")

		l = nil
		require.NoError(t, PostgresInit{}.Run(ctx, c, tg, l.log))
		require.Len(t, l, len(de.Diffs), strings.Join(l, "\n"))
		require.Empty(t, members(), "the hand-made memberships are revoked")
		l = nil
		require.NoError(t, PostgresInit{Options: Options{Check: true}}.Run(ctx, c, tg, l.log))
		require.Equal(t, logLines{"the store is as the catalog says; nothing would change"}, l)

		pw := secrets[catalog.PasswordVar("nova_feed_svc")]
		_, err = pgConnect(ctx, tg, "nova_feed_svc", pw, "nova_user")
		require.Equal(t, "42501", sqlState(err), "no longer enters nova_user: %v", err)
		_, err = pgConnect(ctx, tg, "nova_feed_owner", "", "nova_feed")
		require.Error(t, err, "the owner role cannot log in")
		conn, err := pgConnect(ctx, tg, "nova_feed_svc", pw, "nova_feed")
		require.NoError(t, err)
		defer conn.Close(ctx)
		_, err = conn.Exec(ctx, "INSERT INTO stray VALUES (1)")
		require.NoError(t, err, "the reassigned table is still usable")
		for _, q := range []string{"DROP TABLE stray", "CREATE TABLE again (x int)", "TRUNCATE feed_records", "SET ROLE nova_user_svc"} {
			_, err = conn.Exec(ctx, q)
			require.Equal(t, "42501", sqlState(err), "%s: %v", q, err)
		}
		var limit int
		var super, createdb bool
		require.NoError(t, conn.QueryRow(ctx, "SELECT rolconnlimit, rolsuper, rolcreatedb FROM pg_roles WHERE rolname = current_user").Scan(&limit, &super, &createdb))
		require.Equal(t, []any{-1, false, false}, []any{limit, super, createdb})
	})

	t.Run("passwords are SCRAM verifiers and never in the server log", func(t *testing.T) {
		conn, err := pgConnect(ctx, tg, PostgresSuperuser, secrets[catalog.SuperuserPasswordVar], "postgres")
		require.NoError(t, err)
		defer conn.Close(ctx)
		var scram, logins int
		require.NoError(t, conn.QueryRow(ctx, `SELECT count(*) FILTER (WHERE rolpassword LIKE 'SCRAM-SHA-256$4096:%'), count(*)
			FROM pg_authid WHERE rolname LIKE 'nova\_%\_svc'`).Scan(&scram, &logins))
		require.Equal(t, []int{15, 15}, []int{scram, logins})
		out, err := exec.Command("docker", "logs", container).CombinedOutput()
		require.NoError(t, err)
		serverLog := string(out)
		require.Contains(t, serverLog, "statement: CREATE ROLE \"nova_feed_svc\" LOGIN", "log_statement = all logged the role statements")
		require.Contains(t, serverLog, "PASSWORD 'SCRAM-SHA-256$4096:", "what was sent is a verifier")
		for v, pw := range secrets {
			if v == catalog.SuperuserPasswordVar {
				continue // set by initdb, not by a statement
			}
			require.NotContains(t, serverLog, pw, "%s's password in the server log", v)
		}
		require.NotContains(t, serverLog, "rotated-pw")
	})

	t.Run("database.ddl lets the service change its schema as the owner", func(t *testing.T) {
		feed := c.Services["feed-service"]
		feed.Database.DDL = true
		defer func() { feed.Database.DDL = false }()
		var l logLines
		require.NoError(t, PostgresInit{}.Run(ctx, c, tg, l.log))
		require.Equal(t, logLines{
			"made nova_feed_svc a member of nova_feed_owner (database.ddl)",
			"sessions of nova_feed_svc in nova_feed start as nova_feed_owner (database.ddl)",
		}, l)
		l = nil
		require.NoError(t, PostgresInit{}.Run(ctx, c, tg, l.log))
		require.Equal(t, logLines{"15 databases and users already as the catalog says; nothing changed"}, l)

		pw := secrets[catalog.PasswordVar("nova_feed_svc")]
		conn, err := pgConnect(ctx, tg, "nova_feed_svc", pw, "nova_feed")
		require.NoError(t, err)
		for _, q := range []string{"CREATE TABLE at_runtime (x int)", "ALTER TABLE feed_records ADD COLUMN runtime int"} {
			_, err := conn.Exec(ctx, q)
			require.NoError(t, err, q)
		}
		var owner string
		require.NoError(t, conn.QueryRow(ctx, "SELECT tableowner FROM pg_tables WHERE tablename = 'at_runtime'").Scan(&owner))
		require.Equal(t, "nova_feed_owner", owner, "what it creates belongs to the owner")
		conn.Close(ctx)
		_, err = pgConnect(ctx, tg, "nova_feed_svc", pw, "nova_user")
		require.Equal(t, "42501", sqlState(err), "still only its own database: %v", err)

		feed.Database.DDL = false
		l = nil
		require.NoError(t, PostgresInit{}.Run(ctx, c, tg, l.log))
		require.Equal(t, logLines{
			"revoked membership of nova_feed_svc in nova_feed_owner",
			"sessions of nova_feed_svc no longer start as nova_feed_owner",
		}, l)
		conn, err = pgConnect(ctx, tg, "nova_feed_svc", pw, "nova_feed")
		require.NoError(t, err)
		defer conn.Close(ctx)
		_, err = conn.Exec(ctx, "CREATE TABLE again (x int)")
		require.Equal(t, "42501", sqlState(err), "no DDL without database.ddl: %v", err)
		_, err = conn.Exec(ctx, "INSERT INTO at_runtime VALUES (1)")
		require.NoError(t, err, "the table made at run time is the owner's, with the default grants")
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
