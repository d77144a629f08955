package mirror

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/cloudip/stripe-operator/api/v1alpha1"
	"github.com/cloudip/stripe-operator/internal/stripeapi"
)

// listing is one (account, object type) backfill listing and where it stands.
type listing struct {
	account       Account
	typ           objectType
	startingAfter string
}

// Backfill lists, from Stripe, every (account, type) of the mirror not yet listed completely, and
// writes what it reads; each page is committed with the listing's cursor, so an interrupted backfill
// resumes at the page after the last one committed. Accounts are listed Parallel at a time, the types
// of one account in order (an account's payouts before their balance transactions). It returns the
// rows written.
func (m *Mirror) Backfill(ctx context.Context) (int64, error) {
	accounts, err := m.cfg.Sources.Accounts(ctx)
	if err != nil {
		return 0, fmt.Errorf("mirror %s: accounts: %w", m.cfg.Name, err)
	}
	pending, err := m.pendingListings(ctx, accounts)
	if err != nil {
		return 0, err
	}
	var (
		mu      sync.Mutex
		total   int64
		errs    []error
		wg      sync.WaitGroup
		running = make(chan struct{}, m.cfg.Parallel)
	)
	for _, account := range accounts {
		todo := pending[account.ID]
		if len(todo) == 0 {
			continue
		}
		wg.Add(1)
		running <- struct{}{}
		go func() {
			defer func() { <-running; wg.Done() }()
			for _, l := range todo {
				n, err := m.list(ctx, l)
				mu.Lock()
				total += n
				if err != nil {
					errs = append(errs, err)
				}
				mu.Unlock()
				if err != nil {
					return // the account's next types wait for the next pass (payouts before their transactions)
				}
			}
		}()
	}
	wg.Wait()
	return total, errors.Join(errs...)
}

// pendingListings records a listing for each (account, type) new to the mirror and returns those
// not complete, per account, in type order.
func (m *Mirror) pendingListings(ctx context.Context, accounts []Account) (map[string][]listing, error) {
	out := map[string][]listing{}
	// Every (account, type) in one statement: a pass every 30 s over 10,000 tenants must not be
	// 100,000 round trips.
	ids, tenants := make([]string, 0, len(accounts)), make([]string, 0, len(accounts))
	for _, a := range accounts {
		ids, tenants = append(ids, a.ID), append(tenants, a.Tenant)
	}
	if _, err := m.cfg.DB.ExecContext(ctx, `INSERT INTO `+m.schema+`.mirror_backfill (account, object_type, tenant)
SELECT a.id, t.type, a.tenant FROM unnest($1::text[], $2::text[]) AS a (id, tenant), unnest($3::text[]) AS t (type)
ON CONFLICT DO NOTHING`, ids, tenants, m.typeNames()); err != nil {
		return nil, fmt.Errorf("mirror %s: record listings: %w", m.cfg.Name, err)
	}
	rows, err := m.cfg.DB.QueryContext(ctx, `SELECT account, object_type, starting_after FROM `+m.schema+`.mirror_backfill WHERE NOT complete`)
	if err != nil {
		return nil, fmt.Errorf("mirror %s: listings: %w", m.cfg.Name, err)
	}
	defer func() { _ = rows.Close() }()
	byID := map[string]Account{}
	for _, a := range accounts {
		byID[a.ID] = a
	}
	found := map[string]map[v1alpha1.MirrorObjectType]string{}
	for rows.Next() {
		var account, typ, after string
		if err := rows.Scan(&account, &typ, &after); err != nil {
			return nil, fmt.Errorf("mirror %s: listings: %w", m.cfg.Name, err)
		}
		if found[account] == nil {
			found[account] = map[v1alpha1.MirrorObjectType]string{}
		}
		found[account][v1alpha1.MirrorObjectType(typ)] = after
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("mirror %s: listings: %w", m.cfg.Name, err)
	}
	for id, types := range found {
		a, current := byID[id]
		if !current {
			continue // a tenant gone, or moved to another region: its listing is not resumed here
		}
		for _, name := range m.cfg.Types {
			if after, ok := types[name]; ok {
				out[id] = append(out[id], listing{account: a, typ: m.types[name], startingAfter: after})
			}
		}
	}
	return out, nil
}

// list runs one listing to its end, a page per transaction.
func (m *Mirror) list(ctx context.Context, l listing) (int64, error) {
	switch l.typ.name {
	case v1alpha1.MirrorAccount:
		return m.listAccount(ctx, l)
	case v1alpha1.MirrorBalanceTransaction:
		n, err := m.ListPayoutTransactions(ctx, l.account.ID)
		if err != nil {
			return n, err
		}
		return n, m.completeListing(ctx, m.cfg.DB, l, 0)
	}
	reader, err := m.reader(ctx, l.account)
	if err != nil {
		return 0, err
	}
	var total int64
	after, restarted := l.startingAfter, false
	for {
		page, err := reader.ListRaw(ctx, l.typ.listPath, l.typ.listFilters, after)
		if err != nil && after != "" && !restarted && stripeapi.IsNotFound(err) {
			// The cursor's object was deleted since (Stripe then refuses starting_after): list again
			// from the newest; the rows already written are written again as the same state.
			m.cfg.Log.Info("backfill cursor object gone, listing again from the start", "type", l.typ.name, "account", l.account.ID, "startingAfter", after)
			restarted, after = true, ""
			continue
		}
		if err != nil {
			return total, fmt.Errorf("mirror %s: list %s of %s: %w", m.cfg.Name, l.typ.listPath, l.account.ID, err)
		}
		var last string
		err = m.inTx(ctx, func(tx *sql.Tx) error {
			var err error
			last, err = m.writePage(ctx, tx, l, page)
			if err != nil {
				return err
			}
			if !page.HasMore || last == "" {
				return m.completeListing(ctx, tx, l, len(page.Data))
			}
			_, err = tx.ExecContext(ctx, `UPDATE `+m.schema+`.mirror_backfill SET starting_after = $3, pages = pages + 1,
	rows = rows + $4, updated_at = now() WHERE account = $1 AND object_type = $2`, l.account.ID, string(l.typ.name), last, len(page.Data))
			if err != nil {
				return fmt.Errorf("mirror %s: listing cursor: %w", m.cfg.Name, err)
			}
			return nil
		})
		if err != nil {
			return total, err
		}
		total += int64(len(page.Data))
		m.cfg.Metrics.pages.WithLabelValues(m.cfg.Name).Inc()
		if !page.HasMore || last == "" {
			return total, nil
		}
		after = last
	}
}

// writePage writes a list page's objects and returns the last one's id.
// The rows are written in id order, the order the events' transactions lock rows in (see Follow).
func (m *Mirror) writePage(ctx context.Context, tx *sql.Tx, l listing, page stripeapi.RawPage) (string, error) {
	states := make([]state, 0, len(page.Data))
	for _, raw := range page.Data {
		var obj objectJSON
		if err := json.Unmarshal(raw, &obj); err != nil || obj.ID == "" {
			return "", fmt.Errorf("mirror %s: list %s: an object without an id", m.cfg.Name, l.typ.listPath)
		}
		states = append(states, state{owner: m.ownerOfAccount(l.account), id: obj.ID, data: raw, deleted: obj.Deleted, at: page.At})
	}
	if len(states) == 0 {
		return "", nil
	}
	last := states[len(states)-1].id // the listing's cursor: the last in Stripe's order
	slices.SortFunc(states, func(a, b state) int { return cmp.Compare(a.id, b.id) })
	for _, s := range states {
		out, err := l.typ.write(ctx, tx, m.schema, s)
		if err != nil {
			return "", fmt.Errorf("mirror %s: %w", m.cfg.Name, err)
		}
		m.cfg.Metrics.observe(m.cfg.Name, "backfill", out)
	}
	return last, nil
}

// completeListing marks a listing done (its last page, of rows objects, written).
func (m *Mirror) completeListing(ctx context.Context, q queryer, l listing, rows int) error {
	if _, err := q.ExecContext(ctx, `UPDATE `+m.schema+`.mirror_backfill SET complete = TRUE, pages = pages + 1,
	rows = rows + $3, updated_at = now() WHERE account = $1 AND object_type = $2`, l.account.ID, string(l.typ.name), rows); err != nil {
		return fmt.Errorf("mirror %s: complete listing: %w", m.cfg.Name, err)
	}
	return nil
}

// listAccount reads the account object itself (a connected account from the platform).
func (m *Mirror) listAccount(ctx context.Context, l listing) (int64, error) {
	reader, err := m.reader(ctx, Account{Platform: true})
	if err != nil {
		return 0, err
	}
	got, err := reader.GetRaw(ctx, l.typ.path(l.account.ID, l.account.Platform))
	if err != nil {
		return 0, fmt.Errorf("mirror %s: get account %s: %w", m.cfg.Name, l.account.ID, err)
	}
	err = m.inTx(ctx, func(tx *sql.Tx) error {
		out, err := l.typ.write(ctx, tx, m.schema, state{owner: m.ownerOfAccount(l.account), id: l.account.ID, data: got.JSON, at: got.At})
		if err != nil {
			return fmt.Errorf("mirror %s: %w", m.cfg.Name, err)
		}
		m.cfg.Metrics.observe(m.cfg.Name, "backfill", out)
		return m.completeListing(ctx, tx, l, 1)
	})
	return 1, err
}

func (m *Mirror) ownerOfAccount(a Account) owner {
	return owner{tenant: a.Tenant, region: m.cfg.Region, account: a.ID}
}
