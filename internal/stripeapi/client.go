package stripeapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/go-logr/logr"
	stripe "github.com/stripe/stripe-go/v76"
	"golang.org/x/time/rate"
)

// APIVersion is the Stripe API version every request is pinned to (stripe-go's). Webhook endpoints
// are created with it so that the events they deliver decode with the same SDK.
const APIVersion = stripe.APIVersion

// Default budgets, under Stripe's limits (100 requests/s live, 25 in test mode).
const (
	DefaultLiveRequestsPerSecond = 90
	DefaultTestRequestsPerSecond = 25
	// DefaultTimeout bounds one HTTP request, once it has its budget token, unless Config.Timeout
	// says otherwise.
	DefaultTimeout = 30 * time.Second
)

// Budget is a connection's request budget: a token bucket refilled at RequestsPerSecond and holding
// at most Burst tokens.
type Budget struct {
	// RequestsPerSecond; 0 means the default for the key's mode (90 live, 25 test).
	RequestsPerSecond float64
	// Burst; 0 means the rate rounded up (at least 1).
	Burst int
}

// Config configures a Client for one StripeConnection.
type Config struct {
	// Name labels the connection in metrics and logs (the StripeConnection's name). Optional.
	Name string
	// APIKey is the secret or restricted key, sk_ or rk_, test or live. Required.
	APIKey string
	// BaseURL replaces https://api.stripe.com (the emulator, a proxy). Optional.
	BaseURL string
	// Budget sizes the token bucket; zero fields take defaults from the key's mode.
	Budget Budget
	// HTTPClient sends the requests; it is copied and its Transport wrapped, never modified.
	// Optional. Leave its Timeout unset: it would also count the wait for the budget.
	HTTPClient *http.Client
	// Timeout bounds each HTTP request from the moment it has its budget token (the wait for the
	// token is bounded by the call's context only). 0 means DefaultTimeout; negative, none.
	Timeout time.Duration
	// Logger receives stripe-go's own log lines at V(1) (warnings, errors) and V(2) (requests).
	// stripe-go's debug lines, which dump response bodies (webhook secrets), are dropped.
	Logger logr.Logger
	// Metrics records calls; nil records nothing.
	Metrics *Metrics
}

// Client speaks to Stripe for one platform account. It is safe for concurrent use; share one per
// connection through a Pool so that every controller draws on the same budget.
type Client struct {
	*conn
	account string // Stripe-Account header; empty for the platform account itself
}

var _ Interface = (*Client)(nil)

// conn is what a Client and its ForAccount views share.
type conn struct {
	name      string
	key       string
	livemode  bool
	limiter   *rate.Limiter
	adapter   *rateAdapter
	transport *budgetTransport
	metrics   *Metrics
	log       logr.Logger
	backend   stripe.Backend
}

// New returns a Client for cfg.
func New(cfg Config) (*Client, error) {
	return newClient(cfg, nil)
}

// newClient builds a Client; adapter, when given, is reused (resized to cfg's budget) so that a
// connection keeps one bucket across key rotations.
func newClient(cfg Config, adapter *rateAdapter) (*Client, error) {
	key := strings.TrimSpace(cfg.APIKey)
	if key == "" {
		return nil, errors.New("stripeapi: API key is required")
	}
	live := IsLiveKey(key)
	limit, burst, err := budgetFor(cfg.Budget, live)
	if err != nil {
		return nil, err
	}
	if adapter == nil {
		adapter = newRateAdapter(limit, burst)
	} else {
		adapter.resize(limit, burst)
	}
	limiter := adapter.limiter

	base := stripe.APIURL
	if cfg.BaseURL != "" {
		u, err := url.Parse(cfg.BaseURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("stripeapi: base URL %q must be an absolute http(s) URL", cfg.BaseURL)
		}
		base = strings.TrimRight(cfg.BaseURL, "/")
	}

	hc := &http.Client{}
	if cfg.HTTPClient != nil {
		copied := *cfg.HTTPClient
		hc = &copied
	}
	rt := hc.Transport
	if rt == nil {
		rt = http.DefaultTransport
	}
	timeout := cfg.Timeout
	if timeout == 0 {
		timeout = DefaultTimeout
	}
	bt := &budgetTransport{base: rt, limiter: limiter, adapter: adapter, timeout: timeout, metrics: cfg.Metrics, connection: cfg.Name}
	hc.Transport = bt

	backend := stripe.GetBackendWithConfig(stripe.APIBackend, &stripe.BackendConfig{
		URL:               stripe.String(base),
		HTTPClient:        hc,
		MaxNetworkRetries: stripe.Int64(0), // the reconciler owns retries and backoff
		EnableTelemetry:   stripe.Bool(false),
		LeveledLogger:     leveledLogger{log: cfg.Logger},
	})
	return &Client{conn: &conn{
		name:      cfg.Name,
		key:       key,
		livemode:  live,
		limiter:   limiter,
		adapter:   adapter,
		transport: bt,
		metrics:   cfg.Metrics,
		log:       cfg.Logger,
		backend:   backend,
	}}, nil
}

func budgetFor(b Budget, live bool) (rate.Limit, int, error) {
	if b.RequestsPerSecond < 0 || b.Burst < 0 {
		return 0, 0, fmt.Errorf("stripeapi: budget must not be negative (got %v req/s, burst %d)", b.RequestsPerSecond, b.Burst)
	}
	rps := b.RequestsPerSecond
	if rps == 0 {
		rps = DefaultTestRequestsPerSecond
		if live {
			rps = DefaultLiveRequestsPerSecond
		}
	}
	burst := b.Burst
	if burst == 0 {
		burst = DefaultBurst(rps)
	}
	return rate.Limit(rps), burst, nil
}

// DefaultBurst is the burst of a budget that sets none: four fifths of a second's worth. Stripe's own
// bucket cannot bank the refill ours banks while requests are in flight, so a burst of a full second
// at a rate equal to Stripe's limit arrives a fraction of a token early and is answered 429 (measured
// with make bench-converge: 4 runs in 5 at 50 plans).
func DefaultBurst(requestsPerSecond float64) int {
	return max(1, int(requestsPerSecond*0.8))
}

// IsLiveKey reports whether an API key is a live-mode key (sk_live_, rk_live_). Anything else,
// the emulator's keys included, is test mode.
func IsLiveKey(key string) bool {
	return strings.HasPrefix(key, "sk_live_") || strings.HasPrefix(key, "rk_live_")
}

// ForAccount returns a view of c whose every call carries "Stripe-Account: accountID" (Connect):
// the call acts on that connected account. It shares c's budget. An empty accountID is the
// platform account.
func (c *Client) ForAccount(accountID string) Interface {
	return &Client{conn: c.conn, account: strings.TrimSpace(accountID)}
}

// AccountID returns the connected account this view acts on, or "" for the platform account.
func (c *Client) AccountID() string { return c.account }

// Livemode reports whether the client's key is a live-mode key.
func (c *Client) Livemode() bool { return c.livemode }

// params returns the stripe-go Params of one call.
func (c *Client) params(ctx context.Context, idempotencyKey string) stripe.Params {
	p := stripe.Params{Context: ctx}
	if c.account != "" {
		p.SetStripeAccount(c.account)
	}
	if idempotencyKey != "" {
		p.SetIdempotencyKey(idempotencyKey)
	}
	return p
}

// listParams returns the stripe-go ListParams of one list call; pageSize is capped at Stripe's 100.
func (c *Client) listParams(ctx context.Context, limit int) stripe.ListParams {
	page := int64(100)
	if limit > 0 && limit < 100 {
		page = int64(limit)
	}
	p := stripe.ListParams{Context: ctx, Limit: stripe.Int64(page)}
	if c.account != "" {
		p.SetStripeAccount(c.account)
	}
	return p
}

// call runs one call of the API: it gives fn a context the transport reports into, converts the
// error, records metrics and wraps the error with the operation ("create price \"monthly\": ...").
func (c *Client) call(ctx context.Context, resource, method, subject string, fn func(ctx context.Context) error) error {
	ctx, info := withCallInfo(ctx)
	start := time.Now()
	err := fn(ctx)
	var apiErr *Error
	class := ClassNone
	if err != nil {
		apiErr = toError(err, info)
		class = apiErr.Class
	}
	c.metrics.observeCall(c.name, resource, method, class, time.Since(start))
	if apiErr == nil {
		return nil
	}
	op := method + " " + strings.ReplaceAll(resource, "_", " ")
	if subject != "" {
		op += fmt.Sprintf(" %q", subject)
	}
	if c.account != "" {
		op += " on " + c.account
	}
	return fmt.Errorf("%s: %w", op, apiErr)
}

// requireWrite checks what every POST must carry before anything is sent.
func requireWrite(idempotencyKey string) error {
	if strings.TrimSpace(idempotencyKey) == "" {
		return invalidParams("an idempotency key is required (see IdempotencyKey)")
	}
	if len(idempotencyKey) > 255 {
		return invalidParams("idempotency key longer than 255 characters")
	}
	return nil
}

func unixTime(sec int64) time.Time {
	if sec == 0 {
		return time.Time{}
	}
	return time.Unix(sec, 0).UTC()
}

func strPtr(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func strSlice(in []string) []*string {
	if in == nil {
		return nil
	}
	out := make([]*string, len(in))
	for i := range in {
		out[i] = stripe.String(in[i])
	}
	return out
}

// createdFrom filters a list on created >= t (zero: no filter).
func createdFrom(t time.Time) *stripe.RangeQueryParams {
	if t.IsZero() {
		return nil
	}
	return &stripe.RangeQueryParams{GreaterThanOrEqual: t.Unix()}
}

// createdSince filters a lookup by tags on created >= t - FindClockSkew (zero: no filter).
func createdSince(t time.Time) *stripe.RangeQueryParams {
	if t.IsZero() {
		return nil
	}
	return createdFrom(t.Add(-FindClockSkew))
}

// collect drains a stripe-go list iterator into our own type, stopping after limit items (0: all)
// without fetching a page it does not need. keep, when not nil, filters.
func collect[S any, T any](it *stripe.Iter, limit int, conv func(S) T, keep func(T) bool) ([]T, error) {
	out := []T{}
	for (limit <= 0 || len(out) < limit) && it.Next() {
		s, ok := it.Current().(S)
		if !ok {
			return out, fmt.Errorf("stripeapi: unexpected list item %T", it.Current())
		}
		t := conv(s)
		if keep == nil || keep(t) {
			out = append(out, t)
		}
	}
	return out, sdkErr(it.Err())
}

// sdkErr marks an error as stripe-go's on its way to Client.call, which converts it into an *Error
// (stripe-go's *stripe.Error stays reachable through Unwrap).
func sdkErr(err error) error {
	if err == nil {
		return nil
	}
	return &sdkError{err: err}
}

type sdkError struct{ err error }

func (e *sdkError) Error() string { return e.err.Error() }

func (e *sdkError) Unwrap() error { return e.err }
