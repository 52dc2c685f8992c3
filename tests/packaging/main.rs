//! Packaging, proven with the real tools: the Helm chart (`charts/authentik-operator`), the
//! kustomize base (`deploy/base`) and the Argo CD snippet (`deploy/argocd`) are rendered by
//! `helm` and `kubectl` built from their Go modules (`tests/helm/build.sh`,
//! `tests/controlplane/build.sh`), and what they render goes to the real kube-apiserver of
//! `testenv`: `helm install`, `helm upgrade` (which must upgrade the CRDs) and `helm uninstall`
//! (which must keep them), server-side applies, Pod Security admission ("restricted") for the
//! pod template, and `kubectl auth can-i` plus real calls with the chart's ServiceAccount token
//! for the RBAC.
//!
//! `HELM_BIN` (a path to a helm binary) skips building helm. The chart's PrometheusRule is
//! checked by promtool (`tests/prometheus/build.sh`) and applied with prometheus-operator's own
//! CRD (`tests/prometheus-crds/build.sh`).

mod argocd;
mod chart;
mod crds;
mod docker;
mod helpers;
mod kustomize;
mod lifecycle;
mod monitoring;
#[path = "../monitoring/prometheus.rs"]
mod prometheus;
mod rbac;
