package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"
)

// SQLiteOptions tune the SQLite engine; the zero value is the production setting.
type SQLiteOptions struct {
	// Synchronous is SQLite's synchronous pragma: "FULL" (default) or "NORMAL". In WAL mode FULL
	// fsyncs the WAL at every commit, so a commit survives a power loss or kernel crash, not only a
	// kill -9 of the relay; NORMAL fsyncs only at checkpoints and may lose the last commits on power
	// loss: an event acknowledged to Stripe would be gone, and Stripe never re-sends an acknowledged
	// event. NORMAL exists for the benchmark's comparison.
	Synchronous string
	// MaxBatch bounds how many concurrent Puts share one transaction (group commit); default 256.
	MaxBatch int
	// driver overrides the database/sql driver name (the benchmark compares drivers).
	driver string
}

// DB is the store over database/sql, on one of two engines with one schema and one set of
// statements:
//   - SQLite (OpenSQLite), embedded: one file in WAL mode, written by one goroutine that commits the
//     writes waiting at that moment in one transaction (group commit), so N concurrent Puts cost one
//     fsync, not N; reads run on their own connections beside the writer (WAL readers do not block it);
//   - PostgreSQL (OpenPostgres), for several relay replicas: each write its own transaction
//     (PostgreSQL groups the commits' WAL flushes itself), events and their outbox rows numbered by the
//     storing transaction's id (no writer waits for another's number).
type DB struct {
	write *sql.DB // SQLite: one connection (one writer; the batching goroutine and Prune share it)
	read  *sql.DB
	ins   *sql.Stmt
	// claimLease: PostgreSQL's delivery claims (PostgresOptions.ClaimLease).
	claimLease time.Duration
	out        *sql.Stmt
	pg         bool
	// maxConns is PostgreSQL's pool size; dsn its connection string (for LISTEN).
	maxConns int
	dsn      string
	// bookkeeping: PostgreSQL's pool for claims and outcomes (openBookkeeping); nil on SQLite.
	bookkeeping *sql.DB
	// notify asks the PostgreSQL notifier (notifyLoop) to tell the other replicas (buffered 1).
	notify chan struct{}

	maxBatch int
	lastSeq  int64 // the SQLite writer goroutine's alone, after init
	reqs     chan *writeReq
	quit     chan struct{}
	done     sync.WaitGroup
	once     sync.Once
}

var _ Store = (*DB)(nil)

// writeReq is one operation for the writer goroutine: a Put, or recording delivery outcomes. The
// writer runs every request waiting at that moment in one transaction (group commit).
type writeReq struct {
	// apply runs in the batch's transaction; seq is the writer's event counter, which a Put advances.
	apply func(ctx context.Context, tx *writeTx) error
	resp  chan error // buffered: the writer never blocks on a caller that gave up
}

// writeTx is the batch's transaction with its prepared statements and event counter.
type writeTx struct {
	*sql.Tx
	ins, out *sql.Stmt
	seq      int64
	pg       bool
	// notify: the transaction stored an event or made rows due; the other replicas are told once it
	// commits (PostgreSQL).
	notify bool
}

// OpenSQLite opens (creating if needed) the database at path, checks that WAL mode took, and applies
// Schema.
func OpenSQLite(ctx context.Context, path string, opts SQLiteOptions) (*DB, error) {
	syncMode := strings.ToUpper(opts.Synchronous)
	if syncMode == "" {
		syncMode = "FULL"
	}
	if syncMode != "FULL" && syncMode != "NORMAL" {
		return nil, fmt.Errorf("sqlite %s: synchronous %q: want FULL or NORMAL", path, opts.Synchronous)
	}
	if opts.MaxBatch <= 0 {
		opts.MaxBatch = 256
	}
	if opts.driver == "" {
		opts.driver = driverName
	}
	// busy_timeout: the reader pool and the writer are separate connections; a checkpoint or a reader
	// opening the WAL may hold a lock briefly. _txlock=immediate takes the write lock at BEGIN, so a
	// transaction never fails half-way on an upgrade from read to write.
	q := url.Values{}
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous("+syncMode+")")
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "foreign_keys(1)")
	q.Set("_txlock", "immediate")
	dsn := "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + q.Encode()

	write, err := sql.Open(opts.driver, dsn)
	if err != nil {
		return nil, fmt.Errorf("sqlite %s: open: %w", path, err)
	}
	write.SetMaxOpenConns(1)
	write.SetConnMaxLifetime(0)
	read, err := sql.Open(opts.driver, dsn)
	if err != nil {
		_ = write.Close()
		return nil, fmt.Errorf("sqlite %s: open reader: %w", path, err)
	}
	read.SetMaxOpenConns(4)
	s := &DB{write: write, read: read, maxBatch: opts.MaxBatch, reqs: make(chan *writeReq), quit: make(chan struct{})}
	if err := s.init(ctx, path); err != nil {
		_ = write.Close()
		_ = read.Close()
		return nil, err
	}
	s.done.Add(1)
	go s.writer()
	return s, nil
}

func (s *DB) init(ctx context.Context, path string) error {
	var mode string
	if err := s.write.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return fmt.Errorf("sqlite %s: journal mode: %w", path, err)
	}
	// A filesystem without shared memory (some network volumes) silently keeps the rollback journal:
	// refuse rather than run with other durability and concurrency than the one measured.
	if !strings.EqualFold(mode, "wal") {
		return fmt.Errorf("sqlite %s: journal mode is %q, not wal", path, mode)
	}
	if err := migrate(ctx, s.write, false); err != nil {
		return fmt.Errorf("sqlite %s: %w", path, err)
	}
	if err := s.write.QueryRowContext(ctx, sqlLatestSeq).Scan(&s.lastSeq); err != nil {
		return fmt.Errorf("sqlite %s: latest seq: %w", path, err)
	}
	var err error
	if s.ins, err = s.write.PrepareContext(ctx, sqlInsertEvent); err != nil {
		return fmt.Errorf("sqlite %s: prepare insert: %w", path, err)
	}
	if s.out, err = s.write.PrepareContext(ctx, sqlInsertOutbox); err != nil {
		return fmt.Errorf("sqlite %s: prepare outbox: %w", path, err)
	}
	return nil
}

// Put implements Store. It hands the event to the writer and waits for its transaction's commit.
func (s *DB) Put(ctx context.Context, ev Event, destinations []string) (PutResult, error) {
	if ev.ID == "" {
		return 0, errors.New("put: event without id")
	}
	var res PutResult
	err := s.submit(ctx, "put "+ev.ID, func(ctx context.Context, tx *writeTx) error {
		var err error
		res, err = insert(ctx, tx, ev, destinations)
		return err
	})
	return res, err
}

// submit hands apply to the writer and waits for its batch's commit (SQLite), or runs it in a
// transaction of its own (PostgreSQL).
func (s *DB) submit(ctx context.Context, what string, apply func(ctx context.Context, tx *writeTx) error) error {
	if s.pg {
		return s.transact(ctx, what, apply)
	}
	r := &writeReq{apply: apply, resp: make(chan error, 1)}
	select {
	case s.reqs <- r:
	case <-s.quit:
		return fmt.Errorf("%s: %w", what, ErrClosed)
	case <-ctx.Done():
		return fmt.Errorf("%s: %w", what, ctx.Err())
	}
	select {
	case err := <-r.resp:
		return err
	case <-ctx.Done():
		// The writer may still commit it: the caller reports failure, and a Put's retry is a
		// Duplicate.
		return fmt.Errorf("%s: %w", what, ctx.Err())
	}
}

// writer takes a request, then every request already waiting (up to maxBatch), and commits them in
// one transaction. It never waits to fill a batch: a lone Put pays one commit's latency, and
// batches grow only while a commit is in progress, i.e. exactly when there is load.
func (s *DB) writer() {
	defer s.done.Done()
	batch := make([]*writeReq, 0, s.maxBatch)
	for {
		select {
		case r := <-s.reqs:
			batch = append(batch[:0], r)
		case <-s.quit:
			return
		}
	fill:
		for len(batch) < s.maxBatch {
			select {
			case r := <-s.reqs:
				batch = append(batch, r)
			default:
				break fill
			}
		}
		err := s.commit(batch)
		for _, r := range batch {
			r.resp <- err
		}
	}
}

// commit runs one transaction for the batch. A failure fails every request of the batch (all roll
// back together), which is safe: each Put's caller answers Stripe non-2xx and the retries land again,
// and an outcome not recorded is attempted again (at least once).
func (s *DB) commit(batch []*writeReq) error {
	ctx := context.Background() // the batch outlives any one caller's context
	sqlTx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("write: begin: %w", err)
	}
	tx := &writeTx{Tx: sqlTx, ins: sqlTx.StmtContext(ctx, s.ins), out: sqlTx.StmtContext(ctx, s.out), seq: s.lastSeq}
	for _, r := range batch {
		if err := r.apply(ctx, tx); err != nil {
			_ = sqlTx.Rollback()
			return err
		}
	}
	if err := sqlTx.Commit(); err != nil {
		return fmt.Errorf("write: commit %d operation(s): %w", len(batch), err)
	}
	s.lastSeq = tx.seq // only once committed: a rolled-back batch leaves no gap
	return nil
}

func insert(ctx context.Context, tx *writeTx, ev Event, destinations []string) (PutResult, error) {
	args := []any{ev.ID, ev.Endpoint, ev.Type, ev.Account, ev.Livemode, ev.APIVersion, ev.ObjectID,
		ev.Created.Unix(), ev.ReceivedAt.UnixMilli()}
	if tx.pg {
		args = append(args, ev.Payload) // BYTEA; the transaction id numbers the event
	} else {
		args = append(args, string(ev.Payload), tx.seq+1)
	}
	res, err := tx.ins.ExecContext(ctx, args...)
	if err != nil {
		return 0, fmt.Errorf("put %s: insert event: %w", ev.ID, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("put %s: rows affected: %w", ev.ID, err)
	}
	if n == 0 {
		return Duplicate, nil
	}
	tx.seq++
	if err := insertOutbox(ctx, tx, ev.ID, destinations, ev.ReceivedAt); err != nil {
		return 0, fmt.Errorf("put %s: %w", ev.ID, err)
	}
	tx.markStored()
	return Stored, nil
}

// markStored marks that the transaction stored an event or made rows due, so that the other
// PostgreSQL replicas are told after it commits (transact). Not inside the transaction: a NOTIFY
// holds PostgreSQL's cluster-wide notification lock from before the commit until after its WAL
// flush, which serialized every replica's commits (bench-relay: one flush per event, intake halved).
func (tx *writeTx) markStored() { tx.notify = true }

// insertOutbox adds the event's rows: pending and due at once, or held for Held.
func insertOutbox(ctx context.Context, tx *writeTx, eventID string, destinations []string, at time.Time) error {
	for _, d := range destinations {
		state := StatePending
		if d == Held {
			state = StateHeld
		}
		if _, err := tx.out.ExecContext(ctx, eventID, d, state, at.UnixMilli()); err != nil {
			return fmt.Errorf("outbox %s: %w", d, err)
		}
	}
	return nil
}

// Prune implements Store. It deletes in batches of 1000 events, each its own transaction through the
// writer, so the Puts interleave with a large prune instead of waiting for all of it.
func (s *DB) Prune(ctx context.Context, now time.Time, retention time.Duration) (int64, error) {
	if retention < MinRetention {
		return 0, fmt.Errorf("prune: %s: %w", retention, ErrRetentionTooShort)
	}
	cutoff := now.Add(-retention).UnixMilli()
	var total int64
	for {
		ids, err := s.pruneCandidates(ctx, cutoff)
		if err != nil {
			return total, err
		}
		err = s.submit(ctx, "prune", func(ctx context.Context, tx *writeTx) error {
			for _, id := range ids {
				if _, err := tx.ExecContext(ctx, sqlPruneOutbox, id); err != nil {
					return fmt.Errorf("prune %s: outbox: %w", id, err)
				}
				if _, err := tx.ExecContext(ctx, sqlPruneEvent, id); err != nil {
					return fmt.Errorf("prune %s: %w", id, err)
				}
			}
			return nil
		})
		if err != nil {
			return total, err
		}
		total += int64(len(ids))
		if len(ids) < pruneBatch {
			return total, nil
		}
	}
}

func (s *DB) pruneCandidates(ctx context.Context, cutoff int64) ([]string, error) {
	rows, err := s.read.QueryContext(ctx, sqlPruneCandidates, cutoff)
	if err != nil {
		return nil, fmt.Errorf("prune: %w", err)
	}
	defer func() { _ = rows.Close() }()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("prune: %w", err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("prune: %w", err)
	}
	return ids, nil
}

// Close implements Store: it stops the writer after the batch in progress and closes the database.
func (s *DB) Close() error {
	var err error
	s.once.Do(func() {
		close(s.quit)
		s.done.Wait() // SQLite's writer; PostgreSQL has none
		closers := []error{s.ins.Close(), s.out.Close(), s.write.Close()}
		if s.read != s.write {
			closers = append(closers, s.read.Close())
		}
		if s.bookkeeping != nil {
			closers = append(closers, s.bookkeeping.Close())
		}
		err = errors.Join(closers...)
		if err != nil {
			err = fmt.Errorf("close: %w", err)
		}
	})
	return err
}
