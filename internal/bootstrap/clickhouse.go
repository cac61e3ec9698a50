package bootstrap

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/novadev/novadev/internal/catalog"
	"github.com/novadev/novadev/internal/contract"
)

// ClickHouseInit creates the catalog's ClickHouse databases and MergeTree
// tables over HTTP, one statement per request, with IF NOT EXISTS. The DDL
// keeps to what ClickHouse 18.16 (Debian's, in the offline image) accepts as
// well as current versions: MergeTree() PARTITION BY ... ORDER BY ..., no
// TTL. An existing table is compared with the catalog through system.tables
// and system.columns (columns and their types, engine, partition key, order
// key, TTL); a difference is drift, never altered, and fails the step with
// the differences (Options.AllowDrift: a warning).
//
// It logs in as contract.ClickHouseAdminUser when that user's password is
// set (an older stack without one: as the default user, said in the log).
// The service users (contract.ClickHouseUsers) are made where the server
// has SQL-driven access control (system.users exists: 20.x and later, so the
// catalog's 23.8): CREATE USER IF NOT EXISTS with the password as a SHA-256
// hash (never in clear in the query log), then their grants are reset to
// SELECT, INSERT on their own database. ClickHouse 18.16 (the offline image)
// has none: there the image's entrypoint writes the same users to users.d
// from the store's environment, and this step only logs so.
type ClickHouseInit struct {
	Options
}

// Name returns catalog.StepClickHouseInit.
func (ClickHouseInit) Name() string { return catalog.StepClickHouseInit }

// quoteCH quotes a ClickHouse identifier.
func quoteCH(s string) string {
	return "`" + strings.NewReplacer(`\`, `\\`, "`", "\\`").Replace(s) + "`"
}

// quoteCHString quotes a ClickHouse string literal.
func quoteCHString(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, "'", `\'`).Replace(s) + "'"
}

// createDatabaseDDL returns the statement creating a database.
func createDatabaseDDL(db *catalog.ClickDatabase) string {
	return "CREATE DATABASE IF NOT EXISTS " + quoteCH(db.Name)
}

// createTableDDL returns the statement creating a table.
func createTableDDL(db string, t *catalog.ClickTable) string {
	var b strings.Builder
	fmt.Fprintf(&b, "CREATE TABLE IF NOT EXISTS %s.%s (", quoteCH(db), quoteCH(t.Name))
	for i, c := range t.Columns {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(quoteCH(c.Name) + " " + c.Type)
	}
	engine := t.Engine
	if engine == "" {
		engine = "MergeTree()"
	}
	b.WriteString(") ENGINE = " + engine)
	if t.PartitionBy != "" {
		b.WriteString(" PARTITION BY " + t.PartitionBy)
	}
	if t.OrderBy != "" {
		b.WriteString(" ORDER BY " + t.OrderBy)
	}
	return b.String()
}

// clickDatabases returns the databases of the (first) clickhouse store.
func clickDatabases(c *catalog.Catalog) []*catalog.ClickDatabase {
	for _, st := range c.StoresOfKind(catalog.StoreClickHouse) {
		return st.Databases
	}
	return nil
}

// clickTable is what ClickHouse says about one table.
type clickTable struct {
	// Columns maps column name to type; Order lists the names in order.
	Columns map[string]string
	Order   []string
	// Engine is the engine with its arguments as system.tables.engine_full
	// starts ("MergeTree", "ReplacingMergeTree(v)").
	Engine string
	// PartitionKey, SortingKey: system.tables.partition_key, sorting_key
	// (both present since 18.16).
	PartitionKey, SortingKey string
	// TTL is the table TTL from engine_full ("" none; 18.16 has none).
	TTL string
}

// clickState maps database -> table -> what it is; a database with no
// tables is present with an empty map.
type clickState map[string]map[string]*clickTable

// clickPlan returns the statements to run and the drift found (one line per
// difference: table, what, the catalog's and ClickHouse's value), given
// what exists.
func clickPlan(dbs []*catalog.ClickDatabase, have clickState) (stmts []string, drift []string) {
	for _, db := range dbs {
		tables, ok := have[db.Name]
		if !ok {
			stmts = append(stmts, createDatabaseDDL(db))
		}
		for _, t := range db.Tables {
			got, ok := tables[t.Name]
			if !ok {
				stmts = append(stmts, createTableDDL(db.Name, t))
				continue
			}
			drift = append(drift, tableDrift(db.Name+"."+t.Name, t, got)...)
		}
	}
	return stmts, drift
}

// tableDrift compares one existing table with the catalog.
func tableDrift(name string, want *catalog.ClickTable, got *clickTable) []string {
	var out []string
	diff := func(what, catalogV, storeV string) {
		out = append(out, fmt.Sprintf("%s: %s: catalog %s, ClickHouse %s", name, what, orNone(catalogV), orNone(storeV)))
	}
	wanted := map[string]bool{}
	for _, c := range want.Columns {
		wanted[c.Name] = true
		switch typ, ok := got.Columns[c.Name]; {
		case !ok:
			diff("column "+c.Name, c.Type, "")
		case typ != c.Type:
			diff("column "+c.Name, c.Type, typ)
		}
	}
	for _, c := range got.Order {
		if !wanted[c] {
			diff("column "+c, "", got.Columns[c])
		}
	}
	engine := want.Engine
	if engine == "" {
		engine = "MergeTree()"
	}
	if normEngine(engine) != normEngine(got.Engine) {
		diff("engine", engine, got.Engine)
	}
	if normKey(want.PartitionBy) != normKey(got.PartitionKey) {
		diff("partition key", want.PartitionBy, got.PartitionKey)
	}
	if normKey(want.OrderBy) != normKey(got.SortingKey) {
		diff("order key", want.OrderBy, got.SortingKey)
	}
	// the catalog has no TTL (18.16 rejects one); any TTL is drift
	if got.TTL != "" {
		diff("TTL", "", got.TTL)
	}
	return out
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// normKey makes a key expression comparable between the catalog and
// system.tables, which prints it reformatted: without spaces or backquotes,
// without the parentheses of a tuple (sorting_key says "a, b" for ORDER BY
// (a, b)), and tuple() as no key.
func normKey(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ { // bytes: an invalid UTF-8 byte stays as it is
		switch c := s[i]; c {
		case ' ', '\t', '\n', '\r', '`':
		default:
			b.WriteByte(c)
		}
	}
	s = b.String()
	if s == "tuple()" {
		return ""
	}
	if strings.HasPrefix(s, "(") && strings.HasSuffix(s, ")") && closingParen(s) == len(s)-1 {
		s = s[1 : len(s)-1]
	}
	return s
}

// closingParen returns the index of the parenthesis closing s[0], or -1.
func closingParen(s string) int {
	depth := 0
	for i, r := range s {
		switch r {
		case '(':
			depth++
		case ')':
			if depth--; depth == 0 {
				return i
			}
		}
	}
	return -1
}

// normEngine compares engines: "MergeTree()" and "MergeTree" are one.
func normEngine(s string) string {
	return strings.TrimSuffix(normKey(s), "()")
}

// engineClauses are the clauses that may follow the engine in
// system.tables.engine_full, in the order ClickHouse prints them.
var engineClauses = []string{" PARTITION BY ", " PRIMARY KEY ", " ORDER BY ", " SAMPLE BY ", " TTL ", " SETTINGS "}

// splitEngineFull returns the engine (with arguments) and the table TTL of
// an engine_full value ("ReplacingMergeTree(v) PARTITION BY … TTL d +
// toIntervalDay(30) SETTINGS …").
func splitEngineFull(full string) (engine, ttl string) {
	end := len(full)
	for _, c := range engineClauses {
		if i := strings.Index(full, c); i >= 0 && i < end {
			end = i
		}
	}
	engine = strings.TrimSpace(full[:end])
	if i := strings.Index(full, " TTL "); i >= 0 {
		ttl = full[i+len(" TTL "):]
		if j := strings.Index(ttl, " SETTINGS "); j >= 0 {
			ttl = ttl[:j]
		}
		ttl = strings.TrimSpace(ttl)
	}
	return engine, ttl
}

// clickDriftHint says what to do about table drift.
const clickDriftHint = "ClickHouse cannot change a MergeTree table's engine or partition key in place: make the catalog say what the table has, " +
	"or migrate the table by hand (ALTER TABLE … ADD/MODIFY COLUMN for columns; for the rest create a new table, INSERT … SELECT, RENAME TABLE), then run again"

// clickClient posts statements to ClickHouse's HTTP interface, as user
// (HTTP basic authentication) when user is set, else as the default user.
type clickClient struct {
	url            string
	http           *http.Client
	user, password string
}

func newClickClient(t Targets) (*clickClient, error) {
	if t.ClickHouseURL == "" {
		return nil, fmt.Errorf("no ClickHouse URL (%s)", EnvClickHouseURL)
	}
	if _, err := url.Parse(t.ClickHouseURL); err != nil {
		return nil, err
	}
	tr := &http.Transport{DialContext: t.dialer(), MaxIdleConns: 2, IdleConnTimeout: 30 * time.Second}
	cl := &clickClient{url: strings.TrimRight(t.ClickHouseURL, "/") + "/", http: &http.Client{Transport: tr, Timeout: 30 * time.Second}}
	if t.Password != nil {
		if pw := t.Password(catalog.PasswordVar(contract.ClickHouseAdminUser)); pw != "" {
			cl.user, cl.password = contract.ClickHouseAdminUser, pw
		}
	}
	return cl, nil
}

// as returns a client for the same server logged in as another user.
func (c *clickClient) as(user, password string) *clickClient {
	o := *c
	o.user, o.password = user, password
	return &o
}

// exec runs one statement and returns the response body; a status other
// than 200 is an error carrying ClickHouse's message.
func (c *clickClient) exec(ctx context.Context, stmt string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, strings.NewReader(stmt))
	if err != nil {
		return "", err
	}
	if c.user != "" {
		req.SetBasicAuth(c.user, c.password)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("%s: HTTP %d: %s", firstWords(stmt, 8), resp.StatusCode, strings.TrimSpace(string(body)))
	}
	return string(body), nil
}

func firstWords(s string, n int) string {
	f := strings.Fields(s)
	if len(f) > n {
		return strings.Join(f[:n], " ") + " ..."
	}
	return strings.Join(f, " ")
}

func (c *clickClient) observe(ctx context.Context, dbs []*catalog.ClickDatabase) (clickState, error) {
	var names []string
	for _, db := range dbs {
		names = append(names, quoteCHString(db.Name))
	}
	have := clickState{}
	if len(names) == 0 {
		return have, nil
	}
	in := strings.Join(names, ", ")
	out, err := c.exec(ctx, "SELECT name FROM system.databases WHERE name IN ("+in+") FORMAT TabSeparated")
	if err != nil {
		return nil, err
	}
	for _, line := range lines(out) {
		have[line] = map[string]*clickTable{}
	}
	out, err = c.exec(ctx, "SELECT database, name, engine_full, partition_key, sorting_key FROM system.tables WHERE database IN ("+in+") FORMAT TabSeparated")
	if err != nil {
		return nil, err
	}
	for _, line := range lines(out) {
		f := strings.Split(line, "\t")
		if len(f) != 5 {
			return nil, fmt.Errorf("system.tables: unexpected row %q", line)
		}
		for i := range f {
			f[i] = unescapeTSV(f[i])
		}
		if have[f[0]] == nil {
			have[f[0]] = map[string]*clickTable{}
		}
		t := &clickTable{Columns: map[string]string{}, PartitionKey: f[3], SortingKey: f[4]}
		t.Engine, t.TTL = splitEngineFull(f[2])
		have[f[0]][f[1]] = t
	}
	out, err = c.exec(ctx, "SELECT database, table, name, type FROM system.columns WHERE database IN ("+in+") FORMAT TabSeparated")
	if err != nil {
		return nil, err
	}
	for _, line := range lines(out) {
		f := strings.Split(line, "\t")
		if len(f) != 4 {
			return nil, fmt.Errorf("system.columns: unexpected row %q", line)
		}
		for i := range f {
			f[i] = unescapeTSV(f[i])
		}
		t := have[f[0]][f[1]]
		if t == nil {
			continue // a table that appeared between the two queries
		}
		t.Columns[f[2]] = f[3]
		t.Order = append(t.Order, f[2])
	}
	return have, nil
}

// unescapeTSV undoes TabSeparated's escaping of one field.
func unescapeTSV(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	return strings.NewReplacer(`\t`, "\t", `\n`, "\n", `\\`, `\`, `\'`, "'").Replace(s)
}

func lines(s string) []string {
	var out []string
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		if sc.Text() != "" {
			out = append(out, sc.Text())
		}
	}
	return out
}

// Run implements Step.
func (ch ClickHouseInit) Run(ctx context.Context, c *catalog.Catalog, t Targets, log func(string, ...any)) error {
	cl, err := newClickClient(t)
	if err != nil {
		return fmt.Errorf("clickhouse-init: %w", err)
	}
	if cl.user == "" {
		log("no %s: logging in as the default user", catalog.PasswordVar(contract.ClickHouseAdminUser))
	}
	dbs := clickDatabases(c)
	have, err := cl.observe(ctx, dbs)
	if err != nil {
		return fmt.Errorf("clickhouse-init: %w", err)
	}
	stmts, drift := clickPlan(dbs, have)
	if ch.Check {
		var diffs []string
		for _, s := range stmts {
			diffs = append(diffs, "would have run "+firstWords(s, 6))
		}
		users, err := cl.clickUsers(ctx, c, t, true, log)
		if err != nil {
			return fmt.Errorf("clickhouse-init: %w", err)
		}
		for _, u := range users {
			diffs = append(diffs, "would have created user "+u)
		}
		return checkResult(catalog.StepClickHouseInit, diffs, drift, ch.AllowDrift, log, clickDriftHint)
	}
	for _, s := range stmts {
		if _, err := cl.exec(ctx, s); err != nil {
			return fmt.Errorf("clickhouse-init: %w", err)
		}
		log("%s", firstWords(s, 6))
	}
	if _, err := cl.clickUsers(ctx, c, t, false, log); err != nil {
		return fmt.Errorf("clickhouse-init: %w", err)
	}
	if err := driftResult(catalog.StepClickHouseInit, drift, ch.AllowDrift, log, clickDriftHint); err != nil {
		return err
	}
	if len(stmts) == 0 && len(drift) == 0 {
		n := 0
		for _, db := range dbs {
			n += len(db.Tables)
		}
		log("%d databases and %d tables already exist; nothing changed", len(dbs), n)
	}
	return nil
}

// sqlAccessControl says whether the server manages users by SQL (CREATE
// USER): system.users exists from 20.x on, not in 18.16.
func (c *clickClient) sqlAccessControl(ctx context.Context) (bool, error) {
	out, err := c.exec(ctx, "SELECT count() FROM system.tables WHERE database = 'system' AND name = 'users'")
	if err != nil {
		return false, err
	}
	return strings.TrimSpace(out) == "1", nil
}

// clickUserStmts are the statements giving service user u exactly its
// runtime rights: created if missing with its password as a SHA-256 hash,
// the hash set again (a changed password takes effect), every grant revoked
// and SELECT, INSERT on its own database granted (no DDL, no other
// database, no system tables beyond what every user sees).
func clickUserStmts(u contract.ClickHouseUser, password string) []string {
	sum := sha256.Sum256([]byte(password))
	hash := quoteCHString(hex.EncodeToString(sum[:]))
	name := quoteCH(u.User)
	return []string{
		"CREATE USER IF NOT EXISTS " + name + " IDENTIFIED WITH sha256_hash BY " + hash,
		"ALTER USER " + name + " IDENTIFIED WITH sha256_hash BY " + hash,
		"REVOKE ALL ON *.* FROM " + name,
		"GRANT SELECT, INSERT ON " + quoteCH(u.Database) + ".* TO " + name,
	}
}

// clickUsers makes the service users on a server with SQL-driven access
// control; check: only returns the users missing. On a server without it the
// users are the image's (users.d) and it logs so.
func (c *clickClient) clickUsers(ctx context.Context, cat *catalog.Catalog, t Targets, check bool, log func(string, ...any)) (missing []string, err error) {
	users := contract.ClickHouseUsers(cat)
	if len(users) == 0 {
		return nil, nil
	}
	sqlAC, err := c.sqlAccessControl(ctx)
	if err != nil {
		return nil, err
	}
	if !sqlAC {
		// 18.16: the entrypoint of novadev/clickhouse wrote them to users.d
		// from NOVADEV_CLICKHOUSE_USERS; nothing to do, nothing to say
		return nil, nil
	}
	var have []string
	out, err := c.exec(ctx, "SELECT name FROM system.users")
	if err != nil {
		return nil, err
	}
	for _, l := range lines(out) {
		have = append(have, unescapeTSV(l))
	}
	for _, u := range users {
		if !slices.Contains(have, u.User) {
			missing = append(missing, u.User)
		}
	}
	if check {
		return missing, nil
	}
	for _, u := range users {
		pw, err := t.secret(u.Password.Key)
		if err != nil {
			return nil, fmt.Errorf("ClickHouse user %s of %s: %w", u.User, u.Service, err)
		}
		for _, s := range clickUserStmts(u, pw) {
			if _, err := c.exec(ctx, s); err != nil {
				return nil, err
			}
		}
		log("user %s: SELECT, INSERT on %s only", u.User, u.Database)
	}
	return missing, nil
}
