{{/*
ServiceAccount, Deployment and Service of one HTTP component:
(dict "ctx" $ "component" "api" "image" "inference-api" "port" 8200 "values" .Values.api
      "health" "/health" "env" <yaml list> "extraPorts" <yaml list> "volumes" <yaml> "mounts" <yaml>
      "token" true "metrics" true)
"metrics": the component serves Prometheus /metrics on its http port (scrape annotations).
*/}}
{{- define "is.httpComponent" -}}
{{- $ctx := .ctx -}}
{{- $name := printf "%s-%s" (include "is.fullname" $ctx) .component -}}
apiVersion: v1
kind: ServiceAccount
metadata:
  name: {{ $name }}
  namespace: {{ $ctx.Release.Namespace }}
  labels: {{- include "is.componentLabels" . | nindent 4 }}
automountServiceAccountToken: {{ .token | default false }}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ $name }}
  namespace: {{ $ctx.Release.Namespace }}
  labels: {{- include "is.componentLabels" . | nindent 4 }}
spec:
  replicas: {{ .values.replicas }}
  selector:
    matchLabels: {{- include "is.selector" . | nindent 6 }}
  template:
    metadata:
      labels: {{- include "is.componentLabels" . | nindent 8 }}
      {{- $annotations := deepCopy $ctx.Values.podAnnotations }}
      {{- if .metrics }}
      {{- $annotations = merge $annotations (include "is.scrapeAnnotations" .port | fromYaml) }}
      {{- end }}
      {{- with $annotations }}
      annotations: {{- toYaml . | nindent 8 }}
      {{- end }}
    spec:
      serviceAccountName: {{ $name }}
      automountServiceAccountToken: {{ .token | default false }}
      enableServiceLinks: false
      {{- include "is.podSecurity" $ctx | nindent 6 }}
      {{- include "is.podCommon" $ctx | nindent 6 }}
      containers:
        - name: {{ .component }}
          image: {{ include "is.image" (dict "ctx" $ctx "name" .image) }}
          imagePullPolicy: {{ $ctx.Values.image.pullPolicy }}
          {{- with .args }}
          args: {{- toYaml . | nindent 12 }}
          {{- end }}
          env: {{- .env | nindent 12 }}
          ports:
            - {name: http, containerPort: {{ .port }}, protocol: TCP}
            {{- with .extraPorts }}{{ . | nindent 12 }}{{ end }}
          startupProbe: {{- include "is.probe" (dict "path" .health "period" 5 "failures" 60) | nindent 12 }}
          readinessProbe: {{- include "is.probe" (dict "path" .health "period" 10 "failures" 3) | nindent 12 }}
          livenessProbe: {{- include "is.probe" (dict "path" (.live | default .health) "period" 20 "failures" 3) | nindent 12 }}
          {{- include "is.containerSecurity" $ctx | nindent 10 }}
          resources: {{- toYaml .values.resources | nindent 12 }}
          volumeMounts:
            {{- include "is.tmpMount" $ctx | nindent 12 }}
            {{- with .mounts }}{{ . | nindent 12 }}{{ end }}
      volumes:
        {{- include "is.tmpVolume" $ctx | nindent 8 }}
        {{- with .volumes }}{{ . | nindent 8 }}{{ end }}
---
apiVersion: v1
kind: Service
metadata:
  name: {{ $name }}
  namespace: {{ $ctx.Release.Namespace }}
  labels: {{- include "is.componentLabels" . | nindent 4 }}
spec:
  selector: {{- include "is.selector" . | nindent 4 }}
  ports:
    - {name: http, port: {{ .port }}, targetPort: http, protocol: TCP}
    {{- with .servicePorts }}{{ . | nindent 4 }}{{ end }}
{{- end -}}
