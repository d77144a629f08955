package kube

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"
	_ "github.com/jackc/pgx/v5/stdlib" // registers "pgx"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cloudip/stripe-operator/api/v1alpha1"
	"github.com/cloudip/stripe-operator/internal/stripeapi"
	"github.com/cloudip/stripe-operator/internal/stripeconn"
	"github.com/cloudip/stripe-operator/webhookrelay/mirror"
	"github.com/cloudip/stripe-operator/webhookrelay/store"
)

// mirrorsEvery is how often the relay looks at the StripeMirrors (started, changed, deleted) and
// writes their status.
const mirrorsEvery = 5 * time.Second

// Mirrors is a Runnable that keeps one mirror.Mirror running per StripeMirror: started when the
// mirror appears, restarted when its spec or its database URL changes, stopped when it is deleted;
// and it writes their status. Run it on the leader only: a mirror's writes are safe from two replicas
// (the cursor row is locked, writes are ordered by Stripe time), but would be made twice.
type Mirrors struct {
	// Kube is the relay's cache (mirrors, tenants, connections) and writes the status.
	Kube client.Client
	// API reads the database URL Secrets from the API server (they are not in the cache).
	API     client.Reader
	Router  *Router
	Stripe  stripeconn.ClientSource
	Events  store.Store
	Metrics *mirror.Metrics
	Log     logr.Logger

	mu      sync.Mutex
	running map[types.UID]*runningMirror
}

// runningMirror is one StripeMirror being kept.
type runningMirror struct {
	// name is the StripeMirror's namespace/name (its metrics' label).
	name string
	// version is the spec's generation and the URL's digest it was started with.
	version    string
	generation int64
	// urlReadAt is when the URL's Secret was last read.
	urlReadAt time.Time
	mirror    *mirror.Mirror
	db        *sql.DB
	// openErr says why it could not start (a Secret missing); mirror is nil then.
	openErr string
	cancel  context.CancelFunc
	done    chan struct{}
}

// NeedLeaderElection implements manager.LeaderElectionRunnable.
func (s *Mirrors) NeedLeaderElection() bool { return true }

// Wake tells every running mirror that events were stored.
func (s *Mirrors) Wake() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range s.running {
		if r.mirror != nil {
			r.mirror.Wake()
		}
	}
}

// Start keeps the mirrors until ctx ends, then stops them.
func (s *Mirrors) Start(ctx context.Context) error {
	s.mu.Lock()
	s.running = map[types.UID]*runningMirror{}
	s.mu.Unlock()
	defer s.stopAll()
	for {
		if err := s.once(ctx); err != nil && ctx.Err() == nil {
			s.Log.Error(err, "keep mirrors")
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(mirrorsEvery):
		}
	}
}

func (s *Mirrors) once(ctx context.Context) error {
	var list v1alpha1.StripeMirrorList
	if err := s.Kube.List(ctx, &list); err != nil {
		return fmt.Errorf("list StripeMirrors: %w", err)
	}
	seen := map[types.UID]bool{}
	var errs []error
	for i := range list.Items {
		m := &list.Items[i]
		seen[m.UID] = true
		r := s.ensure(ctx, m)
		if err := s.writeStatus(ctx, m, r); err != nil {
			errs = append(errs, err)
		}
	}
	s.mu.Lock()
	var gone []*runningMirror
	for uid, r := range s.running {
		if !seen[uid] {
			gone = append(gone, r)
			delete(s.running, uid)
		}
	}
	s.mu.Unlock()
	for _, r := range gone {
		s.stop(r)
		s.Metrics.Forget(r.name)
		s.Log.Info("mirror stopped: its StripeMirror is gone (the schema is left as it is)", "mirror", r.name)
	}
	return errors.Join(errs...)
}

// ensure starts m, or restarts it when its spec or database URL changed. The URL's Secret (a
// person's, not in the cache) is read from the API server at most every sinkSecretTTL, as the
// sinks' are.
func (s *Mirrors) ensure(ctx context.Context, m *v1alpha1.StripeMirror) *runningMirror {
	s.mu.Lock()
	current := s.running[m.UID]
	s.mu.Unlock()
	if current != nil && current.generation == m.Generation && time.Since(current.urlReadAt) < sinkSecretTTL {
		return current
	}
	url, urlErr := s.databaseURL(ctx, m)
	digest := sha256.Sum256([]byte(url))
	version := fmt.Sprintf("%d/%s", m.Generation, hex.EncodeToString(digest[:8]))
	if current != nil && current.version == version {
		current.urlReadAt = time.Now()
		return current
	}
	if current != nil {
		s.stop(current)
	}
	r := &runningMirror{name: m.Namespace + "/" + m.Name, version: version, generation: m.Generation, urlReadAt: time.Now(),
		done: make(chan struct{})}
	if urlErr != nil {
		r.openErr = urlErr.Error()
		close(r.done)
	} else if err := s.start(ctx, m, url, r); err != nil {
		r.openErr = err.Error()
		close(r.done)
	}
	s.mu.Lock()
	s.running[m.UID] = r
	s.mu.Unlock()
	return r
}

func (s *Mirrors) start(ctx context.Context, m *v1alpha1.StripeMirror, url string, r *runningMirror) error {
	key := m.Namespace + "/" + m.Name
	db, err := sql.Open("pgx", url)
	if err != nil {
		return fmt.Errorf("database URL of %s: %w", key, err)
	}
	db.SetMaxOpenConns(8)
	db.SetMaxIdleConns(8)
	interval, sample := m.Spec.RevalidationOrDefaults()
	kept, err := mirror.New(mirror.Config{Name: key, DB: db, Schema: m.Spec.Database.Schema, Connection: m.Spec.ConnectionRef.Name,
		Region: string(m.Spec.Region), Types: m.Spec.ObjectTypesOrAll(), Events: s.Events,
		Sources:         &mirrorSources{kube: s.Kube, router: s.Router, stripe: s.Stripe, connection: m.Spec.ConnectionRef.Name, region: string(m.Spec.Region)},
		RevalidateEvery: interval, SampleSize: int(sample), Metrics: s.Metrics, Log: s.Log.WithValues("mirror", key)})
	if err != nil {
		_ = db.Close()
		return err
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	r.mirror, r.db, r.cancel = kept, db, cancel
	go func() {
		defer close(r.done)
		if err := kept.Run(runCtx); err != nil {
			s.Log.Error(err, "mirror stopped", "mirror", key)
		}
	}()
	s.Log.Info("mirror started", "mirror", key, "schema", m.Spec.Database.Schema, "region", m.Spec.Region)
	return nil
}

func (s *Mirrors) stop(r *runningMirror) {
	if r.cancel != nil {
		r.cancel()
	}
	<-r.done
	if r.db != nil {
		_ = r.db.Close()
	}
}

func (s *Mirrors) stopAll() {
	s.mu.Lock()
	all := s.running
	s.running = nil
	s.mu.Unlock()
	for _, r := range all {
		s.stop(r)
	}
}

// databaseURL reads spec.database.urlSecretRef.
func (s *Mirrors) databaseURL(ctx context.Context, m *v1alpha1.StripeMirror) (string, error) {
	ref := m.Spec.Database.URLSecretRef
	var secret corev1.Secret
	name := types.NamespacedName{Namespace: m.Namespace, Name: ref.Name}
	if err := s.API.Get(ctx, name, &secret); err != nil {
		return "", fmt.Errorf("read Secret %s: %w", name, err)
	}
	url := strings.TrimSpace(string(secret.Data[ref.Key]))
	if url == "" {
		return "", fmt.Errorf("secret %s has no key %q", name, ref.Key)
	}
	return url, nil
}

// mirrorSources is a mirror's view of the cluster: its accounts, whose an event is, and Stripe.
type mirrorSources struct {
	kube       client.Reader
	router     *Router
	stripe     stripeconn.ClientSource
	connection string
	region     string

	// The connection's client, kept for sinkSecretTTL: the relay's resolver reads the API key's
	// Secret from the API server, and a mirror makes a read per refetched row.
	mu       sync.Mutex
	client   *stripeapi.Client
	clientAt time.Time
}

// Accounts implements mirror.Sources: the platform's account when the connection is of the mirror's
// region, and the connected accounts of the connection's tenants whose dataResidency is.
func (m *mirrorSources) Accounts(ctx context.Context) ([]mirror.Account, error) {
	var conn v1alpha1.StripeConnection
	if err := m.kube.Get(ctx, types.NamespacedName{Name: m.connection}, &conn); err != nil {
		return nil, fmt.Errorf("connection %s: %w", m.connection, err)
	}
	var out []mirror.Account
	if string(conn.Spec.Region) == m.region && conn.Status.AccountID != "" {
		out = append(out, mirror.Account{ID: conn.Status.AccountID, Platform: true})
	}
	var tenants v1alpha1.StripeTenantList
	if err := m.kube.List(ctx, &tenants); err != nil {
		return nil, fmt.Errorf("list StripeTenants: %w", err)
	}
	for _, t := range tenants.Items {
		if t.Spec.ConnectionRef != nil && t.Spec.ConnectionRef.Name == m.connection &&
			string(t.Spec.DataResidency) == m.region && t.Status.AccountID != "" {
			out = append(out, mirror.Account{ID: t.Status.AccountID, Tenant: t.Namespace + "/" + t.Name})
		}
	}
	return out, nil
}

// OwnerOf implements mirror.Sources with the relay's routing of events to sinks.
func (m *mirrorSources) OwnerOf(ctx context.Context, endpoint, account string) (mirror.EventOwner, error) {
	return m.router.OwnerOf(ctx, endpoint, account)
}

// Stripe implements mirror.Sources: the connection's client (its budget), for one account.
func (m *mirrorSources) Stripe(ctx context.Context, a mirror.Account) (stripeapi.RawReader, error) {
	c, err := m.connectionClient(ctx)
	if err != nil {
		return nil, err
	}
	if a.Platform {
		return c.RawForAccount(""), nil
	}
	return c.RawForAccount(a.ID), nil
}

// connectionClient returns the connection's client, resolved again (its key read) at most every
// sinkSecretTTL: a rotated key is used within that time.
func (m *mirrorSources) connectionClient(ctx context.Context) (*stripeapi.Client, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.client != nil && time.Since(m.clientAt) < sinkSecretTTL {
		return m.client, nil
	}
	var conn v1alpha1.StripeConnection
	if err := m.kube.Get(ctx, types.NamespacedName{Name: m.connection}, &conn); err != nil {
		return nil, fmt.Errorf("connection %s: %w", m.connection, err)
	}
	c, err := m.stripe.Client(ctx, &conn)
	if err != nil {
		return nil, fmt.Errorf("Stripe client of connection %s: %w", m.connection, err)
	}
	m.client, m.clientAt = c, time.Now()
	return c, nil
}
