package stripeconnection_test

import (
	"fmt"
	"os"
	"testing"

	"github.com/cloudip/stripe-operator/internal/testenv"
)

// env is the control plane every test of this package shares.
var env *testenv.Env

func TestMain(m *testing.M) {
	var err error
	if env, err = testenv.Start(testenv.Options{}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	if err := env.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, err)
	}
	os.Exit(code)
}
