package emulator

import (
	"fmt"
	"sync"
	"time"
)

// Store holds every Stripe object: one scope per account, one collection per
// object kind, ordered by `created` then insertion (Stripe lists newest
// first). It is guarded
// by one RWMutex: handlers are short and in memory, so serialising writes
// costs nothing measurable and makes every multi-object rule (moving a
// lookup key between prices) atomic without per-object locks.
type Store struct {
	mu     sync.RWMutex
	scopes map[string]*scope
	seq    uint64
	// retain is how long a superseded version of an object is kept so that
	// search can still see the version its index holds (search lag).
	retain time.Duration
}

type scope struct {
	colls map[string]*collection
}

type collection struct {
	byID map[string]*entry
	// order is oldest first: by `created`, then by insertion (see
	// insertOrdered); removed entries are compacted lazily.
	order []*entry
	dead  int
}

type entry struct {
	seq      uint64
	obj      Object
	removed  bool
	versions []version // what the search index has seen, oldest first
}

type version struct {
	at  time.Time
	obj Object
}

func newStore(retain time.Duration) *Store {
	return &Store{scopes: map[string]*scope{}, retain: retain}
}

// reset drops every object.
func (s *Store) reset() {
	s.mu.Lock()
	s.scopes = map[string]*scope{}
	s.mu.Unlock()
}

func (s *Store) setRetain(d time.Duration) {
	s.mu.Lock()
	if d > s.retain {
		s.retain = d
	}
	s.mu.Unlock()
}

// Read runs fn in a read-only transaction scoped to account.
func (s *Store) Read(account string, now time.Time, fn func(tx *Tx) error) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return fn(&Tx{store: s, Account: account, now: now})
}

// Write runs fn in a read-write transaction scoped to account. If fn
// returns an error (or panics) every write it made is undone; otherwise the
// AfterCommit callbacks run, in order, after the lock is released.
func (s *Store) Write(account string, now time.Time, fn func(tx *Tx) error) (err error) {
	tx := &Tx{store: s, Account: account, now: now, writable: true}
	s.mu.Lock()
	committed := false
	defer func() {
		if !committed {
			for i := len(tx.undo) - 1; i >= 0; i-- {
				tx.undo[i]()
			}
		}
		s.mu.Unlock()
		if committed {
			for _, f := range tx.after {
				f()
			}
		}
	}()
	if err = fn(tx); err != nil {
		return err
	}
	committed = true
	// Compact while still holding the write lock and only after commit:
	// an entry removed by this transaction must stay in the order slice
	// until nothing can undo its removal.
	for c := range tx.touched {
		if c.dead > 64 && c.dead > len(c.order)/2 {
			c.compact()
		}
	}
	return nil
}

// Tx is one transaction over the store. Objects it returns are copies; to
// change an object, change the copy and pass it to Update.
type Tx struct {
	store *Store
	// Account is the scope the request runs in: the platform account, or
	// the connected account named by Stripe-Account.
	Account  string
	now      time.Time
	writable bool
	undo     []func()
	after    []func()
	touched  map[*collection]bool
}

// Now is the emulator clock's time at the start of the transaction; every
// timestamp written by one request agrees.
func (tx *Tx) Now() time.Time { return tx.now }

// AfterCommit registers f to run once the transaction has committed.
func (tx *Tx) AfterCommit(f func()) { tx.after = append(tx.after, f) }

func (tx *Tx) coll(account, kind string, create bool) *collection {
	sc := tx.store.scopes[account]
	if sc == nil {
		if !create {
			return nil
		}
		sc = &scope{colls: map[string]*collection{}}
		tx.store.scopes[account] = sc
	}
	c := sc.colls[kind]
	if c == nil && create {
		c = &collection{byID: map[string]*entry{}}
		sc.colls[kind] = c
	}
	if c != nil && tx.writable {
		if tx.touched == nil {
			tx.touched = map[*collection]bool{}
		}
		tx.touched[c] = true
	}
	return c
}

// Get returns a copy of the object kind/id in the transaction's account.
func (tx *Tx) Get(kind, id string) (Object, bool) { return tx.GetIn(tx.Account, kind, id) }

// GetIn returns a copy of the object kind/id in account.
func (tx *Tx) GetIn(account, kind, id string) (Object, bool) {
	c := tx.coll(account, kind, false)
	if c == nil {
		return nil, false
	}
	e := c.byID[id]
	if e == nil || e.removed {
		return nil, false
	}
	return e.obj.Clone(), true
}

func (tx *Tx) mustWrite() {
	if !tx.writable {
		panic("stripe-emulator: write in a read-only transaction")
	}
}

// Insert stores a new object (its id must be unused) in the transaction's
// account.
func (tx *Tx) Insert(kind string, obj Object) error { return tx.InsertIn(tx.Account, kind, obj) }

// InsertIn stores a new object in account.
func (tx *Tx) InsertIn(account, kind string, obj Object) error {
	tx.mustWrite()
	c := tx.coll(account, kind, true)
	id := obj.ID()
	if id == "" {
		return fmt.Errorf("insert %s without id", kind)
	}
	if old := c.byID[id]; old != nil && !old.removed {
		return fmt.Errorf("insert %s %s: id already used", kind, id)
	}
	tx.store.seq++
	e := &entry{seq: tx.store.seq, obj: obj.Clone()}
	e.versions = []version{{at: tx.now, obj: e.obj}}
	prevEntry := c.byID[id]
	c.byID[id] = e
	c.insertOrdered(e)
	tx.undo = append(tx.undo, func() {
		e.removed = true
		c.dead++
		if prevEntry != nil {
			c.byID[id] = prevEntry
		} else {
			delete(c.byID, id)
		}
	})
	return nil
}

// Update replaces an existing object in the transaction's account.
func (tx *Tx) Update(kind string, obj Object) error { return tx.UpdateIn(tx.Account, kind, obj) }

// UpdateIn replaces an existing object in account.
func (tx *Tx) UpdateIn(account, kind string, obj Object) error {
	tx.mustWrite()
	c := tx.coll(account, kind, false)
	var e *entry
	if c != nil {
		e = c.byID[obj.ID()]
	}
	if e == nil || e.removed {
		return fmt.Errorf("update %s %s: no such object", kind, obj.ID())
	}
	oldObj, oldVersions := e.obj, e.versions
	e.obj = obj.Clone()
	e.versions = tx.store.pruneVersions(append(append([]version(nil), oldVersions...), version{at: tx.now, obj: e.obj}), tx.now)
	tx.undo = append(tx.undo, func() { e.obj, e.versions = oldObj, oldVersions })
	return nil
}

// pruneVersions drops versions that no search can see any more: a version
// is dead once its successor is older than the retention window.
func (s *Store) pruneVersions(vs []version, now time.Time) []version {
	cut := now.Add(-s.retain)
	i := 0
	for i+1 < len(vs) && !vs[i+1].at.After(cut) {
		i++
	}
	return vs[i:]
}

// Delete removes an object from the transaction's account.
func (tx *Tx) Delete(kind, id string) error { return tx.DeleteIn(tx.Account, kind, id) }

// DeleteIn removes an object from account.
func (tx *Tx) DeleteIn(account, kind, id string) error {
	tx.mustWrite()
	c := tx.coll(account, kind, false)
	var e *entry
	if c != nil {
		e = c.byID[id]
	}
	if e == nil || e.removed {
		return fmt.Errorf("delete %s %s: no such object", kind, id)
	}
	e.removed = true
	c.dead++
	tx.undo = append(tx.undo, func() { e.removed = false; c.dead-- })
	return nil
}

// Scan calls fn with every live object of kind in the transaction's account,
// newest first, until fn returns false. The objects are the stored ones:
// fn must not modify them (Clone what you keep).
func (tx *Tx) Scan(kind string, fn func(Object) bool) { tx.ScanIn(tx.Account, kind, fn) }

// ScanIn is Scan over account.
func (tx *Tx) ScanIn(account, kind string, fn func(Object) bool) {
	c := tx.coll(account, kind, false)
	if c == nil {
		return
	}
	for i := len(c.order) - 1; i >= 0; i-- {
		e := c.order[i]
		if e.removed {
			continue
		}
		if !fn(e.obj) {
			return
		}
	}
}

// ScanIndexed is Scan as the search index sees it: for each live object, fn
// receives the newest version indexed at or before cutoff (objects created
// after cutoff are skipped) and the current object. Both are read-only.
func (tx *Tx) ScanIndexed(kind string, cutoff time.Time, fn func(indexed, current Object) bool) {
	c := tx.coll(tx.Account, kind, false)
	if c == nil {
		return
	}
	for i := len(c.order) - 1; i >= 0; i-- {
		e := c.order[i]
		if e.removed {
			continue
		}
		var seen Object
		for j := len(e.versions) - 1; j >= 0; j-- {
			if !e.versions[j].at.After(cutoff) {
				seen = e.versions[j].obj
				break
			}
		}
		if seen == nil {
			continue
		}
		if !fn(seen, e.obj) {
			return
		}
	}
}

// createdOf returns an object's `created` timestamp, if it has one.
func createdOf(o Object) (int64, bool) {
	switch v := o["created"].(type) {
	case int64:
		return v, true
	case int:
		return int64(v), true
	case float64:
		return int64(v), true
	}
	return 0, false
}

// insertOrdered adds e to the order, keeping it sorted by `created` (Stripe
// lists "in reverse chronological order", by creation date) and, among
// objects created in the same second, by insertion, so the later one is
// listed first (Stripe documents no tie order; insertion keeps pages
// stable). Usually e is the newest and is appended; an object created
// earlier than ones already stored — the emulator clock was set back, or a
// request took its timestamp before a concurrent one committed — goes where
// its `created` belongs. Objects without `created` are appended.
func (c *collection) insertOrdered(e *entry) {
	i := len(c.order)
	if t, ok := createdOf(e.obj); ok {
		for i > 0 {
			if pt, ok := createdOf(c.order[i-1].obj); ok && pt > t {
				i--
				continue
			}
			break
		}
	}
	c.order = append(c.order, nil)
	copy(c.order[i+1:], c.order[i:])
	c.order[i] = e
}

// compact drops removed entries from the order. It runs under the
// write lock, so no reader holds the slice.
func (c *collection) compact() {
	live := c.order[:0:0]
	for _, e := range c.order {
		if !e.removed {
			live = append(live, e)
		}
	}
	c.order = live
	c.dead = 0
}
