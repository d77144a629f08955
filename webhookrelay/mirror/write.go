package mirror

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"time"
)

// owner is who a row belongs to.
type owner struct {
	// tenant is the StripeTenant (namespace/name) whose connected account holds the object; "" for the
	// platform account's own objects.
	tenant string
	region string
	// account is the Stripe account the object lives on (the platform's id for its own).
	account string
}

// state is one version of an object, from an event or a read.
type state struct {
	owner
	id      string
	data    json.RawMessage
	deleted bool
	// at is Stripe's time of this state: the event's created, or the Date of the read's response.
	at time.Time
	// eventID is the event the state came from; "" for a read.
	eventID string
}

// outcome says what a write did.
type outcome int

const (
	// written: the row is new, or the state was later than the row's.
	written outcome = iota + 1
	// older: the row holds a later state (an event delivered late, a duplicate read).
	older
	// same: the row holds this state already (a duplicate event, a read of what an event wrote).
	same
	// flagged: same second, different content: the order is unknown, so the row is refetched.
	flagged
)

// queryer is what a write runs on (a transaction or the pool).
type queryer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// write applies s to its row if s is later than the row's state, and flags the row for a refetch if
// they are of the same second and differ.
func (t objectType) write(ctx context.Context, q queryer, schema string, s state) (outcome, error) {
	table := schema + "." + t.table
	var one int
	err := q.QueryRowContext(ctx, `INSERT INTO `+table+` AS r (id, tenant, region, account, data, deleted, state_at, event_id)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
ON CONFLICT (id) DO UPDATE SET tenant = excluded.tenant, region = excluded.region, account = excluded.account,
	data = excluded.data, deleted = excluded.deleted, state_at = excluded.state_at, event_id = excluded.event_id,
	revision = r.revision + 1, synced_at = now(), refetch = FALSE
WHERE r.state_at < excluded.state_at
RETURNING 1`, s.id, s.tenant, s.region, s.account, []byte(s.data), s.deleted, s.at, s.eventID).Scan(&one)
	switch {
	case err == nil:
		return written, nil
	case !errors.Is(err, sql.ErrNoRows):
		return 0, fmt.Errorf("write %s %s: %w", t.name, s.id, err)
	}
	// Not later: flag the row if it is of the same second and differs, and say which case it was,
	// in one round trip (the outer SELECT reads the row as it was before the flag, which leaves
	// state_at as it is).
	var wasFlagged, sameSecond bool
	err = q.QueryRowContext(ctx, `WITH flag AS (
	UPDATE `+table+` SET refetch = TRUE
	WHERE id = $1 AND state_at = $2 AND NOT refetch AND (data <> $3::jsonb OR deleted <> $4)
	RETURNING 1)
SELECT EXISTS (SELECT 1 FROM flag), state_at = $2 FROM `+table+` WHERE id = $1`, s.id, s.at, []byte(s.data), s.deleted).
		Scan(&wasFlagged, &sameSecond)
	switch {
	case err != nil:
		return 0, fmt.Errorf("flag %s %s: %w", t.name, s.id, err)
	case wasFlagged:
		return flagged, nil
	case sameSecond:
		return same, nil
	}
	return older, nil
}

// row is a row as a refetch or a revalidation reads it.
type row struct {
	owner
	id       string
	data     json.RawMessage
	deleted  bool
	revision int64
}

// replace writes a GET's answer over a row read at revision: a GET made after the row's state was
// seen shows that state or a later one, so it wins unless the row changed since it was read (then
// the newer write decides, and flags the row again if it must). It reports whether the content
// changed.
func (t objectType) replace(ctx context.Context, q queryer, schema string, r row, got state) (changed bool, err error) {
	res, err := q.ExecContext(ctx, `UPDATE `+schema+"."+t.table+` SET
	data = $3, deleted = $4, state_at = GREATEST(state_at, $5), event_id = '',
	revision = revision + CASE WHEN data <> $3::jsonb OR deleted <> $4 THEN 1 ELSE 0 END,
	synced_at = now(), refetch = FALSE
WHERE id = $1 AND (revision = $2 OR state_at < $5)`, r.id, r.revision, []byte(got.data), got.deleted, got.at)
	if err != nil {
		return false, fmt.Errorf("replace %s %s: %w", t.name, r.id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return false, nil
	}
	return got.deleted != r.deleted || !jsonEqual(r.data, got.data), nil
}

// jsonEqual compares two JSON documents as values (key order and spacing aside).
func jsonEqual(a, b json.RawMessage) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}
