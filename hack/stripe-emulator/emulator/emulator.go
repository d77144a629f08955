package emulator

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	stripe "github.com/stripe/stripe-go/v76"
	"github.com/stripe/stripe-go/v76/client"
)

// Options configure an emulator. The zero value is a valid configuration:
// wall clock, no rate limit, no faults, spec check on, 1 s search lag.
type Options struct {
	// Clock is the time source for timestamps, key expiry and search lag
	// (nil: wall clock). The control API moves it by an offset.
	Clock Clock
	// PlatformAccount is the platform account's id (empty: a fresh acct_ id).
	PlatformAccount string
	// RateLimit is the global request rate (zero Rate: unlimited).
	// StripeTestModeLimits returns Stripe's test-mode figures.
	RateLimit RateLimit
	// EndpointLimits are extra per-endpoint limits.
	EndpointLimits []EndpointLimit
	// SearchLag is how long objects take to become searchable (0:
	// DefaultSearchLag; negative: immediately).
	SearchLag time.Duration
	// Faults are injected failures.
	Faults FaultConfig
	// DisableSpecCheck skips stripe-mock validation (faster; unsafe).
	DisableSpecCheck bool
	// Logger receives one line per API request (nil: none).
	Logger *slog.Logger
	// Platform describes the platform account (GET /v1/account).
	Platform PlatformProfile
	// Connect holds Connect rules that differ between test and live mode.
	Connect ConnectRules
	// Webhooks configure webhook delivery (retries, duplicates, reordering).
	Webhooks WebhookOptions
}

// Emulator is a Stripe API emulator. It is an http.Handler; create it with
// New, or with Start/Listen to also serve it.
type Emulator struct {
	clock     *offsetClock
	platform  string
	store     *Store
	router    Router
	resources map[string]*Resource
	bus       eventBus
	spec      *specBundle // nil when the spec check is off
	idem      *idempotencyStore
	limiter   *rateLimiter
	faults    *faultInjector
	stats     *statsCounter
	log       *slog.Logger

	mu            sync.Mutex // guards the configuration below
	lag           time.Duration
	rate          RateLimit
	endpointRates []EndpointLimit

	opts         Options        // as given to New, for resources' own settings
	platformAcct *platformState // account.go
	delivery     *deliverer     // delivery.go
}

// builtinResources lists the register functions of the built-in resources;
// a new resource adds its own here (see README.md, "Adding a resource").
func builtinResources() []func(*Emulator) {
	return []func(*Emulator){
		registerEvents,
		registerProducts,
		registerPrices,
		registerAccount,
		registerAccounts,
		registerAccountLinks,
		registerWebhookEndpoints,
		registerDelivery,
		registerCustomers,
		registerPaymentMethods,
		registerSubscriptions,
		registerInvoices,
		registerCharges,
		registerRefunds,
		registerBalance,
		registerPayouts,
	}
}

// New builds an emulator. It fails only if the embedded OpenAPI spec cannot
// be loaded.
func New(opts Options) (*Emulator, error) {
	base := opts.Clock
	if base == nil {
		base = wallClock{}
	}
	e := &Emulator{
		clock:     &offsetClock{base: base},
		platform:  opts.PlatformAccount,
		resources: map[string]*Resource{},
		idem:      newIdempotencyStore(),
		limiter:   newRateLimiter(opts.RateLimit, opts.EndpointLimits),
		faults:    newFaultInjector(opts.Faults),
		stats:     newStatsCounter(),
		log:       opts.Logger,
		opts:      opts,
	}
	if e.platform == "" {
		e.platform = NewID("acct")
	}
	if e.log == nil {
		e.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	e.lag = normalizeLag(opts.SearchLag)
	e.rate, e.endpointRates = opts.RateLimit, append([]EndpointLimit(nil), opts.EndpointLimits...)
	e.store = newStore(max(e.lag, time.Minute))
	if !opts.DisableSpecCheck {
		b, err := sharedSpec()
		if err != nil {
			return nil, err
		}
		e.spec = b
	}
	for _, reg := range builtinResources() {
		reg(e)
	}
	return e, nil
}

func normalizeLag(d time.Duration) time.Duration {
	switch {
	case d == 0:
		return DefaultSearchLag
	case d < 0:
		return 0
	}
	return d
}

// Handler returns the emulator as an http.Handler (it is one already; this
// reads better at call sites).
func (e *Emulator) Handler() http.Handler { return e }

// PlatformAccount returns the platform account's id.
func (e *Emulator) PlatformAccount() string { return e.platform }

// Router returns the router, for resources registering endpoints.
func (e *Emulator) Router() *Router { return &e.router }

// Store returns the object store, for tests and resources that need
// direct access (e.g. to seed a connected account).
func (e *Emulator) Store() *Store { return e.store }

// Now returns the emulator clock's time.
func (e *Emulator) Now() time.Time { return e.clock.Now() }

func (e *Emulator) searchLag() time.Duration {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.lag
}

// Server is an emulator served over HTTP on a loopback port.
type Server struct {
	*Emulator
	// URL is the base URL to point clients at (http://127.0.0.1:port).
	URL   string
	close func()
}

// Close stops serving.
func (s *Server) Close() { s.close() }

// Client returns a stripe-go client for the emulator using key (any
// sk_test_ key), with network retries off so tests see each response.
func (s *Server) Client(key string) *client.API {
	b := stripe.GetBackendWithConfig(stripe.APIBackend, &stripe.BackendConfig{
		URL:               stripe.String(s.URL),
		MaxNetworkRetries: stripe.Int64(0),
		LeveledLogger:     &stripe.LeveledLogger{Level: stripe.LevelNull},
	})
	c := &client.API{}
	c.Init(key, &stripe.Backends{API: b, Connect: b, Uploads: b})
	return c
}

// Start serves a new emulator on 127.0.0.1 for the duration of a test; it
// is closed by tb.Cleanup.
func Start(tb testing.TB, opts Options) *Server {
	tb.Helper()
	e, err := New(opts)
	if err != nil {
		tb.Fatalf("stripe emulator: %v", err)
	}
	ts := httptest.NewServer(e)
	s := &Server{Emulator: e, URL: ts.URL, close: func() { e.Close(); ts.Close() }}
	tb.Cleanup(s.Close)
	return s
}

// Listen serves a new emulator on addr until ctx is done or Close is
// called. It is what the standalone command runs.
func Listen(ctx context.Context, addr string, opts Options) (*Server, error) {
	e, err := New(opts)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	hs := &http.Server{Handler: e, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			e.log.Error("serve", "err", err)
		}
	}()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			e.Close() // webhook delivery
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = hs.Shutdown(sctx)
			<-done
		})
	}
	go func() {
		select {
		case <-ctx.Done():
			stop()
		case <-done:
		}
	}()
	return &Server{Emulator: e, URL: fmt.Sprintf("http://%s", ln.Addr()), close: stop}, nil
}
