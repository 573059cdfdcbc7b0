{{/*
The release's name for its objects: fullnameOverride, or the release name when
it already holds the chart's name, or "<release>-<chart>". At most 52
characters; the names of components are cut further (see componentName).
*/}}
{{- define "timecamp-scim.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 52 | trimSuffix "-" -}}
{{- else if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 52 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 52 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/*
The name of one component ("<fullname>-<component>"), the full name cut so
that the whole fits `max` characters: 52 for a CronJob (the Job controller
appends an 11-character suffix and a Job's name is a 63-character label),
63 for a Deployment or Service. Cutting after appending would lose the
component's name, or overflow.
  include "timecamp-scim.componentName" (dict "root" $ "component" "sync-users" "max" 52)
*/}}
{{- define "timecamp-scim.componentName" -}}
{{- $max := .max | default 63 | int -}}
{{- $room := sub $max (add1 (len .component)) | int -}}
{{- printf "%s-%s" (include "timecamp-scim.fullname" .root | trunc $room | trimSuffix "-") .component -}}
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

{{/*
Fails the install, instead of rendering jobs that exit 2 every hour, when a
value every run needs is missing.
*/}}
{{- define "timecamp-scim.validate" -}}
{{- $ := . -}}
{{- $_ := required "existingSecret: name the Kubernetes Secret that holds TIMECAMP_API_KEY (and the source's and S3's keys)" .Values.existingSecret -}}
{{- $_ := required "image.repository: where the image is (see docs/operations.md, \"The image\")" .Values.image.repository -}}
{{- range $stage := list "sync-users" "remove-empty-groups" -}}
{{- $job := index $.Values.jobs $stage | default dict -}}
{{- if $job.enabled -}}
{{- $_ := required (printf "config.TIMECAMP_ROOT_GROUP_ID: the id of the TimeCamp group %s manages (docs/operations.md)" $stage) (toString ($.Values.config.TIMECAMP_ROOT_GROUP_ID | default "")) -}}
{{- end -}}
{{- end -}}
{{- if not (has .Values.storage.mode (list "s3" "volume")) -}}
{{- fail (printf "storage.mode: %q is neither s3 nor volume" .Values.storage.mode) -}}
{{- end -}}
{{- if eq .Values.storage.mode "s3" -}}
{{- $_ := required "config.S3_BUCKET_NAME: storage.mode is s3, so the stages share their files through this bucket" (toString (.Values.config.S3_BUCKET_NAME | default "")) -}}
{{- end -}}
{{- if .Values.scimServer.enabled -}}
{{- $_ := required "config.TIMECAMP_ROOT_GROUP_ID: the id of the TimeCamp group scim-server syncs into (docs/scim-server.md)" (toString (.Values.config.TIMECAMP_ROOT_GROUP_ID | default "")) -}}
{{- range $stage, $job := .Values.jobs -}}
{{- if and $job.enabled (or (hasPrefix "fetch-" $stage) (has $stage (list "prepare-timecamp" "sync-users"))) -}}
{{- fail (printf "jobs.%s.enabled: scimServer.enabled is true, and scim-server writes var/users.json and syncs by itself (a fetcher would overwrite the pushed users, sync-users would disable everyone the identity provider never pushed); set it to false" $stage) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/*
The pod of a program: the security settings the restricted Pod Security
Standard asks for, the settings (ConfigMap) and secrets (Secret) as
environment variables, var/ (a volume, or an emptyDir with S3), /tmp. Used by
every CronJob; a long-running program gets the same pod in a Deployment:
  spec:
    template:
      spec:
        {{- include "timecamp-scim.podSpec" (dict "root" $ "name" "scim-server" "program" "scim-server" "container" (dict "ports" (list (dict "containerPort" 8080)))) | nindent 8 }}
`args` are the program's flags; `container` is merged into the container
(ports, probes).
*/}}
{{- define "timecamp-scim.podSpec" -}}
{{- $root := .root -}}
{{- with $root.Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $root.Values.serviceAccountName }}
serviceAccountName: {{ . }}
{{- end }}
automountServiceAccountToken: {{ $root.Values.automountServiceAccountToken }}
securityContext:
  runAsNonRoot: true
  runAsUser: 1000
  runAsGroup: 1000
  fsGroup: 1000
  seccompProfile:
    type: RuntimeDefault
containers:
  - name: {{ .name }}
    image: "{{ $root.Values.image.repository }}:{{ $root.Values.image.tag }}"
    imagePullPolicy: {{ $root.Values.image.pullPolicy }}
    command: ["/usr/bin/tini", "--", {{ .program | quote }}]
    {{- with .args }}
    args:
      {{- toYaml . | nindent 6 }}
    {{- end }}
    envFrom:
      - configMapRef:
          name: {{ include "timecamp-scim.fullname" $root }}
      - secretRef:
          name: {{ $root.Values.existingSecret }}
    securityContext:
      runAsNonRoot: true
      allowPrivilegeEscalation: false
      readOnlyRootFilesystem: true
      capabilities:
        drop: ["ALL"]
    resources:
      {{- toYaml $root.Values.resources | nindent 6 }}
    volumeMounts:
      - name: var
        mountPath: /app/var
      - name: tmp
        mountPath: /tmp
    {{- with .container }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
volumes:
  - name: var
    {{- if eq $root.Values.storage.mode "volume" }}
    persistentVolumeClaim:
      claimName: {{ include "timecamp-scim.claimName" $root }}
    {{- else }}
    emptyDir: {}
    {{- end }}
  - name: tmp
    emptyDir: {}
{{- with $root.Values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $root.Values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $root.Values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}
