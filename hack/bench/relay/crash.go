package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cloudip/stripe-operator/webhookrelay/store"
)

// crashResult is what the crash phase found: the relay killed with SIGKILL under load, its store
// opened afterwards, every acknowledged event looked up.
type crashResult struct {
	LoadSeconds  float64  `json:"load_seconds"`          // load before the kill
	Sent         int64    `json:"sent"`                  // requests sent, including those the kill cut off
	Acknowledged int64    `json:"acknowledged"`          // events answered 2xx
	InStore      int64    `json:"in_store"`              // acknowledged events found in the store
	Missing      int64    `json:"missing"`               // acknowledged events not in the store: lost (must be 0)
	Stored       int64    `json:"stored"`                // events in the store
	Unacked      int64    `json:"stored_unacknowledged"` // stored, never acknowledged: in flight at the kill
	Refused      int64    `json:"refused"`               // non-2xx answers before the kill
	CutOff       int64    `json:"cut_off"`               // requests without an answer (the kill, and after it)
	MissingIDs   []string `json:"missing_ids,omitempty"` // the first few
	RecoverMS    float64  `json:"recover_ms"`            // opening the killed store (WAL recovery)
}

// runCrash loads a fresh relay for -crash-after, kills its process group with SIGKILL while the load
// goes on, then opens its store with the store package and looks up every acknowledged id.
func (b *bench) runCrash(ctx context.Context) (crashResult, error) {
	o := b.o
	ref := b.sqlite(modeCrash)
	set, err := b.startServers(phaseSpec{name: modeCrash, mode: modeRelay, store: ref, replicas: 1})
	if err != nil {
		return crashResult{}, err
	}
	srv := set[0]
	defer func() { _ = srv.stop() }()
	step("crash: relay pid %d at %s; %d clients; kill -9 of its process group after %s of load", srv.pid(), srv.url, o.clients, o.crashAfter)

	lg := newLoad([]string{srv.url}, b.gen, o.clients, true)
	defer lg.close()
	lg.begin()
	lg.mark() // everything counts: an event acknowledged in the first millisecond must be stored too
	slept := sleep(ctx, o.crashAfter)
	if err := srv.check(); err != nil {
		lg.finish()
		return crashResult{}, err
	}
	// The clients send nothing new from here, so that "cut off" counts exactly the requests the kill
	// caught in flight: one per client, less any answered in the microseconds before the signal.
	lg.stopSending()
	srv.kill() // SIGKILL to -pgid, with the clients' requests in flight; returns once it is gone
	killed := time.Since(lg.base)
	workers := lg.finish()
	if slept != nil {
		return crashResult{}, slept
	}

	s := merge(workers)
	var acked []string
	for _, w := range workers {
		acked = append(acked, w.ids...)
	}
	c := crashResult{LoadSeconds: killed.Seconds(), Sent: s.sent, Acknowledged: int64(len(acked)), CutOff: s.failures}
	for _, n := range s.statuses {
		c.Refused += n
	}
	step("crash: killed after %.2f s: %d events acknowledged, %d requests cut off; opening the store", c.LoadSeconds, c.Acknowledged, c.CutOff)

	began := time.Now()
	st, err := ref.open(ctx)
	if err != nil {
		return c, fmt.Errorf("the killed relay's store: %w", err)
	}
	defer func() { _ = st.Close() }()
	c.RecoverMS = float64(time.Since(began).Microseconds()) / 1000
	for _, id := range acked {
		_, err := st.Get(ctx, id)
		switch {
		case err == nil:
			c.InStore++
		case errors.Is(err, store.ErrNotFound):
			c.Missing++
			if len(c.MissingIDs) < 10 {
				c.MissingIDs = append(c.MissingIDs, id)
			}
		default:
			return c, fmt.Errorf("look up an acknowledged event: %w", err)
		}
	}
	if c.Stored, err = st.Count(ctx); err != nil {
		return c, fmt.Errorf("count the killed relay's events: %w", err)
	}
	c.Unacked = c.Stored - c.InStore
	return c, nil
}

// countStored opens a relay's store after its servers stopped and counts its events.
func countStored(ctx context.Context, ref storeRef) (int64, error) {
	st, err := ref.open(ctx)
	if err != nil {
		return 0, err
	}
	defer func() { _ = st.Close() }()
	n, err := st.Count(ctx)
	if err != nil {
		return 0, fmt.Errorf("count the relay's events: %w", err)
	}
	return n, nil
}
