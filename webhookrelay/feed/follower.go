package feed

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/go-logr/logr"
)

// Follower long-polls a relay's feed and hands each page to Handle. It is a controller-runtime
// Runnable that needs leader election: only the leader reconciles, so only the leader follows.
type Follower struct {
	// URL is the relay's internal base URL (http://relay-internal.<namespace>.svc:8081).
	URL string
	// Handle receives every page with notifications; an error is logged and the page is not read
	// again (the objects' resync is the net under a notification that could not be handled).
	Handle func(ctx context.Context, notifications []Notification) error
	// Answered is called after every answer of the relay (the feed is live).
	Answered func()
	// HTTPClient defaults to one with a timeout longer than the long poll.
	HTTPClient *http.Client
	Log        logr.Logger
	// Wait is the long poll's wait (default DefaultWait); retry backoff bounds are fixed below.
	Wait time.Duration
}

const (
	followRetryMin = time.Second
	followRetryMax = 30 * time.Second
)

// NeedLeaderElection implements manager.LeaderElectionRunnable.
func (f *Follower) NeedLeaderElection() bool { return true }

// Start follows the feed until ctx ends. It starts from the feed's newest event: what happened
// before, the operator's first pass over every object observes.
func (f *Follower) Start(ctx context.Context) error {
	if f.HTTPClient == nil {
		f.HTTPClient = &http.Client{Timeout: f.wait() + 30*time.Second}
	}
	if f.Log.GetSink() == nil {
		f.Log = logr.Discard()
	}
	var cursor *int64
	backoff := followRetryMin
	for ctx.Err() == nil {
		page, err := f.get(ctx, cursor)
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			f.Log.Info("relay feed unreachable, retrying", "error", err.Error(), "in", backoff.String())
			select {
			case <-time.After(backoff):
			case <-ctx.Done():
			}
			backoff = min(backoff*2, followRetryMax)
			continue
		}
		backoff = followRetryMin
		if f.Answered != nil {
			f.Answered()
		}
		if len(page.Notifications) > 0 && f.Handle != nil {
			if err := f.Handle(ctx, page.Notifications); err != nil {
				f.Log.Error(err, "relay notifications not all handled", "from", page.Notifications[0].Seq, "to", page.Next)
			}
		}
		next := page.Next
		cursor = &next
	}
	return nil
}

func (f *Follower) wait() time.Duration {
	if f.Wait > 0 {
		return f.Wait
	}
	return DefaultWait
}

func (f *Follower) get(ctx context.Context, cursor *int64) (Page, error) {
	q := url.Values{}
	if cursor != nil {
		q.Set("after", strconv.FormatInt(*cursor, 10))
		q.Set("wait", f.wait().String())
	}
	u := strings.TrimSuffix(f.URL, "/") + Path + "?" + q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return Page{}, fmt.Errorf("relay feed request: %w", err)
	}
	resp, err := f.HTTPClient.Do(req)
	if err != nil {
		return Page{}, fmt.Errorf("relay feed: %w", err)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return Page{}, fmt.Errorf("relay feed: %s: %s", resp.Status, strings.TrimSpace(string(body)))
	}
	var page Page
	if err := json.NewDecoder(resp.Body).Decode(&page); err != nil {
		return Page{}, fmt.Errorf("relay feed: decode: %w", err)
	}
	return page, nil
}
