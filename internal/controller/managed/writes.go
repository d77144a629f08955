package managed

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"

	jsonpatch "github.com/evanphx/json-patch/v5"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"github.com/cloudip/stripe-operator/api/v1alpha1"
)

// patchMetadata applies mutate to obj and writes the metadata change at once, with optimistic locking:
// finalizers are a list, and a merge patch replaces lists whole, so a concurrent writer must make us
// re-read rather than be overwritten. The in-memory object keeps the server's answer (resourceVersion).
func (r *Reconciler) patchMetadata(ctx context.Context, obj Object, mutate func()) error {
	before, ok := obj.DeepCopyObject().(Object)
	if !ok {
		return fmt.Errorf("deep copy of %T is not a managed object", obj)
	}
	mutate()
	if reflect.DeepEqual(before.GetAnnotations(), obj.GetAnnotations()) && reflect.DeepEqual(before.GetFinalizers(), obj.GetFinalizers()) {
		return nil
	}
	// Patch a copy: the server's answer would reset the in-memory status (which the pass is still
	// filling) to the stored one. Take back only what the write changed.
	written, ok := obj.DeepCopyObject().(Object)
	if !ok {
		return fmt.Errorf("deep copy of %T is not a managed object", obj)
	}
	if err := r.kube.Patch(ctx, written, client.MergeFromWithOptions(before, client.MergeFromWithOptimisticLock{})); err != nil {
		return fmt.Errorf("write metadata of %s/%s: %w", obj.GetNamespace(), obj.GetName(), err)
	}
	obj.SetResourceVersion(written.GetResourceVersion())
	obj.SetAnnotations(written.GetAnnotations())
	obj.SetFinalizers(written.GetFinalizers())
	return nil
}

func (r *Reconciler) removeFinalizer(ctx context.Context, obj Object) error {
	return r.patchMetadata(ctx, obj, func() { controllerutil.RemoveFinalizer(obj, v1alpha1.Finalizer) })
}

// writeStatusIfChanged writes the status subresource once per pass, only when the pass changed it, as a
// merge patch of the status alone, so no other field (and no other writer's metadata) is touched.
// Unchanged status means no write, and so no watch event and no requeue storm.
func (r *Reconciler) writeStatusIfChanged(ctx context.Context, obj Object, before map[string]any) error {
	after, err := statusOf(obj)
	if err != nil {
		return err
	}
	if equality.Semantic.DeepEqual(before, after) {
		return nil
	}
	beforeJSON, err := json.Marshal(map[string]any{"status": before})
	if err != nil {
		return fmt.Errorf("encode status: %w", err)
	}
	afterJSON, err := json.Marshal(map[string]any{"status": after})
	if err != nil {
		return fmt.Errorf("encode status: %w", err)
	}
	patch, err := jsonpatch.CreateMergePatch(beforeJSON, afterJSON)
	if err != nil {
		return fmt.Errorf("diff status: %w", err)
	}
	if err := r.kube.Status().Patch(ctx, obj, client.RawPatch(types.MergePatchType, patch)); err != nil {
		if apierrors.IsNotFound(err) {
			return nil // the finalizer was just removed and the object is gone: nothing to report on
		}
		return fmt.Errorf("write status of %s/%s: %w", obj.GetNamespace(), obj.GetName(), err)
	}
	return nil
}

// statusOf returns the object's status as plain JSON values: a generic way to compare and diff the
// status of any kind without knowing its Go type.
func statusOf(obj runtime.Object) (map[string]any, error) {
	content, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		return nil, fmt.Errorf("convert %T: %w", obj, err)
	}
	status, _ := content["status"].(map[string]any)
	return status, nil
}
