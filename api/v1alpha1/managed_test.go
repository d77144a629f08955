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

package v1alpha1

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestManagedHelpers(t *testing.T) {
	objs := map[string]Managed{
		"StripeConnection":      &StripeConnection{},
		"StripeTenant":          &StripeTenant{},
		"BillingPlan":           &BillingPlan{},
		"StripeWebhookEndpoint": &StripeWebhookEndpoint{},
		"StripeEventSink":       &StripeEventSink{},
	}
	for kind, obj := range objs {
		t.Run(kind, func(t *testing.T) {
			if (obj.GetManagedSpec() == nil) != (kind == "StripeConnection") {
				t.Errorf("GetManagedSpec() nil = %v; only a StripeConnection has none", obj.GetManagedSpec() == nil)
			}
			wantPolicy := DeletionPolicyDelete
			if kind == "StripeTenant" {
				wantPolicy = DeletionPolicyOrphan // the tenant's money and history live in Stripe
			}
			if got := DeletionPolicyOf(obj); got != wantPolicy {
				t.Errorf("DeletionPolicyOf unset = %q, want %q", got, wantPolicy)
			}
			if s := obj.GetManagedSpec(); s != nil {
				s.DeletionPolicy = DeletionPolicyDelete
				if got := DeletionPolicyOf(obj); got != DeletionPolicyDelete {
					t.Errorf("DeletionPolicyOf set to Delete = %q", got)
				}
				s.DeletionPolicy = DeletionPolicyOrphan
				if got := DeletionPolicyOf(obj); got != DeletionPolicyOrphan {
					t.Errorf("DeletionPolicyOf set to Orphan = %q", got)
				}
				s.DeletionPolicy = ""
			}
			if ObserveOnly(obj) {
				t.Error("ObserveOnly with managementPolicy unset")
			}

			obj.SetGeneration(2)
			ready := metav1.Condition{Type: ConditionReady, Status: metav1.ConditionTrue, Reason: ReasonAvailable, ObservedGeneration: 1}
			if !obj.GetManagedStatus().SetCondition(ready) {
				t.Fatal("SetCondition reported no change on a new condition")
			}
			if len(obj.GetConditions()) != 1 {
				t.Fatalf("the condition set through GetManagedStatus is not in GetConditions: %+v", obj.GetConditions())
			}
			if IsReady(obj) {
				t.Error("IsReady with a Ready condition of an older generation")
			}
			ready.ObservedGeneration = 2
			obj.GetManagedStatus().SetCondition(ready)
			if !IsReady(obj) {
				t.Error("IsReady = false with Ready=True of the current generation")
			}
			obj.SetConditions(nil)
			if obj.GetManagedStatus().GetCondition(ConditionReady) != nil {
				t.Error("SetConditions(nil) left a condition")
			}

			if GetExternalName(obj) != "" || IsPaused(obj) {
				t.Error("external name or paused on a fresh object")
			}
			SetExternalName(obj, "acct_123")
			obj.SetAnnotations(map[string]string{AnnotationExternalName: GetExternalName(obj), AnnotationPaused: "true"})
			if GetExternalName(obj) != "acct_123" || !IsPaused(obj) {
				t.Errorf("annotations = %v", obj.GetAnnotations())
			}
		})
	}
	if (&StripeWebhookEndpoint{ObjectMeta: metav1.ObjectMeta{Name: "hooks"}}).SigningSecretName() != "hooks-signing-secret" {
		t.Error("SigningSecretName default")
	}
	tenant := &StripeTenant{ObjectMeta: metav1.ObjectMeta{Name: "acme"}}
	if got := tenant.OnboardingLinkSecretName(); got != "acme-onboarding-link" {
		t.Errorf("OnboardingLinkSecretName default = %q", got)
	}
	tenant.Spec.Onboarding = &Onboarding{LinkSecretName: "links"}
	if got := tenant.OnboardingLinkSecretName(); got != "links" {
		t.Errorf("OnboardingLinkSecretName = %q, want spec.onboarding.linkSecretName", got)
	}
}
