package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// cpuSample is the CPU time used so far by the relay's servers (every replica), by the sinks' process
// (delivery phases), by the private PostgreSQL (its phases), by this process (the load generator) and
// by the whole machine (every process: what is left is other work sharing the cores during the phase).
// With PostgreSQL it also holds the cluster's WAL counters.
type cpuSample struct {
	at                                       time.Time
	server, sink, postgres, loadgen, machine time.Duration
	wal                                      walSample
}

// cpuOf names the processes a sample reads: the servers, the sinks' process (0: none) and the
// private PostgreSQL (nil: none).
type cpuOf struct {
	servers []int
	sink    int
	pg      *pgHandle
}

// sampleCPU reads the processes' user+system time from /proc/<pid>/stat, this process's from
// getrusage and the machine's from /proc/stat; and PostgreSQL's WAL counters.
func sampleCPU(of cpuOf) cpuSample {
	c := cpuSample{at: time.Now()}
	for _, p := range of.servers {
		c.server += procCPU(p)
	}
	if of.sink > 0 {
		c.sink = procCPU(of.sink)
	}
	if of.pg != nil {
		c.postgres = treeCPU(of.pg.pid)
		c.wal = of.pg.sampleWAL()
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

// procStat is what /proc/<pid>/stat tells of a process: its parent, its user+system time, and its
// reaped children's.
type procStat struct {
	pid, ppid      int
	self, children time.Duration
}

func readProcStat(pid int) (procStat, bool) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procStat{}, false
	}
	// Fields after the command (which may hold spaces), from field 3: ppid is 4, utime and stime are
	// 14 and 15, cutime and cstime 16 and 17.
	i := strings.LastIndexByte(string(data), ')')
	if i < 0 {
		return procStat{}, false
	}
	f := strings.Fields(string(data)[i+1:])
	if len(f) <= 14 {
		return procStat{}, false
	}
	n := func(i int) int64 { v, _ := strconv.ParseInt(f[i], 10, 64); return v }
	return procStat{pid: pid, ppid: int(n(1)), self: time.Duration(n(11)+n(12)) * time.Second / clockTicks,
		children: time.Duration(n(13)+n(14)) * time.Second / clockTicks}, true
}

// procCPU is a process's user+system time (0 if unreadable).
func procCPU(pid int) time.Duration {
	s, _ := readProcStat(pid)
	return s.self
}

// treeCPU is the CPU time of a process, of the children it reaped and of its live children: all the
// CPU a PostgreSQL server used, its backends included (those that exited are in the postmaster's
// children's time, the others are read one by one; each is a session of its own, not in the
// postmaster's process group).
func treeCPU(parent int) time.Duration {
	lead, ok := readProcStat(parent)
	if !ok {
		return 0
	}
	total := lead.self + lead.children
	for _, c := range children(parent) {
		total += c.self
	}
	return total
}

// childrenOf lists the pids of a process's live children.
func childrenOf(parent int) []int {
	kids := children(parent)
	out := make([]int, 0, len(kids))
	for _, c := range kids {
		out = append(out, c.pid)
	}
	return out
}

// children reads the live children of a process from /proc.
func children(parent int) []procStat {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var out []procStat
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == parent {
			continue
		}
		if s, ok := readProcStat(pid); ok && s.ppid == parent {
			out = append(out, s)
		}
	}
	return out
}

// clockTicks is USER_HZ, the unit of /proc/<pid>/stat's times: 100 on every Linux architecture Go
// supports.
const clockTicks = 100
