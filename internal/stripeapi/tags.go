package stripeapi

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Metadata keys of the tags the operator puts on every Stripe object it creates. Stripe allows keys
// of up to 40 characters and values of up to 500; keys starting with MetadataKeyPrefix are reserved
// for these tags and refused in user metadata.
const (
	MetadataKeyPrefix    = "cloudip_"
	MetadataKeyUID       = "cloudip_uid"
	MetadataKeyName      = "cloudip_name"
	MetadataKeyKind      = "cloudip_kind"
	MetadataKeyCluster   = "cloudip_cluster"
	MetadataKeyComponent = "cloudip_component"

	maxMetadataValue = 500
)

// FindClockSkew is how much earlier than FindOptions.CreatedSince a lookup by tags still searches,
// allowing for the clocks of the Kubernetes API server and Stripe to disagree.
const FindClockSkew = time.Hour

// Tags identify the Kubernetes object a Stripe object belongs to.
type Tags struct {
	// UID is the Kubernetes object's metadata.uid. Required.
	UID string
	// NamespacedName is "namespace/name" (or "name" for a cluster-scoped object). Required. It is
	// informational (for people reading the Dashboard) and not matched: the UID is the identity.
	NamespacedName string
	// Kind is the Kubernetes kind, e.g. "BillingPlan". Required.
	Kind string
	// ClusterID tells clusters sharing one Stripe account apart (a cluster restored from a backup
	// keeps the UIDs). Optional; matched when set.
	ClusterID string
	// Component tells apart several Stripe objects of one type owned by the same Kubernetes object,
	// e.g. the price key inside a BillingPlan. Optional; matched exactly (empty matches empty).
	Component string
}

// Validate reports what is missing.
func (t Tags) Validate() error {
	var missing []string
	if t.UID == "" {
		missing = append(missing, "UID")
	}
	if t.NamespacedName == "" {
		missing = append(missing, "NamespacedName")
	}
	if t.Kind == "" {
		missing = append(missing, "Kind")
	}
	if len(missing) > 0 {
		return fmt.Errorf("tags: %s required", strings.Join(missing, ", "))
	}
	return nil
}

// ToMetadata returns the tags as Stripe metadata (empty optional tags are left out).
func (t Tags) ToMetadata() map[string]string {
	md := map[string]string{
		MetadataKeyUID:  clip(t.UID),
		MetadataKeyName: clip(t.NamespacedName),
		MetadataKeyKind: clip(t.Kind),
	}
	if t.ClusterID != "" {
		md[MetadataKeyCluster] = clip(t.ClusterID)
	}
	if t.Component != "" {
		md[MetadataKeyComponent] = clip(t.Component)
	}
	return md
}

// Matches reports whether metadata carries these tags: same UID, kind, cluster id and component.
// Tags with an empty UID match nothing.
func (t Tags) Matches(metadata map[string]string) bool {
	if t.UID == "" || metadata == nil {
		return false
	}
	return metadata[MetadataKeyUID] == clip(t.UID) &&
		metadata[MetadataKeyKind] == clip(t.Kind) &&
		metadata[MetadataKeyCluster] == clip(t.ClusterID) &&
		metadata[MetadataKeyComponent] == clip(t.Component)
}

// clip keeps a value within Stripe's 500-character limit.
func clip(s string) string {
	if utf8.RuneCountInString(s) <= maxMetadataValue {
		return s
	}
	return string([]rune(s)[:maxMetadataValue])
}

// mergeMetadata returns user metadata plus tags (nil tags: user metadata only). User keys in the
// reserved prefix are refused so a spec can neither forge nor erase the tags.
func mergeMetadata(user map[string]string, tags *Tags) (map[string]string, error) {
	if len(user) == 0 && tags == nil {
		return nil, nil
	}
	out := make(map[string]string, len(user)+5)
	for k, v := range user {
		if strings.HasPrefix(k, MetadataKeyPrefix) {
			return nil, invalidParams("metadata key %q uses the reserved prefix %q", k, MetadataKeyPrefix)
		}
		out[k] = v
	}
	if tags != nil {
		if err := tags.Validate(); err != nil {
			return nil, invalidParams("%v", err)
		}
		for k, v := range tags.ToMetadata() {
			out[k] = v
		}
	}
	return out, nil
}

// IdempotencyKey derives the Idempotency-Key of a write from the Kubernetes object's UID, its
// generation and the purpose of the call ("create-product", "create-price/monthly"...). The same
// inputs always give the same key, so a create retried after a crash or a timeout is answered by
// Stripe with the object the first attempt made instead of making a second one.
//
// Stripe remembers a key for 24 hours and answers a repeat with the first answer, or an
// idempotency_error when the parameters differ. For an update, put a Digest of the change (what is
// observed and what is wanted) in the purpose, so that correcting the same drift twice within a day
// is not answered from the cache, and a different change never reuses a key.
//
// The key is at most 8+64+1+64 characters (Stripe allows 255): "cloudip-", the purpose cleaned of
// characters other than letters, digits and "-_./:", "-", and the SHA-256 of all three inputs.
func IdempotencyKey(uid string, generation int64, purpose string) string {
	h := sha256.New()
	// Length-prefixed so that no two different inputs hash the same bytes.
	_, _ = fmt.Fprintf(h, "%d:%s|%s|%d:%s", len(uid), uid, strconv.FormatInt(generation, 10), len(purpose), purpose)
	sum := hex.EncodeToString(h.Sum(nil))

	clean := make([]rune, 0, 64)
	for _, r := range purpose {
		if len(clean) == 64 {
			break
		}
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', strings.ContainsRune("-_./:", r):
			clean = append(clean, r)
		default:
			clean = append(clean, '_')
		}
	}
	return idempotencyKeyPrefix + string(clean) + "-" + sum
}

// idempotencyKeyPrefix starts every key IdempotencyKey makes; Event.CausedByOperator looks for it.
const idempotencyKeyPrefix = "cloudip-"

// Digest returns a short stable hash (16 hex characters) of the JSON encoding of values, for the
// purpose of an update's IdempotencyKey. Maps encode with sorted keys, so equal values give equal
// digests.
func Digest(values ...any) string {
	h := sha256.New()
	enc := json.NewEncoder(h)
	for _, v := range values {
		if err := enc.Encode(v); err != nil {
			_, _ = fmt.Fprintf(h, "%#v\n", v)
		}
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}
