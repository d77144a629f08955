package emulator

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	stripe "github.com/stripe/stripe-go/v76"
	"github.com/stripe/stripe-mock/param"
)

const (
	controlPrefix = "/_emulator/"
	maxBodyBytes  = 1 << 20
)

// statusWriter remembers the status written, for stats and logs, and
// stamps the response's Date header from the emulator clock when the
// header is written.
type statusWriter struct {
	http.ResponseWriter
	status int
	// now is the emulator clock. Stripe's Date header is Stripe's time, and
	// clients read it as Stripe's clock (e.g. to bound a `created` filter), so
	// it follows the emulator clock (SetClock, AdvanceClock, a FakeClock)
	// rather than net/http's wall-clock default.
	now func() time.Time
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
		if w.now != nil {
			// RFC 1123 in GMT (http.TimeFormat), as RFC 9110 requires.
			w.Header().Set("Date", w.now().UTC().Format(http.TimeFormat))
		}
	}
	w.ResponseWriter.WriteHeader(code)
}

// Write sends the header first (with its Date) if nothing was written yet.
func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// ServeHTTP serves the Stripe API and, under /_emulator/, the control API.
func (e *Emulator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, controlPrefix) {
		e.serveControl(&statusWriter{ResponseWriter: w, now: e.clock.Now}, r)
		return
	}
	start := time.Now()
	reqID := "req_" + randomString(14)
	route, pathParams := e.router.Match(r.Method, r.URL.Path)
	pattern := r.URL.Path
	if route != nil {
		pattern = route.Pattern
	}
	endpoint := r.Method + " " + pattern
	e.stats.update(func(s *Stats) { s.Requests[endpoint]++ })
	sw := &statusWriter{ResponseWriter: w, now: e.clock.Now}
	e.serveAPI(sw, r, reqID, route, pattern, pathParams)
	if sw.status != 0 {
		e.stats.response(sw.status)
	}
	e.log.Info("request", "method", r.Method, "path", r.URL.Path, "status", sw.status,
		"duration", time.Since(start), "request_id", reqID, "stripe_account", r.Header.Get("Stripe-Account"))
}

func (e *Emulator) serveAPI(w http.ResponseWriter, r *http.Request, reqID string, route *Route, pattern string, pathParams map[string]string) {
	h := w.Header()
	h.Set("Request-Id", reqID)
	h.Set("Stripe-Version", stripe.APIVersion)
	endpoint := r.Method + " " + pattern

	plan := e.faults.plan(r.Method, pattern, r.URL.Path)
	if plan.latency > 0 {
		e.stats.update(func(s *Stats) { s.Faults.Delayed++ })
		t := time.NewTimer(plan.latency)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
	}
	if plan.dropBefore {
		e.stats.update(func(s *Stats) { s.Faults.DropsBefore++ })
		dropConnection(w)
		return
	}
	key, aerr := authenticate(r)
	if aerr != nil {
		h.Set("Www-Authenticate", `Basic realm="Stripe"`)
		writeError(w, reqID, aerr)
		return
	}
	if !e.limiter.allow(r.Method, pattern) {
		e.stats.update(func(s *Stats) { s.RateLimited++; s.RateLimitedBy[endpoint]++ })
		writeError(w, reqID, rateLimitError())
		return
	}
	if plan.serverError {
		e.stats.update(func(s *Stats) { s.Faults.ServerErrors++ })
		writeError(w, reqID, injectedServerError())
		return
	}
	if plan.lockTimeout {
		e.stats.update(func(s *Stats) { s.Faults.LockTimeouts++ })
		writeError(w, reqID, lockTimeoutError())
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBodyBytes+1))
	if err != nil {
		return // the client went away
	}
	if len(body) > maxBodyBytes {
		writeError(w, reqID, InvalidRequest("", "Request body too large (limit %d bytes).", maxBodyBytes))
		return
	}
	account, connected, accErr := e.resolveAccount(r, key)
	if accErr != nil {
		writeError(w, reqID, accErr)
		return
	}
	if e.spec != nil {
		if serr := e.spec.checkSpec(r, body); serr != nil {
			writeError(w, reqID, serr)
			return
		}
	}
	if route == nil {
		writeError(w, reqID, newError(http.StatusNotFound, TypeInvalidRequest, "", "", fmt.Sprintf(
			"Unrecognized request URL (%s: %s). Stripe's API has this endpoint but stripe-emulator does not "+
				"implement it yet; see hack/stripe-emulator/README.md.", r.Method, r.URL.Path)))
		return
	}
	clone := r.Clone(r.Context())
	clone.Body = io.NopCloser(bytes.NewReader(body))
	raw, err := param.ParseParams(clone)
	if err != nil {
		writeError(w, reqID, InvalidRequest("", "Invalid request body: %v", err))
		return
	}
	req := &Request{
		ID: reqID, Method: r.Method, Path: r.URL.Path, Pattern: pattern, PathParams: pathParams,
		Params: NewParams(raw), Account: account, Connected: connected, Key: key,
	}
	e.execute(w, req, route, r.Header.Get("Idempotency-Key"), plan.dropAfter)
}

// execute runs the endpoint under Stripe's idempotency rules and writes (or,
// for an injected drop-after fault, withholds) its response.
func (e *Emulator) execute(w http.ResponseWriter, req *Request, route *Route, idemKey string, dropAfter bool) {
	// Only POST takes idempotency keys; GET and DELETE ignore them.
	useKey := req.Method == http.MethodPost && idemKey != ""
	if useKey {
		w.Header().Set("Idempotency-Key", idemKey)
		req.IdempotencyKey = idemKey
		fp, _ := json.Marshal(req.Params.Raw())
		rec, ierr := e.idem.begin(e.clock.Now(), req.Account, idemKey, req.Method+" "+req.Path, string(fp))
		if ierr != nil {
			writeError(w, req.ID, ierr)
			return
		}
		if rec != nil {
			e.stats.update(func(s *Stats) { s.IdempotentReplays++ })
			for k, v := range rec.header {
				w.Header()[k] = v
			}
			w.Header().Set("Idempotent-Replayed", "true")
			writeJSONBytes(w, rec.status, rec.body)
			return
		}
		finished := false
		defer func() {
			if !finished {
				e.idem.release(req.Account, idemKey)
			}
		}()
		status, header, body := e.run(req, route)
		e.idem.finish(req.Account, idemKey, status, header, body)
		finished = true
		e.respond(w, status, header, body, dropAfter)
		return
	}
	status, header, body := e.run(req, route)
	e.respond(w, status, header, body, dropAfter)
}

func (e *Emulator) respond(w http.ResponseWriter, status int, header http.Header, body []byte, dropAfter bool) {
	if dropAfter {
		e.stats.update(func(s *Stats) { s.Faults.DropsAfter++ })
		dropConnection(w)
		return
	}
	for k, v := range header {
		w.Header()[k] = v
	}
	writeJSONBytes(w, status, body)
}

// run executes the handler in a transaction and renders its outcome.
func (e *Emulator) run(req *Request, route *Route) (int, http.Header, []byte) {
	var result any
	fn := func(tx *Tx) error {
		res, err := route.Handler(&Call{Tx: tx, Req: req, emu: e})
		result = res
		return err
	}
	now := e.clock.Now()
	var err error
	if req.Method == http.MethodGet {
		err = e.store.Read(req.Account, now, fn)
	} else {
		err = e.store.Write(req.Account, now, fn)
	}
	header := http.Header{"Original-Request": {req.ID}}
	if err != nil {
		var se *Error
		if !errors.As(err, &se) {
			e.log.Error("handler failed", "endpoint", req.Method+" "+route.Pattern, "err", err)
			se = APIError("An unknown error occurred: " + err.Error())
		}
		for k, v := range se.header {
			header[k] = v
		}
		out := *se
		out.RequestLogURL = "https://dashboard.stripe.com/test/logs/" + req.ID
		body, _ := json.Marshal(map[string]any{"error": &out})
		return se.Status, header, body
	}
	body, merr := json.Marshal(result)
	if merr != nil {
		body, _ = json.Marshal(map[string]any{"error": APIError("Could not encode the response: " + merr.Error())})
		return http.StatusInternalServerError, header, body
	}
	return http.StatusOK, header, body
}

// dropConnection closes the client's connection without a response.
func dropConnection(w http.ResponseWriter) {
	if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
		_ = conn.Close()
		return
	}
	// HTTP/2 and other writers that cannot be hijacked: abort the stream.
	panic(http.ErrAbortHandler)
}

// authenticate accepts what Stripe accepts from a test-mode client: a
// secret test key (sk_test_...) as a Bearer token or as the Basic-auth user.
func authenticate(r *http.Request) (string, *Error) {
	h := strings.TrimSpace(r.Header.Get("Authorization"))
	if h == "" {
		return "", newError(http.StatusUnauthorized, TypeInvalidRequest, "", "",
			"You did not provide an API key. You need to provide your API key in the Authorization header, "+
				"using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See https://stripe.com/docs/api#authentication "+
				"for details, or we can help at https://support.stripe.com/.")
	}
	var key string
	scheme, rest, _ := strings.Cut(h, " ")
	switch strings.ToLower(scheme) {
	case "bearer":
		key = strings.TrimSpace(rest)
	case "basic":
		dec, err := base64.StdEncoding.DecodeString(strings.TrimSpace(rest))
		if err == nil {
			key, _, _ = strings.Cut(string(dec), ":")
		}
	default:
		key = h
	}
	if !strings.HasPrefix(key, "sk_test_") || len(key) == len("sk_test_") {
		return "", newError(http.StatusUnauthorized, TypeInvalidRequest, "", "", "Invalid API Key provided: "+redactKey(key))
	}
	return key, nil
}

// redactKey shows a key as Stripe's errors do: its prefix and last four
// characters, the rest starred.
func redactKey(key string) string {
	if len(key) <= 4 {
		return strings.Repeat("*", len(key))
	}
	prefix := ""
	if i := strings.Index(key, "_"); i >= 0 {
		if j := strings.Index(key[i+1:], "_"); j >= 0 && i+1+j+1 <= len(key)-4 {
			prefix = key[:i+1+j+1]
		}
	}
	return prefix + strings.Repeat("*", len(key)-len(prefix)-4) + key[len(key)-4:]
}

// resolveAccount applies the Stripe-Account header: requests run in the
// platform account unless it names a connected account of the platform.
func (e *Emulator) resolveAccount(r *http.Request, key string) (string, bool, *Error) {
	acct := strings.TrimSpace(r.Header.Get("Stripe-Account"))
	if acct == "" || acct == e.platform {
		return e.platform, false, nil
	}
	known := false
	_ = e.store.Read(e.platform, e.clock.Now(), func(tx *Tx) error {
		_, known = tx.Get("account", acct)
		return nil
	})
	if !known {
		return "", false, newError(http.StatusForbidden, TypeInvalidRequest, "account_invalid", "", fmt.Sprintf(
			"The provided key '%s' does not have access to account '%s' (or that account does not exist). "+
				"Application access may have been revoked.", redactKey(key), acct))
	}
	return acct, true, nil
}
