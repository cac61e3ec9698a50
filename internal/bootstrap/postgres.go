package bootstrap

import (
	"context"
	"fmt"
	"maps"
	"net"
	"net/url"
	"slices"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5"
	"golang.org/x/sync/errgroup"

	"github.com/novadev/novadev/internal/catalog"
)

// PostgresInit gives every service two roles and its own database:
//
//   - an owner role (<database>_owner) that cannot log in owns the database,
//     its schema and every object the migrations create (the migrations
//     step connects as the superuser and SET ROLEs it);
//   - the service's login role gets what a running service needs and no
//     more: CONNECT on its own database, USAGE on schema public, SELECT,
//     INSERT, UPDATE, DELETE on the owner's tables and USAGE, SELECT, UPDATE
//     on its sequences (existing ones by GRANT, future ones by ALTER DEFAULT
//     PRIVILEGES FOR ROLE owner). It owns nothing, so it has no DDL.
//
// Every run checks and corrects: role attributes (LOGIN/NOLOGIN, no
// SUPERUSER, CREATEDB, CREATEROLE, REPLICATION or BYPASSRLS, no connection
// limit, no expiry), memberships (a service role is a member of no role and
// has no members), who may connect to each database (only its login role;
// PUBLIC may not connect to postgres or template1 either), ownership and the
// grants above, and the postgres store's extensions. Passwords are sent as
// SCRAM-SHA-256 verifiers computed here, never in plain text; an unchanged
// password is not reset.
type PostgresInit struct {
	Options
}

// Name returns catalog.StepPostgresInit.
func (PostgresInit) Name() string { return catalog.StepPostgresInit }

// pgDatabase is one service's database, its login role and its owner role.
// DDL (catalog: database.ddl) makes the login role act as the owner.
type pgDatabase struct {
	Service, Name, User, Owner string
	DDL                        bool
}

// OwnerRole is the role that owns a service's database and runs its
// migrations: "<database>_owner". It cannot log in.
func OwnerRole(db *catalog.Database) string { return db.Name + "_owner" }

// postgresDatabases returns the databases of the active services, sorted by
// service.
func postgresDatabases(c *catalog.Catalog) []pgDatabase {
	var out []pgDatabase
	for _, s := range c.ActiveServices() {
		if s.Database != nil {
			out = append(out, pgDatabase{Service: s.Name, Name: s.Database.Name, User: s.Database.User, Owner: OwnerRole(s.Database), DDL: s.Database.DDL})
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

// pgRole is the observed state of a role (pg_authid).
type pgRole struct {
	Login, Super, CreateDB, CreateRole, Replication, BypassRLS bool
	// ConnLimit is rolconnlimit; -1 is none.
	ConnLimit int
	// ValidUntil is rolvaliduntil as text; "" for none or infinity.
	ValidUntil string
	// Verifier is pg_authid.rolpassword (SCRAM-SHA-256$... or empty).
	Verifier string
}

// roleDiff lists how r differs from the wanted attributes (login or owner
// role), for the log line; empty when it does not.
func (r pgRole) roleDiff(login bool) []string {
	var out []string
	flag := func(name string, have, want bool) {
		if have != want {
			out = append(out, fmt.Sprintf("%s %t -> %t", name, have, want))
		}
	}
	flag("login", r.Login, login)
	flag("superuser", r.Super, false)
	flag("createdb", r.CreateDB, false)
	flag("createrole", r.CreateRole, false)
	flag("replication", r.Replication, false)
	flag("bypassrls", r.BypassRLS, false)
	if r.ConnLimit != -1 {
		out = append(out, fmt.Sprintf("connection limit %d -> none", r.ConnLimit))
	}
	if r.ValidUntil != "" {
		out = append(out, fmt.Sprintf("valid until %s -> always", r.ValidUntil))
	}
	if !login && r.Verifier != "" {
		out = append(out, "password -> none")
	}
	return out
}

// pgGrant is one privilege on a database (from its ACL, the default ACL
// when none was set); Grantee is "PUBLIC" for everyone.
type pgGrant struct {
	Grantee, Privilege string
}

// pgDB is the observed state of a database.
type pgDB struct {
	Owner string
	// ACL holds every grant on the database, the owner's own excluded.
	ACL []pgGrant
}

// pgMembership says Member is a member of Role.
type pgMembership struct {
	Role, Member string
}

// pgState is what postgres-init observes before planning.
type pgState struct {
	Roles     map[string]pgRole
	Databases map[string]pgDB
	// Members are the memberships that involve a service role.
	Members []pgMembership
	// RoleSettings maps a service role and a database ("" for all) to the
	// role its sessions start as (ALTER ROLE … IN DATABASE … SET role).
	RoleSettings map[[2]string]string
}

// pgStmt is one planned statement. DB is the database to run it in ("" for
// the maintenance database postgres); Change says what it does for the log,
// without secrets.
type pgStmt struct {
	DB     string
	SQL    string
	Change string
}

// The attributes of the two roles of a service.
const (
	loginAttrs = "LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS CONNECTION LIMIT -1 VALID UNTIL 'infinity'"
	ownerAttrs = "NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS CONNECTION LIMIT -1 VALID UNTIL 'infinity' PASSWORD NULL"
)

// postgresPlan returns the cluster-wide statements (roles, memberships,
// databases and who may connect to them) that bring st to the wanted state,
// in order; nothing when st already is it. passwords maps login roles to
// their passwords; verifier turns a password into a SCRAM verifier (random
// salt: only called for a password that must be set).
func postgresPlan(dbs []pgDatabase, st pgState, passwords map[string]string, verifier func(string) string) []pgStmt {
	var out []pgStmt
	for _, d := range dbs {
		if role, ok := st.Roles[d.Owner]; !ok {
			out = append(out, pgStmt{SQL: "CREATE ROLE " + quoteIdent(d.Owner) + " " + ownerAttrs,
				Change: "created owner role " + d.Owner + " (cannot log in)"})
		} else if diff := role.roleDiff(false); len(diff) > 0 {
			out = append(out, pgStmt{SQL: "ALTER ROLE " + quoteIdent(d.Owner) + " " + ownerAttrs,
				Change: "reset owner role " + d.Owner + ": " + strings.Join(diff, ", ")})
		}
		pw := passwords[d.User]
		role, exists := st.Roles[d.User]
		switch diff := role.roleDiff(true); {
		case !exists:
			out = append(out, pgStmt{SQL: "CREATE ROLE " + quoteIdent(d.User) + " " + loginAttrs + " PASSWORD " + quoteLiteral(verifier(pw)),
				Change: "created role " + d.User})
		case len(diff) > 0 && !scramMatches(role.Verifier, pw):
			out = append(out, pgStmt{SQL: "ALTER ROLE " + quoteIdent(d.User) + " " + loginAttrs + " PASSWORD " + quoteLiteral(verifier(pw)),
				Change: "reset role " + d.User + ": " + strings.Join(diff, ", ") + ", new password"})
		case len(diff) > 0:
			out = append(out, pgStmt{SQL: "ALTER ROLE " + quoteIdent(d.User) + " " + loginAttrs,
				Change: "reset role " + d.User + ": " + strings.Join(diff, ", ")})
		case !scramMatches(role.Verifier, pw):
			out = append(out, pgStmt{SQL: "ALTER ROLE " + quoteIdent(d.User) + " PASSWORD " + quoteLiteral(verifier(pw)),
				Change: "set new password of " + d.User})
		}
	}
	// the one membership there may be: with ddl, the login role is a
	// member of the owner and its sessions in the database start as the
	// owner, so what it creates belongs to the owner like the migrations'
	allowed := map[pgMembership]bool{}
	for _, d := range dbs {
		if d.DDL {
			m := pgMembership{Role: d.Owner, Member: d.User}
			allowed[m] = true
			if !slices.Contains(st.Members, m) {
				out = append(out, pgStmt{SQL: "GRANT " + quoteIdent(d.Owner) + " TO " + quoteIdent(d.User),
					Change: "made " + d.User + " a member of " + d.Owner + " (database.ddl)"})
			}
		}
	}
	for _, m := range st.Members {
		if !allowed[m] {
			out = append(out, pgStmt{SQL: "REVOKE " + quoteIdent(m.Role) + " FROM " + quoteIdent(m.Member),
				Change: "revoked membership of " + m.Member + " in " + m.Role})
		}
	}
	want := map[[2]string]string{}
	for _, d := range dbs {
		if d.DDL {
			want[[2]string{d.User, d.Name}] = d.Owner
		}
	}
	keys := slices.SortedFunc(maps.Keys(st.RoleSettings), func(a, b [2]string) int {
		return strings.Compare(a[0]+"\x00"+a[1], b[0]+"\x00"+b[1])
	})
	for _, k := range keys {
		if want[k] == "" {
			in := ""
			if k[1] != "" {
				in = " IN DATABASE " + quoteIdent(k[1])
			}
			out = append(out, pgStmt{SQL: "ALTER ROLE " + quoteIdent(k[0]) + in + " RESET role",
				Change: "sessions of " + k[0] + " no longer start as " + st.RoleSettings[k]})
		}
	}
	for _, d := range dbs {
		k := [2]string{d.User, d.Name}
		if d.DDL && st.RoleSettings[k] != d.Owner {
			out = append(out, pgStmt{SQL: "ALTER ROLE " + quoteIdent(d.User) + " IN DATABASE " + quoteIdent(d.Name) + " SET role TO " + quoteIdent(d.Owner),
				Change: "sessions of " + d.User + " in " + d.Name + " start as " + d.Owner + " (database.ddl)"})
		}
	}
	for _, d := range dbs {
		db, exists := st.Databases[d.Name]
		if !exists {
			// CREATE DATABASE cannot run inside a multi-statement query.
			out = append(out, pgStmt{SQL: "CREATE DATABASE " + quoteIdent(d.Name) + " OWNER " + quoteIdent(d.Owner),
				Change: "created database " + d.Name + " owned by " + d.Owner})
			// a new database's default ACL: PUBLIC may connect and create temporary tables
			db.ACL = []pgGrant{{"PUBLIC", "CONNECT"}, {"PUBLIC", "TEMPORARY"}}
		} else if db.Owner != d.Owner {
			out = append(out, pgStmt{SQL: "ALTER DATABASE " + quoteIdent(d.Name) + " OWNER TO " + quoteIdent(d.Owner),
				Change: "database " + d.Name + " now owned by " + d.Owner + " (was " + db.Owner + ")"})
		}
		out = append(out, databaseACLPlan(d, db.ACL)...)
	}
	var open []string
	for _, name := range []string{"postgres", "template1"} {
		if db, ok := st.Databases[name]; ok && slices.Contains(db.ACL, pgGrant{"PUBLIC", "CONNECT"}) {
			open = append(open, quoteIdent(name))
		}
	}
	if len(open) > 0 {
		out = append(out, pgStmt{SQL: "REVOKE CONNECT ON DATABASE " + strings.Join(open, ", ") + " FROM PUBLIC",
			Change: "revoked PUBLIC's CONNECT on " + strings.Join(open, ", ")})
	}
	return out
}

// databaseACLPlan makes the login role the only one (besides the owner and
// superusers) with a privilege on d, and that privilege CONNECT.
func databaseACLPlan(d pgDatabase, acl []pgGrant) []pgStmt {
	var out []pgStmt
	var others []string
	loginConnect := false
	var loginExtra []string
	for _, g := range acl {
		switch {
		case g.Grantee == d.Owner:
		case g.Grantee == d.User && g.Privilege == "CONNECT":
			loginConnect = true
		case g.Grantee == d.User:
			loginExtra = append(loginExtra, g.Privilege)
		case !slices.Contains(others, g.Grantee):
			others = append(others, g.Grantee)
		}
	}
	for _, o := range others {
		who := o
		if o != "PUBLIC" {
			who = quoteIdent(o)
		}
		out = append(out, pgStmt{SQL: "REVOKE ALL ON DATABASE " + quoteIdent(d.Name) + " FROM " + who,
			Change: "revoked " + o + "'s privileges on " + d.Name})
	}
	if len(loginExtra) > 0 {
		out = append(out, pgStmt{SQL: "REVOKE " + strings.Join(loginExtra, ", ") + " ON DATABASE " + quoteIdent(d.Name) + " FROM " + quoteIdent(d.User),
			Change: "revoked " + strings.Join(loginExtra, ", ") + " on " + d.Name + " from " + d.User})
	}
	if !loginConnect {
		out = append(out, pgStmt{SQL: "GRANT CONNECT ON DATABASE " + quoteIdent(d.Name) + " TO " + quoteIdent(d.User),
			Change: "granted CONNECT on " + d.Name + " to " + d.User})
	}
	return out
}

// The run-time privileges of a login role on its owner's objects, as
// aclexplode names them (sorted) and as GRANT spells them.
var (
	tablePrivileges    = []string{"DELETE", "INSERT", "SELECT", "UPDATE"}
	sequencePrivileges = []string{"SELECT", "UPDATE", "USAGE"}
)

const (
	tableGrant    = "SELECT, INSERT, UPDATE, DELETE"
	sequenceGrant = "USAGE, SELECT, UPDATE"
)

// pgDBState is what postgres-init observes inside one service database.
type pgDBState struct {
	Extensions []string
	// OwnedByLogin counts objects here the login role owns (pg_shdepend).
	OwnedByLogin int
	// SchemaOwner owns schema public.
	SchemaOwner string
	// SchemaUsage, SchemaCreate: the login role's privileges on public.
	SchemaUsage, SchemaCreate bool
	// TablesMissing counts tables, views and sequences in public the login
	// role lacks a run-time privilege on; TablesExtra those it holds
	// TRUNCATE, REFERENCES or TRIGGER on.
	TablesMissing, TablesExtra, SequencesMissing int
	// DefaultTables and DefaultSequences are the privileges the owner's
	// default ACL in public gives the login role, sorted.
	DefaultTables, DefaultSequences []string
}

// databasePlan returns the statements to run inside service database d.
// have is nil when nothing could be observed yet (the database or its roles
// do not exist: --check on a fresh server).
func databasePlan(d pgDatabase, have *pgDBState, exts []string) []pgStmt {
	fresh := have == nil
	if fresh {
		have = &pgDBState{SchemaOwner: "pg_database_owner", SchemaUsage: true}
	}
	in := func(sql, change string) pgStmt { return pgStmt{DB: d.Name, SQL: sql, Change: change + " in " + d.Name} }
	login, owner := quoteIdent(d.User), quoteIdent(d.Owner)
	var out []pgStmt
	// objects the login role owns (tables from the days it ran the
	// migrations itself) move to the owner; it then needs grants on them
	reassigned := have.OwnedByLogin > 0
	if reassigned {
		out = append(out, in("REASSIGN OWNED BY "+login+" TO "+owner,
			fmt.Sprintf("%d objects of %s now owned by %s", have.OwnedByLogin, d.User, d.Owner)))
	}
	if have.SchemaOwner != "pg_database_owner" && have.SchemaOwner != d.Owner {
		out = append(out, in("ALTER SCHEMA public OWNER TO "+owner, "schema public now owned by "+d.Owner+" (was "+have.SchemaOwner+")"))
	}
	if !have.SchemaUsage {
		out = append(out, in("GRANT USAGE ON SCHEMA public TO "+login, "granted USAGE on schema public to "+d.User))
	}
	// with ddl the login role has CREATE and TRUNCATE through the owner
	if have.SchemaCreate && !d.DDL {
		out = append(out, in("REVOKE CREATE ON SCHEMA public FROM PUBLIC, "+login, "revoked CREATE on schema public from PUBLIC and "+d.User))
	}
	out = append(out, extensionPlan(d.Name, exts, have.Extensions)...)
	if have.TablesMissing > 0 || reassigned {
		out = append(out, in("GRANT "+tableGrant+" ON ALL TABLES IN SCHEMA public TO "+login, "granted "+tableGrant+" on every table to "+d.User))
	}
	if have.TablesExtra > 0 && !d.DDL {
		out = append(out, in("REVOKE TRUNCATE, REFERENCES, TRIGGER ON ALL TABLES IN SCHEMA public FROM PUBLIC, "+login,
			"revoked TRUNCATE, REFERENCES, TRIGGER on every table from PUBLIC and "+d.User))
	}
	if have.SequencesMissing > 0 || reassigned {
		out = append(out, in("GRANT "+sequenceGrant+" ON ALL SEQUENCES IN SCHEMA public TO "+login, "granted "+sequenceGrant+" on every sequence to "+d.User))
	}
	defaults := "ALTER DEFAULT PRIVILEGES FOR ROLE " + owner + " IN SCHEMA public "
	if !slices.Equal(have.DefaultTables, tablePrivileges) {
		if len(have.DefaultTables) > 0 {
			out = append(out, in(defaults+"REVOKE ALL ON TABLES FROM "+login, "reset default table privileges of "+d.User))
		}
		out = append(out, in(defaults+"GRANT "+tableGrant+" ON TABLES TO "+login, "default privileges: "+d.User+" gets "+tableGrant+" on "+d.Owner+"'s new tables"))
	}
	if !slices.Equal(have.DefaultSequences, sequencePrivileges) {
		if len(have.DefaultSequences) > 0 {
			out = append(out, in(defaults+"REVOKE ALL ON SEQUENCES FROM "+login, "reset default sequence privileges of "+d.User))
		}
		out = append(out, in(defaults+"GRANT "+sequenceGrant+" ON SEQUENCES TO "+login, "default privileges: "+d.User+" gets "+sequenceGrant+" on "+d.Owner+"'s new sequences"))
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
func (p PostgresInit) Run(ctx context.Context, c *catalog.Catalog, t Targets, log func(string, ...any)) error {
	if t.Postgres == "" {
		return fmt.Errorf("postgres-init: no PostgreSQL address (%s)", EnvPostgres)
	}
	superPW, err := t.secret(catalog.SuperuserPasswordVar)
	if err != nil {
		return fmt.Errorf("postgres-init: superuser password: %w", err)
	}
	dbs := postgresDatabases(c)
	passwords := map[string]string{}
	var missing, bad []string
	users := map[string]string{}
	for _, d := range dbs {
		users[d.User] = d.Service
	}
	for _, d := range dbs {
		if other, ok := users[d.Owner]; ok {
			return fmt.Errorf("postgres-init: %s's owner role %s is %s's login role: rename one database user in the catalog", d.Service, d.Owner, other)
		}
		v := catalog.PasswordVar(d.User)
		pw, err := t.secret(v)
		if err != nil {
			missing = append(missing, v)
			continue
		}
		if err := checkScramPassword(pw); err != nil {
			bad = append(bad, v+" "+err.Error())
		}
		passwords[d.User] = pw
	}
	if len(missing) > 0 {
		return fmt.Errorf("postgres-init: passwords not set: %s", strings.Join(missing, ", "))
	}
	if len(bad) > 0 {
		return fmt.Errorf("postgres-init: %s", strings.Join(bad, "; "))
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
	var report []string // --check: what a run would change
	changes := 0
	for _, s := range postgresPlan(dbs, st, passwords, newScramVerifier) {
		if p.Check {
			report = append(report, "would have "+s.Change)
			continue
		}
		if _, err := conn.Exec(ctx, s.SQL); err != nil {
			return fmt.Errorf("postgres-init: %s: %w", redact(s), err)
		}
		log("%s", s.Change)
		changes++
	}

	// one connection per database: run a few at once
	exts := postgresExtensions(c)
	var mu sync.Mutex
	locked := func(s pgStmt) {
		mu.Lock()
		defer mu.Unlock()
		if p.Check {
			report = append(report, "would have "+s.Change)
			return
		}
		log("%s", s.Change)
		changes++
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(4)
	for _, d := range dbs {
		_, dbExists := st.Databases[d.Name]
		_, ownerExists := st.Roles[d.Owner]
		_, userExists := st.Roles[d.User]
		if p.Check && !(dbExists && ownerExists && userExists) {
			for _, s := range databasePlan(d, nil, exts) {
				locked(s)
			}
			continue
		}
		g.Go(func() error {
			if err := convergeDatabase(gctx, t, superPW, d, exts, p.Check, locked); err != nil {
				return fmt.Errorf("postgres-init: %s: %w", d.Name, err)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	if p.Check {
		return checkResult(catalog.StepPostgresInit, report, nil, p.AllowDrift, log, "")
	}
	if changes == 0 {
		log("%d databases and users already as the catalog says; nothing changed", len(dbs))
	}
	return nil
}

// convergeDatabase observes service database d as the superuser and, unless
// check, runs what databasePlan says; every planned statement goes to
// report.
func convergeDatabase(ctx context.Context, t Targets, superPW string, d pgDatabase, exts []string, check bool, report func(pgStmt)) error {
	conn, err := pgConnect(ctx, t, PostgresSuperuser, superPW, d.Name)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	have, err := observeDatabase(ctx, conn, d)
	if err != nil {
		return fmt.Errorf("observe: %w", err)
	}
	for _, s := range databasePlan(d, &have, exts) {
		if !check {
			if _, err := conn.Exec(ctx, s.SQL); err != nil {
				return fmt.Errorf("%s: %w", s.SQL, err)
			}
		}
		report(s)
	}
	return nil
}

// observeDatabase reads pgDBState inside d (the connection's database).
func observeDatabase(ctx context.Context, conn *pgx.Conn, d pgDatabase) (pgDBState, error) {
	var st pgDBState
	rows, err := conn.Query(ctx, "SELECT extname FROM pg_extension")
	if err != nil {
		return st, err
	}
	if st.Extensions, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
		return st, err
	}
	// $1 the login role, $2 the owner role
	err = conn.QueryRow(ctx, `SELECT
		(SELECT count(*) FROM pg_shdepend WHERE deptype = 'o' AND refclassid = 'pg_authid'::regclass
			AND refobjid = $1::text::regrole AND dbid = (SELECT oid FROM pg_database WHERE datname = current_database())),
		(SELECT pg_get_userbyid(nspowner) FROM pg_namespace WHERE nspname = 'public'),
		has_schema_privilege($1::text, 'public', 'USAGE'),
		has_schema_privilege($1::text, 'public', 'CREATE'),
		(SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
			WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
			AND NOT (has_table_privilege($1::text, c.oid, 'SELECT') AND has_table_privilege($1::text, c.oid, 'INSERT')
				AND has_table_privilege($1::text, c.oid, 'UPDATE') AND has_table_privilege($1::text, c.oid, 'DELETE'))),
		(SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
			WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
			AND (has_table_privilege($1::text, c.oid, 'TRUNCATE') OR has_table_privilege($1::text, c.oid, 'REFERENCES')
				OR has_table_privilege($1::text, c.oid, 'TRIGGER'))),
		(SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
			WHERE n.nspname = 'public' AND c.relkind = 'S'
			AND NOT (has_sequence_privilege($1::text, c.oid, 'USAGE') AND has_sequence_privilege($1::text, c.oid, 'SELECT')
				AND has_sequence_privilege($1::text, c.oid, 'UPDATE')))`, d.User).
		Scan(&st.OwnedByLogin, &st.SchemaOwner, &st.SchemaUsage, &st.SchemaCreate, &st.TablesMissing, &st.TablesExtra, &st.SequencesMissing)
	if err != nil {
		return st, err
	}
	rows, err = conn.Query(ctx, `SELECT a.defaclobjtype::text, x.privilege_type
		FROM pg_default_acl a, aclexplode(a.defaclacl) x
		WHERE a.defaclrole = $2::text::regrole AND a.defaclnamespace = 'public'::regnamespace AND x.grantee = $1::text::regrole
		ORDER BY 1, 2`, d.User, d.Owner)
	if err != nil {
		return st, err
	}
	for rows.Next() {
		var kind, priv string
		if err := rows.Scan(&kind, &priv); err != nil {
			return st, err
		}
		switch kind {
		case "r":
			st.DefaultTables = append(st.DefaultTables, priv)
		case "S":
			st.DefaultSequences = append(st.DefaultSequences, priv)
		}
	}
	return st, rows.Err()
}

func observePostgres(ctx context.Context, conn *pgx.Conn, dbs []pgDatabase) (pgState, error) {
	st := pgState{Roles: map[string]pgRole{}, Databases: map[string]pgDB{}}
	var roles []string
	for _, d := range dbs {
		roles = append(roles, d.User, d.Owner)
	}
	rows, err := conn.Query(ctx, `SELECT rolname, rolcanlogin, rolsuper, rolcreatedb, rolcreaterole,
		rolreplication, rolbypassrls, rolconnlimit,
		CASE WHEN rolvaliduntil IS NULL OR rolvaliduntil = 'infinity' THEN '' ELSE rolvaliduntil::text END,
		coalesce(rolpassword, '') FROM pg_authid WHERE rolname = ANY($1)`, roles)
	if err != nil {
		return st, err
	}
	for rows.Next() {
		var name string
		var r pgRole
		if err := rows.Scan(&name, &r.Login, &r.Super, &r.CreateDB, &r.CreateRole, &r.Replication, &r.BypassRLS,
			&r.ConnLimit, &r.ValidUntil, &r.Verifier); err != nil {
			return st, err
		}
		st.Roles[name] = r
	}
	if err := rows.Err(); err != nil {
		return st, err
	}
	rows, err = conn.Query(ctx, `SELECT pg_get_userbyid(roleid), pg_get_userbyid(member) FROM pg_auth_members
		WHERE pg_get_userbyid(roleid) = ANY($1) OR pg_get_userbyid(member) = ANY($1) ORDER BY 2, 1`, roles)
	if err != nil {
		return st, err
	}
	for rows.Next() {
		var m pgMembership
		if err := rows.Scan(&m.Role, &m.Member); err != nil {
			return st, err
		}
		st.Members = append(st.Members, m)
	}
	if err := rows.Err(); err != nil {
		return st, err
	}
	st.RoleSettings = map[[2]string]string{}
	rows, err = conn.Query(ctx, `SELECT r.rolname, coalesce(d.datname, ''), substr(cfg, length('role=') + 1)
		FROM pg_db_role_setting s JOIN pg_roles r ON r.oid = s.setrole LEFT JOIN pg_database d ON d.oid = s.setdatabase,
		unnest(s.setconfig) cfg WHERE r.rolname = ANY($1) AND cfg LIKE 'role=%'`, roles)
	if err != nil {
		return st, err
	}
	for rows.Next() {
		var role, db, as string
		if err := rows.Scan(&role, &db, &as); err != nil {
			return st, err
		}
		st.RoleSettings[[2]string{role, db}] = as
	}
	if err := rows.Err(); err != nil {
		return st, err
	}
	// a NULL datacl means the default ACL: PUBLIC may connect and create
	// temporary tables
	rows, err = conn.Query(ctx, `SELECT d.datname, pg_get_userbyid(d.datdba),
		CASE WHEN x.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(x.grantee) END, x.privilege_type
		FROM pg_database d, aclexplode(coalesce(d.datacl, acldefault('d', d.datdba))) x
		WHERE x.grantee <> d.datdba
		UNION ALL
		SELECT d.datname, pg_get_userbyid(d.datdba), NULL, NULL FROM pg_database d
		ORDER BY 1, 3, 4`)
	if err != nil {
		return st, err
	}
	for rows.Next() {
		var name, owner string
		var grantee, priv *string
		if err := rows.Scan(&name, &owner, &grantee, &priv); err != nil {
			return st, err
		}
		d := st.Databases[name]
		d.Owner = owner
		if grantee != nil && priv != nil {
			d.ACL = append(d.ACL, pgGrant{*grantee, *priv})
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

// quoteIdent quotes a PostgreSQL identifier.
func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// quoteLiteral quotes a PostgreSQL string literal (standard_conforming_strings).
func quoteLiteral(s string) string { return `'` + strings.ReplaceAll(s, `'`, `''`) + `'` }

// redact returns the statement with any password literal (a verifier, but
// still a secret's derivative) hidden.
func redact(s pgStmt) string {
	if i := strings.Index(s.SQL, " PASSWORD '"); i >= 0 {
		return s.SQL[:i] + " PASSWORD '***'"
	}
	return s.SQL
}
