{{/*
Helpers. This chart only uses the template subset that tests/tests/deploy.rs can render
(see README.md): define/include, if/else if/else, range, with, variables from range,
and the functions default, quote, toYaml, nindent, printf, trunc, trimSuffix, replace,
join, toString, omit, merge, dict, kindIs, eq, ne, and, or, not, fail.
*/}}

{{/* Chart name: label app.kubernetes.io/name and prefix of the namespaced Role names. */}}
{{- define "sealed-secrets.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
Name of the controller's Deployment, Services, ServiceAccount and ClusterRoleBinding.
Unlike upstream's chart it does not depend on the release name: it is the name kubeseal
looks for by default (upstream issue #571).
*/}}
{{- define "sealed-secrets.fullname" -}}
{{- default "sealed-secrets-controller" .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The controller's namespace (its keys live there): the release namespace by default. */}}
{{- define "sealed-secrets.namespace" -}}
{{- default .Release.Namespace .Values.namespace -}}
{{- end -}}

{{- define "sealed-secrets.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "sealed-secrets.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "sealed-secrets.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/*
Labels of every object. The last three are Helm bookkeeping and are the only labels that
deploy/controller.yaml does not carry.
*/}}
{{- define "sealed-secrets.labels" -}}
app.kubernetes.io/name: {{ include "sealed-secrets.name" . }}
app.kubernetes.io/part-of: sealed-secrets
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
app.kubernetes.io/instance: {{ .Release.Name | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ include "sealed-secrets.chart" . }}
{{- end -}}

{{/* Pod labels used by the Deployment selector and both Services (as upstream's controller.yaml). */}}
{{- define "sealed-secrets.selectorLabels" -}}
name: {{ include "sealed-secrets.fullname" . }}
{{- end -}}

{{- define "sealed-secrets.image" -}}
{{- if .Values.image.registry -}}
{{ .Values.image.registry }}/
{{- end -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{/* `k1=v1,k2=v2` from a map of strings (for --privatekey-labels/--privatekey-annotations). */}}
{{- define "sealed-secrets.kvList" -}}
{{- range $k, $v := . -}}
{{- if not (kindIs "string" $v) -}}
{{- fail "privateKeyAnnotations and privateKeyLabels values must be strings" -}}
{{- end -}}
{{ $k }}={{ $v }},
{{- end -}}
{{- end -}}

{{/*
What the controller does with the API, as rules (a ClusterRole by default, or a Role per
watched namespace with rbac.namespacedRoles). The justification of each rule is in
deploy/controller.yaml.
*/}}
{{- define "sealed-secrets.unsealerRules" -}}
# SealedSecret informer (list + watch); get: a new leader reads new or changed SealedSecrets
# as they are now before reconciling them ahead of its initial list.
- apiGroups: ["bitnami.com"]
  resources: ["sealedsecrets"]
  verbs: ["get", "list", "watch"]
# Status is written with a JSON merge patch of the status subresource.
- apiGroups: ["bitnami.com"]
  resources: ["sealedsecrets/status"]
  verbs: ["patch"]
# get: live read before each write; create/update: the unsealed Secret (full PUT);
# list/watch: the metadata-only recreate/drift watch (absent with skipRecreate);
# delete: only for oldGcBehavior (otherwise ownerReference garbage collection).
- apiGroups: [""]
  resources: ["secrets"]
  verbs: ["get",{{ if not .Values.skipRecreate }} "list", "watch",{{ end }} "create", "update"{{ if .Values.oldGcBehavior }}, "delete"{{ end }}]
# Events through events.k8s.io/v1 (controller events.rs): create, and patch for a series.
- apiGroups: ["events.k8s.io"]
  resources: ["events"]
  verbs: ["create", "patch"]
{{- end -}}

{{/* Role + RoleBinding with the unsealer rules in one namespace (rbac.namespacedRoles). */}}
{{- define "sealed-secrets.namespacedUnsealer" -}}
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: {{ .ctx.Values.rbac.namespacedRolesName }}
  namespace: {{ .namespace }}
  labels:
    {{- include "sealed-secrets.labels" .ctx | nindent 4 }}
    {{- with .ctx.Values.rbac.labels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  {{- with .ctx.Values.commonAnnotations }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
rules:
  {{- include "sealed-secrets.unsealerRules" .ctx | nindent 2 }}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: {{ .ctx.Values.rbac.namespacedRolesName }}
  namespace: {{ .namespace }}
  labels:
    {{- include "sealed-secrets.labels" .ctx | nindent 4 }}
    {{- with .ctx.Values.rbac.labels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  {{- with .ctx.Values.commonAnnotations }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: Role
  name: {{ .ctx.Values.rbac.namespacedRolesName }}
subjects:
  - kind: ServiceAccount
    name: {{ include "sealed-secrets.serviceAccountName" .ctx }}
    namespace: {{ include "sealed-secrets.namespace" .ctx }}
{{- end -}}

{{/*
One NetworkPolicy `from` peer (a list item) from a dict with namespaceSelector and podSelector
(LabelSelectors; at least one is not empty): the pods matching podSelector (all if empty) in the
namespaces matching namespaceSelector (the policy's namespace if empty).
*/}}
{{- define "sealed-secrets.networkPolicyPeer" -}}
{{- if .namespaceSelector -}}
- namespaceSelector:
    {{- toYaml .namespaceSelector | nindent 4 }}
  {{- with .podSelector }}
  podSelector:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- else -}}
- podSelector:
    {{- toYaml .podSelector | nindent 4 }}
{{- end -}}
{{- end -}}
