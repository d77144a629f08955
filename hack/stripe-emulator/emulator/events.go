package emulator

import (
	"sync"
	"time"

	stripe "github.com/stripe/stripe-go/v76"
)

// eventRetention is how far back Stripe lets you list and retrieve events.
const eventRetention = 30 * 24 * time.Hour

// EventListener observes every event the emulator emits. Webhook delivery is
// built on it: InTx counts the endpoints an event goes to (and may set
// pending_webhooks and record deliveries in the store) inside the emitting
// transaction; Committed hands the event to delivery once it is durable.
type EventListener struct {
	// InTx runs inside the emitting transaction, before the event is
	// stored; it may change ev. It must not block.
	InTx func(tx *Tx, ev Object)
	// Committed runs after the transaction commits, in emission order,
	// with a copy of the stored event. It must not block.
	Committed func(ev Object)
}

type eventBus struct {
	mu        sync.RWMutex
	listeners []EventListener
}

func (b *eventBus) add(l EventListener) {
	b.mu.Lock()
	b.listeners = append(b.listeners, l)
	b.mu.Unlock()
}

func (b *eventBus) snapshot() []EventListener {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return append([]EventListener(nil), b.listeners...)
}

// AddEventListener registers l for every event emitted from now on.
func (e *Emulator) AddEventListener(l EventListener) { e.bus.add(l) }

// Emit records an event of type typ about obj (as the API renders it by
// default) in the request's account. prev is data.previous_attributes for
// *.updated events, nil otherwise.
func (c *Call) Emit(typ string, obj Object, prev map[string]any) error {
	return c.EmitIn(c.Account, typ, obj, prev)
}

// EmitIn is Emit for an event that belongs to another account than the
// request's: e.g. account.updated, caused by a platform request but an
// event of the connected account (so Connect endpoints receive it with
// `account` set).
func (c *Call) EmitIn(account, typ string, obj Object, prev map[string]any) error {
	rendered, err := c.emu.renderObject(c.Tx, obj, nil, 0)
	if err != nil {
		return err
	}
	data := map[string]any{"object": map[string]any(rendered.Clone())}
	if prev != nil {
		data["previous_attributes"] = prev
	}
	var key, reqID any
	if c.Req.IdempotencyKey != "" {
		key = c.Req.IdempotencyKey
	}
	if c.Req.ID != "" {
		// Events Stripe causes itself (verification finishing, a
		// deadline passing) carry request.id null.
		reqID = c.Req.ID
	}
	ev := Object{
		"id":               NewID("evt"),
		"object":           "event",
		"api_version":      stripe.APIVersion,
		"created":          c.Now().Unix(),
		"data":             data,
		"livemode":         false,
		"pending_webhooks": int64(0),
		"request":          map[string]any{"id": reqID, "idempotency_key": key},
		"type":             typ,
	}
	if account != c.emu.platform {
		// `account` is only present on events that originate in a
		// connected account; Connect webhooks route on it.
		ev["account"] = account
	}
	listeners := c.emu.bus.snapshot()
	for _, l := range listeners {
		if l.InTx != nil {
			l.InTx(c.Tx, ev)
		}
	}
	if err := c.InsertIn(account, "event", ev); err != nil {
		return err
	}
	stored := ev.Clone()
	c.AfterCommit(func() {
		for _, l := range listeners {
			if l.Committed != nil {
				l.Committed(stored.Clone())
			}
		}
	})
	return nil
}

func registerEvents(e *Emulator) {
	e.AddResource(&Resource{Object: "event", Noun: "event", IDPrefix: "evt", Path: "/v1/events"})
	e.router.Handle("GET", "/v1/events", listEvents)
	e.router.Handle("GET", "/v1/events/{id}", retrieveEvent)
}

func retrieveEvent(c *Call) (any, error) {
	id := c.PathParam("id")
	ev, ok := c.Get("event", id)
	if !ok || c.Now().Sub(time.Unix(ev.Int("created"), 0)) > eventRetention {
		return nil, NoSuchObject("event", id, "id")
	}
	return c.Render(ev)
}

func listEvents(c *Call) (any, error) {
	p := c.Params()
	typ, hasType := p.String("type")
	types := p.Strings("types")
	if hasType && len(types) > 0 {
		return nil, Exclusive("type", "types")
	}
	created, err := parseCreatedFilter(p)
	if err != nil {
		return nil, err
	}
	oldest := c.Now().Add(-eventRetention).Unix()
	return c.List("event", func(ev Object) bool {
		if ev.Int("created") < oldest || !created.match(ev.Int("created")) {
			return false
		}
		if hasType && !matchEventType(typ, ev.Str("type")) {
			return false
		}
		if len(types) > 0 {
			for _, t := range types {
				if matchEventType(t, ev.Str("type")) {
					return true
				}
			}
			return false
		}
		return true
	})
}

// matchEventType applies Stripe's `type` filter, which accepts a trailing
// wildcard (`product.*`).
func matchEventType(pattern, typ string) bool {
	if len(pattern) > 1 && pattern[len(pattern)-1] == '*' {
		prefix := pattern[:len(pattern)-1]
		return len(typ) >= len(prefix) && typ[:len(prefix)] == prefix
	}
	return pattern == typ
}
