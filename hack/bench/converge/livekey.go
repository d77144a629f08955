package main

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"time"

	"github.com/cloudip/stripe-operator/api/v1alpha1"
)

// Stripe's limits are 25 requests/s in test mode and 100 in live mode, and the StripeConnection CRD
// holds a test-mode connection to 25 (spec.rateLimit). A run at live rates (-rate or -budget above 25)
// therefore uses a live-mode connection, as production would: its key is sk_live_..., which the
// operator's checks expect of spec.mode live. The emulator takes test keys only, so the connection's
// apiBaseURL is liveKeyProxy, which hands every request on to the emulator with the key's sk_live_
// prefix turned into sk_test_ and nothing else changed. The emulator's objects still say livemode
// false; the operator does not read that field of the objects it manages.

// testModeMax is Stripe's test-mode limit, the CRD's bound on a test-mode connection's budget.
const testModeMax = 25

// connectionMode is -mode, or when it is empty: live if the budget, the burst or the emulator's limit
// is above the test-mode limit, test otherwise.
func connectionMode(o options) (v1alpha1.StripeMode, error) {
	switch o.mode {
	case string(v1alpha1.StripeModeTest), string(v1alpha1.StripeModeLive):
		return v1alpha1.StripeMode(o.mode), nil
	case "":
		if o.budget > testModeMax || o.burst > testModeMax || o.rate > testModeMax {
			return v1alpha1.StripeModeLive, nil
		}
		return v1alpha1.StripeModeTest, nil
	}
	return "", fmt.Errorf("-mode %q: want test, live or empty", o.mode)
}

// liveKeyProxy forwards to the emulator, turning a live key into a test key.
type liveKeyProxy struct {
	url    string
	server *http.Server
}

func startLiveKeyProxy(emulatorURL string) (*liveKeyProxy, error) {
	target, err := url.Parse(emulatorURL)
	if err != nil {
		return nil, fmt.Errorf("emulator address %q: %w", emulatorURL, err)
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.MaxIdleConnsPerHost = 256 // as many as the operator keeps in flight: no new connection per request
	proxy := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(target)
			r.Out.Host = target.Host
			if auth := r.Out.Header.Get("Authorization"); auth != "" {
				r.Out.Header.Set("Authorization", strings.Replace(auth, "sk_live_", "sk_test_", 1))
			}
		},
		Transport: transport,
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listen for the live-key proxy: %w", err)
	}
	p := &liveKeyProxy{url: "http://" + ln.Addr().String(), server: &http.Server{Handler: proxy, ReadHeaderTimeout: 10 * time.Second}}
	go func() { _ = p.server.Serve(ln) }()
	return p, nil
}

func (p *liveKeyProxy) close() { _ = p.server.Close() }

// connectionEndpoint returns the connection's mode (connectionMode) and where it sends its requests:
// the emulator itself (test), or a liveKeyProxy in front of it (live), with what stops the proxy.
func connectionEndpoint(o options, emulatorURL string) (v1alpha1.StripeMode, string, func(), error) {
	mode, err := connectionMode(o)
	if err != nil || mode != v1alpha1.StripeModeLive {
		return mode, emulatorURL, func() {}, err
	}
	p, err := startLiveKeyProxy(emulatorURL)
	if err != nil {
		return "", "", nil, err
	}
	return mode, p.url, p.close, nil
}
