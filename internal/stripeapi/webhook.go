package stripeapi

import (
	"crypto/hmac"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/stripe/stripe-go/v76/webhook"
)

// DefaultWebhookTolerance is how far a Stripe-Signature timestamp may be from now, either way, when
// VerifyEvent is given no tolerance: Stripe's own default (5 minutes).
const DefaultWebhookTolerance = webhook.DefaultTolerance

// Why VerifyEvent parses the Stripe-Signature header itself and uses stripe-go only for the HMAC
// (webhook.ComputeSignature): stripe-go's ValidatePayloadWithTolerance and ConstructEventWithOptions
// check the timestamp with time.Since, so the clock cannot be injected (tests of "stale" and "from the
// future" would have to sleep or sign in the past), they never refuse a timestamp from the future, and
// they take one secret, so rotation would re-parse the header once per secret. ConstructEvent also
// decodes the whole payload into stripe.Event (every object type's struct) and fails on an API-version
// mismatch, where the relay wants to record the mismatch and keep the event.

// Refusal reasons. Every error VerifyEvent returns wraps exactly one of them (errors.Is), so that the
// relay counts refusals by reason (see RefusalReason).
var (
	// ErrNoSignature: the Stripe-Signature header is missing, or carries no v1 signature.
	ErrNoSignature = errors.New("no Stripe-Signature v1 signature")
	// ErrMalformedHeader: the header does not parse as t=<unix>,v1=<hex>[,...].
	ErrMalformedHeader = errors.New("malformed Stripe-Signature header")
	// ErrNoSecrets: the endpoint has no active signing secret, so nothing can be verified (e.g. an
	// adopted endpoint whose secret was never published).
	ErrNoSecrets = errors.New("no active webhook signing secret")
	// ErrNoValidSignature: no v1 signature matches any active secret: the body or timestamp was
	// tampered with, or it was signed with a secret the endpoint does not (or no longer) hold.
	ErrNoValidSignature = errors.New("no valid webhook signature")
	// ErrTooOld: authentic, but signed longer ago than the tolerance (a replay, or a clock far behind).
	ErrTooOld = errors.New("webhook timestamp older than tolerance")
	// ErrFromFuture: authentic, but signed further in the future than the tolerance (a clock skew).
	ErrFromFuture = errors.New("webhook timestamp in the future beyond tolerance")
	// ErrMalformedEvent: the signed payload is not a Stripe event (not JSON, or no id or type).
	ErrMalformedEvent = errors.New("signed payload is not a Stripe event")
)

var refusalReasons = []struct {
	err    error
	reason string
}{
	{ErrNoSignature, "no_signature"},
	{ErrMalformedHeader, "malformed_header"},
	{ErrNoSecrets, "no_secrets"},
	{ErrNoValidSignature, "no_valid_signature"},
	{ErrTooOld, "too_old"},
	{ErrFromFuture, "from_future"},
	{ErrMalformedEvent, "malformed_event"},
}

// RefusalReason returns a short, fixed label for a VerifyEvent error (a Prometheus label value:
// bounded cardinality), or "" for an error that is not one of the refusals above.
func RefusalReason(err error) string {
	for _, r := range refusalReasons {
		if errors.Is(err, r.err) {
			return r.reason
		}
	}
	return ""
}

// RefusalReasons lists every label RefusalReason can return, so that a counter can be initialised for
// each (a refusal that never happened reads 0, not absent).
func RefusalReasons() []string {
	out := make([]string, 0, len(refusalReasons))
	for _, r := range refusalReasons {
		out = append(out, r.reason)
	}
	return out
}

// Event is a verified Stripe event, with what the relay needs to store, dedupe and route it.
type Event struct {
	// ID is the event id (evt_...), the key events are deduplicated by.
	ID   string
	Type string
	// Account is the connected account the event happened on; "" for the platform's own events.
	Account  string
	Livemode bool
	Created  time.Time
	// APIVersion is the version the event's object is rendered in; APIVersionMismatch says it is not
	// APIVersion (this SDK's). The event is kept either way: refusing it would make Stripe retry an
	// event that can never verify differently, and lose it after three days.
	APIVersion         string
	APIVersionMismatch bool
	// ObjectID, ObjectType and ObjectMetadata are data.object's id, object and metadata: enough to find
	// the owning resource (metadata tags) without decoding the object.
	ObjectID       string
	ObjectType     string
	ObjectMetadata map[string]string
	// ObjectCustomer is data.object.customer when it is an id (an invoice's, a subscription's): how an
	// event about an object without the operator's tags still finds its owner.
	ObjectCustomer string
	// RequestID and IdempotencyKey are the API request that caused the event ("" for events Stripe
	// causes itself, and for a request sent without a key, such as a Dashboard edit).
	RequestID      string
	IdempotencyKey string
	// SignedAt is the Stripe-Signature timestamp.
	SignedAt time.Time
	// SecretIndex is the index, in the secrets given to VerifyEvent, of the secret that verified the
	// event: during a rotation it tells whether the old secret is still in use.
	SecretIndex int
	// Raw is the payload exactly as signed (not copied: it aliases VerifyEvent's payload).
	Raw []byte
}

// wireEvent is the part of Stripe's event JSON the relay reads. data.object stays raw here: its fields
// are read leniently (readObject), since an authentic event must never be refused for the shape of an
// object this code does not need to understand.
type wireEvent struct {
	ID         string `json:"id"`
	Type       string `json:"type"`
	Account    string `json:"account"`
	Livemode   bool   `json:"livemode"`
	Created    int64  `json:"created"`
	APIVersion string `json:"api_version"`
	Data       struct {
		Object json.RawMessage `json:"object"`
	} `json:"data"`
	// Request is an object since API version 2017-05-25; older events have a string here, which
	// readRequest ignores.
	Request json.RawMessage `json:"request"`
}

// VerifyEvent checks payload against the Stripe-Signature header with any of secrets (several are
// active while an endpoint's secret is rolled) and returns the event it carries. tolerance bounds how
// far the signed timestamp may be from now, in the past or the future (0 means
// DefaultWebhookTolerance); now is injected so that the window is testable.
//
// The signature is checked before the timestamp: the timestamp is part of what is signed, so only an
// authentic timestamp is judged, and ErrTooOld/ErrFromFuture always mean "Stripe sent it, but not
// now" rather than whatever an unauthenticated sender put in the header.
func VerifyEvent(payload []byte, header string, secrets []string, tolerance time.Duration, now time.Time) (*Event, error) {
	if tolerance <= 0 {
		tolerance = DefaultWebhookTolerance
	}
	signedAt, sigs, err := parseSignatureHeader(header)
	if err != nil {
		return nil, err
	}
	index, err := matchSecret(payload, signedAt, sigs, secrets)
	if err != nil {
		return nil, err
	}
	// In whole seconds, as signed, and without subtracting the timestamp: an authentic t may be
	// anything an int64 holds, and a time.Duration between it and now would overflow.
	nowSec, tol := now.Unix(), int64(tolerance/time.Second)
	if signedAt < nowSec-tol {
		return nil, fmt.Errorf("%w: signed at t=%d, more than %s before now (t=%d)", ErrTooOld, signedAt, tolerance, nowSec)
	}
	if signedAt > nowSec+tol {
		return nil, fmt.Errorf("%w: signed at t=%d, more than %s after now (t=%d)", ErrFromFuture, signedAt, tolerance, nowSec)
	}

	ev, err := DecodeEvent(payload)
	if err != nil {
		return nil, err
	}
	ev.SignedAt, ev.SecretIndex = time.Unix(signedAt, 0).UTC(), index
	return ev, nil
}

// DecodeEvent reads a Stripe event's JSON without verifying anything: for events that are already
// trusted (stored after VerifyEvent, or listed from /v1/events with the connection's key). It fails,
// wrapping ErrMalformedEvent, for JSON that is not an event (no id or type).
func DecodeEvent(payload []byte) (*Event, error) {
	var w wireEvent
	if err := json.Unmarshal(payload, &w); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformedEvent, err)
	}
	if w.ID == "" || w.Type == "" {
		return nil, fmt.Errorf("%w: missing id or type", ErrMalformedEvent)
	}
	ev := &Event{
		ID:                 w.ID,
		Type:               w.Type,
		Account:            w.Account,
		Livemode:           w.Livemode,
		Created:            time.Unix(w.Created, 0).UTC(),
		APIVersion:         w.APIVersion,
		APIVersionMismatch: w.APIVersion != APIVersion,
		SecretIndex:        -1,
		Raw:                payload,
	}
	ev.ObjectID, ev.ObjectType, ev.ObjectMetadata, ev.ObjectCustomer = readObject(w.Data.Object)
	ev.RequestID, ev.IdempotencyKey = readRequest(w.Request)
	return ev, nil
}

// CausedByOperator says the event is the echo of one of the operator's own writes: the request that
// caused it carried an idempotency key of IdempotencyKey's form. Such an event tells the operator
// nothing it does not know, so it starts no reconcile.
func (e *Event) CausedByOperator() bool {
	return strings.HasPrefix(e.IdempotencyKey, idempotencyKeyPrefix)
}

// parseSignatureHeader reads t=<unix seconds> and every v1=<hex> of a Stripe-Signature header. Other
// schemes (v0, Stripe's test-mode signature) are ignored, as are v1 values that are not hex (as
// stripe-go does: a future format must not make the valid signature beside it unreadable).
func parseSignatureHeader(header string) (int64, [][]byte, error) {
	if header == "" {
		return 0, nil, ErrNoSignature
	}
	var (
		ts    int64
		haveT bool
		sigs  [][]byte
	)
	for pair := range strings.SplitSeq(header, ",") {
		key, value, ok := strings.Cut(strings.TrimSpace(pair), "=")
		if !ok {
			return 0, nil, fmt.Errorf("%w: element %q is not key=value", ErrMalformedHeader, clipHeader(pair))
		}
		switch key {
		case "t":
			if haveT {
				return 0, nil, fmt.Errorf("%w: more than one timestamp", ErrMalformedHeader)
			}
			sec, err := strconv.ParseInt(value, 10, 64)
			if err != nil {
				return 0, nil, fmt.Errorf("%w: timestamp %q", ErrMalformedHeader, clipHeader(value))
			}
			ts, haveT = sec, true
		case "v1":
			if sig, err := hex.DecodeString(value); err == nil {
				sigs = append(sigs, sig)
			}
		}
	}
	if !haveT {
		return 0, nil, fmt.Errorf("%w: no timestamp", ErrMalformedHeader)
	}
	if len(sigs) == 0 {
		return 0, nil, ErrNoSignature
	}
	return ts, sigs, nil
}

// matchSecret returns the index of the first secret whose HMAC matches one of sigs. The HMAC is
// stripe-go's (webhook.ComputeSignature over "<t>.<payload>"), computed once per secret; comparisons
// are constant-time. Empty secrets are skipped: an HMAC keyed with "" is one anybody can compute.
func matchSecret(payload []byte, signedAt int64, sigs [][]byte, secrets []string) (int, error) {
	tried := 0
	for i, secret := range secrets {
		if secret == "" {
			continue
		}
		tried++
		// time.Unix(t, 0).Unix() is t for every int64 (the offset it adds wraps back), so the HMAC
		// is over the t that was sent.
		expected := webhook.ComputeSignature(time.Unix(signedAt, 0), payload, secret)
		for _, sig := range sigs {
			if hmac.Equal(expected, sig) {
				return i, nil
			}
		}
	}
	if tried == 0 {
		return -1, ErrNoSecrets
	}
	return -1, fmt.Errorf("%w: %d signature(s) checked against %d secret(s)", ErrNoValidSignature, len(sigs), tried)
}

// readObject reads data.object's id, object, metadata and customer id, each only if it has the
// expected type (an expanded customer is an object, and is then left out).
func readObject(raw json.RawMessage) (id, typ string, metadata map[string]string, customer string) {
	var fields struct {
		ID       json.RawMessage `json:"id"`
		Object   json.RawMessage `json:"object"`
		Metadata json.RawMessage `json:"metadata"`
		Customer json.RawMessage `json:"customer"`
	}
	if len(raw) == 0 || json.Unmarshal(raw, &fields) != nil {
		return "", "", nil, ""
	}
	_ = json.Unmarshal(fields.ID, &id)
	_ = json.Unmarshal(fields.Object, &typ)
	_ = json.Unmarshal(fields.Customer, &customer)
	if json.Unmarshal(fields.Metadata, &metadata) != nil {
		metadata = nil
	}
	return id, typ, metadata, customer
}

// readRequest reads request.id and request.idempotency_key (either may be null).
func readRequest(raw json.RawMessage) (id, idempotencyKey string) {
	var request struct {
		ID             *string `json:"id"`
		IdempotencyKey *string `json:"idempotency_key"`
	}
	if len(raw) == 0 || json.Unmarshal(raw, &request) != nil {
		return "", ""
	}
	if request.ID != nil {
		id = *request.ID
	}
	if request.IdempotencyKey != nil {
		idempotencyKey = *request.IdempotencyKey
	}
	return id, idempotencyKey
}

// clipHeader shortens what an error quotes from an unauthenticated header.
func clipHeader(s string) string {
	const limit = 32
	if len(s) > limit {
		return s[:limit] + "…"
	}
	return s
}

// SignTestPayload returns the Stripe-Signature header Stripe would send for payload signed with secret
// at t (stripe-go's webhook.GenerateTestSignedPayload). For tests and benchmarks outside this package,
// which may not import stripe-go.
func SignTestPayload(payload []byte, secret string, t time.Time) string {
	return webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: payload, Secret: secret, Timestamp: t}).Header
}
