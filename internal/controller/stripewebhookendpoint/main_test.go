package stripewebhookendpoint_test

import (
	"os"
	"testing"

	"github.com/cloudip/stripe-operator/internal/controller/controllertest"
	"github.com/cloudip/stripe-operator/internal/testenv"
)

// env is the control plane every test of this package shares; each test has its own namespace,
// Stripe emulator, StripeConnection and manager.
var env *testenv.Env

func TestMain(m *testing.M) { os.Exit(controllertest.Run(m, &env)) }
