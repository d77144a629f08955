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

// Package smoke checks the API on a real control plane: the CRDs install, the samples apply, the API
// server refuses invalid objects with messages that name the field, and kubectl explain reads well.
// It needs KUBEBUILDER_ASSETS (make envtest-assets).
package smoke

import (
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/cloudip/stripe-operator/internal/testenv"
)

// env is the control plane shared by every test of the package.
var env *testenv.Env

func TestMain(m *testing.M) {
	start := time.Now()
	var err error
	if env, err = testenv.Start(testenv.Options{}); err != nil {
		fmt.Fprintln(os.Stderr, "smoke:", err)
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "smoke: control plane up, CRDs installed in %s\n", time.Since(start).Round(time.Millisecond))
	code := m.Run()
	if err := env.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, "smoke:", err)
	}
	os.Exit(code)
}
