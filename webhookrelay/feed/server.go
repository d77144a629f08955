package feed

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/cloudip/stripe-operator/webhookrelay/store"
)

// Bounds of one request.
const (
	// DefaultWait is how long a request without news waits for one.
	DefaultWait = 25 * time.Second
	maxWait     = time.Minute
	// pageEvents bounds the stored events one answer reads.
	pageEvents = 500
)

// Signal wakes the feed's waiting requests when the intake stores an event. The zero value is ready.
type Signal struct {
	mu sync.Mutex
	ch chan struct{}
}

// Notify wakes every current waiter.
func (s *Signal) Notify() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ch != nil {
		close(s.ch)
		s.ch = nil
	}
}

// wait returns a channel closed by the next Notify.
func (s *Signal) wait() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ch == nil {
		s.ch = make(chan struct{})
	}
	return s.ch
}

// Server serves the feed from a store.
type Server struct {
	store    store.Store
	signal   *Signal
	log      logr.Logger
	notified prometheus.Counter
	skipped  prometheus.Counter
}

// NewServer returns the feed's handler; signal is what the intake notifies after each stored event.
func NewServer(s store.Store, signal *Signal, registry prometheus.Registerer, log logr.Logger) (*Server, error) {
	srv := &Server{
		store: s, signal: signal, log: log,
		notified: prometheus.NewCounter(prometheus.CounterOpts{Name: "stripe_relay_notified_total",
			Help: "Events handed to the operator's feed: they concern an object it owns."}),
		skipped: prometheus.NewCounter(prometheus.CounterOpts{Name: "stripe_relay_notify_skipped_total",
			Help: "Stored events the feed passed over: not about an object the operator owns, or the echo of its own write."}),
	}
	for _, c := range []prometheus.Collector{srv.notified, srv.skipped} {
		if err := registry.Register(c); err != nil {
			return nil, fmt.Errorf("register feed metrics: %w", err)
		}
	}
	return srv, nil
}

// ServeHTTP answers GET /notifications?after=<seq>&wait=<duration>. Without after, it answers at once
// with the newest Seq as the cursor (a new follower starts from now: on start the operator observes
// every object anyway).
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		http.Error(w, "GET only", http.StatusMethodNotAllowed)
		return
	}
	wait := DefaultWait
	if v := r.URL.Query().Get("wait"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			http.Error(w, "wait: not a duration", http.StatusBadRequest)
			return
		}
		wait = min(d, maxWait)
	}
	var page Page
	var err error
	if v := r.URL.Query().Get("after"); v == "" {
		page.Next, err = s.store.LatestSeq(r.Context())
	} else {
		after, perr := strconv.ParseInt(v, 10, 64)
		if perr != nil || after < 0 {
			http.Error(w, "after: not a sequence number", http.StatusBadRequest)
			return
		}
		page, err = s.read(r.Context(), after, wait)
	}
	if err != nil {
		s.log.Error(err, "feed read failed")
		http.Error(w, "store read failed", http.StatusServiceUnavailable)
		return
	}
	if page.Notifications == nil {
		page.Notifications = []Notification{}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(page)
}

// read returns what follows after, waiting up to wait for a first stored event.
func (s *Server) read(ctx context.Context, after int64, wait time.Duration) (Page, error) {
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for {
		woken := s.signal.wait() // taken before the read, so an event stored meanwhile is not missed
		events, err := s.store.Since(ctx, after, pageEvents)
		if err != nil {
			return Page{}, err
		}
		if len(events) > 0 {
			page := Page{Next: events[len(events)-1].Seq}
			for _, stored := range events {
				if n, ok := notificationOf(stored); ok {
					page.Notifications = append(page.Notifications, n)
				}
			}
			s.notified.Add(float64(len(page.Notifications)))
			s.skipped.Add(float64(len(events) - len(page.Notifications)))
			return page, nil
		}
		if latest, err := s.store.LatestSeq(ctx); err != nil {
			return Page{}, err
		} else if latest < after {
			// The follower's cursor is past the store's end: the store is not the one it followed (a
			// new volume). It starts again from this store's end.
			return Page{Next: latest}, nil
		}
		select {
		case <-woken:
		case <-timer.C:
			return Page{Next: after}, nil
		case <-ctx.Done():
			return Page{Next: after}, nil
		}
	}
}
