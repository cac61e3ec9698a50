package bootstrap

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestPostgresDatabasesFromNovaCatalog(t *testing.T) {
	dbs := postgresDatabases(novaCatalog(t, "local"))
	require.Len(t, dbs, 15)
	require.Equal(t, pgDatabase{Service: "analytics-service", Name: "nova_analytics", User: "nova_analytics_svc", Owner: "nova_analytics_owner"}, dbs[0])
	require.Equal(t, []string{"uuid-ossp", "pgcrypto"}, postgresExtensions(novaCatalog(t, "local")))
}

// testPasswords gives every user the password "pw-<user>".
func testPasswords(dbs []pgDatabase) map[string]string {
	out := map[string]string{}
	for _, d := range dbs {
		out[d.User] = "pw-" + d.User
	}
	return out
}

// fixedVerifier is scramVerifier with a fixed salt, for golden files.
func fixedVerifier(t *testing.T) func(string) string {
	return func(pw string) string {
		v, err := scramVerifier(pw, []byte("0123456789abcdef"), scramIterations)
		require.NoError(t, err)
		return v
	}
}

func TestPostgresPlanFreshServerGolden(t *testing.T) {
	dbs := postgresDatabases(novaCatalog(t, "local"))
	fresh := pgState{Roles: map[string]pgRole{}, Databases: map[string]pgDB{
		"postgres":  {Owner: "postgres", ACL: []pgGrant{{"PUBLIC", "CONNECT"}, {"PUBLIC", "TEMPORARY"}}},
		"template1": {Owner: "postgres", ACL: []pgGrant{{"PUBLIC", "CONNECT"}}},
		"template0": {Owner: "postgres"},
	}}
	passwords := testPasswords(dbs)
	var b strings.Builder
	for _, s := range postgresPlan(dbs, fresh, passwords, fixedVerifier(t)) {
		fmt.Fprintf(&b, "-- %s\n%s;\n", s.Change, s.SQL)
	}
	// what the first run then does inside a new database
	for _, s := range databasePlan(dbs[1], &pgDBState{Extensions: []string{"plpgsql"}, SchemaOwner: "pg_database_owner", SchemaUsage: true},
		[]string{"uuid-ossp", "pgcrypto"}) {
		fmt.Fprintf(&b, "-- in %s: %s\n%s;\n", s.DB, s.Change, s.SQL)
	}
	for _, pw := range passwords {
		require.NotContains(t, b.String(), "'"+pw+"'", "no password in any statement")
	}
	golden(t, "postgres-init.sql", []byte(b.String()))
}

func TestPostgresPlan(t *testing.T) {
	dbs := []pgDatabase{{Service: "feed-service", Name: "nova_feed", User: "nova_feed_svc", Owner: "nova_feed_owner"}}
	// the verifier of "s3cret-pw", computed independently (Python hashlib)
	const verifier = "SCRAM-SHA-256$4096:MDEyMzQ1Njc4OWFiY2RlZg==$S9YxkjfxnsMi1Bpgjsqz4mKwjWqDBp3G64qVI5SIQlM=:TykcoKL/E3wDHKYyCsdDmhCr39V0PjTs8LYl0z0t3xs="
	good := pgRole{Login: true, ConnLimit: -1, Verifier: verifier}
	owner := pgRole{ConnLimit: -1}
	roles := func(f func(map[string]pgRole)) map[string]pgRole {
		m := map[string]pgRole{"nova_feed_svc": good, "nova_feed_owner": owner}
		if f != nil {
			f(m)
		}
		return m
	}
	done := map[string]pgDB{
		"nova_feed": {Owner: "nova_feed_owner", ACL: []pgGrant{{"nova_feed_svc", "CONNECT"}}},
		// PUBLIC keeps TEMPORARY on postgres: only CONNECT matters there
		"postgres": {Owner: "postgres", ACL: []pgGrant{{"PUBLIC", "TEMPORARY"}}}, "template1": {Owner: "postgres"},
	}
	dbsWith := func(f func(map[string]pgDB)) map[string]pgDB {
		m := map[string]pgDB{}
		for k, v := range done {
			m[k] = v
		}
		f(m)
		return m
	}
	fake := func(pw string) string { return "VERIFIER(" + strings.ToUpper(pw) + ")" }
	for _, tc := range []struct {
		name     string
		state    pgState
		password string
		want     []string
	}{
		{"converged", pgState{Roles: roles(nil), Databases: done}, "s3cret-pw", nil},
		{"rotated password", pgState{Roles: roles(nil), Databases: done}, "new-pw",
			[]string{`ALTER ROLE "nova_feed_svc" PASSWORD 'VERIFIER(NEW-PW)'`}},
		{"superuser role", pgState{Roles: roles(func(m map[string]pgRole) { r := good; r.Super = true; m["nova_feed_svc"] = r }), Databases: done}, "s3cret-pw",
			[]string{`ALTER ROLE "nova_feed_svc" ` + loginAttrs}},
		{"attributes and password", pgState{Roles: roles(func(m map[string]pgRole) {
			r := good
			r.CreateDB, r.CreateRole, r.Replication, r.BypassRLS, r.ConnLimit, r.ValidUntil = true, true, true, true, 2, "2030-01-01 00:00:00+00"
			m["nova_feed_svc"] = r
		}), Databases: done}, "other",
			[]string{`ALTER ROLE "nova_feed_svc" ` + loginAttrs + ` PASSWORD 'VERIFIER(OTHER)'`}},
		{"owner that can log in", pgState{Roles: roles(func(m map[string]pgRole) {
			m["nova_feed_owner"] = pgRole{Login: true, ConnLimit: -1, Verifier: verifier}
		}), Databases: done}, "s3cret-pw",
			[]string{`ALTER ROLE "nova_feed_owner" ` + ownerAttrs}},
		{"fresh roles, quote in password", pgState{Roles: map[string]pgRole{}, Databases: done}, "it's",
			[]string{`CREATE ROLE "nova_feed_owner" ` + ownerAttrs, `CREATE ROLE "nova_feed_svc" ` + loginAttrs + ` PASSWORD 'VERIFIER(IT''S)'`}},
		{"hand-made memberships", pgState{Roles: roles(nil), Databases: done, Members: []pgMembership{
			{Role: "nova_user_svc", Member: "nova_feed_svc"}, {Role: "nova_feed_owner", Member: "nova_feed_svc"}}}, "s3cret-pw",
			[]string{`REVOKE "nova_user_svc" FROM "nova_feed_svc"`, `REVOKE "nova_feed_owner" FROM "nova_feed_svc"`}},
		{"old layout: the login role owns the database", pgState{Roles: roles(nil), Databases: dbsWith(func(m map[string]pgDB) {
			m["nova_feed"] = pgDB{Owner: "nova_feed_svc"}
		})}, "s3cret-pw",
			[]string{`ALTER DATABASE "nova_feed" OWNER TO "nova_feed_owner"`, `GRANT CONNECT ON DATABASE "nova_feed" TO "nova_feed_svc"`}},
		{"others may connect", pgState{Roles: roles(nil), Databases: dbsWith(func(m map[string]pgDB) {
			m["nova_feed"] = pgDB{Owner: "nova_feed_owner", ACL: []pgGrant{{"PUBLIC", "CONNECT"}, {"PUBLIC", "TEMPORARY"},
				{"nova_feed_svc", "CONNECT"}, {"nova_feed_svc", "CREATE"}, {"nova_user_svc", "CONNECT"}}}
			m["template1"] = pgDB{Owner: "postgres", ACL: []pgGrant{{"PUBLIC", "CONNECT"}}}
		})}, "s3cret-pw",
			[]string{`REVOKE ALL ON DATABASE "nova_feed" FROM PUBLIC`, `REVOKE ALL ON DATABASE "nova_feed" FROM "nova_user_svc"`,
				`REVOKE CREATE ON DATABASE "nova_feed" FROM "nova_feed_svc"`, `REVOKE CONNECT ON DATABASE "template1" FROM PUBLIC`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, s := range postgresPlan(dbs, tc.state, map[string]string{"nova_feed_svc": tc.password}, fake) {
				got = append(got, s.SQL)
				require.NotContains(t, s.Change, tc.password, "change lines never hold secrets")
				require.NotContains(t, s.SQL, "'"+tc.password+"'", "statements never hold passwords")
			}
			require.Equal(t, tc.want, got)
		})
	}
}

func TestPostgresPlanDDL(t *testing.T) {
	d := pgDatabase{Service: "feed-service", Name: "nova_feed", User: "nova_feed_svc", Owner: "nova_feed_owner", DDL: true}
	const verifier = "SCRAM-SHA-256$4096:MDEyMzQ1Njc4OWFiY2RlZg==$S9YxkjfxnsMi1Bpgjsqz4mKwjWqDBp3G64qVI5SIQlM=:TykcoKL/E3wDHKYyCsdDmhCr39V0PjTs8LYl0z0t3xs="
	st := pgState{
		Roles:     map[string]pgRole{"nova_feed_svc": {Login: true, ConnLimit: -1, Verifier: verifier}, "nova_feed_owner": {ConnLimit: -1}},
		Databases: map[string]pgDB{"nova_feed": {Owner: "nova_feed_owner", ACL: []pgGrant{{"nova_feed_svc", "CONNECT"}}}},
		// a stale setting elsewhere goes; the wanted one is added
		RoleSettings: map[[2]string]string{{"nova_feed_svc", ""}: "nova_user_svc"},
	}
	sqls := func(st pgState, d pgDatabase) []string {
		var out []string
		for _, s := range postgresPlan([]pgDatabase{d}, st, map[string]string{"nova_feed_svc": "s3cret-pw"}, nil) {
			out = append(out, s.SQL)
		}
		return out
	}
	require.Equal(t, []string{
		`GRANT "nova_feed_owner" TO "nova_feed_svc"`,
		`ALTER ROLE "nova_feed_svc" RESET role`,
		`ALTER ROLE "nova_feed_svc" IN DATABASE "nova_feed" SET role TO "nova_feed_owner"`,
	}, sqls(st, d))

	st.Members = []pgMembership{{Role: "nova_feed_owner", Member: "nova_feed_svc"}}
	st.RoleSettings = map[[2]string]string{{"nova_feed_svc", "nova_feed"}: "nova_feed_owner"}
	require.Empty(t, sqls(st, d), "converged with ddl")
	d.DDL = false
	require.Equal(t, []string{
		`REVOKE "nova_feed_owner" FROM "nova_feed_svc"`,
		`ALTER ROLE "nova_feed_svc" IN DATABASE "nova_feed" RESET role`,
	}, sqls(st, d), "ddl withdrawn")

	// inside the database: CREATE and TRUNCATE come with the membership
	have := pgDBState{SchemaOwner: "pg_database_owner", SchemaUsage: true, SchemaCreate: true, TablesExtra: 2,
		DefaultTables: tablePrivileges, DefaultSequences: sequencePrivileges}
	d.DDL = true
	require.Empty(t, databasePlan(d, &have, nil))
	d.DDL = false
	require.Len(t, databasePlan(d, &have, nil), 2)
}

func TestPostgresPlanLogLines(t *testing.T) {
	dbs := []pgDatabase{{Service: "feed-service", Name: "nova_feed", User: "nova_feed_svc", Owner: "nova_feed_owner"}}
	r := pgRole{Login: true, Super: true, ConnLimit: 3, ValidUntil: "2030-01-01 00:00:00+00"}
	plan := postgresPlan(dbs, pgState{Roles: map[string]pgRole{"nova_feed_svc": r, "nova_feed_owner": {ConnLimit: -1}},
		Databases: map[string]pgDB{"nova_feed": {Owner: "nova_feed_owner", ACL: []pgGrant{{"nova_feed_svc", "CONNECT"}}}}},
		map[string]string{"nova_feed_svc": "x"}, func(string) string { return "v" })
	require.Len(t, plan, 1)
	require.Equal(t, "reset role nova_feed_svc: superuser true -> false, connection limit 3 -> none, valid until 2030-01-01 00:00:00+00 -> always, new password", plan[0].Change)
}

func TestDatabasePlan(t *testing.T) {
	d := pgDatabase{Service: "feed-service", Name: "nova_feed", User: "nova_feed_svc", Owner: "nova_feed_owner"}
	converged := pgDBState{Extensions: []string{"plpgsql", "pgcrypto"}, SchemaOwner: "pg_database_owner", SchemaUsage: true,
		DefaultTables: tablePrivileges, DefaultSequences: sequencePrivileges}
	sqls := func(st *pgDBState) []string {
		var out []string
		for _, s := range databasePlan(d, st, []string{"pgcrypto"}) {
			require.Equal(t, "nova_feed", s.DB)
			out = append(out, s.SQL)
		}
		return out
	}
	require.Empty(t, sqls(&converged))

	old := converged // the login role ran the migrations itself and owns the tables
	old.OwnedByLogin, old.TablesExtra, old.DefaultTables, old.DefaultSequences = 3, 2, nil, nil
	require.Equal(t, []string{
		`REASSIGN OWNED BY "nova_feed_svc" TO "nova_feed_owner"`,
		`GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO "nova_feed_svc"`,
		`REVOKE TRUNCATE, REFERENCES, TRIGGER ON ALL TABLES IN SCHEMA public FROM PUBLIC, "nova_feed_svc"`,
		`GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO "nova_feed_svc"`,
		`ALTER DEFAULT PRIVILEGES FOR ROLE "nova_feed_owner" IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO "nova_feed_svc"`,
		`ALTER DEFAULT PRIVILEGES FOR ROLE "nova_feed_owner" IN SCHEMA public GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO "nova_feed_svc"`,
	}, sqls(&old))

	loose := converged // hand-made grants: CREATE on the schema, TRUNCATE by default
	loose.SchemaCreate, loose.SchemaUsage, loose.SchemaOwner = true, false, "postgres"
	loose.DefaultTables = []string{"DELETE", "INSERT", "SELECT", "TRUNCATE", "UPDATE"}
	loose.TablesMissing, loose.SequencesMissing = 1, 1
	require.Equal(t, []string{
		`ALTER SCHEMA public OWNER TO "nova_feed_owner"`,
		`GRANT USAGE ON SCHEMA public TO "nova_feed_svc"`,
		`REVOKE CREATE ON SCHEMA public FROM PUBLIC, "nova_feed_svc"`,
		`GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO "nova_feed_svc"`,
		`GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO "nova_feed_svc"`,
		`ALTER DEFAULT PRIVILEGES FOR ROLE "nova_feed_owner" IN SCHEMA public REVOKE ALL ON TABLES FROM "nova_feed_svc"`,
		`ALTER DEFAULT PRIVILEGES FOR ROLE "nova_feed_owner" IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO "nova_feed_svc"`,
	}, sqls(&loose))

	// nothing observed (--check before the first run): the fresh database's plan
	require.Equal(t, []string{
		`CREATE EXTENSION IF NOT EXISTS "pgcrypto"`,
		`ALTER DEFAULT PRIVILEGES FOR ROLE "nova_feed_owner" IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO "nova_feed_svc"`,
		`ALTER DEFAULT PRIVILEGES FOR ROLE "nova_feed_owner" IN SCHEMA public GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO "nova_feed_svc"`,
	}, sqls(nil))
}

func TestExtensionPlan(t *testing.T) {
	require.Empty(t, extensionPlan("db", []string{"uuid-ossp", "pgcrypto"}, []string{"plpgsql", "pgcrypto", "uuid-ossp"}))
	got := extensionPlan("db", []string{"uuid-ossp", "pgcrypto"}, []string{"plpgsql", "pgcrypto"})
	require.Equal(t, []pgStmt{{DB: "db", SQL: `CREATE EXTENSION IF NOT EXISTS "uuid-ossp"`, Change: "created extension uuid-ossp in db"}}, got)
}

func TestRedact(t *testing.T) {
	require.Equal(t, `ALTER ROLE "u" PASSWORD '***'`, redact(pgStmt{SQL: `ALTER ROLE "u" PASSWORD 'SCRAM-SHA-256$4096:abc'`}))
	require.Equal(t, `REVOKE ALL ON DATABASE "d" FROM PUBLIC`, redact(pgStmt{SQL: `REVOKE ALL ON DATABASE "d" FROM PUBLIC`}))
}
