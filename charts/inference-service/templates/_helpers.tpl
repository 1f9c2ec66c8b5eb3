{{/* Base name of every object; cluster-scoped objects carry it too, so two releases never collide. */}}
{{- define "is.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 50 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "is.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
app.kubernetes.io/part-of: inference-service
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end -}}

{{/* Selector labels of one component: (dict "ctx" $ "component" "api") */}}
{{- define "is.selector" -}}
app.kubernetes.io/name: inference-service
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "is.componentLabels" -}}
{{ include "is.labels" .ctx }}
{{ include "is.selector" . }}
{{- end -}}

{{- define "is.image" -}}
{{- printf "%s/%s:%s" .ctx.Values.image.registry .name (default .ctx.Chart.AppVersion .ctx.Values.image.tag) -}}
{{- end -}}

{{/* Pod-level settings every workload of the chart shares. */}}
{{- define "is.podCommon" -}}
{{- with .Values.imagePullSecrets }}
imagePullSecrets: {{ toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.nodeSelector }}
nodeSelector: {{ toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.tolerations }}
tolerations: {{ toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{- define "is.podSecurity" -}}
securityContext:
  runAsNonRoot: true
  runAsUser: 65532
  runAsGroup: 65532
  fsGroup: 65532
  seccompProfile: {type: RuntimeDefault}
{{- end -}}

{{- define "is.containerSecurity" -}}
securityContext:
  allowPrivilegeEscalation: false
  readOnlyRootFilesystem: true
  runAsNonRoot: true
  capabilities: {drop: [ALL]}
{{- end -}}

{{- define "is.tmpVolume" -}}
- name: tmp
  emptyDir: {sizeLimit: 1Gi}
{{- end -}}

{{- define "is.tmpMount" -}}
- name: tmp
  mountPath: /tmp
{{- end -}}

{{/* Secrets: each name is required; the message says what the Secret must hold. */}}
{{- define "is.authSecret" -}}
{{- required "auth.existingSecret is required: create a Secret with keys jwt-secret (>= 32 characters), admin-password (>= 12 characters) and server-uuid-key, and set auth.existingSecret to its name" .Values.auth.existingSecret -}}
{{- end -}}

{{- define "is.postgresSecret" -}}
{{- required "postgresql.existingSecret is required with postgresql.enabled=true: create a Secret with key password (URL-safe characters) and set postgresql.existingSecret" .Values.postgresql.existingSecret -}}
{{- end -}}

{{- define "is.minioSecret" -}}
{{- required "minio.existingSecret is required with minio.enabled=true: create a Secret with keys root-user and root-password (>= 8 characters) and set minio.existingSecret" .Values.minio.existingSecret -}}
{{- end -}}

{{- define "is.s3Endpoint" -}}
{{- if .Values.minio.enabled -}}
{{- printf "%s-minio:9000" (include "is.fullname" .) -}}
{{- else -}}
{{- required "externalS3.endpoint is required with minio.enabled=false (host:port)" .Values.externalS3.endpoint -}}
{{- end -}}
{{- end -}}

{{/* Environment shared by the services: database, object store, signing keys. */}}
{{- define "is.commonEnv" -}}
{{- $auth := include "is.authSecret" . -}}
- name: LOG_LEVEL
  value: INFO
{{- if .Values.postgresql.enabled }}
- name: POSTGRES_PASSWORD
  valueFrom: {secretKeyRef: {name: {{ include "is.postgresSecret" . }}, key: password}}
- name: DATABASE_URL
  value: {{ printf "postgresql+asyncpg://%s:$(POSTGRES_PASSWORD)@%s-postgresql:5432/%s" .Values.postgresql.username (include "is.fullname" .) .Values.postgresql.database | quote }}
{{- else }}
- name: DATABASE_URL
  valueFrom: {secretKeyRef: {name: {{ required "externalDatabase.existingSecret is required with postgresql.enabled=false: a Secret with key database-url" .Values.externalDatabase.existingSecret }}, key: database-url}}
{{- end }}
- name: S3_ENDPOINT
  value: {{ include "is.s3Endpoint" . | quote }}
{{- if .Values.minio.enabled }}
- name: S3_SECURE
  value: "false"
- name: S3_ACCESS_KEY
  valueFrom: {secretKeyRef: {name: {{ include "is.minioSecret" . }}, key: root-user}}
- name: S3_SECRET_KEY
  valueFrom: {secretKeyRef: {name: {{ include "is.minioSecret" . }}, key: root-password}}
{{- else }}
- name: S3_SECURE
  value: {{ .Values.externalS3.secure | toString | quote }}
- name: S3_ACCESS_KEY
  valueFrom: {secretKeyRef: {name: {{ required "externalS3.existingSecret is required with minio.enabled=false: a Secret with keys access-key and secret-key" .Values.externalS3.existingSecret }}, key: access-key}}
- name: S3_SECRET_KEY
  valueFrom: {secretKeyRef: {name: {{ .Values.externalS3.existingSecret }}, key: secret-key}}
{{- end }}
- name: JWT_SECRET
  valueFrom: {secretKeyRef: {name: {{ $auth }}, key: jwt-secret}}
- name: SERVER_UUID_KEY
  valueFrom: {secretKeyRef: {name: {{ $auth }}, key: server-uuid-key}}
{{- end -}}

{{/* Namespaces the operator serves: its own list, else the serving namespace. */}}
{{- define "is.operatorNamespaces" -}}
{{- if .Values.operator.namespaces -}}
{{- toJson .Values.operator.namespaces -}}
{{- else -}}
{{- toJson (list .Values.servingNamespace) -}}
{{- end -}}
{{- end -}}

{{- define "is.operatorClusterwide" -}}
{{- $plain := true -}}
{{- range .Values.operator.namespaces -}}
{{- if or (contains "*" .) (hasPrefix "!" .) -}}{{- $plain = false -}}{{- end -}}
{{- end -}}
{{- if not $plain -}}true{{- end -}}
{{- end -}}

{{/* Namespaces that get namespaced RBAC (plain names only). */}}
{{- define "is.rbacNamespaces" -}}
{{- if .Values.operator.namespaces -}}
{{- toJson .Values.operator.namespaces -}}
{{- else -}}
{{- toJson (list .Values.servingNamespace) -}}
{{- end -}}
{{- end -}}

{{- define "is.useCertManager" -}}
{{- $mode := toString .Values.contract.webhook.certManager -}}
{{- if or (eq $mode "true") (and (eq $mode "auto") (.Capabilities.APIVersions.Has "cert-manager.io/v1")) -}}true{{- end -}}
{{- end -}}

{{- define "is.probe" -}}
httpGet: {path: {{ .path }}, port: http}
periodSeconds: {{ .period | default 10 }}
timeoutSeconds: 3
failureThreshold: {{ .failures | default 3 }}
{{- end -}}


{{/* prometheus.io/* pod annotations (for Prometheus without its operator): the port's /metrics. */}}
{{- define "is.scrapeAnnotations" -}}
prometheus.io/scrape: "true"
prometheus.io/port: {{ . | quote }}
prometheus.io/path: /metrics
{{- end -}}
