package main

import "testing"

// TestFormat pins the psql-style printer: names centered, a line of dashes and +, text left-aligned,
// numbers right-aligned, NULL empty, widths in characters, no trailing spaces, and psql's row count.
func TestFormat(t *testing.T) {
	for _, tc := range []struct {
		name   string
		result queryResult
		want   string
	}{
		{
			name:   "no rows",
			result: queryResult{columns: []string{"id", "status"}, numeric: []bool{false, false}},
			want: "" +
				" id | status\n" +
				"----+--------\n" +
				"(0 rows)\n",
		},
		{
			name:   "one row",
			result: queryResult{columns: []string{"count"}, numeric: []bool{true}, rows: [][]string{{"3"}}},
			want: "" +
				" count\n" +
				"-------\n" +
				"     3\n" +
				"(1 row)\n",
		},
		{
			name: "names centered, text left and numbers right, NULL empty",
			result: queryResult{columns: []string{"number", "amount_paid", "payout"}, numeric: []bool{false, true, false},
				rows: [][]string{{"ACME-0001", "1500", "po_1"}, {"ACME-0002", "29000", ""}}},
			want: "" +
				"  number   | amount_paid | payout\n" +
				"-----------+-------------+--------\n" +
				" ACME-0001 |        1500 | po_1\n" +
				" ACME-0002 |       29000 |\n" +
				"(2 rows)\n",
		},
		{
			name: "odd padding goes right of the name; width in characters",
			result: queryResult{columns: []string{"a", "name"}, numeric: []bool{false, false},
				rows: [][]string{{"1234", "Zoë"}}},
			want: "" +
				"  a   | name\n" +
				"------+------\n" +
				" 1234 | Zoë\n" +
				"(1 row)\n",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.result.format(); got != tc.want {
				t.Errorf("format():\n%s\nwant:\n%s", got, tc.want)
			}
		})
	}
}

// TestPaidOut pins the wait's count: rows whose payout_status is paid, none without that column.
func TestPaidOut(t *testing.T) {
	for _, tc := range []struct {
		name   string
		result queryResult
		want   int
	}{
		{"no column", queryResult{columns: []string{"id"}, rows: [][]string{{"in_1"}}}, 0},
		{"paid and pending", queryResult{columns: []string{"id", "payout_status"},
			rows: [][]string{{"in_1", "paid"}, {"in_2", "pending"}, {"in_3", "paid"}}}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.result.paidOut(); got != tc.want {
				t.Errorf("paidOut() = %d, want %d", got, tc.want)
			}
		})
	}
}
