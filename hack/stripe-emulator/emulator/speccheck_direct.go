package emulator

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"

	"github.com/stripe/stripe-mock/param"
	"github.com/stripe/stripe-mock/param/coercer"
	"github.com/stripe/stripe-mock/spec"
)

// The spec check without stripe-mock's StubServer. HandleRequest prints
// trace lines on stdout for every request (and NewStubServer one at start)
// with no way to turn them off short of replacing os.Stdout, a process-wide
// side effect. The verdict it reaches is built from exported pieces of
// stripe-mock, which print nothing: its path routing (the same path
// pattern), the strict Stripe-Version check, param.ParseParams, the
// Content-Type check, coercer.CoerceParams and the JSON-schema validator
// spec.GetValidatorForOpenAPI3Schema compiles. The order of the checks and
// the messages are stripe-mock's, so checkSpec reads them as before. What
// HandleRequest does after validation (generating a fixture response) is
// not a verdict on the request and is skipped.

// stripe-mock's messages (server/server.go, private constants).
const (
	mockContentTypeEmpty      = "Request's `Content-Type` header was empty. Expected: `%s`."
	mockContentTypeMismatched = "Request's `Content-Type` didn't match the path's expected media type. Expected: `%s`. Was: `%s`."
	mockInvalidRoute          = "Unrecognized request URL (%s: %s)."
	mockInvalidStripeVersion  = "Version sent in `Stripe-Version` header '%s' " +
		"doesn't match version in OpenAPI specification '%s' which may have " +
		"unintended consequences. This error was shown because stripe-mock  " +
		"was started with `-stripe-version-check`."
)

// mockPathParam is stripe-mock's pattern for one path parameter
// (server.compilePath: RFC 3986 segment characters).
const mockPathParam = `[\w@:%-._~!$&'()*+,;=]+`

// mockRoute is one operation as stripe-mock routes and validates it.
type mockRoute struct {
	method    string
	re        *regexp.Regexp
	params    int
	mediaType string       // request body media type; "" for GET
	schema    *spec.Schema // body schema, or the query pseudo-schema for GET
	comps     *spec.ComponentsForValidation

	once      sync.Once
	validator interface{ Validate(any) error }
}

// mockRoutes builds the routing table the way stripe-mock's
// initializeRouter does; validators are compiled on first use.
func mockRoutes(sp *spec.Spec) []*mockRoute {
	comps := spec.GetComponentsForValidation(&sp.Components)
	var routes []*mockRoute
	for path, verbs := range sp.Paths {
		pattern := `\A`
		n := 0
		for _, seg := range strings.Split(string(path), "/") {
			switch {
			case seg == "":
			case strings.HasPrefix(seg, "{") && strings.HasSuffix(seg, "}"):
				pattern += `/(` + mockPathParam + `)`
				n++
			default:
				pattern += `/` + seg
			}
		}
		re := regexp.MustCompile(pattern + `\z`)
		for verb, op := range verbs {
			rt := &mockRoute{method: strings.ToUpper(string(verb)), re: re, params: n}
			if verb == "get" {
				rt.schema = spec.BuildQuerySchema(op)
			} else if op.RequestBody != nil {
				for mt, c := range op.RequestBody.Content {
					rt.mediaType, rt.schema, rt.comps = mt, c.Schema, comps
					break
				}
			}
			routes = append(routes, rt)
		}
	}
	// Static segments win: fewer parameters first, as stripe-mock sorts.
	sortRoutes(routes)
	return routes
}

func sortRoutes(rs []*mockRoute) {
	for i := 1; i < len(rs); i++ {
		for j := i; j > 0 && rs[j].params < rs[j-1].params; j-- {
			rs[j], rs[j-1] = rs[j-1], rs[j]
		}
	}
}

func (rt *mockRoute) validate(data map[string]any) error {
	rt.once.Do(func() {
		if rt.schema == nil {
			return
		}
		v, err := spec.GetValidatorForOpenAPI3Schema(rt.schema, rt.comps)
		if err == nil && v != nil {
			rt.validator = v
		}
	})
	if rt.validator == nil {
		return nil
	}
	return rt.validator.Validate(data)
}

// mockVerdict is what stripe-mock would answer: 0 when it accepts the
// request, else the status and its error message.
func (b *specBundle) mockVerdict(r *http.Request, body []byte) (int, string) {
	if v := r.Header.Get("Stripe-Version"); v != "" && v != b.version {
		return http.StatusBadRequest, fmt.Sprintf(mockInvalidStripeVersion, v, b.version)
	}
	var route *mockRoute
	for _, rt := range b.routes {
		if rt.method == r.Method && rt.re.MatchString(r.URL.Path) {
			route = rt
			break
		}
	}
	if route == nil {
		return http.StatusNotFound, fmt.Sprintf(mockInvalidRoute, r.Method, r.URL.Path)
	}
	clone := r.Clone(r.Context())
	clone.Body = io.NopCloser(bytes.NewReader(body))
	data, err := param.ParseParams(clone)
	if err != nil {
		return http.StatusBadRequest, fmt.Sprintf("Couldn't parse query/body: %v", err)
	}
	if data == nil {
		data = map[string]any{}
	}
	if r.Method != http.MethodGet && r.Method != http.MethodDelete && route.mediaType != "" {
		ct := r.Header.Get("Content-Type")
		if ct == "" {
			return http.StatusBadRequest, fmt.Sprintf(mockContentTypeEmpty, route.mediaType)
		}
		if ct = strings.TrimSpace(strings.Split(ct, ";")[0]); ct != route.mediaType {
			return http.StatusBadRequest, fmt.Sprintf(mockContentTypeMismatched, route.mediaType, ct)
		}
	}
	if route.schema == nil {
		return 0, ""
	}
	if err := coercer.CoerceParams(route.schema, data); err != nil {
		return http.StatusBadRequest, fmt.Sprintf("Request coercion error: %v", err)
	}
	if err := route.validate(data); err != nil {
		return http.StatusBadRequest, fmt.Sprintf("Request validation error: %v", err)
	}
	return 0, ""
}
