#!/usr/bin/env bash
# Builds kube-apiserver, kubectl and etcd from their Go modules (pinned in go.mod) into a
# per-version cache folder, once. Prints the folder that holds the binaries.
# With --node it also builds the node tier's kubelet, kube-controller-manager and
# kube-scheduler into the same folder (the control plane alone never needs them).
# Rebuilds what is missing; set CONTROLPLANE_REBUILD=1 to rebuild everything asked for.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
k8s_version=$(cd "$here" && GOFLAGS=-mod=mod go list -m -f "{{.Version}}" k8s.io/kubernetes)
cache=${AO_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/authentik-operator}
bin="$cache/controlplane/$k8s_version/bin"
tools=(kube-apiserver kubectl etcd)
[ "${1:-}" = --node ] && tools+=(kubelet kube-controller-manager kube-scheduler)

missing() {
  local t out=()
  for t in "${tools[@]}"; do
    if [ -n "${CONTROLPLANE_REBUILD:-}" ] || [ ! -x "$bin/$t" ]; then out+=("$t"); fi
  done
  echo "${out[*]}"
}
todo=$(missing)
if [ -z "$todo" ]; then
  echo "$bin"
  exit 0
fi
# (Concurrent callers are serialised by testenv, which holds a lock on this script.)

command -v go >/dev/null || { echo "go is required to build the control plane (apt-get install golang-go, or a Go toolchain)" >&2; exit 1; }
mkdir -p "$bin"
major=${k8s_version#v}; minor=${major#*.}; minor=${minor%%.*}; major=${major%%.*}
# Stamp the release so /version and `kubectl version` tell the truth.
ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ldflags+=" -X $pkg.gitVersion=$k8s_version -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor"
  ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
done
start=$(date +%s)
cd "$here"
export CGO_ENABLED=0 GOFLAGS=-mod=mod
echo "building $todo $k8s_version into $bin (cold: about 4 minutes on 2 cores, 4 more for the node tier)" >&2
for t in $todo; do
  case $t in
    etcd) go build -trimpath -ldflags "-s -w" -o "$bin/etcd.tmp" go.etcd.io/etcd/server/v3 ;;
    *) go build -trimpath -ldflags "$ldflags" -o "$bin/$t.tmp" "k8s.io/kubernetes/cmd/$t" ;;
  esac
done
# Rename only after every build succeeded, so an interrupted build never looks complete.
for t in $todo; do mv "$bin/$t.tmp" "$bin/$t"; done
echo "$todo built in $(( $(date +%s) - start ))s" >&2
echo "$bin"
