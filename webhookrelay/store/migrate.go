package store

import (
	"context"
	"database/sql"
	"strings"

	"github.com/cloudip/stripe-operator/internal/sqlmigrate"
)

// payloadType is replaced by each engine's type for the payload column (see schemaV1).
const payloadType = "{{payload}}"

// migrations are the schema's versions, applied in order at open and recorded in
// schema_migrations. A version is never edited once released: a change is a new version.
func migrations(pg bool) [][]string {
	payload := "TEXT"
	if pg {
		payload = "BYTEA"
	}
	v1 := make([]string, 0, len(schemaV1))
	for _, ddl := range schemaV1 {
		v1 = append(v1, strings.ReplaceAll(ddl, payloadType, payload))
	}
	// v2: the claim of a row by a PostgreSQL replica delivering it (Due), so that replicas never
	// attempt the same row at once; a claim lapses if its replica dies (claimLease).
	v2 := []string{`ALTER TABLE outbox ADD COLUMN claimed_until BIGINT NOT NULL DEFAULT 0`}
	// v3: a destination's delivery budget shared by the replicas (claimDue): the token bucket, and an
	// index of the rows claimed (few: the attempts in flight) to count them.
	v3 := []string{
		`CREATE TABLE IF NOT EXISTS destination_budgets (
	destination TEXT             NOT NULL PRIMARY KEY,
	tokens      DOUBLE PRECISION NOT NULL,
	refilled_at BIGINT           NOT NULL
)`,
		`CREATE INDEX IF NOT EXISTS outbox_claimed ON outbox (destination) WHERE claimed_until > 0`,
	}
	// v4: the readiness probe's row (CheckWritable): a write through the same path as the events'.
	v4 := []string{`CREATE TABLE IF NOT EXISTS probes (
	name TEXT   NOT NULL PRIMARY KEY,
	at   BIGINT NOT NULL
)`}
	// v5: the pending rows of a destination in seq order, alone: Due and the PostgreSQL claim walk
	// them without stepping over the delivered rows, which PostgreSQL's planner did on
	// outbox_destination_seq (bench-relay: 6 ms per claim at 11,000 delivered rows, 0.06 ms with it).
	v5 := []string{`CREATE INDEX IF NOT EXISTS outbox_pending ON outbox (destination, seq) WHERE state = 'pending'`}
	if pg {
		// The outbox is a queue: every row is updated twice (claimed, then delivered), and the dead
		// versions and index entries they leave are what a claim walks until vacuum removes them; the
		// planner's statistics go stale as fast. Vacuum and analyze it after 2 % of its rows changed, not
		// PostgreSQL's default 20 % and 10 %. (Storage settings: no schema difference with SQLite.)
		v5 = append(v5, `ALTER TABLE outbox SET (autovacuum_vacuum_scale_factor = 0.02, autovacuum_analyze_scale_factor = 0.02)`)
	}
	return [][]string{v1, v2, v3, v4, v5}
}

// migrationLock is the PostgreSQL advisory lock that serializes migrations of replicas starting at
// once: one applies, the others wait, then find the version applied.
const migrationLock = 7_261_503_771

// migrate applies the versions not yet recorded, each in one transaction with its record. On
// PostgreSQL it holds migrationLock on one connection throughout.
func migrate(ctx context.Context, db *sql.DB, pg bool) error {
	plan := sqlmigrate.Plan{Table: "schema_migrations", Versions: migrations(pg), Who: "relay"}
	if pg {
		plan.AdvisoryLock = migrationLock
	}
	return sqlmigrate.Apply(ctx, db, plan)
}
