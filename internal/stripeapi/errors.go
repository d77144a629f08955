package stripeapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	stripe "github.com/stripe/stripe-go/v76"
)

// Class says what a reconciler should do about an error.
type Class string

const (
	// ClassNone is the class of a nil error.
	ClassNone Class = ""
	// ClassNotFound means the object addressed by the call does not exist (HTTP 404, or a deleted object
	// Stripe still answers for). Observe reports "does not exist"; Delete treats it as done.
	ClassNotFound Class = "NotFound"
	// ClassTerminal means Stripe refused the request itself (4xx other than 401, 403, 404, 409 and 429,
	// including idempotency_error, a referenced object missing (400 resource_missing) and
	// account_invalid). Retrying the same request cannot succeed: wait for the spec to change.
	ClassTerminal Class = "Terminal"
	// ClassAuth means the API key is refused (401) or lacks permission (403). The connection is not ready.
	ClassAuth Class = "Auth"
	// ClassRetryable means rate limited (429), conflicts and lock timeouts (409, lock_timeout,
	// idempotency_key_in_use), Stripe-side failures (5xx), network errors, budget waits cut short by
	// the context. Retry with backoff.
	ClassRetryable Class = "Retryable"
)

// Stripe error codes the classification and the adapters care about.
const (
	CodeResourceMissing      = "resource_missing"
	CodeAccountInvalid       = "account_invalid"
	CodeLockTimeout          = "lock_timeout"
	CodeRateLimit            = "rate_limit"
	CodeIdempotencyKeyInUse  = "idempotency_key_in_use"
	TypeIdempotencyError     = "idempotency_error"
	TypeInvalidRequestError  = "invalid_request_error"
	codeInvalidParams        = "stripeapi_invalid_params"
	headerIdempotentReplayed = "Idempotent-Replayed"
)

// Error is the error every Client call returns, wrapped once with the operation, its subject and the
// connected account, e.g. `create price "monthly": stripe: 400 ...` or
// `get subscription "sub_1" on acct_9: stripe: 404 ...`. The text already says what was attempted:
// callers (adapters, the reconciler) add only what the wrapper cannot know (which secondary object,
// what happens next) and never wrap again with the same words (no `create price: create price ...`).
// Use errors.As or AsError to read it.
type Error struct {
	// Class is the verdict of Classify.
	Class Class
	// HTTPStatus is the response's status code, 0 when no response was received.
	HTTPStatus int
	// Type is Stripe's error type: invalid_request_error, api_error, card_error, idempotency_error.
	Type string
	// Code is Stripe's error code (resource_missing, parameter_unknown, lock_timeout...), if any.
	Code string
	// DeclineCode is set on card errors.
	DeclineCode string
	// Param names the request parameter the error is about, if any.
	Param string
	// Message is Stripe's human-readable message, or the transport error's text.
	Message string
	// RequestID is Stripe's Request-Id, to quote to Stripe support and find the request in the logs.
	RequestID string
	// DocURL links to Stripe's documentation of Code.
	DocURL string
	// IdempotentReplayed is true when Stripe answered from its idempotency cache: the same key sent
	// again within 24 hours gets the same answer, a 5xx included, so retrying a replayed 5xx with the
	// same key is pointless: look the object up by its tags and, if absent, use a new purpose.
	IdempotentReplayed bool

	err error
}

// Error returns a one-line description fit for a condition message.
func (e *Error) Error() string {
	if e.Code == codeInvalidParams {
		return "stripeapi: refused before sending: " + e.Message
	}
	var b strings.Builder
	b.WriteString("stripe:")
	if e.HTTPStatus != 0 {
		fmt.Fprintf(&b, " %d", e.HTTPStatus)
	}
	if e.Type != "" {
		b.WriteString(" " + e.Type)
	}
	if e.Code != "" {
		b.WriteString(" " + e.Code)
	}
	if e.Param != "" {
		fmt.Fprintf(&b, " (param %s)", e.Param)
	}
	if e.Message != "" {
		if b.Len() > len("stripe:") {
			b.WriteString(":")
		}
		b.WriteString(" " + e.Message)
	}
	if e.RequestID != "" {
		fmt.Fprintf(&b, " [request %s]", e.RequestID)
	}
	if e.IdempotentReplayed {
		b.WriteString(" [idempotent replay]")
	}
	return b.String()
}

// Unwrap returns the underlying error (context errors stay visible to errors.Is).
func (e *Error) Unwrap() error { return e.err }

// AsError returns the *Error in err's chain.
func AsError(err error) (*Error, bool) {
	var e *Error
	if errors.As(err, &e) {
		return e, true
	}
	return nil, false
}

// Classify tells what to do about err. Errors from this package carry their class; a context
// error, or any other error, is Retryable (better a backoff than giving up on a transient fault).
func Classify(err error) Class {
	if err == nil {
		return ClassNone
	}
	if e, ok := AsError(err); ok {
		return e.Class
	}
	return ClassRetryable
}

// IsNotFound reports whether err means the addressed Stripe object does not exist.
func IsNotFound(err error) bool { return Classify(err) == ClassNotFound }

// IsTerminal reports whether retrying the same request cannot succeed.
func IsTerminal(err error) bool { return Classify(err) == ClassTerminal }

// IsAuth reports whether the connection's API key was refused.
func IsAuth(err error) bool { return Classify(err) == ClassAuth }

// IsRetryable reports whether err is transient.
func IsRetryable(err error) bool { return Classify(err) == ClassRetryable }

// IsAccountInvalid reports whether Stripe refused the Stripe-Account header: the connected account
// does not exist any more or the platform lost access to it. It is classified Terminal (a problem of
// one tenant, not of the connection); a Delete may treat it as "already gone".
func IsAccountInvalid(err error) bool {
	e, ok := AsError(err)
	return ok && e.Code == CodeAccountInvalid
}

// IsIdempotencyMismatch reports whether Stripe refused a request because its idempotency key was used
// before with other parameters (type idempotency_error; Terminal). The first request with that key
// reached Stripe and, for a create, may have made the object: look it up by its tags instead of
// retrying.
func IsIdempotencyMismatch(err error) bool {
	e, ok := AsError(err)
	return ok && e.Type == TypeIdempotencyError
}

// IsRateLimited reports whether Stripe refused a request for the account's request rate (429
// rate_limit), as opposed to a 429 lock_timeout on a busy object. The connection's budget has
// already slowed down when this is true (see adaptive.go).
func IsRateLimited(err error) bool {
	e, ok := AsError(err)
	return ok && e.HTTPStatus == http.StatusTooManyRequests && e.Code != "lock_timeout"
}

// CreatedNothing reports whether a failed create call proves that Stripe created nothing: Stripe
// answered with a 4xx (it refused the request, or replayed the refusal of an earlier attempt with the
// same idempotency key, which created nothing either), other than 409 (another request with the same
// key is still running and may create the object). A 5xx or a network error proves nothing: the
// object may exist.
func CreatedNothing(err error) bool {
	e, ok := AsError(err)
	return ok && e.HTTPStatus >= 400 && e.HTTPStatus < 500 && e.HTTPStatus != http.StatusConflict
}

// classify is the one table of the package's error policy.
func classify(e *Error) Class {
	if errors.Is(e.err, context.Canceled) || errors.Is(e.err, context.DeadlineExceeded) {
		return ClassRetryable
	}
	switch e.Code {
	case CodeAccountInvalid:
		// One tenant's connected account, not the platform key: marking the whole connection not
		// ready would stop every other tenant.
		return ClassTerminal
	case CodeLockTimeout, CodeRateLimit, CodeIdempotencyKeyInUse:
		return ClassRetryable
	}
	switch s := e.HTTPStatus; {
	case s == 0:
		return ClassRetryable // no response: network error
	case s == http.StatusNotFound:
		return ClassNotFound
	case s == http.StatusUnauthorized, s == http.StatusForbidden:
		return ClassAuth
	case s == http.StatusConflict, s == http.StatusTooManyRequests, s >= 500:
		return ClassRetryable
	case s >= 400:
		// Includes idempotency_error (same key, other parameters) and 400 resource_missing, which
		// names a missing *referenced* object (param says which), not the addressed one.
		return ClassTerminal
	default:
		return ClassRetryable // a 2xx we could not decode
	}
}

// toError converts anything stripe-go or the transport returned into an *Error.
func toError(err error, info *callInfo) *Error {
	if e, ok := AsError(err); ok {
		// Made by this package (a deleted object Stripe answered 200 for, a refused write): keep
		// the request id of the response, if one came, for Stripe's support.
		if e.RequestID == "" && info != nil {
			_, e.RequestID, _ = info.get()
		}
		return e
	}
	var se *stripe.Error
	var out *Error
	if errors.As(err, &se) {
		out = &Error{
			HTTPStatus:  se.HTTPStatusCode,
			Type:        string(se.Type),
			Code:        string(se.Code),
			DeclineCode: string(se.DeclineCode),
			Param:       se.Param,
			Message:     se.Msg,
			RequestID:   se.RequestID,
			DocURL:      se.DocURL,
			err:         err,
		}
		if se.LastResponse != nil {
			out.IdempotentReplayed = se.LastResponse.Header.Get(headerIdempotentReplayed) == "true"
		}
	} else {
		out = &Error{Message: err.Error(), err: err}
	}
	if info != nil {
		status, requestID, replayed := info.get()
		if out.HTTPStatus == 0 {
			out.HTTPStatus = status
		}
		if out.RequestID == "" {
			out.RequestID = requestID
		}
		out.IdempotentReplayed = out.IdempotentReplayed || replayed
	}
	out.Class = classify(out)
	return out
}

// invalidParams is the error for a call refused before anything is sent (a programming error in the
// caller: no idempotency key, no tags, reserved metadata keys). Terminal: retrying cannot help.
func invalidParams(format string, args ...any) *Error {
	return &Error{Class: ClassTerminal, Code: codeInvalidParams, Message: fmt.Sprintf(format, args...)}
}

// notFound is the error for an object Stripe still answers for but reports deleted. The message does
// not repeat the id: Client.call's wrapping names it.
func notFound(resource string) *Error {
	return &Error{
		Class:   ClassNotFound,
		Code:    CodeResourceMissing,
		Message: fmt.Sprintf("the %s has been deleted", strings.ReplaceAll(resource, "_", " ")),
	}
}
