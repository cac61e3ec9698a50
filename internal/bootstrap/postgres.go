package bootstrap

import (
	"context"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5"
	"golang.org/x/sync/errgroup"

	"github.com/novadev/novadev/internal/catalog"
)

// PostgresInit creates every service's database and least-privilege user:
// LOGIN without SUPERUSER, CREATEDB, CREATEROLE, REPLICATION or BYPASSRLS,
// owner of its own database only, CONNECT revoked from PUBLIC on every
// database (so a user cannot enter another service's), and the postgres
// store's extensions in every service database. A rotated password is
// applied on the next run; an unchanged one is left alone.
type PostgresInit struct{}

// Name returns catalog.StepPostgresInit.
func (PostgresInit) Name() string { return catalog.StepPostgresInit }

// pgDatabase is one service's database and its owner.
type pgDatabase struct {
	Service, Name, User string
}

// postgresDatabases returns the databases of the active services, sorted by
// service.
func postgresDatabases(c *catalog.Catalog) []pgDatabase {
	var out []pgDatabase
	for _, s := range c.ActiveServices() {
		if s.Database != nil {
			out = append(out, pgDatabase{Service: s.Name, Name: s.Database.Name, User: s.Database.User})
		}
	}
	return out
}

// postgresExtensions returns the extensions of the (first) postgres store.
func postgresExtensions(c *catalog.Catalog) []string {
	for _, st := range c.StoresOfKind(catalog.StorePostgres) {
		return st.Extensions
	}
	return nil
}

// pgRole is the observed state of a role.
type pgRole struct {
	Login, Super, CreateDB, CreateRole, Replication, BypassRLS bool
	// Verifier is pg_authid.rolpassword (SCRAM-SHA-256$... or empty).
	Verifier string
}

// leastPrivilege reports whether the role has exactly the attributes we want.
func (r pgRole) leastPrivilege() bool {
	return r.Login && !r.Super && !r.CreateDB && !r.CreateRole && !r.Replication && !r.BypassRLS
}

// pgDB is the observed state of a database.
type pgDB struct {
	Owner string
	// PublicConnect: PUBLIC may connect.
	PublicConnect bool
	// PublicPrivileged: PUBLIC holds CONNECT, CREATE or TEMPORARY on it.
	PublicPrivileged bool
}

// pgState is what postgres-init observes before planning.
type pgState struct {
	Roles     map[string]pgRole
	Databases map[string]pgDB
}

// pgStmt is one planned statement. DB is the database to run it in ("" for
// the maintenance database postgres); Change says what it does for the log,
// without secrets.
type pgStmt struct {
	DB     string
	SQL    string
	Change string
}

// roleAttrs are the attributes every service user gets.
const roleAttrs = "LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS"

// postgresPlan returns the statements that bring st to the wanted state,
// in order; nothing when st already is it. passwords maps users to their
// passwords.
func postgresPlan(dbs []pgDatabase, st pgState, passwords map[string]string) []pgStmt {
	var out []pgStmt
	for _, d := range dbs {
		pw := passwords[d.User]
		role, exists := st.Roles[d.User]
		switch {
		case !exists:
			out = append(out, pgStmt{SQL: "CREATE ROLE " + quoteIdent(d.User) + " " + roleAttrs + " PASSWORD " + quoteLiteral(pw),
				Change: "created role " + d.User})
		case !role.leastPrivilege():
			out = append(out, pgStmt{SQL: "ALTER ROLE " + quoteIdent(d.User) + " " + roleAttrs + " PASSWORD " + quoteLiteral(pw),
				Change: "reset role " + d.User + " to least privilege"})
		case !scramMatches(role.Verifier, pw):
			out = append(out, pgStmt{SQL: "ALTER ROLE " + quoteIdent(d.User) + " PASSWORD " + quoteLiteral(pw),
				Change: "set new password of " + d.User})
		}
		db, exists := st.Databases[d.Name]
		switch {
		case !exists:
			// CREATE DATABASE cannot run inside a multi-statement query.
			out = append(out, pgStmt{SQL: "CREATE DATABASE " + quoteIdent(d.Name) + " OWNER " + quoteIdent(d.User),
				Change: "created database " + d.Name + " owned by " + d.User})
			db.PublicPrivileged = true // PUBLIC may connect to a new database
		case db.Owner != d.User:
			out = append(out, pgStmt{SQL: "ALTER DATABASE " + quoteIdent(d.Name) + " OWNER TO " + quoteIdent(d.User),
				Change: "database " + d.Name + " now owned by " + d.User + " (was " + db.Owner + ")"})
		}
		if db.PublicPrivileged {
			out = append(out, pgStmt{SQL: "REVOKE ALL ON DATABASE " + quoteIdent(d.Name) + " FROM PUBLIC",
				Change: "revoked PUBLIC's privileges on " + d.Name})
		}
	}
	var open []string
	for _, name := range []string{"postgres", "template1"} {
		if db, ok := st.Databases[name]; ok && db.PublicConnect {
			open = append(open, quoteIdent(name))
		}
	}
	if len(open) > 0 {
		out = append(out, pgStmt{SQL: "REVOKE CONNECT ON DATABASE " + strings.Join(open, ", ") + " FROM PUBLIC",
			Change: "revoked PUBLIC's CONNECT on " + strings.Join(open, ", ")})
	}
	return out
}

// extensionPlan returns the CREATE EXTENSION statements for db given the
// extensions already installed.
func extensionPlan(db string, want, have []string) []pgStmt {
	var out []pgStmt
	for _, e := range want {
		if !slices.Contains(have, e) {
			out = append(out, pgStmt{DB: db, SQL: "CREATE EXTENSION IF NOT EXISTS " + quoteIdent(e),
				Change: "created extension " + e + " in " + db})
		}
	}
	return out
}

// Run implements Step.
func (PostgresInit) Run(ctx context.Context, c *catalog.Catalog, t Targets, log func(string, ...any)) error {
	if t.Postgres == "" {
		return fmt.Errorf("postgres-init: no PostgreSQL address (%s)", EnvPostgres)
	}
	superPW, err := t.secret(catalog.SuperuserPasswordVar)
	if err != nil {
		return fmt.Errorf("postgres-init: superuser password: %w", err)
	}
	dbs := postgresDatabases(c)
	passwords := map[string]string{}
	var missing []string
	for _, d := range dbs {
		pw, err := t.secret(catalog.PasswordVar(d.User))
		if err != nil {
			missing = append(missing, catalog.PasswordVar(d.User))
			continue
		}
		passwords[d.User] = pw
	}
	if len(missing) > 0 {
		return fmt.Errorf("postgres-init: passwords not set: %s", strings.Join(missing, ", "))
	}

	conn, err := pgConnect(ctx, t, PostgresSuperuser, superPW, "postgres")
	if err != nil {
		return fmt.Errorf("postgres-init: %w", err)
	}
	defer conn.Close(context.Background())
	st, err := observePostgres(ctx, conn, dbs)
	if err != nil {
		return fmt.Errorf("postgres-init: observe: %w", err)
	}
	changes := 0
	for _, s := range postgresPlan(dbs, st, passwords) {
		if _, err := conn.Exec(ctx, s.SQL); err != nil {
			return fmt.Errorf("postgres-init: %s: %w", redact(s), err)
		}
		log("%s", s.Change)
		changes++
	}

	// one connection per database: run a few at once
	exts := postgresExtensions(c)
	var mu sync.Mutex
	locked := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		log(format, args...)
		changes++
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(4)
	for _, d := range dbs {
		if len(exts) == 0 {
			break
		}
		g.Go(func() error {
			if err := ensureExtensions(gctx, t, superPW, d.Name, exts, locked); err != nil {
				return fmt.Errorf("postgres-init: %s: %w", d.Name, err)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	if changes == 0 {
		log("%d databases and users already as the catalog says; nothing changed", len(dbs))
	}
	return nil
}

func ensureExtensions(ctx context.Context, t Targets, superPW, db string, exts []string, log func(string, ...any)) error {
	conn, err := pgConnect(ctx, t, PostgresSuperuser, superPW, db)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	rows, err := conn.Query(ctx, "SELECT extname FROM pg_extension")
	if err != nil {
		return err
	}
	have, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return err
	}
	for _, s := range extensionPlan(db, exts, have) {
		if _, err := conn.Exec(ctx, s.SQL); err != nil {
			return fmt.Errorf("%s: %w", s.SQL, err)
		}
		log("%s", s.Change)
	}
	return nil
}

func observePostgres(ctx context.Context, conn *pgx.Conn, dbs []pgDatabase) (pgState, error) {
	st := pgState{Roles: map[string]pgRole{}, Databases: map[string]pgDB{}}
	var users []string
	for _, d := range dbs {
		users = append(users, d.User)
	}
	rows, err := conn.Query(ctx, `SELECT rolname, rolcanlogin, rolsuper, rolcreatedb, rolcreaterole,
		rolreplication, rolbypassrls, coalesce(rolpassword, '') FROM pg_authid WHERE rolname = ANY($1)`, users)
	if err != nil {
		return st, err
	}
	for rows.Next() {
		var name string
		var r pgRole
		if err := rows.Scan(&name, &r.Login, &r.Super, &r.CreateDB, &r.CreateRole, &r.Replication, &r.BypassRLS, &r.Verifier); err != nil {
			return st, err
		}
		st.Roles[name] = r
	}
	if err := rows.Err(); err != nil {
		return st, err
	}
	rows, err = conn.Query(ctx, `SELECT datname, pg_get_userbyid(datdba),
		has_database_privilege('public', oid, 'CONNECT'),
		has_database_privilege('public', oid, 'CONNECT')
		OR has_database_privilege('public', oid, 'CREATE')
		OR has_database_privilege('public', oid, 'TEMPORARY') FROM pg_database`)
	if err != nil {
		return st, err
	}
	for rows.Next() {
		var name string
		var d pgDB
		if err := rows.Scan(&name, &d.Owner, &d.PublicConnect, &d.PublicPrivileged); err != nil {
			return st, err
		}
		st.Databases[name] = d
	}
	return st, rows.Err()
}

// pgConnect opens one connection as user to db at t.Postgres, through t.Dial
// when set (names are then resolved by the dialer, not here).
func pgConnect(ctx context.Context, t Targets, user, password, db string) (*pgx.Conn, error) {
	host, port, err := net.SplitHostPort(t.Postgres)
	if err != nil {
		return nil, fmt.Errorf("postgres address %q: %w", t.Postgres, err)
	}
	u := url.URL{Scheme: "postgres", User: url.UserPassword(user, password), Host: net.JoinHostPort(host, port),
		Path: "/" + db, RawQuery: "sslmode=disable&connect_timeout=10"}
	cfg, err := pgx.ParseConfig(u.String())
	if err != nil {
		return nil, err
	}
	if t.Dial != nil {
		cfg.DialFunc = t.Dial
		cfg.LookupFunc = func(_ context.Context, host string) ([]string, error) { return []string{host}, nil }
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to %s as %s: %w", db, user, err)
	}
	return conn, nil
}

// scramMatches reports whether password matches a PostgreSQL SCRAM-SHA-256
// verifier ("SCRAM-SHA-256$<iter>:<salt>$<StoredKey>:<ServerKey>"), so an
// unchanged password is not rewritten on every run. Passwords are used as
// bytes (no SASLprep): a non-ASCII password may only cause a needless reset.
func scramMatches(verifier, password string) bool {
	rest, ok := strings.CutPrefix(verifier, "SCRAM-SHA-256$")
	if !ok {
		return false
	}
	params, keys, ok := strings.Cut(rest, "$")
	if !ok {
		return false
	}
	iterS, saltS, ok1 := strings.Cut(params, ":")
	storedS, serverS, ok2 := strings.Cut(keys, ":")
	if !ok1 || !ok2 {
		return false
	}
	iter, err1 := strconv.Atoi(iterS)
	salt, err2 := base64.StdEncoding.DecodeString(saltS)
	stored, err3 := base64.StdEncoding.DecodeString(storedS)
	server, err4 := base64.StdEncoding.DecodeString(serverS)
	if err := errors.Join(err1, err2, err3, err4); err != nil || iter <= 0 {
		return false
	}
	salted, err := pbkdf2.Key(sha256.New, password, salt, iter, sha256.Size)
	if err != nil {
		return false
	}
	clientKey := hmacSHA256(salted, "Client Key")
	storedKey := sha256.Sum256(clientKey)
	return hmac.Equal(storedKey[:], stored) && hmac.Equal(hmacSHA256(salted, "Server Key"), server)
}

func hmacSHA256(key []byte, msg string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(msg))
	return m.Sum(nil)
}

// quoteIdent quotes a PostgreSQL identifier.
func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// quoteLiteral quotes a PostgreSQL string literal (standard_conforming_strings).
func quoteLiteral(s string) string { return `'` + strings.ReplaceAll(s, `'`, `''`) + `'` }

// redact returns the statement with any password literal hidden.
func redact(s pgStmt) string {
	if i := strings.Index(s.SQL, " PASSWORD '"); i >= 0 {
		return s.SQL[:i] + " PASSWORD '***'"
	}
	return s.SQL
}
