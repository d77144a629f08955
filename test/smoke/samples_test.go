/*
Copyright 2026 CloudIP.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

package smoke

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSamplesApply applies every sample with kubectl apply --server-side, as the samples' comments tell
// people to, then checks the defaults the API server filled in and that kubectl get shows them.
func TestSamplesApply(t *testing.T) {
	ns, err := env.CreateNamespace(context.Background(), "smoke-samples-", map[string]string{"payments.cloudip.io/stripe-test": "allowed"})
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(env.RepoRoot, "config", "samples")
	files, err := filepath.Glob(filepath.Join(dir, "payments_v1alpha1_*.yaml"))
	if err != nil || len(files) != 7 {
		t.Fatalf("want one sample per kind (7), got %v (%v)", files, err)
	}
	kustomization, err := os.ReadFile(filepath.Join(dir, "kustomization.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			if !strings.Contains(string(kustomization), filepath.Base(f)) {
				t.Errorf("config/samples/kustomization.yaml does not list %s", filepath.Base(f))
			}
			out, err := env.Kubectl("apply", "--server-side", "-n", ns, "-f", f)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(out, "serverside-applied") {
				t.Errorf("unexpected output: %s", out)
			}
		})
	}
	t.Run("kustomization-reapplies-unchanged", func(t *testing.T) {
		if _, err := env.Kubectl("apply", "--server-side", "-n", ns, "-k", dir); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("defaults", func(t *testing.T) {
		for _, c := range []struct{ resource, jsonpath, want string }{
			{"billingplan/cloudip-platform", "{.spec.deletionPolicy}/{.spec.managementPolicy}", "Delete/Manage"},
			// No API-server default for deletionPolicy: the kind decides (Orphan for a tenant, see
			// v1alpha1.DeletionPolicyOf).
			{"stripetenant/acme", "{.spec.deletionPolicy}/{.spec.managementPolicy}", "/Manage"},
			{"stripetenant/acme", "{.spec.subscription.prorationBehavior}/{.spec.subscription.collectionMethod}/{.spec.subscriptionCancellation}", "create_prorations/charge_automatically/AtPeriodEnd"},
			{"billingplan/cloudip-platform", "{.spec.prices[0].recurring.intervalCount}/{.spec.prices[0].recurring.usageType}/{.spec.prices[0].active}", "1/licensed/true"},
			{"stripewebhookendpoint/stripe-connect-events", "{.spec.connect}", "true"},
			{"stripeeventsink/general-ledger-eu", "{.spec.format}", "ledger"},
			// The sample sets no delivery: the API server fills in the whole block.
			{"stripeeventsink/general-ledger-eu", "{.spec.delivery.maxInFlight}/{.spec.delivery.requestsPerSecond}/{.spec.delivery.retryHorizon}/{.spec.delivery.timeout}", "4/50/72h/10s"},
			{"stripeeventreplay/general-ledger-eu-2026-03-01", "{.spec.selection}", "DeadLettered"},
			// The sample sets no revalidation nor objectTypes: the API server fills in the block (every
			// type is kept: objectTypes stays empty).
			{"stripemirror/stripe-test-eu", "{.spec.revalidation.interval}/{.spec.revalidation.sampleSize}/{.spec.objectTypes}", "1h/100/"},
			{"stripeconnection/stripe-test", "{.spec.secretRef.key}/{.spec.mode}", "apiKey/test"},
		} {
			out, err := env.Kubectl("get", "-n", ns, c.resource, "-o", "jsonpath="+c.jsonpath)
			if err != nil {
				t.Fatal(err)
			}
			if out != c.want {
				t.Errorf("%s %s = %q, want %q", c.resource, c.jsonpath, out, c.want)
			}
		}
	})
	t.Run("kubectl-get-category", func(t *testing.T) {
		out, err := env.Kubectl("get", "stripe", "-n", ns)
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range []string{"billingplan.payments.cloudip.io/cloudip-platform", "stripetenant.payments.cloudip.io/acme", "stripemirror.payments.cloudip.io/stripe-test-eu", "CHARGES", "PAYOUTS", "MODE", "REGION", "SCHEMA"} {
			if !strings.Contains(out, w) {
				t.Errorf("kubectl get stripe lacks %q:\n%s", w, out)
			}
		}
	})
}

// TestKustomize builds config/default and config/samples with the control plane's kubectl and checks
// the result with a server-side dry run.
func TestKustomize(t *testing.T) {
	if _, err := os.Stat(filepath.Join(env.RepoRoot, "config", "rbac", "role.yaml")); err != nil {
		t.Skip("config/rbac/role.yaml is not generated yet: it appears with the first +kubebuilder:rbac marker in internal/controller (make manifests)")
	}
	out, err := env.Kubectl("kustomize", filepath.Join(env.RepoRoot, "config", "default"))
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{
		"name: stripe-operator-system", "name: stripe-operator-controller-manager", "readOnlyRootFilesystem: true",
		"runAsNonRoot: true", "path: /healthz", "path: /readyz", "--metrics-bind-address=:8443", "kind: CustomResourceDefinition",
	} {
		if !strings.Contains(out, w) {
			t.Errorf("kubectl kustomize config/default lacks %q", w)
		}
	}
	// A server-side dry run does not create the namespace the other objects go to: create it first.
	// (apply, not create: the test may run again on the same control plane with -count.)
	if _, err := env.KubectlInput("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: stripe-operator-system\n", "apply", "-f", "-"); err != nil {
		t.Fatal(err)
	}
	if dry, err := env.KubectlInput(out, "apply", "--server-side", "--dry-run=server", "-f", "-"); err != nil {
		t.Fatalf("the API server refuses config/default: %v\n%s", err, dry)
	}
}
