package emulator

import (
	"errors"
	"testing"
)

// The store undoes every write of a failed transaction and keeps list order
// newest first across deletes and compaction.
func TestStoreRollbackAndOrder(t *testing.T) {
	s := newStore(0)
	put := func(ids ...string) error {
		return s.Write("acct", testEpoch, func(tx *Tx) error {
			for _, id := range ids {
				if err := tx.Insert("thing", Object{"id": id, "object": "thing"}); err != nil {
					return err
				}
			}
			return nil
		})
	}
	if err := put("a", "b", "c"); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	err := s.Write("acct", testEpoch, func(tx *Tx) error {
		_ = tx.Insert("thing", Object{"id": "d", "object": "thing"})
		_ = tx.Update("thing", Object{"id": "a", "object": "thing", "changed": true})
		_ = tx.Delete("thing", "b")
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatal(err)
	}
	list := func() (ids []string) {
		_ = s.Read("acct", testEpoch, func(tx *Tx) error {
			tx.Scan("thing", func(o Object) bool { ids = append(ids, o.ID()); return true })
			if a, _ := tx.Get("thing", "a"); a.Bool("changed") {
				t.Fatal("update not undone")
			}
			return nil
		})
		return ids
	}
	if got := list(); len(got) != 3 || got[0] != "c" || got[2] != "a" {
		t.Fatalf("after rollback: %v", got)
	}
	// Many deletes trigger compaction; order survives.
	var many []string
	for i := 0; i < 200; i++ {
		many = append(many, "x"+string(rune('A'+i%26))+string(rune('a'+i/26)))
	}
	if err := put(many...); err != nil {
		t.Fatal(err)
	}
	_ = s.Write("acct", testEpoch, func(tx *Tx) error {
		for _, id := range many {
			_ = tx.Delete("thing", id)
		}
		return nil
	})
	if got := list(); len(got) != 3 || got[0] != "c" {
		t.Fatalf("after compaction: %v", got)
	}
	// Objects handed out are copies.
	_ = s.Read("acct", testEpoch, func(tx *Tx) error {
		o, _ := tx.Get("thing", "a")
		o["mutated"] = true
		return nil
	})
	_ = s.Read("acct", testEpoch, func(tx *Tx) error {
		if o, _ := tx.Get("thing", "a"); o.Bool("mutated") {
			t.Fatal("Get returned the stored object")
		}
		return nil
	})
}
