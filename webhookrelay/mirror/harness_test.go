package mirror_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-logr/logr"
	_ "github.com/jackc/pgx/v5/stdlib" // registers "pgx"

	"github.com/cloudip/stripe-operator/hack/stripe-emulator/emulator"
	"github.com/cloudip/stripe-operator/internal/pgtest"
	"github.com/cloudip/stripe-operator/internal/stripeapi"
	"github.com/cloudip/stripe-operator/webhookrelay/mirror"
	"github.com/cloudip/stripe-operator/webhookrelay/store"
)

const (
	testKey    = "sk_test_mirror"
	connection = "platform"
	endpoint   = "payments/connect-events"
)

// rig is one test's Stripe (the emulator, on a clock the test moves), the relay's store of events
// (SQLite) and a PostgreSQL database the mirrors live in.
type rig struct {
	t      *testing.T
	emu    *emulator.Server
	client *stripeapi.Client
	events *store.DB
	db     *sql.DB

	mu        sync.Mutex
	emitted   []emulator.Object // the emulator's events, in emission order
	accounts  map[string]mirror.Account
	regionOf  map[string]string // account ("" = platform) -> region
	lists     atomic.Int64      // list calls made by mirrors
	interrupt atomic.Int64      // at the list call with this number (1-based), cancel stopBackfill; 0: never
	// stopBackfill is the context the interrupted call cancels (the relay stopping mid-backfill).
	stopBackfill context.CancelFunc
}

func newRig(t *testing.T, pg *pgtest.Server) *rig {
	t.Helper()
	emu := emulator.Start(t, emulator.Options{Clock: emulator.NewFakeClock(time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC))})
	client, err := stripeapi.New(stripeapi.Config{Name: connection, APIKey: testKey, BaseURL: emu.URL,
		Budget: stripeapi.Budget{RequestsPerSecond: 1e6, Burst: 1e6}, Logger: logr.Discard()})
	if err != nil {
		t.Fatal(err)
	}
	events, err := store.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "relay.db"), store.SQLiteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = events.Close() })
	name := strings.ToLower(strings.NewReplacer("/", "_", " ", "_", "-", "_").Replace(t.Name()))
	db, err := sql.Open("pgx", pg.CreateDatabase(t, name))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	r := &rig{t: t, emu: emu, client: client, events: events, db: db,
		accounts: map[string]mirror.Account{}, regionOf: map[string]string{"": "us"}}
	r.accounts[emu.PlatformAccount()] = mirror.Account{ID: emu.PlatformAccount(), Platform: true}
	emu.AddEventListener(emulator.EventListener{Committed: func(ev emulator.Object) {
		r.mu.Lock()
		r.emitted = append(r.emitted, ev)
		r.mu.Unlock()
	}})
	return r
}

// tenant creates a connected account for a tenant of region.
func (r *rig) tenant(name, region string) string {
	r.t.Helper()
	acct, err := r.client.CreateAccount(context.Background(), stripeapi.AccountCreateParams{IdempotencyKey: "acct-" + name,
		Tags: stripeapi.Tags{UID: "uid-" + name, NamespacedName: "shop/" + name, Kind: "StripeTenant"},
		Type: "express", Country: "US", Email: name + "@example.com", Capabilities: []string{"card_payments", "transfers"}})
	if err != nil {
		r.t.Fatal(err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.accounts[acct.ID] = mirror.Account{ID: acct.ID, Tenant: "shop/" + name}
	r.regionOf[acct.ID] = region
	return acct.ID
}

// do calls the emulator as Stripe's API (account "" is the platform).
func (r *rig) do(method, path, account string, form url.Values) emulator.Object {
	r.t.Helper()
	req, err := http.NewRequest(method, r.emu.URL+path, strings.NewReader(form.Encode()))
	if err != nil {
		r.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+testKey)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if account != "" {
		req.Header.Set("Stripe-Account", account)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		r.t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		r.t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, body)
	}
	var out emulator.Object
	if err := json.Unmarshal(body, &out); err != nil {
		r.t.Fatal(err)
	}
	return out
}

// takeEvents returns the events emitted since the last call.
func (r *rig) takeEvents() []emulator.Object {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.emitted
	r.emitted = nil
	return out
}

// store puts events into the relay's store as the intake would (in the order given).
func (r *rig) store(events ...emulator.Object) {
	r.t.Helper()
	for _, ev := range events {
		raw, err := json.Marshal(ev)
		if err != nil {
			r.t.Fatal(err)
		}
		obj, _ := ev["data"].(map[string]any)["object"].(map[string]any)
		created, _ := ev["created"].(float64)
		_, err = r.events.Put(context.Background(), store.Event{ID: ev.ID(), Endpoint: endpoint, Type: ev.Str("type"),
			Account: ev.Str("account"), APIVersion: ev.Str("api_version"), ObjectID: fmt.Sprint(obj["id"]),
			Created: time.Unix(int64(created), 0), ReceivedAt: time.Now(), Payload: raw}, nil)
		if err != nil {
			r.t.Fatal(err)
		}
	}
}

// mirror returns a mirror of region in schema, migrated.
func (r *rig) mirror(region, schema string) *mirror.Mirror {
	r.t.Helper()
	m, err := mirror.New(mirror.Config{Name: "payments/" + schema, DB: r.db, Schema: schema, Connection: connection, Region: region,
		Events: r.events, Sources: &sources{rig: r, region: region}, Log: logr.Discard()})
	if err != nil {
		r.t.Fatal(err)
	}
	if err := m.Migrate(context.Background()); err != nil {
		r.t.Fatal(err)
	}
	return m
}

// sources is a mirror's view of the rig: accounts and owners by the rig's regions, as the relay's
// Kubernetes side decides them.
type sources struct {
	rig    *rig
	region string
}

func (s *sources) Accounts(context.Context) ([]mirror.Account, error) {
	s.rig.mu.Lock()
	defer s.rig.mu.Unlock()
	var out []mirror.Account
	for id, a := range s.rig.accounts {
		region := s.rig.regionOf[id]
		if a.Platform {
			region = s.rig.regionOf[""]
		}
		if region == s.region {
			out = append(out, a)
		}
	}
	return out, nil
}

func (s *sources) OwnerOf(_ context.Context, _, account string) (mirror.EventOwner, error) {
	s.rig.mu.Lock()
	defer s.rig.mu.Unlock()
	if account == "" {
		return mirror.EventOwner{Connection: connection, Region: s.rig.regionOf[""], Account: s.rig.emu.PlatformAccount()}, nil
	}
	a, ok := s.rig.accounts[account]
	if !ok {
		return mirror.EventOwner{}, fmt.Errorf("no tenant has account %s", account)
	}
	return mirror.EventOwner{Connection: connection, Tenant: a.Tenant, Region: s.rig.regionOf[account], Account: account}, nil
}

func (s *sources) Stripe(_ context.Context, a mirror.Account) (stripeapi.RawReader, error) {
	reader := s.rig.client.RawForAccount("")
	if !a.Platform {
		reader = s.rig.client.RawForAccount(a.ID)
	}
	return &countingReader{RawReader: reader, rig: s.rig}, nil
}

// countingReader counts list calls and interrupts the one the rig says.
type countingReader struct {
	stripeapi.RawReader
	rig *rig
}

func (c *countingReader) ListRaw(ctx context.Context, path string, filters url.Values, after string) (stripeapi.RawPage, error) {
	if n := c.rig.lists.Add(1); n == c.rig.interrupt.Load() {
		c.rig.stopBackfill()
		return stripeapi.RawPage{}, fmt.Errorf("list call %d: %w", n, context.Canceled)
	}
	return c.RawReader.ListRaw(ctx, path, filters, after)
}

// rowOf is one row of a mirror table.
type rowOf struct {
	tenant, region, account string
	deleted                 bool
	data                    map[string]any
}

func (r *rig) row(schema, table, id string) (rowOf, bool) {
	r.t.Helper()
	var out rowOf
	var data []byte
	err := r.db.QueryRow(`SELECT tenant, region, account, deleted, data FROM `+schema+`.`+table+` WHERE id = $1`, id).
		Scan(&out.tenant, &out.region, &out.account, &out.deleted, &data)
	if err == sql.ErrNoRows {
		return out, false
	}
	if err != nil {
		r.t.Fatal(err)
	}
	if err := json.Unmarshal(data, &out.data); err != nil {
		r.t.Fatal(err)
	}
	return out, true
}

func (r *rig) ids(schema, table string) map[string]bool {
	r.t.Helper()
	rows, err := r.db.Query(`SELECT id FROM ` + schema + `.` + table)
	if err != nil {
		r.t.Fatal(err)
	}
	defer func() { _ = rows.Close() }()
	out := map[string]bool{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			r.t.Fatal(err)
		}
		out[id] = true
	}
	return out
}

// follow applies every stored event.
func follow(t *testing.T, m *mirror.Mirror) {
	t.Helper()
	for {
		n, err := m.Follow(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			return
		}
	}
}
