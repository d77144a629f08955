package managed

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"sort"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/cloudip/stripe-operator/api/v1alpha1"
)

// Kind declares one kind of the group once: its name, how to make it, and what it references. Every
// rule about references (field indexes, the watches that wake referrers, the connection a kind
// inherits, in-use protection) is derived from these declarations by a Registry, so no kind is
// registered by hand in several places.
type Kind struct {
	// Name is the kind ("BillingPlan"), as in tags, events and messages.
	Name string
	// New returns an empty object of the kind.
	New func() Object
	// NewList returns an empty list of the kind.
	NewList func() client.ObjectList
	// References are the objects an object of this kind may name.
	References []Reference
}

// Reference is one field by which an object names another.
type Reference struct {
	// Index is the name of the field index over this reference ("spec.tenantRef.name").
	Index string
	// To is an empty object of the referenced kind; ToKind its name.
	To     client.Object
	ToKind string
	// Name returns the referenced object's name, "" when this object names none. A namespaced referent
	// is in the referrer's namespace (references never cross namespaces); a cluster-scoped one has none.
	Name func(from client.Object) string
	// ClusterScoped says the referent has no namespace (a StripeConnection).
	ClusterScoped bool
	// InheritsConnection: a referrer that names no StripeConnection itself uses its referent's (a
	// plan on a tenant's account uses the tenant's connection).
	InheritsConnection bool
	// Protects keeps the referent from being deleted while a referrer exists: the referrer's own
	// clean-up in Stripe needs it (a tenant's account id, a connection's key).
	Protects bool
	// Wakes passes the referent's changes that concern referrers (nil: all of them).
	Wakes predicate.Predicate
}

// ConnectionRefIndex is the field index, on every managed kind, of the StripeConnection it names.
const ConnectionRefIndex = "spec.connectionRef.name"

// ConnectionReference is the reference of spec.connectionRef, which every managed kind declares.
func ConnectionReference() Reference {
	return Reference{
		Index: ConnectionRefIndex, To: &v1alpha1.StripeConnection{}, ToKind: "StripeConnection",
		Name: ConnectionRefName, ClusterScoped: true, Protects: true,
	}
}

// ConnectionRefName returns the StripeConnection an object names in spec.connectionRef, or "".
func ConnectionRefName(o client.Object) string {
	managed, ok := o.(Object)
	if !ok || managed.GetManagedSpec() == nil || managed.GetManagedSpec().ConnectionRef == nil {
		return ""
	}
	return managed.GetManagedSpec().ConnectionRef.Name
}

// Registry holds every kind's declaration.
type Registry struct {
	kinds []Kind
}

// NewRegistry returns a registry of the given kinds.
func NewRegistry(kinds ...Kind) *Registry { return &Registry{kinds: kinds} }

// Kinds returns every declaration (a copy).
func (g *Registry) Kinds() []Kind { return slices.Clone(g.kinds) }

// Kind returns the declaration of the named kind.
func (g *Registry) Kind(name string) (Kind, error) {
	for _, k := range g.kinds {
		if k.Name == name {
			return k, nil
		}
	}
	return Kind{}, fmt.Errorf("kind %q is not registered", name)
}

// Index registers the field index of every declared reference with the manager. Call it once, before
// the manager starts.
func (g *Registry) Index(mgr ctrl.Manager) error {
	return g.EachIndex(func(obj client.Object, field string, extract client.IndexerFunc) error {
		return mgr.GetFieldIndexer().IndexField(context.Background(), obj, field, extract)
	})
}

// EachIndex calls add with every declared reference's field index: the kind it indexes, the index's
// name, and the function that extracts the referent's name (also what a test's fake client registers).
func (g *Registry) EachIndex(add func(obj client.Object, field string, extract client.IndexerFunc) error) error {
	for _, k := range g.kinds {
		for _, ref := range k.References {
			name := ref.Name
			if err := add(k.New(), ref.Index, func(o client.Object) []string {
				if n := name(o); n != "" {
					return []string{n}
				}
				return nil
			}); err != nil {
				return fmt.Errorf("index %s by %s: %w", k.Name, ref.Index, err)
			}
		}
	}
	return nil
}

// Referrer is one kind that can name objects of another through one reference.
type Referrer struct {
	Kind      Kind
	Reference Reference
}

// ReferrersOf lists the declared references to the kind of referent, by referring kind.
func (g *Registry) ReferrersOf(referent client.Object, protectingOnly bool) []Referrer {
	var out []Referrer
	for _, k := range g.kinds {
		for _, ref := range k.References {
			if reflect.TypeOf(ref.To) == reflect.TypeOf(referent) && (ref.Protects || !protectingOnly) {
				out = append(out, Referrer{Kind: k, Reference: ref})
			}
		}
	}
	return out
}

// Users lists, sorted, as "Kind namespace/name", the objects whose protecting references name the
// referent: while there are any, the referent is not deleted.
func (g *Registry) Users(ctx context.Context, kube client.Reader, referent client.Object) ([]string, error) {
	var users []string
	for _, r := range g.ReferrersOf(referent, true) {
		list := r.Kind.NewList()
		if err := kube.List(ctx, list, client.InNamespace(referent.GetNamespace()), client.MatchingFields{r.Reference.Index: referent.GetName()}); err != nil {
			return nil, fmt.Errorf("list %s objects that use %s %q: %w", r.Kind.Name, r.Reference.ToKind, referent.GetName(), err)
		}
		if err := forEachItem(list, func(o client.Object) {
			users = append(users, r.Kind.Name+" "+types.NamespacedName{Namespace: o.GetNamespace(), Name: o.GetName()}.String())
		}); err != nil {
			return nil, err
		}
	}
	sort.Strings(users) // the message must read the same every pass, or it rewrites the status
	return users, nil
}

// referent fetches the object a reference names, or reports it missing.
func referent(ctx context.Context, kube client.Reader, ref Reference, from client.Object) (client.Object, error) {
	name := ref.Name(from)
	obj, ok := ref.To.DeepCopyObject().(client.Object)
	if !ok {
		return nil, fmt.Errorf("%T is not a client.Object", ref.To)
	}
	key := types.NamespacedName{Namespace: from.GetNamespace(), Name: name}
	if ref.ClusterScoped {
		key.Namespace = ""
	}
	if err := kube.Get(ctx, key, obj); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, ReferentMissing("%s %q does not exist (%s)", ref.ToKind, name, ref.Index)
		}
		return nil, fmt.Errorf("get %s %q: %w", ref.ToKind, name, err)
	}
	return obj, nil
}

// connectionOf returns the StripeConnection an object uses: its own spec.connectionRef, or the one of
// the referent it inherits it from.
func (r *Reconciler) connectionOf(ctx context.Context, obj Object) (string, error) {
	if name := ConnectionRefName(obj); name != "" {
		return name, nil
	}
	for _, ref := range r.kind.References {
		if !ref.InheritsConnection || ref.Name(obj) == "" {
			continue
		}
		from, err := referent(ctx, r.kube, ref, obj)
		if err != nil {
			return "", err
		}
		if name := ConnectionRefName(from); name != "" {
			return name, nil
		}
		return "", WaitingFor("%s %q names no connection", ref.ToKind, from.GetName())
	}
	return "", Terminal("spec.connectionRef is required")
}

// watchReferences adds, for every reference the kind declares, a watch that wakes the referrers when
// their referent changes, and for every protecting reference to this kind, a watch that wakes a
// referent being deleted when one of its users goes.
func (r *Reconciler) watchReferences(b *builder.Builder) *builder.Builder {
	for _, ref := range r.kind.References {
		var opts []builder.WatchesOption
		if ref.Wakes != nil {
			opts = append(opts, builder.WithPredicates(ref.Wakes))
		}
		b = b.Watches(ref.To, handler.EnqueueRequestsFromMapFunc(r.referrersOf(ref)), opts...)
	}
	if r.registry == nil {
		return b
	}
	for _, user := range r.registry.ReferrersOf(r.kind.New(), true) {
		b = b.Watches(user.Kind.New(), handler.EnqueueRequestsFromMapFunc(r.deletedReferentOf(user.Reference)))
	}
	return b
}

// referrersOf maps a referent to the objects of this kind that name it, and, for a connection, also to
// those that inherit it through a referent of theirs (a plan through its tenant).
func (r *Reconciler) referrersOf(ref Reference) handler.MapFunc {
	return func(ctx context.Context, referent client.Object) []reconcile.Request {
		requests := r.listReferrers(ctx, ref.Index, referent)
		if ref.Index != ConnectionRefIndex {
			return requests
		}
		for _, via := range r.kind.References {
			if !via.InheritsConnection {
				continue
			}
			intermediates := via.To.DeepCopyObject().(client.Object)
			list, err := listOfKind(r.kube, intermediates)
			if err != nil {
				continue
			}
			if err := r.kube.List(ctx, list, client.MatchingFields{ConnectionRefIndex: referent.GetName()}); err != nil {
				continue
			}
			_ = forEachItem(list, func(o client.Object) { requests = append(requests, r.listReferrers(ctx, via.Index, o)...) })
		}
		return requests
	}
}

func (r *Reconciler) listReferrers(ctx context.Context, index string, referent client.Object) []reconcile.Request {
	list := r.kind.NewList()
	if err := r.kube.List(ctx, list, client.InNamespace(referent.GetNamespace()), client.MatchingFields{index: referent.GetName()}); err != nil {
		return nil
	}
	return requestsFor(list)
}

// deletedReferentOf maps a user to the object of this kind it names, only while that object is being
// deleted: a live referent need not hear of every change of its users.
func (r *Reconciler) deletedReferentOf(ref Reference) handler.MapFunc {
	return func(ctx context.Context, user client.Object) []reconcile.Request {
		name := ref.Name(user)
		if name == "" {
			return nil
		}
		key := types.NamespacedName{Namespace: user.GetNamespace(), Name: name}
		obj := r.kind.New()
		if err := r.kube.Get(ctx, key, obj); err != nil || obj.GetDeletionTimestamp().IsZero() {
			return nil
		}
		return []reconcile.Request{{NamespacedName: key}}
	}
}
