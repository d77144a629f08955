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

package smoke

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/cloudip/stripe-operator/internal/testenv"
)

// invalidCase is one manifest the API server must refuse (or, with want "", accept: a guard against
// rules that refuse too much). spec is the object's spec in YAML (flow style keeps rows short).
// With before set, before is applied first (it must be accepted) and spec is then applied as an
// update of the same object: that is how the immutability (transition) rules are pinned.
type invalidCase struct {
	name   string // the row's name, also the subtest's
	rule   string // the rule it pins, as written in the API types
	kind   string
	before string
	spec   string
	want   string // a substring of the API server's refusal; it names the field
}

// manifest renders an object of kind with the given name and spec.
func manifest(kind, name, spec string) string {
	return fmt.Sprintf("apiVersion: payments.cloudip.io/v1alpha1\nkind: %s\nmetadata:\n  name: %s\nspec: %s\n", kind, name, spec)
}

// TestInvalidManifestsRefused applies every row with kubectl apply --server-side, as a user would, and
// checks that the API server refuses it with a message naming the field.
func TestInvalidManifestsRefused(t *testing.T) {
	ns, err := env.CreateNamespace(context.Background(), "smoke-validation-", nil)
	if err != nil {
		t.Fatal(err)
	}
	cases := validationCases()
	if n := countRefusals(cases); n < 20 {
		t.Fatalf("the table must hold at least 20 refusals, has %d", n)
	}
	seen := map[string]bool{}
	for i, tc := range cases {
		if seen[tc.name] {
			t.Fatalf("duplicate row name %q", tc.name)
		}
		seen[tc.name] = true
		t.Run(tc.name, func(t *testing.T) {
			t.Logf("rule: %s", tc.rule)
			// Cluster-scoped StripeConnections share one name space: give every row its own name.
			name := fmt.Sprintf("v%02d", i)
			if tc.before != "" {
				if out, err := env.KubectlInput(manifest(tc.kind, name, tc.before), "apply", "--server-side", "-n", ns, "-f", "-"); err != nil {
					t.Fatalf("the valid object before the update was refused: %v\n%s", err, out)
				}
			}
			out, err := env.KubectlInput(manifest(tc.kind, name, tc.spec), "apply", "--server-side", "-n", ns, "-f", "-")
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("want accepted, got refused: %v", err)
			case tc.want == "":
				return
			case err == nil:
				t.Fatalf("want refused with %q, got accepted: %s", tc.want, out)
			case !strings.Contains(err.Error(), tc.want):
				t.Fatalf("refused, but the message lacks %q:\n%v", tc.want, err)
			default:
				t.Logf("refused: %s", refusal(err))
			}
		})
	}
}

// refusal is the API server's message without kubectl's prefix.
func refusal(err error) string {
	var kerr *testenv.KubectlError
	if errors.As(err, &kerr) {
		return strings.TrimSpace(kerr.Stderr)
	}
	return err.Error()
}

func countRefusals(cases []invalidCase) int {
	n := 0
	for _, c := range cases {
		if c.want != "" {
			n++
		}
	}
	return n
}

// metadataWithKeys renders a metadata map with n distinct keys.
func metadataWithKeys(n int) string {
	kv := make([]string, 0, n)
	for i := range n {
		kv = append(kv, fmt.Sprintf("k%02d: v", i))
	}
	return "{" + strings.Join(kv, ", ") + "}"
}
