package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net/url"
	"sync"
	"testing"

	"github.com/cloudip/stripe-operator/internal/pgtest"
)

// testEngine opens a store at a test's path on one engine.
type testEngine struct {
	name string
	open func(ctx context.Context, path string) (*DB, error)
}

// engineUnderTest is the engine the suite functions run on (set by TestEngines, one at a time).
var engineUnderTest = sqliteEngine()

func sqliteEngine() testEngine {
	return testEngine{name: "sqlite", open: func(ctx context.Context, path string) (*DB, error) {
		return OpenSQLite(ctx, path, SQLiteOptions{})
	}}
}

// postgresEngine gives each path its own database on server (created on first use), so a path
// opened again is the same store, as a file is.
func postgresEngine(server *pgtest.Server) testEngine {
	var mu sync.Mutex
	created := map[string]bool{}
	return testEngine{name: "postgres", open: func(ctx context.Context, path string) (*DB, error) {
		sum := sha256.Sum256([]byte(path))
		name := "relay_" + hex.EncodeToString(sum[:8])
		mu.Lock()
		defer mu.Unlock()
		if !created[name] {
			admin, err := sql.Open("pgx", server.DSN)
			if err != nil {
				return nil, err
			}
			_, err = admin.ExecContext(ctx, "CREATE DATABASE "+name)
			_ = admin.Close()
			if err != nil {
				return nil, fmt.Errorf("create database %s: %w", name, err)
			}
			created[name] = true
		}
		u, err := url.Parse(server.DSN)
		if err != nil {
			return nil, err
		}
		u.Path = "/" + name
		return OpenPostgres(ctx, u.String(), PostgresOptions{})
	}}
}

// suite is every store test that holds for both engines: one interface, one schema, one suite.
var suite = []struct {
	name string
	run  func(t *testing.T)
}{
	{"Put", suitePut},
	{"GetRoundTrip", suiteGetRoundTrip},
	{"ConcurrentPutsSameID", suiteConcurrentPutsSameID},
	{"ReopenKeepsEverything", suiteReopenKeepsEverything},
	{"Prune", suitePrune},
	{"PayloadBytesExact", suitePayloadBytesExact},
	{"PutCancelledThenRetried", suitePutCancelledThenRetried},
	{"DeliveryLifecycle", suiteDeliveryLifecycle},
	{"Replay", suiteReplay},
	{"HeldAndRerouted", suiteHeldAndRerouted},
	{"PruneDeliveredRows", suitePruneDeliveredRows},
	{"SinceFollowsArrival", suiteSinceFollowsArrival},
	{"Cursor", suiteCursor},
	{"ConcurrentDestinationSeq", suiteConcurrentDestinationSeq},
	{"ReplicasShareDeliveries", suiteReplicasShareDeliveries},
	{"NotificationsWakeReplicas", suiteNotificationsWakeReplicas},
}

// TestEngines runs the suite on SQLite, then on a private PostgreSQL server.
func TestEngines(t *testing.T) {
	engines := []func(t *testing.T) testEngine{
		func(*testing.T) testEngine { return sqliteEngine() },
		func(t *testing.T) testEngine { return postgresEngine(pgtest.Start(t)) },
	}
	for _, engine := range engines {
		e := engine(t)
		t.Run(e.name, func(t *testing.T) {
			engineUnderTest = e
			defer func() { engineUnderTest = sqliteEngine() }()
			for _, tc := range suite {
				t.Run(tc.name, tc.run)
			}
		})
	}
}
