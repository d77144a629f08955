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
	"testing"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// TestCRDsInstall checks that every CRD is established with the scope, names and columns users rely on.
func TestCRDsInstall(t *testing.T) {
	want := map[string]struct {
		kind    string
		scope   apiextensionsv1.ResourceScope
		columns []string
	}{
		"stripeconnections.payments.cloudip.io":      {"StripeConnection", apiextensionsv1.ClusterScoped, []string{"Ready", "Synced", "Account", "Mode", "Region", "Age"}},
		"stripetenants.payments.cloudip.io":          {"StripeTenant", apiextensionsv1.NamespaceScoped, []string{"Ready", "Synced", "Account", "Charges", "Payouts", "Subscription", "Reason", "Age"}},
		"billingplans.payments.cloudip.io":           {"BillingPlan", apiextensionsv1.NamespaceScoped, []string{"Ready", "Synced", "Product", "Age"}},
		"stripewebhookendpoints.payments.cloudip.io": {"StripeWebhookEndpoint", apiextensionsv1.NamespaceScoped, []string{"Ready", "Synced", "Endpoint", "URL", "Age"}},
		"stripeeventsinks.payments.cloudip.io":       {"StripeEventSink", apiextensionsv1.NamespaceScoped, []string{"Ready", "Region", "Format", "Pending", "Dead", "Age", "Delivered", "Reason", "URL"}},
		"stripeeventreplays.payments.cloudip.io":     {"StripeEventReplay", apiextensionsv1.NamespaceScoped, []string{"Sink", "Selection", "Phase", "Requeued", "Age"}},
		"stripemirrors.payments.cloudip.io":          {"StripeMirror", apiextensionsv1.NamespaceScoped, []string{"Ready", "Backfilled", "Region", "Schema", "Rows", "Lag", "Age", "Reason"}},
	}
	for name, w := range want {
		t.Run(w.kind, func(t *testing.T) {
			var crd apiextensionsv1.CustomResourceDefinition
			if err := env.Client.Get(context.Background(), client.ObjectKey{Name: name}, &crd); err != nil {
				t.Fatalf("get CRD %s: %v", name, err)
			}
			if crd.Spec.Names.Kind != w.kind || crd.Spec.Scope != w.scope {
				t.Errorf("kind %q scope %q, want %q %q", crd.Spec.Names.Kind, crd.Spec.Scope, w.kind, w.scope)
			}
			established := false
			for _, c := range crd.Status.Conditions {
				if c.Type == apiextensionsv1.Established && c.Status == apiextensionsv1.ConditionTrue {
					established = true
				}
			}
			if !established {
				t.Errorf("CRD %s is not Established: %+v", name, crd.Status.Conditions)
			}
			if len(crd.Spec.Versions) != 1 || !crd.Spec.Versions[0].Served || !crd.Spec.Versions[0].Storage ||
				crd.Spec.Versions[0].Subresources == nil || crd.Spec.Versions[0].Subresources.Status == nil {
				t.Fatalf("want one served, stored v1alpha1 version with a status subresource, got %+v", crd.Spec.Versions)
			}
			have := map[string]apiextensionsv1.CustomResourceColumnDefinition{}
			for _, c := range crd.Spec.Versions[0].AdditionalPrinterColumns {
				have[c.Name] = c
			}
			for _, c := range w.columns {
				if _, ok := have[c]; !ok {
					t.Errorf("printer column %q missing", c)
				}
			}
			// Every kind with a Ready condition has a Reason column (kubectl get -o wide) showing Ready's
			// reason, so a paused or blocked object reads as such rather than as the last reconcile's
			// outcome. A StripeEventReplay has no Ready condition (its phase says where it stands).
			if r, ok := have["Reason"]; w.kind != "StripeEventReplay" && (!ok || r.JSONPath != `.status.conditions[?(@.type=="Ready")].reason` || r.Priority != 1) {
				t.Errorf("Reason column = %+v, want Ready's reason at priority 1", r)
			}
			if !contains(crd.Spec.Names.Categories, "stripe") {
				t.Errorf("category stripe missing: %v", crd.Spec.Names.Categories)
			}
		})
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
