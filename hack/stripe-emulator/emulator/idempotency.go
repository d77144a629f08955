package emulator

import (
	"fmt"
	"net/http"
	"sync"
	"time"
)

// Stripe's idempotency rules (https://stripe.com/docs/api/idempotent_requests):
// keys are scoped to the account, hold the first response (status and body,
// errors included) once the endpoint has started executing, are compared
// against the endpoint and parameters of every reuse, and are pruned after
// 24 hours. Only POST requests take keys; GET and DELETE are idempotent by
// definition and their keys have no effect.
const (
	idempotencyTTL       = 24 * time.Hour
	maxIdempotencyKeyLen = 255
)

type idemKey struct{ account, key string }

type idemRecord struct {
	endpoint    string // "POST /v1/products"
	fingerprint string
	created     time.Time
	done        bool
	status      int
	body        []byte
	header      http.Header
}

type idempotencyStore struct {
	mu        sync.Mutex
	records   map[idemKey]*idemRecord
	lastSweep time.Time
}

func newIdempotencyStore() *idempotencyStore {
	return &idempotencyStore{records: map[idemKey]*idemRecord{}}
}

func (s *idempotencyStore) reset() {
	s.mu.Lock()
	s.records = map[idemKey]*idemRecord{}
	s.mu.Unlock()
}

// begin claims key for a request. It returns the stored response to replay,
// or an error when the key is in use by a different request or still
// executing; (nil, nil) means the caller owns the key and must call finish
// or release.
func (s *idempotencyStore) begin(now time.Time, account, key, endpoint, fingerprint string) (*idemRecord, *Error) {
	if len(key) > maxIdempotencyKeyLen {
		return nil, InvalidRequest("", "Idempotency keys can be at most %d characters long.", maxIdempotencyKeyLen)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if now.Sub(s.lastSweep) > time.Hour {
		for k, r := range s.records {
			if r.done && now.Sub(r.created) >= idempotencyTTL {
				delete(s.records, k)
			}
		}
		s.lastSweep = now
	}
	k := idemKey{account, key}
	r := s.records[k]
	if r != nil && r.done && now.Sub(r.created) >= idempotencyTTL {
		delete(s.records, k)
		r = nil
	}
	if r == nil {
		s.records[k] = &idemRecord{endpoint: endpoint, fingerprint: fingerprint, created: now}
		return nil, nil
	}
	if r.endpoint != endpoint {
		return nil, newError(http.StatusBadRequest, TypeIdempotency, "", "", fmt.Sprintf(
			"Keys for idempotent requests can only be used for the same endpoint they were first used for ('%s' vs '%s'). "+
				"Try using a key other than '%s' if you meant to execute a different request.", r.endpoint, endpoint, key))
	}
	if r.fingerprint != fingerprint {
		return nil, newError(http.StatusBadRequest, TypeIdempotency, "", "", fmt.Sprintf(
			"Keys for idempotent requests can only be used with the same parameters they were first used with. "+
				"Try using a key other than '%s' if you meant to execute a different request.", key))
	}
	if !r.done {
		return nil, newError(http.StatusConflict, TypeIdempotency, "idempotency_key_in_use", "",
			"There is currently another in-progress request using this Stripe-Idempotency-Key. Please try again later.")
	}
	return r, nil
}

// finish stores the response of the request that owns key.
func (s *idempotencyStore) finish(account, key string, status int, header http.Header, body []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r := s.records[idemKey{account, key}]; r != nil {
		r.done, r.status, r.header, r.body = true, status, header, body
	}
}

// release forgets a key whose request never reached its endpoint (it was
// refused before executing, or crashed), so a retry runs afresh.
func (s *idempotencyStore) release(account, key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r := s.records[idemKey{account, key}]; r != nil && !r.done {
		delete(s.records, idemKey{account, key})
	}
}
