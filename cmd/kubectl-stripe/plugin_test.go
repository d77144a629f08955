package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cloudip/stripe-operator/api/v1alpha1"
	"github.com/cloudip/stripe-operator/internal/controller/controllertest"
	"github.com/cloudip/stripe-operator/internal/testenv"
)

// Pins that the built binary is a kubectl plugin: kubectl finds kubectl-stripe on PATH and runs it
// for `kubectl stripe …`, which reads $KUBECONFIG as kubectl does, and says a connection the
// operator has not seen yet has no status.
func TestKubectlRunsThePlugin(t *testing.T) {
	ctx := context.Background()
	bin := t.TempDir()
	if err := testenv.BuildBinary(ctx, env.RepoRoot, "./cmd/kubectl-stripe", filepath.Join(bin, "kubectl-stripe")); err != nil {
		t.Fatal(err)
	}
	name := "plugin-" + strings.TrimPrefix(controllertest.Namespace(t, env, nil), "test-")
	connection := &v1alpha1.StripeConnection{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: v1alpha1.StripeConnectionSpec{
			SecretRef: v1alpha1.SecretKeySelector{Namespace: controllertest.SecretNamespace, Name: name + "-key", Key: "apiKey"},
			Mode:      v1alpha1.StripeModeTest, Region: v1alpha1.RegionEU, AllowedNamespaces: &metav1.LabelSelector{},
		},
	}
	if err := env.Client.Create(ctx, connection); err != nil {
		t.Fatal(err)
	}
	kubectl := exec.CommandContext(ctx, env.KubectlPath(), "stripe", "status", "connection/"+name)
	kubectl.Env = append(os.Environ(), "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"), "KUBECONFIG="+env.KubeconfigPath)
	var stdout, stderr bytes.Buffer
	kubectl.Stdout, kubectl.Stderr = &stdout, &stderr
	if err := kubectl.Run(); err != nil {
		t.Fatalf("kubectl stripe: %v\n%s", err, stderr.String())
	}
	want := "StripeConnection/" + name + "\n" +
		"├─ Account: not verified yet\n" +
		"└─ API key: Secret " + controllertest.SecretNamespace + "/" + name + "-key, key apiKey (test mode)\n" +
		"next: no status yet: the operator has not reconciled it; check that it runs\n"
	if stdout.String() != want {
		t.Errorf("kubectl stripe status printed:\n%s\nwant:\n%s", stdout.String(), want)
	}
}
