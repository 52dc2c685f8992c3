#!/usr/bin/env bash
# Builds the helm command line from its Go module (pinned in go.mod) into a per-version cache
# folder, once. Prints the folder that holds the binary.
# Rebuilds when the binary is missing; set HELM_REBUILD=1 to force it.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
helm_version=$(cd "$here" && GOFLAGS=-mod=mod go list -m -f "{{.Version}}" helm.sh/helm/v4)
cache=${AO_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/authentik-operator}
bin="$cache/helm/$helm_version/bin"

if [ -x "$bin/helm" ] && [ -z "${HELM_REBUILD:-}" ]; then
  echo "$bin"
  exit 0
fi
# One build at a time on this machine (parallel test binaries, several checkouts): wait for a
# running build, then look again. The lock is on this script, never on go.mod: `go build`
# takes its own lock on go.mod and would wait for ours for ever.
exec 9<"$here/build.sh"
flock 9
if [ -x "$bin/helm" ] && [ -z "${HELM_REBUILD:-}" ]; then
  echo "$bin"
  exit 0
fi

command -v go >/dev/null || { echo "go is required to build helm (apt-get install golang-go, or a Go toolchain)" >&2; exit 1; }
mkdir -p "$bin"
# Stamp the release so `helm version` tells the truth (and charts' kubeVersion checks work).
ldflags="-s -w -X helm.sh/helm/v4/internal/version.version=$helm_version"
ldflags+=" -X helm.sh/helm/v4/internal/version.gitTreeState=clean"
start=$(date +%s)
cd "$here"
export CGO_ENABLED=0 GOFLAGS=-mod=mod
echo "building helm $helm_version into $bin (cold: a few minutes on 2 cores)" >&2
go build -trimpath -ldflags "$ldflags" -o "$bin/helm.tmp" helm.sh/helm/v4/cmd/helm
# Rename only after the build succeeded, so an interrupted build never looks complete.
mv "$bin/helm.tmp" "$bin/helm"
echo "helm built in $(( $(date +%s) - start ))s" >&2
echo "$bin"
