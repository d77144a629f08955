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

// Package v1alpha1 contains the API types of the payments.cloudip.io group: a StripeConnection
// (cluster-scoped, one Stripe platform account) and the namespaced kinds that declare objects in it:
// StripeTenant, BillingPlan, StripeWebhookEndpoint and StripeEventSink.
//
// Every kind but StripeConnection embeds ManagedSpec in its spec, and every kind embeds ManagedStatus
// in its status, so one generic reconciler can drive them all through the Managed interface.
//
// +kubebuilder:object:generate=true
// +groupName=payments.cloudip.io
package v1alpha1

import (
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/scheme"
)

var (
	// GroupVersion is the group and version used to register these objects.
	GroupVersion = schema.GroupVersion{Group: "payments.cloudip.io", Version: "v1alpha1"}

	// SchemeBuilder is used to add Go types to the GroupVersionKind scheme. It is kubebuilder's
	// scaffold; staticcheck flags the helper as deprecated for api packages that want no
	// controller-runtime dependency, which this one accepts in exchange for the conventional layout.
	SchemeBuilder = &scheme.Builder{GroupVersion: GroupVersion} //nolint:staticcheck // see above

	// AddToScheme adds the types in this group-version to the given scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)
