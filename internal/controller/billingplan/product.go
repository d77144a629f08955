package billingplan

import (
	"github.com/cloudip/stripe-operator/api/v1alpha1"
	"github.com/cloudip/stripe-operator/internal/stripeapi"
)

type productDiff struct {
	params stripeapi.ProductUpdateParams
	fields []string
}

// productChanges compares the product's fields. Optional text fields are managed only when the spec
// sets them: Stripe fills some itself, and an empty spec field means "not managed here", not "erase".
func productChanges(want v1alpha1.Product, have stripeapi.Product) productDiff {
	var d productDiff
	setIfDiffers := func(field, wantValue, haveValue string, target **string) {
		if wantValue != "" && wantValue != haveValue {
			v := wantValue
			*target = &v
			d.fields = append(d.fields, "product "+field)
		}
	}
	setIfDiffers("name", want.Name, have.Name, &d.params.Name)
	setIfDiffers("description", want.Description, have.Description, &d.params.Description)
	setIfDiffers("statementDescriptor", want.StatementDescriptor, have.StatementDescriptor, &d.params.StatementDescriptor)
	setIfDiffers("unitLabel", want.UnitLabel, have.UnitLabel, &d.params.UnitLabel)
	setIfDiffers("taxCode", want.TaxCode, have.TaxCode, &d.params.TaxCode)
	if active := wantActive(want.Active); active != have.Active {
		d.params.Active = &active
		d.fields = append(d.fields, "product active")
	}
	if md := metadataChanges(want.Metadata, have.Metadata); md != nil {
		d.params.Metadata = md
		d.fields = append(d.fields, "product metadata")
	}
	return d
}
