//go:build unix

package intake

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cloudip/stripe-operator/internal/stripeapi"
	"github.com/cloudip/stripe-operator/webhookrelay/store"
)

// The relay killed for real: this test binary re-runs itself as a relay process (the real handler
// over the real SQLite file), which SIGKILLs itself at the chosen moment; the test then opens the same
// file, as the restarted relay would, and plays Stripe's retries against it.

const (
	crashEnvMode = "INTAKE_CRASH_CHILD"
	crashEnvDB   = "INTAKE_CRASH_DB"
	burstSize    = 64
)

var crashDests = []string{"gl", "notifier"}

// TestIntakeCrashChild is the relay process of TestIntakeCrash; without its environment it does
// nothing.
func TestIntakeCrashChild(t *testing.T) {
	mode := os.Getenv(crashEnvMode)
	if mode == "" {
		t.Skip("the relay process of TestIntakeCrash")
	}
	die := func() { _ = syscall.Kill(os.Getpid(), syscall.SIGKILL); select {} }
	db, err := store.OpenSQLite(context.Background(), os.Getenv(crashEnvDB), store.SQLiteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var puts atomic.Int64
	killAt := int64(2 + rand.IntN(burstSize/2)) // mid-burst: the Put after which the kill is armed
	st := &hookStore{Store: db,
		before: func(context.Context, store.Event) {
			switch n := puts.Add(1); {
			case mode == "before-commit":
				die()
			case mode == "mid-burst" && n == killAt:
				// Somewhere in the next commits: before, during or after one of them.
				go func() { time.Sleep(time.Duration(rand.IntN(10000)) * time.Microsecond); die() }()
			}
		},
		after: func(_ store.Event, _ store.PutResult, err error) {
			if mode == "after-commit" && err == nil {
				die()
			}
		}}
	h, err := New(Options{Store: st, Secrets: rigSecrets, Registry: prometheus.NewRegistry(),
		Now: func() time.Time { return now }, Destinations: func(EndpointKey, *stripeapi.Event) []string { return crashDests }})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("\nADDR %s\n", ln.Addr())
	_ = http.Serve(ln, h) //nolint:gosec // a test server that is killed, not shut down
}

// startRelay runs the relay process on dbPath and returns its URL and its exit (which must be the
// SIGKILL it gives itself).
func startRelay(t *testing.T, mode, dbPath string) (string, func() error) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestIntakeCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashEnvMode+"="+mode, crashEnvDB+"="+dbPath)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if a, ok := strings.CutPrefix(sc.Text(), "ADDR "); ok {
				addr <- a
			}
		}
		exited <- cmd.Wait()
	}()
	t.Cleanup(func() { _ = cmd.Process.Kill() }) // only if a check failed before the relay died
	select {
	case a := <-addr:
		return "http://" + a, func() error {
			select {
			case err := <-exited:
				return err
			case <-time.After(30 * time.Second):
				return errors.New("relay process still running")
			}
		}
	case err := <-exited:
		t.Fatalf("relay process exited before serving: %v\n%s", err, stderr.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("relay process did not start\n%s", stderr.String())
	}
	return "", nil
}

func mustBeKilled(t *testing.T, err error) {
	t.Helper()
	ee, ok := errors.AsType[*exec.ExitError](err)
	if !ok {
		t.Fatalf("relay process exit: %v, want killed", err)
	}
	if ws, ok := ee.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("relay process exit: %v, want SIGKILL", err)
	}
}

// TestIntakeCrash pins "nothing acknowledged is lost, nothing stored twice" across a real process
// death (SIGKILL: no deferred code, no Close), the SQLite file reopened by the next process:
//   - after-commit: killed once Put returned, before the 200 is written: Stripe sees no answer; the
//     restarted relay answers its retry 200 "duplicate", the event stored once with its outbox.
//   - before-commit: killed as Put begins: nothing stored; the retry is 200 "stored", once.
//   - mid-burst: killed at a random moment among 64 concurrent deliveries (group commits in flight):
//     every event answered 200 before the kill is in the reopened file; Stripe's retries of all 64
//     answer "duplicate" exactly for those already there and "stored" for the rest; in the end each
//     is stored once, with one outbox set, and Seq counts 1..64 with no gap or repeat.
func TestIntakeCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("starts relay processes")
	}
	for _, mode := range []string{"after-commit", "before-commit", "mid-burst"} {
		t.Run(mode, func(t *testing.T) {
			ctx := context.Background()
			dbPath := filepath.Join(t.TempDir(), "relay.db")
			url, exit := startRelay(t, mode, dbPath)
			n := 1
			if mode == "mid-burst" {
				n = burstSize
			}
			bodies := make([][]byte, n)
			for i := range n {
				bodies[i] = eventJSON(fmt.Sprintf("evt_%02d", i), now)
			}
			acked := make([]bool, n)
			client := &http.Client{Timeout: 30 * time.Second}
			var wg sync.WaitGroup
			for i := range n {
				wg.Go(func() {
					status, answer, err := post(client, url, bodies[i])
					switch {
					case err != nil: // no answer: the relay died first
					case status == http.StatusOK && answer == "stored\n":
						acked[i] = true
					default:
						t.Errorf("delivery %d before the crash = %d %q", i, status, answer)
					}
				})
			}
			wg.Wait()
			mustBeKilled(t, exit())
			if mode != "mid-burst" && acked[0] {
				t.Fatal("the delivery was acknowledged, want the relay dead before its answer")
			}

			// The restarted relay, on the same file.
			db := openDB(t, dbPath)
			present := make([]bool, n)
			for i := range n {
				_, err := db.Get(ctx, fmt.Sprintf("evt_%02d", i))
				present[i] = err == nil
				if acked[i] && !present[i] {
					t.Fatalf("evt_%02d was acknowledged, then lost in the crash: %v", i, err)
				}
			}
			if mode == "after-commit" && !present[0] {
				t.Fatal("killed after the commit, yet the event is not in the file")
			}
			if mode == "before-commit" && present[0] {
				t.Fatal("killed before the commit, yet the event is in the file")
			}
			srv, _ := serve(t, db, func(EndpointKey, *stripeapi.Event) []string { return []string{"other"} })
			for i := range n {
				want := "stored\n"
				if present[i] {
					want = "duplicate\n"
				}
				mustPost(t, srv, bodies[i], http.StatusOK, want)
			}
			ids := make([]string, n)
			for i := range n {
				ids[i] = fmt.Sprintf("evt_%02d", i)
			}
			mustStored(t, db, ids...)
			feed, err := db.Since(ctx, 0, 2*n)
			if err != nil || len(feed) != n {
				t.Fatalf("feed has %d events (%v), want %d", len(feed), err, n)
			}
			for i, ev := range feed {
				wantOut := []string{"other"} // stored by the restarted relay
				if present[slices.Index(ids, ev.ID)] {
					wantOut = crashDests // committed before the crash, with its outbox in the same transaction
				}
				out, err := db.Outbox(ctx, ev.ID)
				if ev.Seq != int64(i+1) || err != nil || !slices.Equal(out, wantOut) {
					t.Fatalf("feed[%d] = %s seq %d outbox %v (%v), want seq %d outbox %v", i, ev.ID, ev.Seq, out, err, i+1, wantOut)
				}
			}
			if mode == "mid-burst" {
				t.Logf("%d acknowledged before the kill, %d in the file after it, of %d", count(acked), count(present), n)
			}
		})
	}
}

func count(bs []bool) int {
	n := 0
	for _, b := range bs {
		if b {
			n++
		}
	}
	return n
}
