{{/*
Every environment variable a service gets, in one place per service. Each service reads
them in services/<name>/src/config.ts (`configSchema`); deploy/test/env.test.ts fails when
the two disagree. Plain settings go to the service's ConfigMap ("lessoncall.env.<name>"),
secrets and pod facts to the container's env ("lessoncall.podEnv.<name>").
*/}}

{{- define "lessoncall.env.common" -}}
NATS_URL: {{ include "lessoncall.natsUrl" . }}
{{- if .Values.nats.tls.enabled }}
# The connection is TLS only, the server's certificate checked against this CA.
NATS_TLS_CA_FILE: {{ include "lessoncall.natsCaDir" . }}/ca.crt
{{- end }}
{{- /* Every stream and KV bucket on as many servers as the in-cluster NATS has, up to 3 (R5 costs more than it saves). */}}
JETSTREAM_REPLICAS: {{ if .Values.nats.enabled }}{{ min (int .Values.nats.replicas) 3 | quote }}{{ else }}{{ .Values.nats.streamReplicas | default 1 | quote }}{{ end }}
{{- with .Values.telemetry.otlpEndpoint }}
OTEL_EXPORTER_OTLP_ENDPOINT: {{ . }}
{{- end }}
{{- end }}

{{- define "lessoncall.env.gateway" -}}
PORT: "8080"
# /metrics only here, never on PORT (which the ingress serves).
HEALTH_PORT: "9090"
WEB_ORIGIN: {{ include "lessoncall.publicBaseUrl" . }}
WEB_DIST_DIR: /app/web
JWT_AUDIENCE: {{ .Values.auth.audience }}
{{- with include "lessoncall.jwtIssuer" . }}
JWT_ISSUER: {{ . }}
{{- end }}
{{- with .Values.auth.supabaseUrl }}
SUPABASE_URL: {{ trimSuffix "/" . }}
{{- end }}
{{- if .Values.ingress.enabled }}
# Client addresses (rate limits) come from the ingress controller's X-Forwarded-For.
TRUSTED_PROXY_CIDRS: {{ join "," .Values.gateway.trustedProxyCidrs | quote }}
{{- end }}
{{- with .Values.auth.jwksUrl }}
JWT_JWKS_URL: {{ . }}
{{- end }}
{{- with .Values.auth.bookingSystem.clientId }}
# The booking system's own REST credential: its client id and public keys (not secrets).
BOOKING_CLIENT_ID: {{ . }}
BOOKING_JWKS: {{ required "auth.bookingSystem.jwks (its public keys) is required with auth.bookingSystem.clientId" $.Values.auth.bookingSystem.jwks | toJson | quote }}
{{- end }}
{{- if .Values.gateway.devIssuer.enabled }}
DEV_ISSUER_ENABLED: "true"
{{- end }}
{{- if .Values.janus.enabled }}
# The web app's CSP connect-src: the Janus nodes browsers reach in sfu meetings.
JANUS_PUBLIC_URLS: {{ include "lessoncall.janusPublicUrls" . | quote }}
{{- end }}
{{- if include "lessoncall.localRecordings" . }}
# Local recording storage (a single-node cluster): the gateway serves signed links from the shared volume.
RECORDINGS_DIR: /var/lib/janus/recordings/stored
{{- end }}
{{- end }}

{{/* "true" when recordings are stored on the nodes' shared volume (media.recordings.storage: local). */}}
{{- define "lessoncall.localRecordings" -}}
{{- if and .Values.janus.enabled (eq .Values.media.recordings.storage "local") }}true{{ end -}}
{{- end }}

{{- define "lessoncall.podEnv.gateway" -}}
- name: GATEWAY_ID
  valueFrom:
    fieldRef:
      fieldPath: metadata.name
{{- if not .Values.auth.jwksUrl }}
{{ include "lessoncall.secretEnv" (dict "root" . "name" "JWT_SECRET" "key" "jwtSecret") }}
{{- end }}
{{- if .Values.gateway.devIssuer.enabled }}
{{- if or .Values.auth.supabaseUrl .Values.auth.jwksUrl .Values.ingress.host }}
{{- fail "gateway.devIssuer.enabled signs tokens for demo users: it is for a local development cluster only, never with auth.supabaseUrl, auth.jwksUrl or a public ingress.host" }}
{{- end }}
{{ include "lessoncall.secretEnv" (dict "root" . "name" "DEV_ISSUER_SECRET" "key" "devIssuerSecret") }}
{{- end }}
{{- if include "lessoncall.localRecordings" . }}
{{ include "lessoncall.secretEnv" (dict "root" . "name" "RECORDINGS_SIGNING_SECRET" "key" "recordingsSigningSecret") }}
{{- end }}
{{- end }}

{{- define "lessoncall.env.meeting" -}}
HEALTH_PORT: "9090"
PUBLIC_BASE_URL: {{ include "lessoncall.publicBaseUrl" . }}
{{- end }}

{{- define "lessoncall.podEnv.meeting" -}}
{{ include "lessoncall.secretEnv" (dict "root" . "name" "DATABASE_URL" "key" "databaseUrl") }}
{{- end }}

{{- define "lessoncall.env.participant" -}}
HEALTH_PORT: "9090"
{{- end }}

{{- define "lessoncall.podEnv.participant" -}}
{{ include "lessoncall.secretEnv" (dict "root" . "name" "DATABASE_URL" "key" "databaseUrl") }}
{{ include "lessoncall.secretEnv" (dict "root" . "name" "RESUME_TOKEN_SECRET" "key" "resumeTokenSecret") }}
{{- end }}

{{- define "lessoncall.env.signaling" -}}
HEALTH_PORT: "9090"
{{- end }}

{{- define "lessoncall.podEnv.signaling" -}}
{{- end }}

{{- define "lessoncall.env.turn" -}}
HEALTH_PORT: "9090"
TURN_URLS: {{ include "lessoncall.turnUrls" . | quote }}
STUN_URLS: {{ include "lessoncall.stunUrls" . | quote }}
{{- end }}

{{- define "lessoncall.podEnv.turn" -}}
{{ include "lessoncall.secretEnv" (dict "root" . "name" "TURN_SECRET" "key" "turnSecret") }}
{{- end }}

{{- define "lessoncall.env.media" -}}
HEALTH_PORT: "9090"
PUBLIC_BASE_URL: {{ include "lessoncall.publicBaseUrl" . }}
JANUS_NODES: {{ include "lessoncall.janusNodes" . | quote }}
JANUS_RECORDINGS_DIR: /var/lib/janus/recordings
RECORDINGS_STORAGE: {{ .Values.media.recordings.storage | quote }}
{{- if eq .Values.media.recordings.storage "local" }}
RECORDINGS_DIR: /var/lib/janus/recordings/stored
{{- end }}
{{- if eq .Values.media.recordings.storage "s3" }}
{{- with include "lessoncall.s3Endpoint" . }}
S3_ENDPOINT: {{ . | quote }}
{{- end }}
S3_REGION: {{ .Values.media.recordings.s3.region | quote }}
S3_BUCKET: {{ .Values.media.recordings.s3.bucket | quote }}
{{- end }}
{{- end }}

{{- define "lessoncall.podEnv.media" -}}
{{ include "lessoncall.secretEnv" (dict "root" . "name" "DATABASE_URL" "key" "databaseUrl") }}
{{ include "lessoncall.secretEnv" (dict "root" . "name" "JANUS_ADMIN_SECRET" "key" "janusAdminSecret") }}
{{ include "lessoncall.secretEnv" (dict "root" . "name" "JANUS_TOKEN_SECRET" "key" "janusTokenSecret") }}
{{ include "lessoncall.secretEnv" (dict "root" . "name" "JANUS_ROOM_ADMIN_KEY" "key" "janusRoomAdminKey") }}
{{- if eq .Values.media.recordings.storage "local" }}
{{ include "lessoncall.secretEnv" (dict "root" . "name" "RECORDINGS_SIGNING_SECRET" "key" "recordingsSigningSecret") }}
{{- end }}
{{- if eq .Values.media.recordings.storage "s3" }}
{{ include "lessoncall.secretEnv" (dict "root" . "name" "S3_ACCESS_KEY_ID" "key" "s3AccessKeyId") }}
{{ include "lessoncall.secretEnv" (dict "root" . "name" "S3_SECRET_ACCESS_KEY" "key" "s3SecretAccessKey") }}
{{- end }}
{{- end }}

{{/* Supabase Storage's S3 endpoint of the project, unless media.recordings.s3.endpoint names another. */}}
{{- define "lessoncall.s3Endpoint" -}}
{{- if .Values.media.recordings.s3.endpoint -}}
{{ .Values.media.recordings.s3.endpoint }}
{{- else if .Values.auth.supabaseUrl -}}
{{ trimSuffix "/" .Values.auth.supabaseUrl }}/storage/v1/s3
{{- end -}}
{{- end }}

{{/* What browsers dial, one per node: janus.publicUrls, else wss://janus-<i>.<ingress.host>. */}}
{{- define "lessoncall.janusPublicUrls" -}}
{{- $urls := .Values.janus.publicUrls | default list -}}
{{- $out := list -}}
{{- range $i := until (.Values.janus.nodes | int) -}}
{{- $public := printf "wss://janus-%d.%s" $i ($.Values.ingress.host | default "example.invalid") -}}
{{- if lt $i (len $urls) }}{{ $public = index $urls $i }}{{ end -}}
{{- $out = append $out $public -}}
{{- end -}}
{{ join "," $out }}
{{- end }}

{{/* JANUS_NODES: id|public Janus API URL|Admin API inside the cluster (the StatefulSet's stable pod names). */}}
{{- define "lessoncall.janusNodes" -}}
{{- $name := include "lessoncall.componentName" (dict "root" . "component" "janus") -}}
{{- $nodes := list -}}
{{- range $i, $public := splitList "," (include "lessoncall.janusPublicUrls" .) -}}
{{- $nodes = append $nodes (printf "janus-%d|%s|ws://%s-%d.%s.%s.svc:%d" $i $public $name $i $name $.Release.Namespace ($.Values.janus.ports.admin | int)) -}}
{{- end -}}
{{ join "," $nodes }}
{{- end }}

{{- define "lessoncall.jwtIssuer" -}}
{{- if .Values.auth.issuer -}}
{{ .Values.auth.issuer }}
{{- else if .Values.auth.supabaseUrl -}}
{{ trimSuffix "/" .Values.auth.supabaseUrl }}/auth/v1
{{- end -}}
{{- end }}

{{/* One env var from the release's Secret. */}}
{{- define "lessoncall.secretEnv" -}}
- name: {{ .name }}
  valueFrom:
    secretKeyRef:
      name: {{ include "lessoncall.secretName" .root }}
      key: {{ index .root.Values.secrets.keys .key }}
{{- end }}

{{- define "lessoncall.turnUrls" -}}
{{- if .Values.turn.turnUrls -}}
{{ join "," .Values.turn.turnUrls }}
{{- else -}}
{{- $host := include "lessoncall.turnHost" . -}}
{{- $port := .Values.coturn.ports.listening | int64 -}}
{{- $urls := list (printf "turn:%s:%d?transport=udp" $host $port) (printf "turn:%s:%d?transport=tcp" $host $port) -}}
{{- if .Values.coturn.tls.secretName -}}
{{- $urls = append $urls (printf "turns:%s:%d?transport=tcp" $host (.Values.coturn.ports.tls | int64)) -}}
{{- end -}}
{{ join "," $urls }}
{{- end -}}
{{- end }}

{{- define "lessoncall.stunUrls" -}}
{{- if .Values.turn.stunUrls -}}
{{ join "," .Values.turn.stunUrls }}
{{- else -}}
{{ printf "stun:%s:%d" (include "lessoncall.turnHost" .) (.Values.coturn.ports.listening | int64) }}
{{- end -}}
{{- end }}

{{/*
The ConfigMap data of one service: shared settings, then the service's own, then its
`config` overrides from values. Values are strings, as env vars are.
*/}}
{{- define "lessoncall.configData" -}}
{{- $root := .root -}}
{{- $data := dict -}}
{{- range $k, $v := (include "lessoncall.env.common" $root | fromYaml) }}{{ $_ := set $data $k $v }}{{ end -}}
{{- /* Replies to this service land under its own prefix, the only _INBOX its NATS user may read. */}}
{{- if $root.Values.nats.auth.enabled }}{{ $_ := set $data "NATS_INBOX_PREFIX" (printf "_INBOX.%s" .component) }}{{ end -}}
{{- range $k, $v := $root.Values.config }}{{ $_ := set $data $k $v }}{{ end -}}
{{- range $k, $v := (include (printf "lessoncall.env.%s" .component) $root | fromYaml) }}{{ $_ := set $data $k $v }}{{ end -}}
{{- range $k, $v := (index $root.Values .component).config }}{{ $_ := set $data $k $v }}{{ end -}}
{{- range $k := keys $data | sortAlpha }}
{{ $k }}: {{ include "lessoncall.envValue" (get $data $k) | quote }}
{{- end }}
{{- end }}
