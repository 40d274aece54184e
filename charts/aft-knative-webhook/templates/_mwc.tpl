{{- define "aft-knative-webhook.mwc" -}}
{{- $root := .root -}}
{{- $svc := include "aft-knative-webhook.fullname" $root -}}
apiVersion: admissionregistration.k8s.io/v1
kind: MutatingWebhookConfiguration
metadata:
  name: {{ $svc }}
  labels: {{- include "aft-knative-webhook.labels" $root | nindent 4 }}
  {{- if eq $root.Values.tls.mode "certManager" }}
  annotations:
    cert-manager.io/inject-ca-from: {{ $root.Release.Namespace }}/{{ $svc }}
  {{- end }}
webhooks:
  - name: services.aft.dev
    admissionReviewVersions: [v1]
    sideEffects: None
    failurePolicy: {{ $root.Values.failurePolicy }}
    timeoutSeconds: {{ $root.Values.timeoutSeconds }}
    reinvocationPolicy: IfNeeded
    clientConfig:
      service:
        name: {{ $svc }}
        namespace: {{ $root.Release.Namespace }}
        path: /mutate
        port: 443
      {{- with .caBundle }}
      caBundle: {{ . }}
      {{- end }}
    rules:
      - apiGroups: [serving.knative.dev]
        apiVersions: [v1]
        resources: [services]
        operations: [CREATE, UPDATE]
        scope: Namespaced
    namespaceSelector:
      {{- with $root.Values.namespaceSelector.matchLabels }}
      matchLabels: {{- toYaml . | nindent 8 }}
      {{- end }}
      matchExpressions:
        - key: kubernetes.io/metadata.name
          operator: NotIn
          values: [kube-system, {{ $root.Release.Namespace }}]
        {{- with $root.Values.namespaceSelector.matchExpressions }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
{{- end -}}
