package bootstrap

import (
	"context"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"github.com/novadev/novadev/internal/catalog"
)

// Migrations applies each service's SQL migrations as the owner role of its
// database (OwnerRole: the superuser logs in and SET ROLEs it) and records them in _sqlx_migrations exactly as Rust's sqlx does, so
// the service's own `sqlx migrate run` (or sqlx::migrate!) sees them as
// applied. Each migration runs in one transaction together with its row:
// a migration that fails leaves nothing behind and the next run retries it.
// A migration changed after it was applied is an error naming the file and
// both checksums.
type Migrations struct{}

// Name returns catalog.StepMigrations.
func (Migrations) Name() string { return catalog.StepMigrations }

// sqlxTableDDL is sqlx-postgres's ensure_migrations_table, verbatim.
const sqlxTableDDL = `
CREATE TABLE IF NOT EXISTS _sqlx_migrations (
    version BIGINT PRIMARY KEY,
    description TEXT NOT NULL,
    installed_on TIMESTAMPTZ NOT NULL DEFAULT now(),
    success BOOLEAN NOT NULL,
    checksum BYTEA NOT NULL,
    execution_time BIGINT NOT NULL
);`

// MigrationType is sqlx's kind of migration file, from its name.
type MigrationType int

// The migration types, as sqlx names them (sqlx-core migrate/migration_type.rs).
const (
	MigrationSimple         MigrationType = iota // <version>_<description>.sql
	MigrationReversibleUp                        // <version>_<description>.up.sql
	MigrationReversibleDown                      // <version>_<description>.down.sql: a revert, never applied by run
)

// Suffix is the file name ending that makes the type.
func (t MigrationType) Suffix() string {
	switch t {
	case MigrationReversibleUp:
		return ".up.sql"
	case MigrationReversibleDown:
		return ".down.sql"
	}
	return ".sql"
}

func (t MigrationType) String() string {
	return [...]string{"simple", "up", "down"}[t]
}

// migrationTypeOf is sqlx's MigrationType::from_filename: .up.sql first,
// then .down.sql, anything else ending in .sql is simple.
func migrationTypeOf(rest string) MigrationType {
	switch {
	case strings.HasSuffix(rest, MigrationReversibleUp.Suffix()):
		return MigrationReversibleUp
	case strings.HasSuffix(rest, MigrationReversibleDown.Suffix()):
		return MigrationReversibleDown
	}
	return MigrationSimple
}

// Migration is one sqlx migration file.
type Migration struct {
	Version     int64
	Description string // as sqlx derives it from the file name (ParseMigrationName)
	Type        MigrationType
	File        string // path it was read from
	SQL         string
	Checksum    []byte // SHA-384 of the file's bytes
	NoTx        bool   // the file starts with "-- no-transaction"
}

// ParseMigrationName applies sqlx's file name rule (sqlx-core
// migrate/source.rs, resolve_blocking): the name splits at its first "_"
// into version and rest; a rest that does not end in ".sql" is no
// migration (ok false); otherwise the version must be an integer (Rust's
// i64 parse: optional sign, decimal digits; anything else is an error, for
// a .down.sql too). The description is the rest with every trailing copy of
// its type's suffix removed (Rust's trim_end_matches: "1_x.sql.sql" is "x",
// "1_x.sql.up.sql" is "x.sql") and "_" replaced by " ".
func ParseMigrationName(name string) (version int64, description string, typ MigrationType, ok bool, err error) {
	v, rest, found := strings.Cut(name, "_")
	if !found || !strings.HasSuffix(rest, ".sql") {
		return 0, "", 0, false, nil
	}
	version, err = strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, "", 0, false, fmt.Errorf("migration file %q: expected integer version prefix (e.g. `01_foo.sql`), as sqlx does", name)
	}
	typ = migrationTypeOf(rest)
	for strings.HasSuffix(rest, typ.Suffix()) {
		rest = strings.TrimSuffix(rest, typ.Suffix())
	}
	return version, strings.ReplaceAll(rest, "_", " "), typ, true, nil
}

// Checksum is sqlx's migration checksum: SHA-384 of the file's bytes.
func Checksum(sql []byte) []byte {
	s := sha512.Sum384(sql)
	return s[:]
}

// LoadMigrations reads the migrations of one directory as sqlx resolves
// them: every entry that is a file (links followed; directories skipped),
// down migrations included, sorted by version (an up before its down).
// A name sqlx ignores is ignored; one it rejects, an entry it cannot stat
// or a file that is not UTF-8 is an error, as in sqlx. Two up (or two down)
// migrations with one version are an error here before anything runs
// (sqlx would apply the first and fail on the second's row).
func LoadMigrations(dir string) ([]Migration, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []Migration
	for _, e := range entries {
		path := filepath.Join(dir, e.Name())
		st, err := os.Stat(path) // follows links: ConfigMap mounts are links
		if err != nil {
			return nil, fmt.Errorf("error getting metadata of migration path %s: %w", path, err)
		}
		if !st.Mode().IsRegular() {
			continue // ..data, timestamped dirs, any directory
		}
		v, desc, typ, ok, err := ParseMigrationName(e.Name())
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		if !utf8.Valid(data) {
			return nil, fmt.Errorf("%s is not UTF-8: sqlx reads migrations as text and refuses it", path)
		}
		out = append(out, Migration{Version: v, Description: desc, Type: typ, File: path, SQL: string(data),
			Checksum: Checksum(data), NoTx: strings.HasPrefix(string(data), "-- no-transaction")})
	}
	slices.SortFunc(out, func(a, b Migration) int {
		if c := cmpInt(a.Version, b.Version); c != 0 {
			return c
		}
		return cmpInt(int64(a.Type.isDown()), int64(b.Type.isDown()))
	})
	for i := 1; i < len(out); i++ {
		if out[i].Version == out[i-1].Version && out[i].Type.isDown() == out[i-1].Type.isDown() {
			return nil, fmt.Errorf("%s and %s have the same version %d", out[i-1].File, out[i].File, out[i].Version)
		}
	}
	return out, nil
}

func (t MigrationType) isDown() int {
	if t == MigrationReversibleDown {
		return 1
	}
	return 0
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Applied is a row of _sqlx_migrations.
type Applied struct {
	Version  int64
	Checksum []byte
	Success  bool
}

// migrationPlan is sqlx's Migrator::run over the recorded rows (sqlx-core
// migrate/migrator.rs): a row with success = false (dirty) stops
// everything, the lowest version first; then a recorded version that no
// file has (up or down) stops everything; then the up migrations are
// walked in version order: an unrecorded one is to apply, a recorded one
// whose checksum differs ends the walk with an error. So, as with sqlx,
// migrations before a modified one are still applied. todo is what to
// apply before returning err.
func migrationPlan(files []Migration, applied []Applied) (todo []Migration, err error) {
	slices.SortFunc(applied, func(a, b Applied) int { return cmpInt(a.Version, b.Version) })
	for _, a := range applied {
		if !a.Success {
			return nil, fmt.Errorf("migration %d is partially applied (success = false in _sqlx_migrations): fix the database by hand, then delete its row (DELETE FROM _sqlx_migrations WHERE version = %d)", a.Version, a.Version)
		}
	}
	versions := map[int64]bool{}
	for _, m := range files {
		versions[m.Version] = true
	}
	for _, a := range applied {
		if !versions[a.Version] {
			return nil, fmt.Errorf("migration %d was previously applied but is missing in the resolved migrations: restore its file", a.Version)
		}
	}
	recorded := map[int64][]byte{}
	for _, a := range applied {
		recorded[a.Version] = a.Checksum
	}
	for _, m := range files {
		if m.Type == MigrationReversibleDown {
			continue
		}
		sum, done := recorded[m.Version]
		switch {
		case !done:
			todo = append(todo, m)
		case !slices.Equal(sum, m.Checksum):
			return todo, fmt.Errorf("migration %d was previously applied but has been modified: %s was changed after it was applied: recorded checksum %s, file checksum %s; revert the edit and add a new migration instead",
				m.Version, m.File, hex.EncodeToString(sum), hex.EncodeToString(m.Checksum))
		}
	}
	return todo, nil
}

// sqlxLockID is sqlx-postgres's generate_lock_id: migrations by sqlx and by
// this step never run at the same time on one database.
func sqlxLockID(database string) int64 {
	return 0x3d32ad9e * int64(crc32.ChecksumIEEE([]byte(database)))
}

// migrationsDir returns the directory holding service s's migrations.
func migrationsDir(c *catalog.Catalog, t Targets, s *catalog.Service) string {
	if t.MigrationsDir != "" {
		return filepath.Join(t.MigrationsDir, s.Name)
	}
	if filepath.IsAbs(s.Migrations) {
		return s.Migrations
	}
	return filepath.Join(filepath.Dir(c.File), s.Migrations)
}

// Run implements Step.
func (Migrations) Run(ctx context.Context, c *catalog.Catalog, t Targets, log func(string, ...any)) error {
	if t.Postgres == "" {
		return fmt.Errorf("migrations: no PostgreSQL address (%s)", EnvPostgres)
	}
	// one connection per service database: a few at once, every error kept
	var (
		mu   sync.Mutex
		errs []error
		wg   sync.WaitGroup
		sem  = make(chan struct{}, 4)
	)
	locked := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		log(format, args...)
	}
	for _, s := range c.ActiveServices() {
		if s.Database == nil || s.Migrations == "" {
			continue
		}
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			if err := migrateService(ctx, c, t, s, locked); err != nil {
				mu.Lock()
				errs = append(errs, fmt.Errorf("migrations: %s: %w", s.Name, err))
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	slices.SortFunc(errs, func(a, b error) int { return strings.Compare(a.Error(), b.Error()) })
	return errors.Join(errs...)
}

func migrateService(ctx context.Context, c *catalog.Catalog, t Targets, s *catalog.Service, log func(string, ...any)) error {
	files, err := LoadMigrations(migrationsDir(c, t, s))
	if err != nil {
		return err
	}
	// as the superuser, then as the database's owner role (which cannot log
	// in): every object the migrations create belongs to the owner, and the
	// service's login role gets only the run-time privileges postgres-init
	// grants (docs/bootstrap.md)
	pw, err := t.secret(catalog.SuperuserPasswordVar)
	if err != nil {
		return err
	}
	conn, err := pgConnect(ctx, t, PostgresSuperuser, pw, s.Database.Name)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	owner := OwnerRole(s.Database)
	if _, err := conn.Exec(ctx, "SET ROLE "+quoteIdent(owner)); err != nil {
		return fmt.Errorf("SET ROLE %s (postgres-init creates it): %w", owner, err)
	}

	lock := sqlxLockID(s.Database.Name)
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", lock); err != nil {
		return fmt.Errorf("lock: %w", err)
	}
	defer conn.Exec(context.Background(), "SELECT pg_advisory_unlock($1)", lock) //nolint:errcheck // the connection closes next
	if _, err := conn.Exec(ctx, sqlxTableDDL); err != nil {
		return fmt.Errorf("create _sqlx_migrations: %w", err)
	}
	rows, err := conn.Query(ctx, "SELECT version, checksum, success FROM _sqlx_migrations ORDER BY version")
	if err != nil {
		return err
	}
	applied, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Applied, error) {
		var a Applied
		err := r.Scan(&a.Version, &a.Checksum, &a.Success)
		return a, err
	})
	if err != nil {
		return err
	}
	todo, planErr := migrationPlan(files, applied)
	for _, m := range todo {
		took, err := applyMigration(ctx, conn, m)
		if err != nil {
			return fmt.Errorf("%s: %w", filepath.Base(m.File), err)
		}
		log("%s: applied %d %s as %s in %s", s.Name, m.Version, m.Description, owner, took.Round(time.Millisecond))
	}
	if planErr != nil {
		return planErr
	}
	if len(todo) == 0 {
		ups := 0
		for _, m := range files {
			if m.Type != MigrationReversibleDown {
				ups++
			}
		}
		log("%s: %d migrations already applied", s.Name, ups)
	}
	return nil
}

// insertApplied and updateTime are sqlx-postgres's bookkeeping, verbatim
// in effect: the row goes in with the migration (execution_time -1) and
// gets the time after the commit, so a crash in between leaves -1, never a
// missing row.
const (
	insertApplied = `INSERT INTO _sqlx_migrations ( version, description, success, checksum, execution_time )
    VALUES ( $1, $2, TRUE, $3, -1 )`
	updateTime = `UPDATE _sqlx_migrations SET execution_time = $1 WHERE version = $2`
)

// applyMigration runs one migration as sqlx-postgres's apply does: the SQL
// and its row in one transaction (a -- no-transaction file: both outside
// one), then the execution time in nanoseconds. A failure leaves no row.
func applyMigration(ctx context.Context, conn *pgx.Conn, m Migration) (time.Duration, error) {
	start := time.Now()
	if m.NoTx {
		// no arguments: pgx uses the simple protocol, so a file may hold many statements
		if _, err := conn.Exec(ctx, m.SQL); err != nil {
			return 0, err
		}
		if _, err := conn.Exec(ctx, insertApplied, m.Version, m.Description, m.Checksum); err != nil {
			return 0, err
		}
	} else {
		tx, err := conn.Begin(ctx)
		if err != nil {
			return 0, err
		}
		defer tx.Rollback(context.Background()) //nolint:errcheck // no-op after commit
		if _, err := tx.Exec(ctx, m.SQL); err != nil {
			return 0, err
		}
		if _, err := tx.Exec(ctx, insertApplied, m.Version, m.Description, m.Checksum); err != nil {
			return 0, err
		}
		if err := tx.Commit(ctx); err != nil {
			return 0, err
		}
	}
	took := time.Since(start)
	_, err := conn.Exec(ctx, updateTime, took.Nanoseconds(), m.Version)
	return took, err
}
