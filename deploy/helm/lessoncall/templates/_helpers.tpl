{{/* Names and labels. */}}
{{- define "lessoncall.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "lessoncall.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* The name of one component's objects: <fullname>-<component>. */}}
{{- define "lessoncall.componentName" -}}
{{- printf "%s-%s" (include "lessoncall.fullname" .root) .component | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "lessoncall.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "lessoncall.selectorLabels" . }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
app.kubernetes.io/part-of: lessoncall
{{- end }}

{{- define "lessoncall.selectorLabels" -}}
app.kubernetes.io/name: {{ include "lessoncall.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/* Selects every pod of this release (any component). */}}
{{- define "lessoncall.releaseSelector" -}}
app.kubernetes.io/name: {{ include "lessoncall.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* The node services this chart builds images for, in one place. */}}
{{- define "lessoncall.services" -}}
gateway meeting participant signaling turn media
{{- end }}

{{/* An image of ours: <registry>lessoncall-<component>:<tag>, or the component's own override. */}}
{{- define "lessoncall.image" -}}
{{- $values := index .root.Values .component -}}
{{- $image := default dict $values.image -}}
{{- $repository := default (printf "%slessoncall-%s" .root.Values.image.registry .component) $image.repository -}}
{{- $tag := default (default .root.Chart.AppVersion .root.Values.image.tag) $image.tag -}}
{{- printf "%s:%s" $repository $tag -}}
{{- end }}

{{/* The Secret every secret env var comes from. */}}
{{- define "lessoncall.secretName" -}}
{{- default (printf "%s-secrets" (include "lessoncall.fullname" .)) .Values.secrets.existingSecret }}
{{- end }}

{{- define "lessoncall.natsUrl" -}}
{{- if .Values.nats.enabled -}}
{{ ternary "tls" "nats" .Values.nats.tls.enabled }}://{{ include "lessoncall.componentName" (dict "root" . "component" "nats") }}:4222
{{- else -}}
{{ .Values.nats.externalUrl }}
{{- end }}
{{- end }}

{{- define "lessoncall.publicBaseUrl" -}}
{{- if .Values.publicBaseUrl -}}
{{ trimSuffix "/" .Values.publicBaseUrl }}
{{- else if .Values.ingress.host -}}
{{ ternary "https" "http" (ne .Values.ingress.tls.secretName "") }}://{{ .Values.ingress.host }}
{{- else -}}
http://localhost:8080
{{- end }}
{{- end }}

{{- define "lessoncall.turnHost" -}}
{{- if .Values.coturn.publicHost -}}
{{ .Values.coturn.publicHost }}
{{- else if .Values.coturn.externalIP -}}
{{ .Values.coturn.externalIP }}
{{- else if .Values.ingress.host -}}
turn.{{ .Values.ingress.host }}
{{- else -}}
localhost
{{- end }}
{{- end }}

{{/* An env value as a string; numbers stay integers (YAML numbers arrive as float64). */}}
{{- define "lessoncall.envValue" -}}
{{- if or (kindIs "float64" .) (kindIs "int64" .) (kindIs "int" .) -}}
{{ . | int64 | toString }}
{{- else -}}
{{ toString . }}
{{- end }}
{{- end }}

{{/* Milliseconds (any number kind) to whole seconds, rounded up. */}}
{{- define "lessoncall.msToSeconds" -}}
{{- $ms := . | int64 -}}
{{- div (add $ms 999) 1000 -}}
{{- end }}

{{- define "lessoncall.podSecurityContext" -}}
{{- toYaml .Values.podSecurityContext }}
{{- end }}

{{- define "lessoncall.containerSecurityContext" -}}
{{- toYaml .Values.securityContext }}
{{- end }}

{{/* Zone and node spread for one component. */}}
{{- define "lessoncall.topologySpread" -}}
{{- if .root.Values.topologySpread.enabled }}
topologySpreadConstraints:
{{- range $key := list "topology.kubernetes.io/zone" "kubernetes.io/hostname" }}
  - maxSkew: 1
    topologyKey: {{ $key }}
    whenUnsatisfiable: {{ $.root.Values.topologySpread.whenUnsatisfiable }}
    labelSelector:
      matchLabels:
        {{- include "lessoncall.selectorLabels" $ | nindent 8 }}
{{- end }}
{{- end }}
{{- end }}

{{- define "lessoncall.scheduling" -}}
{{- with .nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{/* The roles of the NATS permission matrix (services/kit/src/nats-auth.ts natsRoles). */}}
{{- define "lessoncall.natsRoles" -}}
gateway meeting participant signaling turn media booking operator
{{- end }}

{{/* The CA services trust for NATS: mounted from the TLS Secret's ca.crt. */}}
{{- define "lessoncall.natsCaDir" -}}
/etc/nats-ca
{{- end }}

{{/*
A service's NATS credential: its own seed from its own Secret (nats.auth.seedSecrets), which
no other pod mounts. Empty without nats.auth.
*/}}
{{- define "lessoncall.natsSeedEnv" -}}
{{- $auth := .root.Values.nats.auth -}}
{{- if $auth.enabled }}
- name: NATS_NKEY_SEED
  valueFrom:
    secretKeyRef:
      name: {{ required (printf "nats.auth.seedSecrets.%s is required with nats.auth.enabled" .component) (index $auth.seedSecrets .component) }}
      key: {{ $auth.seedKey }}
{{- end }}
{{- end }}

{{/*
What is refused outright: anyone who reaches a NATS without authorization can end lessons,
read passcodes and inject signals, so it is for a throwaway development cluster only.
*/}}
{{- define "lessoncall.natsAuthGuard" -}}
{{- if and (not .Values.nats.auth.enabled) (or .Values.auth.supabaseUrl .Values.auth.jwksUrl .Values.ingress.host) }}
{{- fail "nats.auth.enabled: false lets anyone who reaches NATS end lessons and read passcodes: it is for a local development cluster only, never with auth.supabaseUrl, auth.jwksUrl or a public ingress.host" }}
{{- end }}
{{- if and .Values.nats.tls.certManager.enabled (not .Values.nats.tls.enabled) }}
{{- fail "nats.tls.certManager.enabled needs nats.tls.enabled" }}
{{- end }}
{{- if and .Values.nats.tls.certManager.enabled (not .Values.nats.tls.certManager.issuerRef.name) }}
{{- fail "nats.tls.certManager.issuerRef.name is required with nats.tls.certManager.enabled (the cert-manager Issuer or ClusterIssuer that signs the NATS certificate)" }}
{{- end }}
{{- end }}
