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

import "strings"

// mirrorDB is a StripeMirror's database block with the given schema.
func mirrorDB(schema string) string {
	return "database: {urlSecretRef: {name: mirror-db, key: url}, schema: " + schema + "}"
}

// mirrorSpec is a valid StripeMirror spec (connection stripe-test, region eu, schema stripe_eu) with
// the given fields added.
func mirrorSpec(fields ...string) string {
	return mirrorOf(conn, "eu", "stripe_eu", fields...)
}

// mirrorOf is a StripeMirror spec of the given connectionRef, region and schema.
func mirrorOf(connectionRef, region, schema string, fields ...string) string {
	parts := append([]string{connectionRef, "region: " + region, mirrorDB(schema)}, fields...)
	return "{" + strings.Join(parts, ", ") + "}"
}

// mirrorCases pin the StripeMirror rules.
func mirrorCases() []invalidCase {
	schema63 := "s" + strings.Repeat("x", 62)
	return []invalidCase{
		{name: "mirror/ok-minimal", rule: "connectionRef, region and database are enough (objectTypes empty: all)", kind: "StripeMirror",
			spec: mirrorSpec()},
		{name: "mirror/ok-bounds", rule: "revalidation: interval 1m-168h, sampleSize 0-10000; objectTypes from the enum", kind: "StripeMirror",
			spec: mirrorSpec("objectTypes: [customer, balance_transaction]", "revalidation: {interval: 168h, sampleSize: 10000}")},
		{name: "mirror/ok-low-bounds", rule: "revalidation: interval 1m-168h, sampleSize 0 (off)", kind: "StripeMirror",
			spec: mirrorSpec("revalidation: {interval: 1m, sampleSize: 0}")},
		{name: "mirror/ok-all-object-types", rule: "objectTypes: at most 10, the enum's 10", kind: "StripeMirror",
			spec: mirrorSpec("objectTypes: [account, customer, product, price, subscription, invoice, charge, refund, payout, balance_transaction]")},
		{name: "mirror/ok-schema-63-chars", rule: "database.schema ^[a-z_][a-z0-9_]{0,62}$ (PostgreSQL's 63-byte names)", kind: "StripeMirror",
			spec: mirrorOf(conn, "eu", schema63)},
		{name: "mirror/ok-schema-underscore", rule: "database.schema ^[a-z_][a-z0-9_]{0,62}$", kind: "StripeMirror",
			spec: mirrorOf(conn, "eu", "_stripe_eu_2")},
		{name: "mirror/ok-mutable-fields", rule: "objectTypes and revalidation may change", kind: "StripeMirror",
			before: mirrorSpec(), spec: mirrorSpec("objectTypes: [charge, refund]", "revalidation: {interval: 6h, sampleSize: 0}")},
		// Required fields.
		{name: "mirror/connection-required", rule: "connectionRef required", kind: "StripeMirror",
			spec: "{region: eu, " + mirrorDB("stripe_eu") + "}", want: "spec.connectionRef: Required value"},
		{name: "mirror/region-required", rule: "region required", kind: "StripeMirror",
			spec: "{" + conn + ", " + mirrorDB("stripe_eu") + "}", want: "spec.region: Required value"},
		{name: "mirror/database-required", rule: "database required", kind: "StripeMirror",
			spec: "{" + conn + ", region: eu}", want: "spec.database: Required value"},
		{name: "mirror/url-secret-required", rule: "database.urlSecretRef required", kind: "StripeMirror",
			spec: "{" + conn + ", region: eu, database: {schema: stripe_eu}}", want: "spec.database.urlSecretRef: Required value"},
		{name: "mirror/schema-required", rule: "database.schema required", kind: "StripeMirror",
			spec: "{" + conn + ", region: eu, database: {urlSecretRef: {name: mirror-db, key: url}}}", want: "spec.database.schema: Required value"},
		{name: "mirror/region-enum", rule: "region enum us|eu|ap", kind: "StripeMirror",
			spec: mirrorOf(conn, "mars", "stripe_eu"), want: `spec.region: Unsupported value: "mars"`},
		// database.schema: a PostgreSQL name the relay can use unquoted.
		{name: "mirror/schema-uppercase", rule: "database.schema ^[a-z_][a-z0-9_]{0,62}$ (lower case)", kind: "StripeMirror",
			spec: mirrorOf(conn, "eu", "Stripe_EU"), want: "spec.database.schema in body should match"},
		{name: "mirror/schema-leading-digit", rule: "database.schema ^[a-z_][a-z0-9_]{0,62}$ (no leading digit)", kind: "StripeMirror",
			spec: mirrorOf(conn, "eu", `"1stripe"`), want: "spec.database.schema in body should match"},
		{name: "mirror/schema-dash", rule: "database.schema ^[a-z_][a-z0-9_]{0,62}$ (no dash)", kind: "StripeMirror",
			spec: mirrorOf(conn, "eu", "stripe-eu"), want: "spec.database.schema in body should match"},
		{name: "mirror/schema-dot", rule: "database.schema ^[a-z_][a-z0-9_]{0,62}$ (one name, not schema.table)", kind: "StripeMirror",
			spec: mirrorOf(conn, "eu", "public.stripe"), want: "spec.database.schema in body should match"},
		{name: "mirror/schema-empty", rule: "database.schema ^[a-z_][a-z0-9_]{0,62}$ (not empty)", kind: "StripeMirror",
			spec: mirrorOf(conn, "eu", `""`), want: "spec.database.schema in body should match"},
		{name: "mirror/schema-64-chars", rule: "database.schema ^[a-z_][a-z0-9_]{0,62}$ (at most 63)", kind: "StripeMirror",
			spec: mirrorOf(conn, "eu", schema63+"x"), want: "spec.database.schema in body should match"},
		// Immutable: the rows belong to one account, one region, one schema.
		{name: "mirror/connection-immutable", rule: "connectionRef immutable", kind: "StripeMirror",
			before: mirrorSpec(), spec: mirrorOf(`connectionRef: {name: stripe-live}`, "eu", "stripe_eu"), want: "connectionRef is immutable: the rows belong to that account"},
		{name: "mirror/region-immutable", rule: "region immutable", kind: "StripeMirror",
			before: mirrorSpec(), spec: mirrorOf(conn, "us", "stripe_eu"), want: "region is immutable: a mirror never holds two regions' rows"},
		{name: "mirror/schema-immutable", rule: "database.schema immutable", kind: "StripeMirror",
			before: mirrorSpec(), spec: mirrorOf(conn, "eu", "stripe_eu_2"), want: "database.schema is immutable: create another StripeMirror"},
		{name: "mirror/ok-url-secret-changed", rule: "database.urlSecretRef may change (a new password, another role)", kind: "StripeMirror",
			before: mirrorSpec(), spec: "{" + conn + ", region: eu, database: {urlSecretRef: {name: mirror-db-2, key: dsn}, schema: stripe_eu}}"},
		// revalidation bounds.
		{name: "mirror/interval-59s", rule: "revalidation.interval 1m-168h", kind: "StripeMirror",
			spec: mirrorSpec("revalidation: {interval: 59s}"), want: "spec.revalidation.interval must be between 1m and 168h"},
		{name: "mirror/interval-169h", rule: "revalidation.interval 1m-168h", kind: "StripeMirror",
			spec: mirrorSpec("revalidation: {interval: 169h}"), want: "spec.revalidation.interval must be between 1m and 168h"},
		{name: "mirror/interval-not-a-duration", rule: "revalidation.interval is a Go duration", kind: "StripeMirror",
			spec: mirrorSpec("revalidation: {interval: hourly}"), want: "spec.revalidation.interval"},
		{name: "mirror/sample-size-negative", rule: "revalidation.sampleSize 0-10000", kind: "StripeMirror",
			spec: mirrorSpec("revalidation: {sampleSize: -1}"), want: "spec.revalidation.sampleSize"},
		{name: "mirror/sample-size-10001", rule: "revalidation.sampleSize 0-10000", kind: "StripeMirror",
			spec: mirrorSpec("revalidation: {sampleSize: 10001}"), want: "spec.revalidation.sampleSize"},
		// objectTypes: Stripe's object names, each once.
		{name: "mirror/object-type-enum", rule: "objectTypes enum (Stripe's object names, singular)", kind: "StripeMirror",
			spec: mirrorSpec("objectTypes: [customer, customers]"), want: `spec.objectTypes[1]: Unsupported value: "customers"`},
		{name: "mirror/object-type-event", rule: "objectTypes enum (events are not mirrored)", kind: "StripeMirror",
			spec: mirrorSpec("objectTypes: [event]"), want: `spec.objectTypes[0]: Unsupported value: "event"`},
		// A set: server-side apply refuses a duplicate before validation runs. So maxItems 10 cannot be
		// exceeded either (the enum has 10 values; an 11th item is a duplicate): ok-all-object-types
		// pins the upper bound.
		{name: "mirror/object-type-duplicate", rule: "objectTypes a set (listType=set)", kind: "StripeMirror",
			spec: mirrorSpec("objectTypes: [charge, refund, charge]"), want: `.spec.objectTypes: duplicate entries for key [="charge"]`},
	}
}
