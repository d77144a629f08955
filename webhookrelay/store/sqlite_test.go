package store

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// openTest opens the store at path (a file for SQLite, a database named after it for PostgreSQL)
// on the engine under test, closed when the test ends.
func openTest(t testing.TB, path string) *DB {
	t.Helper()
	s := openUnmanaged(t, path)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// openUnmanaged opens the store without closing it at the end (the test closes it).
func openUnmanaged(t testing.TB, path string) *DB {
	t.Helper()
	s, err := engineUnderTest.open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func event(id string, received time.Time) Event {
	return Event{ID: id, Endpoint: "team-a/platform", Type: "product.updated", Account: "acct_1", Livemode: true,
		APIVersion: "2023-10-16", ObjectID: "prod_1", Created: received.Add(-time.Second).Truncate(time.Second),
		ReceivedAt: received.Truncate(time.Millisecond), Payload: []byte(`{"id":"` + id + `"}`)}
}

func mustCount(t *testing.T, s Store, want int64) {
	t.Helper()
	n, err := s.Count(context.Background())
	if err != nil || n != want {
		t.Fatalf("count = %d, %v; want %d", n, err, want)
	}
}

// suitePut pins Put's idempotency: a new id is stored with its outbox rows, the same id again is a
// Duplicate that changes nothing (not even the outbox).
func suitePut(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name  string
		puts  []string // event ids in order
		dests [][]string
		want  []PutResult
		count int64
	}{
		{name: "new event stored", puts: []string{"evt_a"}, dests: [][]string{{"gl", "notifier"}},
			want: []PutResult{Stored}, count: 1},
		{name: "duplicate absorbed", puts: []string{"evt_a", "evt_a"}, dests: [][]string{{"gl"}, {"other"}},
			want: []PutResult{Stored, Duplicate}, count: 1},
		{name: "reordered ids both stored", puts: []string{"evt_b", "evt_a"}, dests: [][]string{nil, nil},
			want: []PutResult{Stored, Stored}, count: 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := openTest(t, filepath.Join(t.TempDir(), "relay.db"))
			for i, id := range tc.puts {
				got, err := s.Put(ctx, event(id, t0), tc.dests[i])
				if err != nil || got != tc.want[i] {
					t.Fatalf("put %d %s = %v, %v; want %v", i, id, got, err, tc.want[i])
				}
			}
			mustCount(t, s, tc.count)
			// The outbox is the first Put's, untouched by duplicates.
			out, err := s.Outbox(ctx, tc.puts[0])
			if err != nil || !slices.Equal(out, tc.dests[0]) {
				t.Fatalf("outbox = %v, %v; want %v", out, err, tc.dests[0])
			}
		})
	}
}

// suiteGetRoundTrip pins that every field comes back as put, and a missing id is ErrNotFound.
func suiteGetRoundTrip(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, filepath.Join(t.TempDir(), "relay.db"))
	want := event("evt_rt", t0)
	want.Account = "" // platform event
	if _, err := s.Put(ctx, want, nil); err != nil {
		t.Fatal(err)
	}
	got, err := s.Get(ctx, "evt_rt")
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != want.ID || got.Endpoint != want.Endpoint || got.Type != want.Type || got.Account != "" ||
		!got.Livemode || got.APIVersion != want.APIVersion || got.ObjectID != want.ObjectID ||
		!got.Created.Equal(want.Created) || !got.ReceivedAt.Equal(want.ReceivedAt) || string(got.Payload) != string(want.Payload) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	if _, err := s.Get(ctx, "evt_none"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing id: %v, want ErrNotFound", err)
	}
}

// suiteConcurrentPutsSameID pins exactly-once storage when Stripe's retries (or two relay handlers)
// race: of 32 concurrent Puts of one id, exactly one is Stored and the outbox holds one row set.
func suiteConcurrentPutsSameID(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, filepath.Join(t.TempDir(), "relay.db"))
	const n = 32
	results := make([]PutResult, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			var err error
			if results[i], err = s.Put(ctx, event("evt_race", t0), []string{"gl"}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	stored := 0
	for _, r := range results {
		if r == Stored {
			stored++
		}
	}
	if stored != 1 {
		t.Fatalf("%d Puts stored, want 1 (results %v)", stored, results)
	}
	mustCount(t, s, 1)
	if out, _ := s.Outbox(ctx, "evt_race"); !slices.Equal(out, []string{"gl"}) {
		t.Fatalf("outbox %v, want [gl]", out)
	}
}

// suiteReopenKeepsEverything pins durability across a restart: what Put acknowledged is there after
// Close and OpenSQLite, and ids are still deduplicated.
func suiteReopenKeepsEverything(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "relay.db")
	s := openUnmanaged(t, path)
	for i := range 50 {
		if _, err := s.Put(ctx, event(fmt.Sprintf("evt_%02d", i), t0), []string{"gl"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Put(ctx, event("evt_late", t0), nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("put after close: %v, want ErrClosed", err)
	}
	s2 := openTest(t, path)
	mustCount(t, s2, 50)
	if got, err := s2.Put(ctx, event("evt_07", t0), nil); err != nil || got != Duplicate {
		t.Fatalf("re-put after reopen = %v, %v; want Duplicate", got, err)
	}
	if out, _ := s2.Outbox(ctx, "evt_49"); !slices.Equal(out, []string{"gl"}) {
		t.Fatalf("outbox after reopen %v", out)
	}
}

// suitePrune pins retention: events older than the retention and owing nothing go; younger ones and
// ones with outbox rows stay; a retention under 30 days is refused.
func suitePrune(t *testing.T) {
	ctx := context.Background()
	now := t0.Add(90 * 24 * time.Hour)
	cases := []struct {
		name      string
		retention time.Duration
		wantErr   error
		pruned    int64
		left      []string
	}{
		{name: "30 days", retention: MinRetention, pruned: 1500, left: []string{"evt_owing", "evt_young"}},
		{name: "longer than everything", retention: 365 * 24 * time.Hour, left: []string{"evt_owing", "evt_young", "evt_old_0"}},
		{name: "too short refused", retention: 7 * 24 * time.Hour, wantErr: ErrRetentionTooShort,
			left: []string{"evt_owing", "evt_young", "evt_old_0"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := openTest(t, filepath.Join(t.TempDir(), "relay.db"))
			old := now.Add(-31 * 24 * time.Hour)
			// 1500 old events: more than one prune batch.
			for i := range 1500 {
				if _, err := s.Put(ctx, event(fmt.Sprintf("evt_old_%d", i), old), nil); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := s.Put(ctx, event("evt_owing", old), []string{"gl"}); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Put(ctx, event("evt_young", now.Add(-29*24*time.Hour)), nil); err != nil {
				t.Fatal(err)
			}
			n, err := s.Prune(ctx, now, tc.retention)
			if !errors.Is(err, tc.wantErr) || n != tc.pruned {
				t.Fatalf("prune = %d, %v; want %d, %v", n, err, tc.pruned, tc.wantErr)
			}
			for _, id := range tc.left {
				if _, err := s.Get(ctx, id); err != nil {
					t.Fatalf("%s: %v", id, err)
				}
			}
		})
	}
}
