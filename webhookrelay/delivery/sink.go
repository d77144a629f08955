// Package delivery sends the relay's stored events to the platform's sinks (StripeEventSinks): from
// each sink's outbox rows, committed with the event, so nothing stored is left undelivered; signed
// with the Standard Webhooks scheme so a sink verifies with an existing library; at least once, with
// per-sink concurrency and rate limit, exponential backoff with jitter per delivery, a retry horizon
// and then a dead letter; a sink that keeps failing is paused as a whole and probed with one delivery
// at a time, not hammered event by event.
package delivery

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/cloudip/stripe-operator/api/v1alpha1"
	"github.com/cloudip/stripe-operator/webhookrelay/store"
)

// Sink is one destination as the deliverer sees it.
type Sink struct {
	// Key is namespace/name: the outbox destination.
	Key string
	// Connection is the StripeConnection whose events the sink may get.
	Connection string
	// Region is the sink's data-residency region: it gets only events of that region.
	Region string
	// EventTypes filter (exact, "prefix.*", "*"); empty is every event.
	EventTypes []string
	// Format is "events" (the Stripe event as stored) or another the Deliverer has a Format for
	// ("ledger"), whose FormatAccepts says which event types it turns into something.
	Format        string
	FormatAccepts func(eventType string) bool
	URL           string
	// Secrets sign every delivery (one signature each, for rotation); SecretError says why there is
	// none usable (the sink waits, nothing is attempted).
	Secrets     []string
	SecretError string
	// MaxInFlight, RequestsPerSecond, RetryHorizon and Timeout (defaults applied by the source).
	MaxInFlight       int
	RequestsPerSecond float64
	RetryHorizon      time.Duration
	Timeout           time.Duration
}

// Defaults of a sink's delivery settings: the CRD's (a sink built in code, as the benchmark's, gets
// the same).
const (
	DefaultMaxInFlight       = int(v1alpha1.DefaultSinkMaxInFlight)
	DefaultRequestsPerSecond = float64(v1alpha1.DefaultSinkRequestsPerSecond)
	DefaultRetryHorizon      = v1alpha1.DefaultSinkRetryHorizon
	DefaultTimeout           = v1alpha1.DefaultSinkTimeout
)

// WithDefaults fills unset settings.
func (s Sink) WithDefaults() Sink {
	if s.MaxInFlight <= 0 {
		s.MaxInFlight = DefaultMaxInFlight
	}
	if s.RequestsPerSecond <= 0 {
		s.RequestsPerSecond = DefaultRequestsPerSecond
	}
	if s.RetryHorizon <= 0 {
		s.RetryHorizon = DefaultRetryHorizon
	}
	if s.Timeout <= 0 {
		s.Timeout = DefaultTimeout
	}
	return s
}

// burst is how many deliveries the sink's rate allows at once: a tenth of a second's worth, at
// least one.
func (s Sink) burst() int { return max(1, int(s.RequestsPerSecond)/10) }

// SinkSource lists the sinks (the relay's cache; a fixed list in tests and the benchmark).
type SinkSource interface {
	Sinks(ctx context.Context) ([]Sink, error)
}

// StaticSinks is a fixed SinkSource.
type StaticSinks []Sink

// Sinks implements SinkSource.
func (s StaticSinks) Sinks(context.Context) ([]Sink, error) { return s, nil }

// Accepts says the sink's type filter lets typ through.
func (s Sink) Accepts(typ string) bool {
	if len(s.EventTypes) == 0 {
		return true
	}
	for _, pattern := range s.EventTypes {
		if pattern == "*" || pattern == typ {
			return true
		}
		if prefix, ok := strings.CutSuffix(pattern, ".*"); ok && strings.HasPrefix(typ, prefix+".") {
			return true
		}
	}
	return false
}

// Route returns the destinations of an event of connection, of the given type, in region ("" when
// the region cannot be decided: the event is held, sent nowhere, until it can). Only sinks of the
// event's connection and region whose filter accepts the type get it; a sink of another format than
// events only if its format turns that type into something (FormatAccepts).
func Route(sinks []Sink, connection, region, typ string) []string {
	var out []string
	for _, s := range sinks {
		if s.Connection != connection || !s.Accepts(typ) {
			continue
		}
		if s.Format != FormatEvents && (s.FormatAccepts == nil || !s.FormatAccepts(typ)) {
			continue
		}
		if region == "" {
			return []string{heldDestination}
		}
		if s.Region == region {
			out = append(out, s.Key)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// FormatEvents is the format that sends the Stripe event as it was stored.
const FormatEvents = "events"

// Payload is one POST of a delivery: its webhook-id (stable: the sink dedupes by it) and body.
type Payload struct {
	ID   string
	Body []byte
}

// Format turns a stored event into what a sink of that format receives: none, one or several
// payloads (a payout's deposit batch, a refund record per refund). An error wrapping ErrHold holds the
// delivery (a ledger batch that does not balance): it is retried on the retry schedule, counted and
// reported, never sent as if it were right.
type Format interface {
	Payloads(ctx context.Context, sink Sink, row store.Delivery) ([]Payload, error)
}

// ErrHold marks a delivery that must not be sent as it is.
var ErrHold = errors.New("delivery held")

// eventsFormat is FormatEvents: the event itself, under its id.
type eventsFormat struct{}

func (eventsFormat) Payloads(_ context.Context, _ Sink, row store.Delivery) ([]Payload, error) {
	return []Payload{{ID: row.EventID, Body: row.Payload}}, nil
}

// Headers of a delivery besides the Standard Webhooks ones.
const (
	// HeaderSequence is the delivery's number among the sink's, increasing in the order the relay
	// stored the events, to order by: 1, 2, … on SQLite; on PostgreSQL, with gaps (the storing
	// transaction's id), so a gap does not mean a missing delivery.
	HeaderSequence = "X-CloudIP-Sequence"
	// HeaderEventType is the Stripe event's type.
	HeaderEventType = "X-CloudIP-Event-Type"
)

// sign returns the webhook-signature header: one "v1,<base64>" per secret, space-separated, as
// Standard Webhooks verifiers expect during a rotation.
func sign(secrets []string, id string, at time.Time, payload []byte) (string, error) {
	sigs := make([]string, 0, len(secrets))
	for _, secret := range secrets {
		wh, err := standardwebhooks.NewWebhook(secret)
		if err != nil {
			return "", fmt.Errorf("signing secret: %w", err)
		}
		sig, err := wh.Sign(id, at, payload)
		if err != nil {
			return "", fmt.Errorf("sign delivery %s: %w", id, err)
		}
		sigs = append(sigs, sig)
	}
	return strings.Join(sigs, " "), nil
}

// ValidSecret says a secret is one Standard Webhooks libraries accept (whsec_ and base64).
func ValidSecret(secret string) error {
	if _, err := standardwebhooks.NewWebhook(secret); err != nil {
		return fmt.Errorf("not a Standard Webhooks secret (whsec_ followed by base64): %w", err)
	}
	return nil
}
