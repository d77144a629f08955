package main

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"

	"github.com/cloudip/stripe-operator/internal/controller/controllertest"
	"github.com/cloudip/stripe-operator/internal/testenv"
)

// env is the control plane every test of this package shares; each test that needs the operator has
// its own namespace, Stripe emulator, StripeConnection and manager (controllertest.Rig).
var env *testenv.Env

func TestMain(m *testing.M) { os.Exit(controllertest.Run(m, &env)) }

// plugin runs `kubectl stripe args…` in-process, as the binary would, against the test control
// plane's kubeconfig, and returns stdout and stderr.
func plugin(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	cmd := newRootCommand()
	var out, errOut bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SetArgs(append(args, "--kubeconfig", env.KubeconfigPath))
	err = cmd.ExecuteContext(context.Background())
	return out.String(), errOut.String(), err
}

// mustPlugin is plugin for a command that must succeed; it returns stdout.
func mustPlugin(t *testing.T, args ...string) string {
	t.Helper()
	out, errOut, err := plugin(t, args...)
	if err != nil {
		t.Fatalf("kubectl stripe %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, out, errOut)
	}
	return out
}

// lineWith returns the first line of out containing want, or fails.
func lineWith(t *testing.T, out, want string) string {
	t.Helper()
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, want) {
			return line
		}
	}
	t.Fatalf("no line with %q in:\n%s", want, out)
	return ""
}

// nextLine returns the "next:" line of a status output.
func nextLine(t *testing.T, out string) string {
	t.Helper()
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	last := lines[len(lines)-1]
	if !strings.HasPrefix(last, "next: ") {
		t.Fatalf("the last line is not a next: line:\n%s", out)
	}
	return last
}
