/*
Copyright 2026 CloudIP.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

// Package testenv starts a real control plane (kube-apiserver and etcd from KUBEBUILDER_ASSETS,
// built by hack/envtest-assets.sh) for tests, installs the project's CRDs, and gives tests a
// controller-runtime client and the matching kubectl.
//
// One control plane per test package is the intended use (it costs ~3 s to start):
//
//	var env *testenv.Env
//
//	func TestMain(m *testing.M) {
//		var err error
//		if env, err = testenv.Start(testenv.Options{}); err != nil {
//			fmt.Fprintln(os.Stderr, err)
//			os.Exit(1)
//		}
//		code := m.Run()
//		_ = env.Stop()
//		os.Exit(code)
//	}
//
// or, for a single test, env := testenv.New(t, testenv.Options{}), which stops it in t.Cleanup.
package testenv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/discovery"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	paymentsv1alpha1 "github.com/cloudip/stripe-operator/api/v1alpha1"
)

// AssetsEnv is the environment variable naming the folder with kube-apiserver, etcd and kubectl.
const AssetsEnv = "KUBEBUILDER_ASSETS"

// modulePath identifies the repository root (the go.mod declaring it).
const modulePath = "github.com/cloudip/stripe-operator"

// DefaultKubectlTimeout bounds one Kubectl call.
const DefaultKubectlTimeout = 2 * time.Minute

// Options configure Start. The zero value is what most tests want.
type Options struct {
	// CRDDirs are the folders of CRD manifests to install. Default: <repo>/config/crd/bases.
	CRDDirs []string
	// Scheme for the client. Default: client-go's types, apiextensions/v1 and payments/v1alpha1.
	Scheme *runtime.Scheme
	// AttachOutput copies the control plane's output to the test's stdout/stderr (noisy; for debugging).
	AttachOutput bool
}

// Env is a running control plane with the project's CRDs installed.
type Env struct {
	// Config reaches the API server as an admin (system:masters).
	Config *rest.Config
	// Client is a controller-runtime client on Config, with Scheme.
	Client client.Client
	// Scheme knows client-go's types, apiextensions/v1 and payments/v1alpha1.
	Scheme *runtime.Scheme
	// KubeconfigPath is a kubeconfig file for Config (in a temporary folder removed by Stop).
	KubeconfigPath string
	// AssetsDir is the KUBEBUILDER_ASSETS folder.
	AssetsDir string
	// RepoRoot is the repository's root folder.
	RepoRoot string

	env      *envtest.Environment
	tmpDir   string
	cacheDir string
}

// NewScheme returns a scheme with client-go's types, apiextensions/v1 and payments/v1alpha1.
func NewScheme() (*runtime.Scheme, error) {
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{
		clientgoscheme.AddToScheme, apiextensionsv1.AddToScheme, paymentsv1alpha1.AddToScheme,
	} {
		if err := add(s); err != nil {
			return nil, fmt.Errorf("building the scheme: %w", err)
		}
	}
	return s, nil
}

// Start starts etcd and kube-apiserver from KUBEBUILDER_ASSETS, installs the CRDs and waits until they
// are established. Call Stop when done.
func Start(opts Options) (*Env, error) {
	assets, err := AssetsDir()
	if err != nil {
		return nil, err
	}
	root, err := RepoRoot()
	if err != nil {
		return nil, err
	}
	crdDirs := opts.CRDDirs
	if len(crdDirs) == 0 {
		crdDirs = []string{filepath.Join(root, "config", "crd", "bases")}
	}
	scheme := opts.Scheme
	if scheme == nil {
		if scheme, err = NewScheme(); err != nil {
			return nil, err
		}
	}
	tmp, err := os.MkdirTemp("", "stripe-operator-testenv-")
	if err != nil {
		return nil, fmt.Errorf("creating a temporary folder: %w", err)
	}
	e := &Env{Scheme: scheme, AssetsDir: assets, RepoRoot: root, tmpDir: tmp, cacheDir: filepath.Join(tmp, "kube-cache")}
	e.env = &envtest.Environment{
		ControlPlane:             diesWithThisProcess(assets, tmp),
		BinaryAssetsDirectory:    assets,
		CRDDirectoryPaths:        crdDirs,
		ErrorIfCRDPathMissing:    true,
		Scheme:                   scheme,
		AttachControlPlaneOutput: opts.AttachOutput,
		ControlPlaneStartTimeout: time.Minute,
		ControlPlaneStopTimeout:  time.Minute,
	}
	cfg, err := e.env.Start()
	if err != nil {
		_ = e.env.Stop()
		_ = os.RemoveAll(tmp)
		return nil, fmt.Errorf("starting the envtest control plane from %s=%s: %w", AssetsEnv, assets, err)
	}
	e.Config = cfg
	e.KubeconfigPath = filepath.Join(tmp, "kubeconfig")
	if err := os.WriteFile(e.KubeconfigPath, e.env.KubeConfig, 0o600); err != nil {
		_ = e.Stop()
		return nil, fmt.Errorf("writing the kubeconfig: %w", err)
	}
	if e.Client, err = client.New(cfg, client.Options{Scheme: scheme}); err != nil {
		_ = e.Stop()
		return nil, fmt.Errorf("creating the client: %w", err)
	}
	if err := waitForOpenAPI(cfg, e.env.CRDs, openAPITimeout); err != nil {
		_ = e.Stop()
		return nil, err
	}
	return e, nil
}

// diesWithThisProcess returns a control plane whose etcd and kube-apiserver the kernel kills when
// this process ends, also when a test times out or panics and no deferred Stop runs: envtest starts
// each in a process group of its own, which would outlive the test binary (and hold the next run's
// ports and CPU). Each is started through a script in dir that execs it under util-linux's
// `setpriv --pdeathsig KILL` (same pid, so envtest's SIGTERM at Stop still reaches it). Without
// setpriv, the binaries are started as they are.
func diesWithThisProcess(assets, dir string) envtest.ControlPlane {
	setpriv, err := exec.LookPath("setpriv")
	if err != nil {
		return envtest.ControlPlane{}
	}
	wrap := func(name string) string {
		script := filepath.Join(dir, name+"-pdeathsig")
		body := fmt.Sprintf("#!/bin/sh\nexec %s --pdeathsig KILL -- %s \"$@\"\n", setpriv, filepath.Join(assets, name))
		if err := os.WriteFile(script, []byte(body), 0o700); err != nil {
			return "" // envtest finds the binary itself
		}
		return script
	}
	return envtest.ControlPlane{
		Etcd:      &envtest.Etcd{Path: wrap("etcd")},
		APIServer: &envtest.APIServer{Path: wrap("kube-apiserver")},
	}
}

// openAPITimeout bounds the wait for the installed CRDs to appear in the OpenAPI v3 documents.
const openAPITimeout = 30 * time.Second

// waitForOpenAPI waits until every installed CRD's kind is published in the API server's OpenAPI v3
// documents. envtest waits only for the CRDs to be established; the OpenAPI documents follow a moment
// later, and a kubectl explain (or any client reading the OpenAPI) run in between fails with
// "couldn't find resource".
func waitForOpenAPI(cfg *rest.Config, crds []*apiextensionsv1.CustomResourceDefinition, timeout time.Duration) error {
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return fmt.Errorf("creating a discovery client: %w", err)
	}
	want := map[string][]string{} // "apis/<group>/<version>" -> kinds
	for _, crd := range crds {
		for _, v := range crd.Spec.Versions {
			if v.Served {
				p := "apis/" + crd.Spec.Group + "/" + v.Name
				want[p] = append(want[p], crd.Spec.Names.Kind)
			}
		}
	}
	deadline := time.Now().Add(timeout)
	for {
		missing := missingFromOpenAPI(dc, want)
		if missing == "" {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the API server did not publish %s in its OpenAPI v3 documents within %s", missing, timeout)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// missingFromOpenAPI returns the first wanted "path kind" not yet published, or "".
func missingFromOpenAPI(dc discovery.DiscoveryInterface, want map[string][]string) string {
	paths, err := dc.OpenAPIV3().Paths()
	if err != nil {
		return "anything (" + err.Error() + ")"
	}
	for p, kinds := range want {
		gv, ok := paths[p]
		if !ok {
			return p
		}
		doc, err := gv.Schema("application/json")
		if err != nil {
			return p + " (" + err.Error() + ")"
		}
		for _, k := range kinds {
			if !bytes.Contains(doc, []byte(`"kind":"`+k+`"`)) {
				return p + " " + k
			}
		}
	}
	return ""
}

// New is Start for one test: it fails the test on error and stops the control plane in t.Cleanup.
func New(t testing.TB, opts Options) *Env {
	t.Helper()
	e, err := Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := e.Stop(); err != nil {
			t.Errorf("stopping the control plane: %v", err)
		}
	})
	return e
}

// Stop stops the control plane and removes the temporary folder. It is safe to call more than once.
func (e *Env) Stop() error {
	if e == nil || e.env == nil {
		return nil
	}
	err := e.env.Stop()
	e.env = nil
	if rmErr := os.RemoveAll(e.tmpDir); rmErr != nil && err == nil {
		err = rmErr
	}
	if err != nil {
		return fmt.Errorf("stopping the envtest control plane: %w", err)
	}
	return nil
}

// KubectlPath is the kubectl built with the control plane (matching its version).
func (e *Env) KubectlPath() string { return filepath.Join(e.AssetsDir, "kubectl") }

// KubectlError is returned by Kubectl when kubectl fails; its message includes kubectl's stderr.
type KubectlError struct {
	Args   []string
	Stdout string
	Stderr string
	Err    error
}

// Error returns the command, its exit status and stderr.
func (k *KubectlError) Error() string {
	return fmt.Sprintf("kubectl %s: %v: %s", strings.Join(k.Args, " "), k.Err, strings.TrimSpace(k.Stderr))
}

// Unwrap returns the exec error (usually an *exec.ExitError).
func (k *KubectlError) Unwrap() error { return k.Err }

// Kubectl runs the control plane's kubectl against this Env (its own kubeconfig and discovery cache)
// and returns stdout. On failure the error is a *KubectlError carrying stderr.
func (e *Env) Kubectl(args ...string) (string, error) {
	return e.KubectlInput("", args...)
}

// KubectlInput is Kubectl with stdin (for "-f -").
func (e *Env) KubectlInput(stdin string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), DefaultKubectlTimeout)
	defer cancel()
	return e.KubectlContext(ctx, stdin, args...)
}

// KubectlContext is KubectlInput with a caller's context.
func (e *Env) KubectlContext(ctx context.Context, stdin string, args ...string) (string, error) {
	full := append([]string{"--kubeconfig", e.KubeconfigPath, "--cache-dir", e.cacheDir}, args...)
	cmd := exec.CommandContext(ctx, e.KubectlPath(), full...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+e.KubeconfigPath)
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), &KubectlError{Args: args, Stdout: stdout.String(), Stderr: stderr.String(), Err: err}
	}
	return stdout.String(), nil
}

// CreateNamespace creates a namespace named generateName + a random suffix, with the given labels, and
// returns its name. envtest runs no namespace controller, so namespaces are never really deleted:
// give each test its own.
func (e *Env) CreateNamespace(ctx context.Context, generateName string, labels map[string]string) (string, error) {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: generateName, Labels: labels}}
	if err := e.Client.Create(ctx, ns); err != nil {
		return "", fmt.Errorf("creating a namespace %s*: %w", generateName, err)
	}
	return ns.Name, nil
}

// AssetsDir returns the folder named by KUBEBUILDER_ASSETS after checking that it holds
// kube-apiserver, etcd and kubectl, or an error telling how to build them.
func AssetsDir() (string, error) {
	dir := os.Getenv(AssetsEnv)
	if dir == "" {
		msg := AssetsEnv + " is not set: tests need the kube-apiserver, etcd and kubectl built for this project. " +
			"Run `make envtest-assets` (it prints the folder) and `export " + AssetsEnv + "=$(bash hack/envtest-assets.sh)`, " +
			"or run the tests with `make test`"
		if found := builtAssets(); found != "" {
			msg += "; a complete build exists: export " + AssetsEnv + "=" + found
		}
		return "", errors.New(msg)
	}
	for _, bin := range []string{"kube-apiserver", "etcd", "kubectl"} {
		if st, err := os.Stat(filepath.Join(dir, bin)); err != nil || st.IsDir() || st.Mode()&0o111 == 0 {
			return "", fmt.Errorf("%s=%s has no executable %s: run `make envtest-assets` and point %s at the folder it prints",
				AssetsEnv, dir, bin, AssetsEnv)
		}
	}
	return dir, nil
}

// builtAssets returns a complete assets folder under <repo>/bin/k8s, or "".
func builtAssets() string {
	root, err := RepoRoot()
	if err != nil {
		return ""
	}
	dirs, _ := filepath.Glob(filepath.Join(root, "bin", "k8s", "v*"))
	for _, d := range dirs {
		complete := true
		for _, bin := range []string{"kube-apiserver", "etcd", "kubectl"} {
			if _, err := os.Stat(filepath.Join(d, bin)); err != nil {
				complete = false
			}
		}
		if complete {
			return d
		}
	}
	return ""
}

// RepoRoot returns the repository root: the nearest parent of the working directory whose go.mod
// declares the operator's module (go test runs in the package's folder).
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("finding the repository root: %w", err)
	}
	for {
		if data, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil &&
			bytes.Contains(data, []byte("module "+modulePath+"\n")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("finding the repository root: no go.mod of %s above the working directory", modulePath)
		}
		dir = parent
	}
}
