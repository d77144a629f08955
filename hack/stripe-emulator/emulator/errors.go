package emulator

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// Error is a Stripe API error: the HTTP status and the body Stripe sends as
// {"error": {...}}. Handlers return it to refuse a request; anything else a
// handler returns as an error becomes a 500 api_error.
type Error struct {
	Status      int    `json:"-"`
	Type        string `json:"type"`
	Code        string `json:"code,omitempty"`
	DeclineCode string `json:"decline_code,omitempty"`
	DocURL      string `json:"doc_url,omitempty"`
	Message     string `json:"message"`
	Param       string `json:"param,omitempty"`
	// RequestLogURL is filled in when the response is written, because only
	// then is the request id known.
	RequestLogURL string `json:"request_log_url,omitempty"`

	// header holds extra response headers (Stripe-Should-Retry).
	header http.Header
}

func (e *Error) Error() string {
	return fmt.Sprintf("stripe %d %s/%s: %s (param %q)", e.Status, e.Type, e.Code, e.Message, e.Param)
}

// Stripe's error types.
const (
	TypeInvalidRequest = "invalid_request_error"
	TypeAPI            = "api_error"
	TypeCard           = "card_error"
	TypeIdempotency    = "idempotency_error"
)

func newError(status int, typ, code, param, msg string) *Error {
	e := &Error{Status: status, Type: typ, Code: code, Param: param, Message: msg}
	if code != "" {
		// Stripe links every coded error to its page in the error-code
		// reference; the page slug is the code with dashes.
		e.DocURL = "https://stripe.com/docs/error-codes/" + strings.ReplaceAll(code, "_", "-")
	}
	return e
}

// InvalidRequest is the common 400 invalid_request_error.
func InvalidRequest(param, format string, args ...any) *Error {
	return newError(http.StatusBadRequest, TypeInvalidRequest, "", param, fmt.Sprintf(format, args...))
}

// InvalidRequestCode is a 400 invalid_request_error carrying an error code.
func InvalidRequestCode(code, param, format string, args ...any) *Error {
	return newError(http.StatusBadRequest, TypeInvalidRequest, code, param, fmt.Sprintf(format, args...))
}

// MissingParam is Stripe's error for a required parameter left out.
func MissingParam(param string) *Error {
	return newError(http.StatusBadRequest, TypeInvalidRequest, "parameter_missing", param,
		fmt.Sprintf("Missing required param: %s.", param))
}

// Exclusive is Stripe's error for mutually exclusive parameters sent
// together; the first name is reported as the offending param.
func Exclusive(params ...string) *Error {
	return newError(http.StatusBadRequest, TypeInvalidRequest, "parameters_exclusive", params[0],
		"You may only specify one of these parameters: "+strings.Join(params, ", ")+".")
}

// NoSuchObject is Stripe's 404 for an id that does not exist in the account
// the request is scoped to: "No such product: 'prod_x'".
func NoSuchObject(noun, id, param string) *Error {
	return newError(http.StatusNotFound, TypeInvalidRequest, "resource_missing", param,
		fmt.Sprintf("No such %s: '%s'", noun, id))
}

// CardError is a 402 card_error.
func CardError(code, declineCode, param, msg string) *Error {
	e := newError(http.StatusPaymentRequired, TypeCard, code, param, msg)
	e.DeclineCode = declineCode
	return e
}

// APIError is Stripe's 500 api_error.
func APIError(msg string) *Error {
	return newError(http.StatusInternalServerError, TypeAPI, "", "", msg)
}

func rateLimitError() *Error {
	// Stripe answers rate-limited requests with 429, type
	// invalid_request_error and code rate_limit; stripe-go does not retry
	// these (only 429 lock_timeout), so callers must back off themselves.
	return newError(http.StatusTooManyRequests, TypeInvalidRequest, "rate_limit", "",
		"Request rate limit exceeded. Learn more about rate limits here https://stripe.com/docs/rate-limits.")
}

func lockTimeoutError() *Error {
	e := newError(http.StatusTooManyRequests, TypeInvalidRequest, "lock_timeout", "",
		"This object cannot be accessed right now because another API request or Stripe process is "+
			"currently accessing it. If you see this error intermittently, retry the request. If you see "+
			"this error frequently and are making multiple concurrent requests to a single object, make "+
			"your requests serially or at a lower rate.")
	e.header = http.Header{"Stripe-Should-Retry": {"true"}}
	return e
}

func injectedServerError() *Error {
	e := APIError("An unknown error occurred (injected by stripe-emulator).")
	// Real Stripe marks the 500s it knows to be safe to retry; an injected
	// fault happens before the endpoint runs, so it always is.
	e.header = http.Header{"Stripe-Should-Retry": {"true"}}
	return e
}

// writeError writes err as Stripe does; a non-*Error becomes a 500.
func writeError(w http.ResponseWriter, reqID string, err error) []byte {
	var se *Error
	if !errors.As(err, &se) {
		se = APIError("An unknown error occurred: " + err.Error())
	}
	out := *se
	if reqID != "" {
		out.RequestLogURL = "https://dashboard.stripe.com/test/logs/" + reqID
	}
	for k, vs := range se.header {
		w.Header()[k] = vs
	}
	body, _ := json.Marshal(map[string]any{"error": &out})
	writeJSONBytes(w, out.Status, body)
	return body
}

func writeJSONBytes(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
