{{- define "timecamp-scim.fullname" -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 52 | trimSuffix "-" -}}
{{- end -}}

{{- define "timecamp-scim.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "timecamp-scim.claimName" -}}
{{- if .Values.storage.volume.existingClaim -}}
{{- .Values.storage.volume.existingClaim -}}
{{- else -}}
{{- printf "%s-var" (include "timecamp-scim.fullname" .) -}}
{{- end -}}
{{- end -}}
