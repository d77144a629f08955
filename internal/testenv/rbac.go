package testenv

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// The install's identities, as config/default names them: the tests run the manager and the relay as
// these ServiceAccounts, with exactly the RBAC the install applies, so that a rule missing from the
// generated roles fails a test with Forbidden instead of failing on a real cluster.
const (
	InstallNamespace      = "stripe-operator-system"
	ManagerServiceAccount = "stripe-operator-controller-manager"
	RelayServiceAccount   = "stripe-operator-relay"
)

// rbacKinds are the kinds of the install's manifests that InstallRBAC applies.
var rbacKinds = map[string]bool{
	"Namespace": true, "ServiceAccount": true,
	"ClusterRole": true, "ClusterRoleBinding": true, "Role": true, "RoleBinding": true,
}

// InstallRBAC applies the install's namespace, ServiceAccounts, roles and bindings exactly as
// `kubectl kustomize config/default` renders them (server-side apply: idempotent).
func (e *Env) InstallRBAC(ctx context.Context) error {
	rendered, err := e.Kubectl("kustomize", filepath.Join(e.RepoRoot, "config", "default"))
	if err != nil {
		return fmt.Errorf("render config/default: %w", err)
	}
	decoder := utilyaml.NewYAMLOrJSONDecoder(strings.NewReader(rendered), 4096)
	for {
		var obj unstructured.Unstructured
		if err := decoder.Decode(&obj.Object); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("decode config/default: %w", err)
		}
		if !rbacKinds[obj.GetKind()] {
			continue
		}
		//nolint:staticcheck // client.Apply with unstructured objects is the documented way here
		if err := e.Client.Patch(ctx, &obj, client.Apply, client.FieldOwner("testenv"), client.ForceOwnership); err != nil {
			return fmt.Errorf("apply %s %s: %w", obj.GetKind(), obj.GetName(), err)
		}
	}
}

// As returns a copy of Config that acts as the ServiceAccount namespace/name: the API server
// authorizes every request as that account, with its groups (impersonation by the test's admin).
func (e *Env) As(namespace, name string) *rest.Config {
	cfg := rest.CopyConfig(e.Config)
	cfg.Impersonate = rest.ImpersonationConfig{
		UserName: "system:serviceaccount:" + namespace + ":" + name,
		Groups:   []string{"system:serviceaccounts", "system:serviceaccounts:" + namespace, "system:authenticated"},
	}
	return cfg
}

// KubeconfigAs writes a kubeconfig acting as the ServiceAccount (for a binary under test) and returns
// its path, in the Env's temporary folder.
func (e *Env) KubeconfigAs(namespace, name string) (string, error) {
	cfg, err := clientcmd.Load(e.env.KubeConfig)
	if err != nil {
		return "", fmt.Errorf("kubeconfig: %w", err)
	}
	impersonated := e.As(namespace, name).Impersonate
	for _, auth := range cfg.AuthInfos {
		auth.Impersonate = impersonated.UserName
		auth.ImpersonateGroups = impersonated.Groups
	}
	out, err := clientcmd.Write(*cfg)
	if err != nil {
		return "", fmt.Errorf("kubeconfig: %w", err)
	}
	path := filepath.Join(e.tmpDir, "kubeconfig-"+namespace+"-"+name)
	if err := os.WriteFile(path, out, 0o600); err != nil {
		return "", fmt.Errorf("kubeconfig: %w", err)
	}
	return path, nil
}

// GrantRoleIn copies the install's Role role (in InstallNamespace) into namespace and binds it to the
// ServiceAccount there: the same rules, for a test whose leader election runs in a namespace of its
// own (so that one test's Lease never waits for another's to expire).
func (e *Env) GrantRoleIn(ctx context.Context, role, namespace, serviceAccount string) error {
	var src rbacv1.Role
	if err := e.Client.Get(ctx, client.ObjectKey{Namespace: InstallNamespace, Name: role}, &src); err != nil {
		return fmt.Errorf("read role %s: %w", role, err)
	}
	copied := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: role}, Rules: src.Rules}
	binding := &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: role},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: role},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: serviceAccount, Namespace: InstallNamespace}},
	}
	for _, obj := range []client.Object{copied, binding} {
		if err := e.Client.Create(ctx, obj); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("create %T %s/%s: %w", obj, namespace, role, err)
		}
	}
	return nil
}
