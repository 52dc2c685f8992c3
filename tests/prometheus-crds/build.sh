#!/usr/bin/env bash
# Builds controller-gen from its Go module and generates prometheus-operator's CRDs from the
# API types of its monitoring module (both pinned in go.mod), into a per-version cache folder,
# once: the way that project makes them. Prints the folder that holds the CRD files.
# Regenerates when one is missing; set PROMETHEUS_CRDS_REBUILD=1 to force it.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
api=github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring
version=$(cd "$here" && GOFLAGS=-mod=mod go list -m -f "{{.Version}}" "$api")
cache=${AO_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/authentik-operator}
out="$cache/prometheus-operator-crds/$version"
wanted=(monitoring.coreos.com_prometheusrules.yaml monitoring.coreos.com_servicemonitors.yaml)

complete() {
  local f
  [ -z "${PROMETHEUS_CRDS_REBUILD:-}" ] || return 1
  for f in "${wanted[@]}"; do [ -s "$out/crds/$f" ] || return 1; done
}
if complete; then
  echo "$out/crds"
  exit 0
fi
# One build at a time (see tests/helm/build.sh): the lock is on this script.
exec 9<"$here/build.sh"
flock 9
if complete; then
  echo "$out/crds"
  exit 0
fi

command -v go >/dev/null || { echo "go is required to build controller-gen (apt-get install golang-go, or a Go toolchain)" >&2; exit 1; }
mkdir -p "$out/bin"
start=$(date +%s)
cd "$here"
export CGO_ENABLED=0 GOFLAGS=-mod=mod
echo "generating prometheus-operator's CRDs $version into $out (cold: a minute or two)" >&2
go build -trimpath -ldflags "-s -w" -o "$out/bin/controller-gen" sigs.k8s.io/controller-tools/cmd/controller-gen
rm -rf "$out/crds.tmp"
"$out/bin/controller-gen" crd:crdVersions=v1 paths="$api/v1" output:crd:dir="$out/crds.tmp"
# Replace only after the generation succeeded, so an interrupted one never looks complete.
rm -rf "$out/crds"
mv "$out/crds.tmp" "$out/crds"
echo "prometheus-operator's CRDs generated in $(( $(date +%s) - start ))s" >&2
echo "$out/crds"
