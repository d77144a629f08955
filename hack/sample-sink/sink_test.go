package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cloudip/stripe-operator/hack/internal/whsink"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// Secrets as a StripeEventSink's Secret holds them.
var (
	oldSecret   = "whsec_" + base64.StdEncoding.EncodeToString([]byte("old-secret-32-bytes-long-enough!"))
	newSecret   = "whsec_" + base64.StdEncoding.EncodeToString([]byte("new-secret-32-bytes-long-enough!"))
	otherSecret = "whsec_" + base64.StdEncoding.EncodeToString([]byte("someone-else-entirely-different"))
)

// send is one delivery as the relay makes it (webhookrelay/delivery: one signature per secret,
// space separated), or a variation of one.
type send struct {
	id       string
	seq      int64
	signWith []string      // the relay's secrets (nil: no webhook-signature header)
	skew     time.Duration // webhook-timestamp minus now
	tamper   bool          // the body is changed after it was signed
	method   string        // "" is POST
	fail     bool          // Process fails for this delivery

	want                int // status answered
	verified, duplicate bool
	outOfOrder          bool
	order               string // substring of the order note ("" = none expected)
	processed           int    // times Process has run for id after this delivery
	recordObjectAndType bool   // data.object.id/object and the type were recorded
	skipRecord          bool   // nothing is recorded (a 405)
	errContains         string // substring of the recorded error
}

func TestHandler(t *testing.T) {
	both := []string{oldSecret, newSecret}
	rows := []struct {
		name  string
		pins  string
		sink  string // the sink's secret value
		sends []send
	}{
		{
			name:  "one secret",
			pins:  "a delivery signed with the sink's secret is 200, verified, with id, type, data.object.id and object recorded",
			sink:  oldSecret,
			sends: []send{{id: "evt_1", seq: 1, signWith: []string{oldSecret}, want: 200, verified: true, processed: 1, recordObjectAndType: true}},
		},
		{
			name:  "rotation: relay signs with both, sink still has the old",
			pins:  "step 1 of a rotation: the relay's secret holds old and new, a sink verifying with the old one alone takes it",
			sink:  oldSecret,
			sends: []send{{id: "evt_1", seq: 1, signWith: both, want: 200, verified: true, processed: 1}},
		},
		{
			name:  "rotation: relay signs with both, sink moved to the new",
			pins:  "step 2: the sink verifies with the new secret alone while the relay still sends both signatures",
			sink:  newSecret,
			sends: []send{{id: "evt_1", seq: 1, signWith: both, want: 200, verified: true, processed: 1}},
		},
		{
			name: "rotation: sink holds both, relay already on the new",
			pins: "several sink secrets verify with any: a sink given old and new takes a delivery signed with either",
			sink: oldSecret + "\n  " + newSecret + "\n",
			sends: []send{
				{id: "evt_1", seq: 1, signWith: []string{newSecret}, want: 200, verified: true, processed: 1},
				{id: "evt_2", seq: 2, signWith: []string{oldSecret}, want: 200, verified: true, processed: 1},
			},
		},
		{
			name:  "rotation finished too early",
			pins:  "the relay dropped the secret the sink verifies with: 400, not verified, not processed",
			sink:  oldSecret,
			sends: []send{{id: "evt_1", seq: 1, signWith: []string{newSecret}, want: 400, errContains: "no matching signature"}},
		},
		{
			name:  "someone else's signature",
			pins:  "a signature with an unknown secret is 400",
			sink:  oldSecret,
			sends: []send{{id: "evt_1", seq: 1, signWith: []string{otherSecret}, want: 400, errContains: "no matching signature"}},
		},
		{
			name:  "tampered body",
			pins:  "the signature covers the raw body: one byte changed after signing is 400",
			sink:  oldSecret,
			sends: []send{{id: "evt_1", seq: 1, signWith: []string{oldSecret}, tamper: true, want: 400, errContains: "no matching signature"}},
		},
		{
			name:  "stale timestamp",
			pins:  "a correctly signed delivery stamped 10 minutes ago (a captured request sent again) is 400",
			sink:  oldSecret,
			sends: []send{{id: "evt_1", seq: 1, signWith: []string{oldSecret}, skew: -10 * time.Minute, want: 400, errContains: "too old"}},
		},
		{
			name:  "timestamp in the future",
			pins:  "the tolerance holds both ways: stamped 10 minutes ahead is 400",
			sink:  oldSecret,
			sends: []send{{id: "evt_1", seq: 1, signWith: []string{oldSecret}, skew: 10 * time.Minute, want: 400, errContains: "too new"}},
		},
		{
			name:  "unsigned",
			pins:  "no webhook-signature header is 400",
			sink:  oldSecret,
			sends: []send{{id: "evt_1", seq: 1, want: 400, errContains: "missing required headers"}},
		},
		{
			name: "duplicate id",
			pins: "at-least-once delivery: the same event id again is 200, recorded as a duplicate, and not processed again",
			sink: oldSecret,
			sends: []send{
				{id: "evt_1", seq: 1, signWith: []string{oldSecret}, want: 200, verified: true, processed: 1},
				{id: "evt_1", seq: 1, signWith: []string{oldSecret}, want: 200, verified: true, duplicate: true, processed: 1},
			},
		},
		{
			name: "a rejected copy does not claim the id",
			pins: "only a verified delivery marks its id seen: after a tampered copy, the genuine one is processed",
			sink: oldSecret,
			sends: []send{
				{id: "evt_1", seq: 1, signWith: []string{oldSecret}, tamper: true, want: 400, errContains: "no matching signature"},
				{id: "evt_1", seq: 1, signWith: []string{oldSecret}, want: 200, verified: true, processed: 1},
			},
		},
		{
			name: "failed processing is retried",
			pins: "Process failing answers 500 and leaves the id unseen, so the relay's retry is processed, not a duplicate",
			sink: oldSecret,
			sends: []send{
				{id: "evt_1", seq: 1, signWith: []string{oldSecret}, fail: true, want: 500, verified: true, processed: 1, errContains: "process"},
				{id: "evt_1", seq: 1, signWith: []string{oldSecret}, want: 200, verified: true, processed: 2},
			},
		},
		{
			name: "out of order",
			pins: "sequence 3 before 2 notes 3 as ahead (2 missing) and 2 as out of order; a duplicate of 1 is not an order event",
			sink: oldSecret,
			sends: []send{
				{id: "evt_1", seq: 1, signWith: []string{oldSecret}, want: 200, verified: true, processed: 1},
				{id: "evt_3", seq: 3, signWith: []string{oldSecret}, want: 200, verified: true, processed: 1, order: "ahead: seq 2 not yet received"},
				{id: "evt_2", seq: 2, signWith: []string{oldSecret}, want: 200, verified: true, processed: 1, outOfOrder: true, order: "late: after seq 3"},
				{id: "evt_1", seq: 1, signWith: []string{oldSecret}, want: 200, verified: true, duplicate: true, processed: 1},
				{id: "evt_4", seq: 4, signWith: []string{oldSecret}, want: 200, verified: true, processed: 1},
			},
		},
		{
			name:  "not a POST",
			pins:  "the delivery route answers 405 to other methods and records nothing",
			sink:  oldSecret,
			sends: []send{{id: "evt_1", method: http.MethodGet, want: 405, skipRecord: true}},
		},
	}
	for _, row := range rows {
		t.Run(row.name, func(t *testing.T) {
			t.Log(row.pins)
			var mu sync.Mutex
			processed := map[string]int{}
			failNext := map[string]bool{}
			var out bytes.Buffer
			h := &Handler{Out: &out, Process: func(_ context.Context, d Delivery, _ []byte) error {
				mu.Lock()
				defer mu.Unlock()
				processed[d.EventID]++
				if failNext[d.EventID] {
					failNext[d.EventID] = false
					return errors.New("database unavailable")
				}
				return nil
			}}
			if err := h.SetSecrets(row.sink); err != nil {
				t.Fatal(err)
			}
			srv := httptest.NewServer(h)
			defer srv.Close()

			recorded := 0
			for i, s := range row.sends {
				mu.Lock()
				failNext[s.id] = s.fail
				mu.Unlock()
				status := deliver(t, srv.URL, s)
				if status != s.want {
					t.Fatalf("send %d (%s): status %d, want %d; output:\n%s", i, s.id, status, s.want, out.String())
				}
				mu.Lock()
				n := processed[s.id]
				mu.Unlock()
				if n != s.processed {
					t.Errorf("send %d (%s): processed %d times, want %d", i, s.id, n, s.processed)
				}
				got := h.Deliveries()
				if s.skipRecord {
					if len(got) != recorded {
						t.Errorf("send %d: recorded %d deliveries, want %d", i, len(got), recorded)
					}
					continue
				}
				recorded++
				if len(got) != recorded {
					t.Fatalf("send %d: recorded %d deliveries, want %d", i, len(got), recorded)
				}
				d := got[len(got)-1]
				if d.EventID != s.id || d.Sequence != s.seq || d.Status != s.want || d.Verified != s.verified ||
					d.Duplicate != s.duplicate || d.OutOfOrder != s.outOfOrder {
					t.Errorf("send %d: recorded %+v; want id %s seq %d status %d verified %v duplicate %v outOfOrder %v",
						i, d, s.id, s.seq, s.want, s.verified, s.duplicate, s.outOfOrder)
				}
				if (s.order == "") != (d.Order == "") || !strings.Contains(d.Order, s.order) {
					t.Errorf("send %d: order note %q, want %q", i, d.Order, s.order)
				}
				if (s.errContains == "") != (d.Error == "") || !strings.Contains(d.Error, s.errContains) {
					t.Errorf("send %d: error %q, want one containing %q", i, d.Error, s.errContains)
				}
				if s.recordObjectAndType && (d.EventType != "invoice.paid" || d.ObjectID != "in_"+s.id || d.Object != "invoice") {
					t.Errorf("send %d: type %q object %q (%q), want invoice.paid in_%s (invoice)", i, d.EventType, d.ObjectID, d.Object, s.id)
				}
			}
			if lines := strings.Count(out.String(), "\n"); lines != recorded {
				t.Errorf("printed %d lines for %d deliveries:\n%s", lines, recorded, out.String())
			}
		})
	}
}

// deliver sends s as the relay would and returns the status.
func deliver(t *testing.T, url string, s send) int {
	t.Helper()
	body := eventJSON(s.id)
	method := s.method
	if method == "" {
		method = http.MethodPost
	}
	at := time.Now().Add(s.skew)
	sigs := make([]string, 0, len(s.signWith))
	for _, secret := range s.signWith {
		wh, err := standardwebhooks.NewWebhook(secret)
		if err != nil {
			t.Fatal(err)
		}
		sig, err := wh.Sign(s.id, at, body)
		if err != nil {
			t.Fatal(err)
		}
		sigs = append(sigs, sig)
	}
	if s.tamper {
		body = bytes.Replace(body, []byte(`"amount_paid":2000`), []byte(`"amount_paid":2001`), 1)
	}
	req, err := http.NewRequest(method, url+"/stripe", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("webhook-id", s.id)
	req.Header.Set("webhook-timestamp", strconv.FormatInt(at.Unix(), 10))
	if len(sigs) > 0 {
		req.Header.Set("webhook-signature", strings.Join(sigs, " "))
	}
	req.Header.Set("X-CloudIP-Sequence", strconv.FormatInt(s.seq, 10))
	req.Header.Set("X-CloudIP-Event-Type", "invoice.paid")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	return resp.StatusCode
}

func eventJSON(id string) []byte {
	return fmt.Appendf(nil, `{"id":%q,"object":"event","type":"invoice.paid","livemode":false,`+
		`"data":{"object":{"id":"in_%s","object":"invoice","amount_paid":2000,"currency":"usd"}}}`, id, id)
}

// TestOutput pins the two printed forms and GET /deliveries, which the demo reads.
func TestOutput(t *testing.T) {
	at := time.Date(2026, 5, 4, 9, 30, 1, 250e6, time.UTC)
	rows := []struct {
		name string
		pins string
		d    Delivery
		want string
	}{
		{
			name: "verified",
			pins: "time, sequence, event id, type, object id (object) and the outcome, in that order",
			d:    Delivery{ReceivedAt: at, Sequence: 7, EventID: "evt_1", EventType: "invoice.paid", ObjectID: "in_1", Object: "invoice", Verified: true, Status: 200},
			want: "09:30:01.250  seq=7    evt_1                        invoice.paid                     in_1 (invoice)                           verified",
		},
		{
			name: "duplicate, late",
			pins: "a duplicate says so; an order note follows in parentheses",
			d:    Delivery{ReceivedAt: at, Sequence: 2, EventID: "evt_2", EventType: "charge.succeeded", ObjectID: "ch_2", Object: "charge", Verified: true, Duplicate: true, Order: "late: after seq 3"},
			want: "09:30:01.250  seq=2    evt_2                        charge.succeeded                 ch_2 (charge)                            duplicate (late: after seq 3)",
		},
		{
			name: "rejected",
			pins: "a refused delivery shows REJECTED and why, with dashes for what is unknown",
			d:    Delivery{ReceivedAt: at, EventID: "evt_3", Status: 400, Error: "no matching signature found"},
			want: "09:30:01.250  seq=0    evt_3                        -                                -                                        REJECTED no matching signature found",
		},
	}
	for _, row := range rows {
		t.Run(row.name, func(t *testing.T) {
			t.Log(row.pins)
			if got := Line(row.d); got != row.want {
				t.Errorf("Line:\n got %q\nwant %q", got, row.want)
			}
		})
	}

	t.Run("json and /deliveries", func(t *testing.T) {
		t.Log("-json prints a Delivery per line; GET /deliveries returns the recorded list")
		var out bytes.Buffer
		h := &Handler{Out: &out, JSON: true, Now: func() time.Time { return at }}
		if err := h.SetSecrets(oldSecret); err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(h)
		defer srv.Close()
		deliver(t, srv.URL, send{id: "evt_1", seq: 1, signWith: []string{oldSecret}})
		var line Delivery
		if err := json.Unmarshal(out.Bytes(), &line); err != nil {
			t.Fatalf("JSON line %q: %v", out.String(), err)
		}
		if !line.Verified || line.EventID != "evt_1" || line.ObjectID != "in_evt_1" || !line.ReceivedAt.Equal(at) {
			t.Errorf("JSON line %+v", line)
		}
		rec := httptest.NewRecorder()
		h.ServeDeliveries(rec, httptest.NewRequest(http.MethodGet, "/deliveries", nil))
		var list []Delivery
		if err := json.Unmarshal(rec.Body.Bytes(), &list); err != nil || len(list) != 1 || list[0] != line {
			t.Errorf("GET /deliveries = %s (%v), want [%+v]", rec.Body.String(), err, line)
		}
	})
}

// TestSecrets pins what a secret value may be.
func TestSecrets(t *testing.T) {
	rows := []struct {
		name, pins, value string
		n                 int // verifiers; 0 = an error
	}{
		{"one", "a single whsec_ secret", oldSecret, 1},
		{"rotation", "white space of any kind separates secrets, trailing newline of a file included", oldSecret + " \n\t" + newSecret + "\n", 2},
		{"empty", "no secret is an error, not a sink that refuses everything", " \n", 0},
		{"no prefix", "a value without whsec_ is refused", strings.TrimPrefix(oldSecret, "whsec_"), 0},
		{"not base64", "the part after whsec_ must be base64", "whsec_***", 0},
	}
	for _, row := range rows {
		t.Run(row.name, func(t *testing.T) {
			t.Log(row.pins)
			whs, err := whsink.ParseSecrets(row.value)
			if (err == nil) != (row.n > 0) || len(whs) != row.n {
				t.Errorf("ParseSecrets = %d verifiers, %v; want %d", len(whs), err, row.n)
			}
			if err != nil && strings.Contains(err.Error(), "***") {
				t.Errorf("error shows the secret: %v", err)
			}
		})
	}
}
