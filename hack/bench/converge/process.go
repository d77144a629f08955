package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"k8s.io/client-go/rest"
)

// The tenant scenario runs the operator's manager (./cmd/manager, as deployed) as its own OS process, so that
// the resident memory read from /proc is the operator's alone: this process also holds the emulator,
// whose store grows with every Stripe object. The manager reaches the API server through kubeProxy,
// which counts its writes as the plans scenario's in-process transport does.

// buildManager builds ./cmd/manager into dir and returns the binary's path.
func buildManager(root, dir string) (string, error) {
	bin := filepath.Join(dir, "manager")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/manager")
	cmd.Dir = root
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go build ./cmd/manager: %w", err)
	}
	return bin, nil
}

// managerProcess is the manager running as its own process, in its own process group.
type managerProcess struct {
	cmd    *exec.Cmd
	args   []string
	exited chan struct{} // closed once the process is gone and its log read
	err    error         // why it exited; read after exited is closed
	heap   *heap
	once   sync.Once
}

// managerArgs are the manager's flags (cmd/manager/main.go): the given kubeconfig, API keys read only from
// secretNamespace, no metrics or probe listeners, the concurrency by kind, and zap's level for -v.
func managerArgs(kubeconfig string, o options) []string {
	return []string{
		"--kubeconfig", kubeconfig,
		"--secret-namespaces", secretNamespace,
		"--metrics-bind-address", "0",
		"--health-probe-bind-address", "0",
		"--max-concurrent-reconciles", fmt.Sprintf("StripeTenant=%d,BillingPlan=%d", o.tenantConcurrency, o.concurrency),
		"--cluster-id", "bench-cluster",
		"--resync-period", o.resyncPeriod.String(),
		"--zap-log-level", zapFlagLevel(o.logLevel),
		"--zap-stacktrace-level", "panic",
	}
}

// startManagerProcess starts bin with args. Its log goes through managerLog (failed passes into
// failed); the process gets SIGKILL should this process die without stopping it (Pdeathsig), and stop
// ends its whole group.
func startManagerProcess(bin string, args []string, failed *failedPasses) (*managerProcess, error) {
	cmd := exec.Command(bin, args...)
	// gctrace: one line per GC on stderr with the live heap, which tells the garbage in RSS apart.
	cmd.Env = append(os.Environ(), "GODEBUG="+strings.TrimPrefix(os.Getenv("GODEBUG")+",gctrace=1", ","))
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Stdout = os.Stderr
	logs, err := cmd.StderrPipe()
	if err != nil {
		return nil, fmt.Errorf("manager's stderr: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start the manager: %w", err)
	}
	m := &managerProcess{cmd: cmd, args: args, exited: make(chan struct{}), heap: &heap{}}
	onLog := managerLog(failed, m.heap)
	go func() {
		scanner := bufio.NewScanner(logs)
		scanner.Buffer(make([]byte, 64*1024), 4*1024*1024)
		for scanner.Scan() {
			onLog(scanner.Text())
		}
		_, _ = io.Copy(io.Discard, logs) // a line past the buffer: drain, so the process never blocks
		m.err = cmd.Wait()
		close(m.exited)
	}()
	return m, nil
}

func (m *managerProcess) pid() int { return m.cmd.Process.Pid }

// check returns an error if the manager is no longer running.
func (m *managerProcess) check() error {
	select {
	case <-m.exited:
		return fmt.Errorf("the manager (pid %d) exited during the run: %s", m.pid(), exitText(m.err))
	default:
		return nil
	}
}

// stop sends SIGTERM to the manager's process group (a graceful shutdown, as Kubernetes would), then
// SIGKILL after 10 s. It is safe to call more than once; it returns the exit error of a manager that
// did not stop cleanly on SIGTERM.
func (m *managerProcess) stop() error {
	var out error
	m.once.Do(func() {
		pgid := m.pid()
		select {
		case <-m.exited:
			out = fmt.Errorf("the manager had exited: %s", exitText(m.err))
			_ = syscall.Kill(-pgid, syscall.SIGKILL) // anything left in its group
			return
		default:
		}
		_ = syscall.Kill(-pgid, syscall.SIGTERM)
		select {
		case <-m.exited:
			if m.err != nil {
				out = fmt.Errorf("the manager's exit on SIGTERM: %w", m.err)
			}
		case <-time.After(10 * time.Second):
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
			<-m.exited
			out = errors.New("the manager did not stop within 10 s of SIGTERM; killed")
		}
		_ = syscall.Kill(-pgid, syscall.SIGKILL) // its group, should anything be left
	})
	return out
}

// exitText says how a process exited.
func exitText(err error) string {
	if err == nil {
		return "exit status 0"
	}
	return err.Error()
}

// memory is what /proc/<pid>/status says of a process's memory, in bytes.
type memory struct {
	rss, peak int64 // VmRSS, VmHWM (the peak RSS)
	// gcs, live and goal are the manager's GC count, and the live heap after the last GC and the
	// next goal, in MiB (gctrace).
	gcs        int
	live, goal int64
}

// readMemory reads VmRSS and VmHWM of the manager, with its last GC's heap figures.
func (m *managerProcess) readMemory() (memory, error) {
	mem, err := readMemory(m.pid())
	mem.gcs, mem.live, mem.goal = m.heap.snapshot()
	return mem, err
}

// readMemory reads VmRSS and VmHWM of pid.
func readMemory(pid int) (memory, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return memory{}, fmt.Errorf("read the manager's memory: %w", err)
	}
	var m memory
	for _, line := range strings.Split(string(data), "\n") {
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		fields := strings.Fields(value)
		if len(fields) != 2 || fields[1] != "kB" {
			continue
		}
		kb, err := strconv.ParseInt(fields[0], 10, 64)
		if err != nil {
			continue
		}
		switch name {
		case "VmRSS":
			m.rss = kb * 1024
		case "VmHWM":
			m.peak = kb * 1024
		}
	}
	if m.rss == 0 {
		return m, fmt.Errorf("no VmRSS in /proc/%d/status", pid)
	}
	return m, nil
}

const mib = 1 << 20

// gcTrace matches the heap figures of a GODEBUG=gctrace=1 line: heap at the start of the GC, at its
// end, and live after it, then the next goal (MB in the runtime's sense: MiB).
var gcTrace = regexp.MustCompile(`^gc \d+ @.* (\d+)->(\d+)->(\d+) MB, (\d+) MB goal`)

// heap is what the manager's last GC said: the live heap after it and the goal of the next one.
type heap struct {
	mu         sync.Mutex
	gcs        int
	live, goal int64 // MiB
}

func (h *heap) snapshot() (gcs int, live, goal int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.gcs, h.live, h.goal
}

// managerLog reads the manager's log lines: it keeps the heap figures of gctrace lines (not shown),
// records every "Reconciler error" of the JSON lines (zap's production encoder) in failed, and copies
// them to stderr.
func managerLog(failed *failedPasses, h *heap) func(line string) {
	return func(line string) {
		if g := gcTrace.FindStringSubmatch(line); g != nil {
			live, _ := strconv.ParseInt(g[3], 10, 64)
			goal, _ := strconv.ParseInt(g[4], 10, 64)
			h.mu.Lock()
			h.gcs, h.live, h.goal = h.gcs+1, live, goal
			h.mu.Unlock()
			return
		}
		fmt.Fprintln(os.Stderr, line)
		var entry map[string]any
		if json.Unmarshal([]byte(line), &entry) != nil {
			return
		}
		msg, _ := entry["msg"].(string)
		text, _ := entry["error"].(string)
		if msg != "Reconciler error" || text == "" {
			return
		}
		failed.record([]any{"controller", fmt.Sprint(entry["controller"]), "name", fmt.Sprint(entry["name"])}, errors.New(text), msg)
	}
}

// zapFlagLevel maps -v to the manager's --zap-log-level: error, info, then debug levels.
func zapFlagLevel(v int) string {
	switch {
	case v <= 0:
		return "error"
	case v == 1:
		return "info"
	}
	return strconv.Itoa(v - 1)
}

// kubeProxy stands between the manager process and the API server: plain HTTP on 127.0.0.1 towards
// the manager, the admin credentials of cfg towards the API server. It counts every write request by
// method and resource ("PATCH stripetenants/status", "POST events"); watches stream through.
type kubeProxy struct {
	url    string
	writes *counts
	server *http.Server
}

func startKubeProxy(cfg *rest.Config) (*kubeProxy, error) {
	transport, err := rest.TransportFor(cfg)
	if err != nil {
		return nil, fmt.Errorf("API server transport: %w", err)
	}
	host := cfg.Host
	if !strings.Contains(host, "://") {
		host = "https://" + host
	}
	target, err := url.Parse(host)
	if err != nil {
		return nil, fmt.Errorf("API server address %q: %w", cfg.Host, err)
	}
	p := &kubeProxy{writes: newCounts()}
	proxy := &httputil.ReverseProxy{
		Rewrite:       func(r *httputil.ProxyRequest) { r.SetURL(target) },
		Transport:     &writeCounter{base: transport, counts: p.writes},
		FlushInterval: -1, // watches: every event as it comes
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listen for the API server proxy: %w", err)
	}
	p.url = "http://" + ln.Addr().String()
	p.server = &http.Server{Handler: proxy, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = p.server.Serve(ln) }()
	return p, nil
}

func (p *kubeProxy) close() { _ = p.server.Close() }

// snapshot returns the writes counted so far; nil when there is no proxy (-kube-proxy=false).
func (p *kubeProxy) snapshot() map[string]int64 {
	if p == nil {
		return nil
	}
	return p.writes.snapshot()
}

// writeKubeconfig writes a kubeconfig for the proxy (no credentials: the proxy holds them).
func (p *kubeProxy) writeKubeconfig(path string) error {
	config := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: bench
  cluster:
    server: %s
users:
- name: bench
  user: {}
contexts:
- name: bench
  context:
    cluster: bench
    user: bench
current-context: bench
`, p.url)
	if err := os.WriteFile(path, []byte(config), 0o600); err != nil {
		return fmt.Errorf("write the manager's kubeconfig: %w", err)
	}
	return nil
}
