package testenv

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// helperEnv makes this test binary, re-executed, the test that dies (TestHelperDiesWithControlPlane).
const helperEnv = "STRIPE_OPERATOR_TESTENV_HELPER"

// TestControlPlaneDiesWithTheTest pins the test hygiene of issue 11: a test binary that times out or
// panics with the control plane running (no deferred Stop runs then) leaves no etcd or kube-apiserver
// behind. The test runs this binary again as a test that starts the control plane and then dies, watches
// which etcd and kube-apiserver processes it starts, and checks that they are gone once it died.
func TestControlPlaneDiesWithTheTest(t *testing.T) {
	if _, err := AssetsDir(); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		args []string
	}{
		{name: "timeout", args: []string{"-test.timeout", "8s"}},
		{name: "panic"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"-test.run", "^TestHelperDiesWithControlPlane$", "-test.v"}, tc.args...)
			cmd := exec.Command(os.Args[0], args...)
			cmd.Env = append(os.Environ(), helperEnv+"="+tc.name)
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			exited := make(chan error, 1)
			go func() { exited <- cmd.Wait() }()
			seen := map[int]string{}
			t.Cleanup(func() {
				for pid := range seen {
					_ = syscall.Kill(pid, syscall.SIGKILL) // whatever this test proves, it leaves nothing running
				}
			})
			var err error
		watch:
			for {
				for pid, name := range controlPlaneChildren(cmd.Process.Pid) {
					seen[pid] = name
				}
				select {
				case err = <-exited:
					break watch
				case <-time.After(20 * time.Millisecond):
				}
			}
			if err == nil {
				t.Fatalf("the helper test did not die:\n%s", out.String())
			}
			if len(seen) == 0 {
				t.Fatalf("the helper test died before starting etcd:\n%s", out.String())
			}
			deadline := time.Now().Add(10 * time.Second)
			for pid, name := range seen {
				for alive(pid) {
					if time.Now().After(deadline) {
						t.Fatalf("%s (pid %d) still runs after its test died (%v)", name, pid, err)
					}
					time.Sleep(50 * time.Millisecond)
				}
			}
		})
	}
}

// TestHelperDiesWithControlPlane is run only by TestControlPlaneDiesWithTheTest, in a child process:
// it starts the control plane, then times out or panics.
func TestHelperDiesWithControlPlane(t *testing.T) {
	mode := os.Getenv(helperEnv)
	if mode == "" {
		t.Skip("run by TestControlPlaneDiesWithTheTest")
	}
	if _, err := Start(Options{}); err != nil {
		t.Fatal(err)
	}
	if mode == "panic" {
		panic("the test panics with the control plane running")
	}
	time.Sleep(time.Hour) // until -test.timeout
}

// controlPlaneChildren returns the etcd and kube-apiserver processes whose parent is pid.
func controlPlaneChildren(pid int) map[int]string {
	out := map[int]string{}
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, stat := range stats {
		b, err := os.ReadFile(stat)
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may hold spaces, so split after its closing parenthesis.
		open, end := bytes.IndexByte(b, '('), bytes.LastIndexByte(b, ')')
		if open < 0 || end < open {
			continue
		}
		comm := string(b[open+1 : end])
		fields := strings.Fields(string(b[end+1:]))
		if len(fields) < 2 || (comm != "etcd" && comm != "kube-apiserver") {
			continue
		}
		if ppid, _ := strconv.Atoi(fields[1]); ppid == pid {
			child, _ := strconv.Atoi(filepath.Base(filepath.Dir(stat)))
			out[child] = comm
		}
	}
	return out
}

// alive says whether pid is a process that has not been reaped or become a zombie.
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	end := bytes.LastIndexByte(b, ')')
	fields := strings.Fields(string(b[end+1:]))
	return len(fields) > 0 && fields[0] != "Z"
}
