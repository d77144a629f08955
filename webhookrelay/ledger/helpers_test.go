package ledger_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sync"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/cloudip/stripe-operator/internal/stripeapi"
	"github.com/cloudip/stripe-operator/webhookrelay/ledger"
)

const schemaFile = "schema/ledger-record.v1.json"

var (
	schemaOnce sync.Once
	schema     *jsonschema.Schema
	schemaErr  error
)

// recordSchema compiles the schema file (formats asserted, as a strict consumer would).
func recordSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	schemaOnce.Do(func() {
		raw, err := os.ReadFile(schemaFile)
		if err != nil {
			schemaErr = err
			return
		}
		if !bytes.Equal(raw, ledger.SchemaJSON) {
			schemaErr = fmt.Errorf("ledger.SchemaJSON is not %s", schemaFile)
			return
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
		if err != nil {
			schemaErr = err
			return
		}
		var head struct {
			ID string `json:"$id"`
		}
		_ = json.Unmarshal(raw, &head)
		c := jsonschema.NewCompiler()
		c.DefaultDraft(jsonschema.Draft2020)
		c.AssertFormat()
		if schemaErr = c.AddResource(head.ID, doc); schemaErr != nil {
			return
		}
		schema, schemaErr = c.Compile(head.ID)
	})
	if schemaErr != nil {
		t.Fatalf("schema %s: %v", schemaFile, schemaErr)
	}
	return schema
}

// validateJSON validates one record's JSON against the schema file.
func validateJSON(t *testing.T, raw []byte) error {
	t.Helper()
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("record JSON %s: %v", raw, err)
	}
	return recordSchema(t).Validate(inst)
}

// mustValidate fails the test for any record that does not validate against the schema file.
func mustValidate(t *testing.T, recs ...ledger.Record) {
	t.Helper()
	for _, r := range recs {
		raw, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		if err := validateJSON(t, raw); err != nil {
			t.Errorf("record %s (%s) does not validate against %s: %v\n%s", r.ID, r.Kind, schemaFile, err, raw)
		}
	}
}

// build runs a Builder over one event and validates what it returns.
func build(t *testing.T, b *ledger.Builder, raw []byte, owner ledger.Owner) ([]ledger.Record, error) {
	t.Helper()
	recs, err := b.Records(context.Background(), raw, owner)
	mustValidate(t, recs...)
	return recs, err
}

// counting counts the reads a Builder makes.
type counting struct {
	stripeapi.LedgerAPI
	mu    sync.Mutex
	calls map[string]int
}

func (c *counting) count(op string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.calls == nil {
		c.calls = map[string]int{}
	}
	c.calls[op]++
}

func (c *counting) n(op string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.calls[op]
}

func (c *counting) GetCharge(ctx context.Context, id string) (*stripeapi.Charge, error) {
	c.count("GetCharge")
	return c.LedgerAPI.GetCharge(ctx, id)
}

func (c *counting) ListRefundsForCharge(ctx context.Context, id string) ([]stripeapi.Refund, error) {
	c.count("ListRefundsForCharge")
	return c.LedgerAPI.ListRefundsForCharge(ctx, id)
}

func (c *counting) GetBalanceTransaction(ctx context.Context, id string) (*stripeapi.BalanceTransaction, error) {
	c.count("GetBalanceTransaction")
	return c.LedgerAPI.GetBalanceTransaction(ctx, id)
}

func (c *counting) ListBalanceTransactionsForPayout(ctx context.Context, id string) ([]stripeapi.BalanceTransaction, error) {
	c.count("ListBalanceTransactionsForPayout")
	return c.LedgerAPI.ListBalanceTransactionsForPayout(ctx, id)
}

// fakeLedger answers LedgerAPI from maps; what it does not hold is NotFound-like.
type fakeLedger struct {
	charges map[string]stripeapi.Charge
	refunds map[string][]stripeapi.Refund
	txns    map[string]stripeapi.BalanceTransaction
	payouts map[string][]stripeapi.BalanceTransaction
}

func (f *fakeLedger) GetCharge(_ context.Context, id string) (*stripeapi.Charge, error) {
	ch, ok := f.charges[id]
	if !ok {
		return nil, fmt.Errorf("fake: no charge %s", id)
	}
	return &ch, nil
}

func (f *fakeLedger) ListRefundsForCharge(_ context.Context, id string) ([]stripeapi.Refund, error) {
	return f.refunds[id], nil
}

func (f *fakeLedger) GetBalanceTransaction(_ context.Context, id string) (*stripeapi.BalanceTransaction, error) {
	bt, ok := f.txns[id]
	if !ok {
		return nil, fmt.Errorf("fake: no balance transaction %s", id)
	}
	return &bt, nil
}

func (f *fakeLedger) ListBalanceTransactionsForPayout(_ context.Context, id string) ([]stripeapi.BalanceTransaction, error) {
	txns, ok := f.payouts[id]
	if !ok {
		return nil, fmt.Errorf("fake: no payout %s", id)
	}
	return txns, nil
}

// event renders a Stripe event of typ about object, as Stripe sends it.
func event(t *testing.T, id, typ, account string, created int64, object map[string]any) []byte {
	t.Helper()
	ev := map[string]any{"id": id, "object": "event", "type": typ, "api_version": stripeapi.APIVersion, "created": created,
		"livemode": false, "data": map[string]any{"object": object}, "request": map[string]any{"id": nil, "idempotency_key": nil}}
	if account != "" {
		ev["account"] = account
	}
	raw, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}
