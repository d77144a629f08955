package mirror

import (
	"context"
	"fmt"
	"time"

	"github.com/cloudip/stripe-operator/api/v1alpha1"
)

// Snapshot is what the mirror's status reports.
type Snapshot struct {
	Health
	AppliedSeq    int64
	LastAppliedAt time.Time
	// The last revalidation pass, and the rows every pass repaired.
	LastRevalidation                 time.Time
	Checked, Repaired, RepairedTotal int64
	// Lag is the age of the oldest stored event not applied yet (0 when caught up).
	Lag    time.Duration
	Tables map[v1alpha1.MirrorObjectType]int64
	Rows   int64
	// Backfill, over the mirror's current accounts.
	Accounts, AccountsComplete int32
	Listings, ListingsTotal    int32
	Pages, BackfillRows        int64
	BackfillCompletedAt        time.Time
}

// Snapshot reads the mirror's figures from its schema and the store.
func (m *Mirror) Snapshot(ctx context.Context) (Snapshot, error) {
	s := Snapshot{Health: m.Health()}
	var applied, revalidated *time.Time
	if err := m.cfg.DB.QueryRowContext(ctx, `SELECT seq, applied_at, revalidated_at, checked, repaired, repaired_total FROM `+m.schema+`.mirror_state`).
		Scan(&s.AppliedSeq, &applied, &revalidated, &s.Checked, &s.Repaired, &s.RepairedTotal); err != nil {
		return s, fmt.Errorf("mirror %s: state: %w", m.cfg.Name, err)
	}
	if applied != nil {
		s.LastAppliedAt = *applied
	}
	if revalidated != nil {
		s.LastRevalidation = *revalidated
	}
	next, err := m.cfg.Events.Since(ctx, s.AppliedSeq, 1)
	if err != nil {
		return s, fmt.Errorf("mirror %s: events: %w", m.cfg.Name, err)
	}
	if len(next) == 1 {
		s.Lag = max(0, time.Since(next[0].ReceivedAt))
	}
	m.cfg.Metrics.lag.WithLabelValues(m.cfg.Name).Set(s.Lag.Seconds())
	if s.Tables, s.Rows, err = m.countedRows(ctx); err != nil {
		return s, err
	}
	accounts, err := m.cfg.Sources.Accounts(ctx)
	if err != nil {
		return s, fmt.Errorf("mirror %s: accounts: %w", m.cfg.Name, err)
	}
	ids := make([]string, 0, len(accounts))
	for _, a := range accounts {
		ids = append(ids, a.ID)
	}
	// Per current account, its kept types' listings complete; an account is complete when all are
	// (one with no listing recorded yet, a tenant just seen, is not).
	var completed *time.Time
	err = m.cfg.DB.QueryRowContext(ctx, `SELECT COALESCE(sum(done), 0), count(*) FILTER (WHERE done = cardinality($2::text[])),
	COALESCE(sum(pages), 0), COALESCE(sum(rows), 0), max(completed)
FROM (SELECT count(*) FILTER (WHERE complete) AS done, sum(pages) AS pages, sum(rows) AS rows,
		max(updated_at) FILTER (WHERE complete) AS completed
	FROM `+m.schema+`.mirror_backfill WHERE account = ANY($1) AND object_type = ANY($2) GROUP BY account) per_account`,
		ids, m.typeNames()).Scan(&s.Listings, &s.AccountsComplete, &s.Pages, &s.BackfillRows, &completed)
	if err != nil {
		return s, fmt.Errorf("mirror %s: backfill: %w", m.cfg.Name, err)
	}
	s.Accounts = int32(len(accounts))
	s.ListingsTotal = int32(len(accounts) * len(m.cfg.Types))
	if completed != nil && s.Listings == s.ListingsTotal {
		s.BackfillCompletedAt = *completed
	}
	return s, nil
}

// countEvery bounds the cost of counting for the status: the tables are counted again only after
// countEvery times as long as the last count took (a 1 ms count every 0.1 s at most, a 1 s count of
// a large mirror every 100 s), so the status costs at most 1 % of one database connection.
const countEvery = 100

// countedRows returns the tables' row counts for the status, counted again when the last count is
// older than countEvery times its own duration.
func (m *Mirror) countedRows(ctx context.Context) (map[v1alpha1.MirrorObjectType]int64, int64, error) {
	m.mu.Lock()
	cached, total, fresh := m.counts, m.countedTotal, time.Now().Before(m.countedAt.Add(countEvery*m.countTook))
	m.mu.Unlock()
	if cached != nil && fresh {
		return cached, total, nil
	}
	start := time.Now()
	counts, total, err := m.tableRows(ctx)
	if err != nil {
		return nil, 0, err
	}
	m.mu.Lock()
	m.counts, m.countedTotal, m.countedAt, m.countTook = counts, total, time.Now(), time.Since(start)
	m.mu.Unlock()
	return counts, total, nil
}

// tableRows counts each kept table's rows.
func (m *Mirror) tableRows(ctx context.Context) (map[v1alpha1.MirrorObjectType]int64, int64, error) {
	out := map[v1alpha1.MirrorObjectType]int64{}
	var total int64
	for _, name := range m.cfg.Types {
		var n int64
		if err := m.cfg.DB.QueryRowContext(ctx, `SELECT count(*) FROM `+m.schema+"."+m.types[name].table).Scan(&n); err != nil {
			return nil, 0, fmt.Errorf("mirror %s: count %s: %w", m.cfg.Name, name, err)
		}
		out[name] = n
		total += n
	}
	return out, total, nil
}
