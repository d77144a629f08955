package emulator

import (
	"reflect"
	"sort"
)

// Object is a Stripe object as it is stored and rendered: a JSON-shaped map
// whose values are only string, int64, float64, bool, nil, map[string]any
// and []any. Keeping objects in this form (rather than Go structs) means the
// stored object is byte-for-byte what clients decode, events can diff any two
// versions generically, and a Dashboard edit can touch any field.
type Object map[string]any

// ID returns the object's id.
func (o Object) ID() string { s, _ := o["id"].(string); return s }

// Kind returns the object's `object` field (product, price, ...).
func (o Object) Kind() string { s, _ := o["object"].(string); return s }

// Str returns a string field, "" when absent or null.
func (o Object) Str(k string) string { s, _ := o[k].(string); return s }

// Bool returns a boolean field, false when absent or null.
func (o Object) Bool(k string) bool { b, _ := o[k].(bool); return b }

// Int returns an integer field, 0 when absent or null.
func (o Object) Int(k string) int64 { i, _ := o[k].(int64); return i }

// Map returns a nested object field, nil when absent or null.
func (o Object) Map(k string) map[string]any {
	switch m := o[k].(type) {
	case map[string]any:
		return m
	case Object:
		return m
	}
	return nil
}

// Clone returns a deep copy, so that callers can change it freely.
func (o Object) Clone() Object {
	if o == nil {
		return nil
	}
	return Object(cloneMap(o))
}

func cloneMap(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = cloneValue(v)
	}
	return out
}

func cloneValue(v any) any {
	switch t := v.(type) {
	case map[string]any:
		return cloneMap(t)
	case Object:
		return cloneMap(t)
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = cloneValue(e)
		}
		return out
	case []string:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = e
		}
		return out
	}
	return v
}

// Diff returns Stripe's `previous_attributes` for a change from old to new:
// every top-level field whose value changed, with its old value (nil when it
// did not exist). Nested objects that exist on both sides are diffed key by
// key, so changing one metadata key reports {"metadata": {"k": "old"}} as
// Stripe does, and a key that was added reports its old value as null.
// An empty result means nothing changed; Stripe emits no event then.
func Diff(old, new Object) map[string]any {
	return diffMaps(old, new)
}

func diffMaps(old, new map[string]any) map[string]any {
	prev := map[string]any{}
	for _, k := range unionKeys(old, new) {
		ov, oldHas := old[k]
		nv := new[k]
		if oldHas && reflect.DeepEqual(normalize(ov), normalize(nv)) {
			continue
		}
		if !oldHas && nv == nil {
			continue
		}
		om, oIsMap := asMap(ov)
		nm, nIsMap := asMap(nv)
		if oIsMap && nIsMap {
			if d := diffMaps(om, nm); len(d) > 0 {
				prev[k] = d
			}
			continue
		}
		prev[k] = cloneValue(ov)
	}
	return prev
}

func asMap(v any) (map[string]any, bool) {
	switch m := v.(type) {
	case map[string]any:
		return m, true
	case Object:
		return m, true
	}
	return nil, false
}

// normalize makes Object and map[string]any compare equal.
func normalize(v any) any {
	if m, ok := v.(Object); ok {
		return map[string]any(m)
	}
	return v
}

func unionKeys(a, b map[string]any) []string {
	seen := make(map[string]bool, len(a)+len(b))
	var keys []string
	for k := range a {
		if !seen[k] {
			seen[k] = true
			keys = append(keys, k)
		}
	}
	for k := range b {
		if !seen[k] {
			seen[k] = true
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return keys
}
