package store

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"
)

// suiteSharedBudget pins a destination's limits held across replicas (PostgreSQL): two stores on one
// database (two relay replicas) draw on one token bucket and one in-flight bound per destination, in
// seq order; a dead replica's claims stop counting when their lease ends.
func suiteSharedBudget(t *testing.T) {
	if engineUnderTest.name != "postgres" {
		t.Skip("SQLite serves one replica: its own limits are the whole bound")
	}
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "relay.db")
	a, b := openTest(t, path), openTest(t, path)
	for i := range 20 {
		if _, err := a.Put(ctx, event(fmt.Sprintf("evt_b%02d", i), t0), []string{"ns/rate", "ns/one"}); err != nil {
			t.Fatal(err)
		}
	}
	now := t0.Add(time.Minute)
	// A row's seq is its event's: the steps speak of the events' ranks, 1 for the first stored.
	events, err := a.Since(ctx, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	rank := map[int64]int64{}
	for i, ev := range events {
		rank[ev.Seq] = int64(i + 1)
	}
	claim := func(s *DB, dest string, at time.Time, shared Budget) ([]int64, time.Duration) {
		t.Helper()
		due, wait, err := s.Due(ctx, DueQuery{Destination: dest, Now: at, Limit: 10, Shared: shared})
		if err != nil {
			t.Fatal(err)
		}
		var ranks []int64
		for _, d := range due {
			ranks = append(ranks, rank[d.Seq])
		}
		return ranks, wait
	}

	t.Run("token bucket", func(t *testing.T) {
		rate := Budget{RequestsPerSecond: 10, Burst: 2}
		steps := []struct {
			replica  *DB
			at       time.Duration
			want     []int64
			wantWait bool
		}{
			{a, 0, []int64{1, 2}, false},                   // the burst
			{b, 0, nil, true},                              // spent by the other replica
			{b, 100 * time.Millisecond, []int64{3}, false}, // one token a tenth of a second
			{a, 150 * time.Millisecond, nil, true},         // half a token
			{a, 5 * time.Second, []int64{4, 5}, false},     // refilled up to the burst only
		}
		for i, step := range steps {
			got, wait := claim(step.replica, "ns/rate", now.Add(step.at), rate)
			if fmt.Sprint(got) != fmt.Sprint(step.want) || (wait > 0) != step.wantWait {
				t.Fatalf("step %d: claimed %v, wait %v; want %v, a wait: %v", i, got, wait, step.want, step.wantWait)
			}
		}
	})

	t.Run("in flight", func(t *testing.T) {
		one := Budget{MaxInFlight: 1}
		if got, _ := claim(a, "ns/one", now, one); fmt.Sprint(got) != "[1]" {
			t.Fatalf("first claim %v, want [1]", got)
		}
		if got, wait := claim(b, "ns/one", now, one); got != nil || wait != sharedBudgetPoll {
			t.Fatalf("the other replica claimed %v (wait %v) while seq 1 is in flight", got, wait)
		}
		if err := a.Record(ctx, Outcome{EventID: "evt_b00", Destination: "ns/one", Delivered: true, At: now}); err != nil {
			t.Fatal(err)
		}
		if got, _ := claim(b, "ns/one", now, one); fmt.Sprint(got) != "[2]" {
			t.Fatalf("after seq 1's outcome the other replica claimed %v, want [2]", got)
		}
		// b dies holding seq 2: its claim counts until the lease ends, then seq 2 is due again first.
		if got, _ := claim(a, "ns/one", now.Add(time.Second), one); got != nil {
			t.Fatalf("claimed %v beside a live claim", got)
		}
		if got, _ := claim(a, "ns/one", now.Add(DefaultClaimLease+time.Second), one); fmt.Sprint(got) != "[2]" {
			t.Fatalf("after the dead replica's lease a claimed %v, want [2]", got)
		}
	})
}

// suiteRenewedClaimHolds pins the claim's renewal (PostgreSQL): a row whose replica keeps renewing
// its claim is not handed to another replica past the first lease; once renewals stop, it is, one
// lease after the last.
func suiteRenewedClaimHolds(t *testing.T) {
	if engineUnderTest.name != "postgres" {
		t.Skip("SQLite's rows are not claimed")
	}
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "relay.db")
	a, b := openTest(t, path), openTest(t, path)
	if _, err := a.Put(ctx, event("evt_long", t0), []string{"ns/slow"}); err != nil {
		t.Fatal(err)
	}
	lease := a.ClaimLease()
	now := t0.Add(time.Minute)
	if due, _, err := a.Due(ctx, DueQuery{Destination: "ns/slow", Now: now, Limit: 1}); err != nil || len(due) != 1 {
		t.Fatalf("claim = %v, %v", due, err)
	}
	renewed := now.Add(lease * 2 / 3)
	if err := a.Renew(ctx, "ns/slow", "evt_long", renewed); err != nil {
		t.Fatal(err)
	}
	if due, _, _ := b.Due(ctx, DueQuery{Destination: "ns/slow", Now: now.Add(lease + time.Second), Limit: 1}); len(due) != 0 {
		t.Fatal("a renewed claim was handed to another replica when its first lease ended")
	}
	if due, _, _ := b.Due(ctx, DueQuery{Destination: "ns/slow", Now: renewed.Add(lease + time.Second), Limit: 1}); len(due) != 1 {
		t.Fatal("the row was not handed over one lease after the last renewal")
	}
}
