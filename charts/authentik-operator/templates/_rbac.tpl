{{/* The RBAC rules of rbac.yaml: one rule per purpose, each saying why. */}}
{{- define "authentik-operator.namespacedRules" }}
  # Watch the stage resources to reconcile them (get, list, watch; references to other
  # stages are read from the same caches), and add or remove the operator's finalizer, which
  # is a JSON patch (patch). The operator never creates, replaces or deletes them.
  - apiGroups: ["authentik-operator.io"]
    resources: ["passwordstages", "identificationstages", "userloginstages", "authenticatorvalidatestages", "authenticatortotpstages", "authenticatorwebauthnstages", "authenticatorstaticstages", "promptstages", "userwritestages", "userlogoutstages", "userdeletestages", "consentstages", "denystages", "invitationstages", "captchastages", "emailstages", "redirectstages", "prompts", "expressionpolicies", "passwordpolicies", "reputationpolicies", "flows", "flowstagebindings", "policybindings"]  # managed kinds
    verbs: ["get", "list", "watch", "patch"]
  # Report the outcome in status: a server-side apply of the status subresource (patch).
  - apiGroups: ["authentik-operator.io"]
    resources: ["passwordstages/status", "identificationstages/status", "userloginstages/status", "authenticatorvalidatestages/status", "authenticatortotpstages/status", "authenticatorwebauthnstages/status", "authenticatorstaticstages/status", "promptstages/status", "userwritestages/status", "userlogoutstages/status", "userdeletestages/status", "consentstages/status", "denystages/status", "invitationstages/status", "captchastages/status", "emailstages/status", "redirectstages/status", "prompts/status", "expressionpolicies/status", "passwordpolicies/status", "reputationpolicies/status", "flows/status", "flowstagebindings/status", "policybindings/status"]  # managed kinds' status
    verbs: ["patch"]
  {{- if .Values.connections.enabled }}
  # AuthentikConnections: watched to build a client per authentik (no finalizer).
  - apiGroups: ["authentik-operator.io"]
    resources: ["authentikconnections"]
    verbs: ["get", "list", "watch"]
  # Their status (authentik's version, Ready): a server-side apply (patch).
  - apiGroups: ["authentik-operator.io"]
    resources: ["authentikconnections/status"]
    verbs: ["patch"]
  # CA bundles that connections reference from a ConfigMap: read only (get).
  - apiGroups: [""]
    resources: ["configmaps"]
    verbs: ["get"]
  {{- end }}
  # Events shown by `kubectl describe`: the kube-rs Recorder creates events.k8s.io/v1 Events
  # (create) and counts a repeated event up in the existing one (patch).
  - apiGroups: ["events.k8s.io"]
    resources: ["events"]
    verbs: ["create", "patch"]
{{- end }}
{{- define "authentik-operator.clusterRules" }}
{{- if .Values.connections.enabled }}
  # ClusterAuthentikConnections (cluster-scoped): watched to build a client per authentik.
  - apiGroups: ["authentik-operator.io"]
    resources: ["clusterauthentikconnections"]
    verbs: ["get", "list", "watch"]
  # Their status: a server-side apply (patch).
  - apiGroups: ["authentik-operator.io"]
    resources: ["clusterauthentikconnections/status"]
    verbs: ["patch"]
{{- end }}
{{- end }}
{{- define "authentik-operator.secretRules" }}
  # The API tokens (and CA bundles) that connections reference: read (get), and watched
  # (list, watch; metadata only) so that a rotated token is picked up at once. Read-only,
  # and granted by RoleBindings in chosen namespaces only, never cluster-wide.
  - apiGroups: [""]
    resources: ["secrets"]
    verbs: ["get", "list", "watch"]
{{- end }}
{{- /* Namespaces whose Secrets the operator reads: the cluster connections' one namespace,
the watched namespaces (their connections' tokens) and connections.secretNamespaces. */}}
{{- define "authentik-operator.secretNamespaces" }}
{{- $cluster := .Values.connections.clusterSecretNamespace | default .Release.Namespace }}
{{- concat (list $cluster) .Values.watchNamespaces .Values.connections.secretNamespaces | uniq | toJson }}
{{- end }}
