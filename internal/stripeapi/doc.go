// Package stripeapi is the operator's only door to Stripe, and the only package in the project that
// imports github.com/stripe/stripe-go. Everything it exports is plain Go: its own small structs for
// Stripe objects and for call parameters, its own error type, and narrow interfaces per Stripe
// resource (ProductAPI, PriceAPI, ...) that adapters depend on and tests fake (see package fake).
//
// The rules every call follows, so that callers do not have to remember them:
//
//   - Every call takes a context.Context (never nil) that bounds the wait for the request budget and
//     the HTTP request itself.
//   - Every call first waits on the connection's token bucket (golang.org/x/time/rate), one bucket per
//     StripeConnection shared by every controller through a Pool. Pages of a list each wait too.
//   - Every create and update (every POST) carries the caller's deterministic Idempotency-Key (see
//     IdempotencyKey); a call without one is refused before anything is sent. GET and DELETE carry
//     none: stripe-go's random keys are stripped.
//   - stripe-go never retries (MaxNetworkRetries is 0): the reconciler owns retry and backoff.
//   - Every object the operator creates carries metadata tags (see Tags) and is found again by LIST and
//     the tags, never by the Search API, which lags and must not be used for read-after-write.
//   - Every error returned is, or wraps, an *Error carrying Stripe's HTTP status, type, code, param,
//     message and request id, plus a Class (see Classify) that tells the reconciler what to do next.
//
// A Client speaks for one platform account; Client.ForAccount returns a view that sets the
// Stripe-Account header (Connect) on every call and shares the parent's budget.
package stripeapi
