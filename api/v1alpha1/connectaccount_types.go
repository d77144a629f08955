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

// The connected account a StripeTenant declares: its type or controller properties, business, capabilities
// and payouts. These types describe a Stripe Connect account, whoever declares one; the tenant's own
// onboarding, subscription and status are in stripetenant_types.go.

// AccountType is the type of a Stripe Connect account.
// +kubebuilder:validation:Enum=express;standard;custom
type AccountType string

// Connect account types.
const (
	AccountTypeExpress  AccountType = "express"
	AccountTypeStandard AccountType = "standard"
	AccountTypeCustom   AccountType = "custom"
)

// Capability is a Stripe capability a connected account may request (API version 2023-10-16).
// +kubebuilder:validation:Enum=acss_debit_payments;affirm_payments;afterpay_clearpay_payments;au_becs_debit_payments;bacs_debit_payments;bancontact_payments;bank_transfer_payments;blik_payments;boleto_payments;card_issuing;card_payments;cartes_bancaires_payments;cashapp_payments;eps_payments;fpx_payments;giropay_payments;grabpay_payments;ideal_payments;india_international_payments;jcb_payments;klarna_payments;konbini_payments;legacy_payments;link_payments;oxxo_payments;p24_payments;paynow_payments;promptpay_payments;revolut_pay_payments;sepa_debit_payments;sofort_payments;swish_payments;tax_reporting_us_1099_k;tax_reporting_us_1099_misc;transfers;treasury;us_bank_account_ach_payments;zip_payments
type Capability string

// Commonly requested capabilities.
const (
	CapabilityCardPayments             Capability = "card_payments"
	CapabilityTransfers                Capability = "transfers"
	CapabilityUSBankAccountACHPayments Capability = "us_bank_account_ach_payments"
)

// BusinessType is the legal form of a connected account's business.
// +kubebuilder:validation:Enum=individual;company;non_profit;government_entity
type BusinessType string

// PayoutInterval is how often a connected account is paid out.
// +kubebuilder:validation:Enum=manual;daily;weekly;monthly
type PayoutInterval string

// Weekday is a day of the week, in Stripe's spelling.
// +kubebuilder:validation:Enum=monday;tuesday;wednesday;thursday;friday;saturday;sunday
type Weekday string

// ControllerFees says who pays Stripe's fees.
type ControllerFees struct {
	// Payer of Stripe fees: account (the connected account) or application (the platform).
	// +kubebuilder:validation:Enum=account;application
	Payer string `json:"payer"`
}

// ControllerLosses says who is liable for negative balances.
type ControllerLosses struct {
	// Payments: who is liable when the account cannot pay back negative balances from payments:
	// application (the platform) or stripe.
	// +kubebuilder:validation:Enum=application;stripe
	Payments string `json:"payments"`
}

// ControllerStripeDashboard says which Stripe-hosted dashboard the account gets.
type ControllerStripeDashboard struct {
	// Type of dashboard: full, express or none.
	// +kubebuilder:validation:Enum=express;full;none
	Type string `json:"type"`
}

// AccountController describes a connected account by its controller properties instead of a type.
// +kubebuilder:validation:MinProperties=1
type AccountController struct {
	// Fees says who pays Stripe's fees.
	// +optional
	Fees *ControllerFees `json:"fees,omitempty"`

	// Losses says who is liable for negative balances.
	// +optional
	Losses *ControllerLosses `json:"losses,omitempty"`

	// StripeDashboard says which Stripe-hosted dashboard the account gets.
	// +optional
	StripeDashboard *ControllerStripeDashboard `json:"stripeDashboard,omitempty"`

	// RequirementCollection says who collects updated requirements: application (the platform) or
	// stripe.
	// +kubebuilder:validation:Enum=application;stripe
	// +optional
	RequirementCollection string `json:"requirementCollection,omitempty"`
}

// BusinessProfile is the public business information of a connected account.
type BusinessProfile struct {
	// Name is the customer-facing business name.
	// +kubebuilder:validation:MaxLength=5000
	// +optional
	Name string `json:"name,omitempty"`

	// URL is the business's website, an absolute http(s) URL.
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:XValidation:rule="isURL(self) && url(self).getScheme() in ['http', 'https'] && url(self).getHostname() != ''",message="spec.account.businessProfile.url must be an absolute http(s) URL"
	// +optional
	URL string `json:"url,omitempty"`

	// MCC is the merchant category code: four digits (e.g. 5734, computer software stores).
	// +kubebuilder:validation:Pattern=`^[0-9]{4}$`
	// +optional
	MCC string `json:"mcc,omitempty"`

	// ProductDescription describes what the business sells, for Stripe's review.
	// +kubebuilder:validation:MaxLength=40000
	// +optional
	ProductDescription string `json:"productDescription,omitempty"`

	// SupportEmail is the email address customers can reach the business at.
	// +kubebuilder:validation:MaxLength=254
	// +kubebuilder:validation:Pattern=`^[^@\s]+@[^@\s]+$`
	// +optional
	SupportEmail string `json:"supportEmail,omitempty"`
}

// PayoutSchedule says when a connected account's available funds are paid out.
// +kubebuilder:validation:XValidation:rule="self.interval == 'weekly' ? has(self.weeklyAnchor) : !has(self.weeklyAnchor)",message="payoutSchedule.weeklyAnchor is required with interval weekly, and only then"
// +kubebuilder:validation:XValidation:rule="self.interval == 'monthly' ? has(self.monthlyAnchor) : !has(self.monthlyAnchor)",message="payoutSchedule.monthlyAnchor is required with interval monthly, and only then"
type PayoutSchedule struct {
	// Interval is how often funds are paid out: manual, daily, weekly or monthly.
	Interval PayoutInterval `json:"interval"`

	// DelayDays is how many days charge funds are held before being paid out. Empty means the minimum
	// Stripe allows for the account's country.
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=365
	// +optional
	DelayDays *int32 `json:"delayDays,omitempty"`

	// WeeklyAnchor is the day of the week of weekly payouts. Required with interval weekly.
	// +optional
	WeeklyAnchor Weekday `json:"weeklyAnchor,omitempty"`

	// MonthlyAnchor is the day of the month (1-31) of monthly payouts; 29-31 mean the last day of
	// shorter months. Required with interval monthly.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=31
	// +optional
	MonthlyAnchor int32 `json:"monthlyAnchor,omitempty"`
}

// TenantAccount declares a tenant's Stripe Connect account.
// +kubebuilder:validation:XValidation:rule="has(self.type) != has(self.controller)",message="spec.account: set exactly one of type or controller"
// +kubebuilder:validation:XValidation:rule="has(self.type) == has(oldSelf.type) && has(self.controller) == has(oldSelf.controller)",message="spec.account: the choice between type and controller is immutable"
type TenantAccount struct {
	// Type is the Connect account type: express, standard or custom. Set type or controller, not both.
	// Immutable.
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="spec.account.type is immutable"
	// +optional
	Type AccountType `json:"type,omitempty"`

	// Controller describes the account by its controller properties (fees payer, losses, dashboard,
	// requirement collection) instead of a type. Set type or controller, not both. Immutable.
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="spec.account.controller is immutable"
	// +optional
	Controller *AccountController `json:"controller,omitempty"`

	// Country is where the business is legally established: an ISO 3166-1 alpha-2 code in upper case
	// (e.g. US, DE). Immutable: Stripe cannot change an account's country.
	// +kubebuilder:validation:Pattern=`^[A-Z]{2}$`
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="spec.account.country is immutable"
	Country string `json:"country"`

	// Email is the account holder's email address.
	// +kubebuilder:validation:MaxLength=254
	// +kubebuilder:validation:Pattern=`^[^@\s]+@[^@\s]+$`
	// +optional
	Email string `json:"email,omitempty"`

	// BusinessType is individual, company, non_profit or government_entity.
	// +optional
	BusinessType BusinessType `json:"businessType,omitempty"`

	// BusinessProfile is the public business information.
	// +optional
	BusinessProfile *BusinessProfile `json:"businessProfile,omitempty"`

	// Capabilities are the capabilities to request (e.g. card_payments, transfers,
	// us_bank_account_ach_payments); status.capabilities reports each one's state.
	// +listType=set
	// +kubebuilder:validation:MaxItems=38
	// +optional
	Capabilities []Capability `json:"capabilities,omitempty"`

	// PayoutSchedule says when available funds are paid out.
	// +optional
	PayoutSchedule *PayoutSchedule `json:"payoutSchedule,omitempty"`

	// Metadata is sent to Stripe as the connected account's metadata, beside the operator's tags (at
	// most 45 keys, none starting with cloudip_). Put identifiers only (tenant ids, cost centres), never
	// personal data: anyone with access to the account in Stripe's Dashboard reads it.
	// +optional
	Metadata Metadata `json:"metadata,omitempty"`
}
