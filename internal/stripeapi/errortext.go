package stripeapi

import "strings"

// WithoutRequestID returns err's text with the Stripe request id of its *Error left out: the text a
// condition message carries. The request id differs on every attempt, so two identical failures would
// otherwise rewrite the status each time; events and logs keep the full text, for Stripe's support.
func WithoutRequestID(err error) string {
	text := err.Error()
	e, ok := AsError(err)
	if !ok || e.RequestID == "" {
		return text
	}
	plain := *e
	plain.RequestID = ""
	return strings.Replace(text, e.Error(), plain.Error(), 1)
}
