package stripeapi

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestClassifyResponses(t *testing.T) {
	cases := map[string]struct {
		rep  reply
		want Class
	}{
		"404 resource_missing":       {stripeErr(404, "invalid_request_error", "resource_missing", "id", "No such product: 'prod_1'"), ClassNotFound},
		"400 parameter_unknown":      {stripeErr(400, "invalid_request_error", "parameter_unknown", "colour", "Received unknown parameter: colour"), ClassTerminal},
		"400 resource_missing param": {stripeErr(400, "invalid_request_error", "resource_missing", "product", "No such product: 'prod_x'"), ClassTerminal},
		"400 idempotency_error":      {stripeErr(400, "idempotency_error", "", "", "Keys for idempotent requests can only be used with the same parameters"), ClassTerminal},
		"402 card_error":             {stripeErr(402, "card_error", "card_declined", "", "Your card was declined."), ClassTerminal},
		"401 bad key":                {stripeErr(401, "invalid_request_error", "", "", "Invalid API Key provided: sk_test_***"), ClassAuth},
		"401 api_key_expired":        {stripeErr(401, "invalid_request_error", "api_key_expired", "", "Expired API Key"), ClassAuth},
		"403 restricted key":         {stripeErr(403, "invalid_request_error", "", "", "The provided key does not have the required permissions"), ClassAuth},
		"403 account_invalid":        {stripeErr(403, "invalid_request_error", "account_invalid", "", "The provided key does not have access to account 'acct_1'"), ClassTerminal},
		"400 account_invalid":        {stripeErr(400, "invalid_request_error", "account_invalid", "", "Invalid account"), ClassTerminal},
		"409 idempotency_key_in_use": {stripeErr(409, "invalid_request_error", "idempotency_key_in_use", "", "in progress"), ClassRetryable},
		"409 lock_timeout":           {stripeErr(409, "invalid_request_error", "lock_timeout", "", "lock"), ClassRetryable},
		"429 rate_limit":             {stripeErr(429, "invalid_request_error", "rate_limit", "", "Too many requests"), ClassRetryable},
		"429 without code":           {stripeErr(429, "invalid_request_error", "", "", "Too many requests"), ClassRetryable},
		"500 api_error":              {stripeErr(500, "api_error", "", "", "Something went wrong"), ClassRetryable},
		"503":                        {stripeErr(503, "api_error", "", "", "unavailable"), ClassRetryable},
		"401 HTML from a gateway":    {reply{Status: 401, Body: "<html>401</html>"}, ClassAuth},
		"404 HTML from a proxy":      {reply{Status: 404, Body: "<html>404</html>"}, ClassNotFound},
		"200 undecodable":            {reply{Status: 200, Body: "{not json"}, ClassRetryable},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			f := newFakeStripe(t)
			f.handle("GET /v1/prices/price_1", func(seen, int) reply { return tc.rep })
			_, err := newTestClient(t, f, nil).GetPrice(context.Background(), "price_1")
			if err == nil {
				t.Fatal("no error")
			}
			if got := Classify(err); got != tc.want {
				t.Errorf("Classify = %q, want %q (%v)", got, tc.want, err)
			}
			e, ok := AsError(err)
			if !ok {
				t.Fatalf("%T is not an *Error", err)
			}
			if e.HTTPStatus != tc.rep.Status {
				t.Errorf("HTTPStatus = %d, want %d", e.HTTPStatus, tc.rep.Status)
			}
			if e.RequestID == "" {
				t.Error("RequestID lost")
			}
		})
	}
}

func TestErrorKeepsStripeFields(t *testing.T) {
	f := newFakeStripe(t)
	f.handle("POST /v1/prices", func(seen, int) reply {
		r := stripeErr(400, "invalid_request_error", "parameter_invalid_integer", "unit_amount", "Invalid integer: abc")
		r.Body.(map[string]any)["error"].(map[string]any)["doc_url"] = "https://stripe.com/docs/error-codes/parameter-invalid-integer"
		return r
	})
	_, err := newTestClient(t, f, nil).CreatePrice(context.Background(), PriceCreateParams{
		IdempotencyKey: "k", Tags: testTags(), ProductID: "prod_1", Currency: "eur", LookupKey: "gold-monthly",
	})
	wrapped := fmt.Errorf("reconcile team-a/gold: %w", err) // callers wrap further; nothing is lost
	e, ok := AsError(wrapped)
	if !ok {
		t.Fatalf("%v is not an *Error", wrapped)
	}
	want := Error{
		Class: ClassTerminal, HTTPStatus: 400, Type: "invalid_request_error", Code: "parameter_invalid_integer",
		Param: "unit_amount", Message: "Invalid integer: abc", RequestID: "req_1",
		DocURL: "https://stripe.com/docs/error-codes/parameter-invalid-integer",
	}
	got := *e
	got.err = nil
	if got != want {
		t.Errorf("error fields:\n got %+v\nwant %+v", got, want)
	}
	msg := err.Error()
	for _, part := range []string{`create price "gold-monthly"`, "400", "parameter_invalid_integer", "unit_amount", "Invalid integer: abc", "req_1"} {
		if !strings.Contains(msg, part) {
			t.Errorf("message %q lacks %q", msg, part)
		}
	}
}

func TestErrorOnConnectedAccountNamesIt(t *testing.T) {
	f := newFakeStripe(t)
	f.handle("GET /v1/products/prod_1", func(seen, int) reply {
		return stripeErr(404, "invalid_request_error", "resource_missing", "id", "No such product: 'prod_1'")
	})
	_, err := newTestClient(t, f, nil).ForAccount("acct_9").GetProduct(context.Background(), "prod_1")
	if !IsNotFound(err) || !strings.Contains(err.Error(), `get product "prod_1" on acct_9`) {
		t.Errorf("err = %v", err)
	}
}

func TestIdempotentReplayIsReported(t *testing.T) {
	f := newFakeStripe(t)
	f.handle("POST /v1/customers", func(seen, int) reply {
		return withHeader(stripeErr(500, "api_error", "", "", "An unknown error occurred"), "Idempotent-Replayed", "true")
	})
	_, err := newTestClient(t, f, nil).CreateCustomer(context.Background(), CustomerCreateParams{IdempotencyKey: "k", Tags: testTags()})
	e, ok := AsError(err)
	if !ok || !e.IdempotentReplayed || e.Class != ClassRetryable {
		t.Errorf("err = %#v, want a Retryable replayed error", err)
	}
}

func TestClassifyOtherErrors(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	f := newFakeStripe(t)
	_, canceled := newTestClient(t, f, nil).GetProduct(ctx, "prod_1")

	deadCtx, cancel2 := context.WithTimeout(context.Background(), time.Nanosecond)
	defer cancel2()
	<-deadCtx.Done()
	_, deadline := newTestClient(t, f, nil).GetProduct(deadCtx, "prod_1")

	unreachable, err := New(Config{APIKey: "sk_test_1", BaseURL: "http://127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	_, network := unreachable.GetProduct(context.Background(), "prod_1")

	for _, tc := range []struct {
		name string
		err  error
		want Class
		is   error
	}{
		{"nil", nil, ClassNone, nil},
		{"canceled", canceled, ClassRetryable, context.Canceled},
		{"deadline", deadline, ClassRetryable, context.DeadlineExceeded},
		{"connection refused", network, ClassRetryable, nil},
		{"foreign error", errors.New("something else"), ClassRetryable, nil},
		{"refused write", invalidParams("no key"), ClassTerminal, nil},
	} {
		if got := Classify(tc.err); got != tc.want {
			t.Errorf("%s: Classify = %q, want %q (%v)", tc.name, got, tc.want, tc.err)
		}
		if tc.is != nil && !errors.Is(tc.err, tc.is) {
			t.Errorf("%s: errors.Is(%v, %v) = false", tc.name, tc.err, tc.is)
		}
	}
	if len(f.seen()) != 0 {
		t.Errorf("requests with a dead context reached the server: %d", len(f.seen()))
	}
}

func TestHelpers(t *testing.T) {
	mk := func(status int, code string) error {
		e := &Error{HTTPStatus: status, Code: code}
		e.Class = classify(e)
		return fmt.Errorf("op: %w", e)
	}
	if !IsNotFound(mk(404, "resource_missing")) || IsNotFound(mk(400, "resource_missing")) {
		t.Error("IsNotFound")
	}
	if !IsAuth(mk(401, "")) || !IsAuth(mk(403, "")) || IsAuth(mk(403, "account_invalid")) {
		t.Error("IsAuth")
	}
	if !IsAccountInvalid(mk(403, "account_invalid")) || IsAccountInvalid(mk(403, "")) {
		t.Error("IsAccountInvalid")
	}
	if !IsRetryable(mk(0, "")) || !IsRetryable(mk(502, "")) || IsRetryable(mk(400, "")) {
		t.Error("IsRetryable")
	}
	if !IsTerminal(mk(422, "")) || IsTerminal(mk(429, "")) {
		t.Error("IsTerminal")
	}
}

// Pins: only Stripe's idempotency_error (the key was used with other parameters) is a mismatch; a key
// still in use by a concurrent request (409 idempotency_key_in_use) is not, and is Retryable.
func TestIsIdempotencyMismatch(t *testing.T) {
	for name, tc := range map[string]struct {
		rep       reply
		mismatch  bool
		wantClass Class
	}{
		"400 idempotency_error":      {stripeErr(400, "idempotency_error", "", "", "Keys for idempotent requests can only be used with the same parameters they were first used with."), true, ClassTerminal},
		"409 idempotency_key_in_use": {stripeErr(409, "invalid_request_error", "idempotency_key_in_use", "", "in progress"), false, ClassRetryable},
		"400 parameter_unknown":      {stripeErr(400, "invalid_request_error", "parameter_unknown", "colour", "Received unknown parameter: colour"), false, ClassTerminal},
	} {
		t.Run(name, func(t *testing.T) {
			f := newFakeStripe(t)
			f.handle("POST /v1/customers", func(seen, int) reply { return tc.rep })
			_, err := newTestClient(t, f, nil).CreateCustomer(context.Background(), CustomerCreateParams{IdempotencyKey: "k", Tags: testTags()})
			wrapped := fmt.Errorf("secondary customer: %w", err)
			if IsIdempotencyMismatch(wrapped) != tc.mismatch || Classify(wrapped) != tc.wantClass {
				t.Errorf("IsIdempotencyMismatch = %v, Classify = %q; want %v, %q (%v)", IsIdempotencyMismatch(wrapped), Classify(wrapped), tc.mismatch, tc.wantClass, err)
			}
		})
	}
	if IsIdempotencyMismatch(nil) || IsIdempotencyMismatch(errors.New("idempotency_error")) {
		t.Error("IsIdempotencyMismatch of nil or a foreign error")
	}
}

// Pins: the wrapper names the operation, its subject and the account once, so callers need not (and
// must not) repeat them.
func TestErrorNamesTheOperationOnce(t *testing.T) {
	f := newFakeStripe(t)
	f.handle("POST /v1/customers", func(seen, int) reply {
		return stripeErr(400, "invalid_request_error", "email_invalid", "email", "Invalid email address: x@y")
	})
	f.on("GET /v1/customers/cus_gone", map[string]any{"id": "cus_gone", "object": "customer", "deleted": true})
	f.handle("DELETE /v1/webhook_endpoints/we_1", func(seen, int) reply {
		return stripeErr(404, "invalid_request_error", "resource_missing", "id", "No such webhook endpoint: 'we_1'")
	})
	c := newTestClient(t, f, nil)
	ctx := context.Background()
	_, createErr := c.CreateCustomer(ctx, CustomerCreateParams{IdempotencyKey: "k", Tags: testTags(), Email: "x@y"})
	_, goneErr := c.GetCustomer(ctx, "cus_gone")
	deleteErr := c.DeleteWebhookEndpoint(ctx, "we_1")
	_, linkErr := c.ForAccount("acct_1").CreateAccountLink(ctx, AccountLinkCreateParams{IdempotencyKey: "k", Account: "acct_1"})
	for _, tc := range []struct {
		err  error
		want string
	}{
		{createErr, `create customer "x@y": stripe: 400 invalid_request_error email_invalid (param email): Invalid email address: x@y [request req_1]`},
		{goneErr, `get customer "cus_gone": stripe: resource_missing: the customer has been deleted [request req_2]`},
		{deleteErr, `delete webhook endpoint "we_1": stripe: 404 invalid_request_error resource_missing (param id): No such webhook endpoint: 'we_1' [request req_3]`},
		{linkErr, `create account link "acct_1" on acct_1: stripeapi: refused before sending: type "": want account_onboarding or account_update`},
	} {
		if tc.err == nil || tc.err.Error() != tc.want {
			t.Errorf("error\n got %v\nwant %s", tc.err, tc.want)
		}
	}
}
