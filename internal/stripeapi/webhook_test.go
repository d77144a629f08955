package stripeapi

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v76/webhook"
)

var webhookNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

const (
	secretOld = "whsec_old"
	secretNew = "whsec_new"
)

func eventPayload(id, apiVersion string) []byte {
	return fmt.Appendf(nil, `{"id":%q,"object":"event","type":"product.updated","account":"acct_tenant",`+
		`"livemode":false,"created":1772366400,"api_version":%q,"data":{"object":{"id":"prod_1",`+
		`"object":"product","metadata":{"cloudip_uid":"u-1","cloudip_kind":"StripeProduct"}}}}`, id, apiVersion)
}

// sign signs payload the way Stripe does, with stripe-go's test helper.
func sign(payload []byte, secret string, at time.Time) string {
	return webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{
		Payload: payload, Secret: secret, Timestamp: at,
	}).Header
}

func TestVerifyEvent(t *testing.T) {
	payload := eventPayload("evt_1", APIVersion)
	valid := sign(payload, secretNew, webhookNow)
	cases := []struct {
		name    string
		pins    string
		payload []byte
		header  string
		secrets []string
		want    error // nil: verified
		index   int
	}{
		{name: "valid", pins: "a payload signed now with the endpoint's secret verifies",
			payload: payload, header: valid, secrets: []string{secretNew}},
		{name: "tampered body", pins: "one changed byte of the body breaks the HMAC",
			payload: []byte(strings.Replace(string(payload), "prod_1", "prod_2", 1)), header: valid,
			secrets: []string{secretNew}, want: ErrNoValidSignature},
		{name: "tampered timestamp", pins: "the timestamp is signed: moving it breaks the HMAC",
			payload: payload, header: strings.Replace(valid, fmt.Sprint(webhookNow.Unix()), fmt.Sprint(webhookNow.Unix()+1), 1),
			secrets: []string{secretNew}, want: ErrNoValidSignature},
		{name: "stale", pins: "an authentic event signed 301 s ago is refused as too old",
			payload: payload, header: sign(payload, secretNew, webhookNow.Add(-301*time.Second)),
			secrets: []string{secretNew}, want: ErrTooOld},
		{name: "at the tolerance edge", pins: "exactly 300 s old is still inside the window",
			payload: payload, header: sign(payload, secretNew, webhookNow.Add(-300*time.Second)),
			secrets: []string{secretNew}},
		{name: "future", pins: "an authentic event signed 301 s ahead is refused (stripe-go would accept it)",
			payload: payload, header: sign(payload, secretNew, webhookNow.Add(301*time.Second)),
			secrets: []string{secretNew}, want: ErrFromFuture},
		{name: "slightly ahead", pins: "a clock a little ahead is tolerated",
			payload: payload, header: sign(payload, secretNew, webhookNow.Add(10*time.Second)),
			secrets: []string{secretNew}},
		{name: "future at the tolerance edge", pins: "exactly 300 s ahead is still inside the window (the bound is symmetric)",
			payload: payload, header: sign(payload, secretNew, webhookNow.Add(300*time.Second)),
			secrets: []string{secretNew}},
		{name: "rotation, old secret", pins: "during a rotation an event signed with the old secret verifies",
			payload: payload, header: sign(payload, secretOld, webhookNow),
			secrets: []string{secretNew, secretOld}, index: 1},
		{name: "rotation, new secret", pins: "during a rotation an event signed with the new secret verifies",
			payload: payload, header: valid, secrets: []string{secretOld, secretNew}, index: 1},
		{name: "rotation, both signatures", pins: "Stripe signs with both secrets during its own roll: either matches",
			payload: payload, header: valid + ",v1=" + strings.Split(sign(payload, secretOld, webhookNow), "v1=")[1],
			secrets: []string{secretOld}, index: 0},
		{name: "unknown secret", pins: "a signature by a secret the endpoint does not hold is refused",
			payload: payload, header: sign(payload, "whsec_other", webhookNow),
			secrets: []string{secretNew, secretOld}, want: ErrNoValidSignature},
		{name: "empty secret beside a real one", pins: "an empty slot in the secret list is skipped, the index is the real secret's",
			payload: payload, header: valid, secrets: []string{"", secretNew}, index: 1},
		{name: "empty-secret signature beside a real secret", pins: "a header signed with \"\" is refused even when the endpoint has a real secret",
			payload: payload, header: sign(payload, "", webhookNow), secrets: []string{"", secretNew}, want: ErrNoValidSignature},
		{name: "empty secret ignored", pins: "an empty secret never verifies (anyone can compute its HMAC)",
			payload: payload, header: sign(payload, "", webhookNow), secrets: []string{""}, want: ErrNoSecrets},
		{name: "no secrets", pins: "an endpoint without secrets refuses with its own reason",
			payload: payload, header: valid, want: ErrNoSecrets},
		{name: "missing header", pins: "no Stripe-Signature at all",
			payload: payload, header: "", secrets: []string{secretNew}, want: ErrNoSignature},
		{name: "no v1", pins: "a header with only the test-mode v0 scheme carries no usable signature",
			payload: payload, header: fmt.Sprintf("t=%d,v0=abcd", webhookNow.Unix()),
			secrets: []string{secretNew}, want: ErrNoSignature},
		{name: "v0 beside v1", pins: "the v0 test-mode signature Stripe adds is ignored",
			payload: payload, header: valid + ",v0=6ffbb59b2300aae63f272406069a9788598b792a944a07aba816edb039989a39",
			secrets: []string{secretNew}},
		{name: "only non-hex v1", pins: "a v1 that is not hex is ignored, so a header with nothing else carries no signature",
			payload: payload, header: fmt.Sprintf("t=%d,v1=not-hex", webhookNow.Unix()),
			secrets: []string{secretNew}, want: ErrNoSignature},
		{name: "non-hex v1 beside a valid one", pins: "an unreadable v1 (a future format) does not hide the valid signature beside it",
			payload: payload, header: valid + ",v1=zz", secrets: []string{secretNew}},
		{name: "spaces around elements", pins: "whitespace around the comma-separated elements is tolerated",
			payload: payload, header: " " + strings.ReplaceAll(valid, ",", " , ") + " ", secrets: []string{secretNew}},
		{name: "unknown scheme ignored", pins: "an element of a scheme this code does not know (v2=) is skipped",
			payload: payload, header: valid + ",v2=abcd", secrets: []string{secretNew}},
		{name: "malformed: empty element", pins: "an empty element (a trailing comma) is not key=value, so malformed",
			payload: payload, header: valid + ",", secrets: []string{secretNew}, want: ErrMalformedHeader},
		{name: "malformed: timestamp with fraction", pins: "t must be whole Unix seconds",
			payload: payload, header: strings.Replace(valid, fmt.Sprint(webhookNow.Unix()), fmt.Sprint(webhookNow.Unix())+".5", 1),
			secrets: []string{secretNew}, want: ErrMalformedHeader},
		{name: "malformed: timestamp out of int64", pins: "a t that overflows int64 is malformed, not wrapped",
			payload: payload, header: "t=99999999999999999999," + strings.Split(valid, ",")[1],
			secrets: []string{secretNew}, want: ErrMalformedHeader},
		{name: "malformed: no timestamp", pins: "v1 without t is malformed",
			payload: payload, header: "v1=" + strings.Split(valid, "v1=")[1],
			secrets: []string{secretNew}, want: ErrMalformedHeader},
		{name: "malformed: bad timestamp", pins: "a non-numeric t is malformed",
			payload: payload, header: "t=yesterday,v1=00", secrets: []string{secretNew}, want: ErrMalformedHeader},
		{name: "malformed: garbage", pins: "a header that is not key=value pairs is malformed",
			payload: payload, header: "garbage", secrets: []string{secretNew}, want: ErrMalformedHeader},
		{name: "malformed: two timestamps", pins: "an ambiguous timestamp is malformed",
			payload: payload, header: valid + ",t=1", secrets: []string{secretNew}, want: ErrMalformedHeader},
		{name: "signed non-event", pins: "an authentic body that is not an event is refused, not stored",
			payload: []byte(`{"hello":"world"}`), header: sign([]byte(`{"hello":"world"}`), secretNew, webhookNow),
			secrets: []string{secretNew}, want: ErrMalformedEvent},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ev, err := VerifyEvent(tc.payload, tc.header, tc.secrets, 300*time.Second, webhookNow)
			if tc.want != nil {
				if !errors.Is(err, tc.want) {
					t.Fatalf("%s: err = %v, want %v", tc.pins, err, tc.want)
				}
				if ev != nil {
					t.Fatalf("%s: refused event returned %+v", tc.pins, ev)
				}
				if RefusalReason(err) == "" {
					t.Fatalf("%s: %v has no refusal reason", tc.pins, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("%s: %v", tc.pins, err)
			}
			if ev.ID != "evt_1" || ev.SecretIndex != tc.index {
				t.Fatalf("%s: got id %q secret %d, want evt_1 secret %d", tc.pins, ev.ID, ev.SecretIndex, tc.index)
			}
		})
	}
}

// TestVerifyEventFields pins what the relay reads from an event: routing keys, mode, and the API
// version recorded as a flag rather than a refusal.
func TestVerifyEventFields(t *testing.T) {
	cases := []struct {
		name     string
		version  string
		mismatch bool
	}{
		{name: "pinned version", version: APIVersion},
		{name: "other version is kept, flagged", version: "2020-08-27", mismatch: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			payload := eventPayload("evt_f", tc.version)
			ev, err := VerifyEvent(payload, sign(payload, secretNew, webhookNow), []string{secretNew}, 0, webhookNow)
			if err != nil {
				t.Fatal(err)
			}
			if ev.APIVersion != tc.version || ev.APIVersionMismatch != tc.mismatch {
				t.Fatalf("api version %q mismatch %v, want %q %v", ev.APIVersion, ev.APIVersionMismatch, tc.version, tc.mismatch)
			}
			want := Event{ID: "evt_f", Type: "product.updated", Account: "acct_tenant", Livemode: false,
				Created: time.Unix(1772366400, 0).UTC(), ObjectID: "prod_1", ObjectType: "product",
				SignedAt: webhookNow}
			if ev.ID != want.ID || ev.Type != want.Type || ev.Account != want.Account || ev.Livemode != want.Livemode ||
				!ev.Created.Equal(want.Created) || ev.ObjectID != want.ObjectID || ev.ObjectType != want.ObjectType ||
				!ev.SignedAt.Equal(want.SignedAt) || ev.ObjectMetadata["cloudip_uid"] != "u-1" || string(ev.Raw) != string(payload) {
				t.Fatalf("event %+v, want %+v with metadata cloudip_uid=u-1 and the raw payload", ev, want)
			}
		})
	}
}

// TestVerifyEventLenientObject pins that an authentic event whose data.object has unexpected shapes is
// kept (routing keys left empty): refusing it would lose it after Stripe's retries.
func TestVerifyEventLenientObject(t *testing.T) {
	for _, body := range []string{
		`{"id":"evt_l","type":"x.y","data":{"object":{"id":42,"metadata":["a"]}}}`,
		`{"id":"evt_l","type":"x.y","data":{"object":"acct_1"}}`,
		`{"id":"evt_l","type":"x.y"}`,
	} {
		ev, err := VerifyEvent([]byte(body), sign([]byte(body), secretNew, webhookNow), []string{secretNew}, 0, webhookNow)
		if err != nil {
			t.Fatalf("%s: %v", body, err)
		}
		if ev.ObjectID != "" || ev.ObjectMetadata != nil || ev.Account != "" {
			t.Fatalf("%s: routing keys %+v, want empty", body, ev)
		}
	}
}

func TestRefusalReasonsDistinct(t *testing.T) {
	seen := map[string]bool{}
	for _, r := range RefusalReasons() {
		if seen[r] {
			t.Fatalf("reason %q twice", r)
		}
		seen[r] = true
	}
	if RefusalReason(errors.New("other")) != "" {
		t.Fatal("an unrelated error has a refusal reason")
	}
}

// FuzzVerifyEvent feeds arbitrary headers and bodies: VerifyEvent must never panic, and must never
// verify what the secret did not sign.
func FuzzVerifyEvent(f *testing.F) {
	payload := eventPayload("evt_fuzz", APIVersion)
	f.Add(sign(payload, secretNew, webhookNow), payload)
	f.Add("t=1,v1=zz,v1=", []byte(`{}`))
	f.Add("t=,v1", []byte(`null`))
	f.Add("t=-9223372036854775808,v1=00", []byte(`{"id":"e","type":"t","data":{"object":[]}}`))
	f.Add(",,,=", []byte{0xff, 0x00})
	f.Fuzz(func(t *testing.T, header string, body []byte) {
		ev, err := VerifyEvent(body, header, []string{secretNew}, 0, webhookNow)
		if err != nil {
			if RefusalReason(err) == "" {
				t.Fatalf("error without a reason: %v", err)
			}
			return
		}
		// Verified: the header must really carry the HMAC of the body under the secret.
		if !strings.Contains(header, "v1=") || ev.ID == "" {
			t.Fatalf("verified %q with header %q", body, header)
		}
	})
}

// FuzzVerifyEventSignedBody signs arbitrary bodies correctly, so the JSON decoding behind the
// signature check is reached on every input.
func FuzzVerifyEventSignedBody(f *testing.F) {
	f.Add(eventPayload("evt_fuzz", APIVersion))
	f.Add([]byte(`{"id":"e","type":"t","created":1e99}`))
	f.Add([]byte(`{"id":"e","type":"t","data":{"object":{"metadata":{"a":1}}}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		ev, err := VerifyEvent(body, sign(body, secretNew, webhookNow), []string{secretNew}, 0, webhookNow)
		if err != nil {
			if !errors.Is(err, ErrMalformedEvent) {
				t.Fatalf("correctly signed body refused for %v", err)
			}
			return
		}
		if ev.ID == "" || ev.Type == "" {
			t.Fatalf("event without id or type: %+v", ev)
		}
	})
}

// TestSignTestPayload pins that the exported signer produces what VerifyEvent accepts.
func TestSignTestPayload(t *testing.T) {
	payload := eventPayload("evt_s", APIVersion)
	if _, err := VerifyEvent(payload, SignTestPayload(payload, secretNew, webhookNow), []string{secretNew}, 0, webhookNow); err != nil {
		t.Fatal(err)
	}
}
