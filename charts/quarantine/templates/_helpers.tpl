{{/*
Named templates shared by every template of the chart (rbac.yaml and webhook.yaml use them too).
*/}}

{{/* The chart name, overridable with nameOverride. */}}
{{- define "quarantine.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The resource name prefix. Kept to 47 characters so that "<fullname>-<suffix>" names stay within
the 63-character DNS label limit (the longest suffix used is "-webhook-tls").
*/}}
{{- define "quarantine.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 47 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 47 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 47 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* Chart name and version, as used by the helm.sh/chart label. */}}
{{- define "quarantine.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels every object carries. */}}
{{- define "quarantine.labels" -}}
helm.sh/chart: {{ include "quarantine.chart" . }}
{{ include "quarantine.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: quarantine
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Labels that identify the release's pods; never change them, selectors are immutable. */}}
{{- define "quarantine.selectorLabels" -}}
app.kubernetes.io/name: {{ include "quarantine.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* Selector labels of the operator (responder and alert intake) pods. */}}
{{- define "quarantine.operatorSelectorLabels" -}}
{{ include "quarantine.selectorLabels" . }}
app.kubernetes.io/component: operator
{{- end }}

{{/* Selector labels of the matcher pods. */}}
{{- define "quarantine.matcherSelectorLabels" -}}
{{ include "quarantine.selectorLabels" . }}
app.kubernetes.io/component: matcher
{{- end }}

{{/*
"true" when the operator replicas elect a leader (kopf peering), else empty. Two replicas without
it would both act; the schema refuses that combination.
*/}}
{{- define "quarantine.leaderElection" -}}
{{- if and .Values.operator.leaderElection.enabled (gt (int .Values.operator.replicas) 1) }}true{{- end }}
{{- end }}

{{/*
The ClusterKopfPeering the operator replicas share. It is cluster-scoped, so the release
namespace is part of the name: two releases never pause each other.
*/}}
{{- define "quarantine.peeringName" -}}
{{- printf "%s-%s" (include "quarantine.fullname" .) .Release.Namespace | trunc 253 | trimSuffix "-" }}
{{- end }}

{{/* The operator's ServiceAccount name. */}}
{{- define "quarantine.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (printf "%s-operator" (include "quarantine.fullname" .)) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The matcher's ServiceAccount name. */}}
{{- define "quarantine.matcherServiceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (printf "%s-matcher" (include "quarantine.fullname" .)) .Values.serviceAccount.matcherName }}
{{- else }}
{{- default "default" .Values.serviceAccount.matcherName }}
{{- end }}
{{- end }}

{{/* The image reference; a digest, when given, pins it. */}}
{{- define "quarantine.image" -}}
{{- $tag := default .Chart.AppVersion .Values.image.tag }}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository $tag }}
{{- end }}
{{- end }}

{{/* The operator's Service: admission webhook and metrics. */}}
{{- define "quarantine.operatorServiceName" -}}
{{- printf "%s-operator" (include "quarantine.fullname" .) }}
{{- end }}

{{/* The matcher's node-local Service: event intake. */}}
{{- define "quarantine.matcherServiceName" -}}
{{- printf "%s-matcher" (include "quarantine.fullname" .) }}
{{- end }}

{{/* The Secret holding the intake bearer token, generated or user-provided. */}}
{{- define "quarantine.ingestTokenSecretName" -}}
{{- default (printf "%s-ingest-token" (include "quarantine.fullname" .)) .Values.ingest.token.existingSecret }}
{{- end }}

{{/* The Secret holding the webhook's serving certificate (tls.crt, tls.key, ca.crt). */}}
{{- define "quarantine.webhookTLSSecretName" -}}
{{- default (printf "%s-webhook-tls" (include "quarantine.fullname" .)) .Values.webhook.existingSecret }}
{{- end }}

{{/* Where the token and the webhook certificate are mounted inside the containers. */}}
{{- define "quarantine.tokenMountPath" -}}/var/run/quarantine/ingest{{- end }}
{{- define "quarantine.webhookCertMountPath" -}}/var/run/quarantine/webhook-tls{{- end }}
{{- define "quarantine.ingestCertMountPath" -}}/var/run/quarantine/ingest-tls{{- end }}

{{/* In-cluster URL of the operator's metrics, the one plain-HTTP endpoint it serves. */}}
{{- define "quarantine.operatorMetricsURL" -}}
{{- printf "http://%s.%s.svc:%v/metrics" (include "quarantine.operatorServiceName" .) .Release.Namespace .Values.metrics.port }}
{{- end }}

{{/* In-cluster base URL of the node-local event intake; empty when the matcher is disabled. */}}
{{- define "quarantine.matcherURL" -}}
{{- if .Values.matcher.enabled }}
{{- $scheme := ternary "https" "http" .Values.ingest.tls.enabled }}
{{- printf "%s://%s.%s.svc:%v" $scheme (include "quarantine.matcherServiceName" .) .Release.Namespace .Values.ingest.servicePort }}
{{- end }}
{{- end }}
