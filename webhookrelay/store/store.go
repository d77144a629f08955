// Package store keeps the webhook relay's events: each Stripe event once by its id (deduplication
// over at least MinRetention), committed in one transaction with its outbox rows (the deliveries it
// owes), so that the relay acknowledges Stripe only for what is durably stored.
//
// One interface, engines sharing one schema (Schema): SQLite here (embedded, WAL mode, pure Go, for
// one replica on a PersistentVolume); PostgreSQL later for scale-out. The SQL uses only what both
// speak: plain types (TEXT, BIGINT, BOOLEAN), $n placeholders, INSERT ... ON CONFLICT DO NOTHING.
package store

import (
	"context"
	"errors"
	"time"
)

// MinRetention is the shortest retention Prune accepts: Stripe re-sends an event for three days and
// lists it on /v1/events (which backfill reads) for 30 days, so an id forgotten sooner could be
// ingested twice.
const MinRetention = 30 * 24 * time.Hour

// Errors.
var (
	// ErrNotFound: no event with that id.
	ErrNotFound = errors.New("event not found")
	// ErrClosed: the store was closed.
	ErrClosed = errors.New("store closed")
	// ErrRetentionTooShort: Prune was asked to forget events younger than MinRetention.
	ErrRetentionTooShort = errors.New("retention shorter than 30 days")
)

// Event is a stored Stripe event.
type Event struct {
	// ID is Stripe's event id, unique in the store.
	ID string
	// Seq is the store's order of arrival (1, 2, …; set by Put, ignored in its argument): what the
	// operator's notification feed (Since) follows, since Stripe's own order is not arrival order.
	// SQLite numbers 1, 2, … without gaps; PostgreSQL numbers by transaction id, with gaps, and Since
	// never returns a number while a lower one may still commit.
	Seq int64
	// Endpoint is the relay endpoint key the event arrived on (namespace/name), or where backfill
	// found it.
	Endpoint   string
	Type       string
	Account    string // "" for the platform's own events
	Livemode   bool
	APIVersion string
	ObjectID   string
	Created    time.Time // Stripe's, second precision
	ReceivedAt time.Time // the relay's, millisecond precision; what retention counts from
	Payload    []byte    // the event JSON as Stripe signed it
}

// PutResult says what Put did.
type PutResult int

const (
	// Stored means the event is new and is now committed with its outbox rows.
	Stored PutResult = iota + 1
	// Duplicate means an event with this id was already stored; nothing changed.
	Duplicate
)

func (r PutResult) String() string {
	switch r {
	case Stored:
		return "stored"
	case Duplicate:
		return "duplicate"
	}
	return "unknown"
}

// Store is what the relay's intake, notifier and delivery need from storage.
type Store interface {
	// Put stores ev and one outbox row per destination in one transaction, unless an event with
	// ev.ID is already stored (Duplicate; its outbox is left as it was). When Put returns nil the
	// event is durably committed. An error means it may or may not be: the caller answers Stripe
	// non-2xx and Stripe's retry lands as Stored or Duplicate, never twice.
	Put(ctx context.Context, ev Event, destinations []string) (PutResult, error)
	// Get returns the event with that id, or ErrNotFound.
	Get(ctx context.Context, id string) (Event, error)
	// Outbox returns the destinations an event still owes (pending or held), sorted.
	Outbox(ctx context.Context, id string) ([]string, error)
	Deliveries
	// Since returns up to limit events with Seq > after, in Seq order: the notification feed's read.
	Since(ctx context.Context, after int64, limit int) ([]Event, error)
	// LatestSeq returns the highest Seq stored (0 for an empty store).
	LatestSeq(ctx context.Context) (int64, error)
	// Cursor returns how far backfill has listed a source's events (a connection, or one of its
	// connected accounts), false when it never has.
	Cursor(ctx context.Context, source string) (time.Time, bool, error)
	// SetCursor records that backfill has listed every event of source created before t.
	SetCursor(ctx context.Context, source string, t time.Time) error
	// Count returns the number of stored events.
	Count(ctx context.Context) (int64, error)
	// Prune forgets events received before now-retention that owe no delivery, with their delivered
	// and dead-lettered outbox rows (an event still owed to a destination, or held, is kept; so is the
	// newest event, so that Seq keeps counting from it). retention must be ≥ MinRetention.
	Prune(ctx context.Context, now time.Time, retention time.Duration) (int64, error)
	// CheckWritable commits a write through the path events take (SQLite's group-commit writer, a
	// PostgreSQL transaction): the relay's readiness, since an intake that cannot store must not be
	// sent Stripe's deliveries.
	CheckWritable(ctx context.Context, now time.Time) error
	// Close stops the store; Put then returns ErrClosed.
	Close() error
}

// schemaV1 is the DDL of schema version 1, which every engine applies (see migrate). The payload's
// type is the one word the engines differ in: TEXT in SQLite (which keeps any bytes), BYTEA in
// PostgreSQL (whose TEXT refuses invalid UTF-8 and NUL: the relay stores exactly what was signed).
var schemaV1 = []string{
	`CREATE TABLE IF NOT EXISTS events (
	id          TEXT    NOT NULL PRIMARY KEY,
	seq         BIGINT  NOT NULL,
	endpoint    TEXT    NOT NULL,
	type        TEXT    NOT NULL,
	account     TEXT    NOT NULL,
	livemode    BOOLEAN NOT NULL,
	api_version TEXT    NOT NULL,
	object_id   TEXT    NOT NULL,
	created     BIGINT  NOT NULL,
	received_at BIGINT  NOT NULL,
	payload     ` + payloadType + ` NOT NULL
)`,
	`CREATE INDEX IF NOT EXISTS events_received_at ON events (received_at)`,
	`CREATE UNIQUE INDEX IF NOT EXISTS events_seq ON events (seq)`,
	`CREATE TABLE IF NOT EXISTS backfill_cursors (
	source      TEXT   NOT NULL PRIMARY KEY,
	listed_until BIGINT NOT NULL
)`,
	// outbox: one row per delivery an event owes a destination (a sink), in the event's transaction.
	// seq numbers a destination's rows (its sinks order by it); state is pending, delivered, dead or
	// held (the destination Held: the event's region is not known yet); times are Unix milliseconds.
	`CREATE TABLE IF NOT EXISTS outbox (
	event_id     TEXT   NOT NULL REFERENCES events (id),
	destination  TEXT   NOT NULL,
	seq          BIGINT NOT NULL,
	state        TEXT   NOT NULL,
	attempts     BIGINT NOT NULL,
	next_attempt BIGINT NOT NULL,
	last_error   TEXT   NOT NULL,
	updated_at   BIGINT NOT NULL,
	PRIMARY KEY (event_id, destination)
)`,
	`CREATE UNIQUE INDEX IF NOT EXISTS outbox_destination_seq ON outbox (destination, seq)`,
	// Due walks a destination's pending rows in seq order and stops at its limit: this index, with
	// next_attempt left out of the index's use (sqlDue's "+o.next_attempt"), instead of sorting every
	// due row of a backlog (bench-relay: 7 ms per call at 18,000 pending rows, 0.07 ms with it).
	`CREATE INDEX IF NOT EXISTS outbox_pending_seq ON outbox (destination, state, seq)`,
	// replays: each replay request carried out, so that it is carried out once.
	`CREATE TABLE IF NOT EXISTS replays (
	id          TEXT   NOT NULL PRIMARY KEY,
	destination TEXT   NOT NULL,
	matched     BIGINT NOT NULL,
	requeued    BIGINT NOT NULL,
	done_at     BIGINT NOT NULL
)`,
}

// The statements both engines run.
const (
	// On PostgreSQL an event's seq is its transaction's id (a Put is one event per transaction):
	// unique, increasing, and with the snapshot's xmin it tells which numbers can still appear
	// (sqlSincePG). A sequence could not: its numbers commit out of order.
	sqlInsertEventPG = `INSERT INTO events (id, endpoint, type, account, livemode, api_version, object_id, created,
	received_at, payload, seq) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, pg_current_xact_id()::text::bigint)
	ON CONFLICT (id) DO NOTHING`
	sqlInsertEvent = `INSERT INTO events (id, endpoint, type, account, livemode, api_version, object_id, created,
	received_at, payload, seq) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT (id) DO NOTHING`
	// SQLite: the destination's next seq in the same statement (one writer: 1, 2, … per destination),
	// so every writer (the intake, a reroute of a held event) numbers rows the same way.
	sqlInsertOutbox = `INSERT INTO outbox (event_id, destination, seq, state, attempts, next_attempt, last_error, updated_at)
	SELECT $1, $2, COALESCE(MAX(seq), 0) + 1, $3, 0, $4, '', $4 FROM outbox WHERE destination = $2
	ON CONFLICT DO NOTHING`
	// PostgreSQL: a row's seq is its event's (the transaction id: unique, increasing), so replicas
	// storing at once never contend for a destination's next number (a lock per destination held to
	// the commit serialized every writer to a sink that takes all events).
	sqlInsertOutboxPG = `INSERT INTO outbox (event_id, destination, seq, state, attempts, next_attempt, last_error, updated_at)
	SELECT $1, $2, e.seq, $3, 0, $4, '', $4 FROM events e WHERE e.id = $1
	ON CONFLICT DO NOTHING`
	sqlGetEvent = `SELECT id, endpoint, type, account, livemode, api_version, object_id, created, received_at,
	payload, seq FROM events WHERE id = $1`
	sqlSince = `SELECT id, endpoint, type, account, livemode, api_version, object_id, created, received_at,
	payload, seq FROM events WHERE seq > $1 ORDER BY seq LIMIT $2`
	sqlLatestSeq = `SELECT COALESCE(MAX(seq), 0) FROM events`
	// sqlSincePG and sqlLatestSeqPG read only below the snapshot's xmin: every transaction with a
	// lower id has ended, so no event will ever appear below it, while one in flight may commit above
	// a seq already read. The feed's cursor never passes an event still being stored.
	sqlSincePG = `SELECT id, endpoint, type, account, livemode, api_version, object_id, created, received_at,
	payload, seq FROM events WHERE seq > $1 AND seq < pg_snapshot_xmin(pg_current_snapshot())::text::bigint
	ORDER BY seq LIMIT $2`
	sqlLatestSeqPG = `SELECT COALESCE(MAX(seq), 0) FROM events WHERE seq < pg_snapshot_xmin(pg_current_snapshot())::text::bigint`
	sqlCursor      = `SELECT listed_until FROM backfill_cursors WHERE source = $1`
	sqlSetCursor   = `INSERT INTO backfill_cursors (source, listed_until) VALUES ($1, $2)
	ON CONFLICT (source) DO UPDATE SET listed_until = excluded.listed_until`
	sqlOutbox          = `SELECT destination FROM outbox WHERE event_id = $1 AND state IN ('pending', 'held') ORDER BY destination`
	sqlCount           = `SELECT COUNT(*) FROM events`
	sqlPruneCandidates = `SELECT e.id FROM events e WHERE e.received_at < $1
	AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.event_id = e.id AND o.state IN ('pending', 'held'))
	AND e.seq < (SELECT MAX(seq) FROM events) LIMIT 1000`
	sqlProbe       = `INSERT INTO probes (name, at) VALUES ('readyz', $1) ON CONFLICT (name) DO UPDATE SET at = excluded.at`
	sqlPruneOutbox = `DELETE FROM outbox WHERE event_id = $1`
	sqlPruneEvent  = `DELETE FROM events WHERE id = $1`
	pruneBatch     = 1000
)
