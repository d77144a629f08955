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
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// AnnotationOnboardingLinkRequested asks the operator for a Stripe-hosted onboarding link: a person
// sets it to any new value (a timestamp by convention, e.g. 2026-05-04T10:00:00Z) and the operator
// writes the link's URL and expiry into the Secret named by status.onboardingLink.secretName.
// status.onboardingLink.requestedAt records the value a link answered, so a value already answered
// asks for nothing; a new value after the link expired gets a fresh one, an unexpired link is kept.
const AnnotationOnboardingLinkRequested = "payments.cloudip.io/onboarding-link-requested-at"

// Condition types a StripeTenant reports besides Ready and Synced.
const (
	// ConditionOnboardingComplete is True when the account's details are submitted and nothing is
	// currently or past due.
	ConditionOnboardingComplete = "OnboardingComplete"
	// ConditionChargesEnabled is True when the account can create charges.
	ConditionChargesEnabled = "ChargesEnabled"
	// ConditionPayoutsEnabled is True when Stripe can pay out to the account's bank.
	ConditionPayoutsEnabled = "PayoutsEnabled"
	// ConditionSubscriptionActive is True when the tenant's platform subscription is active or
	// trialing.
	ConditionSubscriptionActive = "SubscriptionActive"
)

// Condition reasons of a StripeTenant (and of the objects on its account).
const (
	// ReasonResidencyMismatch: spec.dataResidency differs from the connection's region; no Stripe call
	// is made.
	ReasonResidencyMismatch = "ResidencyMismatch"
	// ReasonDeletionBlocked: Stripe's rules forbid deleting the account (live Standard account,
	// Stripe liable for losses, a balance left); the finalizer stays until a person acts.
	ReasonDeletionBlocked = "DeletionBlocked"
	// ReasonRequirementsDue: Stripe needs information from the tenant (requirements.currentlyDue).
	ReasonRequirementsDue = "RequirementsDue"
	// ReasonRequirementsPastDue: required information was not given by the deadline; the account is
	// restricted until it is.
	ReasonRequirementsPastDue = "RequirementsPastDue"
	// ReasonPendingVerification: everything is submitted and Stripe is verifying it; nothing to do but
	// wait.
	ReasonPendingVerification = "PendingVerification"
	// ReasonOnboardingComplete: the account's details are submitted and nothing is due.
	ReasonOnboardingComplete = "Complete"
	// ReasonEnabled: the capability (charges, payouts) is enabled.
	ReasonEnabled = "Enabled"
	// ReasonDisabled: the capability (charges, payouts) is disabled; the message says why
	// (requirements.disabledReason).
	ReasonDisabled = "Disabled"
	// ReasonSubscriptionActive: the subscription is active.
	ReasonSubscriptionActive = "Active"
	// ReasonSubscriptionTrialing: the subscription is in its free trial.
	ReasonSubscriptionTrialing = "Trialing"
	// ReasonSubscriptionPastDue: an invoice is unpaid (past_due or unpaid); the message names it and
	// what the customer must do.
	ReasonSubscriptionPastDue = "PastDue"
	// ReasonSubscriptionIncomplete: the first payment has not succeeded yet (incomplete).
	ReasonSubscriptionIncomplete = "Incomplete"
	// ReasonSubscriptionCanceled: the subscription has ended (canceled, or incomplete_expired when its
	// first invoice was never paid); a new one is created while spec.subscription is set.
	ReasonSubscriptionCanceled = "Canceled"
	// ReasonSubscriptionPaused: the subscription is paused (its trial ended without a payment method
	// and the platform pauses such subscriptions); the customer must add one to resume it.
	ReasonSubscriptionPaused = "SubscriptionPaused"
	// ReasonNoSubscription: spec.subscription is not set.
	ReasonNoSubscription = "NoSubscription"
	// ReasonPlanNotAllowed: the plan cannot be subscribed to: it lives on a tenant's connected account
	// (spec.tenantRef), or on another StripeConnection than the tenant. (The reference is local, so a
	// plan of another namespace cannot be named; a missing price key is Terminal.)
	ReasonPlanNotAllowed = "PlanNotAllowed"
	// ReasonLinkNotAvailable: an onboarding link cannot be made (no spec.onboarding, or an
	// account_update link where the platform does not collect requirements).
	ReasonLinkNotAvailable = "LinkNotAvailable"
)

// Onboarding holds where Stripe-hosted onboarding sends the tenant back to, and where the operator
// writes the links it makes.
type Onboarding struct {
	// ReturnURL is where Stripe sends the user when they leave or finish onboarding (absolute http(s)
	// URL; Stripe requires https in live mode).
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:XValidation:rule="isURL(self) && url(self).getScheme() in ['http', 'https'] && url(self).getHostname() != ''",message="spec.onboarding.returnURL must be an absolute http(s) URL"
	ReturnURL string `json:"returnURL"`

	// RefreshURL is where Stripe sends the user when the onboarding link has expired or was used; it
	// should ask the platform for a fresh link, by setting the annotation
	// payments.cloudip.io/onboarding-link-requested-at on this object to a new value (a timestamp).
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:XValidation:rule="isURL(self) && url(self).getScheme() in ['http', 'https'] && url(self).getHostname() != ''",message="spec.onboarding.refreshURL must be an absolute http(s) URL"
	RefreshURL string `json:"refreshURL"`

	// LinkSecretName is the Secret, in this namespace, the operator writes a requested onboarding
	// link's URL and expiry to (links are bearer credentials: never in status, events or logs).
	// Default: <tenant name>-onboarding-link.
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`
	// +optional
	LinkSecretName string `json:"linkSecretName,omitempty"`
}

// ProrationBehavior says how Stripe bills a change of the subscription's price or quantity.
// +kubebuilder:validation:Enum=create_prorations;none;always_invoice
type ProrationBehavior string

// Proration behaviours, in Stripe's spelling.
const (
	// ProrationCreateProrations credits unused time and charges the new price on the next invoice.
	ProrationCreateProrations ProrationBehavior = "create_prorations"
	// ProrationNone changes the price from the next period without proration.
	ProrationNone ProrationBehavior = "none"
	// ProrationAlwaysInvoice prorates and invoices at once.
	ProrationAlwaysInvoice ProrationBehavior = "always_invoice"
)

// CollectionMethod says how a subscription's invoices are paid.
// +kubebuilder:validation:Enum=charge_automatically;send_invoice
type CollectionMethod string

// Collection methods, in Stripe's spelling.
const (
	// CollectionChargeAutomatically charges the customer's default payment method.
	CollectionChargeAutomatically CollectionMethod = "charge_automatically"
	// CollectionSendInvoice emails the invoice, to be paid within daysUntilDue.
	CollectionSendInvoice CollectionMethod = "send_invoice"
)

// SubscriptionCancellation says what removing spec.subscription does to the Stripe subscription.
// +kubebuilder:validation:Enum=AtPeriodEnd;Immediately
type SubscriptionCancellation string

// Subscription cancellations.
const (
	// SubscriptionCancelAtPeriodEnd cancels when the period already paid for ends.
	SubscriptionCancelAtPeriodEnd SubscriptionCancellation = "AtPeriodEnd"
	// SubscriptionCancelImmediately cancels at once.
	SubscriptionCancelImmediately SubscriptionCancellation = "Immediately"
)

// TenantSubscription subscribes the tenant (as a customer of the platform) to a CloudIP plan.
// +kubebuilder:validation:XValidation:rule="(has(self.collectionMethod) && self.collectionMethod == 'send_invoice') == has(self.daysUntilDue)",message="spec.subscription.daysUntilDue is required with collectionMethod send_invoice, and only then"
type TenantSubscription struct {
	// PlanRef names a BillingPlan in this namespace, created on the platform account (no tenantRef).
	PlanRef LocalObjectReference `json:"planRef"`

	// PriceKey is the key of the plan's price to subscribe to (spec.prices[].key).
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9_]*[a-z0-9])?$`
	PriceKey string `json:"priceKey"`

	// Quantity of the subscription item, for licensed prices. Defaults to 1; not sent for metered
	// prices.
	// +kubebuilder:validation:Minimum=1
	// +optional
	Quantity *int64 `json:"quantity,omitempty"`

	// TrialPeriodDays starts the subscription with a free trial of this many days (at most 730). Only
	// used when the subscription is created: changing it later changes nothing in Stripe.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=730
	// +optional
	TrialPeriodDays *int32 `json:"trialPeriodDays,omitempty"`

	// ProrationBehavior says how a change of priceKey or quantity (or a move to a new version of the
	// price) is billed: create_prorations (credit unused time, charge the new price on the next
	// invoice), none, or always_invoice (prorate and invoice at once).
	// +kubebuilder:default=create_prorations
	// +optional
	ProrationBehavior ProrationBehavior `json:"prorationBehavior,omitempty"`

	// CollectionMethod says how invoices are paid: charge_automatically (the customer's default payment
	// method) or send_invoice (emailed, to be paid within daysUntilDue; for tenants who pay by invoice).
	// +kubebuilder:default=charge_automatically
	// +optional
	CollectionMethod CollectionMethod `json:"collectionMethod,omitempty"`

	// DaysUntilDue is how many days (1-365) the customer has to pay an invoice. Required with
	// collectionMethod send_invoice, and only then.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=365
	// +optional
	DaysUntilDue *int32 `json:"daysUntilDue,omitempty"`

	// PinPrice keeps the price the subscription has when the plan versions this key's price (a new
	// amount makes a new Stripe price). False (the default): the subscription follows the key and moves
	// to the new price with prorationBehavior.
	// +optional
	PinPrice bool `json:"pinPrice,omitempty"`
}

// StripeTenantSpec declares one CloudIP tenant's Stripe objects.
// +kubebuilder:validation:XValidation:rule="has(self.connectionRef)",message="spec.connectionRef is required"
type StripeTenantSpec struct {
	ManagedSpec `json:",inline"`

	// DataResidency is the region (us, eu or ap) the tenant's data stays in: its connection must be of
	// this region, and its events go only to sinks of this region. Immutable.
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="spec.dataResidency is immutable"
	DataResidency Region `json:"dataResidency"`

	// Account declares the tenant's Stripe Connect account.
	Account TenantAccount `json:"account"`

	// Onboarding holds the URLs of Stripe-hosted onboarding and the Secret links go to. A link is made
	// on request: set the annotation payments.cloudip.io/onboarding-link-requested-at to a new value.
	// +optional
	Onboarding *Onboarding `json:"onboarding,omitempty"`

	// Subscription subscribes the tenant to a CloudIP plan, billed on the platform account.
	// +optional
	Subscription *TenantSubscription `json:"subscription,omitempty"`

	// SubscriptionCancellation says what removing spec.subscription does: AtPeriodEnd (the default;
	// the subscription runs to the end of the period already paid for, then cancels) or Immediately.
	// +kubebuilder:default=AtPeriodEnd
	// +optional
	SubscriptionCancellation SubscriptionCancellation `json:"subscriptionCancellation,omitempty"`

	// BillingEmail is the email of the tenant's customer on the platform account, where invoices go.
	// +kubebuilder:validation:MaxLength=254
	// +kubebuilder:validation:Pattern=`^[^@\s]+@[^@\s]+$`
	// +optional
	BillingEmail string `json:"billingEmail,omitempty"`
}

// AccountRequirements are the information Stripe still needs from the connected account.
type AccountRequirements struct {
	// CurrentlyDue are the fields needed now to keep the account enabled.
	// +listType=atomic
	// +optional
	CurrentlyDue []string `json:"currentlyDue,omitempty"`

	// PastDue are the fields not collected by currentDeadline; they disable the account.
	// +listType=atomic
	// +optional
	PastDue []string `json:"pastDue,omitempty"`

	// EventuallyDue are the fields that will be needed when thresholds are reached.
	// +listType=atomic
	// +optional
	EventuallyDue []string `json:"eventuallyDue,omitempty"`

	// PendingVerification are the fields submitted and being verified by Stripe; nothing to do but
	// wait (unless a verification fails: see errors).
	// +listType=atomic
	// +optional
	PendingVerification []string `json:"pendingVerification,omitempty"`

	// CurrentDeadline is when currentlyDue must be collected by to keep the account enabled.
	// +optional
	CurrentDeadline *metav1.Time `json:"currentDeadline,omitempty"`

	// DisabledReason says why the account cannot create charges or receive payouts, if it cannot
	// (e.g. requirements.past_due, under_review, rejected.fraud). It is Stripe's free string, copied as
	// is: Stripe has more values than stripe-go's enum.
	// +optional
	DisabledReason string `json:"disabledReason,omitempty"`

	// Errors are the requirements Stripe could not verify, and why; each must be given again.
	// +listType=atomic
	// +optional
	Errors []RequirementError `json:"errors,omitempty"`
}

// RequirementError is one requirement Stripe could not verify.
type RequirementError struct {
	// Requirement is the field the error is about (e.g. company.tax_id).
	Requirement string `json:"requirement"`

	// Code is Stripe's error code (e.g. invalid_tax_id, verification_document_expired).
	// +optional
	Code string `json:"code,omitempty"`

	// Reason is Stripe's explanation, fit to show the tenant.
	// +optional
	Reason string `json:"reason,omitempty"`
}

// OnboardingLinkStatus describes the answer to the last onboarding link request: the link the
// operator made, or why it made none. The link itself (a bearer credential) is only in the Secret.
type OnboardingLinkStatus struct {
	// SecretName is the Secret, in this namespace, holding the link's URL and expiry.
	SecretName string `json:"secretName"`

	// Type is the kind of link: account_onboarding (first onboarding) or account_update (update
	// information, where the platform collects requirements). Empty when the request was refused.
	// +kubebuilder:validation:Enum=account_onboarding;account_update
	// +optional
	Type string `json:"type,omitempty"`

	// Refused says why no link was made for requestedAt (e.g. no spec.onboarding, or an update link
	// where Stripe collects requirements); the same request is not tried again. Empty when a link was
	// made.
	// +optional
	Refused string `json:"refused,omitempty"`

	// CreatedAt is when Stripe made the link.
	// +optional
	CreatedAt *metav1.Time `json:"createdAt,omitempty"`

	// ExpiresAt is when the link stops working (minutes after createdAt); ask again after that.
	// +optional
	ExpiresAt *metav1.Time `json:"expiresAt,omitempty"`

	// RequestedAt is the value of the payments.cloudip.io/onboarding-link-requested-at annotation this
	// link answered.
	// +optional
	RequestedAt string `json:"requestedAt,omitempty"`
}

// InvoiceSummary is what a person checks about the subscription's latest invoice.
type InvoiceSummary struct {
	// ID is the Stripe invoice id (in_…).
	ID string `json:"id"`

	// Number is the invoice number shown to the customer, once the invoice is finalized.
	// +optional
	Number string `json:"number,omitempty"`

	// Status is Stripe's invoice status: draft, open, paid, uncollectible or void.
	// +optional
	Status string `json:"status,omitempty"`

	// AmountDue is the amount due, in the currency's minor unit (cents).
	// +optional
	AmountDue int64 `json:"amountDue,omitempty"`

	// Currency is the three-letter ISO 4217 currency code, in lowercase.
	// +optional
	Currency string `json:"currency,omitempty"`

	// DueDate is when an invoice sent for payment (collectionMethod send_invoice) is due.
	// +optional
	DueDate *metav1.Time `json:"dueDate,omitempty"`
}

// CapabilityStatus is the state of one requested capability.
type CapabilityStatus struct {
	// Name of the capability (e.g. card_payments).
	Name string `json:"name"`
	// Status in Stripe: active, inactive, pending or unrequested.
	Status string `json:"status"`
}

// StripeTenantStatus reports the tenant's Stripe objects and what Stripe says about the account.
type StripeTenantStatus struct {
	ManagedStatus `json:",inline"`

	// AccountID is the connected account's id (acct_…); also in the external-name annotation.
	// +optional
	AccountID string `json:"accountID,omitempty"`

	// AccountType is the account's type as Stripe reports it: express, standard, custom, or none for
	// an account described by controller properties.
	// +optional
	AccountType string `json:"accountType,omitempty"`

	// ChargesEnabled says whether the account can create charges.
	// +optional
	ChargesEnabled bool `json:"chargesEnabled"`

	// PayoutsEnabled says whether Stripe can send payouts to the account.
	// +optional
	PayoutsEnabled bool `json:"payoutsEnabled"`

	// DetailsSubmitted says whether the account's details were submitted during onboarding.
	// +optional
	DetailsSubmitted bool `json:"detailsSubmitted"`

	// Requirements are the information Stripe still needs from the account.
	// +optional
	Requirements *AccountRequirements `json:"requirements,omitempty"`

	// Capabilities are the states of the requested capabilities.
	// +listType=map
	// +listMapKey=name
	// +optional
	Capabilities []CapabilityStatus `json:"capabilities,omitempty"`

	// OnboardingLink describes the last onboarding link made on request (annotation
	// payments.cloudip.io/onboarding-link-requested-at): the Secret holding it, its type and expiry.
	// +optional
	OnboardingLink *OnboardingLinkStatus `json:"onboardingLink,omitempty"`

	// CustomerID is the tenant's customer on the platform account (cus_…).
	// +optional
	CustomerID string `json:"customerID,omitempty"`

	// SubscriptionID is the tenant's subscription on the platform account (sub_…).
	// +optional
	SubscriptionID string `json:"subscriptionID,omitempty"`

	// SubscriptionStatus is Stripe's status of that subscription (trialing, active, past_due, …).
	// +optional
	SubscriptionStatus string `json:"subscriptionStatus,omitempty"`

	// SubscriptionPriceID is the Stripe price the subscription's item is on (price_…).
	// +optional
	SubscriptionPriceID string `json:"subscriptionPriceID,omitempty"`

	// SubscriptionQuantity is the quantity of the subscription's item (none for metered prices).
	// +optional
	SubscriptionQuantity *int64 `json:"subscriptionQuantity,omitempty"`

	// CurrentPeriodEnd is when the subscription's current period ends (the next invoice, or the
	// cancellation when cancelAtPeriodEnd).
	// +optional
	CurrentPeriodEnd *metav1.Time `json:"currentPeriodEnd,omitempty"`

	// CancelAtPeriodEnd says the subscription cancels when the current period ends.
	// +optional
	CancelAtPeriodEnd bool `json:"cancelAtPeriodEnd,omitempty"`

	// LatestInvoice is the subscription's latest invoice: its number, status, amount due and due date.
	// +optional
	LatestInvoice *InvoiceSummary `json:"latestInvoice,omitempty"`
}

// StripeTenant is one CloudIP tenant: its Stripe Connect account (and onboarding link), and optionally
// its customer and subscription to a CloudIP plan on the platform account.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=stenant,categories=stripe
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Synced",type=string,JSONPath=`.status.conditions[?(@.type=="Synced")].status`
// +kubebuilder:printcolumn:name="Account",type=string,JSONPath=`.status.accountID`
// +kubebuilder:printcolumn:name="Charges",type=boolean,JSONPath=`.status.chargesEnabled`
// +kubebuilder:printcolumn:name="Payouts",type=boolean,JSONPath=`.status.payoutsEnabled`
// +kubebuilder:printcolumn:name="Subscription",type=string,JSONPath=`.status.subscriptionStatus`
// +kubebuilder:printcolumn:name="Residency",type=string,JSONPath=`.spec.dataResidency`,priority=1
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type StripeTenant struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec declares the tenant's account, onboarding and subscription.
	Spec StripeTenantSpec `json:"spec"`

	// Status reports the Stripe ids and the account's state.
	// +optional
	Status StripeTenantStatus `json:"status,omitempty"`
}

// GetManagedSpec returns the embedded ManagedSpec.
func (t *StripeTenant) GetManagedSpec() *ManagedSpec { return &t.Spec.ManagedSpec }

// GetManagedStatus returns the embedded ManagedStatus.
func (t *StripeTenant) GetManagedStatus() *ManagedStatus { return &t.Status.ManagedStatus }

// GetConditions returns status.conditions.
func (t *StripeTenant) GetConditions() []metav1.Condition { return t.Status.Conditions }

// SetConditions replaces status.conditions.
func (t *StripeTenant) SetConditions(conditions []metav1.Condition) { t.Status.Conditions = conditions }

// DefaultDeletionPolicy implements DeletionPolicyDefaulter: a tenant's connected account is orphaned
// unless spec.deletionPolicy says Delete (the tenant's money and history live in Stripe).
func (t *StripeTenant) DefaultDeletionPolicy() DeletionPolicy { return DeletionPolicyOrphan }

// OnboardingLinkSecretName returns the Secret onboarding links are written to:
// spec.onboarding.linkSecretName, or <metadata.name>-onboarding-link.
func (t *StripeTenant) OnboardingLinkSecretName() string {
	if t.Spec.Onboarding != nil && t.Spec.Onboarding.LinkSecretName != "" {
		return t.Spec.Onboarding.LinkSecretName
	}
	return t.Name + "-onboarding-link"
}

// +kubebuilder:object:root=true

// StripeTenantList is a list of StripeTenant.
type StripeTenantList struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ListMeta `json:"metadata,omitempty"`
	// Items are the StripeTenants.
	Items []StripeTenant `json:"items"`
}

func init() {
	SchemeBuilder.Register(&StripeTenant{}, &StripeTenantList{})
}
