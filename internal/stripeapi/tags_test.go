package stripeapi

import (
	"context"
	"strings"
	"testing"
)

func TestIdempotencyKey(t *testing.T) {
	base := IdempotencyKey("uid-1", 7, "create-price/monthly")
	if again := IdempotencyKey("uid-1", 7, "create-price/monthly"); again != base {
		t.Fatalf("not stable: %q vs %q", base, again)
	}
	if !strings.HasPrefix(base, "cloudip-create-price/monthly-") {
		t.Errorf("key %q does not start with the readable purpose", base)
	}
	for name, other := range map[string]string{
		"uid":        IdempotencyKey("uid-2", 7, "create-price/monthly"),
		"generation": IdempotencyKey("uid-1", 8, "create-price/monthly"),
		"purpose":    IdempotencyKey("uid-1", 7, "create-price/yearly"),
		// length-prefixing keeps the boundary between inputs meaningful
		"shifted": IdempotencyKey("uid-17", 0, "create-price/monthly"),
	} {
		if other == base {
			t.Errorf("changing %s did not change the key", name)
		}
	}
	long := IdempotencyKey(strings.Repeat("u", 1000), 1<<62, strings.Repeat("p ü", 400))
	if len(long) > 255 {
		t.Errorf("key of %d characters, Stripe allows 255", len(long))
	}
	if strings.ContainsAny(long, " ü") {
		t.Errorf("key %q keeps characters outside the safe set", long)
	}
}

func TestDigest(t *testing.T) {
	a := Digest(map[string]string{"b": "2", "a": "1"}, 3)
	if b := Digest(map[string]string{"a": "1", "b": "2"}, 3); a != b {
		t.Errorf("map order changed the digest: %s vs %s", a, b)
	}
	if Digest("x") == Digest("y") || len(a) != 16 {
		t.Errorf("digest %q", a)
	}
}

func TestTagsMetadata(t *testing.T) {
	tags := testTags()
	md := tags.ToMetadata()
	want := map[string]string{
		"cloudip_uid": "9b2f-uid", "cloudip_name": "team-a/gold", "cloudip_kind": "BillingPlan", "cloudip_cluster": "prod-eu",
	}
	if len(md) != len(want) {
		t.Errorf("ToMetadata = %v, want %v", md, want)
	}
	for k, v := range want {
		if md[k] != v {
			t.Errorf("%s = %q, want %q", k, md[k], v)
		}
		if len(k) > 40 {
			t.Errorf("key %q longer than Stripe's 40", k)
		}
	}
	long := Tags{UID: "u", NamespacedName: "n", Kind: "k", ClusterID: strings.Repeat("c", 600)}
	if got := long.ToMetadata()[MetadataKeyCluster]; len(got) != 500 {
		t.Errorf("cluster value of %d characters, Stripe allows 500", len(got))
	}
	if !long.Matches(long.ToMetadata()) {
		t.Error("clipped tags do not match their own metadata")
	}
}

func TestTagsMatches(t *testing.T) {
	tags := testTags()
	withComponent := tags
	withComponent.Component = "monthly-eur"
	set := func(md map[string]string, k, v string) map[string]string {
		out := map[string]string{"user": "x"}
		for mk, mv := range md {
			out[mk] = mv
		}
		if v == "" {
			delete(out, k)
		} else {
			out[k] = v
		}
		return out
	}
	for name, tc := range map[string]struct {
		tags Tags
		md   map[string]string
		want bool
	}{
		"own":                         {tags, tags.ToMetadata(), true},
		"own plus user keys":          {tags, set(tags.ToMetadata(), "plan", "gold"), true},
		"renamed (name not matched)":  {tags, set(tags.ToMetadata(), MetadataKeyName, "team-a/old"), true},
		"other uid":                   {tags, set(tags.ToMetadata(), MetadataKeyUID, "other"), false},
		"other kind":                  {tags, set(tags.ToMetadata(), MetadataKeyKind, "StripeTenant"), false},
		"other cluster":               {tags, set(tags.ToMetadata(), MetadataKeyCluster, "prod-us"), false},
		"untagged":                    {tags, map[string]string{"user": "x"}, false},
		"nil":                         {tags, nil, false},
		"component wanted, absent":    {withComponent, tags.ToMetadata(), false},
		"component present, unwanted": {tags, withComponent.ToMetadata(), false},
		"component equal":             {withComponent, withComponent.ToMetadata(), true},
		"empty tags match nothing":    {Tags{}, map[string]string{}, false},
	} {
		if got := tc.tags.Matches(tc.md); got != tc.want {
			t.Errorf("%s: Matches = %v, want %v", name, got, tc.want)
		}
	}
}

func TestCreateSendsTagsAndRefusesReservedKeys(t *testing.T) {
	f := newFakeStripe(t)
	f.on("POST /v1/products", productJSON)
	c := newTestClient(t, f, nil)
	ctx := context.Background()

	_, err := c.CreateProduct(ctx, ProductCreateParams{
		IdempotencyKey: "k", Tags: testTags(), Name: "Gold", Metadata: map[string]string{"tier": "gold"},
	})
	if err != nil {
		t.Fatal(err)
	}
	form := f.last(t).Form
	wantForm(t, form, map[string]string{
		"metadata[cloudip_uid]": "9b2f-uid", "metadata[cloudip_name]": "team-a/gold", "metadata[cloudip_kind]": "BillingPlan",
		"metadata[cloudip_cluster]": "prod-eu", "metadata[tier]": "gold", "name": "Gold",
	})

	before := len(f.seen())
	for name, p := range map[string]ProductCreateParams{
		"no tags":       {IdempotencyKey: "k", Name: "Gold"},
		"partial tags":  {IdempotencyKey: "k", Name: "Gold", Tags: Tags{UID: "u"}},
		"forged tag":    {IdempotencyKey: "k", Name: "Gold", Tags: testTags(), Metadata: map[string]string{"cloudip_uid": "x"}},
		"reserved kind": {IdempotencyKey: "k", Name: "Gold", Tags: testTags(), Metadata: map[string]string{"cloudip_whatever": "x"}},
	} {
		if _, err := c.CreateProduct(ctx, p); !IsTerminal(err) {
			t.Errorf("%s: err = %v, want Terminal refusal", name, err)
		}
	}
	// Updates may not erase tags through metadata either.
	if _, err := c.UpdateProduct(ctx, "prod_1", ProductUpdateParams{IdempotencyKey: "k", Metadata: map[string]string{"cloudip_uid": ""}}); !IsTerminal(err) {
		t.Errorf("untagging update: err = %v, want Terminal refusal", err)
	}
	if n := len(f.seen()) - before; n != 0 {
		t.Errorf("%d refused requests were sent", n)
	}
}
