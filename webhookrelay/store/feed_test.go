package store

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"
)

// suiteSinceFollowsArrival pins the feed's read: Seq numbers events in the order the store committed
// them (duplicates take none), Since pages through them in that order, and the numbering continues
// after a reopen and after a prune (the newest event is never pruned, so a reader's cursor stays
// valid).
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
	page, err := s.Since(ctx, 1, 3)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, ev := range page {
		got = append(got, fmt.Sprintf("%d:%s", ev.Seq, ev.ID))
	}
	if want := "[2:evt_1 3:evt_2 4:evt_3]"; fmt.Sprint(got) != want {
		t.Fatalf("Since(1, 3) = %v, want %s", got, want)
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
	if latest, err := s.LatestSeq(ctx); err != nil || latest != 6 {
		t.Fatalf("LatestSeq after reopen = %d, %v; want 6", latest, err)
	}
	if page, err := s.Since(ctx, 5, 10); err != nil || len(page) != 1 || page[0].ID != "evt_new" {
		t.Fatalf("Since(5) = %v, %v; want evt_new", page, err)
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
