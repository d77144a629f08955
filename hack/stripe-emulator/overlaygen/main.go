// Command overlaygen re-extracts the emulator's spec overlay: the
// `controller` property of the POST /v1/accounts request body, from the
// OpenAPI spec a newer stripe-mock embeds (see "Spec overlay" in
// hack/stripe-emulator/README.md).
//
//	go run ./hack/stripe-emulator/overlaygen          # rewrite the fragment
//	go run ./hack/stripe-emulator/overlaygen -check   # fail if it differs
//
// The stripe-mock module is fetched with `go mod download` (into the module
// cache; go.mod is not touched). The fragment is copied token for token:
// only the whitespace is re-indented.
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

const (
	module      = "github.com/stripe/stripe-mock"
	specFile    = "embedded/openapi/spec3.json"
	defaultOut  = "hack/stripe-emulator/emulator/specoverlay_account_controller.json"
	defaultFrom = "v0.203.0"
)

// fragmentPath is where the property sits in the spec, one JSON object key
// per step.
var fragmentPath = []string{
	"paths", "/v1/accounts", "post", "requestBody", "content",
	"application/x-www-form-urlencoded", "schema", "properties", "controller",
}

func main() {
	version := flag.String("stripe-mock", defaultFrom, "stripe-mock version whose spec the fragment is copied from")
	out := flag.String("o", defaultOut, "fragment file to write (or compare with -check)")
	check := flag.Bool("check", false, "compare with the file instead of writing it; exit 1 if they differ")
	flag.Parse()
	if err := run(*version, *out, *check); err != nil {
		fmt.Fprintln(os.Stderr, "overlaygen:", err)
		os.Exit(1)
	}
}

func run(version, out string, check bool) error {
	dir, err := moduleDir(version)
	if err != nil {
		return err
	}
	data, err := os.ReadFile(filepath.Join(dir, specFile))
	if err != nil {
		return fmt.Errorf("read %s@%s spec: %w", module, version, err)
	}
	frag, err := extract(data, fragmentPath)
	if err != nil {
		return fmt.Errorf("%s@%s %s: %w", module, version, specFile, err)
	}
	if check {
		have, err := os.ReadFile(out)
		if err != nil {
			return fmt.Errorf("read %s: %w", out, err)
		}
		if !bytes.Equal(have, frag) {
			return fmt.Errorf("%s differs from %s@%s; run without -check to refresh it", out, module, version)
		}
		fmt.Printf("%s matches %s@%s\n", out, module, version)
		return nil
	}
	if err := os.WriteFile(out, frag, 0o644); err != nil {
		return fmt.Errorf("write %s: %w", out, err)
	}
	fmt.Printf("wrote %s from %s@%s\n", out, module, version)
	return nil
}

// moduleDir downloads module@version into the module cache and returns its
// directory.
func moduleDir(version string) (string, error) {
	cmd := exec.Command("go", "mod", "download", "-json", module+"@"+version)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	raw, err := cmd.Output()
	var info struct{ Dir, Error string }
	if jerr := json.Unmarshal(raw, &info); jerr == nil && info.Error != "" {
		return "", fmt.Errorf("go mod download %s@%s: %s", module, version, info.Error)
	}
	if err != nil {
		return "", fmt.Errorf("go mod download %s@%s: %w: %s", module, version, err, stderr.String())
	}
	if info.Dir == "" {
		return "", fmt.Errorf("go mod download %s@%s: no Dir in %q", module, version, raw)
	}
	return info.Dir, nil
}

// extract follows path through nested JSON objects and returns the value
// found there, re-indented but otherwise as it is in the document (key
// order and values untouched: every step is kept as raw JSON).
func extract(doc []byte, path []string) ([]byte, error) {
	cur := json.RawMessage(doc)
	for i, key := range path {
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(cur, &obj); err != nil {
			return nil, fmt.Errorf("%v is not an object: %w", path[:i], err)
		}
		next, ok := obj[key]
		if !ok {
			return nil, fmt.Errorf("no %q under %v", key, path[:i])
		}
		cur = next
	}
	var buf bytes.Buffer
	if err := json.Indent(&buf, cur, "", "  "); err != nil {
		return nil, fmt.Errorf("re-indent the fragment: %w", err)
	}
	buf.WriteByte('\n')
	return buf.Bytes(), nil
}
