package main

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"strings"
	"time"

	"github.com/cloudip/stripe-operator/hack/stripe-emulator/emulator"
)

// The full resync (-resync): after the settle window the manager is restarted, SIGTERM and then the
// same binary with the same flags, as a rollout or a crash would. Its informers list every object and
// each is reconciled once: an observe pass that reads the object's Stripe objects and, Stripe matching
// the spec, writes nothing, neither to Stripe nor to the API server. This is also what one period of
// --resync-period costs, except that the restart sends it all at once. The resync is over when every
// object's Stripe objects (a tenant's account, customer and subscription; a plan's product) have been
// read again with a 200; the read bound is the fewest reads that takes at the limit.

// resyncMeasurement is what the restart observed.
type resyncMeasurement struct {
	sigterm, started time.Time // SIGTERM to the old manager; the new one's start
	stopTook         time.Duration
	stopErr          error     // the old manager's exit on SIGTERM, when not clean
	firstCall        time.Time // the new manager's first Stripe request
	done             time.Time // the last object's last first read: everything re-read
	end              time.Time // the end of the tail (-resync-tail)
	complete         bool      // everything re-read before -timeout

	objects, stripeObjects int
	objectDone             []float64 // seconds from the start to each object's re-read
	missing                []string  // objects not fully re-read (the first few)
	rechecks               int       // tenants' account reads beyond their first, up to done

	before, atDone, after                 emulator.Stats
	writesBefore, writesDone, writesAfter map[string]int64
	memBefore, mem                        memory
}

// resyncTargets maps the path of each Stripe object the operator reads by id to its object
// ("StripeTenant/<name>", "BillingPlan/<name>").
func resyncTargets(m *tenantMeasurement) map[string]string {
	want := map[string]string{}
	add := func(object, prefix, id string) {
		if id != "" {
			want[prefix+id] = object
		}
	}
	for i := range m.tenants {
		t := &m.tenants[i]
		object := "StripeTenant/" + t.Name
		add(object, "/v1/accounts/", t.Status.AccountID)
		add(object, "/v1/customers/", t.Status.CustomerID)
		add(object, "/v1/subscriptions/", t.Status.SubscriptionID)
	}
	for i := range m.plans {
		add("BillingPlan/"+m.plans[i].Name, "/v1/products/", m.plans[i].Status.ProductID)
	}
	return want
}

// resyncProgress follows the restarted manager's requests: which Stripe objects were read again.
type resyncProgress struct {
	r            *resyncMeasurement
	want         map[string]string // path -> object
	left         map[string]int    // object -> its Stripe objects not read again yet
	read         map[string]bool   // paths read again
	accountReads map[string]int    // object -> reads of its account
}

func newResyncProgress(r *resyncMeasurement, want map[string]string) *resyncProgress {
	p := &resyncProgress{r: r, want: want, left: map[string]int{}, read: map[string]bool{}, accountReads: map[string]int{}}
	for _, object := range want {
		p.left[object]++
	}
	r.objects, r.stripeObjects = len(p.left), len(want)
	return p
}

func (p *resyncProgress) complete() bool { return len(p.read) == len(p.want) }

// note takes the requests logged since the last call.
func (p *resyncProgress) note(entries []loggedRequest) {
	r := p.r
	for _, e := range entries {
		if r.firstCall.IsZero() {
			r.firstCall = e.at
		}
		object, ok := p.want[e.path]
		if !ok || e.method != http.MethodGet || e.status != http.StatusOK {
			continue
		}
		if strings.HasPrefix(e.path, "/v1/accounts/") {
			if p.accountReads[object]++; p.accountReads[object] > 1 {
				r.rechecks++
			}
		}
		if p.read[e.path] {
			continue
		}
		p.read[e.path] = true
		if p.left[object]--; p.left[object] == 0 {
			r.objectDone = append(r.objectDone, e.at.Sub(r.started).Seconds())
			if e.at.After(r.done) {
				r.done = e.at
			}
		}
	}
}

// missing lists the objects not fully read again.
func (p *resyncProgress) missing() []string {
	var out []string
	for _, object := range sortedKeys(p.left) {
		if p.left[object] > 0 {
			out = append(out, fmt.Sprintf("%s (%d not read)", object, p.left[object]))
		}
	}
	return out
}

// measureResync restarts the manager and waits until every object's Stripe objects were read again
// (or -timeout), then watches -resync-tail more.
func measureResync(ctx context.Context, w *world, m *tenantMeasurement) (*resyncMeasurement, error) {
	o := m.o
	r := &resyncMeasurement{}
	progress := newResyncProgress(r, resyncTargets(m))
	var err error
	if r.memBefore, err = w.mgr.readMemory(); err != nil {
		return nil, err
	}
	step(fmt.Sprintf("full resync: SIGTERM to the manager (pid %d), then the same binary and flags again; waiting until the %d Stripe objects of the %d objects are read again",
		w.mgr.pid(), r.stripeObjects, r.objects))
	r.sigterm = time.Now()
	r.stopErr = w.mgr.stop()
	r.stopTook = time.Since(r.sigterm)
	// Counted from here: what the old manager sent while it stopped is not the resync's.
	r.before, r.writesBefore = w.emu.Stats(), w.proxy.snapshot()
	_, mark := w.requests.since(math.MaxInt)
	if w.mgr, err = startManagerProcess(w.bin, w.args, w.failed); err != nil {
		return nil, err
	}
	r.started = time.Now()

	deadline := r.started.Add(o.timeout)
	for !progress.complete() && time.Now().Before(deadline) {
		if err := sleep(ctx, 500*time.Millisecond); err != nil {
			return nil, err
		}
		if err := w.mgr.check(); err != nil {
			return nil, err
		}
		var entries []loggedRequest
		entries, mark = w.requests.since(mark)
		progress.note(entries)
	}
	r.complete = progress.complete()
	r.atDone, r.writesDone = w.emu.Stats(), w.proxy.snapshot()
	if !r.complete {
		r.done, r.missing = time.Now(), progress.missing()
	}
	step(fmt.Sprintf("resync read everything in %.1f s after the restart (complete %v); watching %s more", r.done.Sub(r.started).Seconds(), r.complete, o.resyncTail))
	if err := sleepWatching(ctx, o.resyncTail, w.mgr); err != nil {
		return nil, err
	}
	r.end, r.after, r.writesAfter = time.Now(), w.emu.Stats(), w.proxy.snapshot()
	if r.mem, err = w.mgr.readMemory(); err != nil {
		return nil, err
	}
	return r, nil
}

// minimalResyncReads are the fewest reads of a full resync: one GET by id per Stripe object read
// again, a price list per plan, and the connection's GET /v1/account.
func minimalResyncReads(r *resyncMeasurement, plans int) int {
	return r.stripeObjects + plans + 1
}

// byMethod sums the route counts of a delta by HTTP method.
func byMethod(before, after map[string]int64) map[string]int64 {
	out := map[string]int64{}
	for route, n := range after {
		if d := n - before[route]; d != 0 {
			method, _, _ := strings.Cut(route, " ")
			out[method] += d
		}
	}
	return out
}

// delta returns after - before, key by key, leaving out the zeros.
func delta(before, after map[string]int64) map[string]int64 {
	out := map[string]int64{}
	for k, n := range after {
		if d := n - before[k]; d != 0 {
			out[k] = d
		}
	}
	return out
}

func sum(m map[string]int64) int64 {
	var n int64
	for _, v := range m {
		n += v
	}
	return n
}

// perObjectText lists counts with their share per object.
func perObjectText(m map[string]int64, objects float64) string {
	parts := make([]string, 0, len(m))
	for _, k := range sortedKeys(m) {
		parts = append(parts, fmt.Sprintf("%s %d (%.3f/object)", k, m[k], float64(m[k])/objects))
	}
	if len(parts) == 0 {
		return noneText
	}
	return strings.Join(parts, ", ")
}

// reportResync prints the full resync's cost and returns its Stripe writes (POST, DELETE) and API-server
// writes, restart to the tail's end.
func reportResync(m *tenantMeasurement, r *resyncMeasurement) (stripeWrites, kubeWrites int64) {
	o := m.o
	objects := float64(r.objects)
	fmt.Printf("\n== Full resync: the manager restarted after the settle window (SIGTERM, then the same binary and flags); its informers list everything and each object is observed once\n")
	fmt.Printf("  objects: %d (%d StripeTenants + %d BillingPlans); their Stripe objects read by id: %d (a tenant's account, customer and subscription; a plan's product)\n",
		r.objects, len(m.tenants), len(m.plans), r.stripeObjects)
	stop := "clean"
	if r.stopErr != nil {
		stop = r.stopErr.Error()
	}
	fmt.Printf("  SIGTERM to the old manager's exit: %.2f s (%s)\n", r.stopTook.Seconds(), stop)
	if !r.firstCall.IsZero() {
		fmt.Printf("  new process to its first Stripe request: %.2f s (start, the informers' lists, the connection's verification)\n", r.firstCall.Sub(r.started).Seconds())
	}
	took := r.done.Sub(r.started).Seconds()
	minimal := minimalResyncReads(r, len(m.plans))
	bound := float64(minimal) / boundRate(o)
	if r.complete {
		fmt.Printf("time to all re-read    %8.2f s   (from the new process's start to the last object whose Stripe objects were all read again with a 200)\n", took)
	} else {
		fmt.Printf("time to all re-read    NOT REACHED after %.2f s (-timeout): %d objects left: %s\n", took, len(r.missing), strings.Join(firstN(r.missing, 10), ", "))
	}
	done := sortedCopy(r.objectDone)
	fmt.Printf("  objects re-read at: first %.2f s, 50%% %.2f s, 90%% %.2f s, last %.2f s (%d of %d)\n",
		percentile(done, 0), percentile(done, 0.5), percentile(done, 0.9), percentile(done, 1), len(done), r.objects)
	fmt.Printf("read bound             %8.2f s   = %d minimal reads / %g req/s (1 GET per Stripe object, 1 price list per plan, the connection's GET /v1/account)\n", bound, minimal, boundRate(o))
	fmt.Printf("ratio                  %8.3f\n", took/bound)

	calls := delta(r.before.Requests, r.atDone.Requests)
	methods := byMethod(r.before.Requests, r.atDone.Requests)
	fmt.Printf("  Stripe requests, restart to all re-read: %d = %.3f/object; by method: %s\n", sum(calls), float64(sum(calls))/objects, perObjectText(methods, objects))
	for _, route := range sortedKeys(calls) {
		fmt.Printf("    %-48s %7d  %7.3f/object\n", route, calls[route], float64(calls[route])/objects)
	}
	fmt.Printf("  of the GETs, rechecks (a tenant's account read again after its resync pass): %d; measured GETs / %g req/s = %.2f s\n",
		r.rechecks, boundRate(o), float64(methods["GET"])/boundRate(o))
	fmt.Printf("  responses by status: %s; 429s: %d\n", formatCounts(delta(r.before.Responses, r.atDone.Responses)), r.atDone.RateLimited-r.before.RateLimited)
	stripeWrites = sum(methods) - methods["GET"]
	writes := delta(r.writesBefore, r.writesDone)
	kubeWrites = sum(writes)
	fmt.Printf("  API-server writes by the new manager, restart to all re-read: %d = %.3f/object: %s\n", kubeWrites, float64(kubeWrites)/objects, perObjectText(writes, objects))
	tail := r.end.Sub(r.done).Seconds()
	tailCalls := delta(r.atDone.Requests, r.after.Requests)
	fmt.Printf("  the %.0f s after: Stripe %d requests (%.2f/s: %s); API-server writes %s\n", tail, sum(tailCalls), float64(sum(tailCalls))/tail,
		formatCounts(tailCalls), formatCounts(delta(r.writesDone, r.writesAfter)))
	stripeWrites += sum(byMethod(r.atDone.Requests, r.after.Requests)) - byMethod(r.atDone.Requests, r.after.Requests)["GET"]
	kubeWrites += sum(delta(r.writesDone, r.writesAfter))
	fmt.Printf("  manager RSS: %.1f MiB before the restart; the new process, everything re-read: %.1f MiB = %.2f MiB per 1,000 objects (heap live %d MiB, goal %d MiB)\n",
		float64(r.memBefore.rss)/mib, float64(r.mem.rss)/mib, float64(r.mem.rss)/mib/objects*1000, r.mem.live, r.mem.goal)
	reportResyncPeriod(o, r, float64(methods["GET"]-int64(r.rechecks)))
	return stripeWrites, kubeWrites
}

// reportResyncPeriod prints what one full resync costs at the manager's --resync-period.
func reportResyncPeriod(o options, r *resyncMeasurement, reads float64) {
	period := o.resyncPeriod
	mean := time.Duration(float64(period) * (1 + resyncMeanJitter))
	perHour := reads / mean.Hours()
	fmt.Printf("  at --resync-period %s (+0-10%% jitter, mean %s): one full resync = %.0f reads (the GETs above less the rechecks) = %.0f reads/h = %.3f req/s, %.2f%% of the %d req/s budget; %.3f reads per object per hour\n",
		period, mean.Round(time.Minute), reads, perHour, perHour/3600, perHour/3600/float64(o.budget)*100, o.budget, perHour/float64(r.objects))
	spread := time.Duration(float64(period) * resyncJitter)
	fmt.Printf("    after a restart the objects observed together are due again together: that wave spreads over the jitter (%s), %.2f req/s, %.1f%% of the budget, then repeats each period\n",
		spread.Round(time.Minute), reads/spread.Seconds(), reads/spread.Seconds()/float64(o.budget)*100)
	fmt.Printf("    (a tenant mid-onboarding is on the recheck cadence instead, the resync being the longer: see the onboarding rechecks)\n")
}

// The manager's resync jitter (internal/controller/managed: up to 10%, uniform).
const (
	resyncJitter     = 0.1
	resyncMeanJitter = 0.05
)
