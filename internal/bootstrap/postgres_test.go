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
	require.Equal(t, pgDatabase{Service: "analytics-service", Name: "nova_analytics", User: "nova_analytics_svc"}, dbs[0])
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

func TestPostgresPlanFreshServerGolden(t *testing.T) {
	dbs := postgresDatabases(novaCatalog(t, "local"))
	fresh := pgState{Roles: map[string]pgRole{}, Databases: map[string]pgDB{
		"postgres":  {Owner: "postgres", PublicConnect: true, PublicPrivileged: true},
		"template1": {Owner: "postgres", PublicConnect: true, PublicPrivileged: true},
		"template0": {Owner: "postgres"},
	}}
	var b strings.Builder
	for _, s := range postgresPlan(dbs, fresh, testPasswords(dbs)) {
		fmt.Fprintf(&b, "-- %s\n%s;\n", s.Change, s.SQL)
	}
	for _, s := range extensionPlan("nova_auth", []string{"uuid-ossp", "pgcrypto"}, []string{"plpgsql"}) {
		fmt.Fprintf(&b, "-- in %s: %s\n%s;\n", s.DB, s.Change, s.SQL)
	}
	golden(t, "postgres-init.sql", []byte(b.String()))
}

func TestPostgresPlan(t *testing.T) {
	dbs := []pgDatabase{{Service: "feed-service", Name: "nova_feed", User: "nova_feed_svc"}}
	// the verifier of "s3cret-pw", computed independently (Python hashlib)
	const verifier = "SCRAM-SHA-256$4096:MDEyMzQ1Njc4OWFiY2RlZg==$S9YxkjfxnsMi1Bpgjsqz4mKwjWqDBp3G64qVI5SIQlM=:TykcoKL/E3wDHKYyCsdDmhCr39V0PjTs8LYl0z0t3xs="
	good := pgRole{Login: true, Verifier: verifier}
	done := map[string]pgDB{
		"nova_feed": {Owner: "nova_feed_svc"},
		// PUBLIC keeps TEMPORARY on postgres: only CONNECT matters there
		"postgres": {Owner: "postgres", PublicPrivileged: true}, "template1": {Owner: "postgres"},
	}
	with := func(f func(map[string]pgDB)) map[string]pgDB {
		m := map[string]pgDB{}
		for k, v := range done {
			m[k] = v
		}
		f(m)
		return m
	}
	for _, tc := range []struct {
		name     string
		state    pgState
		password string
		want     []string
	}{
		{"converged", pgState{map[string]pgRole{"nova_feed_svc": good}, done}, "s3cret-pw", nil},
		{"rotated password", pgState{map[string]pgRole{"nova_feed_svc": good}, done}, "new-pw",
			[]string{`ALTER ROLE "nova_feed_svc" PASSWORD 'new-pw'`}},
		{"superuser role", pgState{map[string]pgRole{"nova_feed_svc": {Login: true, Super: true, Verifier: verifier}}, done}, "s3cret-pw",
			[]string{`ALTER ROLE "nova_feed_svc" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD 's3cret-pw'`}},
		{"role with CREATEDB", pgState{map[string]pgRole{"nova_feed_svc": {Login: true, CreateDB: true, Verifier: verifier}}, done}, "s3cret-pw",
			[]string{`ALTER ROLE "nova_feed_svc" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD 's3cret-pw'`}},
		{"quote in password", pgState{map[string]pgRole{}, done}, "it's",
			[]string{`CREATE ROLE "nova_feed_svc" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD 'it''s'`}},
		{"foreign owner", pgState{map[string]pgRole{"nova_feed_svc": good}, with(func(m map[string]pgDB) { m["nova_feed"] = pgDB{Owner: "postgres"} })}, "s3cret-pw",
			[]string{`ALTER DATABASE "nova_feed" OWNER TO "nova_feed_svc"`}},
		{"public can connect", pgState{map[string]pgRole{"nova_feed_svc": good}, with(func(m map[string]pgDB) {
			m["nova_feed"] = pgDB{Owner: "nova_feed_svc", PublicPrivileged: true}
			m["template1"] = pgDB{Owner: "postgres", PublicConnect: true, PublicPrivileged: true}
		})}, "s3cret-pw",
			[]string{`REVOKE ALL ON DATABASE "nova_feed" FROM PUBLIC`, `REVOKE CONNECT ON DATABASE "template1" FROM PUBLIC`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, s := range postgresPlan(dbs, tc.state, map[string]string{"nova_feed_svc": tc.password}) {
				got = append(got, s.SQL)
				require.NotContains(t, s.Change, tc.password, "change lines never hold secrets")
			}
			require.Equal(t, tc.want, got)
		})
	}
}

func TestExtensionPlan(t *testing.T) {
	require.Empty(t, extensionPlan("db", []string{"uuid-ossp", "pgcrypto"}, []string{"plpgsql", "pgcrypto", "uuid-ossp"}))
	got := extensionPlan("db", []string{"uuid-ossp", "pgcrypto"}, []string{"plpgsql", "pgcrypto"})
	require.Equal(t, []pgStmt{{DB: "db", SQL: `CREATE EXTENSION IF NOT EXISTS "uuid-ossp"`, Change: "created extension uuid-ossp in db"}}, got)
}

func TestScramMatches(t *testing.T) {
	const verifier = "SCRAM-SHA-256$4096:MDEyMzQ1Njc4OWFiY2RlZg==$S9YxkjfxnsMi1Bpgjsqz4mKwjWqDBp3G64qVI5SIQlM=:TykcoKL/E3wDHKYyCsdDmhCr39V0PjTs8LYl0z0t3xs="
	require.True(t, scramMatches(verifier, "s3cret-pw"))
	require.False(t, scramMatches(verifier, "s3cret-pW"))
	require.False(t, scramMatches("", "s3cret-pw"))
	require.False(t, scramMatches("md5abcdef", "s3cret-pw"))
	require.False(t, scramMatches("SCRAM-SHA-256$x:MDEy$a:b", "s3cret-pw"))
}

func TestRedact(t *testing.T) {
	require.Equal(t, `ALTER ROLE "u" PASSWORD '***'`, redact(pgStmt{SQL: `ALTER ROLE "u" PASSWORD 'secret'`}))
	require.Equal(t, `REVOKE ALL ON DATABASE "d" FROM PUBLIC`, redact(pgStmt{SQL: `REVOKE ALL ON DATABASE "d" FROM PUBLIC`}))
}
