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

// TiersMode says how tiers apply to a quantity.
// +kubebuilder:validation:Enum=graduated;volume
type TiersMode string

// Tiers modes.
const (
	// TiersModeGraduated prices each unit at the tier it falls in.
	TiersModeGraduated TiersMode = "graduated"
	// TiersModeVolume prices every unit at the tier the total quantity falls in.
	TiersModeVolume TiersMode = "volume"
)

// Interval is a billing period unit.
// +kubebuilder:validation:Enum=day;week;month;year
type Interval string

// Billing intervals.
const (
	IntervalDay   Interval = "day"
	IntervalWeek  Interval = "week"
	IntervalMonth Interval = "month"
	IntervalYear  Interval = "year"
)

// UsageType says how the quantity of a recurring price is known.
// +kubebuilder:validation:Enum=licensed;metered
type UsageType string

// Usage types.
const (
	// UsageTypeLicensed bills the subscription item's quantity each period.
	UsageTypeLicensed UsageType = "licensed"
	// UsageTypeMetered bills the usage reported during the period.
	UsageTypeMetered UsageType = "metered"
)

// AggregateUsage says how metered usage records of a period are combined.
// +kubebuilder:validation:Enum=sum;last_during_period;last_ever;max
type AggregateUsage string

// TaxBehavior says whether a price includes tax.
// +kubebuilder:validation:Enum=inclusive;exclusive;unspecified
type TaxBehavior string

// Product is the Stripe product a plan declares.
type Product struct {
	// Name is the product's name, shown to customers.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=5000
	Name string `json:"name"`

	// Description is a long-form description of the product, shown to customers.
	// +kubebuilder:validation:MaxLength=40000
	// +optional
	Description string `json:"description,omitempty"`

	// Active says whether the product can be used for new purchases.
	// +kubebuilder:default=true
	// +optional
	Active *bool `json:"active,omitempty"`

	// StatementDescriptor is shown on customers' card statements: at most 22 characters, without
	// <, >, \, " or '.
	// +kubebuilder:validation:MaxLength=22
	// +kubebuilder:validation:Pattern=`^[^<>\\"']*$`
	// +optional
	StatementDescriptor string `json:"statementDescriptor,omitempty"`

	// UnitLabel names the units of this product on receipts and invoices (e.g. "seat"), at most 12
	// characters.
	// +kubebuilder:validation:MaxLength=12
	// +optional
	UnitLabel string `json:"unitLabel,omitempty"`

	// TaxCode is a Stripe tax code id (txcd_ followed by 8 digits), e.g. txcd_10000000.
	// +kubebuilder:validation:Pattern=`^txcd_[0-9]{8}$`
	// +optional
	TaxCode string `json:"taxCode,omitempty"`

	// Metadata is sent to Stripe as the product's metadata (at most 45 keys, none starting with cloudip_).
	// +optional
	Metadata Metadata `json:"metadata,omitempty"`
}

// PriceTier is one tier of a tiered price.
// +kubebuilder:validation:XValidation:rule="has(self.unitAmount) || has(self.unitAmountDecimal) || has(self.flatAmount) || has(self.flatAmountDecimal)",message="a tier needs one of unitAmount, unitAmountDecimal, flatAmount or flatAmountDecimal"
// +kubebuilder:validation:XValidation:rule="!(has(self.unitAmount) && has(self.unitAmountDecimal))",message="a tier may set only one of unitAmount and unitAmountDecimal"
// +kubebuilder:validation:XValidation:rule="!(has(self.flatAmount) && has(self.flatAmountDecimal))",message="a tier may set only one of flatAmount and flatAmountDecimal"
type PriceTier struct {
	// UpTo is the highest quantity this tier applies to. Empty means infinity, which only the last
	// tier may be.
	// +kubebuilder:validation:Minimum=1
	// +optional
	UpTo *int64 `json:"upTo,omitempty"`

	// UnitAmount is the price per unit in this tier, in the currency's smallest unit (cents).
	// +kubebuilder:validation:Minimum=0
	// +optional
	UnitAmount *int64 `json:"unitAmount,omitempty"`

	// UnitAmountDecimal is the price per unit in this tier as a decimal string of the smallest
	// currency unit, with at most 12 decimal places (e.g. "0.25").
	// +kubebuilder:validation:Pattern=`^[0-9]{1,12}(\.[0-9]{1,12})?$`
	// +optional
	UnitAmountDecimal *string `json:"unitAmountDecimal,omitempty"`

	// FlatAmount is a fixed charge for the tier, in the currency's smallest unit.
	// +kubebuilder:validation:Minimum=0
	// +optional
	FlatAmount *int64 `json:"flatAmount,omitempty"`

	// FlatAmountDecimal is the fixed charge as a decimal string with at most 12 decimal places.
	// +kubebuilder:validation:Pattern=`^[0-9]{1,12}(\.[0-9]{1,12})?$`
	// +optional
	FlatAmountDecimal *string `json:"flatAmountDecimal,omitempty"`
}

// Recurring makes a price a subscription price.
// +kubebuilder:validation:XValidation:rule="!has(self.intervalCount) || (self.interval == 'day' ? self.intervalCount <= 365 : self.interval == 'week' ? self.intervalCount <= 52 : self.interval == 'month' ? self.intervalCount <= 12 : self.intervalCount == 1)",message="recurring.intervalCount must keep the period within one year (day <= 365, week <= 52, month <= 12, year = 1)"
// +kubebuilder:validation:XValidation:rule="!has(self.aggregateUsage) || (has(self.usageType) && self.usageType == 'metered')",message="recurring.aggregateUsage applies only to usageType metered"
type Recurring struct {
	// Interval is the billing period unit: day, week, month or year.
	Interval Interval `json:"interval"`

	// IntervalCount is the number of intervals between bills (3 with month: quarterly). The period may
	// be at most one year.
	// +kubebuilder:default=1
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=365
	// +optional
	IntervalCount int32 `json:"intervalCount,omitempty"`

	// UsageType is licensed (bill the quantity) or metered (bill reported usage).
	// +kubebuilder:default=licensed
	// +optional
	UsageType UsageType `json:"usageType,omitempty"`

	// AggregateUsage combines a metered price's usage records of a period: sum, last_during_period,
	// last_ever or max. Only for usageType metered.
	// +optional
	AggregateUsage AggregateUsage `json:"aggregateUsage,omitempty"`
}

// Price is one price of a plan. Its key names it inside the plan and never changes; when a field that
// Stripe cannot change (currency, amounts, tiers, recurring) changes, the operator creates a new price,
// moves the lookup key to it and archives the old one.
// +kubebuilder:validation:XValidation:rule="(has(self.unitAmount) ? 1 : 0) + (has(self.unitAmountDecimal) ? 1 : 0) + (has(self.tiers) ? 1 : 0) == 1",message="a price needs exactly one of unitAmount, unitAmountDecimal or tiers"
// +kubebuilder:validation:XValidation:rule="has(self.tiers) == has(self.tiersMode)",message="tiersMode is required when tiers are set, and only then"
// +kubebuilder:validation:XValidation:rule="!has(self.tiers) || has(self.recurring)",message="tiers need recurring: Stripe supports tiered pricing only for recurring prices"
type Price struct {
	// Key names the price inside the plan (e.g. "monthly-usd"). It is stable: status.prices reports the
	// Stripe price id under this key, and tenants subscribe by it.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9_]*[a-z0-9])?$`
	Key string `json:"key"`

	// Currency is a three-letter ISO 4217 currency code in lowercase (e.g. usd, eur).
	// +kubebuilder:validation:Pattern=`^[a-z]{3}$`
	Currency string `json:"currency"`

	// UnitAmount is the price in the currency's smallest unit (cents), 0 for a free price. Set exactly
	// one of unitAmount, unitAmountDecimal or tiers.
	// +kubebuilder:validation:Minimum=0
	// +optional
	UnitAmount *int64 `json:"unitAmount,omitempty"`

	// UnitAmountDecimal is the price as a decimal string of the smallest currency unit with at most 12
	// decimal places (e.g. "0.5" for half a cent). Set exactly one of unitAmount, unitAmountDecimal
	// or tiers.
	// +kubebuilder:validation:Pattern=`^[0-9]{1,12}(\.[0-9]{1,12})?$`
	// +optional
	UnitAmountDecimal *string `json:"unitAmountDecimal,omitempty"`

	// Tiers are the tiers of a tiered price, in ascending upTo order; the last has no upTo. Needs
	// tiersMode and recurring. Set exactly one of unitAmount, unitAmountDecimal or tiers.
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=50
	// +kubebuilder:validation:XValidation:rule="!has(self[self.size() - 1].upTo) && self.filter(t, !has(t.upTo)).size() == 1",message="tiers: every tier but the last must set upTo, and the last must not (it runs to infinity)"
	// +kubebuilder:validation:XValidation:rule="self.filter(t, has(t.upTo)).map(t, t.upTo).isSorted() && self.filter(t, has(t.upTo)).all(t, self.filter(u, has(u.upTo) && u.upTo == t.upTo).size() == 1)",message="tiers: upTo must be strictly ascending"
	// +listType=atomic
	// +optional
	Tiers []PriceTier `json:"tiers,omitempty"`

	// TiersMode is graduated or volume. Required with tiers, refused without.
	// +optional
	TiersMode TiersMode `json:"tiersMode,omitempty"`

	// Recurring makes this a subscription price billed every intervalCount intervals. Empty means a
	// one-time price.
	// +optional
	Recurring *Recurring `json:"recurring,omitempty"`

	// TaxBehavior says whether the amount includes tax: inclusive, exclusive or unspecified. Once
	// inclusive or exclusive, Stripe does not allow changing it.
	// +optional
	TaxBehavior TaxBehavior `json:"taxBehavior,omitempty"`

	// LookupKey lets applications find the current price without knowing its id; unique within the
	// plan, at most 200 characters. When the price is replaced, the key moves to the new price.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=200
	// +optional
	LookupKey string `json:"lookupKey,omitempty"`

	// Nickname is a short description of the price, hidden from customers.
	// +kubebuilder:validation:MaxLength=5000
	// +optional
	Nickname string `json:"nickname,omitempty"`

	// Active says whether the price can be used for new purchases.
	// +kubebuilder:default=true
	// +optional
	Active *bool `json:"active,omitempty"`

	// Metadata is sent to Stripe as the price's metadata (at most 45 keys, none starting with cloudip_).
	// +optional
	Metadata Metadata `json:"metadata,omitempty"`
}

// BillingPlanSpec declares a Stripe product and its prices.
// +kubebuilder:validation:XValidation:rule="has(self.connectionRef) || has(self.tenantRef)",message="spec.connectionRef is required unless spec.tenantRef is set"
// +kubebuilder:validation:XValidation:rule="has(self.tenantRef) == has(oldSelf.tenantRef)",message="spec.tenantRef is immutable: it cannot be added or removed"
type BillingPlanSpec struct {
	ManagedSpec `json:",inline"`

	// TenantRef names a StripeTenant in this namespace: the product and prices are created on its
	// connected account (Stripe-Account header) instead of the platform account, through the tenant's
	// connection. Immutable.
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="spec.tenantRef is immutable"
	// +optional
	TenantRef *LocalObjectReference `json:"tenantRef,omitempty"`

	// Product is the Stripe product.
	Product Product `json:"product"`

	// Prices are the product's prices, each named by a key unique in the plan.
	// +listType=map
	// +listMapKey=key
	// +kubebuilder:validation:MaxItems=50
	// +kubebuilder:validation:XValidation:rule="self.all(p, !has(p.lookupKey) || self.filter(q, has(q.lookupKey) && q.lookupKey == p.lookupKey).size() == 1)",message="spec.prices: lookupKey must be unique within the plan"
	// +optional
	Prices []Price `json:"prices,omitempty"`
}

// PriceStatus is the Stripe price currently serving a key.
type PriceStatus struct {
	// Key is the price's key in spec.prices.
	Key string `json:"key"`
	// ID is the Stripe price id (price_…).
	ID string `json:"id"`
	// LookupKey is the lookup key the price carries in Stripe.
	// +optional
	LookupKey string `json:"lookupKey,omitempty"`
	// Active says whether the price is active in Stripe.
	// +optional
	Active bool `json:"active,omitempty"`
}

// ArchivedPrice is a Stripe price the operator replaced and archived.
type ArchivedPrice struct {
	// Key is the key the price served.
	Key string `json:"key"`
	// ID is the Stripe price id (price_…).
	ID string `json:"id"`
}

// BillingPlanStatus reports the Stripe product and prices.
type BillingPlanStatus struct {
	ManagedStatus `json:",inline"`

	// ProductID is the Stripe product id (prod_…).
	// +optional
	ProductID string `json:"productID,omitempty"`

	// AccountID is the connected account the product and prices live on (acct_…, from the tenant),
	// "" for the platform account. Recorded so that a plan whose tenant is gone can still be orphaned
	// or deleted.
	// +optional
	AccountID string `json:"accountID,omitempty"`

	// Prices are the current Stripe prices, by key.
	// +listType=map
	// +listMapKey=key
	// +optional
	Prices []PriceStatus `json:"prices,omitempty"`

	// ArchivedPrices are the prices replaced by newer ones (oldest first), kept so that existing
	// subscriptions can still be traced and moved.
	// +listType=atomic
	// +optional
	ArchivedPrices []ArchivedPrice `json:"archivedPrices,omitempty"`
}

// BillingPlan is a Stripe product and its prices, on the platform account or on a tenant's connected
// account.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=bplan,categories=stripe
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Synced",type=string,JSONPath=`.status.conditions[?(@.type=="Synced")].status`
// +kubebuilder:printcolumn:name="Product",type=string,JSONPath=`.status.productID`
// +kubebuilder:printcolumn:name="Tenant",type=string,JSONPath=`.spec.tenantRef.name`,priority=1
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type BillingPlan struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec declares the product and its prices.
	Spec BillingPlanSpec `json:"spec"`

	// Status reports the Stripe ids.
	// +optional
	Status BillingPlanStatus `json:"status,omitempty"`
}

// GetManagedSpec returns the embedded ManagedSpec.
func (p *BillingPlan) GetManagedSpec() *ManagedSpec { return &p.Spec.ManagedSpec }

// GetManagedStatus returns the embedded ManagedStatus.
func (p *BillingPlan) GetManagedStatus() *ManagedStatus { return &p.Status.ManagedStatus }

// GetConditions returns status.conditions.
func (p *BillingPlan) GetConditions() []metav1.Condition { return p.Status.Conditions }

// SetConditions replaces status.conditions.
func (p *BillingPlan) SetConditions(conditions []metav1.Condition) { p.Status.Conditions = conditions }

// +kubebuilder:object:root=true

// BillingPlanList is a list of BillingPlan.
type BillingPlanList struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ListMeta `json:"metadata,omitempty"`
	// Items are the BillingPlans.
	Items []BillingPlan `json:"items"`
}

func init() {
	SchemeBuilder.Register(&BillingPlan{}, &BillingPlanList{})
}
