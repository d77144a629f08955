package store

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"time"
)

// sharedBudgetPoll is how soon a replica asks again when the destination's attempts in flight are
// all other replicas': their outcomes free the slots and nothing tells this replica when.
const sharedBudgetPoll = 100 * time.Millisecond

// The shared budget's statements (PostgreSQL). The budget row serializes the claims of a destination
// across replicas, so that the in-flight count and the token bucket each claim reads are the last
// claim's.
const (
	// sqlBudgetLockPG creates the destination's row full if it has none, and locks and reads it, in
	// one round trip (the upsert's update takes the row lock).
	sqlBudgetLockPG = `INSERT INTO destination_budgets AS d (destination, tokens, refilled_at) VALUES ($1, $2, $3)
	ON CONFLICT (destination) DO UPDATE SET destination = d.destination RETURNING d.tokens, d.refilled_at`
	// sqlInFlightPG counts the attempts in flight. It must be a statement of its own, after the lock:
	// a statement's snapshot is taken when it starts, so a count inside the locking statement would
	// miss the claim of the replica it waited for (TestReplicasHoldTheSinkLimits caught it). Its
	// "claimed_until > 0" lets it use outbox_claimed (the few rows claimed).
	sqlInFlightPG  = `SELECT COUNT(*) FROM outbox WHERE destination = $1 AND claimed_until > 0 AND claimed_until > $2 AND state = 'pending'`
	sqlBudgetSetPG = `UPDATE destination_budgets SET tokens = $2, refilled_at = $3 WHERE destination = $1`
)

// claimDue is Due on PostgreSQL. It claims the rows it returns for the claim lease, so that no two
// replicas attempt a row at once (Record releases the claim, Renew extends it); and it holds the
// destination's limits across replicas (q.Shared): the attempts claimed and not recorded, by any
// replica, stay within MaxInFlight, and claims draw on one token bucket per destination kept in the
// database. The claims of a destination are serialized and each takes the lowest due seqs, so
// replicas start attempts in the order one replica would. Claims commit on the bookkeeping pool
// (without waiting for the flush): a claim lost with the database is a row claimed again.
func (s *DB) claimDue(ctx context.Context, q DueQuery) ([]Delivery, time.Duration, error) {
	var (
		out  []Delivery
		wait time.Duration
	)
	err := s.transactCommit(ctx, "claim due deliveries of "+q.Destination, false, func(ctx context.Context, tx *writeTx) error {
		out, wait = out[:0], 0
		limit := q.Limit
		var bucket tokenBucket
		if q.Shared.bounded() {
			var err error
			if bucket, err = lockBudget(ctx, tx, q); err != nil {
				return err
			}
			if limit, wait = bucket.allows(q.Limit); limit == 0 {
				return nil
			}
		}
		var err error
		if out, err = claimRows(ctx, tx, q, limit, s.claimLease); err != nil {
			return err
		}
		if q.Shared.bounded() {
			return bucket.spend(ctx, tx, q, len(out))
		}
		return nil
	})
	if err != nil {
		return nil, 0, fmt.Errorf("due deliveries of %s: %w", q.Destination, err)
	}
	slices.SortFunc(out, func(a, b Delivery) int { return cmp.Compare(a.Seq, b.Seq) })
	return out, wait, nil
}

func (b Budget) bounded() bool { return b.MaxInFlight > 0 || b.RequestsPerSecond > 0 }

// tokenBucket is a destination's budget as a claim found it (locked until the claim commits).
type tokenBucket struct {
	budget   Budget
	tokens   float64 // after refilling up to now
	inFlight int     // attempts claimed by any replica, lease running, outcome not recorded
}

// lockBudget locks the destination's budget row (creating it full) and reads the bucket refilled
// up to now and the attempts in flight.
func lockBudget(ctx context.Context, tx *writeTx, q DueQuery) (tokenBucket, error) {
	b := tokenBucket{budget: q.Shared}
	burst := float64(max(q.Shared.Burst, 1))
	now := q.Now.UnixMilli()
	var refilledAt int64
	if err := tx.QueryRowContext(ctx, sqlBudgetLockPG, q.Destination, burst, now).Scan(&b.tokens, &refilledAt); err != nil {
		return b, fmt.Errorf("budget: %w", err)
	}
	if q.Shared.MaxInFlight > 0 {
		if err := tx.QueryRowContext(ctx, sqlInFlightPG, q.Destination, now).Scan(&b.inFlight); err != nil {
			return b, fmt.Errorf("budget: in flight: %w", err)
		}
	}
	// A replica whose clock is behind the last claimant's adds nothing (elapsed is never negative).
	elapsed := float64(max(now-refilledAt, 0)) / 1000
	b.tokens = math.Min(burst, b.tokens+elapsed*q.Shared.RequestsPerSecond)
	return b, nil
}

// allows returns how many of want attempts the budget lets start now, and, when none, how long
// until it may let one.
func (b tokenBucket) allows(want int) (int, time.Duration) {
	n := want
	var wait time.Duration
	if b.budget.MaxInFlight > 0 {
		if free := b.budget.MaxInFlight - b.inFlight; free < n {
			n, wait = max(free, 0), sharedBudgetPoll
		}
	}
	if b.budget.RequestsPerSecond > 0 {
		if whole := int(b.tokens); whole < n {
			n = whole
			if whole == 0 {
				wait = max(wait, time.Duration((1-b.tokens)/b.budget.RequestsPerSecond*float64(time.Second)))
			}
		}
	}
	if n > 0 {
		wait = 0
	}
	return n, wait
}

// spend takes the claimed attempts' tokens.
func (b tokenBucket) spend(ctx context.Context, tx *writeTx, q DueQuery, claimed int) error {
	tokens := b.tokens
	if b.budget.RequestsPerSecond > 0 {
		tokens -= float64(claimed)
	}
	if _, err := tx.ExecContext(ctx, sqlBudgetSetPG, q.Destination, tokens, q.Now.UnixMilli()); err != nil {
		return fmt.Errorf("budget: %w", err)
	}
	return nil
}

// claimRows claims up to limit due rows no other replica holds, for lease, with their events.
func claimRows(ctx context.Context, tx *writeTx, q DueQuery, limit int, lease time.Duration) ([]Delivery, error) {
	rows, err := tx.QueryContext(ctx, sqlClaimDuePG, q.Destination, q.Now.UnixMilli(), limit, q.Now.Add(lease).UnixMilli())
	if err != nil {
		return nil, fmt.Errorf("claim: %w", err)
	}
	defer func() { _ = rows.Close() }()
	var out []Delivery
	for rows.Next() {
		var (
			d        Delivery
			received int64
		)
		if err := rows.Scan(&d.EventID, &d.Destination, &d.Seq, &d.Attempts, &d.Type, &received, &d.Payload); err != nil {
			return nil, fmt.Errorf("claim: %w", err)
		}
		d.ReceivedAt = time.UnixMilli(received).UTC()
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("claim: %w", err)
	}
	return out, nil
}

// ClaimLease implements Deliveries.
func (s *DB) ClaimLease() time.Duration {
	if !s.pg {
		return 0
	}
	return s.claimLease
}

// Renew implements Deliveries (PostgreSQL; SQLite's rows are not claimed).
func (s *DB) Renew(ctx context.Context, destination, eventID string, now time.Time) error {
	if !s.pg {
		return nil
	}
	if _, err := s.bookkeeping.ExecContext(ctx, sqlRenewPG, eventID, destination, now.Add(s.claimLease).UnixMilli()); err != nil {
		return fmt.Errorf("renew the claim of %s to %s: %w", eventID, destination, err)
	}
	return nil
}
