{{/*
Names. With release name "stripe-operator" every object is named exactly as config/default names it
(namePrefix stripe-operator-), so the chart and the kustomize install are interchangeable. The
fullname is cut at 27 characters so that the longest Service name (<fullname>-controller-manager-
metrics-service) stays a 63-character DNS label.
*/}}
{{- define "stripe-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "stripe-operator.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 27 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 27 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 27 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "stripe-operator.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels on every object. */}}
{{- define "stripe-operator.labels" -}}
helm.sh/chart: {{ include "stripe-operator.chart" . }}
app.kubernetes.io/name: {{ include "stripe-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: stripe-operator
{{- end }}

{{/* The manager's pods (the same keys as config/default's, plus the instance). */}}
{{- define "stripe-operator.manager.selectorLabels" -}}
app.kubernetes.io/name: {{ include "stripe-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
control-plane: controller-manager
{{- end }}

{{/* The relay's pods. */}}
{{- define "stripe-operator.relay.selectorLabels" -}}
app.kubernetes.io/name: {{ include "stripe-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: relay
{{- end }}

{{- define "stripe-operator.manager.labels" -}}
{{ include "stripe-operator.labels" . }}
control-plane: controller-manager
{{- end }}

{{- define "stripe-operator.relay.labels" -}}
{{ include "stripe-operator.labels" . }}
app.kubernetes.io/component: relay
{{- end }}

{{- define "stripe-operator.manager.serviceAccountName" -}}
{{- printf "%s-controller-manager" (include "stripe-operator.fullname" .) }}
{{- end }}

{{- define "stripe-operator.relay.serviceAccountName" -}}
{{- printf "%s-relay" (include "stripe-operator.fullname" .) }}
{{- end }}

{{- define "stripe-operator.relay.internalServiceName" -}}
{{- printf "%s-relay-internal" (include "stripe-operator.fullname" .) }}
{{- end }}

{{/*
An image reference from a values block {repository, tag, digest}: the tag defaults to the chart's
appVersion; a digest, when set, wins.
Usage: include "stripe-operator.image" (list $ .Values.manager.image)
*/}}
{{- define "stripe-operator.image" -}}
{{- $root := index . 0 }}
{{- $image := index . 1 }}
{{- if $image.digest }}
{{- printf "%s@%s" $image.repository $image.digest }}
{{- else }}
{{- printf "%s:%s" $image.repository (toString (default $root.Chart.AppVersion $image.tag)) }}
{{- end }}
{{- end }}

{{/* The namespaces whose Secrets may hold Stripe API keys: secretNamespaces, or the release's. */}}
{{- define "stripe-operator.secretNamespaces" -}}
{{- if .Values.secretNamespaces }}
{{- join "," (uniq .Values.secretNamespaces) }}
{{- else }}
{{- .Release.Namespace }}
{{- end }}
{{- end }}

{{/* "true" when the relay runs leader election: asked for, or needed by more than one replica. */}}
{{- define "stripe-operator.relay.leaderElect" -}}
{{- if or .Values.relay.leaderElection.enabled (gt (int .Values.relay.replicas) 1) }}true{{ end }}
{{- end }}

{{/*
The rules of the generated role of kind $kind in a file copied from config/ (files/rbac, by
`make chart`): the chart never writes a generated rule by hand.
Usage: include "stripe-operator.generatedRules" (list $ "files/rbac/manager-role.yaml" "ClusterRole")
*/}}
{{- define "stripe-operator.generatedRules" -}}
{{- $root := index . 0 }}
{{- $file := index . 1 }}
{{- $kind := index . 2 }}
{{- $found := false }}
{{- range $doc := splitList "\n---\n" (printf "\n%s" ($root.Files.Get $file)) }}
{{- $obj := fromYaml $doc }}
{{- if and (not $found) (eq (toString (get $obj "kind")) $kind) }}
{{- $found = true }}
{{- toYaml (get $obj "rules") }}
{{- end }}
{{- end }}
{{- if not $found }}
{{- fail (printf "%s holds no %s: run make chart" $file $kind) }}
{{- end }}
{{- end }}
