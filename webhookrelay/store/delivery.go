package store

import (
	"context"
	"time"
)

// Held is the destination of an event whose region cannot be decided yet (a connected account no
// tenant claims so far): it is sent nowhere until Reroute gives it its real destinations.
const Held = "!held"

// Outbox row states.
const (
	StatePending   = "pending"
	StateDelivered = "delivered"
	StateDead      = "dead"
	StateHeld      = "held"
)

// Delivery is one outbox row to attempt, with what the attempt sends.
type Delivery struct {
	EventID     string
	Destination string
	// Seq orders the destination's rows as the events were stored (sent so the sink can order):
	// SQLite 1, 2, …; PostgreSQL the event's seq (increasing, with gaps).
	Seq      int64
	Attempts int64
	Type     string
	// ReceivedAt is when the relay stored the event: the retry horizon counts from it.
	ReceivedAt time.Time
	Payload    []byte
}

// Outcome is what an attempt ended in.
type Outcome struct {
	EventID     string
	Destination string
	// Delivered: the sink answered 2xx.
	Delivered bool
	// Dead: failed, and past the retry horizon: a dead letter.
	Dead bool
	// NextAttempt is when a failed, not dead, delivery is tried again.
	NextAttempt time.Time
	// Error says why it failed (bounded by the store).
	Error string
	At    time.Time
}

// DestinationCounts summarize a destination's rows.
type DestinationCounts struct {
	Delivered, Pending, Retrying, Dead int64
	// OldestPending is the stored time of the oldest event still owed (zero when none).
	OldestPending time.Time
}

// ReplayRequest selects a destination's rows to deliver again.
type ReplayRequest struct {
	// ID identifies the request (the StripeEventReplay's UID): a request is carried out once.
	ID          string
	Destination string
	// From and To bound the events' Stripe creation time (from inclusive, to exclusive), or EventIDs
	// names them.
	From, To time.Time
	EventIDs []string
	// DeadOnly selects dead letters only; else every row of the selection (delivered rows too).
	DeadOnly bool
	At       time.Time
}

// ReplayResult says what a replay did.
type ReplayResult struct {
	// Matched rows of the destination the request selected; Requeued of them were set pending.
	Matched, Requeued int64
	// Repeated: the request was already carried out; the counts are the first time's.
	Repeated bool
}

// DueQuery asks for a destination's rows to attempt now.
type DueQuery struct {
	Destination string
	Now         time.Time
	// Limit is how many attempts the caller can start (its free slots).
	Limit int
	// Skip holds the caller's attempts in flight (SQLite, where Due only reads).
	Skip map[string]bool
	// Shared bounds the destination's attempts across every replica sharing the store (PostgreSQL).
	// SQLite serves one replica, whose own limits are the whole bound: it ignores Shared.
	Shared Budget
}

// Budget is a destination's delivery limits. Zero fields do not bound.
type Budget struct {
	// MaxInFlight bounds the attempts claimed and not yet recorded.
	MaxInFlight int
	// RequestsPerSecond and Burst are a token bucket: Burst attempts at once, then RequestsPerSecond.
	RequestsPerSecond float64
	Burst             int
}

// Deliveries is what the relay's delivery to sinks needs from the store.
type Deliveries interface {
	// Due returns up to q.Limit pending rows of the destination whose next attempt is due at q.Now,
	// in seq order, leaving out the events in q.Skip. When it returns none because the shared budget
	// is spent (by other replicas), wait says how long to wait before asking again (else 0).
	Due(ctx context.Context, q DueQuery) (rows []Delivery, wait time.Duration, err error)
	// ClaimLease is how long a claim Due made lasts unless renewed (PostgreSQL: a replica that dies
	// mid-attempt leaves the row to the others after it); 0 when claims do not lapse (SQLite).
	ClaimLease() time.Duration
	// Renew extends this replica's claim on a row still being attempted by another ClaimLease.
	Renew(ctx context.Context, destination, eventID string, now time.Time) error
	// NextDue returns when destination's earliest pending row is due, false when none is pending.
	NextDue(ctx context.Context, destination string) (time.Time, bool, error)
	// Record stores attempts' outcomes (through the group commit).
	Record(ctx context.Context, outcomes ...Outcome) error
	// Counts summarizes destination's rows.
	Counts(ctx context.Context, destination string) (DestinationCounts, error)
	// HeldEvents returns up to limit events held for want of a region, oldest first.
	HeldEvents(ctx context.Context, limit int) ([]Event, error)
	// Reroute gives a held event its destinations (none: it goes nowhere) in one transaction.
	Reroute(ctx context.Context, eventID string, destinations []string, now time.Time) error
	// Replay sets the selected rows of a destination pending again, once per request id.
	Replay(ctx context.Context, req ReplayRequest) (ReplayResult, error)
}

// DefaultClaimLease is how long a PostgreSQL replica's claim on a row lasts unless renewed: the
// deliverer renews its claims while an attempt runs, so a lease need not outlast the longest
// attempt, only a few renewals; a replica that dies mid-delivery leaves its rows to the others after
// at most this long.
const DefaultClaimLease = 30 * time.Second

// maxErrorLength bounds the last error kept per row.
const maxErrorLength = 500

// The delivery statements both engines run.
const (
	sqlDue = `SELECT o.event_id, o.destination, o.seq, o.attempts, e.type, e.received_at, e.payload
	FROM outbox o JOIN events e ON e.id = o.event_id
	WHERE o.destination = $1 AND o.state = 'pending' AND +o.next_attempt <= $2 ORDER BY o.seq LIMIT $3`
	// sqlClaimDuePG takes, for one replica, the due rows no other replica holds (SKIP LOCKED skips
	// rows another transaction is claiming; claimed_until skips rows claimed and in flight).
	// It returns the claimed rows with their events, in one round trip.
	sqlClaimDuePG = `WITH due AS (SELECT event_id, destination FROM outbox
	WHERE destination = $1 AND state = 'pending' AND next_attempt <= $2 AND claimed_until <= $2
	ORDER BY seq LIMIT $3 FOR UPDATE SKIP LOCKED)
	UPDATE outbox o SET claimed_until = $4 FROM due JOIN events e ON e.id = due.event_id
	WHERE o.event_id = due.event_id AND o.destination = due.destination
	RETURNING o.event_id, o.destination, o.seq, o.attempts, e.type, e.received_at, e.payload`
	sqlRenewPG        = `UPDATE outbox SET claimed_until = $3 WHERE event_id = $1 AND destination = $2 AND state = 'pending' AND claimed_until > 0`
	sqlNextDue        = `SELECT MIN(next_attempt) FROM outbox WHERE destination = $1 AND state = 'pending'`
	sqlRecordDone     = `UPDATE outbox SET state = 'delivered', attempts = attempts + 1, claimed_until = 0, last_error = '', updated_at = $3 WHERE event_id = $1 AND destination = $2 AND state = 'pending'`
	sqlRecordFailed   = `UPDATE outbox SET attempts = attempts + 1, claimed_until = 0, next_attempt = $3, last_error = $4, updated_at = $5 WHERE event_id = $1 AND destination = $2 AND state = 'pending'`
	sqlRecordDead     = `UPDATE outbox SET state = 'dead', attempts = attempts + 1, claimed_until = 0, last_error = $3, updated_at = $4 WHERE event_id = $1 AND destination = $2 AND state = 'pending'`
	sqlCountsByState  = `SELECT o.state, o.attempts > 0, COUNT(*), MIN(e.received_at) FROM outbox o JOIN events e ON e.id = o.event_id WHERE o.destination = $1 GROUP BY o.state, o.attempts > 0`
	sqlHeld           = `SELECT e.id, e.endpoint, e.type, e.account, e.livemode, e.api_version, e.object_id, e.created, e.received_at, e.payload, e.seq FROM outbox o JOIN events e ON e.id = o.event_id WHERE o.destination = '` + Held + `' ORDER BY e.seq LIMIT $1`
	sqlDeleteHeld     = `DELETE FROM outbox WHERE event_id = $1 AND destination = '` + Held + `'`
	sqlReplayDone     = `SELECT matched, requeued FROM replays WHERE id = $1`
	sqlReplayRecord   = `INSERT INTO replays (id, destination, matched, requeued, done_at) VALUES ($1, $2, $3, $4, $5)`
	sqlReplaySelected = `SELECT o.event_id, o.state FROM outbox o JOIN events e ON e.id = o.event_id WHERE o.destination = $1`
	sqlReplayRequeue  = `UPDATE outbox SET state = 'pending', attempts = 0, claimed_until = 0, next_attempt = $3, last_error = '', updated_at = $3 WHERE event_id = $1 AND destination = $2`
)
