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

// otherCases pin the rules of StripeTenant, StripeWebhookEndpoint, StripeEventSink and StripeConnection.
func otherCases() []invalidCase {
	return []invalidCase{
		// StripeTenant.
		{name: "tenant/connection-required", rule: "connectionRef required", kind: "StripeTenant",
			spec: "{dataResidency: eu, account: " + expressDE + "}", want: "spec.connectionRef is required"},
		{name: "tenant/data-residency-enum", rule: "dataResidency enum us|eu|ap", kind: "StripeTenant",
			spec: tenantSpec("mars", expressDE), want: `spec.dataResidency: Unsupported value: "mars"`},
		{name: "tenant/data-residency-immutable", rule: "dataResidency immutable", kind: "StripeTenant",
			before: tenantSpec("eu", expressDE), spec: tenantSpec("us", expressDE), want: "spec.dataResidency is immutable"},
		{name: "tenant/type-and-controller", rule: "account: exactly one of type or controller", kind: "StripeTenant",
			spec: tenantSpec("eu", `{type: express, controller: {fees: {payer: application}}, country: DE}`), want: "spec.account: set exactly one of type or controller"},
		{name: "tenant/neither-type-nor-controller", rule: "account: exactly one of type or controller", kind: "StripeTenant",
			spec: tenantSpec("eu", `{country: DE}`), want: "spec.account: set exactly one of type or controller"},
		{name: "tenant/empty-controller", rule: "account.controller: at least one property", kind: "StripeTenant",
			spec: tenantSpec("eu", `{controller: {}, country: DE}`), want: "spec.account.controller"},
		{name: "tenant/ok-controller", rule: "controller properties instead of a type are accepted", kind: "StripeTenant",
			spec: tenantSpec("eu", `{controller: {fees: {payer: application}, losses: {payments: application}, stripeDashboard: {type: none}, requirementCollection: application}, country: DE}`)},
		{name: "tenant/account-type-enum", rule: "account.type enum express|standard|custom", kind: "StripeTenant",
			spec: tenantSpec("eu", `{type: premium, country: DE}`), want: `spec.account.type: Unsupported value: "premium"`},
		{name: "tenant/account-type-immutable", rule: "account.type immutable", kind: "StripeTenant",
			before: tenantSpec("eu", expressDE), spec: tenantSpec("eu", `{type: standard, country: DE}`), want: "spec.account.type is immutable"},
		{name: "tenant/type-to-controller", rule: "account: the choice of type or controller is immutable (optional fields)", kind: "StripeTenant",
			before: tenantSpec("eu", expressDE), spec: tenantSpec("eu", `{controller: {stripeDashboard: {type: express}}, country: DE}`), want: "spec.account: the choice between type and controller is immutable"},
		{name: "tenant/country-format", rule: "account.country ISO 3166-1 alpha-2, upper case", kind: "StripeTenant",
			spec: tenantSpec("eu", `{type: express, country: de}`), want: "spec.account.country"},
		{name: "tenant/country-immutable", rule: "account.country immutable", kind: "StripeTenant",
			before: tenantSpec("eu", expressDE), spec: tenantSpec("eu", `{type: express, country: FR}`), want: "spec.account.country is immutable"},
		{name: "tenant/capability-enum", rule: "account.capabilities enum (Stripe's capability names)", kind: "StripeTenant",
			spec: tenantSpec("eu", `{type: express, country: DE, capabilities: [card_payments, bitcoin_payments]}`), want: `spec.account.capabilities[1]: Unsupported value: "bitcoin_payments"`},
		{name: "tenant/capability-duplicate", rule: "account.capabilities is a set", kind: "StripeTenant",
			spec: tenantSpec("eu", `{type: express, country: DE, capabilities: [transfers, transfers]}`), want: `.spec.account.capabilities: duplicate entries for key [="transfers"]`},
		{name: "tenant/weekly-payouts-without-anchor", rule: "payoutSchedule.weeklyAnchor with weekly, and only then", kind: "StripeTenant",
			spec: tenantSpec("eu", `{type: express, country: DE, payoutSchedule: {interval: weekly}}`), want: "payoutSchedule.weeklyAnchor is required with interval weekly"},
		{name: "tenant/monthly-anchor-32", rule: "payoutSchedule.monthlyAnchor 1-31", kind: "StripeTenant",
			spec: tenantSpec("eu", `{type: express, country: DE, payoutSchedule: {interval: monthly, monthlyAnchor: 32}}`), want: "spec.account.payoutSchedule.monthlyAnchor"},
		{name: "tenant/return-url", rule: "onboarding URLs are absolute http(s) URLs", kind: "StripeTenant",
			spec: tenantSpec("eu", expressDE, `onboarding: {returnURL: /done, refreshURL: "https://console.example/refresh"}`), want: "spec.onboarding.returnURL must be an absolute http(s) URL"},
		{name: "tenant/trial-too-long", rule: "subscription.trialPeriodDays <= 730", kind: "StripeTenant",
			spec: tenantSpec("eu", expressDE, `subscription: {planRef: {name: p}, priceKey: basic, trialPeriodDays: 731}`), want: "spec.subscription.trialPeriodDays"},
		{name: "tenant/billing-email", rule: "billingEmail is an email address", kind: "StripeTenant",
			spec: tenantSpec("eu", expressDE, `billingEmail: billing.example.com`), want: "spec.billingEmail"},
		// StripeWebhookEndpoint.
		{name: "webhook/http-public-host", rule: "url https (http only for loopback and *.svc)", kind: "StripeWebhookEndpoint",
			spec: webhookSpec(events + `, url: "http://hooks.example.com/stripe"`), want: "spec.url must use https"},
		{name: "webhook/http-host-suffix-trick", rule: "url https (http only for loopback and *.svc)", kind: "StripeWebhookEndpoint",
			spec: webhookSpec(events + `, url: "http://relay.svc.example.com/stripe"`), want: "spec.url must use https"},
		{name: "webhook/http-userinfo-trick", rule: "url https (http only for loopback and *.svc)", kind: "StripeWebhookEndpoint",
			spec: webhookSpec(events + `, url: "http://localhost@hooks.example.com/stripe"`), want: "spec.url must use https"},
		{name: "webhook/ok-http-loopback", rule: "http allowed for loopback", kind: "StripeWebhookEndpoint",
			spec: webhookSpec(events + `, url: "http://127.0.0.1:12111/hooks"`)},
		{name: "webhook/ok-http-localhost", rule: "http allowed for loopback", kind: "StripeWebhookEndpoint",
			spec: webhookSpec(events + `, url: "http://localhost:8080"`)},
		{name: "webhook/ok-http-svc", rule: "http allowed for in-cluster *.svc hosts", kind: "StripeWebhookEndpoint",
			spec: webhookSpec(events + `, url: "http://relay.payments.svc.cluster.local:8080/stripe"`)},
		{name: "webhook/not-a-url", rule: "url absolute http(s)", kind: "StripeWebhookEndpoint",
			spec: webhookSpec(events + `, url: "ftp://hooks.example.com/stripe"`), want: "spec.url must be an absolute http(s) URL"},
		{name: "webhook/url-and-service", rule: "exactly one of url or serviceRef", kind: "StripeWebhookEndpoint",
			spec: webhookSpec(events + `, url: "https://hooks.example.com", serviceRef: {name: relay}`), want: "spec: set exactly one of url or serviceRef"},
		{name: "webhook/neither-url-nor-service", rule: "exactly one of url or serviceRef", kind: "StripeWebhookEndpoint",
			spec: webhookSpec(events), want: "spec: set exactly one of url or serviceRef"},
		{name: "webhook/enabled-events-empty", rule: "enabledEvents non-empty (minItems 1)", kind: "StripeWebhookEndpoint",
			spec: webhookSpec(`enabledEvents: [], url: "https://hooks.example.com"`), want: "spec.enabledEvents"},
		{name: "webhook/enabled-events-missing", rule: "enabledEvents required", kind: "StripeWebhookEndpoint",
			spec: webhookSpec(`url: "https://hooks.example.com"`), want: "spec.enabledEvents: Required value"},
		{name: "webhook/enabled-event-name", rule: "enabledEvents are event type names", kind: "StripeWebhookEndpoint",
			spec: webhookSpec(`enabledEvents: [Invoice.Paid], url: "https://hooks.example.com"`), want: "spec.enabledEvents[0]"},
		{name: "webhook/connect-immutable", rule: "connect immutable (defaulted, so true -> omitted is caught)", kind: "StripeWebhookEndpoint",
			before: webhookSpec(events + `, url: "https://hooks.example.com", connect: true`), spec: webhookSpec(events + `, url: "https://hooks.example.com"`), want: "spec.connect is immutable"},
		{name: "webhook/secret-name-immutable", rule: "secretName immutable (the secret comes only once)", kind: "StripeWebhookEndpoint",
			before: webhookSpec(events + `, url: "https://hooks.example.com", secretName: a`), spec: webhookSpec(events + `, url: "https://hooks.example.com", secretName: b`), want: "spec.secretName is immutable"},
		{name: "webhook/api-version-removed", rule: "apiVersion immutable (cannot be removed)", kind: "StripeWebhookEndpoint",
			before: webhookSpec(events + `, url: "https://hooks.example.com", apiVersion: "2023-10-16"`), spec: webhookSpec(events + `, url: "https://hooks.example.com"`), want: "spec.apiVersion is immutable: it cannot be added or removed"},
		// StripeEventSink.
		{name: "sink/format-enum", rule: "format enum events|ledger", kind: "StripeEventSink",
			spec: sinkSpec(`url: "https://gl.example.com", format: csv`), want: `spec.format: Unsupported value: "csv"`},
		{name: "sink/http-public-host", rule: "url https (http only for loopback and *.svc)", kind: "StripeEventSink",
			spec: sinkSpec(`url: "http://gl.example.com"`), want: "spec.url must use https"},
		{name: "sink/region-required", rule: "region required", kind: "StripeEventSink",
			spec: "{" + conn + `, signingSecretRef: {name: k, key: k}, url: "https://gl.example.com"}`, want: "spec.region: Required value"},
		{name: "sink/event-type-pattern", rule: "eventTypes: names, prefix.* or *", kind: "StripeEventSink",
			spec: sinkSpec(`url: "https://gl.example.com", eventTypes: ["*.paid"]`), want: "spec.eventTypes[0]"},
		{name: "sink/ok-event-type-wildcards", rule: "eventTypes: names, prefix.* or *", kind: "StripeEventSink",
			spec: sinkSpec(`url: "https://gl.example.com", eventTypes: ["*", "charge.*", invoice.paid]`)},
		// StripeConnection (cluster-scoped).
		{name: "connection/mode-enum", rule: "mode enum test|live", kind: "StripeConnection",
			spec: connectionSpec("mode: sandbox"), want: `spec.mode: Unsupported value: "sandbox"`},
		{name: "connection/mode-immutable", rule: "mode immutable", kind: "StripeConnection",
			before: connectionSpec("mode: test"), spec: connectionSpec("mode: live"), want: "spec.mode is immutable"},
		{name: "connection/region-immutable", rule: "region immutable", kind: "StripeConnection",
			before: connectionSpec("mode: test"), spec: "{secretRef: {namespace: stripe-operator-system, name: stripe-api-key}, region: us, allowedNamespaces: {}, mode: test}", want: "spec.region is immutable"},
		{name: "connection/test-rate-over-25", rule: "rateLimit within Stripe's test-mode limit (25/s)", kind: "StripeConnection",
			spec: connectionSpec("mode: test, rateLimit: {requestsPerSecond: 50}"), want: "spec.rateLimit.requestsPerSecond must be at most 25 in test mode"},
		{name: "connection/live-rate-over-100", rule: "rateLimit within Stripe's live-mode limit (100/s)", kind: "StripeConnection",
			spec: connectionSpec("mode: live, rateLimit: {requestsPerSecond: 150}"), want: "spec.rateLimit.requestsPerSecond"},
		{name: "connection/allowed-namespaces-required", rule: "allowedNamespaces required ({} = all)", kind: "StripeConnection",
			spec: "{secretRef: {namespace: stripe-operator-system, name: stripe-api-key}, region: eu, mode: test}", want: "spec.allowedNamespaces: Required value"},
		{name: "connection/api-base-url-http", rule: "apiBaseURL https (http only for loopback and *.svc)", kind: "StripeConnection",
			spec: connectionSpec(`mode: test, apiBaseURL: "http://stripe-proxy.example.com"`), want: "spec.apiBaseURL must use https"},
		{name: "connection/ok-emulator", rule: "apiBaseURL http on loopback (the emulator)", kind: "StripeConnection",
			spec: connectionSpec(`mode: test, apiBaseURL: "http://127.0.0.1:12111"`)},
	}
}
