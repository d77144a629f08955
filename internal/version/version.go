// Package version is what a binary knows about its own build: the version, the commit and the
// commit's time, set at link time by the image builder (hack/image) or by `make build`:
//
//	go build -ldflags "-X github.com/cloudip/stripe-operator/internal/version.version=v0.1.0
//	  -X github.com/cloudip/stripe-operator/internal/version.commit=<sha>
//	  -X github.com/cloudip/stripe-operator/internal/version.date=2026-01-02T03:04:05Z" ./cmd/manager
//
// Unset, the version is "dev" and the commit and date come from what the go command stamped into the
// binary (vcs.revision, vcs.time; a plain `go build` in a clone stamps them, `go run` does not).
package version

import (
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// Set with -ldflags -X (strings only; unexported so that nothing changes them at run time).
var (
	version string
	commit  string
	date    string
)

// Dev is the version of a binary built without one.
const Dev = "dev"

// Info is one binary's build.
type Info struct {
	// Version is the release (v0.1.0, a git describe), Dev when none was given.
	Version string
	// Commit is the full commit id, empty when unknown; with "-dirty" appended when the go command
	// stamped uncommitted changes and no commit was given.
	Commit string
	// Date is the commit's time, RFC 3339 in UTC as given, empty when unknown.
	Date string
	// GoVersion is the toolchain's (go1.26.8).
	GoVersion string
	// Platform is GOOS/GOARCH.
	Platform string
}

var (
	once sync.Once
	info Info
)

// Get returns this binary's build.
func Get() Info {
	once.Do(func() { info = resolve(version, commit, date, readBuildInfo) })
	return info
}

func readBuildInfo() map[string]string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return nil
	}
	settings := make(map[string]string, len(bi.Settings))
	for _, s := range bi.Settings {
		settings[s.Key] = s.Value
	}
	return settings
}

// resolve fills what the linker did not set from the go command's VCS stamps.
func resolve(v, c, d string, settings func() map[string]string) Info {
	out := Info{Version: v, Commit: c, Date: d, GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if out.Version == "" {
		out.Version = Dev
	}
	if out.Commit == "" || out.Date == "" {
		stamps := settings()
		if out.Commit == "" && stamps["vcs.revision"] != "" {
			out.Commit = stamps["vcs.revision"]
			if stamps["vcs.modified"] == "true" {
				out.Commit += "-dirty"
			}
		}
		if out.Date == "" {
			out.Date = stamps["vcs.time"]
		}
	}
	return out
}

// String is the one line --version prints: "v0.1.0 commit 0123abc… built 2026-01-02T03:04:05Z go1.26.8 linux/amd64".
func (i Info) String() string {
	parts := []string{i.Version}
	if i.Commit != "" {
		parts = append(parts, "commit "+i.Commit)
	}
	if i.Date != "" {
		parts = append(parts, "built "+i.Date)
	}
	parts = append(parts, i.GoVersion, i.Platform)
	return strings.Join(parts, " ")
}

// String is this binary's build as one line (Get().String()).
func String() string { return Get().String() }

// Print writes "<program> <build>" and a newline to w.
func Print(w io.Writer, program string) {
	_, _ = fmt.Fprintln(w, program, String())
}

// Flag is the --version flag: a boolean flag.Value that, once set, prints "<program> <build>" to
// stdout and exits 0 while the flags are parsed (as -help does), before any other flag is checked.
//
//	flag.Var(version.Flag("manager"), "version", "Print the version and exit.")
func Flag(program string) flag.Value {
	return &printFlag{program: program, out: os.Stdout, exit: os.Exit}
}

type printFlag struct {
	program string
	out     io.Writer
	exit    func(int)
}

func (*printFlag) String() string   { return "false" }
func (*printFlag) IsBoolFlag() bool { return true }

func (f *printFlag) Set(value string) error {
	show, err := strconv.ParseBool(value)
	if err != nil {
		return fmt.Errorf("parse %q: %w", value, err)
	}
	if show {
		Print(f.out, f.program)
		f.exit(0)
	}
	return nil
}

// MetricName is the build-info gauge both binaries export.
const MetricName = "stripe_operator_build_info"

// unknown stands for an empty label value (a commit the build did not record), as Prometheus'
// own build_info does with "unknown".
const unknown = "unknown"

// Collector is the gauge stripe_operator_build_info{version,commit,goversion} 1, Prometheus' build_info
// pattern: join on it to see which build each scraped process runs.
func Collector() prometheus.Collector {
	i := Get()
	commit := i.Commit
	if commit == "" {
		commit = unknown
	}
	g := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: MetricName,
		Help: "A metric with a constant '1' value labeled by the version, commit and Go version the binary was built from.",
		ConstLabels: prometheus.Labels{
			"version":   i.Version,
			"commit":    commit,
			"goversion": i.GoVersion,
		},
	})
	g.Set(1)
	return g
}

// Register registers Collector on reg.
func Register(reg prometheus.Registerer) error {
	if err := reg.Register(Collector()); err != nil {
		return fmt.Errorf("register %s: %w", MetricName, err)
	}
	return nil
}
