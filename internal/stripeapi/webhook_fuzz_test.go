package stripeapi

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"maps"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The fuzz targets here check VerifyEvent against a reference model written from Stripe's scheme
// (https://docs.stripe.com/webhooks#verify-manually), not from the code: the HMAC is computed with
// crypto/hmac directly (not stripe-go's ComputeSignature) and the tolerance is checked in whole
// seconds, without time.Time arithmetic. Run with e.g.
//
//	go test -run XXX -fuzz FuzzVerifyEventHeader -fuzztime 30s ./internal/stripeapi/
//
// In a normal `go test` only the seeds run.

const fuzzTolerance = 300 * time.Second

// fuzzSecrets are the endpoint's secrets in the fuzz targets: an empty slot (never verifies), the new
// and the old secret of a rotation.
var fuzzSecrets = []string{"", secretNew, secretOld}

// refHMAC is Stripe's v1 signature: hex(HMAC-SHA256(secret, "<t>.<body>")).
func refHMAC(secret string, t int64, body []byte) []byte {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(strconv.FormatInt(t, 10)))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}

// refVerify is the model: the refusal reason VerifyEvent must give (RefusalReason's label), or "" and
// the index of the verifying secret.
func refVerify(body []byte, header string, secrets []string, now time.Time, tolerance time.Duration) (reason string, index int, t int64) {
	if header == "" {
		return "no_signature", -1, 0
	}
	haveT := false
	var sigs [][]byte
	for _, el := range strings.Split(header, ",") {
		key, value, ok := strings.Cut(strings.TrimSpace(el), "=")
		if !ok {
			return "malformed_header", -1, 0
		}
		switch key {
		case "t":
			if haveT {
				return "malformed_header", -1, 0
			}
			sec, err := strconv.ParseInt(value, 10, 64)
			if err != nil {
				return "malformed_header", -1, 0
			}
			t, haveT = sec, true
		case "v1":
			if sig, err := hex.DecodeString(value); err == nil {
				sigs = append(sigs, sig)
			}
		}
	}
	if !haveT {
		return "malformed_header", -1, 0
	}
	if len(sigs) == 0 {
		return "no_signature", -1, 0
	}
	index, tried := -1, 0
	for i, s := range secrets {
		if s == "" {
			continue
		}
		tried++
		want := refHMAC(s, t, body)
		for _, sig := range sigs {
			if hmac.Equal(want, sig) && index < 0 {
				index = i
			}
		}
	}
	switch {
	case tried == 0:
		return "no_secrets", -1, t
	case index < 0:
		return "no_valid_signature", -1, t
	}
	// The window in whole seconds, overflow-free: now and the tolerance are whole seconds here.
	nowSec, tol := now.Unix(), int64(tolerance/time.Second)
	if t < nowSec && uint64(nowSec)-uint64(t) > uint64(tol) { // the difference of two int64s fits a uint64
		return "too_old", -1, t
	}
	if t > nowSec && uint64(t)-uint64(nowSec) > uint64(tol) {
		return "from_future", -1, t
	}
	return "", index, t
}

// expandHeader lets the fuzzer build headers that carry valid signatures: in template, {t} is the
// timestamp ts and {new}, {old}, {other}, {empty} the hex v1 signature over "<ts>.<body>" by the new,
// the old, a stranger's and the empty secret.
func expandHeader(template string, ts int64, body []byte) string {
	return strings.NewReplacer(
		"{t}", strconv.FormatInt(ts, 10),
		"{new}", hex.EncodeToString(refHMAC(secretNew, ts, body)),
		"{old}", hex.EncodeToString(refHMAC(secretOld, ts, body)),
		"{other}", hex.EncodeToString(refHMAC("whsec_other", ts, body)),
		"{empty}", hex.EncodeToString(refHMAC("", ts, body)),
	).Replace(template)
}

// FuzzVerifyEventHeader pins the Stripe-Signature parsing and matching: for an arbitrary header
// (templated so that valid signatures are reachable) over a fixed valid event body, VerifyEvent never
// panics, and it accepts exactly when the header holds one parseable t and a v1 signature by a
// non-empty endpoint secret over t.body with t inside ±300 s; otherwise it refuses with the reason the
// model gives, and returns no event.
func FuzzVerifyEventHeader(f *testing.F) {
	now := webhookNow.Unix()
	// The table cases of TestVerifyEvent, as templates.
	for _, seed := range []struct {
		header string
		ts     int64
	}{
		{"t={t},v1={new}", now},                                 // valid
		{"t={t},v1={new}", now - 301},                           // stale
		{"t={t},v1={new}", now - 300},                           // tolerance edge
		{"t={t},v1={new}", now + 301},                           // from the future
		{"t={t},v1={new}", now + 300},                           // future edge
		{"t={t},v1={old}", now},                                 // rotation, old secret
		{"t={t},v1={other},v1={old}", now},                      // two signatures, the second matches
		{"t={t},v1={other}", now},                               // unknown secret
		{"t={t},v1={empty}", now},                               // the empty secret's HMAC
		{"", now},                                               // missing header
		{"t={t},v0={new}", now},                                 // only the test-mode scheme
		{"t={t},v1={new},v0=6ffbb59b2300aae63f272406069a", now}, // v0 beside v1
		{"v1={new}", now},                                       // no timestamp
		{"t=yesterday,v1={new}", now},                           // bad timestamp
		{"garbage", now},                                        // not key=value
		{"t={t},v1={new},t=1", now},                             // two timestamps
		{"t={t},v1=zz,v1={new}", now},                           // non-hex v1 beside a valid one
		{" t={t} , v1={new} ", now},                             // spaces
		{"t={t},v1={new},", now},                                // trailing comma
		{"t=1{t},v1={new}", now},                                // tampered timestamp
		{"t={t},v1={NEW}", now},                                 // unexpanded: hex of nothing useful
		{"t={t},v1={new}", -9223372036854775808},
		// Not seeded: t beyond ~292 years ahead, and t near MaxInt64, which VerifyEvent gets wrong
		// (TestVerifyEventTimestampOverflow).
	} {
		f.Add(seed.header, seed.ts)
	}
	body := eventPayload("evt_fuzz", APIVersion)
	f.Fuzz(func(t *testing.T, template string, ts int64) {
		header := expandHeader(template, ts, body)
		ev, err := VerifyEvent(body, header, fuzzSecrets, fuzzTolerance, webhookNow)
		wantReason, wantIndex, signedAt := refVerify(body, header, fuzzSecrets, webhookNow, fuzzTolerance)
		if wantReason != "" {
			if err == nil || ev != nil {
				t.Fatalf("header %q (t=%d): accepted (event %v), want refused as %s", header, signedAt, ev != nil, wantReason)
			}
			if got := RefusalReason(err); got != wantReason {
				t.Fatalf("header %q: refused as %q (%v), want %q", header, got, err, wantReason)
			}
			return
		}
		if err != nil {
			t.Fatalf("header %q: refused (%v), want accepted with secret %d", header, err, wantIndex)
		}
		if ev.SecretIndex != wantIndex || ev.SignedAt.Unix() != signedAt || ev.ID != "evt_fuzz" || !bytes.Equal(ev.Raw, body) {
			t.Fatalf("header %q: event secret %d signed %d id %q, want secret %d signed %d id evt_fuzz",
				header, ev.SecretIndex, ev.SignedAt.Unix(), ev.ID, wantIndex, signedAt)
		}
	})
}

// FuzzVerifyEventBody pins the payload decoding behind a valid signature: an arbitrary body signed
// correctly never panics; it is accepted exactly when it is a JSON object whose id and type are
// non-empty strings and whose id/type/account/api_version/livemode/created/data have their JSON types
// (the model below), and then every field of the Event matches the JSON; a refusal is always
// ErrMalformedEvent. The same body unsigned, signed by another secret, or altered by one byte is never
// accepted.
func FuzzVerifyEventBody(f *testing.F) {
	for _, seed := range []string{
		string(eventPayload("evt_fuzz", APIVersion)),
		string(eventPayload("evt_fuzz", "2020-08-27")),
		`{"hello":"world"}`,
		`{"id":"evt_l","type":"x.y","data":{"object":{"id":42,"metadata":["a"]}}}`,
		`{"id":"evt_l","type":"x.y","data":{"object":"acct_1"}}`,
		`{"id":"evt_l","type":"x.y"}`,
		`{"id":"e","type":"t","created":1e99}`,
		`{"id":"e","type":"t","created":-0,"livemode":true,"account":null}`,
		`{"id":"e","type":"t","data":{"object":{"metadata":{"a":1}}}}`,
		`{"id":"e","type":"t","data":{"object":{"metadata":{"a":"1","b":null}}}}`,
		`{"id":"e","type":"invoice.paid","data":{"object":{"id":"in_1","customer":"cus_1"}},` +
			`"request":{"id":"req_1","idempotency_key":"cloudip-u-1-create"}}`,
		`{"id":"e","type":"t","data":{"object":{"customer":{"id":"cus_1"}}},"request":"req_old"}`,
		`{"id":"e","type":"t","request":{"id":null,"idempotency_key":7}}`,
		`{"id":"a","type":"t","ID":"b"}`,
		`{"id":"a","id":5,"type":"t"}`,
		`{"id":"a","type":"t","data":{"object":{"id":"x"}},"data":{}}`,
		`{"id":"a","type":"t","data":[]}`,
		`{"id":"\u00e9\ud800","type":"t"}`,
		"{\"id\":\"\xff\",\"type\":\"t\"}",
		`null`, `[]`, `"evt"`, ``, `{} {}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		header := sign(body, secretNew, webhookNow)
		ev, err := VerifyEvent(body, header, []string{secretNew}, fuzzTolerance, webhookNow)
		want, ok := refEvent(body)
		switch {
		case !ok && err == nil:
			t.Fatalf("body %q: accepted as %+v, the model refuses it", body, ev)
		case !ok:
			if !errors.Is(err, ErrMalformedEvent) || ev != nil {
				t.Fatalf("body %q: refused with %v (event %v), want ErrMalformedEvent", body, err, ev)
			}
		case err != nil:
			t.Fatalf("body %q: authentic event refused: %v (model %+v)", body, err, want)
		default:
			if ev.ID != want.ID || ev.Type != want.Type || ev.Account != want.Account || ev.Livemode != want.Livemode ||
				!ev.Created.Equal(want.Created) || ev.Created.Location() != time.UTC || ev.APIVersion != want.APIVersion ||
				ev.APIVersionMismatch != (want.APIVersion != APIVersion) || ev.ObjectID != want.ObjectID ||
				ev.ObjectType != want.ObjectType || !maps.Equal(ev.ObjectMetadata, want.ObjectMetadata) ||
				ev.ObjectCustomer != want.ObjectCustomer || ev.RequestID != want.RequestID ||
				ev.IdempotencyKey != want.IdempotencyKey ||
				(ev.ObjectMetadata == nil) != (want.ObjectMetadata == nil) ||
				!ev.SignedAt.Equal(webhookNow) || ev.SecretIndex != 0 || !bytes.Equal(ev.Raw, body) {
				t.Fatalf("body %q:\n got %+v\nwant %+v", body, ev, want)
			}
		}
		// Whatever the body, it is never accepted without the right signature over exactly it.
		forged := []struct{ what, header string }{
			{"unsigned", ""},
			{"another secret", sign(body, "whsec_other", webhookNow)},
			{"signature of the body plus a byte", sign(append(bytes.Clone(body), ' '), secretNew, webhookNow)},
		}
		for _, fg := range forged {
			if ev, err := VerifyEvent(body, fg.header, []string{secretNew}, fuzzTolerance, webhookNow); err == nil || ev != nil {
				t.Fatalf("body %q %s: accepted", body, fg.what)
			}
		}
		if len(body) > 0 {
			tampered := bytes.Clone(body)
			tampered[len(tampered)/2] ^= 0x01
			if _, err := VerifyEvent(tampered, header, []string{secretNew}, fuzzTolerance, webhookNow); !errors.Is(err, ErrNoValidSignature) {
				t.Fatalf("body %q with one bit flipped: %v, want ErrNoValidSignature", body, err)
			}
		}
	})
}

// refEvent is the model of what VerifyEvent reads from a payload, written from the JSON (the members of
// the object in order, last one wins, names matched exactly or else case-insensitively as
// encoding/json documents) rather than from wireEvent. ok is false when the payload is not an event.
func refEvent(body []byte) (ev Event, ok bool) {
	members, isObject := jsonMembers(body)
	if !json.Valid(body) || !isObject {
		return Event{}, false
	}
	var created int64
	var object, request json.RawMessage
	for _, m := range members {
		var err error
		switch foldField(m.key, "id", "type", "account", "livemode", "created", "api_version", "data", "request") {
		case "id":
			err = jsonString(m.value, &ev.ID)
		case "type":
			err = jsonString(m.value, &ev.Type)
		case "account":
			err = jsonString(m.value, &ev.Account)
		case "api_version":
			err = jsonString(m.value, &ev.APIVersion)
		case "livemode":
			switch string(m.value) {
			case "true", "false":
				ev.Livemode = string(m.value) == "true"
			case "null":
			default:
				err = errors.New("livemode not a bool")
			}
		case "created":
			if string(m.value) != "null" {
				created, err = strconv.ParseInt(string(m.value), 10, 64)
			}
		case "request":
			request = m.value
		case "data":
			if string(m.value) == "null" {
				break
			}
			inner, isObj := jsonMembers(m.value)
			if !isObj {
				err = errors.New("data not an object")
			}
			for _, im := range inner {
				if foldField(im.key, "object") == "object" {
					object = im.value
				}
			}
		}
		if err != nil {
			return Event{}, false
		}
	}
	if ev.ID == "" || ev.Type == "" {
		return Event{}, false
	}
	ev.Created = time.Unix(created, 0).UTC()
	// data.object: each routing key only if it has the expected type.
	if inner, isObj := jsonMembers(object); isObj {
		var idRaw, typeRaw, mdRaw, customerRaw json.RawMessage
		for _, im := range inner {
			switch foldField(im.key, "id", "object", "metadata", "customer") {
			case "id":
				idRaw = im.value
			case "object":
				typeRaw = im.value
			case "metadata":
				mdRaw = im.value
			case "customer":
				customerRaw = im.value
			}
		}
		_ = jsonString(idRaw, &ev.ObjectID)
		_ = jsonString(typeRaw, &ev.ObjectType)
		_ = jsonString(customerRaw, &ev.ObjectCustomer) // an expanded customer (an object) is left out
		ev.ObjectMetadata = refMetadata(mdRaw)
	}
	ev.RequestID, ev.IdempotencyKey = refRequest(request)
	return ev, true
}

// refRequest: request.id and request.idempotency_key when request is an object whose two members are
// strings or null (null clears); any other type of either, or a request that is not an object (the
// string of events before 2017-05-25), gives neither.
func refRequest(raw json.RawMessage) (id, key string) {
	members, isObj := jsonMembers(raw)
	if !isObj {
		return "", ""
	}
	for _, m := range members {
		var target *string
		switch foldField(m.key, "id", "idempotency_key") {
		case "id":
			target = &id
		case "idempotency_key":
			target = &key
		default:
			continue
		}
		if string(m.value) == "null" {
			*target = ""
			continue
		}
		if m.value[0] != '"' {
			return "", ""
		}
		_ = json.Unmarshal(m.value, target)
	}
	return id, key
}

// refMetadata: an object of strings (a null member is an entry with ""), else nil.
func refMetadata(raw json.RawMessage) map[string]string {
	members, isObj := jsonMembers(raw)
	if !isObj {
		return nil
	}
	md := map[string]string{}
	for _, m := range members {
		var v string
		if err := jsonString(m.value, &v); err != nil {
			return nil
		}
		md[m.key] = v
	}
	return md
}

type jsonMember struct {
	key   string
	value json.RawMessage
}

// jsonMembers lists an object's members in order (duplicates kept); isObject is false for any other
// JSON value or for invalid JSON.
func jsonMembers(raw []byte) (members []jsonMember, isObject bool) {
	if !json.Valid(raw) {
		return nil, false
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, false
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, false
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, false
		}
		members = append(members, jsonMember{key: tok.(string), value: v})
	}
	return members, true
}

// foldField returns the field name key stands for: an exact match, else a case-insensitive one, else "".
func foldField(key string, names ...string) string {
	for _, n := range names {
		if key == n {
			return n
		}
	}
	for _, n := range names {
		if strings.EqualFold(key, n) {
			return n
		}
	}
	return ""
}

// jsonString decodes a JSON string into *s; null (or nothing) leaves *s as it was.
func jsonString(raw json.RawMessage, s *string) error {
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	if raw[0] != '"' {
		return errors.New("not a string")
	}
	return json.Unmarshal(raw, s)
}

// TestVerifyEventTimestampOverflow pins the tolerance check at the ends of int64: an authentic
// signature with a timestamp centuries ahead is refused as from the future, not accepted, and one at
// MaxInt64 is "from_future", not "too_old". (VerifyEvent once compared now.Sub(signedAt), which
// saturates for a timestamp ~292 years ahead and whose negation overflowed: such an event was
// accepted. It now compares whole seconds without subtracting the timestamp.)
func TestVerifyEventTimestampOverflow(t *testing.T) {
	payload := eventPayload("evt_far", APIVersion)
	for _, tc := range []struct {
		name string
		at   int64
		want error
	}{
		{"300 years ahead", webhookNow.AddDate(300, 0, 0).Unix(), ErrFromFuture},
		{"year 292277026596", 1 << 62, ErrFromFuture},
		{"MaxInt64", 1<<63 - 1, ErrFromFuture},
		{"MinInt64", -1 << 63, ErrTooOld},
	} {
		header := expandHeader("t={t},v1={new}", tc.at, payload)
		if ev, err := VerifyEvent(payload, header, []string{secretNew}, 0, webhookNow); !errors.Is(err, tc.want) || ev != nil {
			t.Errorf("%s: event %v, err %v; want %v", tc.name, ev != nil, err, tc.want)
		}
	}
}
