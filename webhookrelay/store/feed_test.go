package store

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// suiteSinceFollowsArrival pins the feed's read: Seq numbers events in the order the store committed
// them, increasing (SQLite: 1, 2, … with no gaps; duplicates take none), Since pages through them in
// that order, and the numbering continues after a reopen and after a prune (the newest event is never
// pruned, so a reader's cursor stays valid).
func suiteSinceFollowsArrival(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "relay.db")
	s := openTest(t, path)
	old := t0.Add(-40 * 24 * time.Hour)
	for i := range 5 {
		if _, err := s.Put(ctx, event(fmt.Sprintf("evt_%d", i), old), nil); err != nil {
			t.Fatal(err)
		}
	}
	if res, err := s.Put(ctx, event("evt_2", old), nil); err != nil || res != Duplicate {
		t.Fatalf("duplicate put = %v, %v", res, err)
	}
	all, err := s.Since(ctx, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	var seqs []int64
	for i, ev := range all {
		if ev.ID != fmt.Sprintf("evt_%d", i) || (i > 0 && ev.Seq <= seqs[i-1]) {
			t.Fatalf("Since(0) = %v: not the events in the order stored", all)
		}
		seqs = append(seqs, ev.Seq)
	}
	if len(seqs) != 5 {
		t.Fatalf("Since(0) returned %d events, want 5", len(seqs))
	}
	if engineUnderTest.name == "sqlite" && fmt.Sprint(seqs) != "[1 2 3 4 5]" {
		t.Fatalf("SQLite seqs %v, want 1..5", seqs)
	}
	page, err := s.Since(ctx, seqs[0], 3)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, ev := range page {
		got = append(got, ev.ID)
	}
	if want := "[evt_1 evt_2 evt_3]"; fmt.Sprint(got) != want {
		t.Fatalf("Since(first, 3) = %v, want %s", got, want)
	}
	if _, err := s.Prune(ctx, t0, MinRetention); err != nil {
		t.Fatal(err)
	}
	mustCount(t, s, 1) // evt_4 stays: it carries the highest Seq
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openTest(t, path)
	if _, err := s.Put(ctx, event("evt_new", t0), nil); err != nil {
		t.Fatal(err)
	}
	latest, err := s.LatestSeq(ctx)
	if err != nil || latest <= seqs[4] {
		t.Fatalf("LatestSeq after reopen = %d, %v; want above %d", latest, err, seqs[4])
	}
	if page, err := s.Since(ctx, seqs[4], 10); err != nil || len(page) != 1 || page[0].ID != "evt_new" || page[0].Seq != latest {
		t.Fatalf("Since(last) = %v, %v; want evt_new at %d", page, err, latest)
	}
}

// suiteSinceNeverPassesAnEventInFlight pins the feed's gap safety on PostgreSQL, where replicas store
// at once: while one replica's write is still open (its event inserted, not committed), an event
// another replica committed after it is not read yet, so a reader's cursor cannot pass the first;
// once it commits, both are read, in order.
func suiteSinceNeverPassesAnEventInFlight(t *testing.T) {
	if engineUnderTest.name != "postgres" {
		t.Skip("SQLite has one writer: its events commit in seq order")
	}
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "relay.db")
	a, b := openTest(t, path), openTest(t, path)
	// Replica a's Put, held open after its insert: the store's own statement in a transaction.
	open, err := a.write.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = open.Rollback() }()
	first := event("evt_first", t0)
	if _, err := open.ExecContext(ctx, sqlInsertEventPG, first.ID, first.Endpoint, first.Type, first.Account, first.Livemode,
		first.APIVersion, first.ObjectID, first.Created.Unix(), first.ReceivedAt.UnixMilli(), first.Payload); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Put(ctx, event("evt_second", t0), nil); err != nil {
		t.Fatal(err)
	}
	cursor, err := b.LatestSeq(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if page, err := b.Since(ctx, cursor, 10); err != nil || len(page) != 0 {
		t.Fatalf("Since(latest) while the first write is open = %v, %v; want nothing yet", page, err)
	}
	if err := open.Commit(); err != nil {
		t.Fatal(err)
	}
	page, err := b.Since(ctx, cursor, 10)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, ev := range page {
		got = append(got, ev.ID)
	}
	if fmt.Sprint(got) != "[evt_first evt_second]" {
		t.Fatalf("Since(cursor) after the commit = %v, want [evt_first evt_second]: a cursor passed an event", got)
	}
}

// suiteCursor pins backfill's bookmark: absent until set, then the last value set, per source.
func suiteCursor(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, filepath.Join(t.TempDir(), "relay.db"))
	if _, ok, err := s.Cursor(ctx, "conn/platform"); err != nil || ok {
		t.Fatalf("cursor before any = %v, %v", ok, err)
	}
	for _, at := range []time.Time{t0, t0.Add(time.Hour)} {
		if err := s.SetCursor(ctx, "conn/platform", at); err != nil {
			t.Fatal(err)
		}
	}
	got, ok, err := s.Cursor(ctx, "conn/platform")
	if err != nil || !ok || !got.Equal(t0.Add(time.Hour).Truncate(time.Second)) {
		t.Fatalf("cursor = %v, %v, %v; want %v", got, ok, err, t0.Add(time.Hour))
	}
	if _, ok, _ := s.Cursor(ctx, "conn/acct_1"); ok {
		t.Fatal("a cursor of one source leaked into another")
	}
}

// suiteNotificationsWakeReplicas pins the wake-up across PostgreSQL replicas: a replica listening is
// told within moments that another one stored an event.
func suiteNotificationsWakeReplicas(t *testing.T) {
	if engineUnderTest.name != "postgres" {
		t.Skip("SQLite serves one replica: its own writes wake it")
	}
	path := filepath.Join(t.TempDir(), "relay.db")
	a, b := openTest(t, path), openTest(t, path)
	woken := make(chan struct{}, 16)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = b.Notifications(ctx, func() { woken <- struct{}{} }, nil) }()
	deadline := time.After(10 * time.Second)
	for i := 0; ; i++ {
		// Put until the listener hears one: LISTEN may not be in place for the first.
		if _, err := a.Put(context.Background(), event(fmt.Sprintf("evt_n%d", i), t0), nil); err != nil {
			t.Fatal(err)
		}
		select {
		case <-woken:
			return
		case <-time.After(200 * time.Millisecond):
		case <-deadline:
			t.Fatal("the listening replica was never woken")
		}
	}
}

// suiteCheckWritable pins the readiness write: it commits on an open store and fails once the store
// is closed (a relay that cannot store is not ready for Stripe's deliveries); on PostgreSQL it fails
// on a database that only reads (a standby promoted the wrong way, a full disk's read-only mode)
// while reads still work, which a read as the readiness check would miss.
func suiteCheckWritable(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, filepath.Join(t.TempDir(), "relay.db"))
	if err := s.CheckWritable(ctx, t0); err != nil {
		t.Fatalf("CheckWritable on an open store: %v", err)
	}
	if engineUnderTest.name == "postgres" {
		var database string
		if err := s.read.QueryRowContext(ctx, `SELECT current_database()`).Scan(&database); err != nil {
			t.Fatal(err)
		}
		admin, err := sql.Open("pgx", s.dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = admin.Close() }()
		admin.SetMaxOpenConns(1)
		readOnly := func(on bool) {
			t.Helper()
			if _, err := admin.ExecContext(ctx, fmt.Sprintf(`ALTER DATABASE %s SET default_transaction_read_only = %v`, database, on)); err != nil {
				t.Fatal(err)
			}
			// The setting applies to new sessions: end the store's (its pool reconnects).
			if _, err := admin.ExecContext(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()`, database); err != nil {
				t.Fatal(err)
			}
		}
		// The first uses of the pool's connections find them ended (57P01): past those, what is left
		// is the database's answer.
		settled := func(f func() error) error {
			var err error
			for range 30 {
				if err = f(); err == nil || !strings.Contains(err.Error(), "57P01") {
					return err
				}
			}
			return err
		}
		readOnly(true)
		if err := settled(func() error { _, err := s.LatestSeq(ctx); return err }); err != nil {
			t.Fatalf("a read failed on the read-only database: %v", err)
		}
		if err := settled(func() error { return s.CheckWritable(ctx, t0) }); err == nil || !strings.Contains(err.Error(), "read-only") {
			t.Fatalf("CheckWritable on a read-only database: %v, want a read-only refusal", err)
		}
		readOnly(false)
		if err := settled(func() error { return s.CheckWritable(ctx, t0) }); err != nil {
			t.Fatalf("CheckWritable once writable again: %v", err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.CheckWritable(ctx, t0); err == nil {
		t.Fatal("CheckWritable on a closed store succeeded")
	}
}
