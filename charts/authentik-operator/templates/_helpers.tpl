{{/* The chart name, shortened to fit a label value. */}}
{{- define "authentik-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The full name of the release's objects. Cluster-scoped objects (ClusterRole and its binding)
carry it too, so two releases never collide.
*/}}
{{- define "authentik-operator.fullname" -}}
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

{{- define "authentik-operator.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels of every object. */}}
{{- define "authentik-operator.labels" -}}
helm.sh/chart: {{ include "authentik-operator.chart" . }}
{{ include "authentik-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | trunc 63 | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: authentik-operator
{{- end }}

{{/* Labels that select the operator's pods (immutable once installed). */}}
{{- define "authentik-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "authentik-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "authentik-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "authentik-operator.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* "true" when leader election is on: asked for, or more than one replica. */}}
{{- define "authentik-operator.leaderElection" -}}
{{- if or .Values.leaderElection.enabled (gt (int .Values.replicas) 1) }}true{{ else }}false{{ end }}
{{- end }}

{{/* The Lease the replicas compete for: one per release. */}}
{{- define "authentik-operator.leaseName" -}}
{{- include "authentik-operator.fullname" . }}
{{- end }}

{{/* The image reference: repository, then @digest or :tag (default: appVersion). */}}
{{- define "authentik-operator.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) }}
{{- end }}
{{- end }}
