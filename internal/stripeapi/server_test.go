package stripeapi

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"

	"github.com/go-logr/logr"
	"golang.org/x/time/rate"
)

// fakeStripe is an httptest server speaking Stripe's wire format: it parses form-encoded bodies and
// query strings, records every request, and answers from routes keyed "METHOD /path".
type fakeStripe struct {
	*httptest.Server
	mu       sync.Mutex
	requests []seen
	routes   map[string]route
}

// seen is one recorded request.
type seen struct {
	Method string
	Path   string
	Form   url.Values // query and form body merged
	Header http.Header
}

// reply is what a route answers: Status 0 means 200; Body is JSON-encoded unless it is a string,
// which is sent as is.
type reply struct {
	Status int
	Body   any
	Header map[string]string
}

type route func(req seen, n int) reply

func newFakeStripe(t *testing.T) *fakeStripe {
	t.Helper()
	f := &fakeStripe{routes: map[string]route{}}
	f.Server = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeStripe) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	form, _ := url.ParseQuery(string(body))
	for k, vs := range r.URL.Query() {
		form[k] = append(form[k], vs...)
	}
	req := seen{Method: r.Method, Path: r.URL.Path, Form: form, Header: r.Header.Clone()}

	f.mu.Lock()
	f.requests = append(f.requests, req)
	n := 0
	for _, s := range f.requests {
		if s.Method == req.Method && s.Path == req.Path {
			n++
		}
	}
	h := f.routes[r.Method+" "+r.URL.Path]
	f.mu.Unlock()

	w.Header().Set("Request-Id", fmt.Sprintf("req_%d", len(f.requests)))
	if h == nil {
		writeReply(w, stripeErr(http.StatusNotFound, "invalid_request_error", "resource_missing", "",
			"Unrecognized request URL ("+r.Method+": "+r.URL.Path+")"))
		return
	}
	writeReply(w, h(req, n))
}

func writeReply(w http.ResponseWriter, rep reply) {
	for k, v := range rep.Header {
		w.Header().Set(k, v)
	}
	status := rep.Status
	if status == 0 {
		status = http.StatusOK
	}
	if s, ok := rep.Body.(string); ok {
		w.WriteHeader(status)
		_, _ = io.WriteString(w, s)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(rep.Body)
}

// on installs a route answering body with 200.
func (f *fakeStripe) on(methodPath string, body any) {
	f.handle(methodPath, func(seen, int) reply { return reply{Body: body} })
}

func (f *fakeStripe) handle(methodPath string, h route) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.routes[methodPath] = h
}

func (f *fakeStripe) seen() []seen {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]seen(nil), f.requests...)
}

func (f *fakeStripe) last(t *testing.T) seen {
	t.Helper()
	s := f.seen()
	if len(s) == 0 {
		t.Fatal("no request reached the server")
	}
	return s[len(s)-1]
}

// stripeErr is Stripe's error body.
func stripeErr(status int, typ, code, param, msg string) reply {
	e := map[string]any{"type": typ, "message": msg}
	if code != "" {
		e["code"] = code
	}
	if param != "" {
		e["param"] = param
	}
	return reply{Status: status, Body: map[string]any{"error": e}}
}

// list is Stripe's list envelope.
func list(url string, hasMore bool, data ...any) map[string]any {
	if data == nil {
		data = []any{}
	}
	return map[string]any{"object": "list", "url": url, "has_more": hasMore, "data": data}
}

// newTestClient returns a client of f with a generous budget (tests of the budget set their own).
func newTestClient(t *testing.T, f *fakeStripe, m *Metrics) *Client {
	t.Helper()
	c, err := New(Config{
		Name:    "test",
		APIKey:  "sk_test_123",
		BaseURL: f.URL,
		Budget:  Budget{RequestsPerSecond: 1e6, Burst: 1e6},
		Metrics: m,
		Logger:  logr.Discard(),
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// frozenLimiter holds burst tokens and refills so slowly that no test sees a refill.
func frozenLimiter(burst int) *rate.Limiter {
	return rate.NewLimiter(rate.Limit(1e-9), burst)
}

func testTags() Tags {
	return Tags{UID: "9b2f-uid", NamespacedName: "team-a/gold", Kind: "BillingPlan", ClusterID: "prod-eu"}
}

// wantForm checks the form values of a request.
func wantForm(t *testing.T, got url.Values, want map[string]string) {
	t.Helper()
	for k, v := range want {
		if got.Get(k) != v {
			t.Errorf("%s = %q, want %q", k, got.Get(k), v)
		}
	}
}
