package emulator

import (
	"encoding/json"
	"net/http"
	"strings"
)

// serveConnectControl serves the control operations of the platform
// account, connected accounts and webhook delivery (JSON in and out, like
// the rest of /_emulator/). It reports whether op was one of them.
//
//	GET/POST platform                    {"country","default_currency","email","display_name"}
//	GET/POST connect                     {"live_mode_deletion": bool}
//	POST accounts/{id}/onboarding        {"stage": "complete" (default) | "submitted"}
//	POST accounts/{id}/requirements      {"fields": [...], "past_due", "deadline", "disabled_reason", "future"}
//	GET  accounts/{id}/balance
//	POST accounts/{id}/balance           {"amount": 1000, "currency": "usd"}
//	POST accounts/{id}/deauthorize
//	webhooks/...                         see serveDeliveryControl
func (e *Emulator) serveConnectControl(w http.ResponseWriter, r *http.Request, op string) bool {
	if strings.HasPrefix(op, "webhooks/") {
		return e.serveDeliveryControl(w, r, op)
	}
	switch r.Method + " " + op {
	case "GET platform":
		writeControl(w, http.StatusOK, platformJSON(e.Platform()))
		return true
	case "POST platform":
		var in struct {
			Country         string `json:"country"`
			DefaultCurrency string `json:"default_currency"`
			Email           string `json:"email"`
			DisplayName     string `json:"display_name"`
		}
		if !readControl(w, r, &in) {
			return true
		}
		e.SetPlatform(PlatformProfile{Country: in.Country, DefaultCurrency: in.DefaultCurrency, Email: in.Email, DisplayName: in.DisplayName})
		writeControl(w, http.StatusOK, platformJSON(e.Platform()))
		return true
	case "GET connect":
		writeControl(w, http.StatusOK, e.ConnectRules())
		return true
	case "POST connect":
		var in ConnectRules
		if !readControl(w, r, &in) {
			return true
		}
		e.SetConnectRules(in)
		writeControl(w, http.StatusOK, e.ConnectRules())
		return true
	}
	rest, ok := strings.CutPrefix(op, "accounts/")
	if !ok {
		return false
	}
	id, action, ok := strings.Cut(rest, "/")
	if !ok || id == "" {
		return false
	}
	var (
		out any
		err error
	)
	switch r.Method + " " + action {
	case "POST onboarding":
		var in struct {
			Stage string `json:"stage"`
		}
		if !readControl(w, r, &in) {
			return true
		}
		switch in.Stage {
		case "", "complete":
			out, err = e.CompleteOnboarding(id)
		case "submitted":
			out, err = e.SubmitOnboarding(id)
		default:
			err = InvalidRequest("stage", "stage must be complete or submitted")
		}
	case "POST requirements":
		var in struct {
			RequirementsDue
			Deadline json.RawMessage `json:"deadline"`
		}
		if !readControl(w, r, &in) {
			return true
		}
		due := in.RequirementsDue
		if len(in.Deadline) > 0 && string(in.Deadline) != "null" {
			t, perr := parseTime(in.Deadline)
			if perr != nil {
				controlError(w, perr)
				return true
			}
			due.Deadline = t
		}
		out, err = e.SetRequirementsDue(id, due)
	case "GET balance":
		out, err = e.AccountBalance(id)
	case "POST balance":
		var in struct {
			Amount   int64  `json:"amount"`
			Currency string `json:"currency"`
		}
		if !readControl(w, r, &in) {
			return true
		}
		out, err = e.FundAccount(id, in.Amount, in.Currency)
	case "POST deauthorize":
		err = e.DeauthorizeAccount(id)
		out = map[string]any{"id": id, "deauthorized": true}
	default:
		return false
	}
	if err != nil {
		controlError(w, err)
		return true
	}
	writeControl(w, http.StatusOK, out)
	return true
}

func platformJSON(p PlatformProfile) map[string]any {
	return map[string]any{"country": p.Country, "default_currency": p.DefaultCurrency, "email": p.Email, "display_name": p.DisplayName}
}
