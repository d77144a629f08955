package main

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cloudip/stripe-operator/hack/stripe-emulator/emulator"
	"github.com/cloudip/stripe-operator/webhookrelay/store"
)

// eventGen makes the benchmark's events from what the emulator emitted while seeding: its
// customer.created events as they are, then customer.updated events of the same customers (the
// object as the emulator rendered it, with a new name and metadata, previous_attributes, a new evt_
// id and request id), round robin over the customers, so that one customer's events are a whole
// round apart (never two in one second at the steady phase's default rate; see -rate).
type eventGen struct {
	created []emulator.Object
	// base is the catch-up's first update's Stripe time: after the backfill's reads, so that updates
	// are newer than the backfilled rows; round r of the catch-up's updates is r seconds later.
	base time.Time
	next atomic.Int64 // the next update's number (catch-up and steady share the sequence)
}

func newEventGen(w *world, base time.Time) *eventGen {
	return &eventGen{created: w.created, base: base}
}

// catchUp returns k events: the customer.created events first (as many as k allows), then updates.
// ReceivedAt is set when each is put.
func (g *eventGen) catchUp(k int) ([]store.Event, error) {
	out := make([]store.Event, 0, k)
	for _, ev := range g.created[:min(k, len(g.created))] {
		se, err := storeEvent(ev)
		if err != nil {
			return nil, err
		}
		out = append(out, se)
	}
	for len(out) < k {
		n := g.next.Add(1) - 1
		round := n / int64(len(g.created))
		se, err := g.update(n, g.base.Add(time.Duration(round)*time.Second))
		if err != nil {
			return nil, err
		}
		out = append(out, se)
	}
	return out, nil
}

// update is update number n (customer n mod customers), created at.
func (g *eventGen) update(n int64, at time.Time) (store.Event, error) {
	created := g.created[n%int64(len(g.created))]
	round := n/int64(len(g.created)) + 1
	obj, _ := created["data"].(map[string]any)["object"].(map[string]any)
	changed := make(map[string]any, len(obj))
	for k, v := range obj {
		changed[k] = v
	}
	prevName := fmt.Sprint(obj["name"])
	prevMeta := obj["metadata"]
	if round > 1 {
		prevName = fmt.Sprintf("%v (rev %d)", obj["name"], round-1)
		prevMeta = map[string]any{"seq": metaSeq(obj), "rev": fmt.Sprint(round - 1)}
	}
	changed["name"] = fmt.Sprintf("%v (rev %d)", obj["name"], round)
	changed["metadata"] = map[string]any{"seq": metaSeq(obj), "rev": fmt.Sprint(round)}
	ev := make(emulator.Object, len(created))
	for k, v := range created {
		ev[k] = v
	}
	ev["id"] = emulator.NewID("evt")
	ev["type"] = "customer.updated"
	ev["created"] = at.Unix()
	ev["request"] = map[string]any{"id": emulator.NewID("req"), "idempotency_key": nil}
	ev["data"] = map[string]any{"object": changed, "previous_attributes": map[string]any{"name": prevName, "metadata": prevMeta}}
	return storeEvent(ev)
}

func metaSeq(obj map[string]any) any {
	md, _ := obj["metadata"].(map[string]any)
	return md["seq"]
}

// storeEvent is the event as the relay's intake stores it.
func storeEvent(ev emulator.Object) (store.Event, error) {
	raw, err := json.Marshal(ev)
	if err != nil {
		return store.Event{}, err
	}
	obj, _ := ev["data"].(map[string]any)["object"].(map[string]any)
	var created int64
	switch c := ev["created"].(type) {
	case int64:
		created = c
	case float64:
		created = int64(c)
	case int:
		created = int64(c)
	}
	return store.Event{ID: ev.ID(), Endpoint: endpoint, Type: ev.Str("type"), Account: ev.Str("account"),
		APIVersion: ev.Str("api_version"), ObjectID: fmt.Sprint(obj["id"]), Created: time.Unix(created, 0), Payload: raw}, nil
}

// loadResult is the time the store took to take the catch-up's events.
type loadResult struct {
	events int
	bytes  int64
	wall   time.Duration
}

// load puts events into st with loaders Puts at once, each received now.
func load(ctx context.Context, st store.Store, events []store.Event, loaders int) (loadResult, error) {
	r := loadResult{events: len(events)}
	for _, ev := range events {
		r.bytes += int64(len(ev.Payload))
	}
	start := time.Now()
	next := make(chan store.Event)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	for range loaders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ev := range next {
				ev.ReceivedAt = time.Now()
				res, err := st.Put(ctx, ev, nil)
				if err == nil && res != store.Stored {
					err = fmt.Errorf("put %s: %s", ev.ID, res)
				}
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
				}
			}
		}()
	}
	for _, ev := range events {
		select {
		case next <- ev:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
	}
	close(next)
	wg.Wait()
	r.wall = time.Since(start)
	if firstErr != nil {
		return r, firstErr
	}
	return r, ctx.Err()
}
