package emulator

import (
	"encoding/base64"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// DefaultSearchLag is how long a new or changed object takes to reach the
// search index when Options.SearchLag is zero. Stripe documents "under
// normal operating conditions, data is searchable in under 1 minute"; tests
// want something short but non-zero so that code relying on read-after-write
// search fails here as it would on Stripe.
const DefaultSearchLag = time.Second

// SearchFieldType is how a query field compares, per Stripe's search docs.
type SearchFieldType int

const (
	// SearchString fields match exactly (case-insensitively) with `:` and
	// by substring with `~`.
	SearchString SearchFieldType = iota
	// SearchToken fields (currency, type, status) match exactly.
	SearchToken
	// SearchBool fields take 'true' or 'false'.
	SearchBool
	// SearchNumeric fields (created) take =, >, <, >=, <=.
	SearchNumeric
	// SearchMetadata is metadata['key'].
	SearchMetadata
)

// SearchField is one query field of a resource.
type SearchField struct {
	Type SearchFieldType
	// Get extracts the value from an object; nil means obj[field].
	Get func(obj Object) any
}

// searchClause is one `[-]field op value` term.
type searchClause struct {
	negate bool
	field  string
	key    string // metadata key
	op     string // : ~ > < >= <=
	value  string
	isNull bool
	quoted bool
}

const searchSyntaxHelp = "We were unable to parse your search query. Try using the format " +
	"`metadata[\"key\"]:\"value\"` to query for metadata or `key:\"value\"` to query for other fields."

// maxSearchClauses is Stripe's limit on clauses in one query.
const maxSearchClauses = 10

// parseSearchQuery parses Stripe's search query language: clauses joined by
// AND or by OR (not both), each `field:value`, `metadata['key']:'value'`,
// `field~'substr'` or a numeric comparison, optionally negated with `-`.
func parseSearchQuery(q string) ([]searchClause, string, error) {
	s := &scanner{in: q}
	var clauses []searchClause
	joiner := ""
	for {
		s.skipSpace()
		if s.done() {
			break
		}
		if len(clauses) > 0 {
			word := s.word()
			up := strings.ToUpper(word)
			if up != "AND" && up != "OR" {
				return nil, "", InvalidRequest("query", searchSyntaxHelp)
			}
			if joiner != "" && joiner != up {
				return nil, "", InvalidRequest("query", "Search queries cannot combine AND and OR.")
			}
			joiner = up
			s.skipSpace()
		}
		cl, ok := s.clause()
		if !ok {
			return nil, "", InvalidRequest("query", searchSyntaxHelp)
		}
		clauses = append(clauses, cl)
	}
	if len(clauses) == 0 {
		return nil, "", InvalidRequest("query", searchSyntaxHelp)
	}
	if len(clauses) > maxSearchClauses {
		return nil, "", InvalidRequest("query", "Search queries can have at most %d clauses.", maxSearchClauses)
	}
	return clauses, joiner, nil
}

type scanner struct {
	in  string
	pos int
}

func (s *scanner) done() bool { return s.pos >= len(s.in) }

func (s *scanner) skipSpace() {
	for !s.done() && unicode.IsSpace(rune(s.in[s.pos])) {
		s.pos++
	}
}

func (s *scanner) word() string {
	start := s.pos
	for !s.done() && (isIdent(s.in[s.pos])) {
		s.pos++
	}
	return s.in[start:s.pos]
}

func isIdent(b byte) bool {
	return b == '_' || b == '.' || (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') || (b >= '0' && b <= '9')
}

func (s *scanner) quoted() (string, bool) {
	if s.done() || (s.in[s.pos] != '\'' && s.in[s.pos] != '"') {
		return "", false
	}
	q := s.in[s.pos]
	s.pos++
	var b strings.Builder
	for !s.done() {
		c := s.in[s.pos]
		s.pos++
		if c == '\\' && !s.done() {
			b.WriteByte(s.in[s.pos])
			s.pos++
			continue
		}
		if c == q {
			return b.String(), true
		}
		b.WriteByte(c)
	}
	return "", false
}

func (s *scanner) clause() (searchClause, bool) {
	var cl searchClause
	if !s.done() && s.in[s.pos] == '-' {
		cl.negate = true
		s.pos++
	}
	cl.field = s.word()
	if cl.field == "" {
		return cl, false
	}
	if cl.field == "metadata" {
		if s.done() || s.in[s.pos] != '[' {
			return cl, false
		}
		s.pos++
		key, ok := s.quoted()
		if !ok || s.done() || s.in[s.pos] != ']' {
			return cl, false
		}
		s.pos++
		cl.key = key
	}
	for _, op := range []string{">=", "<=", ":", "~", ">", "<"} {
		if strings.HasPrefix(s.in[s.pos:], op) {
			cl.op = op
			s.pos += len(op)
			break
		}
	}
	if cl.op == "" {
		return cl, false
	}
	if v, ok := s.quoted(); ok {
		cl.value, cl.quoted = v, true
		return cl, true
	}
	v := s.word()
	if v == "" {
		return cl, false
	}
	cl.value = v
	cl.isNull = v == "null"
	return cl, true
}

// compileSearch checks clauses against a resource's fields and returns the
// predicate over an indexed object.
func compileSearch(res *Resource, clauses []searchClause, joiner string) (func(Object) bool, error) {
	preds := make([]func(Object) bool, 0, len(clauses))
	for _, cl := range clauses {
		f, ok := res.Search[cl.field]
		if !ok {
			return nil, InvalidRequest("query",
				"Field `%s` is an unsupported search field for resource `%ss`. See http://stripe.com/docs/search#query-fields-for-%ss for a list of supported fields.",
				cl.field, res.Object, res.Object)
		}
		pred, err := clausePredicate(cl, f)
		if err != nil {
			return nil, err
		}
		if cl.negate {
			inner := pred
			pred = func(o Object) bool { return !inner(o) }
		}
		preds = append(preds, pred)
	}
	return func(o Object) bool {
		for _, p := range preds {
			m := p(o)
			if joiner == "OR" && m {
				return true
			}
			if joiner != "OR" && !m {
				return false
			}
		}
		return joiner != "OR"
	}, nil
}

func clausePredicate(cl searchClause, f SearchField) (func(Object) bool, error) {
	get := f.Get
	if get == nil {
		name := cl.field
		get = func(o Object) any { return o[name] }
	}
	bad := func(msg string) error {
		return InvalidRequest("query", "Invalid query for field `%s`: %s", cl.field, msg)
	}
	switch f.Type {
	case SearchMetadata:
		if cl.op != ":" && cl.op != "~" {
			return nil, bad("metadata supports only `:` and `~`")
		}
		key, op, want, isNull := cl.key, cl.op, cl.value, cl.isNull
		return func(o Object) bool {
			v, has := o.Map("metadata")[key].(string)
			if isNull {
				return !has
			}
			if op == "~" {
				return has && strings.Contains(v, want)
			}
			return has && v == want
		}, nil
	case SearchBool:
		if cl.op != ":" || (cl.value != "true" && cl.value != "false") {
			return nil, bad("use `:` with 'true' or 'false'")
		}
		want := cl.value == "true"
		return func(o Object) bool { b, _ := get(o).(bool); return b == want }, nil
	case SearchNumeric:
		n, err := strconv.ParseInt(cl.value, 10, 64)
		if err != nil {
			return nil, bad("expected an integer")
		}
		op := cl.op
		if op == "~" {
			return nil, bad("`~` applies only to strings")
		}
		return func(o Object) bool {
			v, _ := get(o).(int64)
			switch op {
			case ">":
				return v > n
			case "<":
				return v < n
			case ">=":
				return v >= n
			case "<=":
				return v <= n
			}
			return v == n
		}, nil
	default:
		if !cl.quoted && !cl.isNull {
			return nil, bad("string values must be quoted")
		}
		op, want, isNull, token := cl.op, cl.value, cl.isNull, f.Type == SearchToken
		switch op {
		case ":":
		case "~":
			if token {
				return nil, bad("`~` applies only to string fields")
			}
			if len(want) < 3 {
				return nil, bad("substring matches need at least 3 characters")
			}
		default:
			return nil, bad("use `:` or `~`")
		}
		return func(o Object) bool {
			v, has := get(o).(string)
			if isNull {
				return !has || v == ""
			}
			if !has {
				return false
			}
			if token {
				return v == want
			}
			if op == "~" {
				return strings.Contains(strings.ToLower(v), strings.ToLower(want))
			}
			return strings.EqualFold(v, want)
		}, nil
	}
}

// Search answers a /search endpoint over kind: it sees each object as the
// index last saw it (Options.SearchLag ago), returns current objects, and
// pages with an opaque next_page token.
func (c *Call) Search(kind string) (any, error) {
	res := c.emu.resources[kind]
	p := c.Params()
	q, _ := p.String("query")
	clauses, joiner, err := parseSearchQuery(q)
	if err != nil {
		return nil, err
	}
	match, err := compileSearch(res, clauses, joiner)
	if err != nil {
		return nil, err
	}
	limit, _, _, err := pageParams(p)
	if err != nil {
		return nil, err
	}
	var expand []string
	withTotal := false
	for _, x := range p.Expand() {
		if x == "total_count" {
			withTotal = true
			continue
		}
		rest, ok := strings.CutPrefix(x, "data.")
		if !ok {
			return nil, InvalidRequest("expand", "This property cannot be expanded (%s). You may want to try expanding 'data.%s' instead.", x, x)
		}
		expand = append(expand, rest)
	}
	after := ""
	if tok, ok := p.String("page"); ok && tok != "" {
		raw, derr := base64.RawURLEncoding.DecodeString(tok)
		if derr != nil || !strings.HasPrefix(string(raw), "after:") {
			return nil, InvalidRequest("page", "Invalid page token: %s", tok)
		}
		after = strings.TrimPrefix(string(raw), "after:")
	}

	cutoff := c.Now().Add(-c.emu.searchLag())
	var hits []Object
	c.ScanIndexed(kind, cutoff, func(indexed, current Object) bool {
		if match(indexed) {
			hits = append(hits, current)
		}
		return true
	})
	start := 0
	if after != "" {
		for i, h := range hits {
			if h.ID() == after {
				start = i + 1
				break
			}
		}
	}
	end := min(start+int(limit), len(hits))
	data := make([]any, 0, end-start)
	for _, h := range hits[start:end] {
		r, err := c.emu.renderObject(c.Tx, h.Clone(), expand, 0)
		if err != nil {
			return nil, err
		}
		data = append(data, map[string]any(r))
	}
	out := Object{"object": "search_result", "data": data, "has_more": end < len(hits), "next_page": nil, "url": c.Req.Path}
	if end < len(hits) {
		out["next_page"] = base64.RawURLEncoding.EncodeToString([]byte("after:" + hits[end-1].ID()))
	}
	if withTotal {
		out["total_count"] = int64(len(hits))
	}
	return out, nil
}
