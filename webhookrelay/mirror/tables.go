package mirror

import (
	"fmt"
	"net/url"

	"github.com/cloudip/stripe-operator/api/v1alpha1"
)

// column is a query column generated from the object's JSON (data).
type column struct {
	name, sqlType, expr string
	// indexed columns are what reports join on (a charge's invoice, a transaction's source).
	indexed bool
}

// Generated columns of each SQL type, from a field of the object (expressions PostgreSQL accepts as
// immutable, as it requires of generated columns).
func textOf(name, field string) column {
	return column{name: name, sqlType: "text", expr: fmt.Sprintf("data->>'%s'", field)}
}
func text(field string) column { return textOf(field, field) }
func link(field string) column {
	c := text(field)
	c.indexed = true
	return c
}
func bigintOf(name, field string) column {
	return column{name: name, sqlType: "bigint", expr: fmt.Sprintf("(data->>'%s')::bigint", field)}
}
func bigint(field string) column { return bigintOf(field, field) }
func boolean(field string) column {
	return column{name: field, sqlType: "boolean", expr: fmt.Sprintf("(data->>'%s')::boolean", field)}
}
func unixTime(field string) column {
	return column{name: field, sqlType: "timestamptz", expr: fmt.Sprintf("to_timestamp((data->>'%s')::double precision)", field)}
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

// path is where one object is read (GET); platform says the object is the platform's own (for the
// account: GET /v1/account, not /v1/accounts/{id}, which is for connected accounts).
func (t objectType) path(id string, platform bool) string {
	switch t.name {
	case v1alpha1.MirrorAccount:
		if platform {
			return "/v1/account"
		}
		return "/v1/accounts/" + url.PathEscape(id)
	case v1alpha1.MirrorBalanceTransaction:
		return "/v1/balance_transactions/" + url.PathEscape(id)
	}
	return t.listPath + "/" + url.PathEscape(id)
}

// commonColumns are every table's generated columns.
func commonColumns() []column {
	return []column{boolean("livemode"), unixTime("created"), {name: "metadata", sqlType: "jsonb", expr: "data->'metadata'"}}
}

// objectTypes returns the mirror's tables by object type.
func objectTypes() map[v1alpha1.MirrorObjectType]objectType {
	status, amount, currency := text("status"), bigint("amount"), text("currency")
	types := []objectType{
		{name: v1alpha1.MirrorAccount, table: "accounts", columns: []column{text("type"), text("country"), text("email"),
			boolean("charges_enabled"), boolean("payouts_enabled"), textOf("currency", "default_currency")}},
		{name: v1alpha1.MirrorCustomer, table: "customers", listPath: "/v1/customers", deletable: true, columns: []column{
			text("email"), text("name"), currency, bigint("balance")}},
		{name: v1alpha1.MirrorProduct, table: "products", listPath: "/v1/products", deletable: true, columns: []column{
			text("name"), boolean("active")}},
		{name: v1alpha1.MirrorPrice, table: "prices", listPath: "/v1/prices", deletable: true, columns: []column{
			link("product"), boolean("active"), text("type"), bigintOf("amount", "unit_amount"), currency, text("lookup_key")}},
		{name: v1alpha1.MirrorSubscription, table: "subscriptions", listPath: "/v1/subscriptions",
			listFilters: url.Values{"status": {"all"}}, // Stripe leaves canceled ones out of a list without it
			columns:     []column{link("customer"), status, currency, unixTime("current_period_end"), boolean("cancel_at_period_end")}},
		{name: v1alpha1.MirrorInvoice, table: "invoices", listPath: "/v1/invoices", deletable: true, columns: []column{
			link("customer"), status, bigintOf("amount", "total"), currency, text("number"), link("subscription"),
			link("charge"), text("payment_intent"), bigint("amount_due"), bigint("amount_paid"), unixTime("due_date")}},
		{name: v1alpha1.MirrorCharge, table: "charges", listPath: "/v1/charges", columns: []column{
			link("customer"), status, amount, currency, link("invoice"), text("payment_intent"),
			text("balance_transaction"), boolean("paid"), bigint("amount_refunded")}},
		{name: v1alpha1.MirrorRefund, table: "refunds", listPath: "/v1/refunds", columns: []column{
			status, amount, currency, link("charge"), text("payment_intent"), text("balance_transaction")}},
		{name: v1alpha1.MirrorPayout, table: "payouts", listPath: "/v1/payouts", columns: []column{
			status, amount, currency, unixTime("arrival_date"), boolean("automatic"), text("method"), text("balance_transaction")}},
		{name: v1alpha1.MirrorBalanceTransaction, table: "balance_transactions", columns: []column{
			status, amount, currency, text("type"), link("source"), bigint("fee"), bigint("net"),
			text("reporting_category"), unixTime("available_on")}},
	}
	out := make(map[v1alpha1.MirrorObjectType]objectType, len(types))
	for _, t := range types {
		out[t.name] = t
	}
	return out
}
