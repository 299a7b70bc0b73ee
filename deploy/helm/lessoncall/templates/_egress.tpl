{{/* Egress rules the NetworkPolicies share. */}}
{{- define "lessoncall.egress.dns" -}}
# DNS, wherever the cluster runs it (kube-dns, node-local cache).
- ports:
    - { port: 53, protocol: UDP }
    - { port: 53, protocol: TCP }
{{- end }}

{{- define "lessoncall.egress.nats" -}}
{{- if .Values.nats.enabled }}
- to:
    - podSelector:
        matchLabels:
          {{- include "lessoncall.selectorLabels" (dict "root" . "component" "nats") | nindent 10 }}
  ports:
    - { port: 4222, protocol: TCP }
{{- else }}
- to:
    {{- range .Values.networkPolicy.externalNats.cidrs }}
    - ipBlock: { cidr: {{ . }} }
    {{- end }}
  ports:
    {{- range .Values.networkPolicy.externalNats.ports }}
    - { port: {{ . }}, protocol: TCP }
    {{- end }}
{{- end }}
{{- end }}

{{- define "lessoncall.egress.postgres" -}}
{{- if .Values.devPostgres.enabled }}
- to:
    - podSelector:
        matchLabels:
          {{- include "lessoncall.selectorLabels" (dict "root" . "component" "postgres") | nindent 10 }}
  ports:
    - { port: 5432, protocol: TCP }
{{- else }}
- to:
    {{- range .Values.networkPolicy.postgres.cidrs }}
    - ipBlock: { cidr: {{ . }} }
    {{- end }}
  ports:
    {{- range .Values.networkPolicy.postgres.ports }}
    - { port: {{ . }}, protocol: TCP }
    {{- end }}
{{- end }}
{{- end }}
