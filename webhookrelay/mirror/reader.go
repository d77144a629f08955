package mirror

import (
	"context"
	"fmt"
	"net/url"
	"time"

	"github.com/cloudip/stripe-operator/internal/stripeapi"
)

// Retries of one Stripe read: a 429, a 5xx or a network error is tried again after 1 s, 2 s, 4 s,
// 8 s (the connection's budget has slowed down after a 429 meanwhile); a pass fails only when Stripe
// stays unwell for about 15 s, and resumes from its cursor on the next.
const (
	readAttempts   = 5
	firstReadRetry = time.Second
)

// reader returns the Stripe reader of an account, retrying transient failures.
func (m *Mirror) reader(ctx context.Context, a Account) (stripeapi.RawReader, error) {
	r, err := m.cfg.Sources.Stripe(ctx, a)
	if err != nil {
		return nil, fmt.Errorf("mirror %s: Stripe client for %s: %w", m.cfg.Name, a.ID, err)
	}
	return retryingReader{reader: r, firstWait: firstReadRetry}, nil
}

type retryingReader struct {
	reader    stripeapi.RawReader
	firstWait time.Duration
}

func (r retryingReader) ListRaw(ctx context.Context, path string, filters url.Values, after string) (stripeapi.RawPage, error) {
	var page stripeapi.RawPage
	err := retry(ctx, r.firstWait, func() (err error) {
		page, err = r.reader.ListRaw(ctx, path, filters, after)
		return err
	})
	return page, err
}

func (r retryingReader) GetRaw(ctx context.Context, path string) (stripeapi.RawObject, error) {
	var obj stripeapi.RawObject
	err := retry(ctx, r.firstWait, func() (err error) {
		obj, err = r.reader.GetRaw(ctx, path)
		return err
	})
	return obj, err
}

// retry runs read until it succeeds, fails for good, or fails readAttempts times transiently,
// waiting wait, then twice as long each time, between attempts.
func retry(ctx context.Context, wait time.Duration, read func() error) error {
	for attempt := 1; ; attempt++ {
		err := read()
		if err == nil || attempt == readAttempts || !stripeapi.IsRetryable(err) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(wait):
		}
		wait *= 2
	}
}
