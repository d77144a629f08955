package emulator

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/stripe/stripe-mock/param/nestedtypeassembler"
	"github.com/stripe/stripe-mock/param/parser"
)

// serveControl implements the HTTP form of the control API (JSON in, JSON
// out). It is unauthenticated: the emulator only ever listens on loopback
// for tests and demos.
func (e *Emulator) serveControl(w http.ResponseWriter, r *http.Request) {
	op := strings.TrimPrefix(r.URL.Path, controlPrefix)
	switch r.Method + " " + op {
	case "GET ":
		writeControl(w, http.StatusOK, map[string]any{
			"platform_account": e.platform, "api_version": SpecVersionOrEmpty(),
			"spec_check": e.spec != nil, "endpoints": e.router.Routes(),
		})
	case "POST reset":
		e.Reset()
		writeControl(w, http.StatusOK, map[string]any{"reset": true})
	case "GET stats":
		writeControl(w, http.StatusOK, e.Stats())
	case "POST stats/reset":
		e.ResetStats()
		writeControl(w, http.StatusOK, e.Stats())
	case "GET clock":
		writeControl(w, http.StatusOK, clockJSON(e.Now()))
	case "POST clock":
		var in struct {
			Now     json.RawMessage `json:"now"`
			Advance string          `json:"advance"`
		}
		if !readControl(w, r, &in) {
			return
		}
		if len(in.Now) > 0 {
			t, err := parseTime(in.Now)
			if err != nil {
				controlError(w, err)
				return
			}
			e.SetClock(t)
		}
		if in.Advance != "" {
			d, err := time.ParseDuration(in.Advance)
			if err != nil {
				controlError(w, err)
				return
			}
			e.AdvanceClock(d)
		}
		writeControl(w, http.StatusOK, clockJSON(e.Now()))
	case "GET faults":
		writeControl(w, http.StatusOK, faultsToJSON(e.Faults()))
	case "POST faults":
		var in faultsJSON
		if !readControl(w, r, &in) {
			return
		}
		cfg, err := in.config()
		if err != nil {
			controlError(w, err)
			return
		}
		e.SetFaults(cfg)
		writeControl(w, http.StatusOK, faultsToJSON(e.Faults()))
	case "GET ratelimits":
		g, eps := e.RateLimits()
		writeControl(w, http.StatusOK, rateLimitsJSON{RateLimit: g, Endpoints: eps})
	case "POST ratelimits":
		var in rateLimitsJSON
		if !readControl(w, r, &in) {
			return
		}
		e.SetRateLimits(in.RateLimit, in.Endpoints)
		g, eps := e.RateLimits()
		writeControl(w, http.StatusOK, rateLimitsJSON{RateLimit: g, Endpoints: eps})
	case "GET search":
		writeControl(w, http.StatusOK, map[string]any{"lag": e.SearchLag().String()})
	case "POST search":
		var in struct {
			Lag string `json:"lag"`
		}
		if !readControl(w, r, &in) {
			return
		}
		d, err := time.ParseDuration(in.Lag)
		if err != nil {
			controlError(w, err)
			return
		}
		e.SetSearchLag(d)
		writeControl(w, http.StatusOK, map[string]any{"lag": e.SearchLag().String()})
	case "POST dashboard":
		var in struct {
			Account string         `json:"account"`
			ID      string         `json:"id"`
			Params  map[string]any `json:"params"`
		}
		if !readControl(w, r, &in) {
			return
		}
		obj, err := e.DashboardEdit(in.Account, in.ID, in.Params)
		if err != nil {
			controlError(w, err)
			return
		}
		writeControl(w, http.StatusOK, obj)
	default:
		if e.serveConnectControl(w, r, op) {
			return
		}
		if e.serveBillingControl(w, r, op) {
			return
		}
		controlError(w, &Error{Status: http.StatusNotFound, Type: TypeInvalidRequest,
			Message: fmt.Sprintf("unknown control operation %s %s", r.Method, r.URL.Path)})
	}
}

// SpecVersionOrEmpty is SpecVersion without the error, for display.
func SpecVersionOrEmpty() string { v, _ := SpecVersion(); return v }

func clockJSON(t time.Time) map[string]any {
	return map[string]any{"now": t.Unix(), "rfc3339": t.UTC().Format(time.RFC3339Nano)}
}

// parseTime accepts unix seconds or an RFC 3339 string.
func parseTime(raw json.RawMessage) (time.Time, error) {
	var n int64
	if err := json.Unmarshal(raw, &n); err == nil {
		return time.Unix(n, 0), nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return time.Time{}, fmt.Errorf("now: want unix seconds or an RFC 3339 string")
	}
	return time.Parse(time.RFC3339Nano, s)
}

func readControl(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		controlError(w, fmt.Errorf("bad JSON body: %w", err))
		return false
	}
	return true
}

func writeControl(w http.ResponseWriter, status int, v any) {
	body, _ := json.MarshalIndent(v, "", "  ")
	writeJSONBytes(w, status, append(body, '\n'))
}

// controlError answers with a Stripe error body, so the same client code
// reads both APIs' errors.
func controlError(w http.ResponseWriter, err error) {
	var se *Error
	if !errors.As(err, &se) {
		se = InvalidRequest("", "%s", err.Error())
	}
	writeControl(w, se.Status, map[string]any{"error": se})
}

// faultsJSON is FaultConfig with durations written as Go duration strings.
type faultsJSON struct {
	Seed  uint64          `json:"seed"`
	Rules []faultRuleJSON `json:"rules"`
}

type faultRuleJSON struct {
	FaultRule
	Latency string `json:"latency,omitempty"`
	Jitter  string `json:"jitter,omitempty"`
}

func (f faultsJSON) config() (FaultConfig, error) {
	cfg := FaultConfig{Seed: f.Seed}
	for i, r := range f.Rules {
		rule := r.FaultRule
		for _, d := range []struct {
			s   string
			dst *time.Duration
		}{{r.Latency, &rule.Latency}, {r.Jitter, &rule.Jitter}} {
			if d.s == "" {
				continue
			}
			v, err := time.ParseDuration(d.s)
			if err != nil {
				return cfg, fmt.Errorf("rules[%d]: %w", i, err)
			}
			*d.dst = v
		}
		cfg.Rules = append(cfg.Rules, rule)
	}
	return cfg, nil
}

func faultsToJSON(cfg FaultConfig) faultsJSON {
	out := faultsJSON{Seed: cfg.Seed, Rules: []faultRuleJSON{}}
	for _, r := range cfg.Rules {
		fr := faultRuleJSON{FaultRule: r}
		if r.Latency > 0 {
			fr.Latency = r.Latency.String()
		}
		if r.Jitter > 0 {
			fr.Jitter = r.Jitter.String()
		}
		out.Rules = append(out.Rules, fr)
	}
	return out
}

type rateLimitsJSON struct {
	RateLimit
	Endpoints []EndpointLimit `json:"endpoints"`
}

// parseForm decodes a form body with stripe-mock's Rack-style decoder, the
// same one API requests go through.
func parseForm(body string) (map[string]any, error) {
	values, err := parser.ParseFormString(body)
	if err != nil {
		return nil, InvalidRequest("", "Invalid form body: %v", err)
	}
	return nestedtypeassembler.AssembleParams(values)
}

// decodeError turns an error response body back into an *Error.
func decodeError(status int, body []byte) error {
	var wrap struct {
		Error *Error `json:"error"`
	}
	if err := json.Unmarshal(body, &wrap); err != nil || wrap.Error == nil {
		return fmt.Errorf("stripe %d: %s", status, strconv.Quote(string(body)))
	}
	wrap.Error.Status = status
	return wrap.Error
}
