package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"k8s.io/apimachinery/pkg/api/meta"

	"github.com/cloudip/stripe-operator/api/v1alpha1"
	"github.com/cloudip/stripe-operator/internal/pgtest"
	"github.com/cloudip/stripe-operator/internal/testenv"
)

// The mirror part of the demo: a private PostgreSQL (internal/pgtest) stands for the platform's
// reporting database. A StripeMirror of the demo's connection and region, made after the ledger part,
// has the relay list the tenant's month into the schema (backfill), then keep it from the events; a
// reporting module's SQL joins the tenant's invoices to the payout that paid them.

// mirrorDemo names what the mirror step makes and reads.
type mirrorDemo struct {
	namespace, tenant string // the tenant whose invoices the query reads
	connection        string
	region            v1alpha1.Region
	name, schema      string // the StripeMirror and its PostgreSQL schema
	secret, database  string // the Secret holding the database URL, and the database
	// invoices is how many of the tenant's invoices, paid out, the query must show (the ledger
	// month's); 0 when the ledger part was skipped.
	invoices int
	timeout  time.Duration
}

// demoMirror starts PostgreSQL, applies the Secret and the StripeMirror, waits for the backfill, and
// prints a reporting module's queries and the mirror's status. The returned stop, never nil, stops
// PostgreSQL: the caller defers it, so the database lives as long as the relay keeps the mirror (and
// through -keep) and is gone on every exit.
func demoMirror(ctx context.Context, env *testenv.Env, d mirrorDemo) (stop func(), err error) {
	stop = func() {}
	step("starting a private PostgreSQL, the platform's reporting database (internal/pgtest: initdb into a temporary folder, the server on a free loopback port)")
	pg, err := pgtest.StartServer()
	if err != nil {
		return stop, fmt.Errorf("start PostgreSQL: %w", err)
	}
	stop = pg.Stop
	if err := context.Cause(ctx); err != nil {
		return stop, err
	}
	dsn, err := pg.NewDatabase(ctx, d.database)
	if err != nil {
		return stop, err
	}
	fmt.Printf("  PostgreSQL on 127.0.0.1:%d, database %s: %s\n", pg.Port, d.database, dsn)
	if bin, err := pgtest.BinDir(); err == nil {
		fmt.Printf("  (explore it with -keep: %s '%s')\n", filepath.Join(bin, "psql"), dsn)
	}

	manifest := d.manifest(dsn)
	step(fmt.Sprintf("kubectl apply --server-side -f - (the database's URL in Secret %s, and StripeMirror %s: %s's %s objects in schema %s)",
		d.secret, d.name, d.connection, d.region, d.schema))
	fmt.Print(manifest)
	applied := time.Now()
	out, err := kubectlInput(ctx, env, manifest, "apply", "--server-side", "-f", "-")
	fmt.Print(out)
	if err != nil {
		return stop, err
	}
	ref := "stripemirror/" + d.name
	wait := "--timeout=" + seconds(d.timeout)
	for _, condition := range []string{v1alpha1.ConditionBackfillComplete, v1alpha1.ConditionReady} {
		step(fmt.Sprintf("kubectl wait -n %s --for=condition=%s %s %s", d.namespace, condition, ref, wait))
		if err := kubectl(ctx, env, "wait", "-n", d.namespace, "--for=condition="+condition, ref, wait); err != nil {
			return stop, err
		}
		fmt.Printf("%s %.1f s after the mirror was applied\n", condition, time.Since(applied).Seconds())
	}

	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return stop, fmt.Errorf("connect to the mirror's database: %w", err)
	}
	defer func() { _ = conn.Close(context.WithoutCancel(ctx)) }()
	if err := d.queries(ctx, conn, applied); err != nil {
		return stop, err
	}
	return stop, d.status(ctx, env)
}

// manifest is the Secret with the database URL and the StripeMirror, as a person would apply them.
func (d mirrorDemo) manifest(dsn string) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Secret
metadata:
  name: %[1]s
  namespace: %[2]s
stringData:
  url: %[3]s
---
apiVersion: payments.cloudip.io/v1alpha1
kind: StripeMirror
metadata:
  name: %[4]s
  namespace: %[2]s
spec:
  connectionRef:
    name: %[5]s
  region: %[6]s
  database:
    urlSecretRef:
      name: %[1]s
      key: url
    schema: %[7]s
`, d.secret, d.namespace, dsn, d.name, d.connection, d.region, d.schema)
}

// invoicesSQL is a reporting module's query: the tenant's invoices and the payout that paid them.
func (d mirrorDemo) invoicesSQL() string {
	return strings.NewReplacer("<schema>", d.schema, "<tenant>", d.namespace+"/"+d.tenant).Replace(
		`SELECT i.number, i.id AS invoice, i.customer, i.amount_paid, i.currency, i.status, c.id AS charge,
       p.id AS payout, p.status AS payout_status, p.arrival_date::date
FROM <schema>.invoices i
JOIN <schema>.charges c ON c.id = i.charge
JOIN <schema>.balance_transactions bt ON bt.id = c.balance_transaction
JOIN <schema>.payouts p ON p.id = bt.payout
WHERE i.tenant = '<tenant>'
ORDER BY i.created;`)
}

// payoutSQL is the tenant's payouts, by the type of the balance transactions they paid out.
func (d mirrorDemo) payoutSQL() string {
	return strings.NewReplacer("<schema>", d.schema, "<tenant>", d.namespace+"/"+d.tenant).Replace(
		`SELECT p.id AS payout, bt.type, count(*) AS transactions, sum(bt.amount)::bigint AS amount,
       sum(bt.fee)::bigint AS fee, sum(bt.net)::bigint AS net
FROM <schema>.payouts p
JOIN <schema>.balance_transactions bt ON bt.payout = p.id
WHERE p.tenant = '<tenant>'
GROUP BY p.id, bt.type
ORDER BY p.id, bt.type;`)
}

// queries waits until the invoice query shows the ledger month's invoices paid out (the payout's
// balance transactions are listed just after the backfill), then prints both queries and their results.
func (d mirrorDemo) queries(ctx context.Context, conn *pgx.Conn, applied time.Time) error {
	invoices := d.invoicesSQL()
	step("a reporting module's query: the tenant's invoices and the payout that paid them")
	var result queryResult
	for {
		var err error
		if result, err = query(ctx, conn, invoices); err != nil {
			return err
		}
		if result.paidOut() >= d.invoices {
			break
		}
		if time.Since(applied) > d.timeout {
			return fmt.Errorf("after %s the mirror shows %d of the tenant's %d invoices paid out:\n%s", d.timeout, result.paidOut(), d.invoices, result.format())
		}
		select {
		case <-ctx.Done():
			return context.Cause(ctx)
		case <-time.After(500 * time.Millisecond):
		}
	}
	if d.invoices > 0 {
		fmt.Printf("  the ledger month's %d invoices joined to their payout %.1f s after the mirror was applied\n", d.invoices, time.Since(applied).Seconds())
	}
	fmt.Printf("\n%s\n\n%s", invoices, result.format())

	payouts := d.payoutSQL()
	step("and the payout: what it paid out, by balance transaction type")
	result, err := query(ctx, conn, payouts)
	if err != nil {
		return err
	}
	fmt.Printf("\n%s\n\n%s", payouts, result.format())
	return nil
}

// status prints the mirror's status as a kubectl get line (Ready, Backfilled, Region, Schema, Rows),
// with its tables and backfill. The relay writes it every few seconds: when the tenant's payout is in
// the mirror, it waits for a status that counts the payout's balance transactions.
func (d mirrorDemo) status(ctx context.Context, env *testenv.Env) error {
	step(fmt.Sprintf("kubectl get -n %s stripemirror/%s, from its status (written by the relay)", d.namespace, d.name))
	var m v1alpha1.StripeMirror
	for started := time.Now(); ; {
		out, err := kubectlOutput(ctx, env, "get", "-n", d.namespace, "stripemirror/"+d.name, "-o", "json")
		if err != nil {
			return err
		}
		if err := json.Unmarshal([]byte(out), &m); err != nil {
			return fmt.Errorf("stripemirror %s: %w", d.name, err)
		}
		if d.invoices == 0 || tableRows(m.Status, v1alpha1.MirrorBalanceTransaction) > 0 {
			break
		}
		if time.Since(started) > d.timeout {
			return fmt.Errorf("after %s the status of stripemirror %s counts no balance transaction: %+v", d.timeout, d.name, m.Status.Tables)
		}
		select {
		case <-ctx.Done():
			return context.Cause(ctx)
		case <-time.After(500 * time.Millisecond):
		}
	}
	conditionStatus := func(conditionType string) string {
		if c := meta.FindStatusCondition(m.Status.Conditions, conditionType); c != nil {
			return string(c.Status)
		}
		return ""
	}
	w := tabwriter.NewWriter(os.Stdout, 6, 4, 3, ' ', 0)
	_, _ = fmt.Fprintln(w, "NAME\tREADY\tBACKFILLED\tREGION\tSCHEMA\tROWS")
	_, _ = fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%d\n", m.Name, conditionStatus(v1alpha1.ConditionReady), conditionStatus(v1alpha1.ConditionBackfillComplete),
		m.Spec.Region, m.Spec.Database.Schema, m.Status.Rows)
	if err := w.Flush(); err != nil {
		return err
	}
	tables := make([]string, 0, len(m.Status.Tables))
	for _, t := range m.Status.Tables {
		tables = append(tables, fmt.Sprintf("%s %d", t.ObjectType, t.Rows))
	}
	b := m.Status.Backfill
	fmt.Printf("  tables: %s\n  backfill: %d of %d accounts, %d of %d listings, %d pages, %d rows; cursor: seq %d, lag %d s\n",
		strings.Join(tables, ", "), b.AccountsComplete, b.Accounts, b.Listings, b.ListingsTotal, b.Pages, b.Rows, m.Status.AppliedSeq, m.Status.LagSeconds)
	return nil
}

func tableRows(s v1alpha1.StripeMirrorStatus, objectType v1alpha1.MirrorObjectType) int64 {
	for _, t := range s.Tables {
		if t.ObjectType == objectType {
			return t.Rows
		}
	}
	return 0
}

// queryResult is a query's result as psql shows it: each value in PostgreSQL's text form.
type queryResult struct {
	columns []string
	// numeric columns are right-aligned, as psql aligns them.
	numeric []bool
	// rows hold the values; NULL is "", as psql prints it.
	rows [][]string
}

// paidOut counts the rows whose payout_status is paid.
func (r queryResult) paidOut() int {
	n := 0
	for i, name := range r.columns {
		if name != "payout_status" {
			continue
		}
		for _, row := range r.rows {
			if row[i] == "paid" {
				n++
			}
		}
	}
	return n
}

// query runs sql over the simple protocol, whose results are in text form: the values as psql prints them.
func query(ctx context.Context, conn *pgx.Conn, sql string) (queryResult, error) {
	rows, err := conn.Query(ctx, sql, pgx.QueryExecModeSimpleProtocol)
	if err != nil {
		return queryResult{}, fmt.Errorf("query the mirror: %w", err)
	}
	defer rows.Close()
	var r queryResult
	for _, f := range rows.FieldDescriptions() {
		r.columns = append(r.columns, f.Name)
		r.numeric = append(r.numeric, numericOIDs[f.DataTypeOID])
	}
	for rows.Next() {
		row := make([]string, len(r.columns))
		for i, v := range rows.RawValues() {
			row[i] = string(v)
		}
		r.rows = append(r.rows, row)
	}
	if err := rows.Err(); err != nil {
		return queryResult{}, fmt.Errorf("query the mirror: %w", err)
	}
	return r, nil
}

// numericOIDs are the types psql right-aligns.
var numericOIDs = map[uint32]bool{pgtype.Int2OID: true, pgtype.Int4OID: true, pgtype.Int8OID: true, pgtype.OIDOID: true,
	pgtype.NumericOID: true, pgtype.Float4OID: true, pgtype.Float8OID: true}

// format lays the result out as psql's aligned format does: the column names centered, a line of
// dashes and +, the values left-aligned (numbers right-aligned), columns joined by " | ", and the
// row count. Trailing spaces are left off; values are expected on one line.
func (r queryResult) format() string {
	widths := make([]int, len(r.columns))
	for i, name := range r.columns {
		widths[i] = utf8.RuneCountInString(name)
	}
	for _, row := range r.rows {
		for i, v := range row {
			widths[i] = max(widths[i], utf8.RuneCountInString(v))
		}
	}
	var b strings.Builder
	line := func(cells []string, align func(i int, cell string) string) {
		parts := make([]string, len(cells))
		for i, cell := range cells {
			parts[i] = align(i, cell)
		}
		b.WriteString(strings.TrimRight(" "+strings.Join(parts, " | "), " ") + "\n")
	}
	line(r.columns, func(i int, name string) string {
		pad := widths[i] - utf8.RuneCountInString(name)
		return strings.Repeat(" ", pad/2) + name + strings.Repeat(" ", pad-pad/2)
	})
	dashes := make([]string, len(widths))
	for i, w := range widths {
		dashes[i] = strings.Repeat("-", w+2)
	}
	b.WriteString(strings.Join(dashes, "+") + "\n")
	for _, row := range r.rows {
		line(row, func(i int, v string) string {
			pad := strings.Repeat(" ", widths[i]-utf8.RuneCountInString(v))
			if r.numeric[i] {
				return pad + v
			}
			return v + pad
		})
	}
	if len(r.rows) == 1 {
		b.WriteString("(1 row)\n")
	} else {
		fmt.Fprintf(&b, "(%d rows)\n", len(r.rows))
	}
	return b.String()
}
