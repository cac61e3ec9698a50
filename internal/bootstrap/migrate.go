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

// Migration is one sqlx migration file.
type Migration struct {
	Version     int64
	Description string // file name after "<version>_", without ".sql", "_" -> " "
	File        string // path it was read from
	SQL         string
	Checksum    []byte // SHA-384 of the file's bytes
	NoTx        bool   // the file starts with "-- no-transaction"
}

// ParseMigrationName applies sqlx's file name rule: "<version>_<desc>.sql"
// (also .up.sql; .down.sql is a revert and skipped). ok is false for files
// sqlx ignores; err is set for a non-numeric version, which sqlx rejects.
func ParseMigrationName(name string) (version int64, description string, ok bool, err error) {
	v, rest, found := strings.Cut(name, "_")
	if !found || !strings.HasSuffix(rest, ".sql") || strings.HasSuffix(rest, ".down.sql") {
		return 0, "", false, nil
	}
	version, err = strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, "", false, fmt.Errorf("migration file %q: expected integer version prefix (e.g. 01_foo.sql)", name)
	}
	rest = strings.TrimSuffix(rest, ".up.sql")
	rest = strings.TrimSuffix(rest, ".sql")
	return version, strings.ReplaceAll(rest, "_", " "), true, nil
}

// Checksum is sqlx's migration checksum: SHA-384 of the file's bytes.
func Checksum(sql []byte) []byte {
	s := sha512.Sum384(sql)
	return s[:]
}

// LoadMigrations reads the migrations of one directory, sorted by version.
// Files sqlx would ignore are ignored; two files with one version are an
// error.
func LoadMigrations(dir string) ([]Migration, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []Migration
	for _, e := range entries {
		v, desc, ok, err := ParseMigrationName(e.Name())
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		path := filepath.Join(dir, e.Name())
		if st, err := os.Stat(path); err != nil || !st.Mode().IsRegular() {
			continue // a directory or a dangling link (ConfigMap mounts are links)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		out = append(out, Migration{Version: v, Description: desc, File: path, SQL: string(data),
			Checksum: Checksum(data), NoTx: strings.HasPrefix(string(data), "-- no-transaction")})
	}
	slices.SortFunc(out, func(a, b Migration) int { return cmpInt(a.Version, b.Version) })
	for i := 1; i < len(out); i++ {
		if out[i].Version == out[i-1].Version {
			return nil, fmt.Errorf("%s and %s have the same version %d", out[i-1].File, out[i].File, out[i].Version)
		}
	}
	return out, nil
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

// migrationPlan returns the migrations still to apply, or an error when the
// recorded history conflicts with the files: a dirty (failed) row, a changed
// checksum, or an applied version whose file is gone.
func migrationPlan(files []Migration, applied []Applied) ([]Migration, error) {
	byVersion := map[int64]Migration{}
	for _, m := range files {
		byVersion[m.Version] = m
	}
	var errs []error
	done := map[int64]bool{}
	for _, a := range applied {
		done[a.Version] = true
		m, ok := byVersion[a.Version]
		switch {
		case !a.Success:
			errs = append(errs, fmt.Errorf("migration %d is recorded as failed (dirty): fix the database by hand, then delete its row from _sqlx_migrations", a.Version))
		case !ok:
			errs = append(errs, fmt.Errorf("migration %d was applied but its file is missing", a.Version))
		case !slices.Equal(m.Checksum, a.Checksum):
			errs = append(errs, fmt.Errorf("%s was changed after it was applied: recorded checksum %s, file checksum %s; revert the edit and add a new migration instead",
				m.File, hex.EncodeToString(a.Checksum), hex.EncodeToString(m.Checksum)))
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	var todo []Migration
	for _, m := range files {
		if !done[m.Version] {
			todo = append(todo, m)
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
	todo, err := migrationPlan(files, applied)
	if err != nil {
		return err
	}
	for _, m := range todo {
		took, err := applyMigration(ctx, conn, m)
		if err != nil {
			return fmt.Errorf("%s: %w", filepath.Base(m.File), err)
		}
		log("%s: applied %d %s as %s in %s", s.Name, m.Version, m.Description, owner, took.Round(time.Millisecond))
	}
	if len(todo) == 0 {
		log("%s: %d migrations already applied", s.Name, len(files))
	}
	return nil
}

const insertApplied = `INSERT INTO _sqlx_migrations ( version, description, success, checksum, execution_time )
    VALUES ( $1, $2, TRUE, $3, $4 )`

// applyMigration runs one migration and records it. The row is written in
// the migration's own transaction with the time the SQL took (sqlx writes -1
// there and updates it after commit; one write is never left at -1).
func applyMigration(ctx context.Context, conn *pgx.Conn, m Migration) (time.Duration, error) {
	start := time.Now()
	if m.NoTx {
		if _, err := conn.Exec(ctx, m.SQL); err != nil {
			return 0, err
		}
		took := time.Since(start)
		_, err := conn.Exec(ctx, insertApplied, m.Version, m.Description, m.Checksum, took.Nanoseconds())
		return took, err
	}
	tx, err := conn.Begin(ctx)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback(context.Background()) //nolint:errcheck // no-op after commit
	// no arguments: pgx uses the simple protocol, so a file may hold many statements
	if _, err := tx.Exec(ctx, m.SQL); err != nil {
		return 0, err
	}
	took := time.Since(start)
	if _, err := tx.Exec(ctx, insertApplied, m.Version, m.Description, m.Checksum, took.Nanoseconds()); err != nil {
		return 0, err
	}
	return took, tx.Commit(ctx)
}
