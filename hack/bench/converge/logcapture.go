package main

import (
	"fmt"
	"strings"
	"sync"

	"github.com/go-logr/logr"
)

// failedPasses records, from the operator's own log, every pass that controller-runtime reports as
// "Reconciler error" (the reconciler returned an error and the object is retried with backoff): by
// controller and cause, and the objects (by controller) whose pass failed on Stripe's 429. The log is the one
// place that sees every failed pass; events cannot, because the events API folds repeated events of
// one object and reason into one series and keeps only the first note.
type failedPasses struct {
	mu      sync.Mutex
	byCause map[string]int64           // "BillingPlan 429", "BillingPlan other: <first words>"
	by429   map[string]map[string]bool // controller -> names of objects with a pass failed by a 429
}

func newFailedPasses() *failedPasses {
	return &failedPasses{byCause: map[string]int64{}, by429: map[string]map[string]bool{}}
}

func (f *failedPasses) record(values []any, err error, msg string) {
	if msg != "Reconciler error" || err == nil {
		return
	}
	var controller, name string
	for i := 0; i+1 < len(values); i += 2 {
		switch values[i] {
		case "controller":
			controller = fmt.Sprint(values[i+1])
		case "name":
			name = fmt.Sprint(values[i+1])
		}
	}
	cause := "other: " + firstWords(err.Error(), 8)
	if is429(err.Error()) {
		cause = "429"
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.byCause[controller+" "+cause]++
	if cause == "429" {
		if f.by429[controller] == nil {
			f.by429[controller] = map[string]bool{}
		}
		f.by429[controller][name] = true
	}
}

// snapshot returns the failed passes by cause and the names of controller's objects failed by a 429.
func (f *failedPasses) snapshot(controller string) (map[string]int64, []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	causes := make(map[string]int64, len(f.byCause))
	for k, v := range f.byCause {
		causes[k] = v
	}
	return causes, sortedKeys(f.by429[controller])
}

func firstWords(s string, n int) string {
	words := strings.Fields(s)
	if len(words) > n {
		words = append(words[:n], "...")
	}
	return strings.Join(words, " ")
}

// captureSink passes everything to the real sink and shows errors, with the values accumulated by
// WithValues, to on.
type captureSink struct {
	inner  logr.LogSink
	values []any
	on     func(values []any, err error, msg string)
}

func captureLogger(inner logr.Logger, on func(values []any, err error, msg string)) logr.Logger {
	return logr.New(&captureSink{inner: inner.GetSink(), on: on})
}

func (s *captureSink) Init(info logr.RuntimeInfo)            { s.inner.Init(info) }
func (s *captureSink) Enabled(level int) bool                { return s.inner.Enabled(level) }
func (s *captureSink) Info(level int, msg string, kv ...any) { s.inner.Info(level, msg, kv...) }
func (s *captureSink) WithName(name string) logr.LogSink     { return s.with(s.inner.WithName(name), nil) }
func (s *captureSink) WithValues(kv ...any) logr.LogSink {
	return s.with(s.inner.WithValues(kv...), kv)
}
func (s *captureSink) Error(err error, msg string, kv ...any) {
	s.on(append(append([]any(nil), s.values...), kv...), err, msg)
	s.inner.Error(err, msg, kv...)
}

func (s *captureSink) with(inner logr.LogSink, kv []any) logr.LogSink {
	return &captureSink{inner: inner, values: append(append([]any(nil), s.values...), kv...), on: s.on}
}
