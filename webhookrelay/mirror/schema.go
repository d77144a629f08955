package mirror

import (
	"context"
	"database/sql"
	"fmt"
	"hash/fnv"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/cloudip/stripe-operator/api/v1alpha1"
	"github.com/cloudip/stripe-operator/internal/sqlmigrate"
)

// migrate creates the schema and brings it to the current version, under an advisory lock of its own
// (two relays starting at once, or two mirrors of one database, migrate one at a time).
func migrate(ctx context.Context, db *sql.DB, schema string) error {
	q := quote(schema)
	h := fnv.New64a()
	_, _ = h.Write([]byte("stripe-mirror/" + schema))
	plan := sqlmigrate.Plan{
		Table:        q + ".schema_migrations",
		Versions:     migrations(q),
		AdvisoryLock: int64(h.Sum64() >> 1),
		Before:       []string{`CREATE SCHEMA IF NOT EXISTS ` + q},
		Who:          "relay",
	}
	if err := sqlmigrate.Apply(ctx, db, plan); err != nil {
		return fmt.Errorf("mirror schema %s: %w", schema, err)
	}
	return nil
}

// migrations are the schema's versions. Every object type's table is created whatever the mirror
// keeps, so that keeping one more type later needs no migration.
func migrations(schema string) [][]string {
	types := objectTypes()
	v1 := make([]string, 0, 4+5*len(types))
	v1 = append(v1,
		// The event cursor (the relay store's seq of the last event applied, committed with the rows),
		// and the last revalidation pass (kept here, so a restarted or another relay reports it).
		`CREATE TABLE `+schema+`.mirror_state (
	singleton      BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (singleton),
	seq            BIGINT NOT NULL,
	applied_at     TIMESTAMPTZ,
	revalidated_at TIMESTAMPTZ,
	checked        BIGINT NOT NULL DEFAULT 0,
	repaired       BIGINT NOT NULL DEFAULT 0,
	repaired_total BIGINT NOT NULL DEFAULT 0
)`,
		`INSERT INTO `+schema+`.mirror_state (seq) VALUES (0)`,
		// The StripeMirror (namespace/name) the schema belongs to: two mirrors sharing a schema would
		// share one cursor and mix their accounts' rows.
		`CREATE TABLE `+schema+`.mirror_owner (
	singleton BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (singleton),
	mirror    TEXT NOT NULL
)`,
		// One backfill listing per account and object type, resumed from starting_after.
		`CREATE TABLE `+schema+`.mirror_backfill (
	account        TEXT NOT NULL,
	object_type    TEXT NOT NULL,
	tenant         TEXT NOT NULL,
	starting_after TEXT NOT NULL DEFAULT '',
	complete       BOOLEAN NOT NULL DEFAULT FALSE,
	pages          BIGINT NOT NULL DEFAULT 0,
	rows           BIGINT NOT NULL DEFAULT 0,
	updated_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
	PRIMARY KEY (account, object_type)
)`,
		// Reads an event asked for, done after its transaction (durably: a crash leaves them here).
		// kind refunds_of_charge: a charge.refunded event (Stripe sends no refund.created for a
		// charge's refund at this API version), so the charge's refunds are listed.
		`CREATE TABLE `+schema+`.mirror_work (
	kind    TEXT NOT NULL,
	id      TEXT NOT NULL,
	account TEXT NOT NULL,
	tenant  TEXT NOT NULL,
	PRIMARY KEY (kind, id)
)`,
	)
	names := make([]string, 0, len(types))
	for name := range types {
		names = append(names, string(name))
	}
	slices.Sort(names)
	for _, name := range names {
		v1 = append(v1, tableDDL(schema, types[v1alpha1.MirrorObjectType(name)])...)
	}
	return [][]string{v1}
}

// tableDDL is one object type's table and indexes.
func tableDDL(schema string, t objectType) []string {
	table := schema + "." + t.table
	var b strings.Builder
	fmt.Fprintf(&b, `CREATE TABLE %s (
	id        TEXT PRIMARY KEY,
	tenant    TEXT NOT NULL,
	region    TEXT NOT NULL,
	account   TEXT NOT NULL,
	data      JSONB NOT NULL,
	deleted   BOOLEAN NOT NULL DEFAULT FALSE,
	state_at  TIMESTAMPTZ NOT NULL,
	event_id  TEXT NOT NULL DEFAULT '',
	revision  BIGINT NOT NULL DEFAULT 1,
	synced_at TIMESTAMPTZ NOT NULL DEFAULT now(),
	refetch   BOOLEAN NOT NULL DEFAULT FALSE`, table)
	switch t.name {
	case v1alpha1.MirrorPayout:
		// Set once the payout's balance transactions were listed (?payout=), which link charges to
		// the payout that paid them.
		b.WriteString(",\n\ttransactions_listed BOOLEAN NOT NULL DEFAULT FALSE")
	case v1alpha1.MirrorBalanceTransaction:
		// The automatic payout that paid this transaction out: Stripe does not say it in the object,
		// only by listing ?payout=.
		b.WriteString(",\n\tpayout TEXT")
	}
	for _, c := range append(commonColumns(), t.columns...) {
		fmt.Fprintf(&b, ",\n\t%s %s GENERATED ALWAYS AS (%s) STORED", c.name, c.sqlType, c.expr)
	}
	b.WriteString("\n)")
	out := []string{b.String(),
		fmt.Sprintf(`CREATE INDEX %s_tenant ON %s (tenant, created)`, t.table, table),
		fmt.Sprintf(`CREATE INDEX %s_account ON %s (account)`, t.table, table),
		fmt.Sprintf(`CREATE INDEX %s_refetch ON %s (id) WHERE refetch`, t.table, table),
	}
	for _, c := range t.columns {
		if c.indexed {
			out = append(out, fmt.Sprintf(`CREATE INDEX %s_%s ON %s (%s)`, t.table, c.name, table, c.name))
		}
	}
	switch t.name {
	case v1alpha1.MirrorPayout:
		out = append(out, fmt.Sprintf(`CREATE INDEX payouts_unlisted ON %s (account) WHERE automatic AND NOT transactions_listed`, table))
	case v1alpha1.MirrorBalanceTransaction:
		out = append(out, fmt.Sprintf(`CREATE INDEX balance_transactions_payout ON %s (payout)`, table))
	}
	return out
}

// quote quotes an identifier for PostgreSQL.
func quote(identifier string) string { return pgx.Identifier{identifier}.Sanitize() }
