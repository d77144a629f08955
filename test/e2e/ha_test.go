package e2e

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cloudip/stripe-operator/api/v1alpha1"
	"github.com/cloudip/stripe-operator/hack/stripe-emulator/emulator"
	"github.com/cloudip/stripe-operator/internal/controller/controllertest"
	"github.com/cloudip/stripe-operator/internal/stripeapi"
	"github.com/cloudip/stripe-operator/internal/testenv"
)

// leaseName is the manager's LeaderElectionID (cmd/manager/main.go).
const leaseName = "stripe-operator.payments.cloudip.io"

// Controller-runtime's leader-election defaults, which the manager keeps. A standby counts a lease as
// expired leaseDuration after it last saw the holder renew it, and it reads the lease every
// retryPeriod jittered by up to 1.2 times more (client-go's JitterFactor): it sees the dead leader's
// last renewal within one retryWait after the kill, and the expiry within another.
const (
	leaseDuration = 15 * time.Second
	retryPeriod   = 2 * time.Second
	retryWait     = retryPeriod * 22 / 10
)

// acquiredLine is what client-go's leader election logs when this process becomes the leader.
const acquiredLine = "Successfully acquired lease"

// workersLine is what controller-runtime logs when a controller starts reconciling (only once leader).
const workersLine = "Starting workers"

// haManager is one manager replica: its own OS process (and process group) and log file.
type haManager struct {
	name string
	proc *testenv.Process
	log  string
}

// The install's leader-election Roles (config/default's names).
const (
	managerElectionRole = "stripe-operator-leader-election-role"
	relayElectionRole   = "stripe-operator-relay-role"
)

// electionNamespace creates a namespace for one test's leader election and grants the ServiceAccount
// the install's leader-election Role there (the same rules as in the install's namespace).
func electionNamespace(t *testing.T, role, serviceAccount string) string {
	t.Helper()
	ns := controllertest.Namespace(t, env, nil)
	if err := env.GrantRoleIn(context.Background(), role, ns, serviceAccount); err != nil {
		t.Fatal(err)
	}
	return ns
}

// startHAManager starts the manager binary as one replica of an elected pair.
func startHAManager(t *testing.T, binary, dir, name, electionNS string) *haManager {
	t.Helper()
	logPath := filepath.Join(dir, "manager-"+name+".log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	kubeconfig, err := env.KubeconfigAs(testenv.InstallNamespace, testenv.ManagerServiceAccount)
	if err != nil {
		t.Fatal(err)
	}
	proc, err := testenv.StartProcess(binary, []string{
		"--kubeconfig", kubeconfig,
		"--leader-elect",
		"--leader-election-namespace", electionNS,
		"--secret-namespaces", controllertest.SecretNamespace,
		"--metrics-bind-address", "0",
		"--health-probe-bind-address", "0",
		"--cluster-id", "e2e-ha",
	}, logFile)
	if err != nil {
		_ = logFile.Close()
		t.Fatal(err)
	}
	m := &haManager{name: name, proc: proc, log: logPath}
	t.Cleanup(func() {
		proc.Stop(10 * time.Second)
		_ = logFile.Close()
		noForbidden(t, "manager "+name, logPath)
		if t.Failed() {
			t.Logf("manager %s (pid %d) log:\n%s", name, proc.Pid(), tail(m.logText(), 64<<10))
		}
	})
	return m
}

// logText returns the replica's log so far.
func (m *haManager) logText() string {
	out, err := os.ReadFile(m.log)
	if err != nil {
		return "(" + err.Error() + ")"
	}
	return string(out)
}

// logs reports whether the replica's log contains line.
func (m *haManager) logs(line string) bool { return strings.Contains(m.logText(), line) }

// tail is the last max bytes of s.
func tail(s string, limit int) string {
	if len(s) <= limit {
		return s
	}
	return "…" + s[len(s)-limit:]
}

// leaseHolder returns the election Lease's holder identity ("" while there is none).
func leaseHolder(ctx context.Context, ns string) (string, error) {
	var lease coordinationv1.Lease
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: leaseName}, &lease); err != nil {
		return "", err
	}
	if lease.Spec.HolderIdentity == nil {
		return "", nil
	}
	return *lease.Spec.HolderIdentity, nil
}

// readyPlans counts the plans of ns whose Ready condition is True for their current generation.
func readyPlans(ctx context.Context, ns string) (int, error) {
	var list v1alpha1.BillingPlanList
	if err := env.Client.List(ctx, &list, client.InNamespace(ns)); err != nil {
		return 0, err
	}
	n := 0
	for i := range list.Items {
		p := &list.Items[i]
		c := meta.FindStatusCondition(p.Status.Conditions, v1alpha1.ConditionReady)
		if c != nil && c.Status == metav1.ConditionTrue && c.ObservedGeneration == p.Generation {
			n++
		}
	}
	return n, nil
}

// stripeObjectsByTag returns the ids of the emulator's objects of kind on the platform account by
// their owner's tags, "cloudip_uid/cloudip_component" (a plan's product: "<uid>/product", its
// prices: "<uid>/price:<key>").
func stripeObjectsByTag(emu *emulator.Server, kind string) map[string][]string {
	out := map[string][]string{}
	_ = emu.Store().Read(emu.PlatformAccount(), emu.Now(), func(tx *emulator.Tx) error {
		tx.Scan(kind, func(o emulator.Object) bool {
			md := o.Map("metadata")
			uid, _ := md[stripeapi.MetadataKeyUID].(string)
			component, _ := md[stripeapi.MetadataKeyComponent].(string)
			key := uid + "/" + component
			out[key] = append(out[key], o.ID())
			return true
		})
		return nil
	})
	return out
}

// TestLeaderFailover pins issue 10's operator high availability: two manager replicas (./cmd/manager
// as OS processes, --leader-elect) against one control plane and a rate-limited Stripe; the leader is
// killed with SIGKILL while its plans are converging (some Ready, not all, so some creates are in
// flight); the standby takes the lease within the lease duration and finishes every plan with exactly
// one product and one price each in Stripe. With one replica only, the takeover never happens and the
// test fails.
func TestLeaderFailover(t *testing.T) {
	const plans = 40
	ctx := context.Background()
	dir := t.TempDir()
	binary := filepath.Join(dir, "manager")
	if err := testenv.BuildBinary(ctx, env.RepoRoot, "./cmd/manager", binary); err != nil {
		t.Fatal(err)
	}
	electionNS := electionNamespace(t, managerElectionRole, testenv.ManagerServiceAccount)
	ns := controllertest.Namespace(t, env, nil)
	// 20 requests/s: 40 plans take several seconds to converge, a window to kill the leader in.
	emu := emulator.Start(t, emulator.Options{RateLimit: emulator.RateLimit{Rate: 20}})

	replicas := []*haManager{
		startHAManager(t, binary, dir, "a", electionNS),
		startHAManager(t, binary, dir, "b", electionNS),
	}

	// The leader: the one replica whose log says it acquired the lease, and the Lease names a holder.
	var leader, standby *haManager
	var holder string
	controllertest.Eventually(t, 30*time.Second, func() error {
		for _, m := range replicas {
			select {
			case <-m.proc.Done():
				return fmt.Errorf("manager %s exited: %w", m.name, m.proc.Err())
			default:
			}
		}
		var acquired []*haManager
		for _, m := range replicas {
			if m.logs(acquiredLine) {
				acquired = append(acquired, m)
			}
		}
		if len(acquired) != 1 {
			return fmt.Errorf("%d replicas acquired the lease, want 1", len(acquired))
		}
		var err error
		if holder, err = leaseHolder(ctx, electionNS); err != nil {
			return err
		}
		if holder == "" {
			return errors.New("the Lease has no holder")
		}
		leader = acquired[0]
		return nil
	})
	for _, m := range replicas {
		if m != leader {
			standby = m
		}
	}
	t.Logf("leader: manager %s (pid %d, identity %s); standby: manager %s (pid %d)",
		leader.name, leader.proc.Pid(), holder, standby.name, standby.proc.Pid())

	connection := "conn-" + ns
	controllertest.Connection(t, env.Client, connection, emu.URL, controllertest.ConnectionOptions{})
	for i := range plans {
		name := fmt.Sprintf("plan-%02d", i)
		plan := &v1alpha1.BillingPlan{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
			Spec: v1alpha1.BillingPlanSpec{
				ManagedSpec: v1alpha1.ManagedSpec{ConnectionRef: &v1alpha1.ConnectionReference{Name: connection}},
				Product:     v1alpha1.Product{Name: "Plan " + name, Description: "CloudIP " + name},
				Prices:      []v1alpha1.Price{controllertest.Monthly("monthly", int64(900+i))},
			},
		}
		if err := env.Client.Create(ctx, plan); err != nil {
			t.Fatalf("create %s: %v", name, err)
		}
	}

	// Kill the leader's process group mid-convergence: once a quarter of the plans are Ready.
	controllertest.Eventually(t, 30*time.Second, func() error {
		n, err := readyPlans(ctx, ns)
		if err != nil {
			return err
		}
		if n < plans/4 {
			return fmt.Errorf("%d of %d plans Ready", n, plans)
		}
		return nil
	})
	if standby.logs(workersLine) {
		t.Fatalf("the standby (manager %s) started its controllers while the leader held the lease", standby.name)
	}
	leader.proc.Kill()
	killed := time.Now()
	readyAtKill, err := readyPlans(ctx, ns)
	if err != nil {
		t.Fatal(err)
	}
	productsAtKill := len(stripeObjectsByTag(emu, "product"))
	requestsAtKill := int64(0)
	for _, n := range emu.Stats().Requests {
		requestsAtKill += n
	}
	if readyAtKill >= plans {
		t.Fatalf("all %d plans were Ready when the leader was killed: no convergence to take over", plans)
	}
	t.Logf("killed manager %s: %d of %d plans Ready, %d products in Stripe, %d Stripe requests so far",
		leader.name, readyAtKill, plans, productsAtKill, requestsAtKill)

	// The standby takes the lease once the dead leader's expires: within the lease duration and two
	// retry waits after the kill, plus a margin.
	takeoverBound := leaseDuration + 2*retryWait + 3*time.Second
	var newHolder string
	controllertest.Eventually(t, takeoverBound, func() error {
		select {
		case <-standby.proc.Done():
			return fmt.Errorf("the standby (manager %s) exited: %w", standby.name, standby.proc.Err())
		default:
		}
		if !standby.logs(acquiredLine) {
			return fmt.Errorf("the standby (manager %s) has not acquired the lease", standby.name)
		}
		var err error
		if newHolder, err = leaseHolder(ctx, electionNS); err != nil {
			return err
		}
		if newHolder == "" || newHolder == holder {
			return fmt.Errorf("the Lease is still held by %q", newHolder)
		}
		return nil
	})
	takeover := time.Since(killed)
	t.Logf("takeover: manager %s (identity %s) acquired the lease %s after the kill (bound %s)",
		standby.name, newHolder, takeover.Round(10*time.Millisecond), takeoverBound)

	controllertest.Eventually(t, 30*time.Second, func() error {
		n, err := readyPlans(ctx, ns)
		if err != nil {
			return err
		}
		if n != plans {
			return fmt.Errorf("%d of %d plans Ready", n, plans)
		}
		return nil
	})
	converged := time.Since(killed)

	// Exactly one product and one price per plan in Stripe, and the plan records that product.
	products := stripeObjectsByTag(emu, "product")
	prices := stripeObjectsByTag(emu, "price")
	var list v1alpha1.BillingPlanList
	if err := env.Client.List(ctx, &list, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	if len(list.Items) != plans {
		t.Fatalf("%d plans, want %d", len(list.Items), plans)
	}
	duplicates := 0
	for _, p := range list.Items {
		uid := string(p.UID)
		got := products[uid+"/product"]
		if len(got) != 1 {
			t.Errorf("plan %s: %d products in Stripe %v, want 1", p.Name, len(got), got)
		} else if p.Status.ProductID != got[0] {
			t.Errorf("plan %s records product %q, Stripe has %q", p.Name, p.Status.ProductID, got[0])
		}
		duplicates += max(0, len(got)-1)
		gotPrices := prices[uid+"/price:monthly"]
		if len(gotPrices) != 1 {
			t.Errorf("plan %s: %d monthly prices in Stripe %v, want 1", p.Name, len(gotPrices), gotPrices)
		}
		duplicates += max(0, len(gotPrices)-1)
	}
	if len(products) != plans || len(prices) != plans {
		t.Errorf("Stripe holds products for %d owners and prices for %d, want %d each", len(products), len(prices), plans)
	}
	t.Logf("all %d plans Ready %s after the kill; %d duplicates in Stripe (%d products, %d prices); %d answers 429",
		plans, converged.Round(10*time.Millisecond), duplicates, len(products), len(prices), emu.Stats().RateLimited)
}
