package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

var _ Deliveries = (*DB)(nil)

// Due implements Deliveries.
//
// On PostgreSQL, several relay replicas share the outbox: Due claims the rows it returns (see
// claimDue). SQLite serves one replica: its Due only reads, and q.Skip leaves out the attempts in
// flight.
func (s *DB) Due(ctx context.Context, q DueQuery) ([]Delivery, time.Duration, error) {
	if s.pg {
		return s.claimDue(ctx, q)
	}
	due, err := s.readDue(ctx, q)
	return due, 0, err
}

func (s *DB) readDue(ctx context.Context, q DueQuery) ([]Delivery, error) {
	destination, skip, limit := q.Destination, q.Skip, q.Limit
	rows, err := s.read.QueryContext(ctx, sqlDue, destination, q.Now.UnixMilli(), limit+len(skip))
	if err != nil {
		return nil, fmt.Errorf("due deliveries of %s: %w", destination, err)
	}
	defer func() { _ = rows.Close() }()
	var out []Delivery
	for rows.Next() {
		var (
			d        Delivery
			received int64
			payload  string
		)
		if err := rows.Scan(&d.EventID, &d.Destination, &d.Seq, &d.Attempts, &d.Type, &received, &payload); err != nil {
			return nil, fmt.Errorf("due deliveries of %s: %w", destination, err)
		}
		if skip[d.EventID] {
			continue
		}
		d.ReceivedAt, d.Payload = time.UnixMilli(received).UTC(), []byte(payload)
		if out = append(out, d); len(out) == limit {
			break
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("due deliveries of %s: %w", destination, err)
	}
	return out, nil
}

// NextDue implements Deliveries.
func (s *DB) NextDue(ctx context.Context, destination string) (time.Time, bool, error) {
	var next sql.NullInt64
	if err := s.read.QueryRowContext(ctx, sqlNextDue, destination).Scan(&next); err != nil {
		return time.Time{}, false, fmt.Errorf("next due of %s: %w", destination, err)
	}
	if !next.Valid {
		return time.Time{}, false, nil
	}
	return time.UnixMilli(next.Int64).UTC(), true, nil
}

// Record implements Deliveries. On SQLite, outcomes of concurrent attempts share the Puts' group
// commit: one fsync for a batch, not one per delivery; on PostgreSQL they commit without waiting for
// the flush. Only a pending row is changed, so an outcome arriving after
// a replay or a reroute is not applied to what they did.
func (s *DB) Record(ctx context.Context, outcomes ...Outcome) error {
	if len(outcomes) == 0 {
		return nil
	}
	apply := func(ctx context.Context, tx *writeTx) error { return recordOutcomes(ctx, tx, outcomes) }
	if s.pg {
		// An outcome lost with a database crash is an attempt made again: not worth a WAL flush, nor
		// a transaction for one outcome (one statement, one round trip).
		if len(outcomes) == 1 {
			return recordOutcomes(ctx, s.bookkeeping, outcomes)
		}
		return s.transactCommit(ctx, "record delivery", false, apply)
	}
	return s.submit(ctx, "record delivery", apply)
}

// execer runs a statement: a transaction, or a pool in autocommit.
type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// recordOutcomes applies outcomes to their rows, only to rows still pending.
func recordOutcomes(ctx context.Context, ex execer, outcomes []Outcome) error {
	for _, o := range outcomes {
		at := o.At.UnixMilli()
		msg := o.Error
		if len(msg) > maxErrorLength {
			msg = msg[:maxErrorLength]
		}
		var err error
		switch {
		case o.Delivered:
			_, err = ex.ExecContext(ctx, sqlRecordDone, o.EventID, o.Destination, at)
		case o.Dead:
			_, err = ex.ExecContext(ctx, sqlRecordDead, o.EventID, o.Destination, msg, at)
		default:
			_, err = ex.ExecContext(ctx, sqlRecordFailed, o.EventID, o.Destination, o.NextAttempt.UnixMilli(), msg, at)
		}
		if err != nil {
			return fmt.Errorf("record delivery of %s to %s: %w", o.EventID, o.Destination, err)
		}
	}
	return nil
}

// Counts implements Deliveries.
func (s *DB) Counts(ctx context.Context, destination string) (DestinationCounts, error) {
	rows, err := s.read.QueryContext(ctx, sqlCountsByState, destination)
	if err != nil {
		return DestinationCounts{}, fmt.Errorf("counts of %s: %w", destination, err)
	}
	defer func() { _ = rows.Close() }()
	var c DestinationCounts
	for rows.Next() {
		var (
			state  string
			failed bool
			n      int64
			oldest sql.NullInt64
		)
		if err := rows.Scan(&state, &failed, &n, &oldest); err != nil {
			return DestinationCounts{}, fmt.Errorf("counts of %s: %w", destination, err)
		}
		switch state {
		case StateDelivered:
			c.Delivered += n
		case StateDead:
			c.Dead += n
		case StatePending:
			c.Pending += n
			if failed {
				c.Retrying += n
			}
			if oldest.Valid {
				if t := time.UnixMilli(oldest.Int64).UTC(); c.OldestPending.IsZero() || t.Before(c.OldestPending) {
					c.OldestPending = t
				}
			}
		}
	}
	if err := rows.Err(); err != nil {
		return DestinationCounts{}, fmt.Errorf("counts of %s: %w", destination, err)
	}
	return c, nil
}

// HeldEvents implements Deliveries.
func (s *DB) HeldEvents(ctx context.Context, limit int) ([]Event, error) {
	rows, err := s.read.QueryContext(ctx, sqlHeld, limit)
	if err != nil {
		return nil, fmt.Errorf("held events: %w", err)
	}
	defer func() { _ = rows.Close() }()
	var out []Event
	for rows.Next() {
		ev, err := scanEvent(rows)
		if err != nil {
			return nil, fmt.Errorf("held events: %w", err)
		}
		out = append(out, ev)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("held events: %w", err)
	}
	return out, nil
}

// Reroute implements Deliveries.
func (s *DB) Reroute(ctx context.Context, eventID string, destinations []string, now time.Time) error {
	if slices.Contains(destinations, Held) {
		return nil // still undecidable: stays held
	}
	return s.submit(ctx, "reroute "+eventID, func(ctx context.Context, tx *writeTx) error {
		res, err := tx.ExecContext(ctx, sqlDeleteHeld, eventID)
		if err != nil {
			return fmt.Errorf("reroute %s: %w", eventID, err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return fmt.Errorf("reroute %s: rows affected: %w", eventID, err)
		}
		if n == 0 {
			return nil // no longer held (a concurrent reroute): nothing to do
		}
		if err := insertOutbox(ctx, tx, eventID, destinations, now); err != nil {
			return fmt.Errorf("reroute %s: %w", eventID, err)
		}
		tx.markStored()
		return nil
	})
}

// Replay implements Deliveries: the selection, the requeue and the record that the request was
// carried out are one transaction, so a replay retried after a crash is not carried out twice.
func (s *DB) Replay(ctx context.Context, req ReplayRequest) (ReplayResult, error) {
	var result ReplayResult
	err := s.submit(ctx, "replay "+req.ID, func(ctx context.Context, tx *writeTx) error {
		result = ReplayResult{}
		err := tx.QueryRowContext(ctx, sqlReplayDone, req.ID).Scan(&result.Matched, &result.Requeued)
		if err == nil {
			result.Repeated = true
			return nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("replay %s: %w", req.ID, err)
		}
		selected, err := replaySelection(ctx, tx, req)
		if err != nil {
			return err
		}
		at := req.At.UnixMilli()
		for id, state := range selected {
			if state == StateHeld || (req.DeadOnly && state != StateDead) {
				continue
			}
			result.Matched++
			if state == StatePending {
				continue // already owed: the replay changes nothing for it
			}
			if _, err := tx.ExecContext(ctx, sqlReplayRequeue, id, req.Destination, at); err != nil {
				return fmt.Errorf("replay %s: requeue %s: %w", req.ID, id, err)
			}
			result.Requeued++
		}
		if _, err := tx.ExecContext(ctx, sqlReplayRecord, req.ID, req.Destination, result.Matched, result.Requeued, at); err != nil {
			return fmt.Errorf("replay %s: record: %w", req.ID, err)
		}
		tx.markStored()
		return nil
	})
	return result, err
}

// replaySelection returns the destination's rows the request names (by id, or by the events'
// creation time), with their states.
func replaySelection(ctx context.Context, tx *writeTx, req ReplayRequest) (map[string]string, error) {
	query, args := sqlReplaySelected, []any{req.Destination}
	if len(req.EventIDs) == 0 {
		query += ` AND e.created >= $2 AND e.created < $3`
		args = append(args, req.From.Unix(), req.To.Unix())
	} else {
		placeholders := make([]string, len(req.EventIDs))
		for i, id := range req.EventIDs {
			placeholders[i] = "$" + strconv.Itoa(i+2)
			args = append(args, id)
		}
		query += ` AND o.event_id IN (` + strings.Join(placeholders, ", ") + `)`
	}
	rows, err := tx.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("replay %s: select: %w", req.ID, err)
	}
	defer func() { _ = rows.Close() }()
	selected := map[string]string{}
	for rows.Next() {
		var id, state string
		if err := rows.Scan(&id, &state); err != nil {
			return nil, fmt.Errorf("replay %s: select: %w", req.ID, err)
		}
		selected[id] = state
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("replay %s: select: %w", req.ID, err)
	}
	return selected, nil
}
