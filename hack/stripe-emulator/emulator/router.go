package emulator

import (
	"sort"
	"strings"
)

// HandlerFunc implements one Stripe endpoint. It runs inside a store
// transaction (read-only for GET, read-write otherwise) and returns the
// response object, or an *Error to refuse the request; any error undoes the
// transaction's writes.
type HandlerFunc func(c *Call) (any, error)

// Route is one endpoint: a method and a path pattern such as
// /v1/prices/{price}. The pattern is also the key under which requests are
// counted and rate limits and faults are targeted.
type Route struct {
	Method  string
	Pattern string
	Handler HandlerFunc
	segs    []string
	params  int
}

// Router maps requests to endpoints.
type Router struct {
	routes []*Route
}

// Handle registers an endpoint. Patterns use {name} for path parameters,
// exactly as Stripe's OpenAPI spec writes them.
func (r *Router) Handle(method, pattern string, h HandlerFunc) {
	rt := &Route{Method: method, Pattern: pattern, Handler: h, segs: strings.Split(strings.Trim(pattern, "/"), "/")}
	for _, s := range rt.segs {
		if isParamSeg(s) {
			rt.params++
		}
	}
	r.routes = append(r.routes, rt)
	// Static segments win over parameters (/v1/products/search must not be
	// read as the product "search"), as in stripe-mock's router.
	sort.SliceStable(r.routes, func(i, j int) bool { return r.routes[i].params < r.routes[j].params })
}

func isParamSeg(s string) bool { return strings.HasPrefix(s, "{") && strings.HasSuffix(s, "}") }

// Match finds the endpoint for method and path and the path parameters.
func (r *Router) Match(method, path string) (*Route, map[string]string) {
	segs := strings.Split(strings.Trim(path, "/"), "/")
	for _, rt := range r.routes {
		if rt.Method != method || len(rt.segs) != len(segs) {
			continue
		}
		var params map[string]string
		ok := true
		for i, s := range rt.segs {
			if isParamSeg(s) {
				if segs[i] == "" {
					ok = false
					break
				}
				if params == nil {
					params = map[string]string{}
				}
				params[s[1:len(s)-1]] = segs[i]
			} else if s != segs[i] {
				ok = false
				break
			}
		}
		if ok {
			return rt, params
		}
	}
	return nil, nil
}

// Routes lists the registered endpoints as "METHOD pattern".
func (r *Router) Routes() []string {
	out := make([]string, 0, len(r.routes))
	for _, rt := range r.routes {
		out = append(out, rt.Method+" "+rt.Pattern)
	}
	sort.Strings(out)
	return out
}
