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
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// MirrorObjectType is a Stripe object type a StripeMirror keeps, as Stripe names it in an object's
// "object" field. Each has its own table (the plural: customers, balance_transactions, …).
// +kubebuilder:validation:Enum=account;customer;product;price;subscription;invoice;charge;refund;payout;balance_transaction
type MirrorObjectType string

// Mirror object types.
const (
	MirrorAccount            MirrorObjectType = "account"
	MirrorCustomer           MirrorObjectType = "customer"
	MirrorProduct            MirrorObjectType = "product"
	MirrorPrice              MirrorObjectType = "price"
	MirrorSubscription       MirrorObjectType = "subscription"
	MirrorInvoice            MirrorObjectType = "invoice"
	MirrorCharge             MirrorObjectType = "charge"
	MirrorRefund             MirrorObjectType = "refund"
	MirrorPayout             MirrorObjectType = "payout"
	MirrorBalanceTransaction MirrorObjectType = "balance_transaction"
)

// AllMirrorObjectTypes returns the types a mirror keeps when spec.objectTypes is empty, in the order
// a backfill lists them (a payout's balance transactions after the payouts).
func AllMirrorObjectTypes() []MirrorObjectType {
	return []MirrorObjectType{MirrorAccount, MirrorCustomer, MirrorProduct, MirrorPrice,
		MirrorSubscription, MirrorInvoice, MirrorCharge, MirrorRefund, MirrorPayout, MirrorBalanceTransaction}
}

// Defaults of StripeMirrorSpec.revalidation.
const (
	DefaultMirrorRevalidationInterval         = time.Hour
	DefaultMirrorRevalidationSampleSize int32 = 100
)

// StripeMirrorSpec declares a copy of a connection's Stripe objects, of one data-residency region, in
// a PostgreSQL schema the platform owns.
type StripeMirrorSpec struct {
	// ConnectionRef names the StripeConnection (cluster-scoped) whose objects are mirrored: its
	// platform account's own (when the connection's region is this mirror's) and those of its tenants'
	// connected accounts whose dataResidency is this mirror's region. Immutable.
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="connectionRef is immutable: the rows belong to that account"
	ConnectionRef ConnectionReference `json:"connectionRef"`

	// Region is the data-residency region (us, eu or ap) whose rows this mirror keeps: a tenant's rows
	// reach only the mirror of its region. Immutable: a mirror never holds two regions' rows.
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="region is immutable: a mirror never holds two regions' rows; create another StripeMirror"
	Region Region `json:"region"`

	// Database is where the mirror is kept.
	Database MirrorDatabase `json:"database"`

	// ObjectTypes are the Stripe object types kept, each in its own table. Empty means all of them.
	// +listType=set
	// +kubebuilder:validation:MaxItems=10
	// +optional
	ObjectTypes []MirrorObjectType `json:"objectTypes,omitempty"`

	// Revalidation compares a sample of the mirror's rows with Stripe, periodically, and repairs those
	// that differ (a row edited behind the relay's back, an event lost before the relay stored it).
	// +kubebuilder:default={}
	// +optional
	Revalidation *MirrorRevalidation `json:"revalidation,omitempty"`
}

// MirrorDatabase locates a mirror's PostgreSQL schema.
type MirrorDatabase struct {
	// URLSecretRef selects the Secret key (in this namespace) holding the PostgreSQL connection URL
	// (postgres://user:password@host:5432/db?sslmode=require) or keyword/value string. The role needs
	// CREATE on the database (the relay creates the schema and migrates it) or must own the schema.
	URLSecretRef LocalSecretKeySelector `json:"urlSecretRef"`

	// Schema is the PostgreSQL schema the tables are in; the relay creates it. Two mirrors must not
	// share a schema of one database. Immutable.
	// +kubebuilder:validation:Pattern=`^[a-z_][a-z0-9_]{0,62}$`
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="database.schema is immutable: create another StripeMirror"
	Schema string `json:"schema"`
}

// MirrorRevalidation bounds the mirror's revalidation pass.
type MirrorRevalidation struct {
	// Interval between two passes (Go duration, 1m to 168h).
	// +kubebuilder:default="1h"
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('1m') && duration(self) <= duration('168h')",message="spec.revalidation.interval must be between 1m and 168h"
	// +optional
	Interval *metav1.Duration `json:"interval,omitempty"`

	// SampleSize is how many rows a pass compares with Stripe (one GET each, from the connection's
	// request budget); 0 turns revalidation off.
	// +kubebuilder:default=100
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=10000
	// +optional
	SampleSize *int32 `json:"sampleSize,omitempty"`
}

// RevalidationOrDefaults returns spec.revalidation with every unset field at its default, for
// objects that did not go through the API server's defaulting.
func (s *StripeMirrorSpec) RevalidationOrDefaults() (interval time.Duration, sampleSize int32) {
	interval, sampleSize = DefaultMirrorRevalidationInterval, DefaultMirrorRevalidationSampleSize
	if s.Revalidation != nil && s.Revalidation.Interval != nil {
		interval = s.Revalidation.Interval.Duration
	}
	if s.Revalidation != nil && s.Revalidation.SampleSize != nil {
		sampleSize = *s.Revalidation.SampleSize
	}
	return interval, sampleSize
}

// ObjectTypesOrAll returns spec.objectTypes in backfill order, or every type when it is empty.
func (s *StripeMirrorSpec) ObjectTypesOrAll() []MirrorObjectType {
	if len(s.ObjectTypes) == 0 {
		return AllMirrorObjectTypes()
	}
	var out []MirrorObjectType
	for _, t := range AllMirrorObjectTypes() {
		for _, want := range s.ObjectTypes {
			if t == want {
				out = append(out, t)
			}
		}
	}
	return out
}

// Conditions and reasons of mirrors, set by the relay.
const (
	// ConditionBackfillComplete (StripeMirror): True once every account of the mirror was listed from
	// Stripe into it; False while a backfill runs (a new mirror, a new tenant).
	ConditionBackfillComplete = "BackfillComplete"

	// ReasonMirroring (Ready True): the relay applies the stored events to the mirror.
	ReasonMirroring = "Mirroring"
	// ReasonDatabaseUnavailable (Ready False): the database cannot be reached or migrated; the message
	// holds the error. The relay retries; no event is skipped meanwhile (the mirror's cursor is in it).
	ReasonDatabaseUnavailable = "DatabaseUnavailable"
	// ReasonBackfilling (BackfillComplete False): accounts are being listed from Stripe.
	ReasonBackfilling = "Backfilling"
	// ReasonBackfilled (BackfillComplete True): every account of the mirror was listed.
	ReasonBackfilled = "Backfilled"
	// ReasonBackfillFailing (BackfillComplete False): listing from Stripe fails; retried from where it
	// stopped. The message holds the error.
	ReasonBackfillFailing = "BackfillFailing"
)

// StripeMirrorStatus is written by the webhook relay, which keeps the mirror.
type StripeMirrorStatus struct {
	ManagedStatus `json:",inline"`

	// AppliedSeq is the relay store's sequence number of the last event applied (the mirror's cursor,
	// kept in the mirror's own schema with the rows).
	// +optional
	AppliedSeq int64 `json:"appliedSeq"`

	// LagSeconds is the age of the oldest event stored by the relay and not yet applied to the mirror
	// (0: caught up).
	// +optional
	LagSeconds int64 `json:"lagSeconds"`

	// LastAppliedAt is when the relay last applied an event to the mirror.
	// +optional
	LastAppliedAt *metav1.Time `json:"lastAppliedAt,omitempty"`

	// Rows counts the mirror's rows, deleted objects included.
	// +optional
	Rows int64 `json:"rows"`

	// Tables counts the rows of each object type's table.
	// +listType=map
	// +listMapKey=objectType
	// +optional
	Tables []MirrorTableStatus `json:"tables,omitempty"`

	// Backfill reports the listing of the mirror's accounts from Stripe.
	// +optional
	Backfill MirrorBackfillStatus `json:"backfill"`

	// Revalidation reports the last revalidation pass.
	// +optional
	Revalidation MirrorRevalidationStatus `json:"revalidation"`
}

// MirrorTableStatus counts one table's rows.
type MirrorTableStatus struct {
	// ObjectType is the Stripe object type of the table.
	ObjectType MirrorObjectType `json:"objectType"`
	// Rows in the table, deleted objects included.
	Rows int64 `json:"rows"`
}

// MirrorBackfillStatus reports a mirror's backfill: one listing per account and object type, resumed
// from its cursor when interrupted.
type MirrorBackfillStatus struct {
	// Accounts is how many Stripe accounts the mirror holds (the platform's and its tenants').
	// +optional
	Accounts int32 `json:"accounts"`
	// AccountsComplete is how many of them were listed completely.
	// +optional
	AccountsComplete int32 `json:"accountsComplete"`
	// Listings counts the (account, object type) listings complete, out of ListingsTotal.
	// +optional
	Listings int32 `json:"listings"`
	// ListingsTotal is accounts × object types.
	// +optional
	ListingsTotal int32 `json:"listingsTotal"`
	// Pages counts the list pages read from Stripe.
	// +optional
	Pages int64 `json:"pages"`
	// Rows counts the rows written by backfill.
	// +optional
	Rows int64 `json:"rows"`
	// CompletedAt is when the last account's listing completed.
	// +optional
	CompletedAt *metav1.Time `json:"completedAt,omitempty"`
}

// MirrorRevalidationStatus reports the last revalidation pass.
type MirrorRevalidationStatus struct {
	// LastAt is when the last pass ended.
	// +optional
	LastAt *metav1.Time `json:"lastAt,omitempty"`
	// Checked is how many rows the last pass compared with Stripe.
	// +optional
	Checked int64 `json:"checked"`
	// Repaired is how many of them differed from Stripe and were rewritten.
	// +optional
	Repaired int64 `json:"repaired"`
	// RepairedTotal counts the rows every pass repaired since the mirror was created.
	// +optional
	RepairedTotal int64 `json:"repairedTotal"`
}

// StripeMirror is the platform's own copy of Stripe objects (customers, subscriptions, invoices,
// charges, refunds, payouts, …) of one connection and one data-residency region, kept by the webhook
// relay in a PostgreSQL schema: filled from Stripe's list endpoints, then from the relay's verified
// events, older events never overwriting newer state. Its status is written by the relay.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=smirror,categories=stripe
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Backfilled",type=string,JSONPath=`.status.conditions[?(@.type=="BackfillComplete")].status`
// +kubebuilder:printcolumn:name="Region",type=string,JSONPath=`.spec.region`
// +kubebuilder:printcolumn:name="Schema",type=string,JSONPath=`.spec.database.schema`
// +kubebuilder:printcolumn:name="Rows",type=integer,JSONPath=`.status.rows`
// +kubebuilder:printcolumn:name="Lag",type=integer,JSONPath=`.status.lagSeconds`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`,priority=1
type StripeMirror struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec declares the mirror.
	Spec StripeMirrorSpec `json:"spec"`

	// Status is written by the webhook relay: cursor, lag, rows, backfill and revalidation.
	// +optional
	Status StripeMirrorStatus `json:"status,omitempty"`
}

// GetManagedSpec returns nil: a mirror owns no Stripe object (nothing to delete or orphan), and its
// connectionRef is required, in its own spec.
func (m *StripeMirror) GetManagedSpec() *ManagedSpec { return nil }

// GetManagedStatus returns the embedded ManagedStatus.
func (m *StripeMirror) GetManagedStatus() *ManagedStatus { return &m.Status.ManagedStatus }

// GetConditions returns status.conditions.
func (m *StripeMirror) GetConditions() []metav1.Condition { return m.Status.Conditions }

// SetConditions replaces status.conditions.
func (m *StripeMirror) SetConditions(conditions []metav1.Condition) {
	m.Status.Conditions = conditions
}

// +kubebuilder:object:root=true

// StripeMirrorList is a list of StripeMirror.
type StripeMirrorList struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ListMeta `json:"metadata,omitempty"`
	// Items are the StripeMirrors.
	Items []StripeMirror `json:"items"`
}

func init() {
	SchemeBuilder.Register(&StripeMirror{}, &StripeMirrorList{})
}
