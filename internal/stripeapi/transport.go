package stripeapi

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

const (
	headerIdempotencyKey = "Idempotency-Key"
	headerRequestID      = "Request-Id"
)

// callInfo collects, for one call of the package's API, what the transport saw of its HTTP
// exchanges: the last status and request id, for errors whose body was not Stripe's (a proxy's
// 502 page, a 401 from a gateway).
type callInfo struct {
	mu        sync.Mutex
	status    int
	requestID string
	replayed  bool
	requests  int
}

type callInfoKey struct{}

func withCallInfo(ctx context.Context) (context.Context, *callInfo) {
	info := &callInfo{}
	return context.WithValue(ctx, callInfoKey{}, info), info
}

func (i *callInfo) record(resp *http.Response) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.requests++
	if resp == nil {
		i.status = 0
		return
	}
	i.status = resp.StatusCode
	i.requestID = resp.Header.Get(headerRequestID)
	i.replayed = resp.Header.Get(headerIdempotentReplayed) == "true"
}

func (i *callInfo) get() (status int, requestID string, replayed bool) {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.status, i.requestID, i.replayed
}

// budgetTransport is the http.RoundTripper under stripe-go. Every HTTP request of a connection,
// list pages included, passes here, so this is where the budget is enforced and nothing can
// bypass it:
//   - it waits on the connection's token bucket, as long as the request's context allows, and only
//     then starts the request's timeout;
//   - it strips the Idempotency-Key stripe-go invents for a DELETE (and any on a GET): only our own
//     keys, set on POSTs, reach Stripe;
//   - it records the response status for error classification and metrics.
type budgetTransport struct {
	base       http.RoundTripper
	limiter    *rate.Limiter
	adapter    *rateAdapter  // slows the limiter on 429 rate_limit; nil: fixed budget
	timeout    time.Duration // per request, after the wait; <= 0: none
	metrics    *Metrics
	connection string
}

func (t *budgetTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	start := time.Now()
	if err := t.limiter.Wait(ctx); err != nil {
		if req.Body != nil {
			_ = req.Body.Close()
		}
		if ctx.Err() == nil {
			// rate's "would exceed context deadline": the deadline cannot be met.
			err = fmt.Errorf("%w (%w)", context.DeadlineExceeded, err)
		}
		return nil, fmt.Errorf("stripeapi: waiting for the request budget: %w", err)
	}
	t.metrics.observeBudgetWait(t.connection, time.Since(start))

	if req.Method == http.MethodGet || req.Method == http.MethodDelete {
		if req.Header.Get(headerIdempotencyKey) != "" {
			req = req.Clone(ctx) // a RoundTripper must not modify the caller's request
			req.Header.Del(headerIdempotencyKey)
		}
	}

	var cancel context.CancelFunc = func() {}
	if t.timeout > 0 {
		var tctx context.Context
		tctx, cancel = context.WithTimeout(ctx, t.timeout)
		req = req.WithContext(tctx)
	}
	resp, err := t.base.RoundTrip(req)
	code := 0
	if err != nil {
		cancel()
	} else {
		code = resp.StatusCode
		resp.Body = &cancelOnClose{ReadCloser: resp.Body, cancel: cancel}
	}
	if resp != nil {
		t.adapt(resp)
	}
	t.metrics.observeRequest(t.connection, req.Method, code)
	if info, ok := ctx.Value(callInfoKey{}).(*callInfo); ok {
		info.record(resp)
	}
	return resp, err //nolint:wrapcheck // http.Client wraps it in a *url.Error naming the method and URL
}

// cancelOnClose releases a request's timeout once its body has been read and closed.
type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (b *cancelOnClose) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err //nolint:wrapcheck // a RoundTripper's body must return the underlying Close error as is
}

// adapt tells the adapter how Stripe answered. A 429 is a rate limit unless its code is lock_timeout
// (another request holds the object: not a matter of pace), so a 429's body, a small JSON error, is
// read here and put back for stripe-go to decode.
func (t *budgetTransport) adapt(resp *http.Response) {
	if t.adapter == nil {
		return
	}
	if resp.StatusCode != http.StatusTooManyRequests {
		t.adapter.succeeded(time.Now())
		return
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	_ = resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(body))
	if err == nil && bytes.Contains(body, []byte(`"lock_timeout"`)) {
		return
	}
	t.adapter.throttled(time.Now())
}

// maxErrorBody bounds what adapt reads of a 429's body.
const maxErrorBody = 64 << 10
