// Package relayfeed turns the relay's notifications into passes: for each Stripe event about an object
// the operator owns, it finds the owning resource from the event itself — the operator's tags on the
// object (cloudip_kind, cloudip_name, cloudip_uid), else the connected account (a tenant's
// status.accountID), else the customer (a tenant's status.customerID) — and nudges that resource's
// controller. The controller's work queue coalesces a burst for one object into one pass; the pass
// names the events in its Kubernetes event (managed.EventStripeEvent).
package relayfeed

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cloudip/stripe-operator/api/v1alpha1"
	"github.com/cloudip/stripe-operator/internal/controller/managed"
	"github.com/cloudip/stripe-operator/webhookrelay/feed"
)

// Field indexes of StripeTenants by the Stripe ids in their status.
const (
	AccountIDIndex  = "status.accountID"
	CustomerIDIndex = "status.customerID"
)

// tenantKind is the kind events about connected accounts and customers belong to.
const tenantKind = "StripeTenant"

// Mapper finds the owners of notified events and nudges them.
type Mapper struct {
	kube   client.Reader
	nudges *managed.Nudges
	newObj map[string]func() client.Object
}

// NewMapper returns a Mapper over the manager's cache. kinds are the kinds tags may name (the
// reconciled kinds' declarations).
func NewMapper(kube client.Reader, nudges *managed.Nudges, kinds ...managed.Kind) *Mapper {
	m := &Mapper{kube: kube, nudges: nudges, newObj: map[string]func() client.Object{}}
	for _, k := range kinds {
		newObj := k.New
		m.newObj[k.Name] = func() client.Object { return newObj() }
	}
	return m
}

// Setup registers the tenant indexes and the follower of the relay's feed at relayURL with mgr.
func Setup(mgr ctrl.Manager, relayURL string, nudges *managed.Nudges, kinds ...managed.Kind) error {
	indexer := mgr.GetFieldIndexer()
	for field, value := range map[string]func(*v1alpha1.StripeTenant) string{
		AccountIDIndex:  func(t *v1alpha1.StripeTenant) string { return t.Status.AccountID },
		CustomerIDIndex: func(t *v1alpha1.StripeTenant) string { return t.Status.CustomerID },
	} {
		err := indexer.IndexField(context.Background(), &v1alpha1.StripeTenant{}, field, func(o client.Object) []string {
			if v := value(o.(*v1alpha1.StripeTenant)); v != "" {
				return []string{v}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("index StripeTenants by %s: %w", field, err)
		}
	}
	mapper := NewMapper(mgr.GetClient(), nudges, kinds...)
	follower := &feed.Follower{URL: relayURL, Handle: mapper.Handle, Answered: nudges.MarkLive, Log: mgr.GetLogger().WithName("relay-feed")}
	if err := mgr.Add(follower); err != nil {
		return fmt.Errorf("add the relay feed follower: %w", err)
	}
	return nil
}

// Owner is a resource to nudge.
type Owner struct {
	Kind string
	Name types.NamespacedName
}

// Handle nudges the owner of each notification. Events with no owner here (an object of another
// cluster, one since deleted) start nothing.
func (m *Mapper) Handle(ctx context.Context, notifications []feed.Notification) error {
	var errs []error
	for _, n := range notifications {
		owners, err := m.Owners(ctx, n)
		if err != nil {
			errs = append(errs, fmt.Errorf("event %s: %w", n.EventID, err))
			continue
		}
		for _, o := range owners {
			if err := m.nudges.Nudge(o.Kind, o.Name, managed.StripeEventRef{ID: n.EventID, Type: n.EventType}); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// Owners returns the resources an event concerns, sorted.
func (m *Mapper) Owners(ctx context.Context, n feed.Notification) ([]Owner, error) {
	o, tagged, err := m.byTags(ctx, n)
	if err != nil {
		return nil, err
	}
	if tagged {
		return []Owner{o}, nil
	}
	account := n.Account
	if n.ObjectType == "account" {
		account = n.ObjectID
	}
	if account != "" {
		return m.tenants(ctx, AccountIDIndex, account)
	}
	customer := n.Customer
	if n.ObjectType == "customer" {
		customer = n.ObjectID
	}
	if customer != "" {
		return m.tenants(ctx, CustomerIDIndex, customer)
	}
	return nil, nil
}

// byTags reads the owner from the object's tags, and checks that the object named still is the one
// that made it (same UID): a name reused after a deletion is not the owner.
func (m *Mapper) byTags(ctx context.Context, n feed.Notification) (Owner, bool, error) {
	newObj, known := m.newObj[n.OwnerKind]
	if !known || n.OwnerName == "" {
		return Owner{}, false, nil
	}
	name := types.NamespacedName{Name: n.OwnerName}
	if ns, nm, namespaced := strings.Cut(n.OwnerName, "/"); namespaced {
		name = types.NamespacedName{Namespace: ns, Name: nm}
	}
	obj := newObj()
	if err := m.kube.Get(ctx, name, obj); err != nil {
		if apierrors.IsNotFound(err) {
			return Owner{}, false, nil
		}
		return Owner{}, false, fmt.Errorf("get %s %s: %w", n.OwnerKind, name, err)
	}
	if n.OwnerUID != "" && string(obj.GetUID()) != n.OwnerUID {
		return Owner{}, false, nil
	}
	return Owner{Kind: n.OwnerKind, Name: name}, true, nil
}

func (m *Mapper) tenants(ctx context.Context, index, id string) ([]Owner, error) {
	if _, ok := m.newObj[tenantKind]; !ok {
		return nil, nil
	}
	var list v1alpha1.StripeTenantList
	if err := m.kube.List(ctx, &list, client.MatchingFields{index: id}); err != nil {
		return nil, fmt.Errorf("list StripeTenants by %s %s: %w", index, id, err)
	}
	owners := make([]Owner, 0, len(list.Items))
	for _, t := range list.Items {
		owners = append(owners, Owner{Kind: tenantKind, Name: types.NamespacedName{Namespace: t.Namespace, Name: t.Name}})
	}
	slices.SortFunc(owners, func(a, b Owner) int { return strings.Compare(a.Name.String(), b.Name.String()) })
	return owners, nil
}
