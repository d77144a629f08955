package mirror

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/cloudip/stripe-operator/internal/stripeapi"
)

// TestRetry pins what a mirror does with a failed Stripe read: a transient failure (429, 5xx,
// network) is tried again, up to readAttempts times; Stripe's refusal (not found, invalid) and a
// stopped relay are not.
func TestRetry(t *testing.T) {
	transient := errors.New("connection reset")
	refused := &stripeapi.Error{Class: stripeapi.ClassTerminal, Message: "invalid"}
	cases := []struct {
		name      string
		failures  []error // what the attempts return before they succeed
		wantCalls int
		wantErr   error
	}{
		{"first attempt works", nil, 1, nil},
		{"two transient failures", []error{transient, transient}, 3, nil},
		{"transient every time", []error{transient, transient, transient, transient, transient, transient}, readAttempts, transient},
		{"refused at once", []error{refused}, 1, refused},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			calls := 0
			err := retry(context.Background(), time.Millisecond, func() error {
				calls++
				if calls <= len(tc.failures) {
					return tc.failures[calls-1]
				}
				return nil
			})
			if calls != tc.wantCalls || !errors.Is(err, tc.wantErr) {
				t.Errorf("retry made %d calls, returned %v; want %d calls and %v", calls, err, tc.wantCalls, tc.wantErr)
			}
		})
	}
	t.Run("stopped while waiting", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		calls := 0
		err := retry(ctx, time.Hour, func() error { calls++; cancel(); return transient })
		if calls != 1 || !errors.Is(err, transient) {
			t.Errorf("retry made %d calls, returned %v; want 1 call, the failure", calls, err)
		}
	})
}
