{{/*
Command lines of the two components. They must match the flags `quarantine operator` and
`quarantine matcher` define (operator/quarantine/commands/); tests/unit/test_chart_values_schema.py
parses the rendered args with the real CLI parser to keep them in step.
*/}}

{{/* Environment both components read: who and where they are. */}}
{{- define "quarantine.commonEnv" -}}
- name: POD_NAME
  valueFrom:
    fieldRef:
      fieldPath: metadata.name
# kopf names this replica in its peering record after it.
- name: POD_ID
  valueFrom:
    fieldRef:
      fieldPath: metadata.name
- name: POD_NAMESPACE
  valueFrom:
    fieldRef:
      fieldPath: metadata.namespace
- name: NODE_NAME
  valueFrom:
    fieldRef:
      fieldPath: spec.nodeName
# Bytecode cannot be written on a read-only root filesystem.
- name: PYTHONDONTWRITEBYTECODE
  value: "1"
{{- end }}

{{/* `quarantine operator`: the responder and the admission webhook. */}}
{{- define "quarantine.operatorArgs" -}}
- operator
- --namespace=$(POD_NAMESPACE)
- --liveness=http://0.0.0.0:{{ .Values.operator.healthPort }}/healthz
- --metrics-port={{ .Values.metrics.port }}
- --metrics-address=0.0.0.0
{{- if .Values.webhook.enabled }}
- --admission=cluster
- --webhook-port={{ .Values.webhook.port }}
- --webhook-tls-dir={{ include "quarantine.webhookCertMountPath" . }}
{{- else }}
- --admission=off
{{- end }}
{{- if include "quarantine.leaderElection" . }}
- --peering={{ include "quarantine.peeringName" . }}
- --peering-lifetime={{ .Values.operator.leaderElection.lifetimeSeconds }}
{{- end }}
{{- range .Values.operator.protectedNamespaces }}
- --protected-namespace={{ . }}
{{- end }}
- --self-label=app.kubernetes.io/name={{ include "quarantine.name" . }}
- --max-containments={{ .Values.response.maxContainmentsPerWindow }}
- --max-containments-per-rule={{ .Values.response.maxContainmentsPerRule }}
- --containment-window={{ .Values.response.containmentWindow }}
- --pod-cooldown={{ .Values.response.podCooldown }}
- --dns-namespace={{ .Values.response.dns.namespace }}
{{- range $key, $value := .Values.response.dns.podLabels }}
- --dns-pod-label={{ $key }}={{ $value }}
{{- end }}
{{- range $action := list "isolate" "scaleDown" "label" "annotate" "deletePod" "notify" }}
{{- if not (index $.Values.response $action).enabled }}
- --disable-action={{ $action }}
{{- end }}
{{- end }}
- --workers={{ .Values.operator.workers }}
{{- if eq .Values.log.format "json" }}
- --json-logs
{{- end }}
{{- if eq .Values.log.level "debug" }}
- --verbose
{{- end }}
{{- with .Values.operator.extraArgs }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* `quarantine matcher`: event intake and rule evaluation on each node. */}}
{{- define "quarantine.matcherArgs" -}}
- matcher
- --listen=0.0.0.0:{{ .Values.ingest.port }}
- --token-file={{ include "quarantine.tokenMountPath" . }}/token
- --max-body-bytes={{ int64 .Values.matcher.maxRequestBytes }}
- --fallback-namespace=$(POD_NAMESPACE)
{{- with .Values.matcher.alertIntake.defaultRule }}
- --default-alert-rule={{ . }}
{{- end }}
- --log-level={{ .Values.log.level }}
{{- if .Values.ingest.tls.enabled }}
- --tls-cert={{ include "quarantine.ingestCertMountPath" . }}/tls.crt
- --tls-key={{ include "quarantine.ingestCertMountPath" . }}/tls.key
{{- end }}
{{- with .Values.matcher.extraArgs }}
{{ toYaml . }}
{{- end }}
{{- end }}
