package managed

import (
	"context"
	"errors"
	"fmt"

	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	metav1ac "k8s.io/client-go/applyconfigurations/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"

	"github.com/cloudip/stripe-operator/api/v1alpha1"
)

// fieldOwner is the operator's name as a server-side-apply field manager.
const fieldOwner = "stripe-operator"

// maxFieldManager is the API server's limit on a field manager's name.
const maxFieldManager = 128

// The operator never reads a Secret (it may only create and patch them), so a Secret it writes is
// only ever changed by server-side applies, and what each apply leaves in place follows from which
// field manager made it: an apply sets what it names and removes what the same manager set before
// and no longer names, never what another manager owns. That is how one Secret holds secrets of
// different lifetimes without being read: each is owned by its own manager, and removing one is an
// apply of that manager naming nothing.
//
//   - publishSecret, manager "stripe-operator": the keys a create returned (Created.Secret), with
//     the Secret's labels, type and owner reference;
//   - publishSecretKey, manager "stripe-operator/<holder>": one key, with the same labels, type and
//     owner reference (so that it alone can also create the Secret, owned by the object);
//   - removeSecretKey: the holder's manager applies nothing, which removes its key; holder ""
//     removes the create's keys, the main manager keeping the labels, type and owner reference.

// secretApply is the Secret as the operator declares it, without data: in the object's namespace,
// labelled, owned by the object (so it goes when the object goes).
func (r *Reconciler) secretApply(owner Object, name string) (*corev1ac.SecretApplyConfiguration, error) {
	gvk, err := apiutil.GVKForObject(owner, r.kube.Scheme())
	if err != nil {
		return nil, fmt.Errorf("kind of %T: %w", owner, err)
	}
	return corev1ac.Secret(name, owner.GetNamespace()).
		WithLabels(map[string]string{"app.kubernetes.io/managed-by": fieldOwner, v1alpha1.LabelSecretOf: gvk.Kind}).
		WithOwnerReferences(metav1ac.OwnerReference().
			WithAPIVersion(gvk.GroupVersion().String()).WithKind(gvk.Kind).
			WithName(owner.GetName()).WithUID(owner.GetUID()).WithController(true)).
		WithType("Opaque"), nil
}

// publishSecret writes data into the named Secret in the object's namespace, owned by the object (so
// it goes when the object goes). It is a server-side apply: the operator needs only create and patch
// on Secrets, never to read or list them, and a person's labels or annotations on the Secret survive.
func (r *Reconciler) publishSecret(ctx context.Context, owner Object, name string, data map[string][]byte) error {
	secret, err := r.secretApply(owner, name)
	if err != nil {
		return err
	}
	return r.applySecret(ctx, owner, secret.WithData(data), fieldOwner)
}

// publishSecretKey writes one key of the named Secret as the field manager of holder (an id: the
// Stripe object the key's secret belongs to), so that the key stays until removeSecretKey removes it,
// whatever other keys are written or removed meanwhile.
func (r *Reconciler) publishSecretKey(ctx context.Context, owner Object, name, holder, key string, value []byte) error {
	manager, err := holderManager(holder)
	if err != nil {
		return err
	}
	secret, err := r.secretApply(owner, name)
	if err != nil {
		return err
	}
	return r.applySecret(ctx, owner, secret.WithData(map[string][]byte{key: value}), manager)
}

// removeSecretKey removes the key publishSecretKey wrote for holder; holder "" removes the keys
// publishSecret wrote (Created.Secret), and keeps the Secret's labels and owner reference. Removing
// what is already gone is a no-op, so it may be repeated after a crash.
func (r *Reconciler) removeSecretKey(ctx context.Context, owner Object, name, holder string) error {
	if holder == "" {
		secret, err := r.secretApply(owner, name)
		if err != nil {
			return err
		}
		return r.applySecret(ctx, owner, secret, fieldOwner)
	}
	manager, err := holderManager(holder)
	if err != nil {
		return err
	}
	// Nothing but the name: the manager no longer owns any field, so its key goes (the labels and
	// the owner reference stay, owned by the main manager too).
	return r.applySecret(ctx, owner, corev1ac.Secret(name, owner.GetNamespace()), manager)
}

func (r *Reconciler) applySecret(ctx context.Context, owner Object, secret *corev1ac.SecretApplyConfiguration, manager string) error {
	if err := r.kube.Apply(ctx, secret, client.FieldOwner(manager), client.ForceOwnership); err != nil {
		return fmt.Errorf("write Secret %s/%s as %s: %w", owner.GetNamespace(), *secret.Name, manager, err)
	}
	return nil
}

func holderManager(holder string) (string, error) {
	if holder == "" {
		return "", errors.New("a Secret key published on its own needs a holder (its field manager's name)")
	}
	manager := fieldOwner + "/" + holder
	if len(manager) > maxFieldManager {
		return "", fmt.Errorf("field manager %q is longer than %d characters", manager, maxFieldManager)
	}
	return manager, nil
}
