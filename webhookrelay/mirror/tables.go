package mirror

import (
	"fmt"
	"net/url"

	"github.com/cloudip/stripe-operator/api/v1alpha1"
)

// column is a query column generated from the object's JSON (data).
type column struct {
	name, sqlType, expr string
}

// Expressions of generated columns (immutable, as PostgreSQL requires of them).
func text(field string) string { return fmt.Sprintf("data->>'%s'", field) }
func bigint(field string) string {
	return fmt.Sprintf("(data->>'%s')::bigint", field)
}
func boolean(field string) string {
	return fmt.Sprintf("(data->>'%s')::boolean", field)
}
func unixTime(field string) string {
	return fmt.Sprintf("to_timestamp((data->>'%s')::double precision)", field)
}

// objectType is one table of the mirror.
type objectType struct {
	name  v1alpha1.MirrorObjectType
	table string
	// listPath is the list endpoint backfill reads (Stripe-Account selects the account); "" for a
	// type that is not listed (account: one GET per account; balance_transaction: per payout).
	listPath string
	// listFilters are added to every list call.
	listFilters url.Values
	// deletable: a "<type>.deleted" event deletes the object (a canceled subscription is not
	// deleted: customer.subscription.deleted carries it canceled, and Stripe still returns it).
	deletable bool
	columns   []column
}

// path is where one object is read (GET).
func (t objectType) path(id string) string {
	switch t.name {
	case v1alpha1.MirrorAccount:
		return "/v1/accounts/" + url.PathEscape(id)
	case v1alpha1.MirrorBalanceTransaction:
		return "/v1/balance_transactions/" + url.PathEscape(id)
	}
	return t.listPath + "/" + url.PathEscape(id)
}

// commonColumns are every table's generated columns.
func commonColumns() []column {
	return []column{
		{"livemode", "boolean", boolean("livemode")},
		{"created", "timestamptz", unixTime("created")},
		{"metadata", "jsonb", "data->'metadata'"},
	}
}

// objectTypes returns the mirror's tables by object type.
func objectTypes() map[v1alpha1.MirrorObjectType]objectType {
	status := column{"status", "text", text("status")}
	customer := column{"customer", "text", text("customer")}
	amount := column{"amount", "bigint", bigint("amount")}
	currency := column{"currency", "text", text("currency")}
	types := []objectType{
		{name: v1alpha1.MirrorAccount, table: "accounts", columns: []column{
			{"type", "text", text("type")}, {"country", "text", text("country")}, {"email", "text", text("email")},
			{"charges_enabled", "boolean", boolean("charges_enabled")}, {"payouts_enabled", "boolean", boolean("payouts_enabled")},
			{"currency", "text", text("default_currency")}}},
		{name: v1alpha1.MirrorCustomer, table: "customers", listPath: "/v1/customers", deletable: true, columns: []column{
			{"email", "text", text("email")}, {"name", "text", text("name")}, {"currency", "text", text("currency")},
			{"balance", "bigint", bigint("balance")}}},
		{name: v1alpha1.MirrorProduct, table: "products", listPath: "/v1/products", deletable: true, columns: []column{
			{"name", "text", text("name")}, {"active", "boolean", boolean("active")}}},
		{name: v1alpha1.MirrorPrice, table: "prices", listPath: "/v1/prices", deletable: true, columns: []column{
			{"product", "text", text("product")}, {"active", "boolean", boolean("active")}, {"type", "text", text("type")},
			{"amount", "bigint", bigint("unit_amount")}, currency, {"lookup_key", "text", text("lookup_key")}}},
		{name: v1alpha1.MirrorSubscription, table: "subscriptions", listPath: "/v1/subscriptions",
			listFilters: url.Values{"status": {"all"}}, // Stripe leaves canceled ones out of a list without it
			columns: []column{customer, status, currency, {"current_period_end", "timestamptz", unixTime("current_period_end")},
				{"cancel_at_period_end", "boolean", boolean("cancel_at_period_end")}}},
		{name: v1alpha1.MirrorInvoice, table: "invoices", listPath: "/v1/invoices", deletable: true, columns: []column{
			customer, status, {"amount", "bigint", bigint("total")}, currency, {"number", "text", text("number")},
			{"subscription", "text", text("subscription")}, {"charge", "text", text("charge")},
			{"payment_intent", "text", text("payment_intent")}, {"amount_due", "bigint", bigint("amount_due")},
			{"amount_paid", "bigint", bigint("amount_paid")}, {"due_date", "timestamptz", unixTime("due_date")}}},
		{name: v1alpha1.MirrorCharge, table: "charges", listPath: "/v1/charges", columns: []column{
			customer, status, amount, currency, {"invoice", "text", text("invoice")},
			{"payment_intent", "text", text("payment_intent")}, {"balance_transaction", "text", text("balance_transaction")},
			{"paid", "boolean", boolean("paid")}, {"amount_refunded", "bigint", bigint("amount_refunded")}}},
		{name: v1alpha1.MirrorRefund, table: "refunds", listPath: "/v1/refunds", columns: []column{
			status, amount, currency, {"charge", "text", text("charge")}, {"payment_intent", "text", text("payment_intent")},
			{"balance_transaction", "text", text("balance_transaction")}}},
		{name: v1alpha1.MirrorPayout, table: "payouts", listPath: "/v1/payouts", columns: []column{
			status, amount, currency, {"arrival_date", "timestamptz", unixTime("arrival_date")},
			{"automatic", "boolean", boolean("automatic")}, {"method", "text", text("method")},
			{"balance_transaction", "text", text("balance_transaction")}}},
		{name: v1alpha1.MirrorBalanceTransaction, table: "balance_transactions", columns: []column{
			status, amount, currency, {"type", "text", text("type")}, {"source", "text", text("source")},
			{"fee", "bigint", bigint("fee")}, {"net", "bigint", bigint("net")},
			{"reporting_category", "text", text("reporting_category")}, {"available_on", "timestamptz", unixTime("available_on")}}},
	}
	out := make(map[v1alpha1.MirrorObjectType]objectType, len(types))
	for _, t := range types {
		out[t.name] = t
	}
	return out
}
