package emulator

import (
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"
)

// Params gives typed access to a request's form parameters, decoded the way
// Stripe decodes them (Rack-style nesting: metadata[k]=v, items[0][price]=p,
// expand[]=x). Values are the raw strings; the spec check has already
// refused values of the wrong type, so the parse errors below are a second
// line of defence that also names the parameter the way Stripe does
// (recurring[interval]).
type Params struct {
	m      map[string]any
	prefix string
}

// NewParams wraps a decoded parameter map.
func NewParams(m map[string]any) Params {
	if m == nil {
		m = map[string]any{}
	}
	return Params{m: m}
}

// Raw returns the underlying decoded map.
func (p Params) Raw() map[string]any { return p.m }

// Name returns the full parameter name of key k, e.g. recurring[interval].
func (p Params) Name(k string) string {
	if p.prefix == "" {
		return k
	}
	return p.prefix + "[" + k + "]"
}

// Has reports whether k was sent at all (even empty).
func (p Params) Has(k string) bool { _, ok := p.m[k]; return ok }

// Keys returns the parameter names sent at this level, sorted.
func (p Params) Keys() []string {
	keys := make([]string, 0, len(p.m))
	for k := range p.m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// IsEmpty reports whether k was sent as the empty string, Stripe's way of
// unsetting a field (description=, metadata=, default_price=).
func (p Params) IsEmpty(k string) bool { s, ok := p.m[k].(string); return ok && s == "" }

// String returns k as a string.
func (p Params) String(k string) (string, bool) {
	s, ok := p.m[k].(string)
	return s, ok
}

// Bool returns k as a boolean.
func (p Params) Bool(k string) (val, ok bool, err *Error) {
	s, present := p.m[k].(string)
	if !present {
		return false, false, nil
	}
	switch s {
	case "true":
		return true, true, nil
	case "false":
		return false, true, nil
	}
	return false, false, InvalidRequest(p.Name(k), "Invalid boolean: %s", s)
}

// Int returns k as an integer.
func (p Params) Int(k string) (val int64, ok bool, err *Error) {
	s, present := p.m[k].(string)
	if !present {
		return 0, false, nil
	}
	i, perr := strconv.ParseInt(s, 10, 64)
	if perr != nil {
		return 0, false, InvalidRequest(p.Name(k), "Invalid integer: %s", s)
	}
	return i, true, nil
}

// Sub returns the nested parameters under k (recurring[...]).
func (p Params) Sub(k string) (Params, bool) {
	m, ok := p.m[k].(map[string]any)
	if !ok {
		return Params{}, false
	}
	return Params{m: m, prefix: p.Name(k)}, true
}

// List returns k as a list. Stripe accepts both k[]=a&k[]=b and the indexed
// form k[0]=a&k[1]=b (which stripe-go sends); the latter decodes as a map
// with integer keys and is put back in index order here.
func (p Params) List(k string) ([]any, bool) {
	switch v := p.m[k].(type) {
	case []any:
		return v, true
	case map[string]any:
		idx := make([]int, 0, len(v))
		for key := range v {
			i, err := strconv.Atoi(key)
			if err != nil {
				return nil, false
			}
			idx = append(idx, i)
		}
		sort.Ints(idx)
		out := make([]any, len(idx))
		for n, i := range idx {
			out[n] = v[strconv.Itoa(i)]
		}
		return out, true
	case string:
		if v == "" { // k= sends an empty list
			return []any{}, true
		}
		return []any{v}, true
	}
	return nil, false
}

// Strings returns k as a list of strings.
func (p Params) Strings(k string) []string {
	l, _ := p.List(k)
	out := make([]string, 0, len(l))
	for _, v := range l {
		if s, ok := v.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// SubList returns the i-th element of list k as nested parameters.
func (p Params) SubList(k string) []Params {
	l, _ := p.List(k)
	out := make([]Params, 0, len(l))
	for i, v := range l {
		m, _ := v.(map[string]any)
		if m == nil {
			m = map[string]any{}
		}
		out = append(out, Params{m: m, prefix: fmt.Sprintf("%s[%d]", p.Name(k), i)})
	}
	return out
}

// Expand returns the expand[] list.
func (p Params) Expand() []string { return p.Strings("expand") }

// Stripe's documented metadata limits.
const (
	metadataMaxKeys     = 50
	metadataMaxKeyLen   = 40
	metadataMaxValueLen = 500
)

// ApplyMetadata applies the metadata parameter to current (nil on create)
// with Stripe's semantics: metadata[k]=v sets a key, metadata[k]= removes it,
// metadata= (empty) removes every key, keys not mentioned are kept.
func (p Params) ApplyMetadata(current map[string]any) (map[string]any, *Error) {
	out := map[string]any{}
	for k, v := range current {
		out[k] = v
	}
	if !p.Has("metadata") {
		return out, nil
	}
	if p.IsEmpty("metadata") {
		return map[string]any{}, nil
	}
	sub, ok := p.Sub("metadata")
	if !ok {
		return nil, InvalidRequest("metadata", "Invalid hash")
	}
	for _, k := range sub.Keys() {
		v, isStr := sub.m[k].(string)
		if !isStr {
			return nil, InvalidRequest(sub.Name(k), "Invalid string: metadata values must be strings")
		}
		if len(k) > metadataMaxKeyLen {
			return nil, InvalidRequest(sub.Name(k),
				"Metadata keys can have up to %d characters, but you passed in a key of %d characters.", metadataMaxKeyLen, len(k))
		}
		if strings.ContainsAny(k, "[]") {
			return nil, InvalidRequest(sub.Name(k), "Metadata keys cannot contain square brackets.")
		}
		if len(v) > metadataMaxValueLen {
			return nil, InvalidRequest(sub.Name(k),
				"Metadata values can have up to %d characters, but you passed in a value of %d characters.", metadataMaxValueLen, len(v))
		}
		if v == "" {
			delete(out, k)
		} else {
			out[k] = v
		}
	}
	if len(out) > metadataMaxKeys {
		return nil, InvalidRequest("metadata",
			"Metadata can have up to %d keys, but this request would leave %d.", metadataMaxKeys, len(out))
	}
	return out, nil
}

// EncodeForm encodes nested parameters the way stripe-go does (indexed
// lists, bracketed maps, keys sorted). The control API uses it to turn a
// Dashboard edit into the same form request a client would send, and tests
// use it to build raw requests.
func EncodeForm(params map[string]any) string {
	var parts []string
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		switch t := v.(type) {
		case map[string]any:
			if len(t) == 0 {
				parts = append(parts, url.QueryEscape(prefix)+"=")
				return
			}
			keys := make([]string, 0, len(t))
			for k := range t {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				walk(prefix+"["+k+"]", t[k])
			}
		case []any:
			if len(t) == 0 {
				parts = append(parts, url.QueryEscape(prefix)+"=")
				return
			}
			for i, e := range t {
				walk(fmt.Sprintf("%s[%d]", prefix, i), e)
			}
		case []string:
			for i, e := range t {
				walk(fmt.Sprintf("%s[%d]", prefix, i), e)
			}
		case nil:
			parts = append(parts, url.QueryEscape(prefix)+"=")
		case float64:
			parts = append(parts, url.QueryEscape(prefix)+"="+url.QueryEscape(strconv.FormatFloat(t, 'f', -1, 64)))
		default:
			parts = append(parts, url.QueryEscape(prefix)+"="+url.QueryEscape(fmt.Sprint(t)))
		}
	}
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		walk(k, params[k])
	}
	return strings.Join(parts, "&")
}
