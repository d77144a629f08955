package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// serverProcess is the benchmark's server: this binary with -serve, in its own process group.
type serverProcess struct {
	cmd    *exec.Cmd
	url    string
	exited chan struct{} // closed once the process is gone
	err    error         // how it exited; read after exited is closed
	once   sync.Once
}

// running are the server processes started and not yet known to be gone, for killAll.
var (
	runningMu sync.Mutex
	running   = map[*serverProcess]struct{}{}
)

// killAll sends SIGKILL to the process group of every server still running. It is what an error, a
// panic or a signal of this process ends with, so that no server outlives the benchmark.
func killAll() {
	runningMu.Lock()
	defer runningMu.Unlock()
	for s := range running {
		_ = syscall.Kill(-s.pid(), syscall.SIGKILL)
	}
}

// startServer starts this binary with args and waits for its ready line (at most 30 s). The process
// leads a process group of its own (Setpgid), so that killing -pgid ends all of it; it also gets SIGKILL
// should this process die without a chance to kill it (Pdeathsig).
func startServer(self string, args []string) (*serverProcess, error) {
	cmd := exec.Command(self, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("server's stdout: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start the server: %w", err)
	}
	s := &serverProcess{cmd: cmd, exited: make(chan struct{})}
	runningMu.Lock()
	running[s] = struct{}{}
	runningMu.Unlock()

	ready := make(chan string, 1)
	go func() {
		lines := bufio.NewScanner(stdout)
		for lines.Scan() {
			if url, ok := strings.CutPrefix(lines.Text(), readyPrefix); ok {
				ready <- url
				continue
			}
			fmt.Fprintln(os.Stderr, lines.Text())
		}
		_, _ = io.Copy(io.Discard, stdout)
		s.err = cmd.Wait()
		runningMu.Lock()
		delete(running, s)
		runningMu.Unlock()
		close(s.exited)
	}()
	select {
	case s.url = <-ready:
		return s, nil
	case <-s.exited:
		return nil, fmt.Errorf("the server exited before serving: %s", exitText(s.err))
	case <-time.After(30 * time.Second):
		s.kill()
		return nil, errors.New("the server did not serve within 30 s")
	}
}

func (s *serverProcess) pid() int { return s.cmd.Process.Pid }

func (s *serverProcess) signal(sig syscall.Signal) error {
	if err := syscall.Kill(s.pid(), sig); err != nil {
		return fmt.Errorf("signal the server: %w", err)
	}
	return nil
}

// check returns an error if the server is no longer running.
func (s *serverProcess) check() error {
	select {
	case <-s.exited:
		return fmt.Errorf("the server (pid %d) exited during the phase: %s", s.pid(), exitText(s.err))
	default:
		return nil
	}
}

// kill sends SIGKILL to the server's process group and waits until the server is gone: kill -9, as
// the crash phase wants it.
func (s *serverProcess) kill() {
	_ = syscall.Kill(-s.pid(), syscall.SIGKILL)
	<-s.exited
}

// stop ends the server gracefully (SIGTERM: it writes its profile and closes its store), SIGKILL after
// 10 s; then SIGKILL to its group, should anything be left. Safe to call more than once; the first
// call's result is the exit error of a server that did not stop cleanly.
func (s *serverProcess) stop() error {
	var out error
	s.once.Do(func() {
		defer func() { _ = syscall.Kill(-s.pid(), syscall.SIGKILL) }()
		select {
		case <-s.exited:
			return // killed already (the crash phase), or exited: check() reports that
		default:
		}
		_ = syscall.Kill(s.pid(), syscall.SIGTERM)
		select {
		case <-s.exited:
			if s.err != nil {
				out = fmt.Errorf("the server's exit on SIGTERM: %w", s.err)
			}
		case <-time.After(10 * time.Second):
			s.kill()
			out = errors.New("the server did not stop within 10 s of SIGTERM; killed")
		}
	})
	return out
}

func exitText(err error) string {
	if err == nil {
		return "exit status 0"
	}
	return err.Error()
}

// cpuSample is the CPU time used so far by the server, by the sinks' process (delivery phases), by
// this process (the load generator) and by the whole machine (every process: what is left is other
// work sharing the cores during the phase).
type cpuSample struct {
	at                             time.Time
	server, sink, loadgen, machine time.Duration
}

// sampleCPU reads the server's (and the sinks', sinkPID > 0) user+system time from /proc/<pid>/stat
// and this process's from getrusage.
func sampleCPU(pid int, sinkPID ...int) cpuSample {
	c := cpuSample{at: time.Now(), server: procCPU(pid)}
	for _, p := range sinkPID {
		c.sink += procCPU(p)
	}
	if data, err := os.ReadFile("/proc/stat"); err == nil {
		// The first line: "cpu  user nice system idle iowait irq softirq steal ...", in USER_HZ.
		line, _, _ := strings.Cut(string(data), "\n")
		f := strings.Fields(line)
		if len(f) > 8 && f[0] == "cpu" {
			var busy int64
			for i, v := range f[1:9] {
				if i == 3 || i == 4 { // idle, iowait
					continue
				}
				n, _ := strconv.ParseInt(v, 10, 64)
				busy += n
			}
			c.machine = time.Duration(busy) * time.Second / clockTicks
		}
	}
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		c.loadgen = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	return c
}

// procCPU is a process's user+system time, from /proc/<pid>/stat (0 if unreadable).
func procCPU(pid int) time.Duration {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// Fields after the command (which may hold spaces), from field 3: utime and stime are 14, 15.
	i := strings.LastIndexByte(string(data), ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(data)[i+1:])
	if len(f) <= 12 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * time.Second / clockTicks
}

// clockTicks is USER_HZ, the unit of /proc/<pid>/stat's times: 100 on every Linux architecture Go
// supports.
const clockTicks = 100
