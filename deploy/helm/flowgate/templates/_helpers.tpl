{{/*
Names, labels and the pieces both Deployments share.
*/}}

{{- define "flowgate.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* `<release>-flowgate`, or the release name when it already contains the chart name. */}}
{{- define "flowgate.fullname" -}}
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

{{/* Name of one component's objects: `<fullname>-<component>` (at most 63 characters). */}}
{{- define "flowgate.componentName" -}}
{{- printf "%s-%s" (include "flowgate.fullname" .root | trunc (int (sub 62 (len .component)))) .component | trimSuffix "-" }}
{{- end }}

{{- define "flowgate.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Selector labels of one component: {root, component}. */}}
{{- define "flowgate.selectorLabels" -}}
app.kubernetes.io/name: {{ include "flowgate.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/*
Labels of one component's pods: {root, component}. Unlike the objects' labels they leave out
helm.sh/chart, so a new chart version that changes nothing in a pod does not roll it.
*/}}
{{- define "flowgate.podLabels" -}}
{{ include "flowgate.selectorLabels" . }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
app.kubernetes.io/part-of: flowgate
{{- with .root.Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* All labels of one component's objects: {root, component}. */}}
{{- define "flowgate.labels" -}}
helm.sh/chart: {{ include "flowgate.chart" .root }}
{{ include "flowgate.selectorLabels" . }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
app.kubernetes.io/part-of: flowgate
{{- with .root.Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- define "flowgate.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "flowgate.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "flowgate.configMapName" -}}
{{- include "flowgate.componentName" (dict "root" . "component" "config") }}
{{- end }}

{{/* The Secret holding credentials: existingSecret, or the chart's own. */}}
{{- define "flowgate.secretName" -}}
{{- default (include "flowgate.fullname" .) .Values.existingSecret }}
{{- end }}

{{/* Whether the chart creates its own Secret. */}}
{{- define "flowgate.createSecret" -}}
{{- if and (not .Values.existingSecret) (or .Values.temporal.apiKey .Values.temporal.tls.clientCert .Values.temporal.tls.clientKey .Values.temporal.tls.ca .Values.otel.headers .Values.webhooks.secrets) }}true{{- end }}
{{- end }}

{{/* Whether any Secret (own or existing) is there to read. */}}
{{- define "flowgate.hasSecret" -}}
{{- if or .Values.existingSecret (include "flowgate.createSecret" .) }}true{{- end }}
{{- end }}

{{/* The image reference of a component: {root, image}; `repository@digest` when a digest is set. */}}
{{- define "flowgate.image" -}}
{{- if .image.digest }}
{{- printf "%s@%s" .image.repository .image.digest }}
{{- else }}
{{- printf "%s:%s" .image.repository (default .root.Chart.AppVersion .image.tag) }}
{{- end }}
{{- end }}

{{/* Temporal's gRPC address: the dev server's Service, or temporal.address. */}}
{{- define "flowgate.temporalAddress" -}}
{{- if .Values.temporal.devServer.enabled }}
{{- printf "%s:%d" (include "flowgate.componentName" (dict "root" . "component" "temporal")) (int .Values.temporal.devServer.service.grpcPort) }}
{{- else }}
{{- required "temporal.address is required (host:port of Temporal's frontend or Temporal Cloud), or set temporal.devServer.enabled=true" .Values.temporal.address }}
{{- end }}
{{- end }}

{{- define "flowgate.temporalNamespace" -}}
{{- if .Values.temporal.devServer.enabled }}{{ .Values.temporal.devServer.namespace }}{{ else }}{{ .Values.temporal.namespace }}{{ end }}
{{- end }}

{{/* The port of a `host:port` address or URL (default: the second argument). */}}
{{- define "flowgate.portOf" -}}
{{- $address := index . 0 }}
{{- $default := index . 1 }}
{{- $hostport := regexReplaceAll "^[a-z][a-z0-9+.-]*://" $address "" | regexReplaceAll "/.*$" "" }}
{{- $port := regexFind ":[0-9]+$" $hostport | trimPrefix ":" }}
{{- default (toString $default) $port }}
{{- end }}

{{/* Task queue the worker polls (and KEDA watches): worker.task_queue, or its old name shopping.task_queue. */}}
{{- define "flowgate.taskQueue" -}}
{{- $worker := default dict .Values.config.worker }}
{{- $shopping := default dict .Values.config.shopping }}
{{- coalesce (index $worker "task_queue") (index $shopping "task_queue") "shopping-tasks" }}
{{- end }}

{{/* terminationGracePeriodSeconds of the API: above preStop + drain delay + grace. */}}
{{- define "flowgate.api.terminationGrace" -}}
{{- $api := .Values.api }}
{{- $drain := add $api.preStopSleepSeconds $api.shutdownDelaySeconds $api.shutdownGraceSeconds }}
{{- if kindIs "invalid" $api.terminationGracePeriodSeconds }}
{{- add $drain 10 }}
{{- else if le (int $api.terminationGracePeriodSeconds) (int $drain) }}
{{- fail (printf "api.terminationGracePeriodSeconds (%v) must exceed preStopSleepSeconds + shutdownDelaySeconds + shutdownGraceSeconds (%v), or in-flight requests are killed" $api.terminationGracePeriodSeconds $drain) }}
{{- else }}
{{- $api.terminationGracePeriodSeconds }}
{{- end }}
{{- end }}

{{/*
Milliseconds of a duration as the configuration file writes it ("35s", "1m 30s", "500ms"):
(list KEY TEXT), KEY naming the value in the failure message.
*/}}
{{- define "flowgate.durationMs" -}}
{{- $key := index . 0 }}
{{- $text := toString (index . 1) }}
{{- $units := dict "ms" 1 "msec" 1 "s" 1000 "sec" 1000 "second" 1000 "seconds" 1000 "m" 60000 "min" 60000 "minute" 60000 "minutes" 60000 "h" 3600000 "hr" 3600000 "hour" 3600000 "hours" 3600000 "d" 86400000 "day" 86400000 "days" 86400000 }}
{{- $parts := regexFindAll "[0-9]+ *[a-z]+" $text -1 }}
{{- $invalid := printf "%s (%q) is not a duration such as \"35s\", \"1m 30s\" or \"500ms\"" $key $text }}
{{- if or (not $parts) (ne (join "" $parts | nospace) (nospace $text)) }}
{{- fail $invalid }}
{{- end }}
{{- $total := 0 }}
{{- range $parts }}
{{- $unit := regexReplaceAll "^[0-9]+ *" . "" }}
{{- if not (hasKey $units $unit) }}
{{- fail $invalid }}
{{- end }}
{{- $total = add $total (mul (regexFind "^[0-9]+" . | atoi) (get $units $unit)) }}
{{- end }}
{{- $total }}
{{- end }}

{{/*
The API's drain outlasts its longest request: waits end when the drain begins, but any request
may take up to api.request_timeout (35s, the default of crates/config/src/default.toml; a
deploy check keeps the two equal), so a shorter grace would cut requests.
*/}}
{{- define "flowgate.api.checkGrace" -}}
{{- $config := default dict .Values.config.api }}
{{- $timeout := toString (default "35s" (index $config "request_timeout")) }}
{{- $timeoutMs := include "flowgate.durationMs" (list "config.api.request_timeout" $timeout) | atoi }}
{{- $grace := int .Values.api.shutdownGraceSeconds }}
{{- if lt (mul $grace 1000) $timeoutMs }}
{{- fail (printf "api.shutdownGraceSeconds (%d) must be at least config.api.request_timeout (%s), or a drain could cut requests" $grace $timeout) }}
{{- end }}
{{- end }}

{{/* terminationGracePeriodSeconds of the worker: above its drain period. */}}
{{- define "flowgate.worker.terminationGrace" -}}
{{- $worker := .Values.worker }}
{{- if kindIs "invalid" $worker.terminationGracePeriodSeconds }}
{{- add $worker.shutdownGraceSeconds 15 }}
{{- else if le (int $worker.terminationGracePeriodSeconds) (int $worker.shutdownGraceSeconds) }}
{{- fail (printf "worker.terminationGracePeriodSeconds (%v) must exceed worker.shutdownGraceSeconds (%v), or running activities are killed" $worker.terminationGracePeriodSeconds $worker.shutdownGraceSeconds) }}
{{- else }}
{{- $worker.terminationGracePeriodSeconds }}
{{- end }}
{{- end }}

{{/*
Sections of `config` only the API reads, and the worker's own settings (all of `worker` but the
task queue, which the API starts workflows on). A section not listed is read by both processes.
*/}}
{{- define "flowgate.apiOnlySections" -}}
{{- list "api" "auth" "limits" "cors" "metrics" | toJson }}
{{- end }}

{{/*
The configuration file of one process, {root, component}: `config` with what the chart decides
(listen addresses, ports, shutdown timings) laid over it, so probes, Services and the processes
always agree, less what only the other process reads. A change that concerns one process
therefore rolls only its pods (their `checksum/config`).
*/}}
{{- define "flowgate.configToml" -}}
{{- $v := .root.Values }}
{{- $config := deepCopy (default dict $v.config) }}
{{- if eq .component "api" }}
{{- $api := dict "host" "0.0.0.0" "port" (int $v.api.port) "shutdown_delay" (printf "%ds" (int $v.api.shutdownDelaySeconds)) "shutdown_grace" (printf "%ds" (int $v.api.shutdownGraceSeconds)) }}
{{- $_ := set $config "api" (mergeOverwrite (default dict $config.api) $api) }}
{{- $metrics := dict "api_admin_host" "0.0.0.0" "api_admin_port" (int $v.api.metricsPort) }}
{{- $_ := set $config "metrics" (mergeOverwrite (default dict $config.metrics) $metrics) }}
{{- $worker := pick (default dict $config.worker) "task_queue" }}
{{- if $worker }}{{ $_ := set $config "worker" $worker }}{{ else }}{{ $_ := unset $config "worker" }}{{ end }}
{{- if $v.api.auth.existingSecret }}
{{- /* The keys and token settings come from the Secret's file; authentication is on. */}}
{{- $_ := set $config "auth" (mergeOverwrite (default dict $config.auth) (dict "enabled" true)) }}
{{- end }}
{{- else }}
{{- range include "flowgate.apiOnlySections" . | fromJsonArray }}
{{- $_ := unset $config . }}
{{- end }}
{{- $worker := dict "health_host" "0.0.0.0" "health_port" (int $v.worker.healthPort) "shutdown_grace" (printf "%ds" (int $v.worker.shutdownGraceSeconds)) }}
{{- $_ := set $config "worker" (mergeOverwrite (default dict $config.worker) $worker) }}
{{- end }}
{{- toToml $config }}
{{- end }}

{{/* Whether the API authenticates callers: config.auth.enabled, or keys from api.auth.existingSecret. */}}
{{- define "flowgate.authEnabled" -}}
{{- if or (dig "auth" "enabled" false (default dict .Values.config)) .Values.api.auth.existingSecret }}true{{ end }}
{{- end }}

{{/* Where the API reads the file of api.auth.existingSecret. */}}
{{- define "flowgate.authFile" -}}
/etc/flowgate/auth/auth.toml
{{- end }}

{{/* Environment both processes share: {root, component}. */}}
{{- define "flowgate.env" -}}
{{- $v := .root.Values -}}
- name: FLOWGATE_CONFIG
  {{- if and (eq .component "api") $v.api.auth.existingSecret }}
  # The chart's file, then the Secret's over it (its keys win).
  value: {{ printf "/etc/flowgate/flowgate.toml:%s" (include "flowgate.authFile" .root) }}
  {{- else }}
  value: /etc/flowgate/flowgate.toml
  {{- end }}
- name: TEMPORAL_ADDRESS
  value: {{ include "flowgate.temporalAddress" .root | quote }}
- name: TEMPORAL_NAMESPACE
  value: {{ include "flowgate.temporalNamespace" .root | quote }}
{{- if include "flowgate.hasSecret" .root }}
- name: TEMPORAL_API_KEY
  valueFrom:
    secretKeyRef:
      name: {{ include "flowgate.secretName" .root }}
      key: temporal-api-key
      optional: true
{{- end }}
{{- if not (kindIs "invalid" $v.temporal.tls.enabled) }}
- name: TEMPORAL_TLS
  value: {{ $v.temporal.tls.enabled | quote }}
{{- end }}
{{- with $v.temporal.tls.serverName }}
- name: TEMPORAL_TLS_SERVER_NAME
  value: {{ . | quote }}
{{- end }}
{{- if $v.temporal.tls.mtls }}
- name: TEMPORAL_TLS_CLIENT_CERT_PATH
  value: /etc/flowgate/secrets/temporal-tls.crt
- name: TEMPORAL_TLS_CLIENT_KEY_PATH
  value: /etc/flowgate/secrets/temporal-tls.key
{{- end }}
{{- if $v.temporal.tls.customCA }}
- name: TEMPORAL_TLS_SERVER_CA_CERT_PATH
  value: /etc/flowgate/secrets/temporal-ca.crt
{{- end }}
- name: OTEL_SERVICE_NAME
  value: flowgate-{{ .component }}
{{- with $v.otel.endpoint }}
- name: OTEL_EXPORTER_OTLP_ENDPOINT
  value: {{ . | quote }}
- name: OTEL_EXPORTER_OTLP_PROTOCOL
  value: {{ $v.otel.protocol | quote }}
{{- end }}
{{- if and $v.otel.endpoint (include "flowgate.hasSecret" .root) }}
- name: OTEL_EXPORTER_OTLP_HEADERS
  valueFrom:
    secretKeyRef:
      name: {{ include "flowgate.secretName" .root }}
      key: otlp-headers
      optional: true
{{- end }}
{{- with $v.otel.resourceAttributes }}
- name: OTEL_RESOURCE_ATTRIBUTES
  value: {{ . | quote }}
{{- end }}
{{- with $v.otel.sampler }}
- name: OTEL_TRACES_SAMPLER
  value: {{ . | quote }}
{{- end }}
{{- with $v.otel.samplerArg }}
- name: OTEL_TRACES_SAMPLER_ARG
  value: {{ . | quote }}
{{- end }}
{{- end }}

{{/*
Volumes of one component's pods, {root, component}: its config file, the Secret's files when TLS
material is used, the API's configuration from api.auth.existingSecret, /tmp.
*/}}
{{- define "flowgate.volumes" -}}
{{- $v := .root.Values -}}
- name: config
  configMap:
    name: {{ include "flowgate.configMapName" .root }}
    items:
      - key: {{ .component }}.toml
        path: {{ .component }}.toml
{{- if and (include "flowgate.hasSecret" .root) (or $v.temporal.tls.mtls $v.temporal.tls.customCA) }}
- name: secrets
  secret:
    secretName: {{ include "flowgate.secretName" .root }}
    defaultMode: 0440
{{- end }}
{{- if and (eq .component "api") $v.api.auth.existingSecret }}
- name: auth
  secret:
    secretName: {{ $v.api.auth.existingSecret }}
    defaultMode: 0440
    items:
      - key: {{ $v.api.auth.existingSecretKey }}
        path: {{ base (include "flowgate.authFile" .root) }}
{{- end }}
- name: tmp
  emptyDir:
    sizeLimit: 16Mi
{{- end }}

{{- define "flowgate.volumeMounts" -}}
{{- $v := .root.Values -}}
- name: config
  mountPath: /etc/flowgate/flowgate.toml
  subPath: {{ .component }}.toml
  readOnly: true
{{- if and (include "flowgate.hasSecret" .root) (or $v.temporal.tls.mtls $v.temporal.tls.customCA) }}
- name: secrets
  mountPath: /etc/flowgate/secrets
  readOnly: true
{{- end }}
{{- if and (eq .component "api") $v.api.auth.existingSecret }}
- name: auth
  mountPath: {{ dir (include "flowgate.authFile" .root) }}
  readOnly: true
{{- end }}
- name: tmp
  mountPath: /tmp
{{- end }}

{{/*
Pod annotations that roll one component's pods, {root, component}, when what that process reads
changes: its config file, and the credentials of the chart's Secret it is given (the webhook
signing secrets only to the worker). Changes inside a Secret of yours (existingSecret,
api.auth.existingSecret) are invisible to Helm: see the README.
*/}}
{{- define "flowgate.checksums" -}}
{{- $v := .root.Values -}}
checksum/config: {{ include "flowgate.configToml" . | sha256sum }}
{{- if include "flowgate.createSecret" .root }}
{{- $secret := dict "temporal-api-key" $v.temporal.apiKey "temporal-tls.crt" $v.temporal.tls.clientCert "temporal-tls.key" $v.temporal.tls.clientKey "temporal-ca.crt" $v.temporal.tls.ca "otlp-headers" $v.otel.headers }}
{{- if eq .component "worker" }}
{{- $_ := set $secret "webhook-secrets" $v.webhooks.secrets }}
{{- end }}
checksum/secret: {{ toJson $secret | sha256sum }}
{{- end }}
{{- end }}

{{/*
Replicas of one component, {values, default}: `replicas`, or the default when it is null.
*/}}
{{- define "flowgate.replicas" -}}
{{- if kindIs "invalid" .values.replicas }}{{ .default }}{{ else }}{{ .values.replicas }}{{ end }}
{{- end }}

{{/*
Fewest replicas of an autoscaled component, {name, values, default}: autoscaling.minReplicas,
else `replicas` when set (so a replica count set beside autoscaling is its floor, not silently
dropped), else the default. Both set and different is refused.
*/}}
{{- define "flowgate.minReplicas" -}}
{{- $auto := .values.autoscaling }}
{{- $replicas := .values.replicas }}
{{- if and (not (kindIs "invalid" $auto.minReplicas)) (not (kindIs "invalid" $replicas)) (ne (int $auto.minReplicas) (int $replicas)) }}
{{- fail (printf "%s.replicas (%v) and %s.autoscaling.minReplicas (%v) disagree: with %s.autoscaling.enabled the autoscaler sets the replicas, and %s.replicas would be its floor. Remove one of them, or make them equal" .name $replicas .name $auto.minReplicas .name .name) }}
{{- end }}
{{- if not (kindIs "invalid" $auto.minReplicas) }}{{ $auto.minReplicas }}
{{- else if not (kindIs "invalid" $replicas) }}{{ $replicas }}
{{- else }}{{ .default }}
{{- end }}
{{- end }}

{{/*
The spec of one component's PodDisruptionBudget, {name, values}: minAvailable or maxUnavailable
(1 when neither is set), and the unhealthy pod eviction policy.
*/}}
{{- define "flowgate.pdbSpec" -}}
{{- $pdb := .values.podDisruptionBudget }}
{{- $min := $pdb.minAvailable }}
{{- $max := $pdb.maxUnavailable -}}
{{- if and (not (kindIs "invalid" $min)) (not (kindIs "invalid" $max)) }}
{{- fail (printf "%s.podDisruptionBudget: set minAvailable (%v) or maxUnavailable (%v), not both (Kubernetes accepts one)" .name $min $max) }}
{{- end }}
{{- if not (kindIs "invalid" $min) }}
minAvailable: {{ if kindIs "string" $min }}{{ quote $min }}{{ else }}{{ $min }}{{ end }}
{{- else }}
maxUnavailable: {{ if kindIs "invalid" $max }}1{{ else if kindIs "string" $max }}{{ quote $max }}{{ else }}{{ $max }}{{ end }}
{{- end }}
{{- with $pdb.unhealthyPodEvictionPolicy }}
unhealthyPodEvictionPolicy: {{ . }}
{{- end }}
{{- end }}

{{/* The default topology spread of one component over nodes: {root, component, values}. */}}
{{- define "flowgate.topologySpread" -}}
{{- if .values.topologySpreadConstraints }}
topologySpreadConstraints:
  {{- toYaml .values.topologySpreadConstraints | nindent 2 }}
{{- else if .values.topologySpread }}
topologySpreadConstraints:
  - maxSkew: 1
    topologyKey: kubernetes.io/hostname
    whenUnsatisfiable: ScheduleAnyway
    labelSelector:
      matchLabels:
        {{- include "flowgate.selectorLabels" . | nindent 8 }}
{{- end }}
{{- end }}

{{/*
How KEDA's temporal scaler must connect so that it matches the worker, as YAML:
`apiKey` (KEDA gets temporal-api-key), `cert` (temporal-tls.crt/.key), `ca` (temporal-ca.crt),
`tls` (the connection is TLS). The worker's TLS follows Temporal's convention: temporal.tls.enabled
when set, otherwise on with an API key, a client certificate or a custom CA. KEDA opens TLS only
with an API key (enableTLS, default true) or a client certificate, so a worker on TLS without
either cannot be watched by KEDA and is refused.
*/}}
{{- define "flowgate.keda.connection" -}}
{{- $tls := .Values.temporal.tls }}
{{- $keda := .Values.worker.autoscaling.keda }}
{{- $apiKey := .Values.temporal.apiKey }}
{{- if not (kindIs "invalid" $keda.useApiKey) }}{{ $apiKey = $keda.useApiKey }}{{ end }}
{{- $apiKey = not (not (and $apiKey (include "flowgate.hasSecret" .))) }}
{{- $cert := not (not (and $tls.mtls (include "flowgate.hasSecret" .))) }}
{{- $on := not (not (or $apiKey $cert $tls.customCA)) }}
{{- if not (kindIs "invalid" $tls.enabled) }}{{ $on = $tls.enabled }}{{ end }}
{{- if and $on (not $apiKey) (not $cert) }}
{{- fail "worker.autoscaling.type keda: the worker connects to Temporal over TLS, but KEDA's temporal scaler opens TLS only with an API key or a client certificate. Give KEDA the API key (temporal.apiKey, or existingSecret with worker.autoscaling.keda.useApiKey: true), use mTLS (temporal.tls.mtls), or scale the worker with worker.autoscaling.type: hpa" }}
{{- end }}
{{- if and $cert (not $on) }}
{{- fail "temporal.tls.mtls with temporal.tls.enabled false: a client certificate needs TLS (KEDA's temporal scaler always uses TLS with one); set temporal.tls.enabled to true or null" }}
{{- end }}
{{- $fallback := $keda.fallback }}
{{- if and $fallback.enabled (gt (int $fallback.replicas) (int .Values.worker.autoscaling.maxReplicas)) }}
{{- fail (printf "worker.autoscaling.keda.fallback.replicas (%v) exceeds worker.autoscaling.maxReplicas (%v)" $fallback.replicas .Values.worker.autoscaling.maxReplicas) }}
{{- end }}
apiKey: {{ $apiKey }}
cert: {{ $cert }}
ca: {{ not (not (and $on $tls.customCA)) }}
tls: {{ $on }}
{{- end }}

{{/*
PromQL label matchers selecting this release's own series, for the alert rules and the dashboards:
metrics.prometheusRule.selector, or by default the release's namespace and its Services (the
ServiceMonitor's jobs are the Service names).
*/}}
{{- define "flowgate.metricsSelector" -}}
{{- $selector := .Values.metrics.prometheusRule.selector }}
{{- if not $selector }}
{{- $api := include "flowgate.componentName" (dict "root" . "component" "api") }}
{{- $worker := include "flowgate.componentName" (dict "root" . "component" "worker") }}
{{- $selector = printf "namespace=%q, job=~%q" .Release.Namespace (printf "%s|%s" (regexQuoteMeta $api) (regexQuoteMeta $worker)) }}
{{- end }}
{{- $selector }}
{{- end }}
