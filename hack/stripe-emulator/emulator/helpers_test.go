package emulator

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	stripe "github.com/stripe/stripe-go/v76"
	"github.com/stripe/stripe-go/v76/client"
)

const testKey = "sk_test_emulatortests"

// testEpoch is where fake clocks start: a fixed time keeps created
// timestamps and expiry arithmetic readable.
var testEpoch = time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)

// env is one emulator served over HTTP plus a stripe-go client for it.
type env struct {
	*Server
	sc    *client.API
	clock *FakeClock
}

// newEnv starts an emulator with a fake clock and immediate search indexing
// unless opts says otherwise.
func newEnv(t *testing.T, opts Options) *env {
	t.Helper()
	clock := NewFakeClock(testEpoch)
	if opts.Clock == nil {
		opts.Clock = clock
	}
	if opts.SearchLag == 0 {
		opts.SearchLag = -1
	}
	srv := Start(t, opts)
	return &env{Server: srv, sc: srv.Client(testKey), clock: clock}
}

// rawResp is a response read without stripe-go, to check exact bytes.
type rawResp struct {
	status int
	header http.Header
	body   []byte
	obj    map[string]any
}

// errField returns error.<k> of an error body.
func (r rawResp) errField(k string) any {
	e, _ := r.obj["error"].(map[string]any)
	return e[k]
}

// do sends a raw request; headers are name/value pairs. Authorization
// defaults to the test key unless given.
func (e *env) do(t *testing.T, method, path, form string, headers ...string) rawResp {
	t.Helper()
	var body io.Reader
	if form != "" && method != http.MethodGet {
		body = strings.NewReader(form)
	} else if form != "" {
		path += "?" + form
	}
	req, err := http.NewRequest(method, e.URL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+testKey)
	req.Header.Set("Stripe-Version", stripe.APIVersion)
	if body != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		if headers[i+1] == "" {
			req.Header.Del(headers[i])
		} else {
			req.Header.Set(headers[i], headers[i+1])
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer func() { _ = resp.Body.Close() }()
	raw, _ := io.ReadAll(resp.Body)
	out := rawResp{status: resp.StatusCode, header: resp.Header, body: raw}
	_ = json.Unmarshal(raw, &out.obj)
	return out
}

// stripeErr asserts err is a Stripe API error and returns it.
func stripeErr(t *testing.T, err error) *stripe.Error {
	t.Helper()
	var se *stripe.Error
	if !errors.As(err, &se) {
		t.Fatalf("want a *stripe.Error, got %T: %v", err, err)
	}
	return se
}

// wantStripeErr checks the status, type, code, param and (when msg is not
// empty) the exact message of a Stripe error.
func wantStripeErr(t *testing.T, err error, status int, typ, code, param, msg string) {
	t.Helper()
	se := stripeErr(t, err)
	if se.HTTPStatusCode != status || string(se.Type) != typ || string(se.Code) != code || se.Param != param {
		t.Fatalf("got %d %s code=%q param=%q (%s); want %d %s code=%q param=%q",
			se.HTTPStatusCode, se.Type, se.Code, se.Param, se.Msg, status, typ, code, param)
	}
	if msg != "" && se.Msg != msg {
		t.Fatalf("message:\n got  %q\n want %q", se.Msg, msg)
	}
}

// seedConnectedAccount registers a connected account of the platform the
// way the accounts resource will: an account object in the platform scope.
func seedConnectedAccount(t *testing.T, e *Emulator) string {
	t.Helper()
	id := NewID("acct")
	err := e.Store().Write(e.PlatformAccount(), e.Now(), func(tx *Tx) error {
		return tx.Insert("account", Object{"id": id, "object": "account"})
	})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// events returns the events of an account, newest first.
func (e *env) events(t *testing.T, account string) []Object {
	t.Helper()
	var out []Object
	_ = e.Store().Read(account, e.Now(), func(tx *Tx) error {
		tx.Scan("event", func(o Object) bool { out = append(out, o.Clone()); return true })
		return nil
	})
	return out
}

func (e *env) newProduct(t *testing.T, name string, md map[string]string) *stripe.Product {
	t.Helper()
	p, err := e.sc.Products.New(&stripe.ProductParams{Name: stripe.String(name), Metadata: md})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func (e *env) newPrice(t *testing.T, params *stripe.PriceParams) *stripe.Price {
	t.Helper()
	p, err := e.sc.Prices.New(params)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func monthly(product string, amount int64) *stripe.PriceParams {
	return &stripe.PriceParams{
		Product: stripe.String(product), Currency: stripe.String("usd"), UnitAmount: stripe.Int64(amount),
		Recurring: &stripe.PriceRecurringParams{Interval: stripe.String("month")},
	}
}

func containsAll(s string, subs ...string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}
