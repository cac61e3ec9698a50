package bootstrap

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/novadev/novadev/internal/catalog"
)

// ClickHouseInit creates the catalog's ClickHouse databases and MergeTree
// tables over HTTP, one statement per request, with IF NOT EXISTS. The DDL
// keeps to what ClickHouse 18.16 (Debian's, in the offline image) accepts as
// well as current versions: MergeTree() PARTITION BY ... ORDER BY ..., no
// TTL. An existing table whose columns differ from the catalog is reported,
// not altered.
type ClickHouseInit struct{}

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

// clickState maps database -> table -> column -> type; a database with no
// tables is present with an empty map.
type clickState map[string]map[string]map[string]string

// clickPlan returns the statements to run and the drift found, given what
// exists.
func clickPlan(dbs []*catalog.ClickDatabase, have clickState) (stmts []string, drift []string) {
	for _, db := range dbs {
		tables, ok := have[db.Name]
		if !ok {
			stmts = append(stmts, createDatabaseDDL(db))
		}
		for _, t := range db.Tables {
			cols, ok := tables[t.Name]
			if !ok {
				stmts = append(stmts, createTableDDL(db.Name, t))
				continue
			}
			for _, c := range t.Columns {
				switch got, ok := cols[c.Name]; {
				case !ok:
					drift = append(drift, fmt.Sprintf("%s.%s has no column %s %s (left as is)", db.Name, t.Name, c.Name, c.Type))
				case got != c.Type:
					drift = append(drift, fmt.Sprintf("%s.%s.%s is %s, the catalog says %s (left as is)", db.Name, t.Name, c.Name, got, c.Type))
				}
			}
		}
	}
	return stmts, drift
}

// clickClient posts statements to ClickHouse's HTTP interface.
type clickClient struct {
	url  string
	http *http.Client
}

func newClickClient(t Targets) (*clickClient, error) {
	if t.ClickHouseURL == "" {
		return nil, fmt.Errorf("no ClickHouse URL (%s)", EnvClickHouseURL)
	}
	if _, err := url.Parse(t.ClickHouseURL); err != nil {
		return nil, err
	}
	tr := &http.Transport{DialContext: t.dialer(), MaxIdleConns: 2, IdleConnTimeout: 30 * time.Second}
	return &clickClient{url: strings.TrimRight(t.ClickHouseURL, "/") + "/", http: &http.Client{Transport: tr, Timeout: 30 * time.Second}}, nil
}

// exec runs one statement and returns the response body; a status other
// than 200 is an error carrying ClickHouse's message.
func (c *clickClient) exec(ctx context.Context, stmt string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, strings.NewReader(stmt))
	if err != nil {
		return "", err
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
		have[line] = map[string]map[string]string{}
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
		if have[f[0]] == nil {
			have[f[0]] = map[string]map[string]string{}
		}
		if have[f[0]][f[1]] == nil {
			have[f[0]][f[1]] = map[string]string{}
		}
		have[f[0]][f[1]][f[2]] = f[3]
	}
	return have, nil
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
func (ClickHouseInit) Run(ctx context.Context, c *catalog.Catalog, t Targets, log func(string, ...any)) error {
	cl, err := newClickClient(t)
	if err != nil {
		return fmt.Errorf("clickhouse-init: %w", err)
	}
	dbs := clickDatabases(c)
	have, err := cl.observe(ctx, dbs)
	if err != nil {
		return fmt.Errorf("clickhouse-init: %w", err)
	}
	stmts, drift := clickPlan(dbs, have)
	for _, s := range stmts {
		if _, err := cl.exec(ctx, s); err != nil {
			return fmt.Errorf("clickhouse-init: %w", err)
		}
		log("%s", firstWords(s, 6))
	}
	for _, d := range drift {
		log("%s", d)
	}
	if len(stmts) == 0 {
		n := 0
		for _, db := range dbs {
			n += len(db.Tables)
		}
		log("%d databases and %d tables already exist; nothing changed", len(dbs), n)
	}
	return nil
}
