package store

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"
)

// dueIDs returns the due rows as "n:event id", n the row's place among the destination's rows (1 for
// its first): SQLite's seq itself; on PostgreSQL, where a row's seq is its event's, its rank.
func dueIDs(t *testing.T, s *DB, dest string, now time.Time) []string {
	t.Helper()
	due, _, err := s.Due(context.Background(), DueQuery{Destination: dest, Now: now, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	place := func(seq int64) int64 { return seq }
	if s.pg {
		ranks := destinationRanks(t, s, dest)
		place = func(seq int64) int64 { return ranks[seq] }
	}
	var ids []string
	for _, d := range due {
		ids = append(ids, fmt.Sprintf("%d:%s", place(d.Seq), d.EventID))
	}
	return ids
}

// destinationRanks maps each seq of the destination's rows to its rank (1, 2, …).
func destinationRanks(t *testing.T, s *DB, dest string) map[int64]int64 {
	t.Helper()
	rows, err := s.read.Query(`SELECT seq FROM outbox WHERE destination = $1 ORDER BY seq`, dest)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = rows.Close() }()
	ranks := map[int64]int64{}
	for rows.Next() {
		var seq int64
		if err := rows.Scan(&seq); err != nil {
			t.Fatal(err)
		}
		ranks[seq] = int64(len(ranks) + 1)
	}
	return ranks
}

// suiteDeliveryLifecycle pins the outbox's states: rows are due at once in the destination's seq
// order; a failure waits for its next attempt; delivered and dead rows are never due again; counts
// and the oldest pending event follow; an outcome for a row no longer pending is not applied.
func suiteDeliveryLifecycle(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, filepath.Join(t.TempDir(), "relay.db"))
	for i := range 3 {
		if _, err := s.Put(ctx, event(fmt.Sprintf("evt_%d", i), t0.Add(time.Duration(i)*time.Second)), []string{"ns/gl", "ns/audit"}); err != nil {
			t.Fatal(err)
		}
	}
	now := t0.Add(time.Minute)
	if got := fmt.Sprint(dueIDs(t, s, "ns/gl", now)); got != "[1:evt_0 2:evt_1 3:evt_2]" {
		t.Fatalf("due %s", got)
	}
	steps := []Outcome{
		{EventID: "evt_0", Destination: "ns/gl", Delivered: true, At: now},
		{EventID: "evt_1", Destination: "ns/gl", NextAttempt: now.Add(time.Hour), Error: "503", At: now},
		{EventID: "evt_2", Destination: "ns/gl", Dead: true, Error: "gone", At: now},
		{EventID: "evt_0", Destination: "ns/gl", Dead: true, At: now}, // late: evt_0 is delivered
	}
	if err := s.Record(ctx, steps...); err != nil {
		t.Fatal(err)
	}
	if got := dueIDs(t, s, "ns/gl", now); len(got) != 0 {
		t.Fatalf("due after the outcomes: %v", got)
	}
	if got := fmt.Sprint(dueIDs(t, s, "ns/gl", now.Add(time.Hour))); got != "[2:evt_1]" {
		t.Fatalf("due at the retry: %s", got)
	}
	if next, ok, err := s.NextDue(ctx, "ns/gl"); err != nil || !ok || !next.Equal(now.Add(time.Hour).Truncate(time.Millisecond)) {
		t.Fatalf("next due %v %v %v", next, ok, err)
	}
	c, err := s.Counts(ctx, "ns/gl")
	if err != nil {
		t.Fatal(err)
	}
	want := DestinationCounts{Delivered: 1, Pending: 1, Retrying: 1, Dead: 1, OldestPending: t0.Add(time.Second)}
	if c != want {
		t.Fatalf("counts %+v, want %+v", c, want)
	}
	if c, _ := s.Counts(ctx, "ns/audit"); c.Pending != 3 || c.Retrying != 0 || !c.OldestPending.Equal(t0) {
		t.Fatalf("the other destination's counts %+v: its rows are its own", c)
	}
}

// suiteReplay pins replay: dead letters only, or every row in the range, delivered rows included;
// never another destination's rows; carried out once per request id.
func suiteReplay(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name         string
		req          ReplayRequest
		wantMatched  int64
		wantRequeued int64
		wantDue      string
	}{
		{"dead letters by id", ReplayRequest{ID: "r1", EventIDs: []string{"evt_dead", "evt_done"}, DeadOnly: true}, 1, 1, "[3:evt_dead]"},
		{"everything in a range (a pending row keeps its own schedule)", ReplayRequest{ID: "r2", From: t0.Add(-time.Hour), To: t0.Add(time.Hour)}, 3, 2, "[1:evt_done 3:evt_dead]"},
		{"a range that holds nothing", ReplayRequest{ID: "r3", From: t0.Add(time.Hour), To: t0.Add(2 * time.Hour)}, 0, 0, "[]"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := openTest(t, filepath.Join(t.TempDir(), "relay.db"))
			for _, id := range []string{"evt_done", "evt_pending", "evt_dead"} {
				if _, err := s.Put(ctx, event(id, t0), []string{"ns/gl", "ns/us-sink"}); err != nil {
					t.Fatal(err)
				}
			}
			later := t0.Add(time.Hour)
			if err := s.Record(ctx,
				Outcome{EventID: "evt_done", Destination: "ns/gl", Delivered: true, At: later},
				Outcome{EventID: "evt_pending", Destination: "ns/gl", NextAttempt: later.Add(time.Hour), At: later},
				Outcome{EventID: "evt_dead", Destination: "ns/gl", Dead: true, At: later},
				Outcome{EventID: "evt_dead", Destination: "ns/us-sink", Dead: true, At: later}); err != nil {
				t.Fatal(err)
			}
			req := tc.req
			req.Destination, req.At = "ns/gl", later
			for attempt := range 2 {
				res, err := s.Replay(ctx, req)
				if err != nil {
					t.Fatal(err)
				}
				if res.Matched != tc.wantMatched || res.Requeued != tc.wantRequeued || res.Repeated != (attempt == 1) {
					t.Fatalf("attempt %d: %+v, want matched %d requeued %d", attempt, res, tc.wantMatched, tc.wantRequeued)
				}
			}
			if got := fmt.Sprint(dueIDs(t, s, "ns/gl", later)); got != tc.wantDue {
				t.Fatalf("due after the replay %s, want %s", got, tc.wantDue)
			}
			if c, _ := s.Counts(ctx, "ns/us-sink"); c.Dead != 1 {
				t.Fatalf("another destination's dead letter was touched: %+v", c)
			}
		})
	}
}

// suiteHeldAndRerouted pins the region hold: a held event owes nothing to anyone (not due anywhere,
// kept by Prune), and Reroute gives it its destinations exactly once.
func suiteHeldAndRerouted(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, filepath.Join(t.TempDir(), "relay.db"))
	if _, err := s.Put(ctx, event("evt_held", t0), []string{Held}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Put(ctx, event("evt_newest", t0), nil); err != nil {
		t.Fatal(err)
	}
	if n, err := s.Prune(ctx, t0.Add(60*24*time.Hour), MinRetention); err != nil || n != 0 {
		t.Fatalf("prune removed %d (%v): a held event must stay", n, err)
	}
	held, err := s.HeldEvents(ctx, 10)
	if err != nil || len(held) != 1 || held[0].ID != "evt_held" {
		t.Fatalf("held %v, %v", held, err)
	}
	for range 2 {
		if err := s.Reroute(ctx, "evt_held", []string{"ns/eu-sink"}, t0); err != nil {
			t.Fatal(err)
		}
	}
	if got := fmt.Sprint(dueIDs(t, s, "ns/eu-sink", t0)); got != "[1:evt_held]" {
		t.Fatalf("due after reroute %s", got)
	}
	if held, _ := s.HeldEvents(ctx, 10); len(held) != 0 {
		t.Fatalf("still held: %v", held)
	}
}

// suitePruneDeliveredRows pins retention with deliveries: an old event whose rows are all delivered or
// dead goes with its rows; one still owed stays.
func suitePruneDeliveredRows(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, filepath.Join(t.TempDir(), "relay.db"))
	for _, id := range []string{"evt_delivered", "evt_owed", "evt_newest"} {
		if _, err := s.Put(ctx, event(id, t0), []string{"ns/gl"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Record(ctx, Outcome{EventID: "evt_delivered", Destination: "ns/gl", Delivered: true, At: t0}); err != nil {
		t.Fatal(err)
	}
	if n, err := s.Prune(ctx, t0.Add(31*24*time.Hour), MinRetention); err != nil || n != 1 {
		t.Fatalf("pruned %d, %v; want 1", n, err)
	}
	if _, err := s.Get(ctx, "evt_owed"); err != nil {
		t.Fatalf("the owed event went: %v", err)
	}
	if c, _ := s.Counts(ctx, "ns/gl"); c.Delivered != 0 || c.Pending != 2 {
		t.Fatalf("counts after prune %+v", c)
	}
}

// suiteConcurrentDestinationSeq pins the destination's numbering under concurrent Puts (PostgreSQL's
// writers are concurrent transactions): every row gets its own seq (SQLite: 1..n), none shared, none
// lost.
func suiteConcurrentDestinationSeq(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, filepath.Join(t.TempDir(), "relay.db"))
	const n = 64
	errs := make(chan error, n)
	for i := range n {
		go func() {
			_, err := s.Put(ctx, event(fmt.Sprintf("evt_c%02d", i), t0), []string{"ns/gl", "ns/audit"})
			errs <- err
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	for _, dest := range []string{"ns/gl", "ns/audit"} {
		due, _, err := s.Due(ctx, DueQuery{Destination: dest, Now: t0.Add(time.Hour), Limit: 2 * n})
		if err != nil {
			t.Fatal(err)
		}
		seen := map[int64]bool{}
		for _, d := range due {
			seen[d.Seq] = true
		}
		if len(due) != n || len(seen) != n {
			t.Fatalf("%s: %d rows, %d distinct seqs (want %d)", dest, len(due), len(seen), n)
		}
		// SQLite numbers a destination's rows 1..n; PostgreSQL gives a row its event's seq (unique
		// and increasing, with gaps), so no writer waits for another's number.
		if engineUnderTest.name == "sqlite" && (!seen[1] || !seen[n]) {
			t.Fatalf("%s: seqs are not 1..%d", dest, n)
		}
	}
}

// suiteReplicasShareDeliveries pins delivery shared by replicas (PostgreSQL): two stores on one
// database (two relay replicas) asking at once never get the same row; a row claimed by a replica that
// died comes back after the claim's lease; an outcome releases the claim.
func suiteReplicasShareDeliveries(t *testing.T) {
	if engineUnderTest.name != "postgres" {
		t.Skip("SQLite serves one replica: its Due only reads")
	}
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "relay.db")
	a, b := openTest(t, path), openTest(t, path)
	for i := range 40 {
		if _, err := a.Put(ctx, event(fmt.Sprintf("evt_r%02d", i), t0), []string{"ns/gl"}); err != nil {
			t.Fatal(err)
		}
	}
	now := t0.Add(time.Minute)
	got := make(chan []Delivery, 8)
	for _, s := range []*DB{a, b, a, b, a, b, a, b} {
		go func() {
			due, _, err := s.Due(ctx, DueQuery{Destination: "ns/gl", Now: now, Limit: 5})
			if err != nil {
				t.Error(err)
			}
			got <- due
		}()
	}
	seen := map[string]bool{}
	for range 8 {
		for _, d := range <-got {
			if seen[d.EventID] {
				t.Fatalf("%s handed to two replicas at once", d.EventID)
			}
			seen[d.EventID] = true
		}
	}
	if len(seen) != 40 {
		t.Fatalf("%d rows claimed by 8 calls of 5, want 40", len(seen))
	}
	if due, _, _ := b.Due(ctx, DueQuery{Destination: "ns/gl", Now: now, Limit: 100}); len(due) != 0 {
		t.Fatalf("%d rows handed out again while claimed", len(due))
	}
	if err := a.Record(ctx, Outcome{EventID: "evt_r00", Destination: "ns/gl", NextAttempt: now, At: now}); err != nil {
		t.Fatal(err)
	}
	if due, _, _ := b.Due(ctx, DueQuery{Destination: "ns/gl", Now: now, Limit: 100}); len(due) != 1 || due[0].EventID != "evt_r00" {
		t.Fatalf("after its outcome the row is not due again: %v", due)
	}
	if due, _, _ := b.Due(ctx, DueQuery{Destination: "ns/gl", Now: now.Add(DefaultClaimLease + time.Second), Limit: 100}); len(due) != 40 {
		t.Fatalf("%d rows back after the lease, want all 40 (claimed by replicas that never answered)", len(due))
	}
}
