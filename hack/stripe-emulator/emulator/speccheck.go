package emulator

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"sync"

	"github.com/stripe/stripe-mock/embedded"
	"github.com/stripe/stripe-mock/param"
	"github.com/stripe/stripe-mock/server"
	"github.com/stripe/stripe-mock/spec"
)

// The OpenAPI spec stripe-mock embeds is 5.7 MB of JSON and takes about half
// a second to parse and compile into validators, so it is loaded once per
// process, on first use, and shared by every emulator (a test binary may
// start dozens). It is the package's only package-level state and it is
// immutable after loading: the StubServer reads its routes and schemas but
// never writes them, so sharing it across emulators cannot couple them.
// A package-level sync.OnceValues was chosen over passing a loaded spec
// through Options because every caller would have to do the same
// once-per-process dance themselves.
var sharedSpec = sync.OnceValues(loadSpecBundle)

type specBundle struct {
	routes  []*mockRoute
	version string
	comps   map[string]*spec.Schema
	ops     []specOp
}

// specOp is one operation of the spec, kept to explain stripe-mock's terse
// validation errors in Stripe's words.
type specOp struct {
	method string
	re     *regexp.Regexp
	params int
	schema *spec.Schema
}

// loadSpec parses stripe-mock's embedded spec and applies the emulator's
// overlay (specoverlay.go) before anything is built from it.
func loadSpec() (*spec.Spec, error) {
	sp, err := server.LoadSpec(embedded.OpenAPISpec, "")
	if err != nil {
		return nil, fmt.Errorf("load stripe-mock spec: %w", err)
	}
	if err := applySpecOverlay(sp); err != nil {
		return nil, err
	}
	return sp, nil
}

func loadSpecBundle() (*specBundle, error) {
	sp, err := loadSpec()
	if err != nil {
		return nil, err
	}
	// Routing and validation are stripe-mock's, without its StubServer
	// (which prints on stdout): see speccheck_direct.go. The strict
	// version check is on: a request that names another API version would
	// be validated against the wrong spec, so it is refused outright
	// (stripe-go v76 sends Stripe-Version: 2023-10-16, the spec's version).
	b := &specBundle{routes: mockRoutes(sp), version: sp.Info.Version, comps: sp.Components.Schemas}
	for path, verbs := range sp.Paths {
		re := compileSpecPath(string(path))
		n := strings.Count(string(path), "{")
		for verb, op := range verbs {
			o := specOp{method: strings.ToUpper(string(verb)), re: re, params: n}
			if verb == "get" {
				o.schema = spec.BuildQuerySchema(op)
			} else if op.RequestBody != nil {
				for _, mt := range op.RequestBody.Content {
					o.schema = mt.Schema
				}
			}
			b.ops = append(b.ops, o)
		}
	}
	sort.SliceStable(b.ops, func(i, j int) bool { return b.ops[i].params < b.ops[j].params })
	return b, nil
}

// compileSpecPath turns /v1/prices/{price} into a regexp matching concrete
// paths.
func compileSpecPath(path string) *regexp.Regexp {
	segs := strings.Split(path, "/")
	for i, seg := range segs {
		if strings.HasPrefix(seg, "{") && strings.HasSuffix(seg, "}") {
			segs[i] = `[^/]+`
		} else {
			segs[i] = regexp.QuoteMeta(seg)
		}
	}
	return regexp.MustCompile(`\A` + strings.Join(segs, "/") + `\z`)
}

// SpecVersion returns the Stripe API version of the OpenAPI spec requests are
// checked against.
func SpecVersion() (string, error) {
	b, err := sharedSpec()
	if err != nil {
		return "", err
	}
	return b.version, nil
}

// checkSpec checks a copy of the request the way stripe-mock does. It
// returns nil when stripe-mock would accept it, and otherwise the error to
// answer with.
func (b *specBundle) checkSpec(r *http.Request, body []byte) *Error {
	clone := r.Clone(r.Context())
	clone.Body = io.NopCloser(bytes.NewReader(body))
	clone.ContentLength = int64(len(body))
	if r.Method == http.MethodPost && len(body) == 0 && clone.Header.Get("Content-Type") == "" {
		// Stripe accepts a bodyless POST (e.g. a no-op update) without a
		// Content-Type; stripe-mock insists on one.
		clone.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	code, msg := b.mockVerdict(clone, body)
	if code == 0 {
		// stripe-mock accepts unknown keys inside nested objects, because
		// Stripe's spec only marks the top level additionalProperties:
		// false; Stripe itself refuses them ("Received unknown parameter:
		// recurring[every]"), so the emulator does too.
		return b.unknownNested(r, body)
	}
	if code == http.StatusNotFound {
		return newError(http.StatusNotFound, TypeInvalidRequest, "", "",
			msg+" Please see https://stripe.com/docs or we can help at https://support.stripe.com/.")
	}
	if strings.HasPrefix(msg, "Request validation error") || strings.HasPrefix(msg, "Request coercion error") {
		if e := b.explain(r, body); e != nil {
			return e
		}
	}
	return newError(code, TypeInvalidRequest, "", "", "Request refused by Stripe's API spec (stripe-mock): "+msg)
}

// unknownNested reports the first parameter, at any depth, that the
// operation's schema does not declare.
func (b *specBundle) unknownNested(r *http.Request, body []byte) *Error {
	schema, data := b.parsedFor(r, body)
	if schema == nil {
		return nil
	}
	return b.walk(schema, data, "", true)
}

// explain finds what is wrong with a request stripe-mock refused, and says
// so the way Stripe does ("Received unknown parameter: recurring[foo]").
func (b *specBundle) explain(r *http.Request, body []byte) *Error {
	schema, data := b.parsedFor(r, body)
	if schema == nil {
		return nil
	}
	return b.walk(schema, data, "", false)
}

// parsedFor returns the request schema of the operation r targets and r's
// decoded parameters.
func (b *specBundle) parsedFor(r *http.Request, body []byte) (*spec.Schema, map[string]any) {
	var schema *spec.Schema
	for _, op := range b.ops {
		if op.method == r.Method && op.re.MatchString(r.URL.Path) {
			schema = op.schema
			break
		}
	}
	if schema == nil {
		return nil, nil
	}
	clone := r.Clone(r.Context())
	clone.Body = io.NopCloser(bytes.NewReader(body))
	data, err := param.ParseParams(clone)
	if err != nil {
		return nil, nil
	}
	return schema, data
}

func child(name, key string) string {
	if name == "" {
		return key
	}
	return name + "[" + key + "]"
}

func (b *specBundle) deref(s *spec.Schema) *spec.Schema {
	for s != nil && s.Ref != "" {
		s = b.comps[strings.TrimPrefix(s.Ref, "#/components/schemas/")]
	}
	return s
}

// walk returns the first problem with val under schema, or nil. With
// unknownOnly it looks only for undeclared keys, treating every object that
// declares properties as closed.
func (b *specBundle) walk(s *spec.Schema, val any, name string, unknownOnly bool) *Error {
	s = b.deref(s)
	if s == nil {
		return nil
	}
	if len(s.AnyOf) > 0 {
		var best *Error
		for _, branch := range s.AnyOf {
			e := b.walk(branch, val, name, unknownOnly)
			if e == nil {
				return nil
			}
			if best == nil || kindMatches(b.deref(branch), val) {
				best = e
			}
		}
		return best
	}
	switch {
	case s.Type == "object" || s.Properties != nil:
		m, ok := val.(map[string]any)
		if !ok {
			if unknownOnly {
				return nil // a scalar where an object goes: stripe-mock's call
			}
			return InvalidRequest(name, "Invalid hash")
		}
		for _, k := range sortedKeys(m) {
			switch prop := s.Properties[k]; {
			case prop != nil:
				if e := b.walk(prop, m[k], child(name, k), unknownOnly); e != nil {
					return e
				}
			case s.AdditionalProperties != nil:
				if e := b.walk(s.AdditionalProperties, m[k], child(name, k), unknownOnly); e != nil {
					return e
				}
			case !s.AdditionalPropertiesAllowed || (unknownOnly && len(s.Properties) > 0):
				return InvalidRequestCode("parameter_unknown", child(name, k), "Received unknown parameter: %s", child(name, k))
			}
		}
		if unknownOnly {
			return nil
		}
		for _, req := range s.Required {
			if _, ok := m[req]; !ok {
				return MissingParam(child(name, req))
			}
		}
	case s.Type == "array":
		items, ok := NewParams(map[string]any{"v": val}).List("v")
		if !ok {
			if unknownOnly {
				return nil
			}
			return InvalidRequest(name, "Invalid array")
		}
		for i, it := range items {
			if e := b.walk(s.Items, it, fmt.Sprintf("%s[%d]", name, i), unknownOnly); e != nil {
				return e
			}
		}
	default:
		if unknownOnly {
			return nil
		}
		str, ok := val.(string)
		if !ok {
			return InvalidRequest(name, "Invalid %s: expected a single value, got a nested one", name)
		}
		return scalarProblem(s, str, name)
	}
	return nil
}

func kindMatches(s *spec.Schema, val any) bool {
	if s == nil {
		return false
	}
	switch val.(type) {
	case map[string]any:
		return s.Type == "object" || s.Type == "array" || s.Properties != nil
	case []any:
		return s.Type == "array"
	}
	return s.Type != "object" && s.Type != "array" && len(s.Enum) == 0
}
