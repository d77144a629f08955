package main

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// The sinks of the delivery phases run in an OS process of their own (this binary with -serve sink,
// in its own process group, as the relay's server): -serve-sinks HTTP servers on 127.0.0.1, each a
// platform module that verifies every delivery with the Standard Webhooks Go library, answers 200,
// and keeps the time it first received each webhook-id (wall clock, Unix ns: the load generator's ack
// times are on the same machine's clock) and how many deliveries repeated an id already received.
const (
	sinkPath      = "/hook"
	sinkStatsPath = "/bench/sink"
)

// sinkServer is one sink's state.
type sinkServer struct {
	verifier *standardwebhooks.Webhook
	mu       sync.Mutex
	received map[string]int64 // webhook-id: first receipt, Unix ns
	dups     int64            // deliveries of an id already received
	bad      int64            // deliveries refused: the signature did not verify
	firstBad string
	conns    atomic.Int64 // TCP connections accepted (the deliverer's reuse of keep-alive connections)
}

// sinkStats is what GET /bench/sink answers: the counts and every id's first receipt.
type sinkStats struct {
	Distinct   int64            `json:"distinct"`
	Duplicates int64            `json:"duplicates"`
	Bad        int64            `json:"bad_signatures"`
	FirstBad   string           `json:"first_bad,omitempty"`
	Conns      int64            `json:"connections"`
	Received   map[string]int64 `json:"received,omitempty"` // id: Unix ns
}

func (s *sinkServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == sinkStatsPath {
		s.mu.Lock()
		st := sinkStats{Distinct: int64(len(s.received)), Duplicates: s.dups, Bad: s.bad, FirstBad: s.firstBad, Conns: s.conns.Load()}
		if r.URL.Query().Get("ids") != "" {
			st.Received = make(map[string]int64, len(s.received))
			for id, at := range s.received {
				st.Received[id] = at
			}
		}
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(st)
		return
	}
	at := time.Now().UnixNano()
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
	if err != nil {
		http.Error(w, "read_error", http.StatusBadRequest)
		return
	}
	if err := s.verifier.Verify(body, r.Header); err != nil {
		s.mu.Lock()
		s.bad++
		if s.firstBad == "" {
			s.firstBad = err.Error()
		}
		s.mu.Unlock()
		http.Error(w, "bad signature", http.StatusBadRequest)
		return
	}
	id := r.Header.Get("webhook-id")
	s.mu.Lock()
	if _, ok := s.received[id]; ok {
		s.dups++
	} else {
		s.received[id] = at
	}
	s.mu.Unlock()
	w.WriteHeader(http.StatusOK)
}

// runSinks is the sink process: n servers until SIGTERM. Its ready line lists their URLs, comma
// separated.
func runSinks(n int, secret string) error {
	if n <= 0 || secret == "" {
		return errors.New("-serve sink needs -serve-sinks > 0 and -serve-sink-secret")
	}
	var (
		urls    []string
		servers []*http.Server
	)
	served := make(chan error, n)
	for range n {
		wh, err := standardwebhooks.NewWebhook(secret)
		if err != nil {
			return fmt.Errorf("sink secret: %w", err)
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return fmt.Errorf("listen: %w", err)
		}
		sink := &sinkServer{verifier: wh, received: map[string]int64{}}
		srv := &http.Server{Handler: sink, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: time.Minute,
			ConnState: func(_ net.Conn, state http.ConnState) {
				if state == http.StateNew {
					sink.conns.Add(1)
				}
			}}
		servers = append(servers, srv)
		urls = append(urls, "http://"+ln.Addr().String())
		go func() { served <- srv.Serve(ln) }()
	}
	fmt.Printf("%s%s\n", readyPrefix, strings.Join(urls, ","))
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT)
	select {
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	case <-signals:
		for _, srv := range servers {
			_ = srv.Close()
		}
		return nil
	}
}

// readSinkStats is the load generator's side; withIDs asks for every id's receipt time.
func readSinkStats(client *http.Client, base string, withIDs bool) (sinkStats, error) {
	var s sinkStats
	u := base + sinkStatsPath
	if withIDs {
		u += "?ids=1"
	}
	resp, err := client.Get(u)
	if err != nil {
		return s, fmt.Errorf("read the sink's figures: %w", err)
	}
	defer func() { _ = resp.Body.Close() }()
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
		return s, fmt.Errorf("read the sink's figures: %w", err)
	}
	return s, nil
}

// newSinkSecret returns a Standard Webhooks secret: whsec_ and 32 random bytes in base64.
func newSinkSecret() string {
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	return "whsec_" + base64.StdEncoding.EncodeToString(key)
}
