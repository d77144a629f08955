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
	"fmt"
	"strings"
)

// Fragments of valid specs; each row changes one thing.
const (
	conn      = `connectionRef: {name: stripe-test}`
	monthly   = `{key: basic, currency: usd, unitAmount: 100, recurring: {interval: month}}`
	expressDE = `{type: express, country: DE}`
	events    = `enabledEvents: [account.updated]`
	sinkBase  = conn + `, region: eu, signingSecretRef: {name: sink-key, key: signingKey}`
	connBase  = `secretRef: {namespace: stripe-operator-system, name: stripe-api-key}, region: eu, allowedNamespaces: {}`
	tiers3    = `[{upTo: 10, unitAmount: 100}, {upTo: 100, unitAmount: 80}, {unitAmount: 50}]`
	letters41 = "abcdefghijklmnopqrstuvwxyzabcdefghijklmno"
	march1    = `from: "2026-03-01T00:00:00Z", to: "2026-03-02T00:00:00Z"`
)

func planSpec(prices ...string) string {
	return "{" + conn + ", product: {name: Plan}, prices: [" + strings.Join(prices, ", ") + "]}"
}

func planWith(fields string) string { return "{" + conn + ", product: {name: Plan}, " + fields + "}" }

func tieredPrice(tiers string) string {
	return "{key: usage, currency: usd, tiersMode: graduated, tiers: " + tiers + ", recurring: {interval: month, usageType: metered}}"
}

func recurringPrice(recurring string) string {
	return "{key: basic, currency: usd, unitAmount: 100, recurring: " + recurring + "}"
}

func tenantSpec(residency, account string, extra ...string) string {
	s := "{" + conn + ", dataResidency: " + residency + ", account: " + account
	for _, e := range extra {
		s += ", " + e
	}
	return s + "}"
}

func webhookSpec(fields string) string { return "{" + conn + ", " + fields + "}" }

func sinkSpec(fields string) string { return "{" + sinkBase + ", " + fields + "}" }

func replaySpec(fields string) string { return "{sinkRef: {name: gl}, " + fields + "}" }

// eventIDs renders a list of n distinct event ids.
func eventIDs(n int) string {
	ids := make([]string, 0, n)
	for i := range n {
		ids = append(ids, fmt.Sprintf("evt_%d", i))
	}
	return "[" + strings.Join(ids, ", ") + "]"
}

func connectionSpec(fields string) string { return "{" + connBase + ", " + fields + "}" }

// validationCases is the table of TestInvalidManifestsRefused: one row per admission rule of the API
// (plus a few rows that must be accepted, so that no rule refuses too much).
func validationCases() []invalidCase {
	return append(append(planCases(), otherCases()...), mirrorCases()...)
}

// planCases pin the BillingPlan rules.
func planCases() []invalidCase {
	return []invalidCase{
		// BillingPlan: prices.
		{name: "plan/currency-uppercase", rule: "currency ^[a-z]{3}$", kind: "BillingPlan",
			spec: planSpec(`{key: basic, currency: USD, unitAmount: 100}`), want: "spec.prices[0].currency"},
		{name: "plan/currency-four-letters", rule: "currency ^[a-z]{3}$", kind: "BillingPlan",
			spec: planSpec(`{key: basic, currency: usdt, unitAmount: 100}`), want: "spec.prices[0].currency"},
		{name: "plan/price-two-amounts", rule: "exactly one of unitAmount / unitAmountDecimal / tiers", kind: "BillingPlan",
			spec: planSpec(`{key: basic, currency: usd, unitAmount: 100, unitAmountDecimal: "1.5"}`), want: "a price needs exactly one of unitAmount, unitAmountDecimal or tiers"},
		{name: "plan/price-no-amount", rule: "exactly one of unitAmount / unitAmountDecimal / tiers", kind: "BillingPlan",
			spec: planSpec(`{key: basic, currency: usd}`), want: "a price needs exactly one of unitAmount, unitAmountDecimal or tiers"},
		{name: "plan/price-amount-and-tiers", rule: "exactly one of unitAmount / unitAmountDecimal / tiers", kind: "BillingPlan",
			spec: planSpec(`{key: usage, currency: usd, unitAmount: 1, tiersMode: volume, tiers: [{unitAmount: 5}], recurring: {interval: month}}`), want: "a price needs exactly one of unitAmount, unitAmountDecimal or tiers"},
		{name: "plan/unit-amount-decimal-format", rule: "unitAmountDecimal: decimal with at most 12 places", kind: "BillingPlan",
			spec: planSpec(`{key: basic, currency: usd, unitAmountDecimal: "1,5"}`), want: "spec.prices[0].unitAmountDecimal"},
		{name: "plan/tiers-without-tiers-mode", rule: "tiers need tiersMode", kind: "BillingPlan",
			spec: planSpec(`{key: usage, currency: usd, tiers: [{unitAmount: 5}], recurring: {interval: month}}`), want: "tiersMode is required when tiers are set"},
		{name: "plan/tiers-mode-without-tiers", rule: "tiersMode only with tiers", kind: "BillingPlan",
			spec: planSpec(`{key: basic, currency: usd, unitAmount: 100, tiersMode: volume}`), want: "tiersMode is required when tiers are set, and only then"},
		{name: "plan/tiers-last-has-up-to", rule: "tiers: only the last tier has no upTo (nil = inf)", kind: "BillingPlan",
			spec: planSpec(tieredPrice(`[{upTo: 10, unitAmount: 100}, {upTo: 100, unitAmount: 50}]`)), want: "every tier but the last must set upTo"},
		{name: "plan/tiers-middle-without-up-to", rule: "tiers: only the last tier has no upTo (nil = inf)", kind: "BillingPlan",
			spec: planSpec(tieredPrice(`[{unitAmount: 100}, {unitAmount: 50}]`)), want: "every tier but the last must set upTo"},
		{name: "plan/tiers-not-ascending", rule: "tiers: upTo strictly ascending", kind: "BillingPlan",
			spec: planSpec(tieredPrice(`[{upTo: 100, unitAmount: 100}, {upTo: 10, unitAmount: 80}, {unitAmount: 50}]`)), want: "upTo must be strictly ascending"},
		{name: "plan/tiers-repeated-up-to", rule: "tiers: upTo strictly ascending", kind: "BillingPlan",
			spec: planSpec(tieredPrice(`[{upTo: 10, unitAmount: 100}, {upTo: 10, unitAmount: 80}, {unitAmount: 50}]`)), want: "upTo must be strictly ascending"},
		{name: "plan/tier-without-amount", rule: "a tier needs an amount", kind: "BillingPlan",
			spec: planSpec(tieredPrice(`[{upTo: 10}, {unitAmount: 50}]`)), want: "a tier needs one of unitAmount, unitAmountDecimal, flatAmount or flatAmountDecimal"},
		{name: "plan/tiers-one-time", rule: "tiers need recurring", kind: "BillingPlan",
			spec: planSpec(`{key: usage, currency: usd, tiersMode: volume, tiers: [{unitAmount: 5}]}`), want: "tiers need recurring"},
		{name: "plan/interval-enum", rule: "recurring.interval enum day|week|month|year", kind: "BillingPlan",
			spec: planSpec(recurringPrice(`{interval: fortnight}`)), want: `spec.prices[0].recurring.interval: Unsupported value: "fortnight"`},
		{name: "plan/interval-count-zero", rule: "recurring.intervalCount >= 1", kind: "BillingPlan",
			spec: planSpec(recurringPrice(`{interval: month, intervalCount: 0}`)), want: "spec.prices[0].recurring.intervalCount"},
		{name: "plan/interval-count-13-months", rule: "recurring: at most one year (month <= 12)", kind: "BillingPlan",
			spec: planSpec(recurringPrice(`{interval: month, intervalCount: 13}`)), want: "recurring.intervalCount must keep the period within one year"},
		{name: "plan/interval-count-53-weeks", rule: "recurring: at most one year (week <= 52)", kind: "BillingPlan",
			spec: planSpec(recurringPrice(`{interval: week, intervalCount: 53}`)), want: "recurring.intervalCount must keep the period within one year"},
		{name: "plan/interval-count-366-days", rule: "recurring: at most one year (day <= 365)", kind: "BillingPlan",
			spec: planSpec(recurringPrice(`{interval: day, intervalCount: 366}`)), want: "spec.prices[0].recurring.intervalCount"},
		{name: "plan/interval-count-2-years", rule: "recurring: at most one year (year = 1)", kind: "BillingPlan",
			spec: planSpec(recurringPrice(`{interval: year, intervalCount: 2}`)), want: "recurring.intervalCount must keep the period within one year"},
		{name: "plan/ok-365-days-and-12-months", rule: "recurring: one year is allowed", kind: "BillingPlan",
			spec: planSpec(`{key: daily, currency: usd, unitAmount: 1, recurring: {interval: day, intervalCount: 365}}`, `{key: yearly, currency: usd, unitAmount: 1, recurring: {interval: month, intervalCount: 12}}`)},
		{name: "plan/aggregate-usage-licensed", rule: "aggregateUsage only for metered", kind: "BillingPlan",
			spec: planSpec(recurringPrice(`{interval: month, aggregateUsage: sum}`)), want: "recurring.aggregateUsage applies only to usageType metered"},
		{name: "plan/duplicate-price-keys", rule: "price keys unique (listType=map, listMapKey=key)", kind: "BillingPlan",
			spec: planSpec(monthly, monthly), want: `.spec.prices: duplicate entries for key [key="basic"]`},
		{name: "plan/duplicate-lookup-keys", rule: "lookupKey unique within the plan", kind: "BillingPlan",
			spec: planSpec(`{key: a, currency: usd, unitAmount: 1, lookupKey: pro}`, `{key: b, currency: eur, unitAmount: 1, lookupKey: pro}`), want: "spec.prices: lookupKey must be unique within the plan"},
		{name: "plan/ok-tiers", rule: "a well-formed tiered price is accepted", kind: "BillingPlan",
			spec: planSpec(tieredPrice(tiers3))},
		// BillingPlan: product and metadata.
		{name: "plan/metadata-46-keys", rule: "metadata <= 50 keys (45 + the operator's 5 tags)", kind: "BillingPlan",
			spec: "{" + conn + ", product: {name: Plan, metadata: " + metadataWithKeys(46) + "}}", want: "spec.product.metadata: Too many: 46"},
		{name: "plan/ok-metadata-45-keys", rule: "metadata <= 50 keys (45 + the operator's 5 tags)", kind: "BillingPlan",
			spec: "{" + conn + ", product: {name: Plan, metadata: " + metadataWithKeys(45) + "}}"},
		{name: "plan/metadata-reserved-prefix", rule: "metadata keys cloudip_* reserved for the operator's tags", kind: "BillingPlan",
			spec: "{" + conn + ", product: {name: Plan, metadata: {cloudip_uid: x}}}", want: "metadata keys starting with cloudip_ are reserved"},
		{name: "plan/metadata-key-41-chars", rule: "metadata key <= 40 characters", kind: "BillingPlan",
			spec: planWith(`prices: [{key: basic, currency: usd, unitAmount: 1, metadata: {` + letters41 + `: v}}]`), want: "metadata keys must be at most 40 characters"},
		{name: "plan/metadata-key-brackets", rule: "metadata key without [ ]", kind: "BillingPlan",
			spec: "{" + conn + `, product: {name: Plan, metadata: {"tags[0]": v}}}`, want: "metadata keys must not contain '[' or ']'"},
		{name: "plan/metadata-value-501-chars", rule: "metadata value <= 500 characters", kind: "BillingPlan",
			spec: "{" + conn + ", product: {name: Plan, metadata: {k: " + strings.Repeat("x", 501) + "}}}", want: "metadata values must be at most 500 characters"},
		{name: "plan/statement-descriptor-chars", rule: "statementDescriptor <= 22, no < > \\ \" '", kind: "BillingPlan",
			spec: "{" + conn + ", product: {name: Plan, statementDescriptor: <CLOUDIP>}}", want: "spec.product.statementDescriptor"},
		{name: "plan/statement-descriptor-23-chars", rule: "statementDescriptor <= 22, no < > \\ \" '", kind: "BillingPlan",
			spec: "{" + conn + ", product: {name: Plan, statementDescriptor: ABCDEFGHIJKLMNOPQRSTUVW}}", want: "spec.product.statementDescriptor: Too long"},
		{name: "plan/tax-code", rule: "taxCode txcd_ + 8 digits", kind: "BillingPlan",
			spec: "{" + conn + ", product: {name: Plan, taxCode: saas}}", want: "spec.product.taxCode"},
		// BillingPlan: references and policies (ManagedSpec).
		{name: "plan/no-connection-no-tenant", rule: "connectionRef required unless tenantRef", kind: "BillingPlan",
			spec: "{product: {name: Plan}}", want: "spec.connectionRef is required unless spec.tenantRef is set"},
		{name: "plan/ok-tenant-without-connection", rule: "a tenant's plan inherits the tenant's connection", kind: "BillingPlan",
			spec: "{tenantRef: {name: acme}, product: {name: Plan}}"},
		{name: "plan/deletion-policy-enum", rule: "deletionPolicy enum Delete|Orphan", kind: "BillingPlan",
			spec: planWith("deletionPolicy: Keep"), want: `spec.deletionPolicy: Unsupported value: "Keep"`},
		{name: "plan/management-policy-enum", rule: "managementPolicy enum Manage|Observe", kind: "BillingPlan",
			spec: planWith("managementPolicy: ReadOnly"), want: `spec.managementPolicy: Unsupported value: "ReadOnly"`},
		{name: "plan/connection-ref-immutable", rule: "connectionRef immutable", kind: "BillingPlan",
			before: planSpec(monthly), spec: `{connectionRef: {name: other}, product: {name: Plan}, prices: [` + monthly + `]}`, want: "connectionRef is immutable"},
		{name: "plan/tenant-ref-immutable", rule: "tenantRef immutable", kind: "BillingPlan",
			before: "{tenantRef: {name: acme}, product: {name: Plan}}", spec: "{tenantRef: {name: globex}, product: {name: Plan}}", want: "spec.tenantRef is immutable"},
		{name: "plan/tenant-ref-removed", rule: "tenantRef immutable (cannot be removed)", kind: "BillingPlan",
			before: "{" + conn + ", tenantRef: {name: acme}, product: {name: Plan}}", spec: "{" + conn + ", product: {name: Plan}}", want: "spec.tenantRef is immutable: it cannot be added or removed"},
		{name: "plan/ok-price-amount-change", rule: "prices are versioned by the operator, not immutable", kind: "BillingPlan",
			before: planSpec(monthly), spec: planSpec(`{key: basic, currency: usd, unitAmount: 200, recurring: {interval: month}}`)},
	}
}
