package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/jackc/pgx/v5/stdlib" // also registers "pgx"
)

// PostgresOptions tune the PostgreSQL engine.
type PostgresOptions struct {
	// MaxConns bounds the pool (default 20).
	MaxConns int
	// ClaimLease is how long a delivery claim lasts unless renewed (default DefaultClaimLease).
	ClaimLease time.Duration
}

// OpenPostgres connects to the database at dsn (a libpq URL or key=value string), applies the
// schema's missing versions (serialized across replicas starting at once) and returns the store. The
// relay's replicas share it: an event id is stored once whichever replica Stripe reached.
func OpenPostgres(ctx context.Context, dsn string, opts PostgresOptions) (*DB, error) {
	if opts.MaxConns <= 0 {
		opts.MaxConns = 20
	}
	if opts.ClaimLease <= 0 {
		opts.ClaimLease = DefaultClaimLease
	}
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return nil, fmt.Errorf("postgres: open: %w", err)
	}
	db.SetMaxOpenConns(opts.MaxConns)
	// Keep every connection open: database/sql keeps 2 idle by default, so under load it closed and
	// reopened connections all the time, a backend forked for each (bench-relay: 742 in 5 s).
	db.SetMaxIdleConns(opts.MaxConns)
	if err := db.PingContext(ctx); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("postgres: %w", err)
	}
	if err := migrate(ctx, db, true); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("postgres: %w", err)
	}
	bookkeeping, err := openBookkeeping(dsn, opts.MaxConns)
	if err != nil {
		_ = db.Close()
		return nil, err
	}
	s := &DB{write: db, read: db, bookkeeping: bookkeeping, pg: true, maxConns: opts.MaxConns, claimLease: opts.ClaimLease,
		dsn: dsn, quit: make(chan struct{}), notify: make(chan struct{}, 1)}
	if s.ins, err = db.PrepareContext(ctx, sqlInsertEventPG); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("postgres: prepare insert: %w", err)
	}
	if s.out, err = db.PrepareContext(ctx, sqlInsertOutboxPG); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("postgres: prepare outbox: %w", err)
	}
	s.done.Add(1)
	go s.notifyLoop()
	return s, nil
}

// openBookkeeping opens the pool of the delivery bookkeeping (claims, renewals, outcomes): its
// sessions commit without waiting for the WAL flush (synchronous_commit off), so an outcome is one
// round trip; a crash of the database may lose the last ones, which are then attempted again (at
// least once). Half the main pool's size.
func openBookkeeping(dsn string, maxConns int) (*sql.DB, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	cfg.RuntimeParams["synchronous_commit"] = "off"
	db := stdlib.OpenDB(*cfg)
	conns := max(maxConns/2, 2)
	db.SetMaxOpenConns(conns)
	db.SetMaxIdleConns(conns)
	return db, nil
}

// transact runs apply in a transaction of its own (PostgreSQL), committed durably.
func (s *DB) transact(ctx context.Context, what string, apply func(ctx context.Context, tx *writeTx) error) error {
	return s.transactCommit(ctx, what, true, apply)
}

// transactCommit is transact; durable false runs it on the bookkeeping pool, whose commits do not
// wait for the WAL flush: for claims and outcomes, which a database crash may lose without harm (the
// row is attempted again: at least once), never for what the relay acknowledges Stripe for.
func (s *DB) transactCommit(ctx context.Context, what string, durable bool, apply func(ctx context.Context, tx *writeTx) error) error {
	select {
	case <-s.quit:
		return fmt.Errorf("%s: %w", what, ErrClosed)
	default:
	}
	pool := s.write
	if !durable {
		pool = s.bookkeeping
	}
	sqlTx, err := s.begin(ctx, pool)
	if err != nil {
		return fmt.Errorf("%s: begin: %w", what, err)
	}
	tx := &writeTx{Tx: sqlTx, ins: sqlTx.StmtContext(ctx, s.ins), out: sqlTx.StmtContext(ctx, s.out), pg: true}
	if err := apply(ctx, tx); err != nil {
		return errors.Join(err, sqlTx.Rollback())
	}
	if err := sqlTx.Commit(); err != nil {
		return fmt.Errorf("%s: commit: %w", what, err)
	}
	if tx.notify {
		select {
		case s.notify <- struct{}{}:
		default: // a notification is already due: it covers this commit too
		}
	}
	return nil
}

// notifyInterval spaces a replica's notifications: the commits of that interval share one NOTIFY
// (a wake-up: the listeners then read what is due), so notifying costs little however fast events
// arrive, and a wake-up is at most this late.
const notifyInterval = 5 * time.Millisecond

// notifyLoop sends the notifications commits asked for, one per notifyInterval at most, until Close.
// A notification lost (a crash after a commit) only delays the others until their next poll.
func (s *DB) notifyLoop() {
	defer s.done.Done()
	for {
		select {
		case <-s.quit:
			return
		case <-s.notify:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, _ = s.write.ExecContext(ctx, `SELECT pg_notify($1, '')`, storedChannel)
		cancel()
		select {
		case <-s.quit:
			return
		case <-time.After(notifyInterval):
		}
	}
}

// begin starts a transaction. After a database restart every idle connection of the pool is dead,
// and a BEGIN on one fails having done nothing (the connection is then dropped): it is safe to try
// on the next, once per connection the pool may hold, plus a new one.
func (s *DB) begin(ctx context.Context, pool *sql.DB) (*sql.Tx, error) {
	var err error
	for range s.maxConns + 1 {
		var tx *sql.Tx
		if tx, err = pool.BeginTx(ctx, nil); err == nil {
			return tx, nil
		}
		if ctx.Err() != nil {
			break
		}
	}
	return nil, fmt.Errorf("begin after %d attempts: %w", s.maxConns+1, err)
}

// storedChannel is the PostgreSQL notification channel a write that stores an event (or makes rows
// due) notifies on commit, so every replica wakes its feed and its deliverer at once, not at its
// next poll.
const storedChannel = "stripe_relay_stored"

// Notifications calls stored whenever another replica (or this one) committed a write that stored
// an event or made deliveries due, until ctx ends. It listens on a connection of its own and
// reconnects after a database restart (telling broken why, and calling stored then too: what happened
// meanwhile is unknown).
// On SQLite it returns at once: the one replica's own writes wake it.
func (s *DB) Notifications(ctx context.Context, stored func(), broken func(error)) error {
	if !s.pg {
		return nil
	}
	backoff := time.Second
	for ctx.Err() == nil {
		err := s.listen(ctx, stored)
		if ctx.Err() != nil {
			break
		}
		if broken != nil {
			broken(err) // the connection broke: listen again after a pause
		}
		select {
		case <-ctx.Done():
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 30*time.Second)
		stored()
	}
	return nil
}

func (s *DB) listen(ctx context.Context, stored func()) error {
	conn, err := pgx.Connect(ctx, s.dsn)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	defer func() { _ = conn.Close(context.WithoutCancel(ctx)) }()
	if _, err := conn.Exec(ctx, "LISTEN "+storedChannel); err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	for {
		if _, err := conn.WaitForNotification(ctx); err != nil {
			return fmt.Errorf("listen: %w", err)
		}
		stored()
	}
}
