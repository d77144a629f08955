package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
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

// running are the server processes started and not yet known to be gone, for killAll; killHooks
// are the other servers' kills (the private PostgreSQL's), each run once.
var (
	runningMu sync.Mutex
	running   = map[*serverProcess]struct{}{}
	killHooks = map[*func()]struct{}{}
)

// killAll sends SIGKILL to the process group of every server still running, and runs the kill hooks.
// It is what an error, a panic or a signal of this process ends with, so that no server outlives
// the benchmark.
func killAll() {
	runningMu.Lock()
	defer runningMu.Unlock()
	for s := range running {
		_ = syscall.Kill(-s.pid(), syscall.SIGKILL)
	}
	for h := range killHooks {
		(*h)()
		delete(killHooks, h)
	}
}

// onKillAll has killAll call kill (once) until the returned function is called.
func onKillAll(kill func()) (remove func()) {
	h := &kill
	runningMu.Lock()
	killHooks[h] = struct{}{}
	runningMu.Unlock()
	return func() {
		runningMu.Lock()
		delete(killHooks, h)
		runningMu.Unlock()
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

// replicaSet is a phase's relay servers: one, or several on one PostgreSQL database.
type replicaSet []*serverProcess

// startReplicas starts n servers with args, one after the other (each applies the schema's missing
// versions as it opens the store: the first creates it). The profile file, if any, is per replica.
func startReplicas(self string, args []string, n int, profile string) (replicaSet, error) {
	var set replicaSet
	for i := range n {
		a := args
		if profile != "" {
			file := profile + ".pprof"
			if n > 1 {
				file = fmt.Sprintf("%s-r%d.pprof", profile, i)
			}
			a = append(slices.Clip(args), "-serve-cpuprofile", file)
		}
		s, err := startServer(self, a)
		if err != nil {
			_ = set.stop()
			return nil, err
		}
		set = append(set, s)
	}
	return set, nil
}

func (set replicaSet) urls() []string {
	out := make([]string, len(set))
	for i, s := range set {
		out[i] = s.url
	}
	return out
}

func (set replicaSet) pids() []int {
	out := make([]int, len(set))
	for i, s := range set {
		out[i] = s.pid()
	}
	return out
}

// pidText is the pids for a progress line.
func (set replicaSet) pidText() string {
	parts := make([]string, len(set))
	for i, p := range set.pids() {
		parts[i] = strconv.Itoa(p)
	}
	return strings.Join(parts, ", ")
}

func (set replicaSet) signal(sig syscall.Signal) {
	for _, s := range set {
		_ = s.signal(sig)
	}
}

func (set replicaSet) check() error {
	for _, s := range set {
		if err := s.check(); err != nil {
			return err
		}
	}
	return nil
}

// stop stops every replica (see serverProcess.stop), all of them even when one fails.
func (set replicaSet) stop() error {
	errs := make([]error, 0, len(set))
	for _, s := range set {
		errs = append(errs, s.stop())
	}
	return errors.Join(errs...)
}

func exitText(err error) string {
	if err == nil {
		return "exit status 0"
	}
	return err.Error()
}
