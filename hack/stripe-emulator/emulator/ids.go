package emulator

import (
	"crypto/rand"
	"math/big"
)

const idAlphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// NewID returns prefix_ followed by 24 random base62 characters, the shape of
// Stripe's current ids (price_1OPouiJN5vQBdWExAQaqTooZ). Ids come from
// crypto/rand rather than the fault seed: they must never repeat across
// emulators or resets, and nothing about a fault run depends on them.
func NewID(prefix string) string {
	return prefix + "_" + randomString(24)
}

func randomString(n int) string {
	b := make([]byte, n)
	max := big.NewInt(int64(len(idAlphabet)))
	for i := range b {
		v, err := rand.Int(rand.Reader, max)
		if err != nil {
			panic("stripe-emulator: crypto/rand failed: " + err.Error())
		}
		b[i] = idAlphabet[v.Int64()]
	}
	return string(b)
}
