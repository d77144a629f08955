// Package e2e proves the event path end to end on the real parts: the envtest control plane, the
// Stripe emulator delivering signed webhooks over HTTP, the relay as its own OS process (./cmd/relay,
// with --kubeconfig, as a person runs it), and the manager following the relay's feed.
package e2e

import (
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/cloudip/stripe-operator/internal/controller/controllertest"
	"github.com/cloudip/stripe-operator/internal/testenv"
)

// env is the control plane the package's tests share.
var env *testenv.Env

// relayBuild is the relay binary the package's tests share, built on first use.
var relayBuild struct {
	once sync.Once
	path string
	err  error
}

func TestMain(m *testing.M) {
	code := controllertest.Run(m, &env)
	if relayBuild.path != "" {
		_ = os.RemoveAll(filepath.Dir(relayBuild.path))
	}
	os.Exit(code)
}
