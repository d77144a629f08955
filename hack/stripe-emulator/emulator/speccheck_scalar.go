package emulator

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/stripe/stripe-mock/spec"
)

// scalarProblem checks one form value against a scalar schema, with Stripe's
// messages ("Invalid integer: abc", "Invalid currency: must be one of ...").
func scalarProblem(s *spec.Schema, v, name string) *Error {
	switch s.Type {
	case "integer":
		if _, err := strconv.ParseInt(v, 10, 64); err != nil {
			return InvalidRequest(name, "Invalid integer: %s", v)
		}
	case "number":
		if _, err := strconv.ParseFloat(v, 64); err != nil {
			return InvalidRequest(name, "Invalid decimal: %s", v)
		}
	case "boolean":
		if v != "true" && v != "false" {
			return InvalidRequest(name, "Invalid boolean: %s", v)
		}
	}
	if len(s.Enum) > 0 {
		allowed := make([]string, 0, len(s.Enum))
		for _, e := range s.Enum {
			if fmt.Sprint(e) == v {
				return nil
			}
			allowed = append(allowed, fmt.Sprint(e))
		}
		return InvalidRequest(name, "Invalid %s: must be one of %s", name, oxfordJoin(allowed))
	}
	if s.MaxLength > 0 && len([]rune(v)) > s.MaxLength {
		return InvalidRequest(name, "Invalid string: %s; must be at most %d characters", abbreviate(v), s.MaxLength)
	}
	return nil
}

// oxfordJoin writes "a, b, or c" as Stripe's enum errors do.
func oxfordJoin(items []string) string {
	switch len(items) {
	case 0:
		return ""
	case 1:
		return items[0]
	case 2:
		return items[0] + " or " + items[1]
	}
	return strings.Join(items[:len(items)-1], ", ") + ", or " + items[len(items)-1]
}

func abbreviate(s string) string {
	if len(s) > 20 {
		return s[:20] + "..."
	}
	return s
}
