package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// suitePayloadBytesExact pins that the payload comes back byte for byte: the intake stores what Stripe
// signed, so that anything re-verifying or re-delivering it sees the signed bytes. An authentic event
// may carry any bytes VerifyEvent accepts, including invalid UTF-8 inside a JSON string (encoding/json
// accepts it).
func suitePayloadBytesExact(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, filepath.Join(t.TempDir(), "relay.db"))
	cases := []struct {
		name    string
		payload []byte
	}{
		{"ascii", []byte(`{"id":"evt_1","type":"t"}`)},
		{"unicode", []byte(`{"id":"evt_1","name":"Zoë ☕ 日本 🧾"}`)},
		{"escapes", []byte(`{"id":"evt_1","name":"a\u0000b\"c\\d\ud83e\uddfe"}`)},
		{"invalid utf-8", []byte("{\"id\":\"evt_1\",\"name\":\"\xff\xfe\xc3\"}")},
		{"whitespace kept", []byte("{\n  \"id\": \"evt_1\" ,\t\"type\":\"t\"\r\n}")},
		{"1 MiB", []byte(`{"id":"evt_1","pad":"` + strings.Repeat("x", 1<<20) + `"}`)},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ev := event(fmt.Sprintf("evt_bytes_%d", i), t0)
			ev.Payload = tc.payload
			if res, err := s.Put(ctx, ev, nil); err != nil || res != Stored {
				t.Fatalf("put = %v, %v", res, err)
			}
			got, err := s.Get(ctx, ev.ID)
			if err != nil || !bytes.Equal(got.Payload, tc.payload) {
				t.Fatalf("payload came back as %q (%v), want %q", clip(got.Payload), err, clip(tc.payload))
			}
		})
	}
}

func clip(b []byte) []byte {
	if len(b) > 80 {
		return b[:80]
	}
	return b
}

// suitePutCancelledThenRetried pins the contract of a Put that fails because its caller went away (the
// intake's request context, when Stripe's connection drops): the event is then either not committed or
// committed in full with its outbox, never half; the retry is Stored in the first case and Duplicate
// in the second, and the event is stored once.
func suitePutCancelledThenRetried(t *testing.T) {
	for attempt := range 20 { // Put's selects pick at random between the cancellation and the writer
		t.Run(fmt.Sprint(attempt), func(t *testing.T) {
			s := openTest(t, filepath.Join(t.TempDir(), "relay.db"))
			cancelled, cancel := context.WithCancel(context.Background())
			cancel()
			if _, err := s.Put(cancelled, event("evt_c", t0), []string{"gl", "notifier"}); !errors.Is(err, context.Canceled) {
				t.Fatalf("put with a cancelled context: %v, want context.Canceled", err)
			}
			// A Put handed to the writer before the cancellation won commits before the next batch: the
			// retry's answer says which case this was.
			ctx := context.Background()
			res, err := s.Put(ctx, event("evt_c", t0), []string{"other"})
			if err != nil || (res != Stored && res != Duplicate) {
				t.Fatalf("retry = %v, %v", res, err)
			}
			mustCount(t, s, 1)
			want := []string{"other"}
			if res == Duplicate {
				want = []string{"gl", "notifier"} // the first Put's, committed whole
			}
			if out, err := s.Outbox(ctx, "evt_c"); err != nil || !slices.Equal(out, want) {
				t.Fatalf("retry %v: outbox %v (%v), want %v", res, out, err, want)
			}
		})
	}
}

// TestCrashSnapshotKeepsCommitted pins recovery from a kill -9: the database and WAL files copied while
// the store is open (what a killed process leaves: no Close, no checkpoint) open as a store holding
// every Put that returned, with its outbox; the ids are still deduplicated and Seq carries on.
func TestCrashSnapshotKeepsCommitted(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := openTest(t, filepath.Join(dir, "relay.db"))
	for i := range 40 {
		if res, err := s.Put(ctx, event(fmt.Sprintf("evt_%02d", i), t0), []string{"gl"}); err != nil || res != Stored {
			t.Fatalf("put %d = %v, %v", i, res, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "relay.db-wal")); err != nil {
		t.Fatalf("no WAL beside the open database: %v", err)
	}
	crashed := t.TempDir()
	for _, name := range []string{"relay.db", "relay.db-wal"} { // not -shm: it is rebuilt from the WAL
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(crashed, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	r := openTest(t, filepath.Join(crashed, "relay.db"))
	mustCount(t, r, 40)
	for i := range 40 {
		id := fmt.Sprintf("evt_%02d", i)
		ev, err := r.Get(ctx, id)
		out, oerr := r.Outbox(ctx, id)
		if err != nil || ev.Seq != int64(i+1) || oerr != nil || !slices.Equal(out, []string{"gl"}) {
			t.Fatalf("%s after the crash: seq %d outbox %v (%v, %v)", id, ev.Seq, out, err, oerr)
		}
	}
	if res, err := r.Put(ctx, event("evt_07", t0), []string{"other"}); err != nil || res != Duplicate {
		t.Fatalf("Stripe's retry after the crash = %v, %v; want Duplicate", res, err)
	}
	if res, err := r.Put(ctx, event("evt_new", t0), nil); err != nil || res != Stored {
		t.Fatalf("a new event after the crash = %v, %v", res, err)
	}
	if ev, err := r.Get(ctx, "evt_new"); err != nil || ev.Seq != 41 {
		t.Fatalf("new event seq %d (%v), want 41", ev.Seq, err)
	}
}
