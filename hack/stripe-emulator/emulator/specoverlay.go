package emulator

import (
	_ "embed"
	"encoding/json"
	"fmt"

	"github.com/stripe/stripe-mock/spec"
)

// The spec overlay: the one thing the emulator adds to stripe-mock's
// 2023-10-16 OpenAPI spec.
//
// stripe-go v76.25.0 (CHANGELOG: "Add support for `Controller` on
// `AccountParams`") sends `controller` on POST /v1/accounts, which Stripe
// accepts in every API version since April 2024 ("Using account controller
// properties doesn't require you to update your API version", Stripe's
// "Migrate your Connect integration to use controller properties instead of
// account types"). The 2023-10-16 spec that stripe-mock v0.183.0 embeds
// predates it, so the spec check refuses the parameter. The overlay adds
// exactly that property of that request body, copied verbatim from the
// newest stripe-mock (v0.203.0), and nothing else: the update endpoint
// (POST /v1/accounts/{account}) stays without it, as on Stripe, where the
// controller is fixed at creation. TestSpecOverlayAddsOnlyController pins
// this; hack/stripe-emulator/overlaygen re-extracts the fragment.

// specOverlayControllerJSON is the `controller` property of the
// application/x-www-form-urlencoded request body schema of POST
// /v1/accounts in stripe-mock v0.203.0's embedded/openapi/spec3.json,
// verbatim (re-indented).
//
//go:embed specoverlay_account_controller.json
var specOverlayControllerJSON []byte

// Where the overlay goes in the spec.
const (
	overlaySource    = "stripe-mock v0.203.0 embedded/openapi/spec3.json"
	overlayPath      = "/v1/accounts"
	overlayVerb      = "post"
	overlayMediaType = "application/x-www-form-urlencoded"
	overlayProperty  = "controller"
)

// overlaySchema returns the request body schema the overlay extends.
func overlaySchema(sp *spec.Spec) (*spec.Schema, error) {
	op := sp.Paths[spec.Path(overlayPath)][spec.HTTPVerb(overlayVerb)]
	if op == nil || op.RequestBody == nil {
		return nil, fmt.Errorf("spec overlay: the spec has no request body for %s %s", overlayVerb, overlayPath)
	}
	mt, ok := op.RequestBody.Content[overlayMediaType]
	if !ok || mt.Schema == nil {
		return nil, fmt.Errorf("spec overlay: %s %s has no %s request body schema", overlayVerb, overlayPath, overlayMediaType)
	}
	return mt.Schema, nil
}

// overlayFragment parses the embedded fragment the way stripe-mock parses
// its spec (spec.Schema's UnmarshalJSON refuses JSON-schema keywords
// stripe-mock does not understand).
func overlayFragment() (*spec.Schema, error) {
	var s spec.Schema
	if err := json.Unmarshal(specOverlayControllerJSON, &s); err != nil {
		return nil, fmt.Errorf("spec overlay: parse %s fragment (from %s): %w", overlayProperty, overlaySource, err)
	}
	return &s, nil
}

// applySpecOverlay adds the overlay to sp, which must be the spec before
// anything (routes, validators, the operation index) is built from it. It
// refuses to replace a property the spec already declares: a stripe-mock
// whose spec has `controller` makes the overlay obsolete, and it should
// then be deleted rather than silently win.
func applySpecOverlay(sp *spec.Spec) error {
	body, err := overlaySchema(sp)
	if err != nil {
		return err
	}
	if _, exists := body.Properties[overlayProperty]; exists {
		return fmt.Errorf("spec overlay: %s %s already declares %q; the overlay from %s is obsolete, delete it",
			overlayVerb, overlayPath, overlayProperty, overlaySource)
	}
	frag, err := overlayFragment()
	if err != nil {
		return err
	}
	if body.Properties == nil {
		body.Properties = map[string]*spec.Schema{}
	}
	body.Properties[overlayProperty] = frag
	return nil
}
