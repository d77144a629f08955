package mirror

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/cloudip/stripe-operator/api/v1alpha1"
	"github.com/cloudip/stripe-operator/webhookrelay/store"
)

// Reasons an event is not applied (the skipped metric's label).
const (
	skipOtherConnection = "other_connection"
	skipOtherRegion     = "other_region"
	skipUndecidable     = "undecidable"
	skipTypeNotKept     = "type_not_kept"
)

// eventJSON is the part of a Stripe event the mirror reads.
type eventJSON struct {
	Type    string `json:"type"`
	Created int64  `json:"created"`
	Data    struct {
		Object json.RawMessage `json:"object"`
	} `json:"data"`
}

// objectJSON is the part of an object the mirror reads.
type objectJSON struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Deleted bool   `json:"deleted"`
}

// Follow applies up to BatchSize events stored after the mirror's cursor, and moves the cursor past
// them in the same transaction: an event is applied once, and a crash applies it again at most (a
// duplicate, which changes nothing). It returns how many events it read.
func (m *Mirror) Follow(ctx context.Context) (int, error) {
	var read int
	err := m.inTx(ctx, func(tx *sql.Tx) error {
		var cursor int64
		if err := tx.QueryRowContext(ctx, `SELECT seq FROM `+m.schema+`.mirror_state FOR UPDATE`).Scan(&cursor); err != nil {
			return fmt.Errorf("mirror %s: cursor: %w", m.cfg.Name, err)
		}
		events, err := m.cfg.Events.Since(ctx, cursor, m.cfg.BatchSize)
		if err != nil {
			return fmt.Errorf("mirror %s: events since %d: %w", m.cfg.Name, cursor, err)
		}
		read = len(events)
		if read == 0 {
			return nil
		}
		// The batch's writes in table and id order, the order every writer locks rows in (a backfill
		// page too), so that two transactions never wait for each other's rows. Their order does not
		// change the result: each write is decided by Stripe time, not by when it is made.
		owners := map[[2]string]ownerOrSkip{}
		var writes []eventWrite
		for _, ev := range events {
			if w, ok := m.decode(ctx, ev, owners); ok {
				writes = append(writes, w)
			}
		}
		slices.SortStableFunc(writes, func(a, b eventWrite) int {
			return cmp.Or(cmp.Compare(a.typ.table, b.typ.table), cmp.Compare(a.s.id, b.s.id))
		})
		for _, w := range writes {
			if err := m.apply(ctx, tx, w); err != nil {
				return err
			}
		}
		last := events[len(events)-1].Seq
		if _, err := tx.ExecContext(ctx, `UPDATE `+m.schema+`.mirror_state SET seq = $1, applied_at = now()`, last); err != nil {
			return fmt.Errorf("mirror %s: move cursor: %w", m.cfg.Name, err)
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return read, nil
}

type ownerOrSkip struct {
	owner owner
	skip  string
}

// eventWrite is what one event writes.
type eventWrite struct {
	typ     objectType
	s       state
	refunds bool // charge.refunded: the charge's refunds are to be listed
}

// decode reads what an event writes, if it is this mirror's.
func (m *Mirror) decode(ctx context.Context, ev store.Event, owners map[[2]string]ownerOrSkip) (eventWrite, bool) {
	key := [2]string{ev.Endpoint, ev.Account}
	who, ok := owners[key]
	if !ok {
		who = m.ownerOf(ctx, ev)
		owners[key] = who
	}
	if who.skip != "" {
		m.cfg.Metrics.skipped.WithLabelValues(m.cfg.Name, who.skip).Inc()
		return eventWrite{}, false
	}
	var e eventJSON
	var obj objectJSON
	if err := json.Unmarshal(ev.Payload, &e); err != nil || json.Unmarshal(e.Data.Object, &obj) != nil || obj.ID == "" {
		// The intake verified and parsed it; an object without an id (balance.available) is not kept.
		m.cfg.Metrics.skipped.WithLabelValues(m.cfg.Name, skipTypeNotKept).Inc()
		return eventWrite{}, false
	}
	t, known := m.types[v1alpha1.MirrorObjectType(obj.Object)]
	if !known || !m.kept[t.name] {
		m.cfg.Metrics.skipped.WithLabelValues(m.cfg.Name, skipTypeNotKept).Inc()
		return eventWrite{}, false
	}
	return eventWrite{typ: t,
		s: state{owner: who.owner, id: obj.ID, data: e.Data.Object, at: time.Unix(e.Created, 0), eventID: ev.ID,
			deleted: obj.Deleted || (t.deletable && e.Type == obj.Object+".deleted")},
		refunds: e.Type == "charge.refunded" && m.kept[v1alpha1.MirrorRefund]}, true
}

// apply writes one event's object.
func (m *Mirror) apply(ctx context.Context, tx *sql.Tx, w eventWrite) error {
	out, err := w.typ.write(ctx, tx, m.schema, w.s)
	if err != nil {
		return fmt.Errorf("mirror %s: event %s: %w", m.cfg.Name, w.s.eventID, err)
	}
	m.cfg.Metrics.observe(m.cfg.Name, "event", out)
	if w.refunds {
		if _, err := tx.ExecContext(ctx, `INSERT INTO `+m.schema+`.mirror_work (kind, id, account, tenant) VALUES ($1, $2, $3, $4)
ON CONFLICT DO NOTHING`, workRefundsOfCharge, w.s.id, w.s.account, w.s.tenant); err != nil {
			return fmt.Errorf("mirror %s: event %s: %w", m.cfg.Name, w.s.eventID, err)
		}
	}
	return nil
}

// ownerOf decides whether an event is this mirror's, and whose.
func (m *Mirror) ownerOf(ctx context.Context, ev store.Event) ownerOrSkip {
	who, err := m.cfg.Sources.OwnerOf(ctx, ev.Endpoint, ev.Account)
	switch {
	case err != nil:
		// Residency first: an event that cannot be placed reaches no mirror. If its tenant appears
		// later, the tenant's backfill reads its objects' current state.
		m.cfg.Log.V(1).Info("event not mirrored: owner undecidable", "event", ev.ID, "account", ev.Account, "reason", err.Error())
		return ownerOrSkip{skip: skipUndecidable}
	case who.Connection != m.cfg.Connection:
		return ownerOrSkip{skip: skipOtherConnection}
	case who.Region != m.cfg.Region:
		return ownerOrSkip{skip: skipOtherRegion}
	}
	return ownerOrSkip{owner: owner{tenant: who.Tenant, region: who.Region, account: who.Account}}
}
