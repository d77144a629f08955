package emulator

import "strings"

// supportedCurrencies are the ISO 4217 codes stripe-go v76 declares
// (currency.go), i.e. what the API version this emulator speaks accepts.
var supportedCurrencies = func() map[string]bool {
	m := map[string]bool{}
	for _, c := range strings.Fields(`aed afn all amd ang aoa ars aud awg azn bam bbd bdt bgn bif bmd bnd bob
		brl bsd bwp bzd cad cdf chf clp cny cop crc cve czk djf dkk dop dzd eek egp etb eur fjd fkp gbp gel
		gip gmd gnf gtq gyd hkd hnl hrk htg huf idr ils inr isk jmd jpy kes kgs khr kmf krw kyd kzt lak lbp
		lkr lrd lsl ltl lvl mad mdl mga mkd mnt mop mro mur mvr mwk mxn myr mzn nad ngn nio nok npr nzd pab
		pen pgk php pkr pln pyg qar ron rsd rub rwf sar sbd scr sek sgd shp sll sos srd std svc szl thb tjs
		top try ttd twd tzs uah ugx usd uyu uzs vef vnd vuv wst xaf xcd xof xpf yer zar zmw`) {
		m[c] = true
	}
	return m
}()

// normalizeCurrency lowercases a currency code (Stripe accepts USD and
// stores usd) and refuses codes Stripe does not support.
func normalizeCurrency(param, c string) (string, *Error) {
	lc := strings.ToLower(strings.TrimSpace(c))
	if !supportedCurrencies[lc] {
		return "", InvalidRequest(param, "Invalid currency: %s. Stripe currently supports these currencies: %s",
			lc, "see https://stripe.com/docs/currencies")
	}
	return lc, nil
}
