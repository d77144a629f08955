package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
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
func postgresEngine(t *testing.T, server *pgtest.Server) testEngine {
	var mu sync.Mutex
	dsns := map[string]string{}
	return testEngine{name: "postgres", open: func(ctx context.Context, path string) (*DB, error) {
		sum := sha256.Sum256([]byte(path))
		name := "relay_" + hex.EncodeToString(sum[:8])
		mu.Lock()
		dsn, ok := dsns[name]
		if !ok {
			dsn = server.CreateDatabase(t, name)
			dsns[name] = dsn
		}
		mu.Unlock()
		return OpenPostgres(ctx, dsn, PostgresOptions{})
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
	{"SinceNeverPassesAnEventInFlight", suiteSinceNeverPassesAnEventInFlight},
	{"Cursor", suiteCursor},
	{"CheckWritable", suiteCheckWritable},
	{"ConcurrentDestinationSeq", suiteConcurrentDestinationSeq},
	{"ReplicasShareDeliveries", suiteReplicasShareDeliveries},
	{"SharedBudget", suiteSharedBudget},
	{"RenewedClaimHolds", suiteRenewedClaimHolds},
	{"NotificationsWakeReplicas", suiteNotificationsWakeReplicas},
}

// TestEngines runs the suite on SQLite, then on a private PostgreSQL server.
func TestEngines(t *testing.T) {
	engines := []func(t *testing.T) testEngine{
		func(*testing.T) testEngine { return sqliteEngine() },
		func(t *testing.T) testEngine { return postgresEngine(t, pgtest.Start(t)) },
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
