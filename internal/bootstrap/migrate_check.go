package bootstrap

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5"

	"github.com/novadev/novadev/internal/catalog"
)

// checkedMigrations is Migrations under Options.Check: it reads every
// service database's _sqlx_migrations as the superuser and reports the
// migrations a run would apply, creating and changing nothing (not even
// the _sqlx_migrations table). A recorded history that conflicts with the
// files (changed checksum, dirty row, missing file) is the same error a run
// gives.
type checkedMigrations struct {
	Migrations
	Options
}

// Run implements Step.
func (m checkedMigrations) Run(ctx context.Context, c *catalog.Catalog, t Targets, log func(string, ...any)) error {
	if t.Postgres == "" {
		return fmt.Errorf("migrations: no PostgreSQL address (%s)", EnvPostgres)
	}
	var (
		mu      sync.Mutex
		errs    []error
		pending []string
		wg      sync.WaitGroup
		sem     = make(chan struct{}, 4)
	)
	for _, s := range c.ActiveServices() {
		if s.Database == nil || s.Migrations == "" {
			continue
		}
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			todo, err := pendingMigrations(ctx, c, t, s)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, fmt.Errorf("migrations: %s: %w", s.Name, err))
			}
			for _, mg := range todo {
				pending = append(pending, fmt.Sprintf("would have applied %s %d %s", s.Name, mg.Version, mg.Description))
			}
		})
	}
	wg.Wait()
	if len(errs) > 0 {
		slices.SortFunc(errs, func(a, b error) int { return strings.Compare(a.Error(), b.Error()) })
		return errors.Join(errs...)
	}
	slices.Sort(pending)
	if len(pending) == 0 {
		return checkResult(catalog.StepMigrations, nil, nil, false, log, "")
	}
	// pending migrations are no drift: there is nothing to allow
	return &DriftError{Step: catalog.StepMigrations, Diffs: pending,
		Hint: "`novadev bootstrap migrations` (or `novadev up`) applies them"}
}

// pendingMigrations returns service s's migrations a run would apply.
func pendingMigrations(ctx context.Context, c *catalog.Catalog, t Targets, s *catalog.Service) ([]Migration, error) {
	files, err := LoadMigrations(migrationsDir(c, t, s))
	if err != nil {
		return nil, err
	}
	pw, err := t.secret(catalog.SuperuserPasswordVar)
	if err != nil {
		return nil, err
	}
	conn, err := pgConnect(ctx, t, PostgresSuperuser, pw, s.Database.Name)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.Background())
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT to_regclass('_sqlx_migrations') IS NOT NULL").Scan(&exists); err != nil {
		return nil, err
	}
	var applied []Applied
	if exists {
		rows, err := conn.Query(ctx, "SELECT version, checksum, success FROM _sqlx_migrations ORDER BY version")
		if err != nil {
			return nil, err
		}
		applied, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (Applied, error) {
			var a Applied
			err := r.Scan(&a.Version, &a.Checksum, &a.Success)
			return a, err
		})
		if err != nil {
			return nil, err
		}
	}
	return migrationPlan(files, applied)
}
