package emulator

import (
	"fmt"
	"sort"
	"strings"
)

// Resource describes one kind of Stripe object to the generic machinery
// (lookups, rendering, expansion, search, events, Dashboard edits). Its
// endpoints are registered separately on the Router.
type Resource struct {
	// Object is the object's `object` value, its store kind and the prefix
	// of its event types (product → product.created).
	Object string
	// Noun is how Stripe names it in "No such <noun>: 'id'" errors.
	Noun string
	// IDPrefix is the id prefix without the underscore (prod, price).
	IDPrefix string
	// Path is the collection path (/v1/products). A Dashboard edit of an
	// object is a POST to Path/{id}, so the resource must register it.
	Path string
	// Expandable maps a field that holds an object id to the kind of object
	// it references (price.product → product); expand[] swaps the id for
	// the object.
	Expandable map[string]string
	// Includable lists fields Stripe leaves out unless expanded
	// (price.tiers, price.currency_options).
	Includable []string
	// Search lists the query fields of the resource's /search endpoint;
	// nil when it has none.
	Search map[string]SearchField
}

// maxExpandDepth is Stripe's limit on nested expansion.
const maxExpandDepth = 4

// AddResource registers a resource description.
func (e *Emulator) AddResource(r *Resource) {
	if _, dup := e.resources[r.Object]; dup {
		panic("stripe-emulator: resource registered twice: " + r.Object)
	}
	e.resources[r.Object] = r
}

// Resource returns the registered description of a kind, or nil.
func (e *Emulator) Resource(kind string) *Resource { return e.resources[kind] }

// resourceForID finds the resource whose id prefix id carries.
func (e *Emulator) resourceForID(id string) *Resource {
	prefix, _, ok := strings.Cut(id, "_")
	if !ok {
		return nil
	}
	for _, r := range e.resources {
		if r.IDPrefix == prefix {
			return r
		}
	}
	return nil
}

// renderObject returns obj as the API shows it: includable fields removed
// unless expanded, expandable references swapped for the objects they name.
// paths are expansion paths relative to obj (product, product.default_price).
func (e *Emulator) renderObject(tx *Tx, obj Object, paths []string, depth int) (Object, error) {
	res := e.resources[obj.Kind()]
	out := make(Object, len(obj))
	for k, v := range obj {
		out[k] = v
	}
	if res == nil {
		if len(paths) > 0 {
			return nil, InvalidRequest("expand", "This property cannot be expanded (%s).", paths[0])
		}
		return out, nil
	}
	groups := groupPaths(paths)
	for _, f := range res.Includable {
		if _, want := groups[f]; !want {
			delete(out, f)
		}
	}
	for _, f := range sortedKeys(groups) {
		if depth+1 > maxExpandDepth {
			return nil, InvalidRequest("expand", "You cannot expand more than %d levels of a property.", maxExpandDepth)
		}
		if contains(res.Includable, f) {
			continue
		}
		kind, ok := res.Expandable[f]
		if !ok {
			return nil, InvalidRequest("expand", "This property cannot be expanded (%s).", f)
		}
		id, isID := out[f].(string)
		if !isID {
			continue // null reference: nothing to expand
		}
		ref, found := tx.Get(kind, id)
		if !found {
			continue
		}
		rendered, err := e.renderObject(tx, ref, groups[f], depth+1)
		if err != nil {
			return nil, err
		}
		out[f] = rendered
	}
	return out, nil
}

// groupPaths splits ["product", "product.default_price", "tiers"] into
// {"product": ["default_price"], "tiers": []}.
func groupPaths(paths []string) map[string][]string {
	g := map[string][]string{}
	for _, p := range paths {
		head, rest, more := strings.Cut(p, ".")
		if _, ok := g[head]; !ok {
			g[head] = nil
		}
		if more {
			g[head] = append(g[head], rest)
		}
	}
	return g
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// listExpansions turns a list request's expand[] (data.product) into paths
// relative to each item, refusing the mistake Stripe refuses.
func listExpansions(expand []string) ([]string, error) {
	var out []string
	for _, p := range expand {
		rest, ok := strings.CutPrefix(p, "data.")
		if !ok {
			return nil, InvalidRequest("expand", "This property cannot be expanded (%s). You may want to try expanding 'data.%s' instead.", p, p)
		}
		out = append(out, rest)
	}
	return out, nil
}

func (r *Resource) String() string { return fmt.Sprintf("%s (%s_)", r.Object, r.IDPrefix) }
