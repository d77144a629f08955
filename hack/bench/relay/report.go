package main

import (
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Targets (issue 7, item 6): printed as PASS or MISS, never a failure of the command.
const (
	targetEventsPerSec = 5000
	targetRatio        = 0.5
	targetP99MS        = 20
)

// results is everything a run measured; printReport and -json print it.
type results struct {
	Machine machine      `json:"machine"`
	Options optionsJSON  `json:"options"`
	Phases  []phase      `json:"phases"`
	Ratio   float64      `json:"relay_to_bare"`
	Crash   *crashResult `json:"crash,omitempty"`
	// Postgres is the private PostgreSQL of the relay pg and deliver pg phases.
	Postgres *pgInfo  `json:"postgres,omitempty"`
	Targets  []target `json:"targets"`
}

type optionsJSON struct {
	DurationS   float64 `json:"duration_s"`
	WarmupS     float64 `json:"warmup_s"`
	Clients     int     `json:"clients"`
	CrashAfterS float64 `json:"crash_after_s"`
	Outbox      int     `json:"outbox_rows_per_event"`
	Sinks       int     `json:"sinks,omitempty"`
	MaxInFlight int     `json:"max_in_flight,omitempty"`
	PGReplicas  int     `json:"postgres_replicas,omitempty"`
}

func jsonOptions(o options) optionsJSON {
	return optionsJSON{DurationS: o.duration.Seconds(), WarmupS: o.warmup.Seconds(), Clients: o.clients,
		CrashAfterS: o.crashAfter.Seconds(), Outbox: o.outbox, Sinks: o.sinks, MaxInFlight: o.maxInFlight,
		PGReplicas: pgReplicas(o)}
}

// phase is one phase's window: acknowledged events, their latency from the request sent to the answer
// read (milliseconds), the refusals, and the CPU the processes used.
type phase struct {
	Name     string `json:"name"`
	Engine   string `json:"engine,omitempty"` // the store's: sqlite or postgres (none: bare)
	Replicas int    `json:"replicas"`         // server processes, on one store

	Acknowledged int64            `json:"acknowledged"`
	Seconds      float64          `json:"seconds"`
	EventsPerSec float64          `json:"events_per_s"`
	P50          float64          `json:"p50_ms"`
	P99          float64          `json:"p99_ms"`
	P999         float64          `json:"p999_ms"`
	Max          float64          `json:"max_ms"`
	Errors       int64            `json:"errors"` // non-2xx answers and requests without an answer
	Statuses     map[string]int64 `json:"error_statuses,omitempty"`
	FirstError   string           `json:"first_error,omitempty"`
	ServerCores  float64          `json:"server_cpu_cores"`             // every replica's
	PGCores      float64          `json:"postgres_cpu_cores,omitempty"` // PostgreSQL phases: its processes
	LoadgenCores float64          `json:"loadgen_cpu_cores"`
	SinkCores    float64          `json:"sink_cpu_cores,omitempty"` // delivery phases: the sinks' process
	OtherCores   float64          `json:"other_cpu_cores"`          // the rest of the machine: other processes
	ServerUSPer  float64          `json:"server_cpu_us_per_event"`
	PGUSPer      float64          `json:"postgres_cpu_us_per_event,omitempty"`
	Stored       int64            `json:"stored,omitempty"`       // relay: events in the store after the phase
	Put          *putStats        `json:"store_put,omitempty"`    // relay: the intake's Puts, timed in the server
	Delivery     *deliveryResult  `json:"delivery,omitempty"`     // deliver xN: the sinks' side
	WAL          *walStats        `json:"postgres_wal,omitempty"` // PostgreSQL phases: its WAL flushes
}

func summarize(spec phaseSpec, s sample, window time.Duration, before, after cpuSample) phase {
	p := phase{Name: spec.name, Replicas: max(spec.replicas, 1), Acknowledged: s.acked, Seconds: window.Seconds(), Errors: s.failures, FirstError: s.firstErr,
		P50: msOf(quantile(s.latencies, 0.50)), P99: msOf(quantile(s.latencies, 0.99)),
		P999: msOf(quantile(s.latencies, 0.999)), Max: msOf(quantile(s.latencies, 1))}
	if spec.mode != modeBare {
		p.Engine = spec.store.engine()
	}
	if spec.store.pg != nil {
		p.WAL = walDelta(before.wal, after.wal, s.acked)
	}
	if window > 0 {
		p.EventsPerSec = float64(s.acked) / window.Seconds()
	}
	if s.failures > 0 {
		p.Statuses = map[string]int64{"no answer": s.failures}
	}
	for code, n := range s.statuses {
		if p.Statuses == nil {
			p.Statuses = map[string]int64{}
		}
		p.Statuses[strconv.Itoa(code)] = n
		p.Errors += n
	}
	if wall := after.at.Sub(before.at); wall > 0 {
		p.ServerCores = float64(after.server-before.server) / float64(wall)
		p.LoadgenCores = float64(after.loadgen-before.loadgen) / float64(wall)
		p.SinkCores = float64(after.sink-before.sink) / float64(wall)
		p.PGCores = float64(after.postgres-before.postgres) / float64(wall)
		p.OtherCores = max(0, float64(after.machine-before.machine)/float64(wall)-p.ServerCores-p.LoadgenCores-p.SinkCores-p.PGCores)
	}
	if s.acked > 0 {
		p.ServerUSPer = float64((after.server - before.server).Microseconds()) / float64(s.acked)
		p.PGUSPer = float64((after.postgres - before.postgres).Microseconds()) / float64(s.acked)
	}
	if p.Errors == 0 {
		p.FirstError = ""
	}
	return p
}

type target struct {
	Name  string  `json:"name"`
	Want  string  `json:"want"`
	Got   float64 `json:"got"`
	Pass  bool    `json:"pass"`
	Shown string  `json:"-"`
}

// judge fills the ratio and the targets' verdicts.
func judge(r *results) {
	var bare, relay *phase
	for i := range r.Phases {
		switch r.Phases[i].Name {
		case modeBare:
			bare = &r.Phases[i]
		case modeRelay:
			relay = &r.Phases[i]
		}
	}
	if bare == nil || relay == nil {
		return
	}
	if bare.EventsPerSec > 0 {
		r.Ratio = relay.EventsPerSec / bare.EventsPerSec
	}
	r.Targets = []target{
		{Name: "relay events/s", Want: fmt.Sprintf(">= %d", targetEventsPerSec), Got: relay.EventsPerSec,
			Pass: relay.EventsPerSec >= targetEventsPerSec, Shown: thousands(int64(relay.EventsPerSec + 0.5))},
		{Name: "relay / bare", Want: fmt.Sprintf(">= %.0f %%", targetRatio*100), Got: r.Ratio,
			Pass: r.Ratio >= targetRatio, Shown: fmt.Sprintf("%.1f %%", r.Ratio*100)},
		{Name: "relay p99", Want: fmt.Sprintf("<= %d ms", targetP99MS), Got: relay.P99,
			Pass: relay.P99 <= targetP99MS, Shown: ms(relay.P99)},
	}
	if r.Crash != nil {
		r.Targets = append(r.Targets, target{Name: "acknowledged, missing after kill -9", Want: "= 0",
			Got: float64(r.Crash.Missing), Pass: r.Crash.Missing == 0, Shown: strconv.FormatInt(r.Crash.Missing, 10)})
	}
}

func printReport(r results, o options) {
	fmt.Printf("\n== Throughput and acknowledgement latency: %d clients (keep-alive, closed loop), %s measured after %s warm-up\n",
		o.clients, o.duration, o.warmup)
	fmt.Printf("%-13s %8s %9s %8s %8s %9s %8s %6s %7s %6s %8s %6s %6s %10s\n", "phase", "acked", "events/s", "p50", "p99", "p99.9",
		"max", "errors", "server", "pg", "loadgen", "sinks", "other", "server/ev")
	for _, p := range r.Phases {
		sinks, pg := "-", "-"
		if p.Delivery != nil {
			sinks = fmt.Sprintf("%.2f", p.SinkCores)
		}
		if p.Engine == enginePostgres {
			pg = fmt.Sprintf("%.2f", p.PGCores)
		}
		fmt.Printf("%-13s %8s %9s %8s %8s %9s %8s %6d %7.2f %6s %8.2f %6s %6.2f %7.1f µs\n", p.Name, thousands(p.Acknowledged),
			thousands(int64(p.EventsPerSec+0.5)), ms(p.P50), ms(p.P99), ms(p.P999), ms(p.Max), p.Errors, p.ServerCores, pg,
			p.LoadgenCores, sinks, p.OtherCores, p.ServerUSPer)
	}
	fmt.Printf("relay / bare: %.1f %% of the ceiling's events/s\n", r.Ratio*100)
	if noisy := noisyPhases(r.Phases); noisy != "" {
		fmt.Printf("  NOTE: other processes used CPU during the run (%s): the figures are lower and the ratio less\n"+
			"  fair than on a quiet machine; run again when the machine is idle\n", noisy)
	}
	for _, p := range r.Phases {
		if p.Errors > 0 {
			fmt.Printf("  %s errors: %s (first: %s)\n", p.Name, formatCounts(p.Statuses), p.FirstError)
		}
		if p.Put != nil {
			what := "group-commit wait + commit + fdatasync"
			if p.Engine == enginePostgres {
				what = "a transaction: insert, outbox rows, commit with its WAL flush"
			}
			fmt.Printf("  %s's store.Put inside the server (%s): %s Puts, p50 %s, p99 %s, p99.9 %s, max %s\n",
				p.Name, what, thousands(p.Put.Count), ms(p.Put.P50), ms(p.Put.P99), ms(p.Put.P999), ms(p.Put.Max))
		}
		if p.Delivery == nil && p.Engine != "" {
			fmt.Printf("  %s store after the phase: %s events (warm-up included), %d outbox row(s) each\n", p.Name, thousands(p.Stored), o.outbox)
		}
	}
	fmt.Printf("  latency: from the request's send to its answer read, acknowledged (2xx) events only\n" +
		"  server, pg, loadgen, other: CPU cores in use during the window (/proc/<pid>/stat, getrusage, /proc/stat):\n" +
		"  the server (every replica's process summed), PostgreSQL (its process group: postmaster, backends, WAL writer)\n" +
		"  and the load generator share the machine's cores; other is every other process (> 0.1 = a noisy run)\n" +
		"  server/ev: the servers' CPU time per acknowledged event\n")
	printPostgres(r)
	printDelivery(r.Phases)

	if c := r.Crash; c != nil {
		fmt.Printf("\n== Crash: the relay under load, kill -9 of its process group after %.2f s, then its store opened (%.1f ms)\n",
			c.LoadSeconds, c.RecoverMS)
		fmt.Printf("  requests sent                        %10s\n", thousands(c.Sent))
		fmt.Printf("  acknowledged (2xx)                   %10s\n", thousands(c.Acknowledged))
		fmt.Printf("  acknowledged and in the store        %10s\n", thousands(c.InStore))
		fmt.Printf("  acknowledged, missing from the store %10s\n", thousands(c.Missing))
		fmt.Printf("  in the store, never acknowledged     %10s   (committed, answer cut off by the kill: Stripe retries, absorbed as duplicates)\n", thousands(c.Unacked))
		fmt.Printf("  refused (non-2xx) before the kill    %10s\n", thousands(c.Refused))
		fmt.Printf("  in flight at the kill, no answer     %10s\n", thousands(c.CutOff))
		if len(c.MissingIDs) > 0 {
			fmt.Printf("  missing, first: %s\n", strings.Join(c.MissingIDs, ", "))
		}
	}

	fmt.Printf("\n== Targets\n")
	for _, t := range r.Targets {
		fmt.Printf("  %-38s %-9s %12s   %s\n", t.Name, t.Want, t.Shown, verdict(t.Pass))
	}
}

// noisyPhases names the phases that shared the machine with more than 0.15 cores of other work.
func noisyPhases(phases []phase) string {
	var out []string
	for _, p := range phases {
		if p.OtherCores > 0.15 {
			out = append(out, fmt.Sprintf("%s %.2f cores", p.Name, p.OtherCores))
		}
	}
	return strings.Join(out, ", ")
}

func printJSON(r results) error {
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil {
		return fmt.Errorf("write JSON: %w", err)
	}
	return nil
}

func verdict(ok bool) string {
	if ok {
		return "PASS"
	}
	return "MISS"
}

// machine is what the figures were measured on.
type machine struct {
	GOMAXPROCS int    `json:"gomaxprocs"`
	NumCPU     int    `json:"num_cpu"`
	CPU        string `json:"cpu"`
	Go         string `json:"go"`
	Kernel     string `json:"kernel"`
	TempDir    string `json:"temp_dir"`
}

func readMachine(dir string) machine {
	m := machine{GOMAXPROCS: runtime.GOMAXPROCS(0), NumCPU: runtime.NumCPU(), Go: runtime.Version(), TempDir: dir,
		CPU: "unknown", Kernel: "unknown"}
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.SplitSeq(string(data), "\n") {
			if name, value, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(name) == "model name" {
				m.CPU = strings.TrimSpace(value)
				break
			}
		}
	}
	if data, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(data))
	}
	return m
}

func printMachine(m machine, o options) {
	fmt.Printf("bench-relay: %s, %s/%s, GOMAXPROCS %d (%d CPUs), CPU %q, kernel %s\n", m.Go, runtime.GOOS, runtime.GOARCH,
		m.GOMAXPROCS, m.NumCPU, m.CPU, m.Kernel)
	fmt.Printf("  server: its own process on 127.0.0.1 (HTTP/1.1); relay store: SQLite (modernc), WAL, synchronous=FULL, in %s\n", m.TempDir)
	if o.postgres {
		replicas := "1 replica"
		if o.pgReplicas > 1 {
			replicas = fmt.Sprintf("1 and %d replicas", o.pgReplicas)
		}
		fmt.Printf("  PostgreSQL phases: a private server (internal/pgtest, default settings) in its own process group; %s, a fresh database each\n", replicas)
	}
	fmt.Printf("  load: %d clients, realistic product.updated / invoice.paid events (1-3 KiB), each signed as sent; %d outbox row(s) per event\n",
		o.clients, o.outbox)
}

func msOf(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func ms(v float64) string {
	if v < 10 {
		return fmt.Sprintf("%.2f ms", v)
	}
	return fmt.Sprintf("%.1f ms", v)
}

// thousands formats n with comma separators.
func thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	if neg {
		return "-" + s
	}
	return s
}

func formatCounts(m map[string]int64) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s: %d", k, m[k]))
	}
	return strings.Join(parts, ", ")
}
