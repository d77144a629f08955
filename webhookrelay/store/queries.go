package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// The Store's reads (and the two small writes beside them: backfill's cursor, the readiness probe),
// the same on both engines but for the feed's horizon on PostgreSQL.

// Get implements Store.
func (s *DB) Get(ctx context.Context, id string) (Event, error) {
	ev, err := scanEvent(s.read.QueryRowContext(ctx, sqlGetEvent, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Event{}, fmt.Errorf("get %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return Event{}, fmt.Errorf("get %s: %w", id, err)
	}
	return ev, nil
}

// Since implements Store.
func (s *DB) Since(ctx context.Context, after int64, limit int) ([]Event, error) {
	if limit <= 0 {
		limit = 100
	}
	query := sqlSince
	if s.pg {
		query = sqlSincePG
	}
	rows, err := s.read.QueryContext(ctx, query, after, limit)
	if err != nil {
		return nil, fmt.Errorf("events since %d: %w", after, err)
	}
	defer func() { _ = rows.Close() }()
	var out []Event
	for rows.Next() {
		ev, err := scanEvent(rows)
		if err != nil {
			return nil, fmt.Errorf("events since %d: %w", after, err)
		}
		out = append(out, ev)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("events since %d: %w", after, err)
	}
	return out, nil
}

// LatestSeq implements Store.
func (s *DB) LatestSeq(ctx context.Context) (int64, error) {
	var seq int64
	query := sqlLatestSeq
	if s.pg {
		query = sqlLatestSeqPG
	}
	if err := s.read.QueryRowContext(ctx, query).Scan(&seq); err != nil {
		return 0, fmt.Errorf("latest seq: %w", err)
	}
	return seq, nil
}

// Cursor implements Store.
func (s *DB) Cursor(ctx context.Context, source string) (time.Time, bool, error) {
	var until int64
	err := s.read.QueryRowContext(ctx, sqlCursor, source).Scan(&until)
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, false, nil
	}
	if err != nil {
		return time.Time{}, false, fmt.Errorf("backfill cursor %s: %w", source, err)
	}
	return time.Unix(until, 0).UTC(), true, nil
}

// CheckWritable implements Store.
func (s *DB) CheckWritable(ctx context.Context, now time.Time) error {
	return s.submit(ctx, "readiness write", func(ctx context.Context, tx *writeTx) error {
		if _, err := tx.ExecContext(ctx, sqlProbe, now.UnixMilli()); err != nil {
			return fmt.Errorf("readiness write: %w", err)
		}
		return nil
	})
}

// SetCursor implements Store. It goes through the writer's connection (SQLite's one writer), beside
// the batching goroutine, as Prune does.
func (s *DB) SetCursor(ctx context.Context, source string, t time.Time) error {
	if _, err := s.write.ExecContext(ctx, sqlSetCursor, source, t.Unix()); err != nil {
		return fmt.Errorf("set backfill cursor %s: %w", source, err)
	}
	return nil
}

type rowScanner interface{ Scan(dest ...any) error }

func scanEvent(row rowScanner) (Event, error) {
	var (
		ev                Event
		created, received int64
		payload           string
	)
	if err := row.Scan(&ev.ID, &ev.Endpoint, &ev.Type, &ev.Account, &ev.Livemode, &ev.APIVersion, &ev.ObjectID,
		&created, &received, &payload, &ev.Seq); err != nil {
		return Event{}, err
	}
	ev.Created, ev.ReceivedAt, ev.Payload = time.Unix(created, 0).UTC(), time.UnixMilli(received).UTC(), []byte(payload)
	return ev, nil
}

// Outbox implements Store.
func (s *DB) Outbox(ctx context.Context, id string) ([]string, error) {
	rows, err := s.read.QueryContext(ctx, sqlOutbox, id)
	if err != nil {
		return nil, fmt.Errorf("outbox %s: %w", id, err)
	}
	defer func() { _ = rows.Close() }()
	var dests []string
	for rows.Next() {
		var d string
		if err := rows.Scan(&d); err != nil {
			return nil, fmt.Errorf("outbox %s: %w", id, err)
		}
		dests = append(dests, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("outbox %s: %w", id, err)
	}
	return dests, nil
}

// Count implements Store.
func (s *DB) Count(ctx context.Context) (int64, error) {
	var n int64
	if err := s.read.QueryRowContext(ctx, sqlCount).Scan(&n); err != nil {
		return 0, fmt.Errorf("count: %w", err)
	}
	return n, nil
}
