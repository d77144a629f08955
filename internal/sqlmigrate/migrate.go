// Package sqlmigrate applies versioned schema migrations: the relay's store and each mirror's schema
// use it. A version is a list of statements applied in one transaction with its record in the
// migrations table; a version is never edited once released (a change is a new version).
package sqlmigrate

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// Plan is a schema's migrations.
type Plan struct {
	// Table records the versions applied ("schema_migrations", or "mirror.schema_migrations").
	Table string
	// Versions are the statements of versions 1, 2, … in order.
	Versions [][]string
	// AdvisoryLock, when not 0, is the PostgreSQL advisory lock held throughout (on one connection),
	// so that replicas starting at once migrate one after the other: the others find it done.
	AdvisoryLock int64
	// Before runs before the migrations table is created, under the lock (CREATE SCHEMA).
	Before []string
	// Who names the program in the error of a database newer than it ("relay").
	Who string
}

// Apply applies the versions not yet recorded. It refuses a database at a version above the plan's:
// a newer program migrated it, and this one would misread it.
func Apply(ctx context.Context, db *sql.DB, plan Plan) error {
	conn, err := db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("schema: %w", err)
	}
	defer func() { _ = conn.Close() }()
	if plan.AdvisoryLock != 0 {
		if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock($1)`, plan.AdvisoryLock); err != nil {
			return fmt.Errorf("schema: lock: %w", err)
		}
		defer func() {
			_, _ = conn.ExecContext(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, plan.AdvisoryLock)
		}()
	}
	for _, ddl := range plan.Before {
		if _, err := conn.ExecContext(ctx, ddl); err != nil {
			return fmt.Errorf("schema: %w", err)
		}
	}
	if _, err := conn.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS `+plan.Table+` (
	version    BIGINT NOT NULL PRIMARY KEY,
	applied_at BIGINT NOT NULL
)`); err != nil {
		return fmt.Errorf("schema: migrations table: %w", err)
	}
	var current int64
	if err := conn.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM `+plan.Table).Scan(&current); err != nil {
		return fmt.Errorf("schema: version: %w", err)
	}
	if current > int64(len(plan.Versions)) {
		return fmt.Errorf("schema: the database is at version %d, this %s knows %d: run a newer %s", current, plan.Who, len(plan.Versions), plan.Who)
	}
	for i := current; i < int64(len(plan.Versions)); i++ {
		if err := applyVersion(ctx, conn, plan, i+1); err != nil {
			return err
		}
	}
	return nil
}

func applyVersion(ctx context.Context, conn *sql.Conn, plan Plan, version int64) error {
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("schema: version %d: %w", version, err)
	}
	for _, ddl := range plan.Versions[version-1] {
		if _, err := tx.ExecContext(ctx, ddl); err != nil {
			_ = tx.Rollback()
			return fmt.Errorf("schema: version %d: %w", version, err)
		}
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO `+plan.Table+` (version, applied_at) VALUES ($1, $2)`, version, time.Now().Unix()); err != nil {
		_ = tx.Rollback()
		return fmt.Errorf("schema: record version %d: %w", version, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("schema: version %d: %w", version, err)
	}
	return nil
}
