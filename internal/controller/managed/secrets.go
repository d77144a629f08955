package managed

import (
	"context"
	"fmt"

	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	metav1ac "k8s.io/client-go/applyconfigurations/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"
)

// fieldOwner is the operator's name as a server-side-apply field manager.
const fieldOwner = "stripe-operator"

// publishSecret writes data into the named Secret in the object's namespace, owned by the object (so
// it goes when the object goes). It is a server-side apply: the operator needs only create and patch
// on Secrets, never to read or list them, and a person's labels or annotations on the Secret survive.
func (r *Reconciler) publishSecret(ctx context.Context, owner Object, name string, data map[string][]byte) error {
	gvk, err := apiutil.GVKForObject(owner, r.kube.Scheme())
	if err != nil {
		return fmt.Errorf("kind of %T: %w", owner, err)
	}
	secret := corev1ac.Secret(name, owner.GetNamespace()).
		WithLabels(map[string]string{"app.kubernetes.io/managed-by": fieldOwner}).
		WithOwnerReferences(metav1ac.OwnerReference().
			WithAPIVersion(gvk.GroupVersion().String()).WithKind(gvk.Kind).
			WithName(owner.GetName()).WithUID(owner.GetUID()).WithController(true)).
		WithType("Opaque").
		WithData(data)
	if err := r.kube.Apply(ctx, secret, client.FieldOwner(fieldOwner), client.ForceOwnership); err != nil {
		return fmt.Errorf("write Secret %s/%s: %w", owner.GetNamespace(), name, err)
	}
	return nil
}
