package version

import (
	"bytes"
	"flag"
	"runtime"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestResolve(t *testing.T) {
	stamps := func() map[string]string {
		return map[string]string{"vcs.revision": "0123456789abcdef", "vcs.time": "2026-01-02T03:04:05Z", "vcs.modified": "true"}
	}
	none := func() map[string]string { return nil }
	for _, tc := range []struct {
		name             string
		v, c, d          string
		settings         func() map[string]string
		wantV, wantC, wd string
	}{
		{"linker wins", "v1.2.3", "feedface", "2025-05-05T05:05:05Z", stamps, "v1.2.3", "feedface", "2025-05-05T05:05:05Z"},
		{"from the vcs stamps, dirty", "", "", "", stamps, Dev, "0123456789abcdef-dirty", "2026-01-02T03:04:05Z"},
		{"nothing known", "", "", "", none, Dev, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := resolve(tc.v, tc.c, tc.d, tc.settings)
			if got.Version != tc.wantV || got.Commit != tc.wantC || got.Date != tc.wd {
				t.Fatalf("resolve = %+v, want version %q commit %q date %q", got, tc.wantV, tc.wantC, tc.wd)
			}
			if got.GoVersion != runtime.Version() || got.Platform != runtime.GOOS+"/"+runtime.GOARCH {
				t.Fatalf("go version/platform = %q %q", got.GoVersion, got.Platform)
			}
		})
	}
	line := Info{Version: "v1", Commit: "abc", Date: "2026-01-02T03:04:05Z", GoVersion: "go1.26.8", Platform: "linux/amd64"}.String()
	if want := "v1 commit abc built 2026-01-02T03:04:05Z go1.26.8 linux/amd64"; line != want {
		t.Fatalf("String() = %q, want %q", line, want)
	}
}

func TestCollector(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	if err := Register(reg); err != nil {
		t.Fatal(err)
	}
	i := Get()
	commit := i.Commit
	if commit == "" {
		commit = unknown
	}
	want := `# HELP stripe_operator_build_info A metric with a constant '1' value labeled by the version, commit and Go version the binary was built from.
# TYPE stripe_operator_build_info gauge
stripe_operator_build_info{commit="` + commit + `",goversion="` + runtime.Version() + `",version="` + i.Version + `"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), MetricName); err != nil {
		t.Fatal(err)
	}
}

func TestFlag(t *testing.T) {
	for _, tc := range []struct {
		args     []string
		printed  bool
		exitCode int
	}{
		{[]string{"--version"}, true, 0},
		{[]string{"-version=true", "-other", "x"}, true, 0},
		{[]string{"--version=false"}, false, -1},
		{nil, false, -1},
	} {
		var out bytes.Buffer
		code := -1
		fs := flag.NewFlagSet("manager", flag.ContinueOnError)
		fs.Var(&printFlag{program: "manager", out: &out, exit: func(c int) { code = c; panic(exited{}) }}, "version", "")
		fs.String("other", "", "")
		func() {
			defer func() {
				if r := recover(); r != nil && r != (exited{}) {
					panic(r)
				}
			}()
			if err := fs.Parse(tc.args); err != nil {
				t.Fatal(err)
			}
		}()
		want := ""
		if tc.printed {
			want = "manager " + String() + "\n"
		}
		if out.String() != want || code != tc.exitCode {
			t.Errorf("%q: printed %q exit %d, want %q exit %d", tc.args, out.String(), code, want, tc.exitCode)
		}
	}
}

// exited stops flag parsing where os.Exit would have.
type exited struct{}
