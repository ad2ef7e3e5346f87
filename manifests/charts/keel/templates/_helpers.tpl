{{/*
Labels on every object: Kubernetes' recommended set, plus Istio's `release`.
*/}}
{{- define "keel.labels" -}}
app.kubernetes.io/name: keel
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
release: {{ .Release.Name }}
{{- end }}

{{/*
The labels Istio's tools and the istiod Service/PDB selectors look for.
*/}}
{{- define "keel.istiodLabels" -}}
app: istiod
istio: pilot
istio.io/rev: {{ include "keel.revision" . | quote }}
{{- end }}

{{/*
The control plane's revision (Istio's `revision` value; "" is "default"), and the
suffix its objects' names carry ("-<revision>", "" for the default), as Istio's chart.
*/}}
{{- define "keel.revision" -}}
{{ .Values.revision | default "default" }}
{{- end }}
{{- define "keel.suffix" -}}
{{ if .Values.revision }}-{{ .Values.revision }}{{ end }}
{{- end }}

{{/*
HUB/IMAGE:TAG (see values.yaml).
*/}}
{{- define "keel.image" -}}
{{- $hub := .Values.hub | default .Values.global.hub -}}
{{- $tag := .Values.tag | default .Values.global.tag | default .Chart.AppVersion -}}
{{- if contains "/" .Values.image -}}
{{ .Values.image }}
{{- else if $hub -}}
{{ printf "%s/%s:%s" $hub .Values.image $tag }}
{{- else -}}
{{ printf "%s:%s" .Values.image $tag }}
{{- end -}}
{{- end }}

{{/*
The mesh config: the chart's defaults with .Values.meshConfig merged over them (as
Istio's istiod chart does), as YAML. Callers that need a field use `fromYaml`.
*/}}
{{- define "keel.mesh" -}}
{{- $defaults := dict
      "trustDomain" "cluster.local"
      "rootNamespace" .Release.Namespace
      "defaultConfig" (dict "discoveryAddress" (printf "istiod%s.%s.svc:15012" (include "keel.suffix" .) .Release.Namespace)) -}}
{{- $t := .Values.telemetry -}}
{{- if and (not .Values.meshConfig.defaultProviders) $t.enabled $t.v2.enabled $t.v2.prometheus.enabled -}}
{{- $_ := set $defaults "defaultProviders" (dict "metrics" (list "prometheus")) -}}
{{- end -}}
{{- toYaml (mergeOverwrite $defaults (deepCopy .Values.meshConfig)) -}}
{{- end }}

{{/*
keel-discovery --log-level from global.logging.level ("info" or Istio's "default:info").
*/}}
{{- define "keel.logLevel" -}}
{{- trimPrefix "default:" .Values.global.logging.level -}}
{{- end }}

{{/*
Checks values.schema.json cannot express (it sees one value at a time). Rendering
stops with the message.
*/}}
{{- define "keel.validate" -}}
{{- if and .Values.autoscaleEnabled (gt (int .Values.autoscaleMin) (int .Values.autoscaleMax)) -}}
{{- fail (printf "autoscaleMin (%d) must not be greater than autoscaleMax (%d)" (int .Values.autoscaleMin) (int .Values.autoscaleMax)) -}}
{{- end -}}
{{- if not .Values.global.controlPlaneSecurityEnabled -}}
{{- fail "global.controlPlaneSecurityEnabled=false is not supported: Keel always serves xDS and the CA over TLS on port 15012 (as istiod does since Istio 1.5)" -}}
{{- end -}}
{{- end }}

{{/*
The `values` of ConfigMap istio-sidecar-injector: Istio's injection values (its
values.yaml names), from the chart's global.proxy, global.proxy_init and
sidecarInjectorWebhook and what the chart passes keel-discovery (--system-namespace,
--domain, --ca-audience), as JSON. keel-discovery's injector reads them
(pilot/inject/injector_values.cc), as do the Go templates of `config`.
*/}}
{{- define "keel.injectionValues" -}}
{{- $proxy := .Values.global.proxy }}
{{- $values := dict
    "revision" .Values.revision
    "sidecarInjectorWebhook" (dict "rewriteAppHTTPProbe" .Values.sidecarInjectorWebhook.rewriteAppHTTPProbe)
    "global" (dict
      "hub" (.Values.global.hub | default "docker.io/istio")
      "tag" "1.31.0"
      "imagePullPolicy" .Values.global.imagePullPolicy
      "istioNamespace" .Release.Namespace
      "caAddress" ""
      "network" ""
      "meshID" ""
      "pilotCertProvider" "istiod"
      "multiCluster" (dict "clusterName" "")
      "logging" (dict "level" .Values.global.logging.level)
      "sds" (dict "token" (dict "aud" (first (splitList "," .Values.global.sds.token.aud))))
      "proxy_init" (dict "image" .Values.global.proxy_init.image)
      "proxy" (dict
        "image" $proxy.image
        "clusterDomain" $proxy.clusterDomain
        "logLevel" $proxy.logLevel
        "componentLogLevel" $proxy.componentLogLevel
        "statusPort" $proxy.statusPort
        "readinessInitialDelaySeconds" $proxy.readinessInitialDelaySeconds
        "readinessPeriodSeconds" $proxy.readinessPeriodSeconds
        "readinessFailureThreshold" $proxy.readinessFailureThreshold
        "startupProbe" $proxy.startupProbe
        "includeIPRanges" $proxy.includeIPRanges
        "excludeIPRanges" $proxy.excludeIPRanges
        "includeInboundPorts" $proxy.includeInboundPorts
        "excludeInboundPorts" $proxy.excludeInboundPorts
        "includeOutboundPorts" $proxy.includeOutboundPorts
        "excludeOutboundPorts" $proxy.excludeOutboundPorts
        "privileged" $proxy.privileged
        "holdApplicationUntilProxyStarts" $proxy.holdApplicationUntilProxyStarts
        "resources" $proxy.resources))
-}}
{{ toPrettyJson $values }}
{{- end }}
