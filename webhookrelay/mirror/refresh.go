package mirror

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"time"

	"github.com/cloudip/stripe-operator/api/v1alpha1"
	"github.com/cloudip/stripe-operator/internal/stripeapi"
)

// RefetchFlagged GETs the rows flagged because two states of one second differed, and writes what
// Stripe says. It returns how many it refetched.
func (m *Mirror) RefetchFlagged(ctx context.Context) (int, error) {
	var done int
	for _, name := range m.cfg.Types {
		t := m.types[name]
		rows, err := m.selectRows(ctx, t, `WHERE refetch LIMIT 100`)
		if err != nil {
			return done, err
		}
		for _, r := range rows {
			if _, err := m.refresh(ctx, t, r, "refetch"); err != nil {
				return done, err
			}
			done++
		}
	}
	return done, nil
}

// Revalidate compares up to sample rows, spread over the kept tables by size and chosen at random,
// with Stripe, and rewrites those that differ. It returns how many rows it checked and repaired.
func (m *Mirror) Revalidate(ctx context.Context, sample int) (checked, repaired int64, err error) {
	counts, total, err := m.countedRows(ctx) // only spreads the sample: a recent count will do
	if err != nil {
		return 0, 0, err
	}
	for _, name := range m.cfg.Types {
		if total == 0 {
			break
		}
		share := (int64(sample)*counts[name] + total - 1) / total
		if share == 0 {
			continue
		}
		t := m.types[name]
		rows, err := m.selectRows(ctx, t, fmt.Sprintf(`WHERE NOT deleted ORDER BY random() LIMIT %d`, share))
		if err != nil {
			return checked, repaired, err
		}
		for _, r := range rows {
			changed, err := m.refresh(ctx, t, r, "revalidation")
			if err != nil {
				return checked, repaired, err
			}
			checked++
			if changed {
				repaired++
				m.cfg.Log.Info("revalidation repaired a row that differed from Stripe", "type", name, "id", r.id, "account", r.account)
			}
		}
	}
	if _, err := m.cfg.DB.ExecContext(ctx, `UPDATE `+m.schema+`.mirror_state SET revalidated_at = now(), checked = $1,
	repaired = $2, repaired_total = repaired_total + $2`, checked, repaired); err != nil {
		return checked, repaired, fmt.Errorf("mirror %s: record revalidation: %w", m.cfg.Name, err)
	}
	m.cfg.Metrics.repaired.WithLabelValues(m.cfg.Name).Add(float64(repaired))
	return checked, repaired, nil
}

// selectRows reads rows of t for a refresh.
func (m *Mirror) selectRows(ctx context.Context, t objectType, where string) ([]row, error) {
	rows, err := m.cfg.DB.QueryContext(ctx, `SELECT id, tenant, region, account, data, deleted, revision FROM `+m.schema+"."+t.table+" "+where)
	if err != nil {
		return nil, fmt.Errorf("mirror %s: read %s: %w", m.cfg.Name, t.table, err)
	}
	defer func() { _ = rows.Close() }()
	var out []row
	for rows.Next() {
		var r row
		var data []byte
		if err := rows.Scan(&r.id, &r.tenant, &r.region, &r.account, &data, &r.deleted, &r.revision); err != nil {
			return nil, fmt.Errorf("mirror %s: read %s: %w", m.cfg.Name, t.table, err)
		}
		r.data = data
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("mirror %s: read %s: %w", m.cfg.Name, t.table, err)
	}
	return out, nil
}

// refresh GETs one row's object and writes it over the row (see replace); an object Stripe no longer
// has is recorded deleted. It reports whether the row's content changed.
func (m *Mirror) refresh(ctx context.Context, t objectType, r row, why string) (bool, error) {
	account := Account{ID: r.account, Tenant: r.tenant, Platform: r.tenant == ""}
	if t.name == v1alpha1.MirrorAccount {
		account = Account{Platform: true} // an account object is read from the platform
	}
	reader, err := m.reader(ctx, account)
	if err != nil {
		return false, err
	}
	got, err := reader.GetRaw(ctx, t.path(r.id, r.tenant == ""))
	s := state{owner: r.owner, id: r.id, data: got.JSON, at: got.At}
	switch {
	case stripeapi.IsNotFound(err):
		s.data, s.deleted, s.at = r.data, true, time.Now()
	case err != nil:
		return false, fmt.Errorf("mirror %s: %s %s %s: %w", m.cfg.Name, why, t.name, r.id, err)
	default:
		var obj objectJSON
		if json.Unmarshal(got.JSON, &obj) == nil && obj.Deleted {
			s.data, s.deleted = r.data, true // keep the last content Stripe gave; the stub has none
		}
	}
	changed, err := t.replace(ctx, m.cfg.DB, m.schema, r, s)
	if err != nil {
		return false, fmt.Errorf("mirror %s: %w", m.cfg.Name, err)
	}
	m.cfg.Metrics.refetched.WithLabelValues(m.cfg.Name, why).Inc()
	return changed, nil
}

// ListPayoutTransactions lists the balance transactions of the automatic payouts not yet listed, of
// one account ("" for all), and writes them with the payout that paid them: what links a charge (its
// balance_transaction) to its payout, since Stripe says it only through ?payout=. It returns the rows
// written.
func (m *Mirror) ListPayoutTransactions(ctx context.Context, account string) (int64, error) {
	payouts := m.types[v1alpha1.MirrorPayout]
	q := `SELECT id, account, tenant FROM ` + m.schema + `.payouts WHERE automatic AND NOT transactions_listed`
	args := []any{}
	if account != "" {
		q += ` AND account = $1`
		args = append(args, account)
	}
	list, err := m.objectsToRead(ctx, q+` LIMIT 100`, args...)
	if err != nil {
		return 0, fmt.Errorf("mirror %s: payouts to list: %w", m.cfg.Name, err)
	}
	var total int64
	bt := m.types[v1alpha1.MirrorBalanceTransaction]
	for _, p := range list {
		a := p.account()
		pages, err := m.listAll(ctx, a, "/v1/balance_transactions", url.Values{"payout": {p.id}})
		if err != nil {
			return total, err
		}
		err = m.inTx(ctx, func(tx *sql.Tx) error {
			l := listing{account: a, typ: bt}
			var ids []string
			for _, page := range pages {
				if _, err := m.writePage(ctx, tx, l, page); err != nil {
					return err
				}
				for _, raw := range page.Data {
					var obj objectJSON
					_ = json.Unmarshal(raw, &obj) // writePage refused an object without an id
					ids = append(ids, obj.ID)
				}
			}
			slices.Sort(ids) // the order writePage locked them in
			if _, err := tx.ExecContext(ctx, `UPDATE `+m.schema+`.balance_transactions SET payout = $2 WHERE id = ANY($1)`, ids, p.id); err != nil {
				return fmt.Errorf("mirror %s: link the transactions of %s: %w", m.cfg.Name, p.id, err)
			}
			total += int64(len(ids))
			if _, err := tx.ExecContext(ctx, `UPDATE `+m.schema+"."+payouts.table+` SET transactions_listed = TRUE WHERE id = $1`, p.id); err != nil {
				return fmt.Errorf("mirror %s: payout %s listed: %w", m.cfg.Name, p.id, err)
			}
			return nil
		})
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

// workRefundsOfCharge is the mirror_work kind of a charge whose refunds are to be listed.
const workRefundsOfCharge = "refunds_of_charge"

// ListRefundsOfCharges lists the refunds of the charges charge.refunded events named, writes them, and
// drops the work item with them. It returns the rows written.
func (m *Mirror) ListRefundsOfCharges(ctx context.Context) (int64, error) {
	charges, err := m.objectsToRead(ctx, `SELECT id, account, tenant FROM `+m.schema+`.mirror_work WHERE kind = $1 LIMIT 100`, workRefundsOfCharge)
	if err != nil {
		return 0, fmt.Errorf("mirror %s: work: %w", m.cfg.Name, err)
	}
	var total int64
	for _, c := range charges {
		a := c.account()
		pages, err := m.listAll(ctx, a, "/v1/refunds", url.Values{"charge": {c.id}})
		if err != nil {
			return total, err
		}
		err = m.inTx(ctx, func(tx *sql.Tx) error {
			l := listing{account: a, typ: m.types[v1alpha1.MirrorRefund]}
			for _, page := range pages {
				if _, err := m.writePage(ctx, tx, l, page); err != nil {
					return err
				}
				total += int64(len(page.Data))
			}
			if _, err := tx.ExecContext(ctx, `DELETE FROM `+m.schema+`.mirror_work WHERE kind = $1 AND id = $2`, workRefundsOfCharge, c.id); err != nil {
				return fmt.Errorf("mirror %s: work done: %w", m.cfg.Name, err)
			}
			return nil
		})
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

// listAll reads every page of a (small) list: one charge's refunds, one payout's transactions.
func (m *Mirror) listAll(ctx context.Context, a Account, path string, filters url.Values) ([]stripeapi.RawPage, error) {
	reader, err := m.reader(ctx, a)
	if err != nil {
		return nil, err
	}
	var pages []stripeapi.RawPage
	after := ""
	for {
		page, err := reader.ListRaw(ctx, path, filters, after)
		if err != nil {
			return nil, fmt.Errorf("mirror %s: list %s %v of %s: %w", m.cfg.Name, path, filters, a.ID, err)
		}
		pages = append(pages, page)
		if !page.HasMore || len(page.Data) == 0 {
			return pages, nil
		}
		var last objectJSON
		if err := json.Unmarshal(page.Data[len(page.Data)-1], &last); err != nil || last.ID == "" {
			return nil, fmt.Errorf("mirror %s: list %s: an object without an id", m.cfg.Name, path)
		}
		after = last.ID
	}
}

// objectToRead is an object whose related objects are to be read: a payout (its balance
// transactions), a refunded charge (its refunds).
type objectToRead struct{ id, accountID, tenant string }

func (o objectToRead) account() Account {
	return Account{ID: o.accountID, Tenant: o.tenant, Platform: o.tenant == ""}
}

// objectsToRead runs a query of (id, account, tenant) rows.
func (m *Mirror) objectsToRead(ctx context.Context, query string, args ...any) ([]objectToRead, error) {
	rows, err := m.cfg.DB.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err //nolint:wrapcheck // the callers say what was read
	}
	defer func() { _ = rows.Close() }()
	var out []objectToRead
	for rows.Next() {
		var o objectToRead
		if err := rows.Scan(&o.id, &o.accountID, &o.tenant); err != nil {
			return nil, err //nolint:wrapcheck // the callers say what was read
		}
		out = append(out, o)
	}
	return out, rows.Err() //nolint:wrapcheck // the callers say what was read
}
