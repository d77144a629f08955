package emulator

import (
	"bytes"
	"container/heap"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Webhook delivery. Every event is matched, inside the transaction that
// emits it, against the enabled webhook endpoints that should receive it:
//
//   - a platform event (no `account`) goes to the platform's endpoints
//     created without `connect`;
//   - an event of a connected account (`account` set) goes to that
//     account's own endpoints and to the platform's `connect: true`
//     endpoints ("Connect webhooks");
//   - the endpoint's enabled_events must list the type, or `*`.
//
// pending_webhooks is set to that count and drops by one per endpoint that
// answers 2xx. Once the transaction commits the deliveries are queued and
// sent by a small worker pool, off the request path: POST of the event JSON
// with Stripe-Signature `t=<unix>,v1=<hex HMAC-SHA256 of "t.payload" keyed
// with the endpoint secret>`. Anything but 2xx (redirects included) or a
// timeout is a failed attempt, retried on the Retry schedule; an endpoint
// deleted or disabled meanwhile gets no further attempts (Stripe's
// documented behaviour). Stripe does not guarantee order and may deliver an
// event more than once; DuplicateRate and ReorderRate reproduce both, from
// a seeded random source.

// WebhookOptions configure delivery.
type WebhookOptions struct {
	// Retry holds the delay before each retry of a failed delivery; its
	// length is the number of retries. nil: DefaultWebhookRetry(), Stripe's
	// live-mode behaviour (exponential backoff for up to three days). A
	// non-nil empty slice: no retries. Tests use milliseconds.
	Retry []time.Duration
	// Timeout bounds one attempt (0: 10 s; Stripe does not publish its own).
	Timeout time.Duration
	// Delay is added before the first attempt, plus a uniform random extra
	// of up to Jitter.
	Delay, Jitter time.Duration
	// DuplicateRate is the share of deliveries sent a second time (an
	// independent delivery; it does not count in pending_webhooks).
	DuplicateRate float64
	// ReorderRate is the share of deliveries held back by a random extra
	// of up to ReorderWindow, so that later events can overtake them.
	ReorderRate   float64
	ReorderWindow time.Duration
	// Seed seeds the random source of Jitter, DuplicateRate and
	// ReorderRate.
	Seed uint64
	// Workers is how many attempts may run at once (0: 4).
	Workers int
	// Disabled stops delivery: events still count pending_webhooks, but
	// nothing is sent (SetWebhookOptions with Disabled false does not send
	// what was skipped).
	Disabled bool
}

// DefaultWebhookRetry is Stripe's live-mode schedule as documented
// ("exponential backoff for up to three days"): the emulator's intervals
// start at one minute and double, twelve retries over about 2.8 days.
func DefaultWebhookRetry() []time.Duration {
	out := make([]time.Duration, 12)
	for i := range out {
		out[i] = time.Minute << i
	}
	return out
}

// Delivery statuses, as the Dashboard names them.
const (
	DeliveryPending   = "pending"
	DeliveryDelivered = "delivered"
	DeliveryFailed    = "failed"
)

// Delivery is one event sent to one endpoint.
type Delivery struct {
	ID        string `json:"id"`
	Endpoint  string `json:"endpoint"`
	URL       string `json:"url"`
	Account   string `json:"account"` // the account the endpoint belongs to
	Event     string `json:"event"`
	EventType string `json:"event_type"`
	// EventAccount is the event's `account` ("" for platform events).
	EventAccount string            `json:"event_account,omitempty"`
	Status       string            `json:"status"`
	Duplicate    bool              `json:"duplicate,omitempty"`
	Attempts     []DeliveryAttempt `json:"attempts"`
	NextAttempt  *time.Time        `json:"next_attempt,omitempty"`
	// Reason says why a delivery stopped without success.
	Reason string `json:"reason,omitempty"`
}

// DeliveryAttempt is one POST.
type DeliveryAttempt struct {
	At         time.Time     `json:"at"`
	StatusCode int           `json:"status_code,omitempty"`
	Error      string        `json:"error,omitempty"`
	Duration   time.Duration `json:"duration"`
}

type deliveryRecord struct {
	d        Delivery
	payload  []byte
	evScope  string // where the event is stored
	counts   bool   // counts in pending_webhooks
	retryIdx int
}

type deliveryJob struct {
	rec *deliveryRecord
	due time.Time
	seq uint64
}

type jobHeap []*deliveryJob

func (h jobHeap) Len() int { return len(h) }
func (h jobHeap) Less(i, j int) bool {
	if !h[i].due.Equal(h[j].due) {
		return h[i].due.Before(h[j].due)
	}
	return h[i].seq < h[j].seq
}
func (h jobHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *jobHeap) Push(x any)   { *h = append(*h, x.(*deliveryJob)) }
func (h *jobHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

type deliverer struct {
	e *Emulator

	mu       sync.Mutex
	opts     WebhookOptions
	rng      *rand.Rand
	jobs     jobHeap
	seq      uint64
	records  map[string]*deliveryRecord
	order    []*deliveryRecord
	inflight int
	started  bool
	closed   bool
	wake     chan struct{}
	ctx      context.Context
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	client   *http.Client
}

func newDeliverer(e *Emulator, opts WebhookOptions) *deliverer {
	d := &deliverer{e: e, records: map[string]*deliveryRecord{}, wake: make(chan struct{}, 1)}
	d.ctx, d.cancel = context.WithCancel(context.Background())
	d.client = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	d.configure(opts)
	return d
}

func (d *deliverer) configure(opts WebhookOptions) {
	d.mu.Lock()
	d.opts = opts
	d.rng = rand.New(rand.NewPCG(opts.Seed, opts.Seed^0x9e3779b97f4a7c15))
	d.mu.Unlock()
	d.signal()
}

func (d *deliverer) signal() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

func registerDelivery(e *Emulator) {
	e.delivery = newDeliverer(e, e.opts.Webhooks)
	e.AddEventListener(EventListener{InTx: e.delivery.inTx})
}

type deliveryTarget struct{ endpoint, account, url string }

// inTx counts the endpoints ev goes to, sets pending_webhooks and queues
// the deliveries for after commit.
func (d *deliverer) inTx(tx *Tx, ev Object) {
	platform := d.e.platform
	typ, acct := ev.Str("type"), ev.Str("account")
	var targets []deliveryTarget
	collect := func(scope string, connect bool) {
		tx.ScanIn(scope, "webhook_endpoint", func(we Object) bool {
			if we.Str("status") != "enabled" || !endpointWants(we, typ) {
				return true
			}
			sec, _ := tx.GetIn(scope, webhookSecretKind, we.ID())
			if sec.Bool("connect") == connect {
				targets = append(targets, deliveryTarget{we.ID(), scope, we.Str("url")})
			}
			return true
		})
	}
	evScope := platform
	if acct == "" {
		collect(platform, false)
	} else {
		evScope = acct
		collect(acct, false)
		collect(platform, true)
	}
	ev["pending_webhooks"] = int64(len(targets))
	if len(targets) == 0 {
		return
	}
	tx.AfterCommit(func() {
		payload, err := json.Marshal(ev)
		if err != nil {
			return
		}
		d.enqueue(ev.ID(), typ, acct, evScope, payload, targets)
	})
}

func endpointWants(we Object, typ string) bool {
	for _, t := range toSlice(we["enabled_events"]) {
		if t == "*" || t == typ {
			return true
		}
	}
	return false
}

func (d *deliverer) enqueue(evID, typ, evAccount, evScope string, payload []byte, targets []deliveryTarget) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed || d.opts.Disabled {
		return
	}
	now := time.Now()
	for _, t := range targets {
		copies := 1
		if d.opts.DuplicateRate > 0 && d.rng.Float64() < d.opts.DuplicateRate {
			copies = 2
		}
		for i := 0; i < copies; i++ {
			rec := &deliveryRecord{payload: payload, evScope: evScope, counts: i == 0, d: Delivery{
				ID: NewID("whd"), Endpoint: t.endpoint, URL: t.url, Account: t.account, Event: evID, EventType: typ,
				EventAccount: evAccount, Status: DeliveryPending, Duplicate: i > 0, Attempts: []DeliveryAttempt{},
			}}
			d.records[rec.d.ID] = rec
			d.order = append(d.order, rec)
			d.pushLocked(rec, now.Add(d.firstDelayLocked()))
		}
	}
	d.startLocked()
	d.signal()
}

func (d *deliverer) firstDelayLocked() time.Duration {
	delay := d.opts.Delay
	if d.opts.Jitter > 0 {
		delay += time.Duration(d.rng.Int64N(int64(d.opts.Jitter) + 1))
	}
	if d.opts.ReorderRate > 0 && d.opts.ReorderWindow > 0 && d.rng.Float64() < d.opts.ReorderRate {
		delay += time.Duration(d.rng.Int64N(int64(d.opts.ReorderWindow) + 1))
	}
	return delay
}

func (d *deliverer) pushLocked(rec *deliveryRecord, due time.Time) {
	d.seq++
	t := due
	rec.d.NextAttempt = &t
	heap.Push(&d.jobs, &deliveryJob{rec: rec, due: due, seq: d.seq})
}

func (d *deliverer) startLocked() {
	if d.started || d.closed {
		return
	}
	d.started = true
	d.wg.Add(1)
	go d.schedule()
}

// schedule hands due jobs to attempt goroutines, at most Workers at once.
func (d *deliverer) schedule() {
	defer d.wg.Done()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		d.mu.Lock()
		if d.closed {
			d.mu.Unlock()
			return
		}
		workers := d.opts.Workers
		if workers <= 0 {
			workers = 4
		}
		wait := time.Hour
		for d.jobs.Len() > 0 && d.inflight < workers {
			next := d.jobs[0]
			if until := time.Until(next.due); until > 0 {
				wait = until
				break
			}
			heap.Pop(&d.jobs)
			next.rec.d.NextAttempt = nil
			d.inflight++
			d.wg.Add(1)
			go d.attempt(next.rec)
		}
		d.mu.Unlock()
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
		timer.Reset(wait)
		select {
		case <-d.ctx.Done():
			return
		case <-d.wake:
		case <-timer.C:
		}
	}
}

// attempt sends one delivery and records the outcome.
func (d *deliverer) attempt(rec *deliveryRecord) {
	defer d.wg.Done()
	defer func() {
		d.mu.Lock()
		d.inflight--
		d.mu.Unlock()
		d.signal()
	}()
	secret, url, reason := d.endpointSecret(rec)
	d.mu.Lock()
	if reason != "" {
		rec.d.Status, rec.d.Reason = DeliveryFailed, reason
		d.mu.Unlock()
		return
	}
	rec.d.URL = url
	timeout := d.opts.Timeout
	d.mu.Unlock()
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	start := time.Now()
	code, err := d.post(rec, url, secret, timeout)
	att := DeliveryAttempt{At: start, StatusCode: code, Duration: time.Since(start)}
	if err != nil {
		att.Error = err.Error()
	}
	ok := err == nil && code >= 200 && code < 300
	d.mu.Lock()
	rec.d.Attempts = append(rec.d.Attempts, att)
	retry := d.opts.Retry
	if retry == nil {
		retry = DefaultWebhookRetry()
	}
	switch {
	case ok:
		rec.d.Status = DeliveryDelivered
	case d.closed:
		rec.d.Reason = "emulator closed"
	case rec.retryIdx < len(retry):
		d.pushLocked(rec, time.Now().Add(retry[rec.retryIdx]))
		rec.retryIdx++
	default:
		rec.d.Status, rec.d.Reason = DeliveryFailed, "retries exhausted"
	}
	d.mu.Unlock()
	if ok && rec.counts {
		d.decrementPending(rec)
	}
}

// endpointSecret reads the endpoint as it is now: deleted or disabled
// endpoints get no further attempts.
func (d *deliverer) endpointSecret(rec *deliveryRecord) (secret, url, reason string) {
	account, endpoint := rec.d.Account, rec.d.Endpoint // immutable after enqueue
	_ = d.e.store.Read(account, d.e.clock.Now(), func(tx *Tx) error {
		we, ok := tx.GetIn(account, "webhook_endpoint", endpoint)
		switch {
		case !ok:
			reason = "endpoint deleted"
		case we.Str("status") != "enabled":
			reason = "endpoint disabled"
		default:
			sec, _ := tx.GetIn(account, webhookSecretKind, endpoint)
			secret, url = sec.Str("secret"), we.Str("url")
		}
		return nil
	})
	return secret, url, reason
}

// SignWebhookPayload returns the Stripe-Signature header value for payload
// signed at t with secret: t=<unix>,v1=<hex HMAC-SHA256 of "t.payload">.
func SignWebhookPayload(payload []byte, secret string, t time.Time) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(ts + "."))
	mac.Write(payload)
	return "t=" + ts + ",v1=" + hex.EncodeToString(mac.Sum(nil))
}

func (d *deliverer) post(rec *deliveryRecord, url, secret string, timeout time.Duration) (int, error) {
	ctx, cancel := context.WithTimeout(d.ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(rec.payload))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	req.Header.Set("User-Agent", "Stripe/1.0 (+https://stripe.com/docs/webhooks)")
	req.Header.Set("Cache-Control", "no-cache")
	// Receivers check the timestamp against their own clock, so it is the
	// wall clock, not the emulator's (possibly frozen) clock.
	req.Header.Set("Stripe-Signature", SignWebhookPayload(rec.payload, secret, time.Now()))
	resp, err := d.client.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	_ = resp.Body.Close()
	return resp.StatusCode, nil
}

func (d *deliverer) decrementPending(rec *deliveryRecord) {
	_ = d.e.store.Write(rec.evScope, d.e.clock.Now(), func(tx *Tx) error {
		ev, ok := tx.GetIn(rec.evScope, "event", rec.d.Event)
		if !ok {
			return nil
		}
		if n := ev.Int("pending_webhooks"); n > 0 {
			ev["pending_webhooks"] = n - 1
			return tx.UpdateIn(rec.evScope, "event", ev)
		}
		return nil
	})
}

// close stops the scheduler and cancels attempts in flight; it waits for
// them to return.
func (d *deliverer) close() {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return
	}
	d.closed = true
	d.mu.Unlock()
	d.cancel()
	d.wg.Wait()
}

// reset forgets every delivery (Reset); attempts in flight finish into
// forgotten records.
func (d *deliverer) reset() {
	d.mu.Lock()
	d.jobs = nil
	d.records = map[string]*deliveryRecord{}
	d.order = nil
	d.mu.Unlock()
}
